//! The free parts of one address range: what is left of it after the caller's reserved
//! ranges and every allocation so far. Addresses are `u128` so that no sum of BAR sizes
//! (each at most 2^63) can overflow.

use alloc::vec::Vec;
use core::ops::Range;

/// Sorted, disjoint, non-empty free ranges.
#[derive(Clone, Debug)]
pub(super) struct FreeList {
    free: Vec<Range<u128>>,
}

/// Which end of the free space to allocate from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Direction {
    /// Highest address first: keeps the used part of the range at its top, so that the
    /// lowest address used tells how much of the range was needed.
    TopDown,
    /// Lowest address first.
    BottomUp,
}

impl FreeList {
    /// `range` minus every range in `reserved` (which may reach outside `range`).
    pub(super) fn new(range: &Range<u64>, reserved: &[Range<u64>]) -> Self {
        let whole = u128::from(range.start)..u128::from(range.end);
        let mut list = FreeList { free: Vec::new() };
        list.free.push(whole);
        list.free.retain(|r| !r.is_empty());
        for r in reserved {
            list.remove(u128::from(r.start)..u128::from(r.end));
        }
        list
    }

    /// Takes `hole` out of the free ranges.
    fn remove(&mut self, hole: Range<u128>) {
        if hole.is_empty() {
            return;
        }
        let mut kept = Vec::with_capacity(self.free.len() + 1);
        for r in self.free.drain(..) {
            if r.end <= hole.start || hole.end <= r.start {
                kept.push(r);
                continue;
            }
            if r.start < hole.start {
                kept.push(r.start..hole.start);
            }
            if hole.end < r.end {
                kept.push(hole.end..r.end);
            }
        }
        self.free = kept;
    }

    /// Allocates `size` bytes aligned to `align` (a power of two), first fit from the given
    /// end; `None` if no free range can hold it.
    pub(super) fn allocate(
        &mut self,
        size: u128,
        align: u128,
        direction: Direction,
    ) -> Option<u128> {
        let fits = |r: &Range<u128>| -> Option<u128> {
            let base = match direction {
                Direction::TopDown => r.end.checked_sub(size)? & !(align - 1),
                Direction::BottomUp => r.start.checked_add(align - 1)? & !(align - 1),
            };
            (base >= r.start && base.checked_add(size)? <= r.end).then_some(base)
        };
        let base = match direction {
            Direction::TopDown => self.free.iter().rev().find_map(fits)?,
            Direction::BottomUp => self.free.iter().find_map(fits)?,
        };
        self.remove(base..base + size);
        Some(base)
    }

    /// The size of the largest free range.
    #[cfg(test)]
    pub(super) fn largest(&self) -> u128 {
        self.free.iter().map(|r| r.end - r.start).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_ranges_are_never_allocated() {
        let mut list = FreeList::new(&(0x1000..0x10000), &[0xF000..0x10000, 0x0..0x2000]);
        assert_eq!(list.allocate(0x1000, 0x1000, Direction::TopDown), Some(0xE000));
        assert_eq!(list.allocate(0x1000, 0x1000, Direction::BottomUp), Some(0x2000));
        // 0x3000..0xE000 is left: 0xB000 bytes.
        assert_eq!(list.largest(), 0xB000);
        assert_eq!(list.allocate(0xC000, 0x1000, Direction::TopDown), None);
    }

    #[test]
    fn top_down_fills_the_gap_left_by_alignment() {
        // 192 MiB: no room for 256 MiB; 128 MiB aligned goes to the bottom, and the 64 MiB
        // left above it by the alignment are used next.
        let mut list = FreeList::new(&(0x1000_0000..0x1C00_0000), &[]);
        assert_eq!(list.allocate(0x1000_0000, 0x1000_0000, Direction::TopDown), None);
        assert_eq!(list.allocate(0x800_0000, 0x800_0000, Direction::TopDown), Some(0x1000_0000));
        assert_eq!(list.allocate(0x400_0000, 0x400_0000, Direction::TopDown), Some(0x1800_0000));
    }

    #[test]
    fn huge_sizes_do_not_overflow() {
        let mut list = FreeList::new(&(0x1_0000_0000..u64::MAX), &[]);
        assert_eq!(list.allocate(1 << 64, 1 << 63, Direction::BottomUp), None);
        // The range ends one byte short of 2^64.
        assert_eq!(list.allocate(1 << 63, 1 << 63, Direction::TopDown), None);
        assert_eq!(list.allocate(1 << 62, 1 << 62, Direction::TopDown), Some(1 << 63));
    }
}
