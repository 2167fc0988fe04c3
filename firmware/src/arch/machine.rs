//! The machine, taken once.
//!
//! The firmware owns the machine's devices and runs on the entry code's identity map of the
//! first 4 GiB from its entry to the hand-off. That promise is made once, where the runtime
//! takes the [`Machine`]; code that touches ports or reads physical memory borrows it and
//! gets its handles from it, instead of repeating the promise at each call site.

use core::sync::atomic::{AtomicBool, Ordering};

use super::{HwPorts, IdentityMapped, PortIo};

/// The one token for the machine's devices and its identity-mapped memory.
#[derive(Debug)]
pub struct Machine(());

/// Set once the machine has been taken: a second token would make the promise twice.
static TAKEN: AtomicBool = AtomicBool::new(false);

impl Machine {
    /// Takes the machine. Panics on a second call.
    ///
    /// # Safety
    /// Called by the entry code, on the boot CPU, once the boot page tables identity-map
    /// the first 4 GiB: from then on until the hand-off, the firmware is the sole owner of
    /// the machine's devices and those tables stay current.
    pub unsafe fn take() -> Self {
        assert!(!TAKEN.swap(true, Ordering::Relaxed), "the machine is taken once");
        Machine(())
    }

    /// The machine's I/O ports.
    pub fn ports(&self) -> HwPorts {
        HwPorts::owned()
    }

    /// Physical memory through the identity map, for reads.
    pub fn memory(&self) -> IdentityMapped {
        IdentityMapped::mapped()
    }
}

/// Port 0xE9, the debug console of Bochs, QEMU (`-debugcon`) and Xen: writes print and do
/// nothing else, reads only tell whether it is there, so it needs no token and works before
/// the machine is taken (a panic's last line).
#[derive(Debug)]
pub struct DebugPort;

impl DebugPort {
    pub const PORT: u16 = 0xE9;

    pub fn write_bytes(&mut self, bytes: &[u8]) {
        HwPorts::owned().write_bytes(Self::PORT, bytes);
    }

    pub fn read8(&mut self) -> u8 {
        HwPorts::owned().read8(Self::PORT)
    }
}

/// Port of QEMU's `isa-debug-exit` device in our test and run configurations
/// (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`). Writing `v` makes QEMU exit with
/// status `(v << 1) | 1`; elsewhere the write goes nowhere.
pub const DEBUG_EXIT_PORT: u16 = 0xF4;

/// Writes `code` to [`DEBUG_EXIT_PORT`]: the last thing the firmware does, so it needs no
/// token (the panic handler has none).
pub fn debug_exit(code: u8) {
    HwPorts::owned().write8(DEBUG_EXIT_PORT, code);
}
