//! The little ELF32 surgery and checking the images need (packing: `pack.rs`).

use std::path::Path;

use crate::Result;

pub const PT_NULL: u32 = 0;
pub const PT_LOAD: u32 = 1;
pub const PT_NOTE: u32 = 4;
/// Sizes of the ELF32 file header and of one program header.
pub const EHDR_SIZE: usize = 52;
pub const PHDR_SIZE: usize = 32;

/// An ELF32 program header, and where it is in its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Phdr {
    pub offset_in_file: usize,
    pub p_type: u32,
    pub p_offset: u32,
    pub p_vaddr: u32,
    pub p_paddr: u32,
    pub p_filesz: u32,
    pub p_memsz: u32,
    pub p_flags: u32,
    pub p_align: u32,
}

impl Phdr {
    /// A PT_LOAD of `filesz` bytes at `offset` in the file to `vaddr` (physical = virtual),
    /// zero-filled to `memsz`; read, write, execute; no alignment asked.
    pub fn load(vaddr: u32, offset: usize, filesz: usize, memsz: u32) -> Phdr {
        Phdr {
            offset_in_file: 0,
            p_type: PT_LOAD,
            p_offset: offset as u32,
            p_vaddr: vaddr,
            p_paddr: vaddr,
            p_filesz: filesz as u32,
            p_memsz: memsz,
            p_flags: 7,
            p_align: 1,
        }
    }

    /// The header's 32 bytes.
    pub fn to_bytes(self) -> [u8; PHDR_SIZE] {
        let fields = [
            self.p_type,
            self.p_offset,
            self.p_vaddr,
            self.p_paddr,
            self.p_filesz,
            self.p_memsz,
            self.p_flags,
            self.p_align,
        ];
        let mut bytes = [0; PHDR_SIZE];
        for (chunk, field) in bytes.chunks_exact_mut(4).zip(fields) {
            chunk.copy_from_slice(&field.to_le_bytes());
        }
        bytes
    }

    /// The bytes the header loads from `image`.
    pub fn file_bytes<'a>(&self, image: &'a [u8]) -> Result<&'a [u8]> {
        let start = self.p_offset as usize;
        image
            .get(start..start + self.p_filesz as usize)
            .ok_or_else(|| format!("segment at {:#x} reaches past the file", self.p_vaddr))
    }
}

pub fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
pub fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

pub fn program_headers(image: &[u8]) -> Result<Vec<Phdr>> {
    if image.len() < EHDR_SIZE || &image[..4] != b"\x7fELF" || image[4] != 1 {
        return Err("not an ELF32 file".into());
    }
    let (phoff, phentsize, phnum) =
        (u32_at(image, 28) as usize, u16_at(image, 42) as usize, u16_at(image, 44) as usize);
    (0..phnum)
        .map(|i| {
            let o = phoff + i * phentsize;
            if o + PHDR_SIZE > image.len() {
                return Err("program header table outside the file".to_string());
            }
            Ok(Phdr {
                offset_in_file: o,
                p_type: u32_at(image, o),
                p_offset: u32_at(image, o + 4),
                p_vaddr: u32_at(image, o + 8),
                p_paddr: u32_at(image, o + 12),
                p_filesz: u32_at(image, o + 16),
                p_memsz: u32_at(image, o + 20),
                p_flags: u32_at(image, o + 24),
                p_align: u32_at(image, o + 28),
            })
        })
        .collect()
}

/// Turns PT_NOTE headers that describe nothing into PT_NULL.
pub fn drop_empty_notes(path: &Path) -> Result<()> {
    let mut image = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    for phdr in program_headers(&image)? {
        if phdr.p_type == PT_NOTE && phdr.p_filesz == 0 {
            image[phdr.offset_in_file..phdr.offset_in_file + 4]
                .copy_from_slice(&PT_NULL.to_le_bytes());
        }
    }
    std::fs::write(path, image).map_err(|e| format!("{}: {e}", path.display()))
}

/// The rules of Xen's hvmloader loader, checked right after the build (tests/image_rules.rs
/// checks them again, independently).
pub fn check_xen_image(path: &Path) -> Result<()> {
    let image = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let phdrs = program_headers(&image)?;
    if phdrs.iter().any(|p| p.p_type == PT_NOTE) {
        return Err(format!("{}: still has a PT_NOTE", path.display()));
    }
    if !phdrs.iter().any(|p| p.p_type == PT_LOAD && p.p_paddr == 0x10_0000) {
        return Err(format!("{}: no PT_LOAD at 0x100000", path.display()));
    }
    Ok(())
}
