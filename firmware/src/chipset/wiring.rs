//! Who wires PCI INTx to the interrupt controllers, and how.
//!
//! The chipset's PIRQ router is only half of the story: which PIRQ link a bus-0 slot's pin
//! drives, and which I/O APIC input it reaches, is decided by whoever emulates the wires.
//!
//! - Under plain QEMU the device model's chipset does. QEMU's PIIX3 rotates bus-0 slots
//!   over PIRQ A-D starting one slot early (slot 1 INTA drives PIRQA, `pci_slot_get_pirq`
//!   in hw/isa/piix3.c), and every link's ISA IRQ is also the I/O APIC input it drives.
//!   QEMU's ICH9 wires its own devices (slots 25-31 but 30) to PIRQ A-D and rotates every
//!   other slot over PIRQ E-H; PIRQ A-H also drive I/O APIC inputs 16-23. QEMU's own tables
//!   describe both as level-triggered, active-high inputs.
//! - Under Xen, Xen's own emulation does, whatever the chipset: the device model reports
//!   (slot, pin) and Xen asserts both PIRQ link `(slot + pin) mod 4` (the ISA IRQ the PIIX3
//!   or ICH9 routing register of that link names, which the device model forwards to Xen)
//!   and a fixed I/O APIC input 16-47 per slot and pin. Xen has four links, so ICH9's PIRQ
//!   E-H stay disabled. hvmloader describes the inputs as level-triggered, active-low.
//!
//! The DSDTs implement the same rules in their `_PRT` (selected by the SSDT's `XENI`), and
//! their host tests compare every slot and pin with [`IntxWiring`].

use libacpi::tables::Polarity;

use super::Chipset;
use crate::pci::IntxPin;

/// The wiring of PCI INTx on one machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntxWiring {
    /// QEMU's PIIX3 (`pc`).
    QemuPiix,
    /// QEMU's ICH9 (`q35`).
    QemuIch9,
    /// Xen's INTx emulation, on either chipset.
    Xen,
}

/// ISA IRQs the links are routed to: the ones no legacy device of these machines claims.
/// Spreading the links over them limits sharing.
const PIIX_LINK_IRQS: [u8; 4] = [10, 11, 5, 10];
const ICH9_LINK_IRQS: [u8; 8] = [10, 11, 5, 10, 11, 5, 10, 11];

impl IntxWiring {
    /// The wiring of `chipset`, emulated by Xen (`under_xen`) or by the device model alone.
    pub const fn new(chipset: Chipset, under_xen: bool) -> Self {
        match (chipset, under_xen) {
            (_, true) => IntxWiring::Xen,
            (Chipset::I440fx, false) => IntxWiring::QemuPiix,
            (Chipset::Q35, false) => IntxWiring::QemuIch9,
        }
    }

    /// How many PIRQ links carry PCI INTx (the first ones of the chipset's router).
    #[cfg(test)]
    pub const fn links(self) -> usize {
        self.link_irqs().len()
    }

    /// The ISA IRQ each link is routed to.
    pub const fn link_irqs(self) -> &'static [u8] {
        match self {
            IntxWiring::QemuPiix | IntxWiring::Xen => &PIIX_LINK_IRQS,
            IntxWiring::QemuIch9 => &ICH9_LINK_IRQS,
        }
    }

    /// The PIRQ link that pin `pin` of device `device` on bus 0 drives.
    pub fn bus0_link(self, device: u8, pin: IntxPin) -> usize {
        let device = usize::from(device & 0x1F);
        let pin = usize::from(pin.index());
        match self {
            // Slot 1 INTA drives PIRQA: one slot early.
            IntxWiring::QemuPiix => (device + pin + 3) % 4,
            IntxWiring::QemuIch9 if (25..=31).contains(&device) && device != 30 => pin,
            IntxWiring::QemuIch9 => 4 + (device + pin) % 4,
            IntxWiring::Xen => (device + pin) % 4,
        }
    }

    /// The bus-0 device and pin whose rule applies to pin `pin` (already swizzled on the
    /// root bus) of the root bus of the expander bridge in slot `expander`. QEMU's expander
    /// takes the swizzled pin minus its own slot number, and the chipset then applies its
    /// bus-0 rule to the expander's slot with that pin (hw/pci-bridge/pci_expander_bridge.c).
    /// The PIIX3 reduces the sum modulo 4; the ICH9 looks the pair up in a table of four
    /// pins per slot, so a negative pin reaches into the previous slot's row.
    pub fn expander_input(self, expander: u8, pin: IntxPin) -> (u8, IntxPin) {
        let slot = i32::from(expander & 0x1F);
        let pin_minus_slot = i32::from(pin.index()) - slot;
        let (device, index) = match self {
            IntxWiring::QemuIch9 => {
                let flat = slot * 4 + pin_minus_slot;
                (flat.div_euclid(4), flat.rem_euclid(4))
            }
            // Xen's machines have no expanders; the PIIX3's arithmetic is the harmless
            // choice.
            IntxWiring::QemuPiix | IntxWiring::Xen => (slot, pin_minus_slot.rem_euclid(4)),
        };
        let pin = IntxPin::from_register(index as u8 + 1).expect("index is 0..4");
        (device as u8, pin)
    }

    /// The I/O APIC input (GSI) pin `pin` of bus-0 device `device` drives in APIC mode.
    pub fn apic_gsi(self, device: u8, pin: IntxPin) -> u32 {
        let link = self.bus0_link(device, pin);
        match self {
            IntxWiring::QemuPiix => u32::from(PIIX_LINK_IRQS[link]),
            IntxWiring::QemuIch9 => 16 + link as u32,
            IntxWiring::Xen => xen_intx_gsi(device, pin),
        }
    }

    /// Polarity of the PCI interrupt inputs, as the platform's own tables give it.
    pub const fn polarity(self) -> Polarity {
        match self {
            IntxWiring::QemuPiix | IntxWiring::QemuIch9 => Polarity::ActiveHigh,
            IntxWiring::Xen => Polarity::ActiveLow,
        }
    }

    /// The value of the SSDT's `\_SB.PCI0.XENI`, which selects the DSDT's routing rules.
    pub const fn is_xen(self) -> bool {
        matches!(self, IntxWiring::Xen)
    }
}

/// The GSI Xen asserts for pin `pin` of bus-0 device `device` in APIC mode, Xen's fixed
/// wiring of PCI INTx to I/O APIC inputs 16-47: `(((dev << 2) + (dev >> 3) + intx) & 31) + 16`.
pub fn xen_intx_gsi(device: u8, pin: IntxPin) -> u32 {
    let device = u32::from(device & 0x1F);
    (((device << 2) + (device >> 3) + u32::from(pin.index())) & 31) + 16
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINS: [IntxPin; 4] = [IntxPin::A, IntxPin::B, IntxPin::C, IntxPin::D];

    #[test]
    fn qemu_piix_starts_the_rotation_at_slot_one() {
        // hw/isa/piix3.c: (pin + slot - 1) & 3.
        for device in 0..32u8 {
            for pin in PINS {
                let expected = (usize::from(pin.index()) + usize::from(device) + 3) & 3;
                assert_eq!(IntxWiring::QemuPiix.bus0_link(device, pin), expected);
                let irq = PIIX_LINK_IRQS[expected];
                assert_eq!(IntxWiring::QemuPiix.apic_gsi(device, pin), u32::from(irq));
            }
        }
        assert_eq!(IntxWiring::QemuPiix.bus0_link(1, IntxPin::A), 0);
        assert_eq!(IntxWiring::QemuPiix.bus0_link(4, IntxPin::A), 3);
    }

    #[test]
    fn xen_rotation_and_gsis_match_hvmloader() {
        // hvmloader: PIRQ[((pin - 1) + dev) & 3] with a 1-based pin; Xen's tables for slot 1
        // INTA name LNKB and GSI 20.
        assert_eq!(IntxWiring::Xen.bus0_link(1, IntxPin::A), 1);
        assert_eq!(IntxWiring::Xen.apic_gsi(1, IntxPin::A), 20);
        assert_eq!(xen_intx_gsi(2, IntxPin::A), 24);
        assert_eq!(xen_intx_gsi(3, IntxPin::A), 28);
        assert_eq!(xen_intx_gsi(8, IntxPin::B), 16 + ((32 + 1 + 1) & 31));
        assert_eq!(xen_intx_gsi(31, IntxPin::D), 16 + ((124 + 3 + 3) & 31));
        for device in 0..32u8 {
            for pin in PINS {
                assert_eq!(
                    IntxWiring::Xen.bus0_link(device, pin),
                    usize::from((pin.index() + device) & 3)
                );
                assert!((16..48).contains(&xen_intx_gsi(device, pin)));
            }
        }
    }

    #[test]
    fn qemu_ich9_chipset_slots_use_pirq_a_to_d_and_the_rest_e_to_h() {
        let wiring = IntxWiring::QemuIch9;
        assert_eq!(wiring.bus0_link(31, IntxPin::A), 0);
        assert_eq!(wiring.bus0_link(31, IntxPin::D), 3);
        assert_eq!(wiring.bus0_link(30, IntxPin::A), 6);
        assert_eq!(wiring.bus0_link(2, IntxPin::A), 6);
        assert_eq!(wiring.bus0_link(3, IntxPin::B), 4);
        assert_eq!(wiring.apic_gsi(31, IntxPin::B), 17);
        assert_eq!(wiring.apic_gsi(2, IntxPin::A), 22);
    }

    #[test]
    fn expander_root_buses_follow_qemus_arithmetic() {
        // PIIX3: the expander's slot cancels out, so a device on the root bus drives the
        // link it would drive in the same slot on bus 0.
        for expander in 1..32u8 {
            for device in 0..32u8 {
                for pin in PINS {
                    let swizzled = pin.swizzle(device);
                    let (d, p) = IntxWiring::QemuPiix.expander_input(expander, swizzled);
                    assert_eq!(
                        IntxWiring::QemuPiix.bus0_link(d, p),
                        IntxWiring::QemuPiix.bus0_link(device, pin)
                    );
                }
            }
        }
        // ICH9, expander in slot 1: pin A (index 0) minus 1 is the last pin of slot 0.
        assert_eq!(IntxWiring::QemuIch9.expander_input(1, IntxPin::A), (0, IntxPin::D));
        assert_eq!(IntxWiring::QemuIch9.expander_input(1, IntxPin::B), (1, IntxPin::A));
        assert_eq!(IntxWiring::QemuIch9.expander_input(3, IntxPin::A), (2, IntxPin::B));
    }

    #[test]
    fn every_link_a_wiring_names_is_routed() {
        for wiring in [IntxWiring::QemuPiix, IntxWiring::QemuIch9, IntxWiring::Xen] {
            for device in 0..32 {
                for pin in PINS {
                    assert!(wiring.bus0_link(device, pin) < wiring.links(), "{wiring:?}");
                }
            }
        }
        assert_eq!(IntxWiring::new(Chipset::Q35, true).links(), 4, "Xen has four links");
        assert!(IntxWiring::new(Chipset::Q35, false).links() <= Chipset::Q35.pirq_links());
    }
}
