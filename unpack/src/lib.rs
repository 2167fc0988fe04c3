//! The packed image's format, both ways round where it matters.
//!
//! `target/hvmloader` carries most of the firmware as a raw DEFLATE stream (RFC 1951) of its
//! code and data after the [x86 branch filter](encode_branches). The boot code (entry, this
//! decoder, the memory primitives) stays as linked; it runs first and unpacks the rest where
//! the link put it. The stream lies at the end of the very memory it unpacks into, so the
//! decoder works inside one buffer and refuses to write a byte over input it has not read
//! ([`Error::Overrun`]): `cargo xtask build` places the stream with exactly the room this
//! decoder needs, found by running it.
//!
//! The firmware calls this before anything else of it exists in memory, so nothing here may
//! call out of the boot code: every function is `#[inline(always)]` into the firmware's one
//! unpacking function, and no path panics (indexing goes through `get`, arithmetic stays in
//! range by construction). tests/image_rules.rs checks the linked boot code for calls out.
//! The decoder needs no tables in memory either: lengths and distances are computed.

#![no_std]
#![forbid(unsafe_code)]

/// What `cargo xtask build` writes into the boot part of the image: where the packed payload
/// lies. The firmware's copy starts out [`PackInfo::NOT_PACKED`]; the packer finds it by its
/// magic and fills it in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct PackInfo {
    pub magic: [u8; 8],
    /// Length of the DEFLATE stream, which ends `region_len` bytes after the payload's start.
    pub packed_len: u32,
    /// The bytes from the payload's start that the unpacking works in: the payload, then as
    /// much room as the decoder needs so as not to overrun its input.
    pub region_len: u32,
}

impl PackInfo {
    pub const MAGIC: [u8; 8] = *b"HVMRSPK1";
    /// The linked image, run as it is.
    pub const NOT_PACKED: PackInfo = PackInfo { magic: Self::MAGIC, packed_len: 0, region_len: 0 };

    /// The bytes of the structure in the image (x86: little-endian, no padding).
    pub fn to_bytes(self) -> [u8; 16] {
        let mut bytes = [0; 16];
        bytes[..8].copy_from_slice(&self.magic);
        bytes[8..12].copy_from_slice(&self.packed_len.to_le_bytes());
        bytes[12..].copy_from_slice(&self.region_len.to_le_bytes());
        bytes
    }
}

/// Why a stream does not unpack. Each one means the image file is damaged or was not made
/// by `cargo xtask build`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The stream ends before its final block does.
    Truncated,
    /// A block of the reserved type 3.
    ReservedBlockType,
    /// A stored block whose length and its one's complement disagree.
    StoredLength,
    /// Code lengths that make no Huffman code: over-subscribed, a repeat with nothing
    /// before it, more lengths than symbols, or no end-of-block code.
    CodeLengths,
    /// A code the block's Huffman code does not contain, or a length or distance symbol
    /// that RFC 1951 reserves.
    Code,
    /// A match reaching back before the start of the output.
    Distance,
    /// The next byte of output would land on input not read yet: the stream lies too close
    /// to the end of the buffer.
    Overrun,
    /// Bytes left after the final block.
    TrailingInput,
}

/// Decodes the DEFLATE stream `buf[input_start..]` into `buf` from its start and returns
/// the length of the output. No byte of output is written over a byte of input that is
/// still to be read; the stream must end exactly at the end of `buf`.
#[inline(always)]
pub fn inflate_in_place(buf: &mut [u8], input_start: usize) -> Result<usize, Error> {
    if input_start > buf.len() {
        return Err(Error::Truncated);
    }
    let mut inflater = Inflater { buf, input: input_start, output: 0, bits: 0, bit_count: 0 };
    loop {
        let last = inflater.bits(1)? == 1;
        match inflater.bits(2)? {
            0 => inflater.stored()?,
            1 => {
                let (literals, distances) = fixed_codes()?;
                inflater.codes(&literals, &distances)?;
            }
            2 => {
                let (literals, distances) = inflater.dynamic_codes()?;
                inflater.codes(&literals, &distances)?;
            }
            _ => return Err(Error::ReservedBlockType),
        }
        if last {
            break;
        }
    }
    // What is left in the bit buffer is the final byte's padding.
    if inflater.input != inflater.buf.len() || inflater.bit_count >= 8 {
        return Err(Error::TrailingInput);
    }
    Ok(inflater.output)
}

/// The x86 branch filter, applied before packing: the rel32 operand of each E8 (call) and
/// E9 (jmp) byte becomes the absolute address of its target, so that calls to one function
/// from all over the code are the same bytes and compress as repeats (about 6% here). Only
/// operands within ±16 MiB are converted, and the result is kept in that range (25 bits,
/// sign-extended), which makes the conversion one-to-one and its inverse
/// [`decode_branches`] exact. `base` is the address of `code[0]`.
pub fn encode_branches(code: &mut [u8], base: u32) {
    filter_branches(code, base, u32::wrapping_add);
}

/// The inverse of [`encode_branches`], run by the firmware on its unpacked code.
#[inline(always)]
pub fn decode_branches(code: &mut [u8], base: u32) {
    filter_branches(code, base, u32::wrapping_sub);
}

#[inline(always)]
fn filter_branches(code: &mut [u8], base: u32, convert: fn(u32, u32) -> u32) {
    let mut at = 0;
    // The scan for the opcode byte is most of the time: kept to a load and a compare.
    while let Some(&opcode) = code.get(at) {
        if opcode & 0xFE != 0xE8 {
            at += 1;
            continue;
        }
        let Some(&[_, b0, b1, b2, b3]) = code.get(at..at + 5) else { break };
        let operand = u32::from_le_bytes([b0, b1, b2, b3]);
        // Top byte 0x00 or 0xFF: a target within ±16 MiB (the whole image, with room).
        if operand.wrapping_add(1 << 24) < 1 << 25 {
            let next_instruction = base.wrapping_add(at as u32 + 5);
            let converted = convert(operand, next_instruction);
            let sign_extended = (((converted << 7) as i32) >> 7) as u32;
            if let Some(slot) = code.get_mut(at + 1..at + 5) {
                slot.copy_from_slice(&sign_extended.to_le_bytes());
            }
        }
        // The operand's bytes are never opcodes: both directions step over them alike.
        at += 5;
    }
}

/// A canonical Huffman code as RFC 1951 builds it: how many codes of each length, and the
/// symbols in code order.
struct Huffman {
    counts: [u16; 16],
    symbols: [u16; MAX_SYMBOLS],
    /// For the next [`FAST_BITS`] bits of input (the first one lowest): the symbol whose
    /// code they start with, shifted left by 4, and that code's length; 0 where a longer
    /// code starts (read a bit at a time then). Most codes are this short.
    fast: [u16; 1 << FAST_BITS],
}

const FAST_BITS: u32 = 9;

/// Literal/length symbols of the fixed code (the dynamic one has at most 286).
const MAX_SYMBOLS: usize = 288;
/// Literal/length and distance code lengths of a dynamic block together, at most.
const MAX_LENGTHS: usize = 286 + 30;

impl Huffman {
    /// The code with these code lengths (0: the symbol is unused). Incomplete codes are
    /// accepted: a code they leave out is an error when it is read.
    #[inline(always)]
    fn new(lengths: &[u8]) -> Result<Self, Error> {
        let mut code =
            Huffman { counts: [0; 16], symbols: [0; MAX_SYMBOLS], fast: [0; 1 << FAST_BITS] };
        if lengths.len() > MAX_SYMBOLS {
            return Err(Error::CodeLengths);
        }
        for &length in lengths {
            let count = code.counts.get_mut(usize::from(length)).ok_or(Error::CodeLengths)?;
            *count += 1;
        }
        // Each length doubles the codes available; more used than available is no code.
        let mut available: i32 = 1;
        for length in 1..16 {
            available = 2 * available - i32::from(code.counts[length]);
            if available < 0 {
                return Err(Error::CodeLengths);
            }
        }
        // Where each length's symbols start.
        let mut offsets = [0u16; 16];
        for length in 1..15 {
            offsets[length + 1] = offsets[length] + code.counts[length];
        }
        for (symbol, &length) in lengths.iter().enumerate() {
            if length == 0 {
                continue;
            }
            let offset = offsets.get_mut(usize::from(length)).ok_or(Error::CodeLengths)?;
            let slot = code.symbols.get_mut(usize::from(*offset)).ok_or(Error::CodeLengths)?;
            *slot = symbol as u16;
            *offset += 1;
        }
        // Codes of one length are consecutive numbers, in symbol order; each length's first
        // code follows the shorter ones' last, doubled.
        let (mut next_code, mut index) = (0u32, 0usize);
        for length in 1..=FAST_BITS {
            for _ in 0..code.counts[length as usize] {
                let symbol = *code.symbols.get(index).ok_or(Error::CodeLengths)?;
                let entry = symbol << 4 | length as u16;
                // Input bits come first bit lowest, codes most significant bit first.
                let mut at = (next_code.reverse_bits() >> (32 - length)) as usize;
                while let Some(slot) = code.fast.get_mut(at) {
                    *slot = entry;
                    at += 1 << length;
                }
                next_code += 1;
                index += 1;
            }
            next_code <<= 1;
        }
        Ok(code)
    }
}

/// The codes of a type 1 block (RFC 1951, 3.2.6).
#[inline(always)]
fn fixed_codes() -> Result<(Huffman, Huffman), Error> {
    let mut lengths = [8u8; MAX_SYMBOLS];
    lengths[144..256].fill(9);
    lengths[256..280].fill(7);
    Ok((Huffman::new(&lengths)?, Huffman::new(&[5; 30])?))
}

struct Inflater<'a> {
    buf: &'a mut [u8],
    /// The next byte of input to read.
    input: usize,
    /// Where the next byte of output goes.
    output: usize,
    /// Bits read but not used yet, the next one lowest.
    bits: u32,
    bit_count: u32,
}

impl Inflater<'_> {
    /// The next `n` bits (at most 16), the first one lowest.
    #[inline(always)]
    fn bits(&mut self, n: u32) -> Result<u32, Error> {
        while self.bit_count < n {
            let byte = *self.buf.get(self.input).ok_or(Error::Truncated)?;
            self.input += 1;
            self.bits |= u32::from(byte) << self.bit_count;
            self.bit_count += 8;
        }
        let value = self.bits & ((1 << n) - 1);
        self.bits >>= n;
        self.bit_count -= n;
        Ok(value)
    }

    /// Reads input into the bit buffer while a whole byte fits (input read is consumed: the
    /// output may overwrite it).
    #[inline(always)]
    fn refill(&mut self) {
        while self.bit_count <= 24 {
            let Some(&byte) = self.buf.get(self.input) else { return };
            self.input += 1;
            self.bits |= u32::from(byte) << self.bit_count;
            self.bit_count += 8;
        }
    }

    #[inline(always)]
    fn put(&mut self, byte: u8) -> Result<(), Error> {
        if self.output >= self.input {
            return Err(Error::Overrun);
        }
        let slot = self.buf.get_mut(self.output).ok_or(Error::Overrun)?;
        *slot = byte;
        self.output += 1;
        Ok(())
    }

    /// One symbol of `code`.
    #[inline(always)]
    fn decode(&mut self, code: &Huffman) -> Result<u16, Error> {
        self.refill();
        let entry = code.fast[(self.bits & ((1 << FAST_BITS) - 1)) as usize];
        let length = u32::from(entry & 15);
        if length == 0 {
            return self.decode_long(code);
        }
        if length > self.bit_count {
            return Err(Error::Truncated);
        }
        self.bits >>= length;
        self.bit_count -= length;
        Ok(entry >> 4)
    }

    /// One symbol of `code`, read a bit at a time (Huffman codes start with their most
    /// significant bit).
    #[inline(always)]
    fn decode_long(&mut self, code: &Huffman) -> Result<u16, Error> {
        // `value` is the code read so far; codes of this length are first..first + count,
        // and their symbols start at `index`.
        let (mut value, mut first, mut index) = (0u32, 0u32, 0u32);
        for length in 1..16 {
            value |= self.bits(1)?;
            let count = u32::from(code.counts[length]);
            if value < first + count {
                let at = (index + value - first) as usize;
                return code.symbols.get(at).copied().ok_or(Error::Code);
            }
            index += count;
            first = (first + count) << 1;
            value <<= 1;
        }
        Err(Error::Code)
    }

    /// A type 0 block: LEN, NLEN, then LEN bytes as they are.
    #[inline(always)]
    fn stored(&mut self) -> Result<(), Error> {
        // The block starts at the next byte: the rest of this one is padding.
        let padding = self.bit_count % 8;
        self.bits >>= padding;
        self.bit_count -= padding;
        let length = self.bits(16)?;
        if self.bits(16)? != !length & 0xFFFF {
            return Err(Error::StoredLength);
        }
        for _ in 0..length {
            let byte = self.bits(8)? as u8;
            self.put(byte)?;
        }
        Ok(())
    }

    /// The codes of a type 2 block, read from its header (RFC 1951, 3.2.7).
    #[inline(always)]
    fn dynamic_codes(&mut self) -> Result<(Huffman, Huffman), Error> {
        let literal_count = self.bits(5)? as usize + 257;
        let distance_count = self.bits(5)? as usize + 1;
        let code_length_count = self.bits(4)? as usize + 4;
        if literal_count > 286 || distance_count > 30 {
            return Err(Error::CodeLengths);
        }
        // The code lengths' own code: its lengths come in the order
        // 16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2 14 1 15.
        let mut lengths = [0u8; MAX_LENGTHS];
        for i in 0..code_length_count {
            let symbol = match i {
                0..=2 => 16 + i,
                3 => 0,
                _ if i % 2 == 0 => 8 + (i - 4) / 2,
                _ => 7 - (i - 5) / 2,
            };
            let length = self.bits(3)? as u8;
            *lengths.get_mut(symbol).ok_or(Error::CodeLengths)? = length;
        }
        let length_code = Huffman::new(&lengths[..19])?;

        let total = literal_count + distance_count;
        let mut at = 0;
        while at < total {
            let symbol = self.decode(&length_code)?;
            let (length, repeat) = match symbol {
                0..=15 => (symbol as u8, 1),
                16 => {
                    let previous = at.checked_sub(1).and_then(|i| lengths.get(i));
                    (*previous.ok_or(Error::CodeLengths)?, 3 + self.bits(2)? as usize)
                }
                17 => (0, 3 + self.bits(3)? as usize),
                _ => (0, 11 + self.bits(7)? as usize),
            };
            let run = lengths.get_mut(at..at + repeat).filter(|_| at + repeat <= total);
            run.ok_or(Error::CodeLengths)?.fill(length);
            at += repeat;
        }
        if lengths[256] == 0 {
            return Err(Error::CodeLengths);
        }
        let literals = Huffman::new(&lengths[..literal_count])?;
        let distances = Huffman::new(&lengths[literal_count..total])?;
        Ok((literals, distances))
    }

    /// The compressed data of a type 1 or 2 block, up to its end-of-block code.
    #[inline(always)]
    fn codes(&mut self, literals: &Huffman, distances: &Huffman) -> Result<(), Error> {
        loop {
            let symbol = u32::from(self.decode(literals)?);
            if symbol < 256 {
                self.put(symbol as u8)?;
                continue;
            }
            if symbol == 256 {
                return Ok(());
            }
            // Lengths 3..258: symbols 257..=264 one each, then four per extra bit, 285 = 258.
            let length = match symbol - 257 {
                i @ 0..=7 => i + 3,
                i @ 8..=27 => {
                    let extra = i / 4 - 1;
                    ((4 + i % 4) << extra) + 3 + self.bits(extra)?
                }
                28 => 258,
                _ => return Err(Error::Code),
            };
            // Distances 1..32768: symbols 0..=3 one each, then two per extra bit.
            let distance = match u32::from(self.decode(distances)?) {
                d @ 0..=3 => d + 1,
                d @ 4..=29 => {
                    let extra = d / 2 - 1;
                    ((2 + d % 2) << extra) + 1 + self.bits(extra)?
                }
                _ => return Err(Error::Code),
            };
            let (distance, end) = (distance as usize, self.output + length as usize);
            let from = self.output.checked_sub(distance).ok_or(Error::Distance)?;
            if end > self.input {
                return Err(Error::Overrun);
            }
            // The match and the bytes it repeats: `distance` bytes back from the output.
            let window = self.buf.get_mut(from..end).ok_or(Error::Overrun)?;
            if distance >= length as usize {
                if let Some((repeated, output)) = window.split_at_mut_checked(distance)
                    && let Some(source) = repeated.get(..output.len())
                {
                    output.copy_from_slice(source);
                }
            } else {
                // It overlaps the bytes it is producing: byte by byte.
                for at in distance..window.len() {
                    window[at] = window[at - distance];
                }
            }
            self.output = end;
        }
    }
}

#[cfg(test)]
mod tests;
