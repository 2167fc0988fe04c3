//! The two chipsets the firmware supports, told apart by the host bridge at 00:00.0.

use core::fmt;

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

impl fmt::Display for Chipset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Chipset::I440fx => "i440FX/PIIX",
            Chipset::Q35 => "Q35/ICH9",
        })
    }
}
