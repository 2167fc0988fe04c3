//! Q35 MCH registers: PCIEXBAR, where the MCH decodes the ECAM window.

use core::fmt;

use super::HOST_BRIDGE;
use crate::pci::ConfigSpace;

/// PCIEXBAR, a 64-bit register of the MCH (Q35 datasheet 5.1.13; QEMU hw/pci-host/q35.c).
const PCIEXBAR: u16 = 0x60;
const PCIEXBAR_ENABLE: u32 = 1 << 0;
const PCIEXBAR_LENGTH_SHIFT: u32 = 1;

/// A PCIe ECAM window: 1 MiB of configuration space per bus, starting at bus 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EcamArea {
    pub base: u64,
    pub buses: u16,
}

impl EcamArea {
    pub fn size(&self) -> u64 {
        u64::from(self.buses) << 20
    }

    pub fn end(&self) -> u64 {
        self.base + self.size()
    }

    /// PCIEXBAR's LENGTH encoding; the MCH decodes only these three sizes.
    fn length_code(&self) -> Option<u32> {
        match self.buses {
            256 => Some(0),
            128 => Some(1),
            64 => Some(2),
            _ => None,
        }
    }

    /// The smallest window the MCH can decode that keeps at least as many spare buses as
    /// are in use (a doubling margin for hot-added bridges and switches): 64 buses for up to
    /// 32 in use, which covers QEMU's q35 with a few dozen root ports, then 128 and 256.
    pub fn buses_for(in_use: u16) -> u16 {
        match in_use {
            0..=32 => 64,
            33..=64 => 128,
            _ => 256,
        }
    }
}

impl fmt::Display for EcamArea {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:#x}-{:#x}] for buses 00-{:02x}", self.base, self.end() - 1, self.buses - 1)
    }
}

/// Moves the MCH's ECAM window to `area` and enables it, through `cfg` (CF8: ECAM itself
/// is what is being moved), in three writes: the low dword with the new base and length but
/// disabled (so the window never decodes at a half-written address; SeaBIOS may have
/// enabled it at 0xB0000000), the high dword, then the low dword enabled.
pub fn set_pciexbar(cfg: &mut impl ConfigSpace, area: EcamArea) {
    let length = area.length_code().expect("EcamArea sizes are 64, 128 or 256 buses");
    assert!(area.base.is_multiple_of(area.size()), "ECAM base must be aligned to its size");
    let low = area.base as u32 | length << PCIEXBAR_LENGTH_SHIFT;
    cfg.write32(HOST_BRIDGE, PCIEXBAR, low);
    cfg.write32(HOST_BRIDGE, PCIEXBAR + 4, (area.base >> 32) as u32);
    cfg.write32(HOST_BRIDGE, PCIEXBAR, low | PCIEXBAR_ENABLE);
}

/// The ECAM window the MCH decodes now, if enabled.
pub fn pciexbar(cfg: &mut impl ConfigSpace) -> Option<EcamArea> {
    let low = cfg.read32(HOST_BRIDGE, PCIEXBAR);
    let high = cfg.read32(HOST_BRIDGE, PCIEXBAR + 4);
    if low & PCIEXBAR_ENABLE == 0 {
        return None;
    }
    let buses: u16 = match (low >> PCIEXBAR_LENGTH_SHIFT) & 3 {
        0 => 256,
        1 => 128,
        2 => 64,
        _ => return None,
    };
    // Base bits below the window size are reserved (Q35 datasheet): mask by size.
    let size = u64::from(buses) << 20;
    let base = (u64::from(high) << 32 | u64::from(low)) & !(size - 1) & 0xF_FFFF_FFFF;
    Some(EcamArea { base, buses })
}

#[cfg(test)]
mod tests {
    use alloc::collections::BTreeMap;

    use super::*;
    use crate::pci::Bdf;

    /// The MCH's PCIEXBAR as a plain 64-bit register, recording the order of writes.
    #[derive(Default)]
    struct Mch {
        regs: BTreeMap<u16, u32>,
        writes: alloc::vec::Vec<(u16, u32)>,
    }

    impl ConfigSpace for Mch {
        fn read8(&mut self, bdf: Bdf, offset: u16) -> u8 {
            self.read32(bdf, offset) as u8
        }
        fn read16(&mut self, bdf: Bdf, offset: u16) -> u16 {
            self.read32(bdf, offset) as u16
        }
        fn read32(&mut self, _: Bdf, offset: u16) -> u32 {
            self.regs.get(&offset).copied().unwrap_or(0)
        }
        fn write8(&mut self, bdf: Bdf, offset: u16, value: u8) {
            self.write32(bdf, offset, value.into());
        }
        fn write16(&mut self, bdf: Bdf, offset: u16, value: u16) {
            self.write32(bdf, offset, value.into());
        }
        fn write32(&mut self, bdf: Bdf, offset: u16, value: u32) {
            assert_eq!(bdf, HOST_BRIDGE);
            self.regs.insert(offset, value);
            self.writes.push((offset, value));
        }
    }

    #[test]
    fn moves_the_window_disabled_first() {
        let mut mch = Mch::default();
        mch.regs.insert(PCIEXBAR, 0xB000_0001); // SeaBIOS: 256 MiB at 0xB0000000, enabled
        let area = EcamArea { base: 0xF000_0000, buses: 64 };
        set_pciexbar(&mut mch, area);
        assert_eq!(mch.writes[0], (PCIEXBAR, 0xF000_0004), "disabled while it moves");
        assert_eq!(mch.writes[1], (PCIEXBAR + 4, 0));
        assert_eq!(mch.writes[2], (PCIEXBAR, 0xF000_0005));
        assert_eq!(mch.writes.len(), 3);
        assert_eq!(pciexbar(&mut mch), Some(area));
    }

    #[test]
    fn reads_back_sizes_and_high_bases() {
        let mut mch = Mch::default();
        assert_eq!(pciexbar(&mut mch), None);
        let area = EcamArea { base: 0x8_0000_0000, buses: 256 };
        set_pciexbar(&mut mch, area);
        assert_eq!(pciexbar(&mut mch), Some(area));
        let area = EcamArea { base: 0xE000_0000, buses: 128 };
        set_pciexbar(&mut mch, area);
        assert_eq!(pciexbar(&mut mch), Some(area));
        assert_eq!(area.size(), 128 << 20);
        assert_eq!(alloc::format!("{area}"), "[0xe0000000-0xe7ffffff] for buses 00-7f");
    }

    #[test]
    fn bus_count_keeps_a_doubling_margin() {
        assert_eq!(EcamArea::buses_for(1), 64);
        assert_eq!(EcamArea::buses_for(32), 64);
        assert_eq!(EcamArea::buses_for(33), 128);
        assert_eq!(EcamArea::buses_for(65), 256);
        assert_eq!(EcamArea::buses_for(256), 256);
    }
}
