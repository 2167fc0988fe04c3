//! The time-stamp counter: the clock the firmware waits on once its rate is known
//! ([`crate::time`]). Reading it touches no device.

/// The TSC now.
pub(crate) fn rdtsc() -> u64 {
    // SAFETY: RDTSC only reads the time-stamp counter; the firmware never sets CR4.TSD, so it
    // cannot fault.
    unsafe { core::arch::x86_64::_rdtsc() }
}
