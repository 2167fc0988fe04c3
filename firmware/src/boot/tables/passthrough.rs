//! The blobs Xen's toolstack passes through to the tables: the files of xl.cfg's
//! `acpi_firmware=` and `smbios_firmware=`, which libxl reads and the domain builder loads
//! into guest RAM after the firmware image (libxl_dom.c, xg_dom_hvmloader.c: one ACPI and
//! one SMBIOS module, neither in the start info's module list), announcing each in
//! xenstore as `hvmloader/{acpi,smbios}/address` and `length` (libxl_dom.c,
//! hvm_build_set_xs_values).
//!
//! A blob is copied out of guest memory before any table is written, so nothing the
//! firmware writes can overwrite it first; it must lie in RAM below 4 GiB and be no larger
//! than what its tables can take.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::arch::PhysMemory;
use crate::bootinfo::PhysRange;
use crate::smbios::SmbiosBlobError;

/// The xenstore key of the ACPI blob.
pub(crate) const ACPI_KEY: &str = "hvmloader/acpi";
/// The xenstore key of the SMBIOS blob.
pub(crate) const SMBIOS_KEY: &str = "hvmloader/smbios";

/// A blob, copied out of guest memory.
#[derive(Debug)]
pub(crate) struct Blob {
    /// Where it lies in guest memory.
    pub range: PhysRange,
    pub bytes: Vec<u8>,
}

/// A blob the firmware cannot use, in one line naming the key, the blob and the fault.
#[derive(Debug)]
pub(crate) enum PassthroughError {
    /// Not (entirely) in one RAM range of the memory map below 4 GiB.
    NotInRam { key: &'static str, blob: PhysRange },
    /// More bytes than its tables can hold.
    TooLarge { key: &'static str, blob: PhysRange, limit: u64 },
    /// A table of the ACPI blob is malformed or repeats one of the firmware's.
    Acpi { blob: PhysRange, error: libacpi::Error },
    /// A structure of the SMBIOS blob is malformed.
    Smbios { blob: PhysRange, error: SmbiosBlobError },
}

impl fmt::Display for PassthroughError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let described = |f: &mut fmt::Formatter<'_>, key: &str, blob: &PhysRange| {
            write!(f, "{key} pass-through blob ({} bytes at {:#x})", blob.len(), blob.start)
        };
        match self {
            PassthroughError::NotInRam { key, blob } => {
                described(f, key, blob)?;
                f.write_str(": not in the guest's RAM below 4 GiB")
            }
            PassthroughError::TooLarge { key, blob, limit } => {
                described(f, key, blob)?;
                write!(f, ": larger than the {limit} bytes its tables can take")
            }
            PassthroughError::Acpi { blob, error } => {
                described(f, ACPI_KEY, blob)?;
                write!(f, ": {error}")
            }
            PassthroughError::Smbios { blob, error } => {
                described(f, SMBIOS_KEY, blob)?;
                write!(f, ": {error}")
            }
        }
    }
}

/// Copies the blob `key` names at `range` out of `memory`, after checking that it lies in
/// one of the `ram` ranges and holds at most `limit` bytes.
pub(crate) fn read(
    memory: &impl PhysMemory,
    ram: &[PhysRange],
    key: &'static str,
    range: PhysRange,
    limit: u64,
) -> Result<Blob, PassthroughError> {
    if range.len() > limit {
        return Err(PassthroughError::TooLarge { key, blob: range, limit });
    }
    let not_in_ram = PassthroughError::NotInRam { key, blob: range };
    if !ram.iter().any(|r| r.contains_range(&range)) {
        return Err(not_in_ram);
    }
    // At most `limit` bytes, so the length fits.
    let mut bytes = vec![0u8; range.len() as usize];
    memory.read(range.start, &mut bytes).map_err(|_| not_in_ram)?;
    Ok(Blob { range, bytes })
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::*;
    use crate::arch::PhysReadError;

    /// Guest memory from 0x10_0000 on, each byte its address's low 8 bits; unreadable from
    /// 4 GiB, as the identity map.
    struct Memory;

    impl PhysMemory for Memory {
        fn read(&self, paddr: u64, buf: &mut [u8]) -> Result<(), PhysReadError> {
            let end = paddr + buf.len() as u64;
            if paddr < 0x10_0000 || end > 1 << 32 {
                return Err(PhysReadError { paddr, len: buf.len() });
            }
            for (i, byte) in buf.iter_mut().enumerate() {
                *byte = (paddr + i as u64) as u8;
            }
            Ok(())
        }
    }

    const RAM: [PhysRange; 2] = [
        PhysRange { start: 0x10_0000, end: 0x800_0000 },
        PhysRange { start: 0x1_0000_0000, end: 0x1_4000_0000 },
    ];

    #[test]
    fn a_blob_in_ram_is_copied() {
        let range = PhysRange { start: 0x20_0010, end: 0x20_0020 };
        let blob = read(&Memory, &RAM, ACPI_KEY, range, 0x100).unwrap();
        assert_eq!(blob.range, range);
        assert_eq!(blob.bytes, (0x10..0x20).collect::<Vec<u8>>());
    }

    #[test]
    fn a_blob_elsewhere_or_too_large_is_refused() {
        let straddling = PhysRange { start: 0x7FF_FFF0, end: 0x800_0010 };
        let error = read(&Memory, &RAM, SMBIOS_KEY, straddling, 0x100).unwrap_err();
        assert_eq!(
            error.to_string(),
            "hvmloader/smbios pass-through blob (32 bytes at 0x7fffff0): not in the guest's RAM \
             below 4 GiB"
        );
        let high = PhysRange { start: 0x1_0000_0000, end: 0x1_0000_0010 };
        assert!(matches!(
            read(&Memory, &RAM, ACPI_KEY, high, 0x100),
            Err(PassthroughError::NotInRam { .. })
        ));
        let large = PhysRange { start: 0x20_0000, end: 0x20_1001 };
        let error = read(&Memory, &RAM, ACPI_KEY, large, 0x1000).unwrap_err();
        assert_eq!(
            error.to_string(),
            "hvmloader/acpi pass-through blob (4097 bytes at 0x200000): larger than the 4096 \
             bytes its tables can take"
        );
    }
}
