//! Memory-mapped device registers: a bounds-checked window onto one device's MMIO range.

use core::ptr::{read_volatile, write_volatile};

/// A device's register range, identity-mapped. Accesses are volatile and bounds-checked.
#[derive(Debug)]
pub struct MmioRegion {
    base: u64,
    len: u64,
}

impl MmioRegion {
    /// # Safety
    /// `[base, base + len)` must be device registers (or RAM) that the page tables map
    /// identity and that nothing else in the firmware accesses through Rust references.
    pub const unsafe fn new(base: u64, len: u64) -> Self {
        MmioRegion { base, len }
    }

    pub fn base(&self) -> u64 {
        self.base
    }

    /// Checks the access and counts it (crate::stats): every accessor goes through here.
    fn address<T>(&self, offset: u64, counter: fn(&crate::stats::Counter)) -> usize {
        counter(&crate::stats::MMIO);
        let size = core::mem::size_of::<T>() as u64;
        assert!(
            offset.is_multiple_of(size)
                && offset.checked_add(size).is_some_and(|end| end <= self.len),
            "MMIO access at {offset:#x} outside a region of {:#x} bytes",
            self.len
        );
        (self.base + offset) as usize
    }

    pub fn read8(&self, offset: u64) -> u8 {
        // SAFETY: in bounds (checked) of a region the constructor's caller vouched for.
        unsafe {
            read_volatile(self.address::<u8>(offset, crate::stats::Counter::read) as *const u8)
        }
    }
    pub fn read16(&self, offset: u64) -> u16 {
        // SAFETY: as in `read8`; the address is naturally aligned (checked).
        unsafe {
            read_volatile(self.address::<u16>(offset, crate::stats::Counter::read) as *const u16)
        }
    }
    pub fn read32(&self, offset: u64) -> u32 {
        // SAFETY: as in `read16`.
        unsafe {
            read_volatile(self.address::<u32>(offset, crate::stats::Counter::read) as *const u32)
        }
    }
    pub fn write8(&mut self, offset: u64, value: u8) {
        // SAFETY: as in `read8`.
        unsafe {
            write_volatile(
                self.address::<u8>(offset, crate::stats::Counter::write) as *mut u8,
                value,
            )
        }
    }
    pub fn write16(&mut self, offset: u64, value: u16) {
        // SAFETY: as in `read16`.
        unsafe {
            write_volatile(
                self.address::<u16>(offset, crate::stats::Counter::write) as *mut u16,
                value,
            )
        }
    }
    pub fn write32(&mut self, offset: u64, value: u32) {
        // SAFETY: as in `read16`.
        unsafe {
            write_volatile(
                self.address::<u32>(offset, crate::stats::Counter::write) as *mut u32,
                value,
            )
        }
    }
}
