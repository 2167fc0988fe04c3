//! Memory-mapped device registers: the [`Mmio`] trait drivers are written against, and
//! [`MmioRegion`], a bounds-checked window onto one device's range that the
//! [`super::Machine`] hands out.

use core::ptr::{read_volatile, write_volatile};

use super::machine::Held;

/// A device's registers, at offsets from its base: the hardware's ([`MmioRegion`]) or a
/// simulated device's in host tests.
pub(crate) trait Mmio {
    /// The physical address offset 0 is at.
    fn base(&self) -> u64;
    fn read8(&self, offset: u64) -> u8;
    fn read16(&self, offset: u64) -> u16;
    fn read32(&self, offset: u64) -> u32;
    fn write8(&mut self, offset: u64, value: u8);
    fn write16(&mut self, offset: u64, value: u16);
    fn write32(&mut self, offset: u64, value: u32);
}

/// A device's register range, identity-mapped and claimed from the machine while the value
/// lives. Accesses are volatile and bounds-checked.
#[derive(Debug)]
pub(crate) struct MmioRegion<'m> {
    base: u64,
    len: u64,
    _held: Held<'m>,
}

impl<'m> MmioRegion<'m> {
    /// The region the machine claimed for `held` (identity-mapped, below 4 GiB, reached by
    /// nothing else while the claim lives).
    pub(super) fn new(held: Held<'m>) -> Self {
        let range = held.range();
        MmioRegion { base: range.start, len: range.len(), _held: held }
    }

    /// Checks the access: every accessor goes through here.
    fn address<T>(&self, offset: u64) -> usize {
        let size = core::mem::size_of::<T>() as u64;
        assert!(
            offset.is_multiple_of(size)
                && offset.checked_add(size).is_some_and(|end| end <= self.len),
            "MMIO access at {offset:#x} outside a region of {:#x} bytes",
            self.len
        );
        (self.base + offset) as usize
    }
}

impl Mmio for MmioRegion<'_> {
    fn base(&self) -> u64 {
        self.base
    }

    fn read8(&self, offset: u64) -> u8 {
        // SAFETY: in bounds (checked) of a region the machine claimed for this value.
        unsafe { read_volatile(self.address::<u8>(offset) as *const u8) }
    }
    fn read16(&self, offset: u64) -> u16 {
        // SAFETY: as in `read8`; the address is naturally aligned (checked).
        unsafe { read_volatile(self.address::<u16>(offset) as *const u16) }
    }
    fn read32(&self, offset: u64) -> u32 {
        // SAFETY: as in `read16`.
        unsafe { read_volatile(self.address::<u32>(offset) as *const u32) }
    }
    fn write8(&mut self, offset: u64, value: u8) {
        // SAFETY: as in `read8`.
        unsafe { write_volatile(self.address::<u8>(offset) as *mut u8, value) }
    }
    fn write16(&mut self, offset: u64, value: u16) {
        // SAFETY: as in `read16`.
        unsafe { write_volatile(self.address::<u16>(offset) as *mut u16, value) }
    }
    fn write32(&mut self, offset: u64, value: u32) {
        // SAFETY: as in `read16`.
        unsafe { write_volatile(self.address::<u32>(offset) as *mut u32, value) }
    }
}
