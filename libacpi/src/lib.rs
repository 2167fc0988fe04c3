//! A `no_std`, heap-free ACPI table builder, installer and AML encoder.
//!
//! The crate has three layers:
//!
//! * [`tables`]: typed builders for the fixed-layout tables of the ACPI 6.x
//!   specification (RSDP, RSDT, XSDT, FADT, FACS, MADT, SRAT, SLIT) and of the
//!   companion specifications (HPET, MCFG, WAET, TCPA, TPM2), plus
//!   [`tables::AmlTable`] and [`tables::RawTable`] for definition blocks. Every
//!   builder implements [`Table`] and serialises into a caller-provided
//!   `&mut [u8]`. [`tables::ConcatenatedTables`] checks and splits a buffer of
//!   complete tables passed in from outside.
//! * [`Installer`]: lays tables out in a memory region, links them (XSDT and
//!   RSDT entries, FADT to FACS and DSDT), fixes every checksum, enforces the
//!   FACS alignment and writes the RSDP, in the region or at a separate
//!   location such as the BIOS read-only area.
//! * [`aml`]: an encoder for ACPI Machine Language (ACPI 6.5 chapter 20) that
//!   produces the same bytes as ACPICA's `iasl` for the objects it supports.
//!
//! Nothing here allocates or panics on caller input: every failure is an
//! [`Error`].
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod aml;
mod bytes;
pub mod checksum;
mod error;
pub mod gas;
pub mod header;
mod installer;
mod signature;
pub mod tables;

pub use error::Error;
pub use gas::{AccessSize, AddressSpaceId, GenericAddress};
pub use header::{HEADER_LENGTH, OemIds};
pub use installer::{
    InstallSummary, InstalledTable, Installer, MAX_TABLES, RSDP_ALIGNMENT, RsdpPlacement,
};
pub use signature::Signature;
pub use tables::Table;
