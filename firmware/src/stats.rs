//! What the firmware's run cost: every access that leaves the guest, counted by kind, and
//! the run's time; printed as its `accesses:` line, which `cargo xtask bench` reads.
//!
//! Every such access goes through one of a few doors: the machine's ports and device
//! registers, each wrapped in [`Counted`] where the boot sequence takes them, Xen's
//! hypercall page, and on top of the first two the config mechanisms [`crate::pci::Cf8`]
//! and [`crate::pci::Ecam`]. Each door bumps relaxed
//! atomic counters (a plain `lock inc` on x86: cheap enough to leave on in every build, and
//! correct on the APs too). Port accesses are counted by what the port is, because that
//! decides what they cost: under Xen, port 0xE9 and the PIT are handled by Xen itself, while
//! COM1, fw_cfg and configuration space are a round trip to the device model in dom0.
//! Nothing is counted twice in the summary:
//!
//! - a CF8 config access is counted once in `cf8`; its own two port accesses (0xCF8, then
//!   0xCFC-0xCFF) land in a counter of their own, not in `port`;
//! - an ECAM config access is one device-register access: the summary reports
//!   `mmio` minus `ecam`;
//! - a string write (`rep outsb`, [`crate::arch::PortIo::write_bytes`]) is one access (one
//!   instruction, one exit), and its bytes are counted apart.
//!
//! Time runs from the first counted access (the console's first line) to [`Summary::take`],
//! in TSC ticks at the rate [`crate::time`] learnt at boot.

use core::fmt;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};

use crate::arch::{Mmio, PortIo, rdtsc};
use crate::time::{TscRate, ticks_to_us, tsc_rate};

/// Ports or device registers whose every access is counted: port accesses by what the port
/// is ([`port_counter`]), register accesses as [`MMIO`].
#[derive(Clone, Debug)]
pub(crate) struct Counted<T>(pub T);

impl<P: PortIo> PortIo for Counted<P> {
    fn read8(&mut self, port: u16) -> u8 {
        port_counter(port).read();
        self.0.read8(port)
    }
    fn read16(&mut self, port: u16) -> u16 {
        port_counter(port).read();
        self.0.read16(port)
    }
    fn read32(&mut self, port: u16) -> u32 {
        port_counter(port).read();
        self.0.read32(port)
    }
    fn write8(&mut self, port: u16, value: u8) {
        port_counter(port).write();
        self.0.write8(port, value);
    }
    fn write16(&mut self, port: u16, value: u16) {
        port_counter(port).write();
        self.0.write16(port, value);
    }
    fn write32(&mut self, port: u16, value: u32) {
        port_counter(port).write();
        self.0.write32(port, value);
    }
    fn write_bytes(&mut self, port: u16, bytes: &[u8]) {
        if !bytes.is_empty() {
            port_counter(port).write_string(bytes.len());
        }
        self.0.write_bytes(port, bytes);
    }
}

impl<R: Mmio> Mmio for Counted<R> {
    fn base(&self) -> u64 {
        self.0.base()
    }
    fn read8(&self, offset: u64) -> u8 {
        MMIO.read();
        self.0.read8(offset)
    }
    fn read16(&self, offset: u64) -> u16 {
        MMIO.read();
        self.0.read16(offset)
    }
    fn read32(&self, offset: u64) -> u32 {
        MMIO.read();
        self.0.read32(offset)
    }
    fn write8(&mut self, offset: u64, value: u8) {
        MMIO.write();
        self.0.write8(offset, value);
    }
    fn write16(&mut self, offset: u64, value: u16) {
        MMIO.write();
        self.0.write16(offset, value);
    }
    fn write32(&mut self, offset: u64, value: u32) {
        MMIO.write();
        self.0.write32(offset, value);
    }
}

/// Reads and writes through one door.
#[derive(Debug)]
pub(crate) struct Counter {
    reads: AtomicU32,
    writes: AtomicU32,
    /// Bytes moved by string writes (counted once each in `writes`).
    string_bytes: AtomicU32,
}

impl Counter {
    const fn new() -> Self {
        Counter {
            reads: AtomicU32::new(0),
            writes: AtomicU32::new(0),
            string_bytes: AtomicU32::new(0),
        }
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

    /// One string write of `bytes` bytes.
    #[inline]
    pub fn write_string(&self, bytes: usize) {
        self.write();
        self.string_bytes.fetch_add(bytes as u32, Relaxed);
    }

    fn get(&self) -> ReadsWrites {
        ReadsWrites {
            reads: self.reads.load(Relaxed),
            writes: self.writes.load(Relaxed),
            string_bytes: self.string_bytes.load(Relaxed),
        }
    }
}

/// Config-space accesses through CF8/CFC ([`crate::pci::Cf8`]).
pub(crate) static CF8: Counter = Counter::new();
/// The port accesses CF8/CFC config accesses are made of (two each).
pub(crate) static CF8_PORTS: Counter = Counter::new();
/// Config-space accesses through ECAM ([`crate::pci::Ecam`]).
pub(crate) static ECAM: Counter = Counter::new();
/// COM1's registers (0x3F8-0x3FF).
pub(crate) static COM1: Counter = Counter::new();
/// The 0xE9 debug port.
pub(crate) static DEBUG_PORT: Counter = Counter::new();
/// The PIT (0x40-0x43) and its gate at port 0x61.
pub(crate) static PIT: Counter = Counter::new();
/// QEMU's fw_cfg (0x510-0x51B).
pub(crate) static FW_CFG: Counter = Counter::new();
/// Every other port.
pub(crate) static PORT: Counter = Counter::new();
/// Every [`crate::arch::MmioRegion`] access, ECAM included.
pub(crate) static MMIO: Counter = Counter::new();
/// Hypercalls (as writes).
pub(crate) static HYPERCALLS: Counter = Counter::new();

/// TSC at the first counted access, or where [`start_time_at`] put it; 0 until then.
static START_TSC: AtomicU64 = AtomicU64::new(0);

/// Starts the firmware's time at `tsc`, taken before the first counted access (the boot
/// code's, before it unpacks the payload).
pub fn start_time_at(tsc: u64) {
    let _ = START_TSC.compare_exchange(0, tsc, Relaxed, Relaxed);
}

#[inline]
fn note_start() {
    if START_TSC.load(Relaxed) == 0 {
        let _ = START_TSC.compare_exchange(0, rdtsc(), Relaxed, Relaxed);
    }
}

/// The counter for a port access.
#[inline]
pub(crate) fn port_counter(port: u16) -> &'static Counter {
    match port {
        0xCF8..=0xCFF => &CF8_PORTS,
        0xE9 => &DEBUG_PORT,
        0x3F8..=0x3FF => &COM1,
        0x40..=0x43 | 0x61 => &PIT,
        0x510..=0x51B => &FW_CFG,
        _ => &PORT,
    }
}

/// Reads and writes, printed `R/W`, and the bytes of string writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ReadsWrites {
    pub reads: u32,
    pub writes: u32,
    pub string_bytes: u32,
}

impl fmt::Display for ReadsWrites {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.reads, self.writes)
    }
}

/// The counters and the elapsed time at one moment: the firmware's closing figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Summary {
    pub cf8: ReadsWrites,
    pub ecam: ReadsWrites,
    pub com1: ReadsWrites,
    pub debug_port: ReadsWrites,
    pub pit: ReadsWrites,
    pub fw_cfg: ReadsWrites,
    /// Port accesses besides all of the above.
    pub port: ReadsWrites,
    /// MMIO accesses besides ECAM.
    pub mmio: ReadsWrites,
    pub hypercalls: u32,
    pub tsc_ticks: u64,
    /// The TSC's rate, if it was learnt.
    pub tsc_rate: Option<TscRate>,
}

impl Summary {
    /// Snapshots the counters and the TSC.
    pub fn take() -> Summary {
        let end = rdtsc();
        let mmio = MMIO.get();
        let ecam = ECAM.get();
        Summary {
            cf8: CF8.get(),
            ecam,
            com1: COM1.get(),
            debug_port: DEBUG_PORT.get(),
            pit: PIT.get(),
            fw_cfg: FW_CFG.get(),
            port: PORT.get(),
            mmio: ReadsWrites {
                reads: mmio.reads.saturating_sub(ecam.reads),
                writes: mmio.writes.saturating_sub(ecam.writes),
                string_bytes: 0,
            },
            hypercalls: HYPERCALLS.get().writes,
            tsc_ticks: end.saturating_sub(START_TSC.load(Relaxed)),
            tsc_rate: tsc_rate(),
        }
    }

    /// Elapsed time in microseconds; 0 when the TSC rate is unknown.
    pub fn elapsed_us(&self) -> u64 {
        self.tsc_rate.map_or(0, |rate| ticks_to_us(self.tsc_ticks, rate.khz))
    }
}

impl fmt::Display for Summary {
    /// `cf8 R/W 120/31, ecam R/W 0/0, com1 R/W 0/0 (0 bytes), e9 R/W 0/52 (3012 bytes),
    /// pit R/W 6/7, fw_cfg R/W 20/30, port R/W 40/22, mmio R/W 10/5, hypercalls 31,
    /// time 1234 us (1234000 TSC ticks, TSC 1000.000 MHz, measured against the PIT)`:
    /// parsed by `cargo xtask bench`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cf8 R/W {}, ecam R/W {}, com1 R/W {} ({} bytes), e9 R/W {} ({} bytes), \
             pit R/W {}, fw_cfg R/W {}, port R/W {}, mmio R/W {}, hypercalls {}, time {} us \
             ({} TSC ticks, ",
            self.cf8,
            self.ecam,
            self.com1,
            self.com1.string_bytes,
            self.debug_port,
            self.debug_port.string_bytes,
            self.pit,
            self.fw_cfg,
            self.port,
            self.mmio,
            self.hypercalls,
            self.elapsed_us(),
            self.tsc_ticks,
        )?;
        match &self.tsc_rate {
            Some(rate) => write!(f, "{rate})"),
            None => f.write_str("TSC rate unknown)"),
        }
    }
}

/// Heap use, kept by the allocator (`rt::heap`): bytes in use now and the most ever in use,
/// which sized the heap and which the firmware logs (its `heap:` line) so a change that
/// needs more shows before it runs out.
#[derive(Debug)]
pub struct HeapUse {
    in_use: AtomicUsize,
    peak: AtomicUsize,
}

pub static HEAP: HeapUse = HeapUse { in_use: AtomicUsize::new(0), peak: AtomicUsize::new(0) };

impl HeapUse {
    /// `bytes` more in use. (The firmware allocates on the boot CPU only.)
    pub fn grow(&self, bytes: usize) {
        let now = self.in_use.fetch_add(bytes, Relaxed) + bytes;
        self.peak.fetch_max(now, Relaxed);
    }

    /// `bytes` given back.
    pub fn shrink(&self, bytes: usize) {
        self.in_use.fetch_sub(bytes, Relaxed);
    }

    /// Bytes in use now.
    pub fn in_use(&self) -> usize {
        self.in_use.load(Relaxed)
    }

    /// The most bytes ever in use at once (the high-water mark).
    pub fn peak(&self) -> usize {
        self.peak.load(Relaxed)
    }
}

impl fmt::Display for HeapUse {
    /// `at most 41 KiB in use`: the firmware's `heap:` line, last before it stops or jumps.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at most {} KiB in use", self.peak().div_ceil(1024))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::RateSource;

    #[test]
    fn heap_use_keeps_its_high_water_mark() {
        let heap = HeapUse { in_use: AtomicUsize::new(0), peak: AtomicUsize::new(0) };
        heap.grow(100);
        heap.grow(50);
        heap.shrink(120);
        heap.grow(10);
        assert_eq!((heap.in_use(), heap.peak()), (40, 150));
    }

    #[test]
    fn ports_go_to_their_own_counters() {
        let is = |port, counter: &Counter| core::ptr::eq(port_counter(port), counter);
        assert!(is(0xCF8, &CF8_PORTS) && is(0xCFE, &CF8_PORTS));
        assert!(is(0xE9, &DEBUG_PORT));
        assert!(is(0x3F8, &COM1) && is(0x3FD, &COM1));
        assert!(is(0x42, &PIT) && is(0x43, &PIT) && is(0x61, &PIT));
        assert!(is(0x510, &FW_CFG) && is(0x511, &FW_CFG) && is(0x518, &FW_CFG));
        assert!(is(0xB000, &PORT) && is(0x4D0, &PORT) && is(0x80, &PORT));
    }

    #[test]
    fn the_summary_line_is_what_xtask_parses() {
        let rw = |reads, writes, string_bytes| ReadsWrites { reads, writes, string_bytes };
        let summary = Summary {
            cf8: rw(120, 31, 0),
            ecam: rw(7, 2, 0),
            com1: rw(1, 9, 0),
            debug_port: rw(0, 52, 3012),
            pit: rw(6, 7, 0),
            fw_cfg: rw(20, 30, 0),
            port: rw(40, 22, 0),
            mmio: rw(10, 5, 0),
            hypercalls: 31,
            tsc_ticks: 2_500_000,
            tsc_rate: Some(TscRate { khz: 1_000_000, source: RateSource::Pit }),
        };
        assert_eq!(
            summary.to_string(),
            "cf8 R/W 120/31, ecam R/W 7/2, com1 R/W 1/9 (0 bytes), e9 R/W 0/52 (3012 bytes), \
             pit R/W 6/7, fw_cfg R/W 20/30, port R/W 40/22, mmio R/W 10/5, hypercalls 31, \
             time 2500 us (2500000 TSC ticks, TSC 1000.000 MHz, measured against the PIT)"
        );
        let unknown = Summary { tsc_rate: None, ..summary };
        assert_eq!(unknown.elapsed_us(), 0);
        assert!(unknown.to_string().ends_with("(2500000 TSC ticks, TSC rate unknown)"));
    }

    #[test]
    fn string_writes_count_once_with_their_bytes() {
        let counter = Counter::new();
        counter.write_string(80);
        counter.write();
        assert_eq!(counter.get(), ReadsWrites { reads: 0, writes: 2, string_bytes: 80 });
    }
}
