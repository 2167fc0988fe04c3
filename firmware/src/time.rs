//! Time without devices: every wait of the firmware (for APs to check in, for xenstored to
//! answer) runs on a [`Clock`], and none of them polls an emulated device.
//!
//! Waiting by polling the PIT's output through port 0x61, as the firmware used to, costs a
//! device access per poll: an exit to the hypervisor each (under Xen thousands of them
//! while xenstored answers), an I/O exit under TCG, and a million of them drowned the
//! firmware's own device counts. The clocks here:
//!
//! - [`TscClock`]: the TSC, which reads without leaving the guest. Its rate is learnt once
//!   per boot and kept here ([`set_tsc_rate`], [`tsc_rate_or`]): under Xen from its CPUID
//!   time leaf (the guest's TSC frequency), elsewhere measured against the PIT when first
//!   needed ([`crate::arch::Pit::measure_tsc_khz`], about a dozen port accesses).
//! - under Xen, waits for xenstored block the vCPU on the store's event channel until the
//!   daemon signals or a deadline in Xen's system time passes
//!   ([`crate::platform::xen::events`]).

use core::fmt;
use core::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};

use crate::arch::rdtsc;

/// Something to wait with: a notion of now, and a way to wait for a condition with a bound.
pub trait Clock {
    /// Microseconds since an arbitrary fixed point.
    fn now_us(&mut self) -> u64;

    /// Checks `done` until it returns true (returns true) or `timeout_us` have passed
    /// (returns whether a last check, after the deadline, found it true).
    fn poll_until(&mut self, timeout_us: u64, done: &mut dyn FnMut() -> bool) -> bool {
        let start = self.now_us();
        loop {
            if done() {
                return true;
            }
            if self.now_us().saturating_sub(start) >= timeout_us {
                return done();
            }
            core::hint::spin_loop();
        }
    }

    /// Waits `us` microseconds.
    fn delay_us(&mut self, us: u64) {
        self.poll_until(us, &mut || false);
    }
}

/// Where the TSC's rate came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RateSource {
    /// Xen's CPUID time leaf (base + 3, subleaf 0, ECX): the guest's TSC in kHz.
    XenCpuid = 1,
    /// Measured against the PIT at boot.
    Pit = 2,
}

impl fmt::Display for RateSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RateSource::XenCpuid => "from Xen's CPUID",
            RateSource::Pit => "measured against the PIT",
        })
    }
}

/// The TSC's rate in kHz, 0 until known.
static TSC_KHZ: AtomicU64 = AtomicU64::new(0);
static TSC_RATE_SOURCE: AtomicU8 = AtomicU8::new(0);

/// The TSC's rate and where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TscRate {
    pub khz: u64,
    pub source: RateSource,
}

impl fmt::Display for TscRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TSC {}.{:03} MHz, {}", self.khz / 1000, self.khz % 1000, self.source)
    }
}

/// Records the TSC's rate for the rest of the boot (once known; a rate of 0 is ignored).
pub fn set_tsc_rate(rate: TscRate) {
    if rate.khz != 0 {
        TSC_KHZ.store(rate.khz, Relaxed);
        TSC_RATE_SOURCE.store(rate.source as u8, Relaxed);
    }
}

/// The TSC's rate, once [`set_tsc_rate`] has recorded it.
pub fn tsc_rate() -> Option<TscRate> {
    let source = match TSC_RATE_SOURCE.load(Relaxed) {
        1 => RateSource::XenCpuid,
        2 => RateSource::Pit,
        _ => return None,
    };
    Some(TscRate { khz: TSC_KHZ.load(Relaxed), source })
}

/// The TSC's rate: the one recorded, or else what `measure` finds, recorded for the rest of
/// the boot.
pub fn tsc_rate_or(measure: impl FnOnce() -> Option<TscRate>) -> Option<TscRate> {
    tsc_rate().or_else(|| {
        let rate = measure()?;
        set_tsc_rate(rate);
        tsc_rate()
    })
}

/// Microseconds in `ticks` of a TSC running at `khz`.
pub fn ticks_to_us(ticks: u64, khz: u64) -> u64 {
    (u128::from(ticks) * 1000)
        .checked_div(u128::from(khz))
        .map_or(0, |us| u64::try_from(us).unwrap_or(u64::MAX))
}

/// The TSC as a [`Clock`].
#[derive(Clone, Copy, Debug)]
pub struct TscClock {
    khz: u64,
}

impl TscClock {
    pub fn new(rate: TscRate) -> Self {
        TscClock { khz: rate.khz.max(1) }
    }
}

impl Clock for TscClock {
    fn now_us(&mut self) -> u64 {
        ticks_to_us(rdtsc(), self.khz)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock that advances 10 us per reading.
    struct Ticking(u64);

    impl Clock for Ticking {
        fn now_us(&mut self) -> u64 {
            self.0 += 10;
            self.0
        }
    }

    #[test]
    fn poll_until_stops_at_the_condition_or_the_deadline() {
        let mut clock = Ticking(0);
        let mut checks = 0;
        assert!(clock.poll_until(1_000, &mut || {
            checks += 1;
            checks == 5
        }));
        assert_eq!(checks, 5);
        let start = clock.now_us();
        assert!(!clock.poll_until(1_000, &mut || false));
        let waited = clock.now_us() - start;
        assert!((1_000..1_100).contains(&waited), "waited {waited} us");
    }

    #[test]
    fn ticks_convert_to_microseconds() {
        assert_eq!(ticks_to_us(3_000_000, 3_000_000), 1_000);
        assert_eq!(ticks_to_us(u64::MAX, 1), u64::MAX);
        assert_eq!(ticks_to_us(5, 0), 0);
    }

    #[test]
    fn the_rate_reads_as_mhz_with_its_source() {
        let rate = TscRate { khz: 2_993_012, source: RateSource::XenCpuid };
        assert_eq!(rate.to_string(), "TSC 2993.012 MHz, from Xen's CPUID");
    }
}
