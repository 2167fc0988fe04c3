//! The vocabulary the PCI phases share: register, window and pin types that probe, plan,
//! program and routing all name, kept apart so that no two phases import each other for
//! them.

use core::fmt;

use super::reg;

/// A BAR register by its configuration-space offset; displays as `BAR2` or `ROM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BarRegister(pub u16);

impl fmt::Display for BarRegister {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            reg::ROM_TYPE0 | reg::ROM_TYPE1 => f.write_str("ROM"),
            offset @ reg::BAR0..=0x24 => write!(f, "BAR{}", (offset - reg::BAR0) / 4),
            // Only an SR-IOV capability has BARs in extended configuration space.
            offset @ 0x100.. => write!(f, "VF BAR at {offset:#05x}"),
            offset => write!(f, "BAR at {offset:#04x}"),
        }
    }
}

/// The bridge's I/O window: optional in the PCI-PCI bridge specification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoDecode {
    Absent,
    Bits16,
    Bits32,
}

/// The bridge's prefetchable memory window: optional, 32 or 64-bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrefDecode {
    Absent,
    Bits32,
    Bits64,
}

/// An interrupt pin, INTA# to INTD#.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IntxPin {
    A,
    B,
    C,
    D,
}

impl IntxPin {
    const ALL: [IntxPin; 4] = [IntxPin::A, IntxPin::B, IntxPin::C, IntxPin::D];

    /// From the interrupt pin register (1 = INTA# .. 4 = INTD#; 0 = none, and the rest
    /// invalid, both `None`).
    pub fn from_register(value: u8) -> Option<Self> {
        Self::ALL.get(usize::from(value).checked_sub(1)?).copied()
    }

    /// 0 for INTA# .. 3 for INTD#.
    pub fn index(self) -> u8 {
        self as u8
    }

    /// The pin of the bridge (on its primary side) that this pin of device `device` on the
    /// bridge's secondary bus is wired to.
    pub fn swizzle(self, device: u8) -> Self {
        Self::ALL[usize::from((self.index() + device) % 4)]
    }
}

impl fmt::Display for IntxPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "INT{}", char::from(b'A' + self.index()))
    }
}
