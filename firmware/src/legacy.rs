//! The pre-ACPI tables old guests still look for when there is more than one vCPU: the Intel
//! MultiProcessor table ([`mptable`], MP Specification 1.4) and the PCI IRQ routing table
//! ([`pir`], `$PIR` 1.0). An OS without ACPI (or booted with `acpi=off`, or too old to read the
//! MADT) finds the other CPUs, the I/O APIC and the PCI interrupt wiring only through them.
//!
//! Both builders are pure and heap-free: they check their input, write into a buffer the
//! caller provides and return what they wrote. Where the tables go is the caller's choice
//! within the specifications' rules, which each module documents. Nothing here panics on
//! input; every problem is an error naming it.
//!
//! [`Bus0Pins`] turns the firmware's INTx routing ([`crate::pci::route_intx`]) into what both
//! tables describe: the interrupt pins raised on bus 0.

pub mod mptable;
pub mod pir;

#[cfg(test)]
mod tests;

pub use mptable::{MpCpu, MpError, MpInput, PciIntx, write_mp_table};
pub use pir::{PirError, PirInput, write_pir};

use crate::pci::{IntxPin, IntxRoute};

/// The set of (device, pin) pairs on bus 0 that INTx routes arrive at: the pins the MP
/// table's PCI interrupt entries and the `$PIR` slot entries must describe. A function behind
/// a bridge counts as the bus-0 bridge's swizzled pin, as the hardware wires it; an OS that
/// finds no entry for a secondary bus swizzles up to bus 0 itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bus0Pins {
    /// Bit `device * 4 + pin index`.
    used: u128,
}

impl Bus0Pins {
    /// The bus-0 pins `routes` use (their `root_device` and `root_pin`).
    pub fn from_routes(routes: &[IntxRoute]) -> Self {
        let mut pins = Bus0Pins::default();
        for route in routes {
            pins.insert(route.root_device, route.root_pin);
        }
        pins
    }

    /// Adds one pin; devices above 31 do not exist on a PCI bus and are ignored.
    pub fn insert(&mut self, device: u8, pin: IntxPin) {
        if device < 32 {
            self.used |= 1 << (u32::from(device) * 4 + u32::from(pin.index()));
        }
    }

    pub fn contains(&self, device: u8, pin: IntxPin) -> bool {
        device < 32 && self.used & (1 << (u32::from(device) * 4 + u32::from(pin.index()))) != 0
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.used.count_ones() as usize
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// The pairs, by device and then pin.
    pub fn iter(&self) -> impl Iterator<Item = (u8, IntxPin)> + '_ {
        (0..128u8).filter(|bit| self.used & (1 << bit) != 0).filter_map(|bit| {
            let pin = IntxPin::from_register((bit & 3) + 1)?;
            Some((bit >> 2, pin))
        })
    }

    /// Bit `d` set for each device `d` with at least one pin: [`PirInput::devices`].
    pub fn devices(&self) -> u32 {
        (0..32).filter(|d| (self.used >> (d * 4)) & 0xF != 0).fold(0, |set, d| set | 1 << d)
    }
}
