//! The two chipsets the firmware supports, told apart by the host bridge at 00:00.0, and
//! everything that differs between them: where PCI interrupts are routed, how bus-0 slots
//! reach the PIRQ links on each platform ([`wiring`]), the Q35 MCH's ECAM window ([`q35`]),
//! and which legacy ISA devices the device model has ([`isa`]).

pub mod isa;
pub mod pm;
pub mod q35;
pub mod wiring;

pub use wiring::IntxWiring;

use core::fmt;

use crate::arch::PortIo;
use crate::pci::{Bdf, ConfigSpace};

pub const HOST_BRIDGE: Bdf = Bdf::new(0, 0, 0);
const INTEL: u16 = 0x8086;
/// 82441FX PMC (i440FX), QEMU `pc` and Xen's `xenfv`.
const I440FX_PMC: u16 = 0x1237;
/// 82G33/Q35 MCH (DRAM controller), QEMU `q35`.
const Q35_MCH: u16 = 0x29C0;

/// The machine's chipset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chipset {
    /// i440FX host bridge with a PIIX3/PIIX4 south bridge.
    I440fx,
    /// Q35 MCH with the ICH9 LPC bridge at 00:1f.0.
    Q35,
}

/// Why the chipset could not be identified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChipsetError {
    NoHostBridge,
    Unsupported { vendor: u16, device: u16 },
}

impl fmt::Display for ChipsetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChipsetError::NoHostBridge => {
                write!(f, "no PCI host bridge answers at {HOST_BRIDGE}")
            }
            ChipsetError::Unsupported { vendor, device } => write!(
                f,
                "unsupported host bridge {vendor:04x}:{device:04x} at {HOST_BRIDGE} \
                 (expected 8086:1237 i440FX or 8086:29c0 Q35)"
            ),
        }
    }
}

impl Chipset {
    /// Identifies the chipset from the host bridge's IDs.
    pub fn detect(cfg: &mut impl ConfigSpace) -> Result<(Self, u16, u16), ChipsetError> {
        let (vendor, device) = cfg.ids(HOST_BRIDGE).ok_or(ChipsetError::NoHostBridge)?;
        let chipset = match (vendor, device) {
            (INTEL, I440FX_PMC) => Chipset::I440fx,
            (INTEL, Q35_MCH) => Chipset::Q35,
            _ => return Err(ChipsetError::Unsupported { vendor, device }),
        };
        Ok((chipset, vendor, device))
    }
}

/// Edge/level control registers of the two 8259s (one bit per ISA IRQ; 1 = level).
const ELCR: [u16; 2] = [0x4D0, 0x4D1];
/// The ACPI SCI, on IRQ 9 for both chipsets (PIIX4 fixes it; ICH9's ACPI_CNTL selects 9 by
/// default) and level-triggered like the PCI interrupts.
pub const SCI_IRQ: u8 = 9;
/// PIRQ routing register bit: the link is not routed to any ISA IRQ.
const PIRQ_DISABLED: u8 = 0x80;

impl Chipset {
    /// The function holding the PIRQ routing registers: PIIX3's PCI-ISA bridge or ICH9's LPC.
    pub const fn interrupt_router(self) -> Bdf {
        match self {
            Chipset::I440fx => Bdf::new(0, 1, 0),
            Chipset::Q35 => Bdf::new(0, 0x1F, 0),
        }
    }

    /// How many PIRQ links the south bridge has: PIRQ A-D on PIIX, A-H on ICH9.
    pub const fn pirq_links(self) -> usize {
        match self {
            Chipset::I440fx => 4,
            Chipset::Q35 => 8,
        }
    }

    /// Config offset of link `link`'s routing register (PIRQA-D at 0x60, ICH9's E-H at 0x68):
    /// also the link's name in `$PIR` slot entries.
    pub const fn pirq_register(link: usize) -> u16 {
        if link < 4 { 0x60 + link as u16 } else { 0x68 + (link as u16 - 4) }
    }

    /// Routes the links `wiring` uses to its IRQs, disables the router's other links
    /// (ICH9's PIRQ E-H under Xen), and makes exactly those IRQs (and the SCI)
    /// level-triggered in the ELCR: PCI INTx is level-triggered.
    pub fn route_pirqs(
        self,
        wiring: IntxWiring,
        cfg: &mut impl ConfigSpace,
        ports: &mut impl PortIo,
    ) {
        let router = self.interrupt_router();
        let mut level = 1u16 << SCI_IRQ;
        let mut routes = [PIRQ_DISABLED; 8];
        for (link, route) in routes.iter_mut().enumerate().take(self.pirq_links()) {
            if let Some(&irq) = wiring.link_irqs().get(link) {
                level |= 1 << irq;
                *route = irq & !PIRQ_DISABLED;
            }
        }
        // Four routing registers in a row, written as one dword (PIRQ A-D, ICH9's E-H).
        for (first, group) in (0..self.pirq_links()).step_by(4).zip(routes.chunks(4)) {
            let dword = u32::from_le_bytes([group[0], group[1], group[2], group[3]]);
            cfg.write32(router, Self::pirq_register(first), dword);
        }
        ports.write8(ELCR[0], level as u8);
        ports.write8(ELCR[1], (level >> 8) as u8);
    }
}

impl Chipset {
    /// How QEMU describes the machine (its SMBIOS product name).
    pub const fn qemu_description(self) -> &'static str {
        match self {
            Chipset::I440fx => "Standard PC (i440FX + PIIX, 1996)",
            Chipset::Q35 => "Standard PC (Q35 + ICH9, 2009)",
        }
    }
}

impl fmt::Display for Chipset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Chipset::I440fx => "i440FX/PIIX",
            Chipset::Q35 => "Q35/ICH9",
        })
    }
}

#[cfg(test)]
mod tests {
    use alloc::collections::BTreeMap;

    use super::*;

    /// Config space and ports that remember what was written.
    #[derive(Default)]
    struct Recorder {
        config: BTreeMap<(Bdf, u16), u32>,
        ports: BTreeMap<u16, u32>,
    }

    impl ConfigSpace for Recorder {
        fn read8(&mut self, bdf: Bdf, offset: u16) -> u8 {
            ConfigSpace::read32(self, bdf, offset) as u8
        }
        fn read16(&mut self, bdf: Bdf, offset: u16) -> u16 {
            ConfigSpace::read32(self, bdf, offset) as u16
        }
        fn read32(&mut self, bdf: Bdf, offset: u16) -> u32 {
            self.config.get(&(bdf, offset)).copied().unwrap_or(u32::MAX)
        }
        fn write8(&mut self, bdf: Bdf, offset: u16, value: u8) {
            self.config.insert((bdf, offset), value.into());
        }
        fn write16(&mut self, bdf: Bdf, offset: u16, value: u16) {
            self.config.insert((bdf, offset), value.into());
        }
        fn write32(&mut self, bdf: Bdf, offset: u16, value: u32) {
            self.config.insert((bdf, offset), value);
        }
    }

    impl PortIo for Recorder {
        fn read8(&mut self, port: u16) -> u8 {
            self.ports.get(&port).copied().unwrap_or(0xFF) as u8
        }
        fn read16(&mut self, port: u16) -> u16 {
            self.ports.get(&port).copied().unwrap_or(0xFFFF) as u16
        }
        fn read32(&mut self, port: u16) -> u32 {
            self.ports.get(&port).copied().unwrap_or(u32::MAX)
        }
        fn write8(&mut self, port: u16, value: u8) {
            self.ports.insert(port, value.into());
        }
        fn write16(&mut self, port: u16, value: u16) {
            self.ports.insert(port, value.into());
        }
        fn write32(&mut self, port: u16, value: u32) {
            self.ports.insert(port, value);
        }
    }

    #[test]
    fn detects_by_host_bridge_id() {
        let mut cfg = Recorder::default();
        assert_eq!(Chipset::detect(&mut cfg), Err(ChipsetError::NoHostBridge));
        ConfigSpace::write32(&mut cfg, HOST_BRIDGE, 0, 0x1237_8086);
        assert_eq!(Chipset::detect(&mut cfg), Ok((Chipset::I440fx, 0x8086, 0x1237)));
        ConfigSpace::write32(&mut cfg, HOST_BRIDGE, 0, 0x29C0_8086);
        assert_eq!(Chipset::detect(&mut cfg), Ok((Chipset::Q35, 0x8086, 0x29C0)));
        ConfigSpace::write32(&mut cfg, HOST_BRIDGE, 0, 0x0001_1022);
        let err = Chipset::detect(&mut cfg).unwrap_err();
        assert_eq!(err, ChipsetError::Unsupported { vendor: 0x1022, device: 1 });
        assert!(alloc::format!("{err}").contains("unsupported host bridge 1022:0001"));
    }

    #[test]
    fn routes_every_link_the_wiring_uses_and_sets_level_triggering() {
        const REGISTERS: [u16; 8] = [0x60, 0x61, 0x62, 0x63, 0x68, 0x69, 0x6A, 0x6B];
        for (chipset, under_xen) in [
            (Chipset::I440fx, false),
            (Chipset::Q35, false),
            (Chipset::I440fx, true),
            (Chipset::Q35, true),
        ] {
            let wiring = IntxWiring::new(chipset, under_xen);
            let mut cfg = Recorder::default();
            let mut ports = Recorder::default();
            chipset.route_pirqs(wiring, &mut cfg, &mut ports);
            let router = chipset.interrupt_router();
            let byte = |register: u16| {
                let dword = cfg.config[&(router, register & !3)];
                (dword >> (8 * (register & 3))) as u8
            };
            for (link, register) in REGISTERS.iter().enumerate().take(chipset.pirq_links()) {
                let expected = wiring.link_irqs().get(link).map_or(0x80, |&irq| irq);
                assert_eq!(byte(*register), expected, "{wiring:?} link {link}");
            }
            assert_eq!(cfg.config.len(), chipset.pirq_links() / 4, "one dword per 4 links");
            // IRQ 5, 9 (SCI), 10 and 11 level; everything else (timer, cascade...) edge.
            assert_eq!(ports.ports[&0x4D0], 1 << 5);
            assert_eq!(ports.ports[&0x4D1], (1 << (9 - 8)) | (1 << (10 - 8)) | (1 << (11 - 8)));
        }
    }
}
