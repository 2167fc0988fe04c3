//! PCI Express memory-mapped configuration space table (PCI Firmware
//! Specification 3.3, section 4.1.2).

use super::Table;
use crate::header::{HEADER_LENGTH, write_table};
use crate::{Error, OemIds, Signature};

/// One `Configuration Space Base Address Allocation` structure (PCI Firmware
/// Specification Table 4-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct McfgAllocation {
    /// Base address of the ECAM window; bus `start_bus` is at this address
    /// plus `start_bus << 20`, as the specification requires for bus 0.
    pub base_address: u64,
    /// PCI segment group number.
    pub segment: u16,
    /// First bus number decoded by this window.
    pub start_bus: u8,
    /// Last bus number decoded by this window.
    pub end_bus: u8,
}

/// The MCFG table.
#[derive(Clone, Copy, Debug)]
pub struct Mcfg<'a> {
    /// The ECAM windows.
    pub allocations: &'a [McfgAllocation],
}

impl Table for Mcfg<'_> {
    fn signature(&self) -> Signature {
        Signature::MCFG
    }

    fn length(&self) -> usize {
        HEADER_LENGTH + 8 + 16 * self.allocations.len()
    }

    fn write(&self, ids: &OemIds, out: &mut [u8]) -> Result<usize, Error> {
        for a in self.allocations {
            if a.end_bus < a.start_bus {
                return Err(Error::InvalidField {
                    signature: Signature::MCFG,
                    reason: "end bus below start bus",
                });
            }
            // 1 MiB of ECAM per bus: the base must be 1 MiB aligned.
            if a.base_address & 0xf_ffff != 0 {
                return Err(Error::Misaligned { address: a.base_address, alignment: 1 << 20 });
            }
        }
        write_table(out, Signature::MCFG, 1, ids, |w| {
            w.u64(0); // Reserved.
            for a in self.allocations {
                w.u64(a.base_address);
                w.u16(a.segment);
                w.u8(a.start_bus);
                w.u8(a.end_bus);
                w.u32(0); // Reserved.
            }
            Ok(())
        })
    }
}
