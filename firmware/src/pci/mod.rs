//! PCI configuration space: addresses ([`Bdf`]), the access trait ([`ConfigSpace`]) and the
//! legacy CF8/CFC mechanism ([`Cf8`]).

mod cf8;

use core::fmt;

pub use cf8::Cf8;

/// Bus, device, function: one PCI function's address (segment 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bdf {
    bus: u8,
    device: u8,
    function: u8,
}

impl Bdf {
    /// # Panics
    /// If `device` > 31 or `function` > 7 (a programming error, not input).
    pub const fn new(bus: u8, device: u8, function: u8) -> Self {
        assert!(device < 32 && function < 8);
        Bdf {
            bus,
            device,
            function,
        }
    }

    pub const fn bus(self) -> u8 {
        self.bus
    }
    pub const fn device(self) -> u8 {
        self.device
    }
    pub const fn function(self) -> u8 {
        self.function
    }
}

impl fmt::Display for Bdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02x}:{:02x}.{:x}",
            self.bus, self.device, self.function
        )
    }
}

/// Standard configuration-header offsets.
pub mod reg {
    pub const VENDOR_ID: u16 = 0x00;
    pub const DEVICE_ID: u16 = 0x02;
    pub const COMMAND: u16 = 0x04;
    pub const STATUS: u16 = 0x06;
    pub const REVISION: u16 = 0x08;
    pub const CLASS_CODE: u16 = 0x09;
    pub const HEADER_TYPE: u16 = 0x0E;
}

/// Access to configuration space. Accesses are naturally aligned; offsets above 0xFF need a
/// mechanism with extended configuration space (ECAM). Widths are native rather than
/// emulated through 32-bit read-modify-write, because that would write back RW1C status
/// bits next to the register being changed.
pub trait ConfigSpace {
    fn read8(&mut self, bdf: Bdf, offset: u16) -> u8;
    fn read16(&mut self, bdf: Bdf, offset: u16) -> u16;
    fn read32(&mut self, bdf: Bdf, offset: u16) -> u32;
    fn write8(&mut self, bdf: Bdf, offset: u16, value: u8);
    fn write16(&mut self, bdf: Bdf, offset: u16, value: u16);
    fn write32(&mut self, bdf: Bdf, offset: u16, value: u32);

    /// Vendor and device ID, or `None` when no function answers at `bdf`.
    fn ids(&mut self, bdf: Bdf) -> Option<(u16, u16)> {
        let id = self.read32(bdf, reg::VENDOR_ID);
        let vendor = id as u16;
        (vendor != 0xFFFF && vendor != 0).then_some((vendor, (id >> 16) as u16))
    }
}
