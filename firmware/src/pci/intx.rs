//! INTx routing: which PIRQ link each function's interrupt pin ends up on.
//!
//! Behind a bridge, a function's pin is rotated by its device number at each level up to bus 0
//! (PCI-PCI Bridge Architecture 1.2, 9.1; the same rule for PCIe ports and PCIe-to-PCI
//! bridges); on bus 0 the chipset decides, so the caller passes its rule as a function of
//! (device, pin). The bus-0 rule is also what the DSDTs' `_PRT` describes (their host tests
//! check every slot and pin against `IntxWiring::bus0_link`).

use alloc::vec::Vec;

use super::enumerate::Topology;
use super::types::IntxPin;
use super::{Bdf, ConfigSpace, reg};

/// Where one function's INTx goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntxRoute {
    pub bdf: Bdf,
    pub pin: IntxPin,
    /// The bus-0 device (the function itself, or the bridge at the top of its path) and the
    /// pin it raises there.
    pub root_device: u8,
    pub root_pin: IntxPin,
    /// The PIRQ link index given by the chipset's bus-0 rule.
    pub link: u8,
}

/// Routes every function that has an interrupt pin. `root_link` is the platform's bus-0 rule
/// ([`IntxWiring::bus0_link`](crate::chipset::IntxWiring::bus0_link)); `expander_input`
/// gives the bus-0 device and pin an expander bridge's root bus drives for the expander's
/// slot and the pin swizzled on its bus
/// ([`IntxWiring::expander_input`](crate::chipset::IntxWiring::expander_input)).
pub fn route_intx(
    topology: &Topology,
    root_link: impl Fn(u8, IntxPin) -> u8,
    expander_input: impl Fn(u8, IntxPin) -> (u8, IntxPin),
) -> Vec<IntxRoute> {
    let mut routes = Vec::new();
    for function in &topology.functions {
        let Some(pin) = function.interrupt_pin else {
            continue;
        };
        let mut device = function.bdf.device();
        let mut root_pin = pin;
        let mut upstream = function.upstream;
        // `upstream` indices always point to earlier functions, so this climbs strictly
        // towards bus 0 and ends.
        while let Some(bridge) = upstream {
            root_pin = root_pin.swizzle(device);
            let bridge = &topology.functions[bridge];
            device = bridge.bdf.device();
            if bridge.bridge.is_some_and(|b| b.expander) {
                (device, root_pin) = expander_input(device, root_pin);
            }
            upstream = bridge.upstream;
        }
        routes.push(IntxRoute {
            bdf: function.bdf,
            pin,
            root_device: device,
            root_pin,
            link: root_link(device, root_pin),
        });
    }
    routes
}

/// The interrupt line value for "unknown or not connected" on x86 (PCI 3.0, 6.2.4).
const LINE_UNKNOWN: u8 = 0xFF;

/// Writes each routed function's interrupt line register with the IRQ of its link,
/// `link_irqs[link]` (0xFF when the table has no entry for it). Functions without an
/// interrupt pin are left alone.
pub fn program_interrupt_lines(cfg: &mut impl ConfigSpace, routes: &[IntxRoute], link_irqs: &[u8]) {
    for route in routes {
        let line = match link_irqs.get(usize::from(route.link)) {
            Some(&irq) => irq,
            None => {
                log::warn!(
                    "{}: {} routed to link {} which has no IRQ, interrupt line left unknown",
                    route.bdf,
                    route.pin,
                    route.link
                );
                LINE_UNKNOWN
            }
        };
        log::debug!(
            "{}: {} -> {:02x} {} -> link {} -> IRQ {line}",
            route.bdf,
            route.pin,
            route.root_device,
            route.root_pin,
            route.link
        );
        cfg.write8(route.bdf, reg::INTERRUPT_LINE, line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_register_values() {
        assert_eq!(IntxPin::from_register(0), None);
        assert_eq!(IntxPin::from_register(1), Some(IntxPin::A));
        assert_eq!(IntxPin::from_register(4), Some(IntxPin::D));
        assert_eq!(IntxPin::from_register(5), None);
        assert_eq!(IntxPin::from_register(0xFF), None);
    }

    #[test]
    fn swizzle_rotates_by_device() {
        assert_eq!(IntxPin::A.swizzle(0), IntxPin::A);
        assert_eq!(IntxPin::A.swizzle(1), IntxPin::B);
        assert_eq!(IntxPin::D.swizzle(1), IntxPin::A);
        assert_eq!(IntxPin::C.swizzle(31), IntxPin::B);
    }
}
