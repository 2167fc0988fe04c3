//! Typed builders for ACPI tables.
//!
//! Each builder is a plain description of the table's contents; it implements
//! [`Table`] and serialises into a caller-provided buffer with the common
//! header, length and checksum filled in. [`ConcatenatedTables`] reads complete
//! tables back out of a buffer someone else filled.

mod concatenated;
mod definition_block;
mod facs;
pub(crate) mod fadt;
mod hpet;
mod madt;
mod mcfg;
mod rsdp;
mod rsdt;
mod slit;
mod srat;
mod tcpa;
mod tpm2;
mod waet;

pub use concatenated::{ConcatenatedTables, TableInBuffer};
pub use definition_block::{AmlBody, AmlTable, RawTable};
pub use facs::{Facs, FacsFlags};
pub use fadt::{
    Fadt, FadtFlags, IapcBootArch, PmProfile, PmRegisterBlocks, ResetRegister, SmiCommand,
};
pub use hpet::{Hpet, HpetPageProtection};
pub use madt::{
    InterruptSourceOverride, IoApic, LocalApicNmi, Madt, MadtProcessor, Polarity, ProcessorState,
    TriggerMode,
};
pub use mcfg::{Mcfg, McfgAllocation};
pub use rsdp::Rsdp;
pub use rsdt::{Rsdt, Xsdt};
pub use slit::Slit;
pub use srat::{MemoryAffinity, ProcessorAffinity, Srat};
pub use tcpa::Tcpa;
pub use tpm2::{Tpm2, Tpm2StartMethod};
pub use waet::Waet;

use crate::{Error, OemIds, Signature};

/// A table that can be serialised into memory.
pub trait Table {
    /// The table's signature.
    fn signature(&self) -> Signature;

    /// The exact number of bytes [`Table::write`] produces.
    fn length(&self) -> usize;

    /// Serialises the complete table (header, body, checksum) into the start
    /// of `out`, using `ids` for the header's identification fields unless the
    /// table carries its own. Returns the number of bytes written, which equals
    /// [`Table::length`].
    fn write(&self, ids: &OemIds, out: &mut [u8]) -> Result<usize, Error>;
}
