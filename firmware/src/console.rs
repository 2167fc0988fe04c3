//! The console: every log line goes to COM1 (16550) and, when present, the 0xE9 debug port
//! (QEMU's debugcon, Xen's HVM console that shows up as `(dN)` lines).
//!
//! Lines look like `hvmrs INFO  pci: 00:02.0 ...`: a fixed prefix to grep for, the level, the
//! room that logged it. The level is `info` unless the command line says `loglevel=...`.

use core::fmt::{self, Write};

use log::{LevelFilter, Log, Metadata, Record};
use spin::Mutex;
use uart_16550::backend::PioBackend;
use uart_16550::{Config, Uart16550};

use crate::arch::{HwPorts, PortIo};

/// Every console line starts with this.
pub const LINE_PREFIX: &str = "hvmrs";

const COM1: u16 = 0x3F8;
const DEBUG_PORT: u16 = 0xE9;
/// Bochs/QEMU debugcon answers reads of its port with the port number.
const DEBUG_PORT_MAGIC: u8 = 0xE9;

struct Sinks {
    com1: Option<Uart16550<PioBackend>>,
    debug_port: bool,
}

impl Write for Sinks {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &byte in s.as_bytes() {
            if let Some(uart) = self.com1.as_mut() {
                // Terminals want CR LF; log readers strip the CR.
                if byte == b'\n' {
                    uart.send_bytes_exact(b"\r");
                }
                uart.send_bytes_exact(&[byte]);
            }
            if self.debug_port {
                // SAFETY: the debug port has no side effect beyond printing.
                unsafe { HwPorts::new() }.write8(DEBUG_PORT, byte);
            }
        }
        Ok(())
    }
}

static SINKS: Mutex<Sinks> = Mutex::new(Sinks { com1: None, debug_port: false });

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
        let room = room.split("::").next().unwrap_or(room);
        let mut sinks = SINKS.lock();
        let _ = writeln!(sinks, "{LINE_PREFIX} {:<5} {room}: {}", record.level(), record.args());
    }

    fn flush(&self) {}
}

/// What [`init`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsoleStatus {
    pub com1: bool,
    pub debug_port: bool,
}

/// Sets up COM1 and the debug port and installs the logger at `info`.
/// `force_debug_port` is for Xen, whose 0xE9 handler takes writes only.
pub fn init(force_debug_port: bool) -> ConsoleStatus {
    // SAFETY: the firmware owns the machine's devices during its run.
    let mut ports = unsafe { HwPorts::new() };
    let debug_port = force_debug_port || ports.read8(DEBUG_PORT) == DEBUG_PORT_MAGIC;
    // SAFETY: COM1's eight registers are ours; nothing else drives the UART.
    let com1 = unsafe { Uart16550::new_port(COM1) }
        .ok()
        .and_then(|mut uart| uart.init(Config::default()).ok().map(|()| uart));
    let status = ConsoleStatus { com1: com1.is_some(), debug_port };
    *SINKS.lock() = Sinks { com1, debug_port };
    // A second call (there is none) would keep the first logger, which is the same one.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(LevelFilter::Info);
    status
}

/// Prints one line from a context that may have interrupted the console (an exception or a
/// panic inside a log call). The lock is broken if held: the firmware is single-threaded and
/// about to stop, so whoever held it will never run again.
pub fn emergency(args: fmt::Arguments<'_>) {
    if SINKS.is_locked() {
        // SAFETY: single-threaded firmware; the holder was interrupted and never resumes.
        unsafe { SINKS.force_unlock() };
    }
    let mut sinks = SINKS.lock();
    if sinks.com1.is_none() && !sinks.debug_port {
        // The console was never set up: try the debug port, it needs no setup.
        sinks.debug_port = true;
    }
    let _ = writeln!(sinks, "{LINE_PREFIX} ERROR {args}");
}
