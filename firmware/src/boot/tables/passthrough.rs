//! The blobs Xen's toolstack passes through to the tables: the files of xl.cfg's
//! `acpi_firmware=` and `smbios_firmware=`, which libxl reads and the domain builder loads
//! into guest RAM after the firmware image (libxl_dom.c, xg_dom_hvmloader.c: one ACPI and
//! one SMBIOS module, neither in the start info's module list), announcing each in
//! xenstore as `hvmloader/{acpi,smbios}/address` and `length` (libxl_dom.c,
//! hvm_build_set_xs_values).
//!
//! A blob is read where it lies, not copied: the firmware carves its tables' RAM around
//! the blobs, and holds each one (a RAM claim, [`hold`]) while the tables are built, so
//! nothing else can be written over it meanwhile. It must lie in RAM below 4 GiB and be no
//! larger than what its tables can take.

use alloc::boxed::Box;
use core::fmt;

use crate::addr::FOUR_GIB;
use crate::arch::ClaimError;
use crate::boot::Hardware;
use crate::bootinfo::PhysRange;
use crate::smbios::SmbiosBlobError;

/// The xenstore key of the ACPI blob.
pub(crate) const ACPI_KEY: &str = "hvmloader/acpi";
/// The xenstore key of the SMBIOS blob.
pub(crate) const SMBIOS_KEY: &str = "hvmloader/smbios";

/// A blob, in guest memory.
#[derive(Debug)]
pub(crate) struct Blob<'m> {
    /// Where it lies.
    pub range: PhysRange,
    pub bytes: &'m [u8],
}

/// A blob the firmware cannot use, in one line naming the key, the blob and the fault.
#[derive(Debug)]
pub(crate) enum PassthroughError {
    /// Not (entirely) in one RAM range of the memory map below 4 GiB.
    NotInRam { key: &'static str, blob: PhysRange },
    /// More bytes than its tables can hold.
    TooLarge { key: &'static str, blob: PhysRange, limit: u64 },
    /// In RAM, but held by something else (the other blob, or a page the firmware uses).
    Unclaimable { key: &'static str, blob: PhysRange, error: Box<ClaimError> },
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
            PassthroughError::Unclaimable { key, blob, error } => {
                described(f, key, blob)?;
                write!(f, ": {error}")
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

/// A handle onto the blob `key` names at `range`, after checking that it lies in one of
/// the `ram` ranges and holds at most `limit` bytes.
pub(crate) fn hold<'m, H: Hardware>(
    machine: &'m H,
    ram: &[PhysRange],
    key: &'static str,
    range: PhysRange,
    limit: u64,
) -> Result<H::Ram<'m>, PassthroughError> {
    check(ram, key, range, limit)?;
    machine.ram(range).map_err(|error| PassthroughError::Unclaimable { key, blob: range, error })
}

/// Whether the blob `key` names at `range` lies in one of the `ram` ranges and holds at most
/// `limit` bytes.
fn check(
    ram: &[PhysRange],
    key: &'static str,
    range: PhysRange,
    limit: u64,
) -> Result<(), PassthroughError> {
    if range.len() > limit {
        return Err(PassthroughError::TooLarge { key, blob: range, limit });
    }
    if range.end > FOUR_GIB || !ram.iter().any(|r| r.contains_range(&range)) {
        return Err(PassthroughError::NotInRam { key, blob: range });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::*;
    use crate::boot::sim::SimMachine;
    use crate::chipset::Chipset;
    use crate::pci::sim::Sim as PciSim;

    const RAM: [PhysRange; 2] = [
        PhysRange { start: 0x10_0000, end: 0x800_0000 },
        PhysRange { start: 0x1_0000_0000, end: 0x1_4000_0000 },
    ];

    fn machine() -> SimMachine {
        let image = PhysRange { start: 0x10_0000, end: 0x20_0000 };
        SimMachine::new(Chipset::I440fx, PciSim::new(), None, image)
    }

    #[test]
    fn a_blob_in_ram_is_held_where_it_lies() {
        let machine = machine();
        machine.memory.write(0x20_0010, &[0xA5; 16]);
        let range = PhysRange { start: 0x20_0010, end: 0x20_0020 };
        let held = hold(&machine, &RAM, ACPI_KEY, range, 0x100).unwrap();
        assert_eq!(*held, [0xA5; 16]);
        // Nothing else reaches it while it is held: not the other blob, not a carved area.
        let overlapping = PhysRange { start: 0x20_0000, end: 0x20_0018 };
        let error = hold(&machine, &RAM, SMBIOS_KEY, overlapping, 0x100).unwrap_err();
        assert!(matches!(error, PassthroughError::Unclaimable { .. }), "{error}");
        assert_eq!(
            error.to_string(),
            "hvmloader/smbios pass-through blob (24 bytes at 0x200000): [0x200000-0x200017] \
             overlaps [0x200010-0x20001f], which the firmware holds"
        );
        drop(held);
        assert!(hold(&machine, &RAM, SMBIOS_KEY, overlapping, 0x100).is_ok());
    }

    #[test]
    fn a_blob_elsewhere_or_too_large_is_refused() {
        let straddling = PhysRange { start: 0x7FF_FFF0, end: 0x800_0010 };
        let error = check(&RAM, SMBIOS_KEY, straddling, 0x100).unwrap_err();
        assert_eq!(
            error.to_string(),
            "hvmloader/smbios pass-through blob (32 bytes at 0x7fffff0): not in the guest's RAM \
             below 4 GiB"
        );
        let high = PhysRange { start: 0x1_0000_0000, end: 0x1_0000_0010 };
        assert!(matches!(
            hold(&machine(), &RAM, ACPI_KEY, high, 0x100),
            Err(PassthroughError::NotInRam { .. })
        ));
        let large = PhysRange { start: 0x20_0000, end: 0x20_1001 };
        let error = check(&RAM, ACPI_KEY, large, 0x1000).unwrap_err();
        assert_eq!(
            error.to_string(),
            "hvmloader/acpi pass-through blob (4097 bytes at 0x200000): larger than the 4096 \
             bytes its tables can take"
        );
    }
}
