//! x86 port I/O behind a trait, so chipset and PCI code can run against simulated ports.

/// Byte, word and dword accesses to the I/O port space.
pub trait PortIo {
    fn read8(&mut self, port: u16) -> u8;
    fn read16(&mut self, port: u16) -> u16;
    fn read32(&mut self, port: u16) -> u32;
    fn write8(&mut self, port: u16, value: u8);
    fn write16(&mut self, port: u16, value: u16);
    fn write32(&mut self, port: u16, value: u32);
}

/// The machine's real I/O ports.
#[derive(Debug)]
pub struct HwPorts(());

impl HwPorts {
    /// # Safety
    /// Port accesses have side effects on devices; the caller must be the firmware itself,
    /// the sole owner of the machine's devices while it runs.
    pub const unsafe fn new() -> Self {
        HwPorts(())
    }
}

use x86_64::instructions::port::Port;

// Every access is counted (crate::stats), by port range.
// SAFETY (all methods): constructing `HwPorts` is where the caller vouched for owning the
// devices; a port access itself cannot break Rust's memory model.
impl PortIo for HwPorts {
    fn read8(&mut self, port: u16) -> u8 {
        crate::stats::port_counter(port).read();
        // SAFETY: see the impl note.
        unsafe { Port::<u8>::new(port).read() }
    }
    fn read16(&mut self, port: u16) -> u16 {
        crate::stats::port_counter(port).read();
        // SAFETY: see the impl note.
        unsafe { Port::<u16>::new(port).read() }
    }
    fn read32(&mut self, port: u16) -> u32 {
        crate::stats::port_counter(port).read();
        // SAFETY: see the impl note.
        unsafe { Port::<u32>::new(port).read() }
    }
    fn write8(&mut self, port: u16, value: u8) {
        crate::stats::port_counter(port).write();
        // SAFETY: see the impl note.
        unsafe { Port::<u8>::new(port).write(value) }
    }
    fn write16(&mut self, port: u16, value: u16) {
        crate::stats::port_counter(port).write();
        // SAFETY: see the impl note.
        unsafe { Port::<u16>::new(port).write(value) }
    }
    fn write32(&mut self, port: u16, value: u32) {
        crate::stats::port_counter(port).write();
        // SAFETY: see the impl note.
        unsafe { Port::<u32>::new(port).write(value) }
    }
}
