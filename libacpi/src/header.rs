//! The common System Description Table header (ACPI 6.5 section 5.2.6, Table 5.4).

use crate::bytes::ByteWriter;
use crate::{Error, Signature, checksum};

/// Length of the common header; the table body starts here.
pub const HEADER_LENGTH: usize = 36;
/// Offset of the `Length` field.
pub const LENGTH_OFFSET: usize = 4;
/// Offset of the `Checksum` field.
pub const CHECKSUM_OFFSET: usize = 9;

/// The identification fields every table header carries.
///
/// Identifiers shorter than their field are padded with spaces, as ACPICA and
/// QEMU do. Use [`OemIds::new`] to validate caller strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OemIds {
    /// `OEMID`: identifies the OEM (6 bytes).
    pub oem_id: [u8; 6],
    /// `OEM Table ID`: identifies this particular data table (8 bytes).
    pub oem_table_id: [u8; 8],
    /// `OEM Revision`.
    pub oem_revision: u32,
    /// `Creator ID`: vendor ID of the utility that created the table (4 bytes).
    pub creator_id: [u8; 4],
    /// `Creator Revision`.
    pub creator_revision: u32,
}

impl OemIds {
    /// Builds identifiers from strings; each must be printable ASCII and fit
    /// its field (6, 8 and 4 bytes).
    pub fn new(
        oem_id: &str,
        oem_table_id: &str,
        oem_revision: u32,
        creator_id: &str,
        creator_revision: u32,
    ) -> Result<Self, Error> {
        Ok(Self {
            oem_id: pad_identifier(oem_id)?,
            oem_table_id: pad_identifier(oem_table_id)?,
            oem_revision,
            creator_id: pad_identifier(creator_id)?,
            creator_revision,
        })
    }

    /// Xen's conventional identifiers: OEM `Xen`, table `HVM`, creator `HVML`.
    pub const fn xen() -> Self {
        Self {
            oem_id: *b"Xen   ",
            oem_table_id: *b"HVM     ",
            oem_revision: 0,
            creator_id: *b"HVML",
            creator_revision: 0,
        }
    }

    /// The same identifiers with another OEM table ID (validated like [`OemIds::new`]).
    pub fn with_table_id(mut self, oem_table_id: &str) -> Result<Self, Error> {
        self.oem_table_id = pad_identifier(oem_table_id)?;
        Ok(self)
    }
}

impl Default for OemIds {
    fn default() -> Self {
        Self::xen()
    }
}

/// Pads `s` with spaces to `N` bytes; rejects non-printable or over-long input.
pub(crate) fn pad_identifier<const N: usize>(s: &str) -> Result<[u8; N], Error> {
    if s.len() > N || !s.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(Error::InvalidIdentifier);
    }
    let mut out = [b' '; N];
    out[..s.len()].copy_from_slice(s.as_bytes());
    Ok(out)
}

/// Serialises a table: writes the header with a zero length and checksum,
/// lets `body` append the rest, then patches `Length` and `Checksum`.
/// Returns the table length.
///
/// Only the call of `body` is generic: the header and the patching are one function each
/// for every table type, not a copy in each table's `write`.
pub(crate) fn write_table<'a>(
    out: &'a mut [u8],
    signature: Signature,
    revision: u8,
    ids: &OemIds,
    body: impl FnOnce(&mut ByteWriter<'a>) -> Result<(), Error>,
) -> Result<usize, Error> {
    let mut w = write_header(out, signature, revision, ids);
    body(&mut w)?;
    patch_header(w, signature)
}

/// The header with a zero length and checksum, and the writer positioned after it.
fn write_header<'a>(
    out: &'a mut [u8],
    signature: Signature,
    revision: u8,
    ids: &OemIds,
) -> ByteWriter<'a> {
    let mut w = ByteWriter::new(out);
    w.bytes(&signature.0);
    w.u32(0);
    w.u8(revision);
    w.u8(0);
    w.bytes(&ids.oem_id);
    w.bytes(&ids.oem_table_id);
    w.u32(ids.oem_revision);
    w.bytes(&ids.creator_id);
    w.u32(ids.creator_revision);
    w
}

/// Sets `Length` and `Checksum` of the table written with `w`; returns the length.
fn patch_header(mut w: ByteWriter<'_>, signature: Signature) -> Result<usize, Error> {
    let length = w.finish()?;
    let length32 = u32::try_from(length)
        .map_err(|_| Error::InvalidField { signature, reason: "table longer than 4 GiB" })?;
    let table = w.written_mut();
    table[LENGTH_OFFSET..LENGTH_OFFSET + 4].copy_from_slice(&length32.to_le_bytes());
    checksum::fix(table, CHECKSUM_OFFSET);
    Ok(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_validated_and_padded() {
        let ids = OemIds::new("Xen", "HVM", 1, "RUST", 2).unwrap();
        assert_eq!(&ids.oem_id, b"Xen   ");
        assert_eq!(&ids.oem_table_id, b"HVM     ");
        assert_eq!(OemIds::new("TOOLONG", "", 0, "", 0), Err(Error::InvalidIdentifier));
        assert_eq!(OemIds::new("X\0", "", 0, "", 0), Err(Error::InvalidIdentifier));
    }

    #[test]
    fn header_layout_and_checksum() {
        let mut buf = [0u8; 40];
        let ids = OemIds::new("OEMIDX", "TABLEID8", 0x11223344, "CRID", 0x55667788).unwrap();
        let n = write_table(&mut buf, Signature::WAET, 1, &ids, |w| {
            w.u32(3);
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 40);
        assert_eq!(&buf[0..4], b"WAET");
        assert_eq!(buf[4..8], 40u32.to_le_bytes());
        assert_eq!(buf[8], 1);
        assert_eq!(&buf[10..16], b"OEMIDX");
        assert_eq!(&buf[16..24], b"TABLEID8");
        assert_eq!(buf[24..28], 0x11223344u32.to_le_bytes());
        assert_eq!(&buf[28..32], b"CRID");
        assert_eq!(buf[32..36], 0x55667788u32.to_le_bytes());
        assert_eq!(checksum::sum(&buf), 0);
    }

    #[test]
    fn short_buffer_is_an_error() {
        let mut buf = [0u8; 20];
        let r = write_table(&mut buf, Signature::WAET, 1, &OemIds::xen(), |_| Ok(()));
        assert!(matches!(r, Err(Error::BufferTooSmall { .. })));
    }
}
