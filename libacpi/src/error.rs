//! The crate-wide error type.

use crate::Signature;
use core::fmt;

/// Everything that can go wrong while building, encoding or installing tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The output buffer given to a builder or encoder is too small.
    BufferTooSmall {
        /// Bytes the operation needed in total.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// The installer's memory region has no room for the next table.
    RegionFull {
        /// The table that did not fit.
        signature: Signature,
        /// Bytes the table needed (after alignment padding).
        needed: usize,
        /// Bytes left in the region.
        available: usize,
    },
    /// The installer already holds [`crate::MAX_TABLES`] tables.
    TooManyTables,
    /// A table whose signature may appear only once was installed twice.
    DuplicateTable(Signature),
    /// The installer writes this table itself (RSDP, RSDT, XSDT).
    ReservedSignature(Signature),
    /// A table that another table depends on was not installed
    /// (for example a FADT without a DSDT).
    MissingTable(Signature),
    /// A physical address cannot be stored in a 32-bit field (RSDT entry,
    /// RSDP `RsdtAddress`, ...).
    AddressAbove4GiB {
        /// The table whose address is too high.
        signature: Signature,
        /// The address.
        address: u64,
    },
    /// A physical address computation overflowed 64 bits.
    AddressOverflow,
    /// A physical address does not have the alignment the specification requires.
    Misaligned {
        /// The address.
        address: u64,
        /// The required alignment in bytes.
        alignment: u64,
    },
    /// A pre-built table blob is malformed.
    InvalidTable {
        /// The signature found in the blob (may be garbage).
        signature: Signature,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A table of a buffer of concatenated tables (see
    /// [`crate::tables::ConcatenatedTables`]) is malformed, or cannot join the tables
    /// being installed.
    BlobTable {
        /// Its position among the buffer's tables, from 0.
        index: usize,
        /// Its byte offset in the buffer.
        offset: usize,
        /// The signature found there (may be garbage).
        signature: Signature,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An OEM ID, OEM table ID or creator ID is not printable ASCII or too long.
    InvalidIdentifier,
    /// A table field value is outside the range the specification allows.
    InvalidField {
        /// The table.
        signature: Signature,
        /// What is wrong.
        reason: &'static str,
    },
    /// An AML name string is malformed (empty or over-long segment, bad characters).
    InvalidName,
    /// An AML string contains a NUL or non-ASCII character.
    InvalidString,
    /// An AML operand is out of range (argument index, element count, ...).
    InvalidAmlOperand(&'static str),
    /// An AML package is longer than the 28 bits a PkgLength can express.
    PkgLengthTooLarge,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BufferTooSmall { needed, available } => {
                write!(f, "output buffer too small: need {needed} bytes, have {available}")
            }
            Error::RegionFull { signature, needed, available } => {
                write!(f, "ACPI region full: {signature} needs {needed} bytes, {available} left")
            }
            Error::TooManyTables => {
                write!(f, "more than {} tables", crate::MAX_TABLES)
            }
            Error::DuplicateTable(s) => write!(f, "{s} may only be installed once"),
            Error::ReservedSignature(s) => write!(f, "{s} is written by the installer itself"),
            Error::MissingTable(s) => write!(f, "required table {s} was not installed"),
            Error::AddressAbove4GiB { signature, address } => {
                write!(f, "{signature} at {address:#x} cannot be referenced by a 32-bit field")
            }
            Error::AddressOverflow => write!(f, "physical address overflow"),
            Error::Misaligned { address, alignment } => {
                write!(f, "address {address:#x} is not {alignment}-byte aligned")
            }
            Error::InvalidTable { signature, reason } => {
                write!(f, "invalid {signature} table: {reason}")
            }
            Error::BlobTable { index, offset, signature, reason } => write!(
                f,
                "table {index} of the passed-through blob ({signature} at byte {offset:#x}): \
                 {reason}"
            ),
            Error::InvalidIdentifier => write!(f, "invalid OEM or creator identifier"),
            Error::InvalidField { signature, reason } => write!(f, "{signature}: {reason}"),
            Error::InvalidName => write!(f, "invalid AML name string"),
            Error::InvalidString => write!(f, "invalid AML string"),
            Error::InvalidAmlOperand(what) => write!(f, "invalid AML operand: {what}"),
            Error::PkgLengthTooLarge => write!(f, "AML package longer than 2^28 bytes"),
        }
    }
}

impl core::error::Error for Error {}
