//! PCI Express enhanced configuration access (ECAM, "MMCONFIG"): every function's 4 KiB of
//! configuration space mapped in memory, one memory access per register instead of the
//! two port accesses of CF8/CFC. Q35 decodes it where the MCH's PCIEXBAR says.

use super::{Bdf, ConfigSpace};
use crate::arch::Mmio;

/// Config space through an ECAM window covering buses `0..buses`.
#[derive(Debug)]
pub struct Ecam<W: Mmio> {
    window: W,
    buses: u16,
}

impl<W: Mmio> Ecam<W> {
    /// `window` must start at the ECAM base and be `buses` MiB long (1 MiB per bus).
    pub fn new(window: W, buses: u16) -> Self {
        Ecam { window, buses }
    }

    pub fn base(&self) -> u64 {
        self.window.base()
    }

    pub fn buses(&self) -> u16 {
        self.buses
    }

    /// Whether the window reaches `bdf`'s bus.
    pub fn covers(&self, bdf: Bdf) -> bool {
        u16::from(bdf.bus()) < self.buses
    }

    fn offset(&self, bdf: Bdf, offset: u16) -> u64 {
        assert!(u16::from(bdf.bus()) < self.buses, "bus {} outside the ECAM window", bdf.bus());
        assert!(offset < 0x1000, "config offset {offset:#x} beyond 4 KiB");
        u64::from(bdf.bus()) << 20
            | u64::from(bdf.device()) << 15
            | u64::from(bdf.function()) << 12
            | u64::from(offset)
    }
}

impl<W: Mmio> ConfigSpace for Ecam<W> {
    fn read8(&mut self, bdf: Bdf, offset: u16) -> u8 {
        crate::stats::ECAM.read();
        self.window.read8(self.offset(bdf, offset))
    }
    fn read16(&mut self, bdf: Bdf, offset: u16) -> u16 {
        crate::stats::ECAM.read();
        self.window.read16(self.offset(bdf, offset))
    }
    fn read32(&mut self, bdf: Bdf, offset: u16) -> u32 {
        crate::stats::ECAM.read();
        self.window.read32(self.offset(bdf, offset))
    }
    fn write8(&mut self, bdf: Bdf, offset: u16, value: u8) {
        crate::stats::ECAM.write();
        let at = self.offset(bdf, offset);
        self.window.write8(at, value);
    }
    fn write16(&mut self, bdf: Bdf, offset: u16, value: u16) {
        crate::stats::ECAM.write();
        let at = self.offset(bdf, offset);
        self.window.write16(at, value);
    }
    fn write32(&mut self, bdf: Bdf, offset: u16, value: u32) {
        crate::stats::ECAM.write();
        let at = self.offset(bdf, offset);
        self.window.write32(at, value);
    }
}
