//! The little ELF32 surgery and checking the Xen image needs.

use std::path::Path;

use crate::Result;

const PT_NULL: u32 = 0;
const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;

struct Phdr {
    offset_in_file: usize,
    p_type: u32,
    p_paddr: u32,
    p_filesz: u32,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn program_headers(image: &[u8]) -> Result<Vec<Phdr>> {
    if image.len() < 52 || &image[..4] != b"\x7fELF" || image[4] != 1 {
        return Err("not an ELF32 file".into());
    }
    let (phoff, phentsize, phnum) =
        (u32_at(image, 28) as usize, u16_at(image, 42) as usize, u16_at(image, 44) as usize);
    (0..phnum)
        .map(|i| {
            let o = phoff + i * phentsize;
            if o + 32 > image.len() {
                return Err("program header table outside the file".to_string());
            }
            Ok(Phdr {
                offset_in_file: o,
                p_type: u32_at(image, o),
                p_paddr: u32_at(image, o + 12),
                p_filesz: u32_at(image, o + 16),
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
