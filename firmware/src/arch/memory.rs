//! Reading guest-physical memory that loaders handed us (start info, command lines,
//! module lists). Reads are bounded to what the page tables map, so malformed pointers in
//! boot information become errors, never faults.

use core::fmt;

/// A read of physical memory that cannot be served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PhysReadError {
    pub paddr: u64,
    pub len: usize,
}

impl fmt::Display for PhysReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes at {:#x} are outside readable memory", self.len, self.paddr)
    }
}

/// Read access to physical memory.
pub(crate) trait PhysMemory {
    fn read(&self, paddr: u64, buf: &mut [u8]) -> Result<(), PhysReadError>;
}

/// Physical memory through the entry code's identity map of the first 4 GiB.
#[derive(Debug)]
pub(crate) struct IdentityMapped(());

/// The entry code identity-maps the first 4 GiB (page 0 only on demand, see
/// [`super::paging::with_page_zero`]); reads are limited to it.
const MAPPED_END: u64 = 0x1_0000_0000;

impl IdentityMapped {
    /// The identity map, for [`super::Machine`], whose taker vouched that the boot page
    /// tables identity-map the first 4 GiB.
    pub(super) const fn mapped() -> Self {
        IdentityMapped(())
    }
}

impl PhysMemory for IdentityMapped {
    fn read(&self, paddr: u64, buf: &mut [u8]) -> Result<(), PhysReadError> {
        let err = PhysReadError { paddr, len: buf.len() };
        let end = paddr.checked_add(buf.len() as u64).ok_or(err)?;
        if end > MAPPED_END {
            return Err(err);
        }
        let copy = |buf: &mut [u8]| {
            for (i, byte) in buf.iter_mut().enumerate() {
                // SAFETY: the range is identity-mapped (the `Machine`'s promise; page 0 is mapped
                // by the caller below) and was bounds-checked above. Volatile byte reads:
                // the memory belongs to the loader, not to Rust.
                *byte = unsafe { core::ptr::read_volatile((paddr as usize + i) as *const u8) };
            }
        };
        if paddr < 0x1000 {
            super::paging::with_page_zero(|| copy(buf));
        } else {
            copy(buf);
        }
        Ok(())
    }
}

/// Writes `value` to `slot` and reads it back, both volatile, so neither is folded away: a
/// byte of RAM reads back what was written, ROM or an empty range does not.
pub(crate) fn write_read_volatile(slot: &mut u8, value: u8) -> u8 {
    let slot: *mut u8 = slot;
    // SAFETY: from a live exclusive reference: valid and aligned for reads and writes.
    unsafe {
        slot.write_volatile(value);
        slot.read_volatile()
    }
}

/// Reads `place` volatile: for memory a device wrote behind the compiler's back (a DMA
/// descriptor's status, written while the doorbell's port access ran).
pub(crate) fn read_volatile<T: Copy>(place: &T) -> T {
    // SAFETY: from a live shared reference: valid and aligned for reads.
    unsafe { core::ptr::read_volatile(place) }
}
