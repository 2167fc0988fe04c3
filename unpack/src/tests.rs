extern crate std;

use std::vec;
use std::vec::Vec;

use proptest::prelude::*;

use super::*;

fn deflate(data: &[u8], level: u8) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec(data, level)
}

/// `stream` at the end of a buffer `room` bytes longer than `output_len`, unpacked.
fn inflate_with_room(stream: &[u8], output_len: usize, room: usize) -> Result<Vec<u8>, Error> {
    let mut buf = vec![0xA5; output_len + room];
    let input_start = buf.len() - stream.len();
    buf[input_start..].copy_from_slice(stream);
    let n = inflate_in_place(&mut buf, input_start)?;
    buf.truncate(n);
    Ok(buf)
}

/// Code-like data: repeats near and far, some noise.
fn sample(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        match x % 4 {
            0 if out.len() > 300 => {
                let from = out.len() - 1 - (x as usize >> 8) % 300;
                for i in 0..(x >> 20) % 40 {
                    out.push(out[from + i as usize % (out.len() - from)]);
                }
            }
            1 => out.extend_from_slice(b"call the function "),
            _ => out.push((x >> 8) as u8),
        }
    }
    out.truncate(len);
    out
}

#[test]
fn round_trips_at_every_level() {
    let inputs = [
        Vec::new(),
        b"x".to_vec(),
        vec![0; 100_000],
        sample(70_000, 7),
        (0..=255u8).cycle().take(5000).collect(),
    ];
    for data in &inputs {
        // Level 0 writes stored blocks, 1 mostly fixed codes, the others dynamic ones.
        for level in [0, 1, 6, 10] {
            let stream = deflate(data, level);
            let out = inflate_with_room(&stream, data.len(), stream.len()).unwrap();
            assert!(out == *data, "level {level}, {} bytes", data.len());
        }
    }
}

#[test]
fn decodes_a_fixed_code_block() {
    // zlib's raw deflate of the text below with Z_FIXED: one type 1 block with matches.
    let stream = [75, 76, 74, 78, 68, 66, 10, 25, 169, 57, 57, 249, 200, 36, 0];
    let text = b"abcabcabcabcabc hello hello hello";
    assert_eq!(inflate_with_room(&stream, text.len(), stream.len()).unwrap(), text);
}

/// With any room, the result is the data or `Overrun`, and from the least room that
/// works on, always the data.
#[test]
fn too_little_room_is_an_overrun_never_wrong_output() {
    for (data, level) in [(sample(40_000, 3), 10), (sample(5_000, 9), 0), (vec![7; 9000], 10)] {
        let stream = deflate(&data, level);
        let mut least = None;
        // The buffer holds the stream at least (stored blocks make it longer than the data).
        for room in stream.len().saturating_sub(data.len())..=stream.len() {
            match inflate_with_room(&stream, data.len(), room) {
                Ok(out) => {
                    assert!(out == data);
                    least.get_or_insert(room);
                }
                Err(e) => {
                    assert_eq!(e, Error::Overrun, "room {room}");
                    assert!(least.is_none(), "room {room} fails after a smaller one worked");
                }
            }
        }
        assert!(least.is_some(), "level {level}: no room works");
    }
}

#[test]
fn damaged_streams_name_their_fault() {
    let data = sample(20_000, 5);
    let stream = deflate(&data, 10);
    let room = stream.len();
    assert_eq!(
        inflate_with_room(&stream[..stream.len() - 1], data.len(), room),
        Err(Error::Truncated)
    );
    assert_eq!(inflate_with_room(&[0b111], 10, 1), Err(Error::ReservedBlockType));
    // Stored, final: LEN 1, NLEN not its complement.
    assert_eq!(inflate_with_room(&[1, 1, 0, 0, 0, b'x'], 1, 6), Err(Error::StoredLength));
    // Stored, final, LEN 1 with its byte, then a byte too many.
    assert_eq!(inflate_with_room(&[1, 1, 0, 0xFE, 0xFF, b'x', 0], 1, 7), Err(Error::TrailingInput));
    assert_eq!(inflate_with_room(&[1, 1, 0, 0xFE, 0xFF, b'x'], 1, 6).unwrap(), b"x");
    // Fixed code, final: a match (length 3, distance 1) before any output. Bits, first
    // lowest: 1 (final), 10 (type 1), then length code 257 = 0000001 and distance code
    // 00000, each most significant bit first.
    let bits = [1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0];
    let mut stream = [0u8; 2];
    for (i, bit) in bits.into_iter().enumerate() {
        stream[i / 8] |= bit << (i % 8);
    }
    assert_eq!(inflate_with_room(&stream, 3, 2), Err(Error::Distance));
    // A dynamic block header with more literal codes than RFC 1951 allows (HLIT = 30).
    assert_eq!(inflate_with_room(&[0b1111_0101, 0, 0, 0], 10, 4), Err(Error::CodeLengths));
}

#[test]
fn branch_filter_makes_targets_absolute() {
    // A call to 0x1000 + 5 + 0x10 and a jump backwards to 0x1000, at 0x1000 and 0x1005.
    let mut code = vec![0xE8, 0x10, 0, 0, 0, 0xE9, 0xF6, 0xFF, 0xFF, 0xFF, 0x90];
    let original = code.clone();
    encode_branches(&mut code, 0x1000);
    assert_eq!(code, [0xE8, 0x15, 0x10, 0, 0, 0xE9, 0x00, 0x10, 0, 0, 0x90]);
    decode_branches(&mut code, 0x1000);
    assert_eq!(code, original);
    // An operand out of ±16 MiB is not a branch this filter touches.
    let mut far = vec![0xE8, 0, 0, 0, 0x40];
    encode_branches(&mut far, 0x1000);
    assert_eq!(far, [0xE8, 0, 0, 0, 0x40]);
}

proptest! {
    #[test]
    fn branch_filter_is_undone_exactly(mut code in proptest::collection::vec(any::<u8>(), 0..600), base: u32) {
        // Plenty of E8 and E9 bytes, with operands near and far.
        for (i, byte) in code.iter_mut().enumerate() {
            if i % 7 == 0 { *byte = 0xE8 + (*byte & 1); }
        }
        let original = code.clone();
        encode_branches(&mut code, base);
        decode_branches(&mut code, base);
        prop_assert_eq!(code, original);
    }

    #[test]
    fn any_bytes_unpack_or_fail_without_panicking(stream in proptest::collection::vec(any::<u8>(), 0..300), room in 0usize..2000) {
        let _ = inflate_with_room(&stream, room, stream.len());
    }

    #[test]
    fn damaged_real_streams_fail_or_decode(flip in 0usize..4000, bit in 0u8..8) {
        let data = sample(10_000, 11);
        let mut stream = deflate(&data, 10);
        let at = flip % stream.len();
        stream[at] ^= 1 << bit;
        let _ = inflate_with_room(&stream, data.len(), stream.len());
    }
}
