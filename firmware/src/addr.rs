//! Physical addresses and their units: the leaf every room (the CPU's own, [`crate::arch`],
//! included) takes its range type and sizes from.

use core::fmt;

/// The x86 page.
pub(crate) const PAGE_SIZE: u64 = 0x1000;
#[allow(non_upper_case_globals)]
pub(crate) const MiB: u64 = 1 << 20;
#[allow(non_upper_case_globals)]
pub(crate) const GiB: u64 = 1 << 30;
/// Everything the firmware touches before the hand-off lies below this (the entry code
/// identity-maps exactly this much).
pub(crate) const FOUR_GIB: u64 = 4 * GiB;

/// A half-open range of physical addresses, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PhysRange {
    pub start: u64,
    pub end: u64,
}

impl PhysRange {
    /// `[start, start + len)`, or `None` if that wraps past 2^64.
    pub fn from_len(start: u64, len: u64) -> Option<Self> {
        Some(PhysRange { start, end: start.checked_add(len)? })
    }
    pub fn len(&self) -> u64 {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
    pub fn overlaps(&self, other: &PhysRange) -> bool {
        self.start < other.end && other.start < self.end
    }
    pub fn contains_range(&self, other: &PhysRange) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

impl fmt::Display for PhysRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:#x}-{:#x}]", self.start, self.end.wrapping_sub(1))
    }
}
