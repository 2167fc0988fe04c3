//! The console: log lines to the 0xE9 debug port, to COM1 (a 16550), or to both.
//!
//! Where lines go by default follows who emulates what:
//! - under Xen, port 0xE9 only, as hvmloader does: Xen itself prints what a guest writes
//!   there (its `(dN)` lines), while COM1, whenever xl.cfg has `serial=`, is QEMU's 16550 in
//!   dom0, a round trip to the device model per register access;
//! - under QEMU, COM1 (what `-serial` shows and the tests read) and 0xE9 when a debugcon
//!   answers there.
//!
//! `console=e9|com1|both` on the firmware's command line (under Xen, the xenstore key
//! `hvmloader/cmdline`: [`crate::platform::xen::cmdline_key`]) chooses otherwise. Lines
//! logged before that choice is known (the banner; under Xen everything before the key is
//! read) are kept and replayed to a sink the choice turns on, so COM1 shows the whole log
//! when it is asked for.
//!
//! Lines look like `hvmrs INFO  pci: 00:02.0 ...`: a fixed prefix to grep for, the level, the
//! room that logged it. Each line is formatted into a buffer and written with as few
//! accesses as the sink allows: one string write to 0xE9, and to COM1 one status read and
//! one string write per 16 bytes ([`uart`]).

pub(crate) mod uart;

use core::fmt::{self, Write};
use core::str::FromStr;

use log::{Log, Metadata, Record};
use spin::Mutex;

use crate::arch::{DebugPort, HwPorts, Machine, PortIo};
use crate::stats::Counted;
use uart::Uart;

/// Every console line starts with this.
pub(crate) const LINE_PREFIX: &str = "hvmrs";

const COM1: u16 = 0x3F8;
/// Bochs/QEMU debugcon answers reads of its port with the port number.
const DEBUG_PORT_MAGIC: u8 = 0xE9;
/// Bytes of early log kept for a sink turned on later: a Xen boot logs about 480 before
/// its xenstore keys are read (QEMU 220). Four times that leaves room for warnings; what
/// does not fit is counted and reported.
const EARLY_LOG_BYTES: usize = 2048;

/// Which sinks the log goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConsoleChoice {
    /// Port 0xE9 only (`e9`).
    DebugPort,
    /// COM1 only (`com1`).
    Com1,
    /// Both (`both`).
    Both,
}

impl ConsoleChoice {
    /// The accepted values, for error messages.
    pub const VALUES: &str = "e9, com1 or both";

    fn debug_port(self) -> bool {
        matches!(self, ConsoleChoice::DebugPort | ConsoleChoice::Both)
    }

    fn com1(self) -> bool {
        matches!(self, ConsoleChoice::Com1 | ConsoleChoice::Both)
    }
}

impl FromStr for ConsoleChoice {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "e9" => Ok(ConsoleChoice::DebugPort),
            "com1" => Ok(ConsoleChoice::Com1),
            "both" => Ok(ConsoleChoice::Both),
            _ => Err(()),
        }
    }
}

/// Lines logged before the console was configured, for sinks turned on later.
struct EarlyLog {
    bytes: [u8; EARLY_LOG_BYTES],
    len: usize,
    /// Bytes that did not fit.
    lost: usize,
    /// Set once the console is configured. (Negative, so that [`SINKS`] is all zeroes and
    /// takes no bytes in the image: it lives in .bss.)
    stopped: bool,
}

impl EarlyLog {
    fn record(&mut self, bytes: &[u8]) {
        if self.stopped {
            return;
        }
        let n = bytes.len().min(EARLY_LOG_BYTES - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
        self.lost += bytes.len() - n;
    }
}

struct Sinks {
    /// The machine's ports, from [`init`] on: COM1 is opened on them.
    ports: Option<Counted<HwPorts>>,
    debug_port: bool,
    com1: Option<Uart<Counted<HwPorts>>>,
    early: EarlyLog,
}

impl Sinks {
    /// Writes `bytes` (text with `\n` line ends) to every sink that is on.
    fn emit(&mut self, bytes: &[u8]) {
        if self.debug_port {
            write_debug_port(bytes);
        }
        if let Some(uart) = self.com1.as_mut()
            && write_crlf(uart, bytes).is_err()
        {
            // A wedged UART would cost 65536 status reads per line: give it up, and say so
            // where the log still goes.
            self.com1 = None;
            if self.debug_port {
                let note = b"hvmrs WARN  console: COM1 stopped taking bytes; it gets no more\n";
                write_debug_port(note);
            }
        }
        self.early.record(bytes);
    }
}

/// Terminals want CR LF; log readers strip the CR.
fn write_crlf<P: PortIo>(uart: &mut Uart<P>, bytes: &[u8]) -> Result<(), uart::TransmitterStuck> {
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            uart.write(b"\r\n")?;
        }
        uart.write(line)?;
    }
    Ok(())
}

/// Formats into a buffer and hands it to the sinks when full and at the end, so a line is
/// written in one or two pieces.
struct LineWriter<'s> {
    sinks: &'s mut Sinks,
    buf: [u8; 160],
    len: usize,
}

impl<'s> LineWriter<'s> {
    fn new(sinks: &'s mut Sinks) -> Self {
        LineWriter { sinks, buf: [0; 160], len: 0 }
    }

    fn flush(&mut self) {
        if self.len > 0 {
            self.sinks.emit(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

impl Write for LineWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &byte in s.as_bytes() {
            if self.len == self.buf.len() {
                self.flush();
            }
            self.buf[self.len] = byte;
            self.len += 1;
        }
        Ok(())
    }
}

static SINKS: Mutex<Sinks> = Mutex::new(Sinks {
    ports: None,
    debug_port: false,
    com1: None,
    early: EarlyLog { bytes: [0; EARLY_LOG_BYTES], len: 0, lost: 0, stopped: false },
});

struct Logger;

static LOGGER: Logger = Logger;

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let room = record.target().strip_prefix("hvmloader::").unwrap_or(record.target());
        // A module path's first segment; a `char` pattern, since a `str` one brings in the
        // two-way substring search (0.5 KB) for this one line.
        let room = room.split(':').next().unwrap_or(room);
        let mut sinks = SINKS.lock();
        let mut line = LineWriter::new(&mut sinks);
        let _ = writeln!(line, "{LINE_PREFIX} {:<5} {room}: {}", record.level(), record.args());
        line.flush();
    }

    fn flush(&self) {}
}

/// Where the log goes, as [`init`] or [`configure`] left it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConsoleStatus {
    pub debug_port: bool,
    /// COM1 is on; `Some(true)` with its FIFO in use.
    pub com1: Option<bool>,
}

impl fmt::Display for ConsoleStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.debug_port, self.com1) {
            (true, None) => f.write_str("0xe9"),
            (false, Some(_)) => f.write_str("COM1"),
            (true, Some(_)) => f.write_str("0xe9 and COM1"),
            (false, None) => f.write_str("nowhere"),
        }?;
        match self.com1 {
            Some(true) => f.write_str(" (16550A FIFO)"),
            Some(false) => f.write_str(" (no FIFO)"),
            None => Ok(()),
        }
    }
}

fn status(sinks: &Sinks) -> ConsoleStatus {
    ConsoleStatus { debug_port: sinks.debug_port, com1: sinks.com1.as_ref().map(Uart::has_fifo) }
}

/// COM1, set up, if a UART answers there (on the machine's ports, once [`init`] has them).
/// Writes `bytes` to 0xE9, counted like the machine's other port accesses.
fn write_debug_port(bytes: &[u8]) {
    if !bytes.is_empty() {
        crate::stats::port_counter(DebugPort::PORT).write_string(bytes.len());
    }
    DebugPort.write_bytes(bytes);
}

fn open_com1(ports: Option<&Counted<HwPorts>>) -> Option<Uart<Counted<HwPorts>>> {
    Uart::init(ports?.clone(), COM1)
}

/// Sets up the platform's default sinks (see the module documentation) and installs the
/// logger at `info`. `under_xen`: 0xE9 only, without probing (Xen's 0xE9 handler takes
/// writes only) and without touching COM1.
pub(crate) fn init(machine: &Machine, under_xen: bool) -> ConsoleStatus {
    let mut sinks = SINKS.lock();
    sinks.ports = Some(Counted(machine.ports()));
    if under_xen {
        sinks.debug_port = true;
    } else {
        EMERGENCY_PORTS.call_once(|| Counted(machine.ports()));
        crate::stats::port_counter(DebugPort::PORT).read();
        sinks.debug_port = DebugPort.read8() == DEBUG_PORT_MAGIC;
        sinks.com1 = open_com1(sinks.ports.as_ref());
    }
    let status = status(&sinks);
    drop(sinks);
    // A second call (there is none) would keep the first logger, which is the same one.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Info);
    status
}

/// Applies the console choice once it is known (`None`: keep the platform's default), and
/// replays the early log to each sink it turns on. Later calls change nothing. When COM1
/// is asked for and no UART answers, 0xE9 stays on so the log still goes somewhere.
pub(crate) fn configure(choice: Option<ConsoleChoice>) -> ConsoleStatus {
    let mut sinks = SINKS.lock();
    if sinks.early.stopped {
        return status(&sinks);
    }
    sinks.early.stopped = true;
    let Some(choice) = choice else { return status(&sinks) };
    let had_debug_port = sinks.debug_port;
    let had_com1 = sinks.com1.is_some();
    if choice.com1() && !had_com1 {
        sinks.com1 = open_com1(sinks.ports.as_ref());
    }
    if !choice.com1() {
        sinks.com1 = None;
    }
    sinks.debug_port = choice.debug_port() || sinks.com1.is_none();
    let Sinks { debug_port, com1, early, .. } = &mut *sinks;
    let kept = &early.bytes[..early.len];
    let mut replayed = false;
    if *debug_port && !had_debug_port {
        write_debug_port(kept);
        replayed = true;
    }
    if let Some(uart) = com1.as_mut().filter(|_| !had_com1) {
        let _ = write_crlf(uart, kept);
        replayed = true;
    }
    let lost = early.lost;
    let now = status(&sinks);
    drop(sinks);
    if replayed && lost > 0 {
        log::warn!("{lost} bytes of the early log were not kept for the sinks turned on since");
    }
    now
}

/// The ports the console was opened on, for [`emergency`] lines while the sinks are locked
/// (not under Xen, where COM1 is left alone).
static EMERGENCY_PORTS: spin::Once<Counted<HwPorts>> = spin::Once::new();

/// Prints one line from a context that may have interrupted the console (an exception or a
/// panic inside a log call). If the sinks are locked, their holder was interrupted and never
/// resumes (the firmware is single-threaded and about to stop): the line then goes to 0xE9
/// and to COM1 opened afresh, not through the locked sinks.
pub fn emergency(args: fmt::Arguments<'_>) {
    let Some(mut sinks) = SINKS.try_lock() else {
        let mut line = InterruptedConsole { com1: open_com1(EMERGENCY_PORTS.get()) };
        let _ = writeln!(line, "{LINE_PREFIX} ERROR {args}");
        return;
    };
    if sinks.com1.is_none() && !sinks.debug_port {
        // The console was never set up: try the debug port, it needs no setup.
        sinks.debug_port = true;
    }
    let mut line = LineWriter::new(&mut sinks);
    let _ = writeln!(line, "{LINE_PREFIX} ERROR {args}");
    line.flush();
}

/// The console's devices written directly, for a line while the sinks are locked.
struct InterruptedConsole {
    com1: Option<Uart<Counted<HwPorts>>>,
}

impl Write for InterruptedConsole {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_debug_port(s.as_bytes());
        if let Some(uart) = self.com1.as_mut() {
            // A stuck UART loses the line there; 0xE9 has it.
            let _ = write_crlf(uart, s.as_bytes());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_and_say_which_sinks() {
        assert_eq!("e9".parse(), Ok(ConsoleChoice::DebugPort));
        assert_eq!("com1".parse(), Ok(ConsoleChoice::Com1));
        assert_eq!("both".parse(), Ok(ConsoleChoice::Both));
        assert_eq!("serial".parse::<ConsoleChoice>(), Err(()));
        assert!(ConsoleChoice::Both.debug_port() && ConsoleChoice::Both.com1());
        assert!(!ConsoleChoice::DebugPort.com1() && !ConsoleChoice::Com1.debug_port());
    }

    #[test]
    fn the_early_log_keeps_what_fits_and_counts_the_rest() {
        let mut early = EarlyLog { bytes: [0; EARLY_LOG_BYTES], len: 0, lost: 0, stopped: false };
        early.record(&[b'a'; EARLY_LOG_BYTES - 2]);
        early.record(b"bcde");
        assert_eq!((early.len, early.lost), (EARLY_LOG_BYTES, 2));
        assert_eq!(&early.bytes[EARLY_LOG_BYTES - 2..], b"bc");
        early.stopped = true;
        early.record(b"f");
        assert_eq!(early.lost, 2);
    }

    #[test]
    fn status_names_the_sinks() {
        let s = |debug_port, com1| ConsoleStatus { debug_port, com1 }.to_string();
        assert_eq!(s(true, None), "0xe9");
        assert_eq!(s(false, Some(true)), "COM1 (16550A FIFO)");
        assert_eq!(s(true, Some(false)), "0xe9 and COM1 (no FIFO)");
    }
}
