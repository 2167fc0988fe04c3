//! Configuration mechanism #1: an address written to port 0xCF8, data through 0xCFC-0xCFF.
//! Two port accesses per register and only the first 256 bytes of each function.

use core::sync::atomic::{AtomicU64, Ordering};

use super::{Bdf, ConfigSpace};
use crate::arch::PortIo;

const ADDRESS_PORT: u16 = 0xCF8;
const DATA_PORT: u16 = 0xCFC;

/// Config space through ports 0xCF8/0xCFC.
#[derive(Debug)]
pub struct Cf8<P: PortIo> {
    ports: P,
}

impl<P: PortIo> Cf8<P> {
    pub fn new(ports: P) -> Self {
        Cf8 { ports }
    }

    /// Selects the dword holding `offset` and returns the data port for its byte lane.
    fn select(&mut self, bdf: Bdf, offset: u16) -> u16 {
        debug_assert!(offset < 0x100, "CF8 reaches only the first 256 bytes");
        let address = 0x8000_0000
            | u32::from(bdf.bus()) << 16
            | u32::from(bdf.device()) << 11
            | u32::from(bdf.function()) << 8
            | u32::from(offset & 0xFC);
        self.ports.write32(ADDRESS_PORT, address);
        DATA_PORT + (offset & 3)
    }
}

impl<P: PortIo> ConfigSpace for Cf8<P> {
    fn read8(&mut self, bdf: Bdf, offset: u16) -> u8 {
        crate::stats::CF8.read();
        let port = self.select(bdf, offset);
        self.ports.read8(port)
    }
    fn read16(&mut self, bdf: Bdf, offset: u16) -> u16 {
        crate::stats::CF8.read();
        let port = self.select(bdf, offset);
        self.ports.read16(port)
    }
    fn read32(&mut self, bdf: Bdf, offset: u16) -> u32 {
        crate::stats::CF8.read();
        let port = self.select(bdf, offset);
        self.ports.read32(port)
    }
    fn write8(&mut self, bdf: Bdf, offset: u16, value: u8) {
        crate::stats::CF8.write();
        let port = self.select(bdf, offset);
        self.ports.write8(port, value);
    }
    fn write16(&mut self, bdf: Bdf, offset: u16, value: u16) {
        crate::stats::CF8.write();
        let port = self.select(bdf, offset);
        self.ports.write16(port, value);
    }
    fn write32(&mut self, bdf: Bdf, offset: u16, value: u32) {
        crate::stats::CF8.write();
        let port = self.select(bdf, offset);
        self.ports.write32(port, value);
    }
}

/// The machine's ports, remembering what port 0xCF8, the configuration address latch,
/// holds: a write of the address it already holds is skipped. Under Xen every write to
/// 0xCF8 is a round trip to the device model, and sizing a BAR (write, then read the same
/// register) needs the address once, not twice. For the machine's own ports only: the
/// memory of the latch is one for the whole machine, since nothing else in the guest
/// writes it while the firmware runs (the APs never touch configuration space).
#[derive(Clone, Debug)]
pub struct Cf8Latched<P: PortIo>(pub P);

/// What 0xCF8 holds (below 2^32), or [`LATCH_UNKNOWN`] before the firmware wrote it.
static LATCH: AtomicU64 = AtomicU64::new(LATCH_UNKNOWN);
const LATCH_UNKNOWN: u64 = u64::MAX;

impl<P: PortIo> PortIo for Cf8Latched<P> {
    fn read8(&mut self, port: u16) -> u8 {
        self.0.read8(port)
    }
    fn read16(&mut self, port: u16) -> u16 {
        self.0.read16(port)
    }
    fn read32(&mut self, port: u16) -> u32 {
        self.0.read32(port)
    }
    fn write8(&mut self, port: u16, value: u8) {
        self.0.write8(port, value);
    }
    fn write16(&mut self, port: u16, value: u16) {
        self.0.write16(port, value);
    }
    fn write32(&mut self, port: u16, value: u32) {
        if port == ADDRESS_PORT
            && LATCH.swap(u64::from(value), Ordering::Relaxed) == u64::from(value)
        {
            return;
        }
        self.0.write32(port, value);
    }
    fn write_bytes(&mut self, port: u16, bytes: &[u8]) {
        self.0.write_bytes(port, bytes);
    }
}
