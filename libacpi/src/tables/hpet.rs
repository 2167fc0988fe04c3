//! IA-PC High Precision Event Timer table (IA-PC HPET Specification 1.0a,
//! section 3.2.4). Install it only when the platform has an HPET.

use super::Table;
use crate::gas::{AccessSize, GenericAddress};
use crate::header::{HEADER_LENGTH, write_table};
use crate::{Error, OemIds, Signature};

/// `Page Protection and OEM Attribute` low nibble (HPET spec Table 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum HpetPageProtection {
    /// No guarantee for page protection.
    None = 0,
    /// 4 KiB page protected: nothing else in the 4 KiB page.
    Protected4K = 1,
    /// 64 KiB page protected.
    Protected64K = 2,
}

/// An HPET description table for one timer block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hpet {
    /// `Event Timer Block ID`: a copy of the block's General Capabilities and
    /// ID register bits 31:0 (hardware revision, comparator count, counter
    /// size, legacy replacement capability, PCI vendor ID).
    pub event_timer_block_id: u32,
    /// `BASE_ADDRESS`: the block's registers, in system memory.
    pub base_address: GenericAddress,
    /// `HPET Number`: sequence number of this block (0 for the first).
    pub hpet_number: u8,
    /// `Main Counter Minimum Clock_tick in Periodic Mode`.
    pub minimum_tick: u16,
    /// `Page Protection and OEM Attribute`.
    pub page_protection: HpetPageProtection,
}

impl Hpet {
    const LENGTH: usize = HEADER_LENGTH + 20;

    /// A table for the first HPET block at `base` (64-bit registers in
    /// system memory) with no page protection guarantee.
    pub const fn new(event_timer_block_id: u32, base: u64, minimum_tick: u16) -> Self {
        Self {
            event_timer_block_id,
            base_address: GenericAddress::memory(base, 64, AccessSize::Undefined),
            hpet_number: 0,
            minimum_tick,
            page_protection: HpetPageProtection::None,
        }
    }
}

impl Table for Hpet {
    fn signature(&self) -> Signature {
        Signature::HPET
    }

    fn length(&self) -> usize {
        Self::LENGTH
    }

    fn write(&self, ids: &OemIds, out: &mut [u8]) -> Result<usize, Error> {
        write_table(out, Signature::HPET, 1, ids, |w| {
            w.u32(self.event_timer_block_id);
            w.bytes(&self.base_address.to_bytes());
            w.u8(self.hpet_number);
            w.u16(self.minimum_tick);
            w.u8(self.page_protection as u8);
            Ok(())
        })
    }
}
