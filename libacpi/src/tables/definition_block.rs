//! Definition blocks (DSDT, SSDT: ACPI 6.5 sections 5.2.11.1 and 5.2.11.2)
//! and pre-built table blobs.

use super::Table;
use crate::bytes::array_at;
use crate::header::{CHECKSUM_OFFSET, HEADER_LENGTH, LENGTH_OFFSET, pad_identifier, write_table};
use crate::{Error, OemIds, Signature, checksum};

/// Revision 2 definition blocks use 64-bit AML integers, which the
/// [`crate::aml`] encoder assumes.
const REVISION: u8 = 2;

/// A definition block's AML body (the term list, without a header).
#[derive(Clone, Copy)]
pub enum AmlBody<'a> {
    /// AML built beforehand (for example with [`crate::aml::AmlWriter`]).
    Bytes(&'a [u8]),
    /// AML written straight into the table where it is installed, so that a large body
    /// needs no buffer of its own.
    WrittenInPlace {
        /// Bytes of AML (measure them first with [`crate::aml::AmlWriter::measuring`]).
        len: usize,
        /// Gets exactly `len` bytes and returns how many it wrote, which must be `len`.
        write: &'a dyn Fn(&mut [u8]) -> Result<usize, Error>,
    },
}

impl AmlBody<'_> {
    /// Bytes of AML.
    pub fn len(&self) -> usize {
        match self {
            AmlBody::Bytes(bytes) => bytes.len(),
            AmlBody::WrittenInPlace { len, .. } => *len,
        }
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl core::fmt::Debug for AmlBody<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AmlBody::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
            AmlBody::WrittenInPlace { len, .. } => write!(f, "WrittenInPlace({len} bytes)"),
        }
    }
}

/// A DSDT or SSDT wrapping an AML body.
#[derive(Clone, Copy, Debug)]
pub struct AmlTable<'a> {
    signature: Signature,
    oem_table_id: Option<[u8; 8]>,
    body: AmlBody<'a>,
}

impl<'a> AmlTable<'a> {
    /// A DSDT holding `body` (the AML term list, without a header).
    pub const fn dsdt(body: &'a [u8]) -> Self {
        Self { signature: Signature::DSDT, oem_table_id: None, body: AmlBody::Bytes(body) }
    }

    /// An SSDT holding `body`.
    pub const fn ssdt(body: &'a [u8]) -> Self {
        Self::ssdt_of(AmlBody::Bytes(body))
    }

    /// An SSDT holding `body`, which may be written in place.
    pub const fn ssdt_of(body: AmlBody<'a>) -> Self {
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
        let signature = self.signature;
        write_table(out, signature, REVISION, &ids, |w| {
            match self.body {
                AmlBody::Bytes(body) => w.bytes(body),
                AmlBody::WrittenInPlace { len, write } => {
                    // A body that does not fit is left to the writer's overflow error.
                    if let Some(slot) = w.slot(len)
                        && write(slot)? != len
                    {
                        let reason = "its AML body is not the length measured";
                        return Err(Error::InvalidTable { signature, reason });
                    }
                }
            }
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
    fn a_body_written_in_place_is_the_same_table_as_its_bytes() {
        let body = [0x10u8, 0x05, b'\\', b'_', b'S', b'B', b'_'];
        let write = |out: &mut [u8]| {
            out.copy_from_slice(&body);
            Ok(body.len())
        };
        let in_place =
            AmlTable::ssdt_of(AmlBody::WrittenInPlace { len: body.len(), write: &write });
        let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
        let ids = OemIds::xen();
        let len = AmlTable::ssdt(&body).write(&ids, &mut a).unwrap();
        assert_eq!(in_place.length(), len);
        assert_eq!(in_place.write(&ids, &mut b), Ok(len));
        assert_eq!(a, b);
        // Too small a buffer: the writer's error, before `write` runs.
        let never = |_: &mut [u8]| -> Result<usize, Error> { unreachable!("no room to write") };
        let table = AmlTable::ssdt_of(AmlBody::WrittenInPlace { len: 40, write: &never });
        assert_eq!(
            table.write(&ids, &mut a),
            Err(Error::BufferTooSmall { needed: HEADER_LENGTH + 40, available: 64 })
        );
        // A body shorter than announced is an error, not a table with a gap.
        let short = |_: &mut [u8]| Ok(3);
        let table = AmlTable::ssdt_of(AmlBody::WrittenInPlace { len: 7, write: &short });
        assert!(matches!(table.write(&ids, &mut a), Err(Error::InvalidTable { .. })));
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
