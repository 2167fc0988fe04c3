//! Where PCI resources may go: the low MMIO hole below 4 GiB, the ECAM area in it (Q35), and
//! the 64-bit window above RAM. Pure functions of the memory map, tested on the host.
//!
//! The low hole runs from the top of RAM below 4 GiB to [`HOLE_END`]: from there up lie the
//! ranges hvmloader reserves (0xFC000000 for its ACPI info page and table heap, the IOAPIC
//! at 0xFEC00000, HPET at 0xFED00000, LAPIC at 0xFEE00000, the BIOS flash). Entries of the
//! loader's memory map that fall inside the hole (QEMU reserves its own MMCONFIG default and
//! RCBA there) stay untouched. On Q35 the ECAM area is carved from the top of the hole at a
//! 256 MiB boundary (see [`ECAM_ALIGN`]); PCI resources go around it.

use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use crate::addr::FOUR_GIB;
use crate::bootinfo::{MemoryKind, MemoryRegion, PhysRange};
use crate::chipset::q35::EcamArea;

/// Top of the low MMIO hole (exclusive).
pub const HOLE_END: u64 = 0xFC00_0000;
/// The low PCI window reaches at least this low when the hole allows it, so that there is
/// room for devices hot-plugged later (hvmloader's default window starts at 0xF0000000).
pub const DEFAULT_WINDOW_START: u64 = 0xE000_0000;
/// Alignment of the ECAM base whatever its size. PCIEXBAR's datasheet rule is alignment to
/// the size, but QEMU's MCH (up to at least 10.0) takes the 128/64 MiB address-mask bits one
/// bit too low (bits 26/25 instead of 27/26) and so decodes a 64 MiB window at 0xF8000000
/// at 0xF0000000. With 256 MiB alignment those bits are zero and every decoder agrees.
pub const ECAM_ALIGN: u64 = 256 << 20;
/// Granule of the low window's start when demand pushes it lower.
const WINDOW_GRANULE: u64 = 256 << 20;
/// The 64-bit window starts at a 1 GiB boundary, the largest BAR alignment we place there
/// before needing more.
const HIGH_WINDOW_ALIGN: u64 = 1 << 30;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayoutError {
    NoRam,
    NoRoom { size: u64 },
    HoleTooSmall { hole: Range<u64>, needed: u64, what: &'static str },
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutError::NoRam => f.write_str("the memory map has no RAM"),
            LayoutError::NoRoom { size } => write!(
                f,
                "no {size:#x} bytes of RAM below the MMIO hole are free for the firmware's tables"
            ),
            LayoutError::HoleTooSmall { hole, needed, what } => write!(
                f,
                "MMIO hole [{:#x}-{:#x}] too small: {what} needs {needed:#x} bytes aligned to \
                 its size",
                hole.start,
                hole.end.saturating_sub(1)
            ),
        }
    }
}

/// The low hole: from the end of the highest RAM entry below 4 GiB (rounded up to 1 MiB) to
/// [`HOLE_END`].
pub fn low_hole(map: &[MemoryRegion]) -> Result<Range<u64>, LayoutError> {
    let top = map
        .iter()
        .filter(|r| r.kind == MemoryKind::Ram && r.range.start < HOLE_END)
        .map(|r| r.range.end.min(FOUR_GIB))
        .max()
        .ok_or(LayoutError::NoRam)?;
    let start = top.next_multiple_of(1 << 20);
    if start >= HOLE_END {
        return Err(LayoutError::HoleTooSmall { hole: start..start, needed: 1, what: "PCI" });
    }
    Ok(start..HOLE_END)
}

/// Memory-map entries (of any type) that reach into `hole`: they are the platform's and no
/// BAR may cover them.
pub fn reserved_in(map: &[MemoryRegion], hole: &Range<u64>) -> Vec<Range<u64>> {
    map.iter()
        .filter(|r| r.range.start < hole.end && hole.start < r.range.end)
        .map(|r| r.range.start.max(hole.start)..r.range.end.min(hole.end))
        .collect()
}

/// The ECAM area for `buses_in_use` buses: the size [`EcamArea::buses_for`] picks, at the
/// highest [`ECAM_ALIGN`]-aligned address of the hole that no `reserved` range touches.
pub fn ecam_area(
    hole: &Range<u64>,
    reserved: &[Range<u64>],
    buses_in_use: u16,
) -> Result<EcamArea, LayoutError> {
    let buses = EcamArea::buses_for(buses_in_use);
    let size = u64::from(buses) << 20;
    let mut base = (hole.end - size.min(hole.end)) & !(ECAM_ALIGN - 1);
    while base >= hole.start {
        let end = base + size;
        if end <= hole.end && !reserved.iter().any(|r| r.start < end && base < r.end) {
            return Ok(EcamArea { base, buses });
        }
        let Some(lower) = base.checked_sub(ECAM_ALIGN) else { break };
        base = lower;
    }
    Err(LayoutError::HoleTooSmall { hole: hole.clone(), needed: size, what: "the ECAM area" })
}

/// The low PCI window reported to the OS: from [`DEFAULT_WINDOW_START`] (or lower, in steps
/// of 256 MiB, when the placed BARs start lower; never below the hole) to the end of the
/// hole, as ranges around `ecam` when it lies inside.
pub fn low_window(
    hole: &Range<u64>,
    used_start: Option<u64>,
    ecam: Option<&Range<u64>>,
) -> Vec<Range<u64>> {
    let mut start = DEFAULT_WINDOW_START;
    if let Some(used) = used_start {
        start = start.min(used - used % WINDOW_GRANULE);
    }
    let window = start.max(hole.start)..hole.end;
    let mut ranges = Vec::new();
    match ecam {
        Some(e) if e.start < window.end && window.start < e.end => {
            if window.start < e.start {
                ranges.push(window.start..e.start);
            }
            if e.end < window.end {
                ranges.push(e.end..window.end);
            }
        }
        _ => ranges.push(window),
    }
    ranges
}

/// The 64-bit window: from the first 1 GiB boundary above all RAM (and at least 4 GiB) to
/// the next memory-map entry above it or `1 << phys_bits`, whichever is lower.
pub fn high_window(map: &[MemoryRegion], phys_bits: u8) -> Option<Range<u64>> {
    let limit = 1u64.checked_shl(u32::from(phys_bits)).unwrap_or(u64::MAX);
    let ram_end =
        map.iter().filter(|r| r.kind == MemoryKind::Ram).map(|r| r.range.end).max().unwrap_or(0);
    let start = ram_end.max(FOUR_GIB).next_multiple_of(HIGH_WINDOW_ALIGN);
    let end =
        map.iter().map(|r| r.range.start).filter(|&s| s >= start).min().unwrap_or(limit).min(limit);
    (start < end).then_some(start..end)
}

/// Picks `size` bytes (a multiple of 4 KiB) of RAM below 4 GiB for data the firmware leaves
/// to the OS (ACPI tables, SMBIOS): as high as possible in the highest RAM entry below the
/// hole, page-aligned, clear of every range in `avoid` (boot modules, the start info, the
/// firmware image). Taking the top keeps low memory contiguous for the OS and the payload.
pub fn carve_persistent(
    map: &[MemoryRegion],
    avoid: &[PhysRange],
    size: u64,
) -> Result<PhysRange, LayoutError> {
    use crate::addr::PAGE_SIZE;
    let mut ram: Vec<&MemoryRegion> =
        map.iter().filter(|r| r.kind == MemoryKind::Ram && r.range.end <= HOLE_END).collect();
    crate::sort::sort_by_key(&mut ram, |r| core::cmp::Reverse(r.range.end));
    for region in ram {
        let mut end = region.range.end & !(PAGE_SIZE - 1);
        while let Some(start) = end.checked_sub(size).filter(|&s| s >= region.range.start) {
            let candidate = PhysRange { start, end };
            match avoid.iter().filter(|a| a.overlaps(&candidate)).map(|a| a.start).min() {
                None => return Ok(candidate),
                Some(blocker) => end = blocker & !(PAGE_SIZE - 1),
            }
        }
    }
    Err(LayoutError::NoRoom { size })
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;

    fn region(start: u64, end: u64, kind: MemoryKind) -> MemoryRegion {
        MemoryRegion { range: PhysRange { start, end }, kind }
    }

    /// QEMU q35 with 512 MiB, as its start info reports it.
    fn q35_512m() -> Vec<MemoryRegion> {
        vec![
            region(0, 0x9_FC00, MemoryKind::Ram),
            region(0x9_FC00, 0xA_0000, MemoryKind::Reserved),
            region(0xF_0000, 0x10_0000, MemoryKind::Reserved),
            region(0x10_0000, 0x1FFD_F000, MemoryKind::Ram),
            region(0x1FFD_F000, 0x2000_0000, MemoryKind::Reserved),
            region(0xB000_0000, 0xC000_0000, MemoryKind::Reserved),
            region(0xFED1_C000, 0xFED2_0000, MemoryKind::Reserved),
            region(0xFFFC_0000, 0x1_0000_0000, MemoryKind::Reserved),
            region(0xFD_0000_0000, 0x100_0000_0000, MemoryKind::Reserved),
        ]
    }

    #[test]
    fn hole_starts_above_low_ram() {
        let hole = low_hole(&q35_512m()).unwrap();
        assert_eq!(hole, 0x2000_0000..HOLE_END);
        let reserved = reserved_in(&q35_512m(), &hole);
        assert_eq!(reserved, vec![0xB000_0000..0xC000_0000]);
    }

    #[test]
    fn ecam_goes_to_the_top_of_the_hole() {
        let hole = 0x2000_0000..HOLE_END;
        let a = ecam_area(&hole, &[], 3).unwrap();
        assert_eq!(a, EcamArea { base: 0xF000_0000, buses: 64 });
        let a = ecam_area(&hole, &[], 40).unwrap();
        assert_eq!(a, EcamArea { base: 0xF000_0000, buses: 128 });
        let a = ecam_area(&hole, &[], 200).unwrap();
        assert_eq!(a, EcamArea { base: 0xE000_0000, buses: 256 });
        // Around a reserved range at the natural place.
        let busy = 0xF100_0000..0xF100_1000;
        let a = ecam_area(&hole, core::slice::from_ref(&busy), 3).unwrap();
        assert_eq!(a.base, 0xE000_0000);
        // Always 256 MiB aligned, whatever the size.
        for buses in [1, 40, 100] {
            assert_eq!(ecam_area(&hole, &[], buses).unwrap().base % ECAM_ALIGN, 0);
        }
    }

    #[test]
    fn ecam_that_does_not_fit_is_an_error() {
        let hole = 0xF100_0000..HOLE_END;
        let err = ecam_area(&hole, &[], 1).unwrap_err();
        assert!(matches!(err, LayoutError::HoleTooSmall { needed: 0x400_0000, .. }));
        assert!(alloc::format!("{err}").contains("the ECAM area"));
    }

    #[test]
    fn no_ram_and_full_low_memory_are_errors() {
        assert_eq!(low_hole(&[]), Err(LayoutError::NoRam));
        let full = [region(0x10_0000, 0xFD00_0000, MemoryKind::Ram)];
        assert!(matches!(low_hole(&full), Err(LayoutError::HoleTooSmall { .. })));
    }

    #[test]
    fn low_window_grows_with_demand() {
        let hole = 0x2000_0000..HOLE_END;
        assert_eq!(low_window(&hole, None, None), vec![0xE000_0000..HOLE_END]);
        assert_eq!(low_window(&hole, Some(0xF000_0000), None), vec![0xE000_0000..HOLE_END]);
        assert_eq!(low_window(&hole, Some(0xC100_0000), None), vec![0xC000_0000..HOLE_END]);
        let small = 0xF000_0000..HOLE_END;
        assert_eq!(low_window(&small, None, None), vec![small.clone()]);
        let ecam = 0xF000_0000..0xF400_0000;
        assert_eq!(
            low_window(&hole, None, Some(&ecam)),
            vec![0xE000_0000..0xF000_0000, 0xF400_0000..HOLE_END]
        );
        assert_eq!(low_window(&small, None, Some(&ecam)), vec![0xF400_0000..HOLE_END]);
    }

    #[test]
    fn persistent_area_at_top_of_low_ram_avoiding_modules() {
        let map = q35_512m();
        let area = carve_persistent(&map, &[], 0x2_0000).unwrap();
        assert_eq!(area, PhysRange { start: 0x1FFB_F000, end: 0x1FFD_F000 });
        // QEMU puts -initrd at the top of low RAM: go below it.
        let initrd = PhysRange { start: 0x1F00_0000, end: 0x1FFD_0123 };
        let area = carve_persistent(&map, &[initrd], 0x2_0000).unwrap();
        assert_eq!(area, PhysRange { start: 0x1EFE_0000, end: 0x1F00_0000 });
        // Nothing fits: a clear error.
        let tiny = [region(0x10_0000, 0x10_8000, MemoryKind::Ram)];
        assert_eq!(
            carve_persistent(&tiny, &[], 0x1_0000),
            Err(LayoutError::NoRoom { size: 0x1_0000 })
        );
        // Falls back to a lower RAM entry when the top one is taken.
        let blocked = PhysRange { start: 0x10_0000, end: 0x1FFD_F000 };
        let area = carve_persistent(&map, &[blocked], 0x1000).unwrap();
        assert_eq!(area, PhysRange { start: 0x9_E000, end: 0x9_F000 });
    }

    #[test]
    fn high_window_above_ram_below_reserved() {
        let w = high_window(&q35_512m(), 40).unwrap();
        assert_eq!(w, 0x1_0000_0000..0xFD_0000_0000);
        let mut map = q35_512m();
        map.push(region(0x1_0000_0000, 0x1_2000_0000, MemoryKind::Ram));
        assert_eq!(high_window(&map, 36).unwrap(), 0x1_4000_0000..0x10_0000_0000);
        assert_eq!(high_window(&map, 32), None);
    }
}
