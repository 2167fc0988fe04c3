//! Device-access counters and the firmware's run time, for `cargo xtask bench`.
//!
//! Every hardware access goes through four doors: [`crate::arch::HwPorts`] (port I/O),
//! [`crate::arch::MmioRegion`] (MMIO), and on top of them the two config mechanisms
//! [`crate::pci::Cf8`] and [`crate::pci::Ecam`]. Each door bumps one relaxed atomic counter
//! (a plain `lock inc` on x86: cheap enough to leave on in every build, and correct on the
//! APs too). Nothing is counted twice in the summary:
//!
//! - a CF8 config access is counted once in `cf8`; its own two port accesses (0xCF8, then
//!   0xCFC-0xCFF) land in the separate `cf8_ports` counter, not in `port`;
//! - console output (0xE9, COM1 0x3F8-0x3FF) lands in `console`, not in `port`, so that the
//!   log level does not change the device figures;
//! - an ECAM config access is one [`crate::arch::MmioRegion`] access: the summary reports
//!   `mmio` minus `ecam`.
//!
//! Time runs from the first counted access (the console probing port 0xE9, the first thing
//! [`crate::boot::main`] does) to [`Summary::take`], in TSC ticks converted with a TSC rate
//! measured against the PIT afterwards (1 ms), so the calibration costs no counted accesses.

use core::fmt;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

/// Reads and writes through one door.
#[derive(Debug)]
pub struct Counter {
    reads: AtomicU32,
    writes: AtomicU32,
}

impl Counter {
    const fn new() -> Self {
        Counter { reads: AtomicU32::new(0), writes: AtomicU32::new(0) }
    }

    #[inline]
    pub fn read(&self) {
        note_start();
        self.reads.fetch_add(1, Relaxed);
    }

    #[inline]
    pub fn write(&self) {
        note_start();
        self.writes.fetch_add(1, Relaxed);
    }

    fn get(&self) -> ReadsWrites {
        ReadsWrites { reads: self.reads.load(Relaxed), writes: self.writes.load(Relaxed) }
    }
}

/// Config-space accesses through CF8/CFC ([`crate::pci::Cf8`]).
pub static CF8: Counter = Counter::new();
/// The port accesses CF8/CFC config accesses are made of (two each).
pub static CF8_PORTS: Counter = Counter::new();
/// Config-space accesses through ECAM ([`crate::pci::Ecam`]).
pub static ECAM: Counter = Counter::new();
/// Port accesses other than CF8/CFC and the console.
pub static PORT: Counter = Counter::new();
/// Console port accesses (0xE9, COM1).
pub static CONSOLE: Counter = Counter::new();
/// Every [`crate::arch::MmioRegion`] access, ECAM included.
pub static MMIO: Counter = Counter::new();

/// TSC at the first counted access; 0 until then.
static START_TSC: AtomicU64 = AtomicU64::new(0);

#[inline]
fn note_start() {
    if START_TSC.load(Relaxed) == 0 {
        let _ = START_TSC.compare_exchange(0, rdtsc(), Relaxed, Relaxed);
    }
}

fn rdtsc() -> u64 {
    // SAFETY: RDTSC only reads the time-stamp counter (CR4.TSD is clear in the firmware).
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// The counter for a port access: CF8/CFC, console or other.
#[inline]
pub fn port_counter(port: u16) -> &'static Counter {
    match port {
        0xCF8..=0xCFF => &CF8_PORTS,
        0xE9 | 0x3F8..=0x3FF => &CONSOLE,
        _ => &PORT,
    }
}

/// Reads and writes, printed `R/W`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadsWrites {
    pub reads: u32,
    pub writes: u32,
}

impl fmt::Display for ReadsWrites {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.reads, self.writes)
    }
}

/// The counters and the elapsed time at one moment: the firmware's closing figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub cf8: ReadsWrites,
    pub ecam: ReadsWrites,
    /// Port accesses besides CF8/CFC and the console.
    pub port: ReadsWrites,
    /// MMIO accesses besides ECAM.
    pub mmio: ReadsWrites,
    pub console: ReadsWrites,
    pub tsc_ticks: u64,
    /// TSC ticks per millisecond, measured; 0 if the PIT never ticked.
    pub tsc_per_ms: u64,
}

impl Summary {
    /// Snapshots the counters and the TSC, then measures the TSC rate (1 ms on PIT channel 2;
    /// its port accesses come after the snapshot and are not in it).
    pub fn take() -> Summary {
        let end = rdtsc();
        let mmio = MMIO.get();
        let ecam = ECAM.get();
        let mut summary = Summary {
            cf8: CF8.get(),
            ecam,
            port: PORT.get(),
            mmio: ReadsWrites {
                reads: mmio.reads.saturating_sub(ecam.reads),
                writes: mmio.writes.saturating_sub(ecam.writes),
            },
            console: CONSOLE.get(),
            tsc_ticks: end.saturating_sub(START_TSC.load(Relaxed)),
            tsc_per_ms: 0,
        };
        // SAFETY: the firmware owns the machine's devices while it runs; PIT channel 2 is
        // free (nothing else uses it once the APs are up).
        let mut ports = unsafe { crate::arch::HwPorts::new() };
        let before = rdtsc();
        crate::arch::Pit::new(&mut ports).delay_us(CALIBRATION_US);
        summary.tsc_per_ms = (rdtsc() - before) * 1_000_000 / pit_gate_ns(CALIBRATION_US);
        summary
    }

    /// Elapsed time in microseconds; 0 when the TSC rate is unknown.
    pub fn elapsed_us(&self) -> u64 {
        (u128::from(self.tsc_ticks) * 1000)
            .checked_div(u128::from(self.tsc_per_ms))
            .map_or(0, |us| us as u64)
    }
}

/// How long the calibration gate is, as asked of the PIT.
const CALIBRATION_US: u64 = 1000;

/// What a PIT delay of `us` really lasts, in ns: [`crate::arch::Pit`] rounds up to whole PIT
/// ticks of 1/1193182 s (1 ms is 1194 ticks, 1000.685 us).
fn pit_gate_ns(us: u64) -> u64 {
    const PIT_HZ: u64 = 1_193_182;
    let ticks = (us * PIT_HZ).div_ceil(1_000_000);
    ticks * 1_000_000_000 / PIT_HZ
}

impl fmt::Display for Summary {
    /// `cf8 R/W 120/31, ecam R/W 0/0, port R/W 40/22, mmio R/W 10/5, console W 4711,
    /// time 1234 us (1234000 TSC ticks)`: parsed by `cargo xtask bench`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cf8 R/W {}, ecam R/W {}, port R/W {}, mmio R/W {}, console W {}, time {} us \
             ({} TSC ticks, {} per ms)",
            self.cf8,
            self.ecam,
            self.port,
            self.mmio,
            self.console.writes,
            self.elapsed_us(),
            self.tsc_ticks,
            self.tsc_per_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_go_to_their_own_counters() {
        assert!(core::ptr::eq(port_counter(0xCF8), &CF8_PORTS));
        assert!(core::ptr::eq(port_counter(0xCFE), &CF8_PORTS));
        assert!(core::ptr::eq(port_counter(0xE9), &CONSOLE));
        assert!(core::ptr::eq(port_counter(0x3FD), &CONSOLE));
        assert!(core::ptr::eq(port_counter(0x61), &PORT));
        assert!(core::ptr::eq(port_counter(0xB000), &PORT));
    }

    #[test]
    fn the_summary_line_is_what_xtask_parses() {
        let summary = Summary {
            cf8: ReadsWrites { reads: 120, writes: 31 },
            ecam: ReadsWrites { reads: 7, writes: 2 },
            port: ReadsWrites { reads: 40, writes: 22 },
            mmio: ReadsWrites { reads: 10, writes: 5 },
            console: ReadsWrites { reads: 1, writes: 4711 },
            tsc_ticks: 2_500_000,
            tsc_per_ms: 1_000_000,
        };
        assert_eq!(
            summary.to_string(),
            "cf8 R/W 120/31, ecam R/W 7/2, port R/W 40/22, mmio R/W 10/5, console W 4711, \
             time 2500 us (2500000 TSC ticks, 1000000 per ms)"
        );
        assert_eq!(Summary { tsc_per_ms: 0, ..summary }.elapsed_us(), 0);
    }

    #[test]
    fn the_pit_gate_is_rounded_to_whole_ticks() {
        assert_eq!(pit_gate_ns(1000), 1_000_685);
    }
}
