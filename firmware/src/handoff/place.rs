//! Finding room for payloads: the RAM of the memory map, minus what is in use while the
//! firmware runs, handed out lowest address first.
//!
//! Lowest first keeps payloads away from the top of low RAM, where platforms put their
//! tables (QEMU's PVH map, for one, leaves SeaBIOS's ACPI tables as RAM) and where the
//! firmware's own ACPI and SMBIOS areas are claimed.

use alloc::vec::Vec;

use crate::bootinfo::PhysRange;
use crate::e820::E820Map;

/// Payloads go at or above 1 MiB: below are the IVT, BIOS data area, EBDA, the BIOS info
/// tables and trampolines of the hand-off, and the Linux decompressor's own trampoline.
pub const LOW_LIMIT: u64 = 0x10_0000;
/// And below 4 GiB: the identity map the firmware and the kernel entry use ends there.
pub const HIGH_LIMIT: u64 = 1 << 32;

/// Free RAM, as sorted, disjoint ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreeMemory {
    free: Vec<PhysRange>,
}

impl FreeMemory {
    /// RAM of `map` within [[`LOW_LIMIT`], [`HIGH_LIMIT`]), minus every range of `in_use`
    /// (the firmware image, boot modules, anything else still needed until the jump).
    pub fn new(map: &E820Map, in_use: &[PhysRange]) -> Self {
        let mut free = FreeMemory { free: Vec::new() };
        for ram in map.ram() {
            let start = ram.start.max(LOW_LIMIT);
            let end = ram.end.min(HIGH_LIMIT);
            if start < end {
                free.free.push(PhysRange { start, end });
            }
        }
        for range in in_use {
            free.remove(*range);
        }
        free
    }

    /// The free ranges.
    #[cfg(test)]
    pub fn ranges(&self) -> &[PhysRange] {
        &self.free
    }

    /// Whether all of `range` is free.
    pub fn is_free(&self, range: PhysRange) -> bool {
        self.free.iter().any(|free| free.contains_range(&range))
    }

    /// Takes `range` out of the free memory (whatever part of it is free).
    pub fn remove(&mut self, range: PhysRange) {
        let mut rest = Vec::with_capacity(self.free.len() + 1);
        for free in &self.free {
            if !free.overlaps(&range) {
                rest.push(*free);
                continue;
            }
            if free.start < range.start {
                rest.push(PhysRange { start: free.start, end: range.start });
            }
            if range.end < free.end {
                rest.push(PhysRange { start: range.end, end: free.end });
            }
        }
        self.free = rest;
    }

    /// The lowest `align`-aligned range of `size` bytes that is free and lies inside
    /// `within`, taken out of the free memory. `align` must be a power of two.
    pub fn allocate(&mut self, size: u64, align: u64, within: PhysRange) -> Option<PhysRange> {
        debug_assert!(align.is_power_of_two());
        let found = self.free.iter().find_map(|free| {
            let start = free.start.max(within.start).checked_next_multiple_of(align)?;
            let range = PhysRange::from_len(start, size)?;
            (range.end <= free.end && range.end <= within.end && size > 0).then_some(range)
        })?;
        self.remove(found);
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootinfo::{MemoryKind, MemoryRegion};
    use crate::e820::E820Builder;

    const MIB: u64 = 1 << 20;

    fn range(start: u64, end: u64) -> PhysRange {
        PhysRange { start, end }
    }

    fn map() -> E820Map {
        let ram = |start, end| MemoryRegion { range: range(start, end), kind: MemoryKind::Ram };
        E820Builder::new(&[ram(0, 0x9_FC00), ram(MIB, 512 * MIB), ram(4 << 30, 5 << 30)])
            .unwrap()
            .build()
            .unwrap()
    }

    #[test]
    fn free_memory_is_ram_between_1_mib_and_4_gib_minus_what_is_in_use() {
        let free = FreeMemory::new(&map(), &[range(MIB, 0x23_5000), range(8 * MIB, 9 * MIB)]);
        assert_eq!(free.ranges(), &[range(0x23_5000, 8 * MIB), range(9 * MIB, 512 * MIB)]);
        assert!(free.is_free(range(16 * MIB, 32 * MIB)));
        assert!(!free.is_free(range(7 * MIB, 9 * MIB)));
    }

    #[test]
    fn allocation_is_lowest_aligned_fit_inside_the_window() {
        let mut free = FreeMemory::new(&map(), &[range(MIB, 0x23_5000)]);
        let all = range(0, HIGH_LIMIT);
        assert_eq!(free.allocate(0x1000, 0x1000, all), Some(range(0x23_5000, 0x23_6000)));
        assert_eq!(free.allocate(MIB, 2 * MIB, all), Some(range(4 * MIB, 5 * MIB)));
        // The gap below the aligned block stays free for smaller requests.
        assert_eq!(free.allocate(0x1000, 0x1000, all), Some(range(0x23_6000, 0x23_7000)));
        assert_eq!(
            free.allocate(MIB, 2 * MIB, range(16 * MIB, HIGH_LIMIT)),
            Some(range(16 * MIB, 17 * MIB))
        );
        assert_eq!(free.allocate(600 * MIB, 0x1000, all), None);
        assert_eq!(free.allocate(0x1000, 0x1000, range(0, 0x23_7000)), None);
        assert_eq!(free.allocate(0, 0x1000, all), None);
    }

    #[test]
    fn removal_splits_and_trims() {
        let mut free = FreeMemory::new(&map(), &[]);
        free.remove(range(2 * MIB, 3 * MIB));
        free.remove(range(500 * MIB, 600 * MIB));
        assert_eq!(free.ranges(), &[range(MIB, 2 * MIB), range(3 * MIB, 500 * MIB)]);
    }
}
