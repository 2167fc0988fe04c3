//! x86 port I/O behind a trait, so chipset and PCI code can run against simulated ports.

/// Byte, word and dword accesses to the I/O port space.
pub(crate) trait PortIo {
    fn read8(&mut self, port: u16) -> u8;
    fn read16(&mut self, port: u16) -> u16;
    fn read32(&mut self, port: u16) -> u32;
    fn write8(&mut self, port: u16, value: u8);
    fn write16(&mut self, port: u16, value: u16);
    fn write32(&mut self, port: u16, value: u32);

    /// Writes `bytes` to `port` one after the other, as one string instruction where the
    /// hardware has one (`rep outsb`): a hypervisor that emulates the port takes the whole
    /// string in one exit instead of one per byte.
    fn write_bytes(&mut self, port: u16, bytes: &[u8]) {
        for &byte in bytes {
            self.write8(port, byte);
        }
    }
}

/// The machine's real I/O ports.
#[derive(Clone, Debug)]
pub(crate) struct HwPorts(());

impl HwPorts {
    /// The ports, for [`super::Machine`] (which holds the promise that the firmware owns
    /// the devices) and for the fixed, side-effect-free ports of [`super::machine`].
    pub(super) const fn owned() -> Self {
        HwPorts(())
    }
}

use x86_64::instructions::port::Port;

// SAFETY: `HwPorts` comes from the `Machine`, whose taker vouched for owning the devices
// (or is one of the harmless fixed ports of `machine`); a port access itself cannot break
// Rust's memory model.
impl PortIo for HwPorts {
    fn read8(&mut self, port: u16) -> u8 {
        // SAFETY: see the impl note.
        unsafe { Port::<u8>::new(port).read() }
    }
    fn read16(&mut self, port: u16) -> u16 {
        // SAFETY: see the impl note.
        unsafe { Port::<u16>::new(port).read() }
    }
    fn read32(&mut self, port: u16) -> u32 {
        // SAFETY: see the impl note.
        unsafe { Port::<u32>::new(port).read() }
    }
    fn write8(&mut self, port: u16, value: u8) {
        // SAFETY: see the impl note.
        unsafe { Port::<u8>::new(port).write(value) }
    }
    fn write16(&mut self, port: u16, value: u16) {
        // SAFETY: see the impl note.
        unsafe { Port::<u16>::new(port).write(value) }
    }
    fn write32(&mut self, port: u16, value: u32) {
        // SAFETY: see the impl note.
        unsafe { Port::<u32>::new(port).write(value) }
    }
    fn write_bytes(&mut self, port: u16, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        // SAFETY: see the impl note. `rep outsb` reads `bytes.len()` bytes from `bytes`
        // (a live slice) upwards: the direction flag is clear, as the ABI requires between
        // calls. RSI and RCX are consumed.
        unsafe {
            core::arch::asm!(
                "rep outsb",
                in("dx") port,
                inout("rsi") bytes.as_ptr() => _,
                inout("rcx") bytes.len() => _,
                options(nostack, preserves_flags, readonly)
            )
        }
    }
}
