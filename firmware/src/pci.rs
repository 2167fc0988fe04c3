//! PCI configuration space: addresses ([`Bdf`]), the access trait ([`ConfigSpace`]) and the
//! legacy CF8/CFC mechanism ([`Cf8`]); and the PCI core that runs over it, in four phases:
//!
//! 1. [`enumerate`] walks every bus from bus 0, numbers bridges depth-first, turns decoding
//!    off, sizes every BAR and bridge window and finds which bridges take hot-plugged
//!    devices (and what to reserve for them, [`Reservation`]), giving a [`Topology`];
//! 2. [`plan`] places all of it in the caller's I/O range, low memory hole and optional 64-bit
//!    window, without touching hardware (so it can be run more than once), giving a [`Plan`];
//! 3. [`program`] writes the plan: BARs, ROM BARs, bridge windows, command registers;
//! 4. [`route_intx`] computes each function's PIRQ link through the bridge swizzle and
//!    [`program_interrupt_lines`] writes the interrupt line registers from the link IRQs.
//!
//! ```ignore
//! let topology = pci::enumerate(&mut cfg, extra_roots)?;
//! let plan = pci::plan(&topology, &apertures)?;
//! pci::program(&mut cfg, &topology, &plan)?;
//! let routes = pci::route_intx(
//!     &topology,
//!     |dev, pin| wiring.bus0_link(dev, pin) as u8,
//!     |expander, pin| wiring.expander_input(expander, pin),
//! );
//! pci::program_interrupt_lines(&mut cfg, &routes, &link_irqs);
//! ```

mod bar;
mod caps;
mod cf8;
mod ecam;
mod enumerate;
mod error;
mod freelist;
mod hotplug;
mod intx;
mod place;
mod program;
#[cfg(test)]
pub(crate) mod sim;
mod sriov;
#[cfg(test)]
mod tests;
mod types;
mod verify;

use core::fmt;

pub use bar::{Bar, BarKind};
pub use cf8::{Cf8, Cf8Latched};
pub use ecam::Ecam;
pub use enumerate::{Topology, enumerate};
pub use error::{ExpanderError, PlanError};
pub use intx::{IntxRoute, program_interrupt_lines, route_intx};
pub use place::{Apertures, Plan, Resource, UnplacedReason, plan};
pub use program::program;
pub use sriov::add_vf_bars;
pub use types::IntxPin;
pub use verify::{EcamMismatch, compare_ecam_with_cf8};
// The parts the host tests (here and in other rooms) name; the firmware uses them only
// through the types above.
#[cfg(test)]
pub use {
    enumerate::{BridgeInfo, Function},
    error::PciProblem,
    hotplug::HotplugSlot,
    place::{BridgeWindows, Unplaced},
    types::{BarRegister, IoDecode, PrefDecode},
};

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
        Bdf { bus, device, function }
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
        write!(f, "{:02x}:{:02x}.{:x}", self.bus, self.device, self.function)
    }
}

/// Standard configuration-header offsets: the whole map, some of which only the tests
/// name (the firmware reaches those registers through the dword they share).
#[allow(dead_code)]
pub mod reg {
    pub const VENDOR_ID: u16 = 0x00;
    pub const DEVICE_ID: u16 = 0x02;
    pub const COMMAND: u16 = 0x04;
    pub const STATUS: u16 = 0x06;
    pub const REVISION: u16 = 0x08;
    pub const CLASS_CODE: u16 = 0x09;
    pub const HEADER_TYPE: u16 = 0x0E;
    /// First base address register; type 0 headers have six, type 1 headers two.
    pub const BAR0: u16 = 0x10;
    /// Expansion ROM base address of a type 0 header.
    pub const ROM_TYPE0: u16 = 0x30;
    pub const INTERRUPT_LINE: u16 = 0x3C;
    pub const INTERRUPT_PIN: u16 = 0x3D;

    // Type 1 (PCI-PCI bridge) header.
    pub const PRIMARY_BUS: u16 = 0x18;
    pub const SECONDARY_BUS: u16 = 0x19;
    pub const SUBORDINATE_BUS: u16 = 0x1A;
    pub const IO_BASE: u16 = 0x1C;
    pub const IO_LIMIT: u16 = 0x1D;
    pub const MEMORY_BASE: u16 = 0x20;
    pub const MEMORY_LIMIT: u16 = 0x22;
    pub const PREF_BASE: u16 = 0x24;
    pub const PREF_LIMIT: u16 = 0x26;
    pub const PREF_BASE_UPPER: u16 = 0x28;
    pub const PREF_LIMIT_UPPER: u16 = 0x2C;
    pub const IO_BASE_UPPER: u16 = 0x30;
    pub const IO_LIMIT_UPPER: u16 = 0x32;
    /// Expansion ROM base address of a type 1 header.
    pub const ROM_TYPE1: u16 = 0x38;
}

/// Bits of the command register ([`reg::COMMAND`]) this firmware sets; enumeration clears
/// the whole register (every other bit to its reset value).
pub mod command {
    pub const IO: u16 = 1 << 0;
    pub const MEMORY: u16 = 1 << 1;
    pub const BUS_MASTER: u16 = 1 << 2;
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
