//! Image size: the file and what a loader copies (PT_LOAD `p_filesz`) and reserves
//! (`p_memsz`, bss included). ELF32 and ELF64, little-endian (ours and Debian's hvmloader
//! are both ELF32).

use crate::Result;

const PT_LOAD: u32 = 1;

/// Sizes of one ELF image, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageSize {
    pub file: u64,
    pub load_filesz: u64,
    pub load_memsz: u64,
}

/// Reads the sizes of an ELF image held in `image`.
pub fn image_size(image: &[u8]) -> Result<ImageSize> {
    if image.len() < 52 || &image[..4] != b"\x7fELF" || image[5] != 1 {
        return Err("not a little-endian ELF file".into());
    }
    let elf64 = match image[4] {
        1 => false,
        2 => true,
        class => return Err(format!("unknown ELF class {class}")),
    };
    let field = |offset: usize, len: usize| -> Result<u64> {
        let bytes = image.get(offset..offset + len).ok_or("ELF header outside the file")?;
        let mut value = [0u8; 8];
        value[..len].copy_from_slice(bytes);
        Ok(u64::from_le_bytes(value))
    };
    // e_phoff, e_phentsize, e_phnum; then p_filesz and p_memsz inside each header.
    let (phoff, phentsize, phnum) = if elf64 {
        (field(32, 8)?, field(54, 2)?, field(56, 2)?)
    } else {
        (field(28, 4)?, field(42, 2)?, field(44, 2)?)
    };
    let (filesz_at, memsz_at, word) = if elf64 { (32, 40, 8) } else { (16, 20, 4) };
    let mut size = ImageSize { file: image.len() as u64, load_filesz: 0, load_memsz: 0 };
    for i in 0..phnum {
        let header = usize::try_from(phoff + i * phentsize).map_err(|e| e.to_string())?;
        if field(header, 4)? as u32 == PT_LOAD {
            size.load_filesz += field(header + filesz_at, word)?;
            size.load_memsz += field(header + memsz_at, word)?;
        }
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ELF32 header with `loads` PT_LOAD headers `(filesz, memsz)` and one PT_NOTE.
    fn elf32(loads: &[(u32, u32)]) -> Vec<u8> {
        let mut image = vec![0u8; 52];
        image[..6].copy_from_slice(b"\x7fELF\x01\x01");
        image[28..32].copy_from_slice(&52u32.to_le_bytes());
        image[42..44].copy_from_slice(&32u16.to_le_bytes());
        image[44..46].copy_from_slice(&(loads.len() as u16 + 1).to_le_bytes());
        for &(filesz, memsz) in loads {
            let mut header = [0u8; 32];
            header[..4].copy_from_slice(&PT_LOAD.to_le_bytes());
            header[16..20].copy_from_slice(&filesz.to_le_bytes());
            header[20..24].copy_from_slice(&memsz.to_le_bytes());
            image.extend_from_slice(&header);
        }
        let mut note = [0u8; 32];
        note[..4].copy_from_slice(&4u32.to_le_bytes());
        note[16..20].copy_from_slice(&999u32.to_le_bytes());
        image.extend_from_slice(&note);
        image
    }

    #[test]
    fn load_segments_are_summed_and_notes_ignored() {
        let image = elf32(&[(0x1000, 0x3000), (0x200, 0x200)]);
        let size = image_size(&image).unwrap();
        assert_eq!(
            size,
            ImageSize { file: image.len() as u64, load_filesz: 0x1200, load_memsz: 0x3200 }
        );
    }

    #[test]
    fn elf64_fields_are_read_at_their_offsets() {
        let mut image = vec![0u8; 64 + 56];
        image[..6].copy_from_slice(b"\x7fELF\x02\x01");
        image[32..40].copy_from_slice(&64u64.to_le_bytes());
        image[54..56].copy_from_slice(&56u16.to_le_bytes());
        image[56..58].copy_from_slice(&1u16.to_le_bytes());
        image[64..68].copy_from_slice(&PT_LOAD.to_le_bytes());
        image[64 + 32..64 + 40].copy_from_slice(&0x500u64.to_le_bytes());
        image[64 + 40..64 + 48].copy_from_slice(&0x900u64.to_le_bytes());
        let size = image_size(&image).unwrap();
        assert_eq!((size.load_filesz, size.load_memsz), (0x500, 0x900));
    }

    #[test]
    fn truncated_or_foreign_files_are_errors() {
        assert!(
            image_size(b"MZ not an elf at all, but long enough to be read as one....").is_err()
        );
        let mut image = elf32(&[(1, 1)]);
        image.truncate(60);
        assert!(image_size(&image).is_err());
    }
}
