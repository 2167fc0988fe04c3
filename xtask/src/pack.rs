//! Packing an image: the payload (linker.ld: all code and data but the boot part) becomes a
//! DEFLATE stream of the payload after the x86 branch filter (the `unpack` crate), which the
//! boot code unpacks in place before anything else runs.
//!
//! The stream is placed at the end of the memory it unpacks into, with just the room the
//! firmware's decoder needs so as never to write over input it has not read; that room is
//! found by running the very same decoder here. The packed ELF has no section headers and
//! these program headers, which together cover the same memory as the linked image's:
//! - boot: the boot part as linked (its stack and page tables zero-filled after it), with the
//!   pack header filled in;
//! - the payload's memory below the stream, zero-filled (the unpacking writes it);
//! - the stream, then zeroes to the end of bss;
//! - the PT_NOTE, if the image had one (it lies in the boot part).

use std::path::Path;

use unpack::PackInfo;

use crate::Result;
use crate::elf::{self, EHDR_SIZE, PHDR_SIZE, PT_LOAD, PT_NOTE, PT_NULL, Phdr};

/// What packing one image did, for the build's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packed {
    pub payload: usize,
    pub stream: usize,
    /// Bytes of room the stream needs past the payload's end.
    pub room: usize,
}

/// Packs the ELF32 image at `path` in place.
pub fn pack_file(path: &Path) -> Result<Packed> {
    let image = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (packed_image, packed) = pack(&image).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::write(path, packed_image).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(packed)
}

/// The packed form of a linked ELF32 `image` (as objcopy cuts it from the link).
pub fn pack(image: &[u8]) -> Result<(Vec<u8>, Packed)> {
    let phdrs = elf::program_headers(image)?;
    let loads: Vec<&Phdr> = phdrs.iter().filter(|p| p.p_type == PT_LOAD).collect();
    let [boot, payload, zeroed] = loads[..] else {
        return Err(format!("{} PT_LOAD headers, not boot, payload and bss", loads.len()));
    };
    let notes: Vec<&Phdr> = phdrs.iter().filter(|p| p.p_type == PT_NOTE).collect();
    if let Some(other) = phdrs.iter().find(|p| ![PT_LOAD, PT_NOTE, PT_NULL].contains(&p.p_type)) {
        return Err(format!("unexpected program header of type {:#x}", other.p_type));
    }
    let payload_start = payload.p_vaddr;
    let bss_end = zeroed.p_vaddr + zeroed.p_memsz;
    if boot.p_vaddr + boot.p_memsz != payload_start
        || payload.p_memsz != payload.p_filesz
        || payload_start + payload.p_memsz > zeroed.p_vaddr
        || zeroed.p_filesz != 0
    {
        return Err(format!("segments not laid out as linker.ld lays them: {loads:#x?}"));
    }

    let code = payload.file_bytes(image)?;
    let mut filtered = code.to_vec();
    unpack::encode_branches(&mut filtered, payload_start);
    let stream = miniz_oxide::deflate::compress_to_vec(&filtered, 10);
    let limit = (bss_end - payload_start) as usize;
    let region_len = least_region(&stream, &filtered)?;
    if region_len > limit {
        return Err(format!(
            "the packed payload needs {region_len} bytes from its start, more than the \
             {limit} bytes of payload and bss"
        ));
    }
    check_round_trip(&stream, region_len, code, payload_start)?;

    let info = PackInfo {
        magic: PackInfo::MAGIC,
        packed_len: stream.len() as u32,
        region_len: region_len as u32,
    };
    let mut boot_bytes = boot.file_bytes(image)?.to_vec();
    let header = PackInfo::NOT_PACKED.to_bytes();
    let at = find_once(&boot_bytes, &header)?;
    boot_bytes[at..at + header.len()].copy_from_slice(&info.to_bytes());

    // Program headers, then the boot part at a 16-byte boundary, then the stream.
    let stream_start = payload_start + region_len as u32 - stream.len() as u32;
    let phnum = 2 + usize::from(stream_start > payload_start) + notes.len();
    let boot_offset = (EHDR_SIZE + phnum * PHDR_SIZE).next_multiple_of(16);
    let stream_offset = boot_offset + boot_bytes.len();
    let mut headers = vec![Phdr {
        p_align: 16,
        ..Phdr::load(boot.p_vaddr, boot_offset, boot_bytes.len(), boot.p_memsz)
    }];
    if stream_start > payload_start {
        headers.push(Phdr::load(payload_start, 0, 0, stream_start - payload_start));
    }
    headers.push(Phdr::load(stream_start, stream_offset, stream.len(), bss_end - stream_start));
    for note in notes {
        if note.p_vaddr < boot.p_vaddr
            || note.p_vaddr + note.p_filesz > boot.p_vaddr + boot.p_filesz
        {
            return Err("the PT_NOTE lies outside the boot part".into());
        }
        let offset = boot_offset + (note.p_vaddr - boot.p_vaddr) as usize;
        headers.push(Phdr { p_offset: offset as u32, ..*note });
    }
    debug_assert_eq!(headers.len(), phnum);

    let mut out = Vec::with_capacity(stream_offset + stream.len());
    out.extend_from_slice(&image[..EHDR_SIZE]);
    // e_phoff right after this header, no section headers.
    out[28..32].copy_from_slice(&(EHDR_SIZE as u32).to_le_bytes());
    out[32..36].copy_from_slice(&0u32.to_le_bytes());
    out[44..46].copy_from_slice(&(headers.len() as u16).to_le_bytes());
    out[46..52].copy_from_slice(&[0; 6]);
    for header in &headers {
        out.extend_from_slice(&header.to_bytes());
    }
    out.resize(boot_offset, 0);
    out.extend_from_slice(&boot_bytes);
    out.extend_from_slice(&stream);
    let room = region_len - code.len();
    Ok((out, Packed { payload: code.len(), stream: stream.len(), room }))
}

/// The shortest buffer, from the payload's start, at whose end `stream` unpacks to
/// `filtered` without overrunning itself. The room needed only shrinks as the buffer grows,
/// and a buffer as long as payload and stream together always works.
fn least_region(stream: &[u8], filtered: &[u8]) -> Result<usize> {
    let works =
        |region_len: usize| unpack_at_end(stream, region_len).is_ok_and(|out| out == filtered);
    let (mut low, mut high) = (filtered.len().max(stream.len()), filtered.len() + stream.len());
    if !works(high) {
        return Err("the packed payload does not unpack to itself".into());
    }
    while low < high {
        let mid = low + (high - low) / 2;
        if works(mid) { high = mid } else { low = mid + 1 }
    }
    Ok(high)
}

/// `stream` at the end of a buffer of `region_len` bytes, unpacked as the firmware does.
fn unpack_at_end(stream: &[u8], region_len: usize) -> std::result::Result<Vec<u8>, unpack::Error> {
    let mut region = vec![0; region_len];
    region[region_len - stream.len()..].copy_from_slice(stream);
    let len = unpack::inflate_in_place(&mut region, region_len - stream.len())?;
    region.truncate(len);
    Ok(region)
}

/// The firmware's whole unpacking, here: the stream placed as it will be gives back `code`.
fn check_round_trip(stream: &[u8], region_len: usize, code: &[u8], base: u32) -> Result<()> {
    let mut out = unpack_at_end(stream, region_len).map_err(|e| format!("unpacking: {e:?}"))?;
    unpack::decode_branches(&mut out, base);
    if out != code {
        return Err("the packed payload unpacks to other bytes".into());
    }
    Ok(())
}

/// Where `needle` is in `haystack`: exactly once, or an error.
fn find_once(haystack: &[u8], needle: &[u8]) -> Result<usize> {
    let mut found = haystack.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle);
    match (found.next(), found.next()) {
        (Some((at, _)), None) => Ok(at),
        (None, _) => Err("no unfilled pack header in the boot part".into()),
        (Some(_), Some(_)) => Err("two pack headers in the boot part".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOT: u32 = 0x10_0000;
    const PAYLOAD: u32 = 0x10_1000;
    const BSS: u32 = 0x10_4000;

    /// An ELF32 laid out as linker.ld lays the firmware out: boot part (with an unfilled
    /// pack header), payload, bss.
    fn linked(payload: &[u8], boot_extra: &[u8]) -> Vec<u8> {
        let mut boot = vec![0xF4; 32];
        boot.extend_from_slice(&PackInfo::NOT_PACKED.to_bytes());
        boot.extend_from_slice(boot_extra);
        let data_start = EHDR_SIZE + 3 * PHDR_SIZE;
        let mut elf = vec![0; EHDR_SIZE];
        elf[..5].copy_from_slice(b"\x7fELF\x01");
        elf[28..32].copy_from_slice(&(EHDR_SIZE as u32).to_le_bytes());
        elf[42..44].copy_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
        elf[44..46].copy_from_slice(&3u16.to_le_bytes());
        for phdr in [
            Phdr::load(BOOT, data_start, boot.len(), PAYLOAD - BOOT),
            Phdr::load(PAYLOAD, data_start + boot.len(), payload.len(), payload.len() as u32),
            Phdr::load(BSS, 0, 0, 0x4000),
        ] {
            elf.extend_from_slice(&phdr.to_bytes());
        }
        elf.extend_from_slice(&boot);
        elf.extend_from_slice(payload);
        elf
    }

    /// Code-like bytes: calls to a few targets among repeats and noise.
    fn payload() -> Vec<u8> {
        let mut x = 0x2545_F491u32;
        let mut out = Vec::new();
        while out.len() < 0x2F00 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let target = PAYLOAD + (x % 8) * 0x100;
            let here = PAYLOAD + out.len() as u32 + 5;
            out.push(0xE8);
            out.extend_from_slice(&target.wrapping_sub(here).to_le_bytes());
            out.extend_from_slice(&[0x48, 0x89, 0xC7, (x >> 24) as u8]);
        }
        out
    }

    /// Loads `elf` into memory as a loader does, then unpacks as the boot code does.
    fn load_and_unpack(elf: &[u8]) -> Vec<u8> {
        let mut memory = vec![0xAA; (BSS + 0x4000 - BOOT) as usize];
        let mut end = BOOT;
        for p in elf::program_headers(elf).unwrap().iter().filter(|p| p.p_type == PT_LOAD) {
            assert_eq!(p.p_vaddr, end, "segments contiguous from the boot part to bss");
            end += p.p_memsz;
            let at = (p.p_vaddr - BOOT) as usize;
            memory[at..at + p.p_memsz as usize].fill(0);
            memory[at..at + p.p_filesz as usize].copy_from_slice(p.file_bytes(elf).unwrap());
        }
        assert_eq!(end, BSS + 0x4000);
        let at = find_once(&memory[..0x1000], &PackInfo::MAGIC).unwrap();
        let word = |o: usize| u32::from_le_bytes(memory[at + o..at + o + 4].try_into().unwrap());
        let (packed_len, region_len) = (word(8) as usize, word(12) as usize);
        let region = &mut memory[(PAYLOAD - BOOT) as usize..][..region_len];
        let len = unpack::inflate_in_place(region, region_len - packed_len).unwrap();
        unpack::decode_branches(&mut region[..len], PAYLOAD);
        region[..len].to_vec()
    }

    #[test]
    fn packed_image_unpacks_to_the_payload() {
        let code = payload();
        let (packed, report) = pack(&linked(&code, &[])).unwrap();
        assert_eq!(report.payload, code.len());
        assert!(report.stream < code.len() / 2, "{report:?}");
        assert!(packed.len() < EHDR_SIZE + 4 * PHDR_SIZE + 64 + report.stream + 16);
        assert_eq!(load_and_unpack(&packed), code);
        // No section headers: nothing past the stream.
        assert_eq!(elf::u32_at(&packed, 32), 0);
        assert_eq!(elf::u16_at(&packed, 48), 0);
    }

    /// Why `image` does not pack (without printing the packed bytes if it does).
    fn refusal(image: &[u8]) -> String {
        match pack(image) {
            Err(error) => error,
            Ok((_, report)) => panic!("packed: {report:?}"),
        }
    }

    #[test]
    fn images_not_laid_out_for_packing_are_refused() {
        let code = payload();
        let two_headers = linked(&code, &PackInfo::NOT_PACKED.to_bytes());
        assert_eq!(refusal(&two_headers), "two pack headers in the boot part");
        let mut no_header = linked(&code, &[]);
        let at = find_once(&no_header, &PackInfo::MAGIC).unwrap();
        no_header[at] ^= 1;
        assert_eq!(refusal(&no_header), "no unfilled pack header in the boot part");
        // The third header's p_vaddr and p_memsz.
        let (bss_vaddr, bss_memsz) =
            (EHDR_SIZE + 2 * PHDR_SIZE + 8, EHDR_SIZE + 2 * PHDR_SIZE + 20);
        let mut overlapping = linked(&code, &[]);
        overlapping[bss_vaddr..bss_vaddr + 4].copy_from_slice(&(BSS - 0x200).to_le_bytes());
        assert!(refusal(&overlapping).starts_with("segments not laid out"));
        // Incompressible data with no bss after it: the stream needs room past its end.
        let mut noise = vec![0u8; 0x2F00];
        let mut x = 7u32;
        for byte in &mut noise {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            *byte = (x >> 16) as u8;
        }
        let mut no_room = linked(&noise, &[]);
        no_room[bss_vaddr..bss_vaddr + 4].copy_from_slice(&(PAYLOAD + 0x2F00).to_le_bytes());
        no_room[bss_memsz..bss_memsz + 4].copy_from_slice(&0u32.to_le_bytes());
        let error = refusal(&no_room);
        assert!(error.starts_with("the packed payload needs"), "{error}");
    }
}
