//! Xen's shared info page, mapped while the firmware talks to xenstored: it holds the
//! event channels' pending bits (which SCHEDOP_poll wakes on and the waiter must clear)
//! and each vCPU's `vcpu_time_info`, from which the TSC gives Xen's system time.
//!
//! The page is shared with Xen, which sets pending bits and rewrites the time record
//! behind the compiler's back: pending bits are cleared with an atomic read-modify-write,
//! the time record is read volatile under its version counter (odd while Xen updates it,
//! re-read if it changed), as the public header prescribes.

use alloc::boxed::Box;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering, fence};

use super::XenError;
use super::abi::{shared_info as layout, xenmem};
use super::hypercall::{Hypercall, Xen};

/// Where the firmware maps the page: the frame hvmloader uses for it, the top page of its
/// reserved area below 0xFE000000. It lies above the PCI hole ([`crate::layout::HOLE_END`]),
/// where Xen's layout never puts RAM (low RAM ends by 0xF0000000) and the firmware places
/// nothing, clear of the IOAPIC, HPET, TPM and LAPIC pages above 0xFEC00000 and of the BIOS
/// and flash images at the top. [`SharedInfo::unmap`] empties the frame again before the
/// hand-off, so the guest's OS finds the hole as Xen left it.
pub(crate) const SHARED_INFO_GPFN: u64 = 0xF_DFFF;

/// The mapped page.
#[derive(Debug)]
pub(crate) struct SharedInfo {
    page: NonNull<u8>,
    gpfn: u64,
}

/// One consistent reading of a `vcpu_time_info`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct VcpuTime {
    pub tsc_timestamp: u64,
    /// Nanoseconds since Xen booted, at `tsc_timestamp`.
    pub system_time: u64,
    pub tsc_to_system_mul: u32,
    pub tsc_shift: i8,
}

impl VcpuTime {
    /// Xen's system time in nanoseconds when the vCPU's TSC reads `tsc` (public/xen.h:
    /// the TSC delta, shifted by `tsc_shift`, times `tsc_to_system_mul` / 2^32).
    pub fn system_time_at(&self, tsc: u64) -> u64 {
        let delta = tsc.saturating_sub(self.tsc_timestamp);
        let delta = if self.tsc_shift >= 0 {
            delta << self.tsc_shift
        } else {
            delta >> self.tsc_shift.unsigned_abs()
        };
        let scaled = (u128::from(delta) * u128::from(self.tsc_to_system_mul)) >> 32;
        self.system_time.saturating_add(u64::try_from(scaled).unwrap_or(u64::MAX))
    }
}

impl SharedInfo {
    /// Asks Xen to map the domain's shared info page at guest frame `gpfn`
    /// (XENMEM_add_to_physmap, XENMAPSPACE_shared_info).
    ///
    /// # Safety
    /// `gpfn` must be a frame that holds nothing (no RAM: Xen would free it; no device),
    /// identity-mapped by the page tables, and nothing else in the firmware may use it while
    /// the returned value lives.
    pub unsafe fn map<H: Hypercall>(xen: &mut Xen<H>, gpfn: u64) -> Result<Self, Box<XenError>> {
        xen.add_to_physmap(xenmem::MAPSPACE_SHARED_INFO, 0, gpfn)?;
        let page = NonNull::new((gpfn << 12) as *mut u8)
            .ok_or(XenError::Hypercall { what: "mapping the shared info at frame 0", errno: 0 })?;
        Ok(SharedInfo { page, gpfn })
    }

    /// A shared info page at `page` (a simulation of one, in host tests).
    ///
    /// # Safety
    /// `page` must point to 4 KiB, 8-byte aligned, that stay valid and are accessed only
    /// through this value (and the simulated hypervisor) while it lives.
    #[cfg(test)]
    pub unsafe fn at(page: NonNull<u8>, gpfn: u64) -> Self {
        SharedInfo { page, gpfn }
    }

    /// Removes the mapping (XENMEM_remove_from_physmap): the frame is a hole again.
    pub fn unmap<H: Hypercall>(self, xen: &mut Xen<H>) -> Result<(), Box<XenError>> {
        xen.remove_from_physmap(self.gpfn)
    }

    /// Clears `port`'s pending bit; returns whether it was set. Ports beyond the 2-level
    /// bitmap have no bit (false).
    pub fn take_pending(&self, port: u32) -> bool {
        if port >= layout::EVTCHN_PORTS {
            return false;
        }
        let word = layout::EVTCHN_PENDING + (port / 64) as usize * 8;
        let bit = 1u64 << (port % 64);
        // SAFETY: `word` is within the page (the bitmap's 512 bytes follow the vcpu_infos)
        // and 8-byte aligned; Xen writes the bitmap only with atomic operations too, so an
        // atomic view of it races with nothing non-atomic.
        let pending = unsafe { AtomicU64::from_ptr(self.page.as_ptr().add(word).cast()) };
        pending.fetch_and(!bit, Ordering::SeqCst) & bit != 0
    }

    /// The `vcpu_time_info` of vCPU `vcpu` (below 32), read consistently.
    pub fn vcpu_time(&self, vcpu: usize) -> VcpuTime {
        assert!(vcpu < 32, "vCPU {vcpu} has no vcpu_info in the shared info page");
        let record = vcpu * layout::VCPU_INFO_SIZE + layout::VCPU_TIME;
        loop {
            let version: u32 = self.time_field(record, layout::TIME_VERSION);
            fence(Ordering::Acquire);
            let time = VcpuTime {
                tsc_timestamp: self.time_field(record, layout::TIME_TSC_TIMESTAMP),
                system_time: self.time_field(record, layout::TIME_SYSTEM_TIME),
                tsc_to_system_mul: self.time_field(record, layout::TIME_MUL),
                tsc_shift: self.time_field::<i8>(record, layout::TIME_SHIFT),
            };
            fence(Ordering::Acquire);
            let again: u32 = self.time_field(record, layout::TIME_VERSION);
            if version & 1 == 0 && version == again {
                return time;
            }
            core::hint::spin_loop();
        }
    }

    /// One field of a `vcpu_time_info` record at `record`: `T` is the field's type in the
    /// layout (`u32`, `u64`, `i8`), `offset` its offset there.
    fn time_field<T: Copy>(&self, record: usize, offset: usize) -> T {
        debug_assert!(record + offset + size_of::<T>() <= layout::VCPU_INFO_SIZE * 32);
        // SAFETY: `record + offset` is a naturally aligned field of type `T` of a vcpu_info
        // inside the page (the callers' offsets come from Xen's public layout); volatile,
        // because Xen rewrites it at any time.
        unsafe { self.page.as_ptr().add(record + offset).cast::<T>().read_volatile() }
    }
}

#[cfg(test)]
mod tests {
    use alloc::boxed::Box;

    use super::*;

    #[test]
    fn system_time_scales_the_tsc_delta() {
        // 3 GHz: 1/3 ns per tick as mul 2^32/3 with shift 0.
        let t = VcpuTime {
            tsc_timestamp: 1_000,
            system_time: 5_000_000_000,
            tsc_to_system_mul: (1u64 << 32).div_ceil(3) as u32,
            tsc_shift: 0,
        };
        assert_eq!(t.system_time_at(1_000), 5_000_000_000);
        assert_eq!(t.system_time_at(3_000_001_000), 6_000_000_000);
        // Shifts scale the delta first: a 500 MHz TSC as mul 2^31 (x0.5) with shift 2.
        let t = VcpuTime { tsc_to_system_mul: 1 << 31, tsc_shift: 2, ..t };
        assert_eq!(t.system_time_at(1_001), 5_000_000_002);
        let t = VcpuTime { tsc_shift: -1, ..t };
        assert_eq!(t.system_time_at(1_004), 5_000_000_001);
        // A TSC behind the record (another vCPU's) counts as no time passed.
        assert_eq!(t.system_time_at(0), 5_000_000_000);
    }

    #[test]
    fn pending_bits_are_taken_once_and_time_reads_back() {
        let page: Box<[u64; 512]> = Box::new([0; 512]);
        let raw = Box::into_raw(page);
        // SAFETY: a live, aligned 4 KiB used only here, freed at the end.
        let shared = unsafe { SharedInfo::at(NonNull::new(raw.cast()).unwrap(), 0xFDFFF) };
        let words = raw.cast::<u64>();
        // SAFETY: word indices within the 512-word page.
        unsafe {
            // Port 70: bit 6 of the pending bitmap's second word.
            *words.add(layout::EVTCHN_PENDING / 8 + 1) = 1 << 6;
            // vCPU 0's time record: version 2, at TSC 10, 123 ns, x1.
            *words.add(layout::VCPU_TIME / 8) = 2;
            *words.add(layout::VCPU_TIME / 8 + 1) = 10;
            *words.add(layout::VCPU_TIME / 8 + 2) = 123;
            *words.add(layout::VCPU_TIME / 8 + 3) = 1 << 31;
        }
        assert!(!shared.take_pending(6));
        assert!(shared.take_pending(70));
        assert!(!shared.take_pending(70), "cleared");
        assert!(!shared.take_pending(layout::EVTCHN_PORTS));
        let time = shared.vcpu_time(0);
        assert_eq!(
            time,
            VcpuTime {
                tsc_timestamp: 10,
                system_time: 123,
                tsc_to_system_mul: 1 << 31,
                tsc_shift: 0
            }
        );
        assert_eq!(time.system_time_at(30), 133);
        // SAFETY: allocated above by `Box::into_raw`, no longer used.
        drop(unsafe { Box::from_raw(raw) });
    }
}
