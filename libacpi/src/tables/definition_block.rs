//! Definition blocks (DSDT, SSDT: ACPI 6.5 sections 5.2.11.1 and 5.2.11.2)
//! and pre-built table blobs.

use super::Table;
use crate::bytes::array_at;
use crate::header::{CHECKSUM_OFFSET, HEADER_LENGTH, LENGTH_OFFSET, pad_identifier, write_table};
use crate::{Error, OemIds, Signature, checksum};

/// Revision 2 definition blocks use 64-bit AML integers, which the
/// [`crate::aml`] encoder assumes.
const REVISION: u8 = 2;

/// A DSDT or SSDT wrapping an AML body (for example one built with
/// [`crate::aml::AmlWriter`]).
#[derive(Clone, Copy, Debug)]
pub struct AmlTable<'a> {
    signature: Signature,
    oem_table_id: Option<[u8; 8]>,
    body: &'a [u8],
}

impl<'a> AmlTable<'a> {
    /// A DSDT holding `body` (the AML term list, without a header).
    pub const fn dsdt(body: &'a [u8]) -> Self {
        Self { signature: Signature::DSDT, oem_table_id: None, body }
    }

    /// An SSDT holding `body`.
    pub const fn ssdt(body: &'a [u8]) -> Self {
        Self { signature: Signature::SSDT, oem_table_id: None, body }
    }

    /// Uses `oem_table_id` instead of the installer's, so that several SSDTs
    /// can be told apart.
    pub fn with_oem_table_id(mut self, oem_table_id: &str) -> Result<Self, Error> {
        self.oem_table_id = Some(pad_identifier(oem_table_id)?);
        Ok(self)
    }
}

impl Table for AmlTable<'_> {
    fn signature(&self) -> Signature {
        self.signature
    }

    fn length(&self) -> usize {
        HEADER_LENGTH + self.body.len()
    }

    fn write(&self, ids: &OemIds, out: &mut [u8]) -> Result<usize, Error> {
        let mut ids = *ids;
        if let Some(table_id) = self.oem_table_id {
            ids.oem_table_id = table_id;
        }
        write_table(out, self.signature, REVISION, &ids, |w| {
            w.bytes(self.body);
            Ok(())
        })
    }
}

/// A complete table built elsewhere, such as a DSDT compiled by `iasl`.
///
/// The bytes are copied verbatim; only the checksum is recomputed on write.
#[derive(Clone, Copy, Debug)]
pub struct RawTable<'a> {
    bytes: &'a [u8],
}

impl<'a> RawTable<'a> {
    /// Checks that `bytes` starts with a table header whose `Length` field
    /// equals `bytes.len()`.
    pub fn new(bytes: &'a [u8]) -> Result<Self, Error> {
        let signature = array_at::<4>(bytes, 0).map_or(Signature(*b"????"), Signature);
        let invalid = |reason| Err(Error::InvalidTable { signature, reason });
        if bytes.len() < HEADER_LENGTH {
            return invalid("shorter than a table header");
        }
        if !signature.0.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b' ') {
            return invalid("signature is not printable");
        }
        let length = array_at::<4>(bytes, LENGTH_OFFSET).map(u32::from_le_bytes);
        if length.and_then(|l| usize::try_from(l).ok()) != Some(bytes.len()) {
            return invalid("header length does not match the blob size");
        }
        Ok(Self { bytes })
    }

    /// The table bytes as given.
    pub const fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl Table for RawTable<'_> {
    fn signature(&self) -> Signature {
        // `new` guarantees at least a header.
        array_at::<4>(self.bytes, 0).map_or(Signature(*b"????"), Signature)
    }

    fn length(&self) -> usize {
        self.bytes.len()
    }

    fn write(&self, _ids: &OemIds, out: &mut [u8]) -> Result<usize, Error> {
        let available = out.len();
        let dst = out
            .get_mut(..self.bytes.len())
            .ok_or(Error::BufferTooSmall { needed: self.bytes.len(), available })?;
        dst.copy_from_slice(self.bytes);
        checksum::fix(dst, CHECKSUM_OFFSET);
        Ok(self.bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_table_validation() {
        let mut blob = [0u8; 40];
        blob[..4].copy_from_slice(b"DSDT");
        blob[4..8].copy_from_slice(&40u32.to_le_bytes());
        assert!(RawTable::new(&blob).is_ok());
        assert!(RawTable::new(&blob[..39]).is_err());
        assert!(RawTable::new(&blob[..20]).is_err());
        blob[0] = 0;
        assert!(RawTable::new(&blob).is_err());
    }

    #[test]
    fn raw_table_checksum_is_fixed() {
        let mut blob = [7u8; 40];
        blob[..4].copy_from_slice(b"DSDT");
        blob[4..8].copy_from_slice(&40u32.to_le_bytes());
        let mut out = [0u8; 40];
        assert_eq!(RawTable::new(&blob).unwrap().write(&OemIds::xen(), &mut out), Ok(40));
        assert_eq!(checksum::sum(&out), 0);
    }
}
