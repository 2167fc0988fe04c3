//! Complete tables laid end to end in one buffer: what `cat *.aml` produces, and the format
//! in which a toolstack passes extra tables to the firmware (Xen's `hvmloader/acpi` blob,
//! public/hvm/hvm_xs_strings.h: "simply concatenated raw tables (which specify their own
//! length in the ACPI header)").
//!
//! Each table is checked before it is handed out: a header, a `Length` that covers at
//! least the header and stays inside the buffer, a printable signature and a checksum that
//! sums to zero. Nothing after the last table is allowed either, so a truncated or padded
//! buffer is reported rather than silently cut.

use super::RawTable;
use crate::bytes::array_at;
use crate::header::{HEADER_LENGTH, LENGTH_OFFSET};
use crate::{Error, Signature, checksum};

/// One table of the buffer.
#[derive(Clone, Copy, Debug)]
pub struct TableInBuffer<'a> {
    /// Its position among the buffer's tables, from 0.
    pub index: usize,
    /// Its byte offset in the buffer.
    pub offset: usize,
    /// The table, checked.
    pub table: RawTable<'a>,
}

/// Iterates the tables of a buffer of concatenated tables. Yields each checked table, or
/// one [`Error::BlobTable`] naming the first bad one, after which it ends.
#[derive(Clone, Debug)]
pub struct ConcatenatedTables<'a> {
    bytes: &'a [u8],
    offset: usize,
    index: usize,
    failed: bool,
}

impl<'a> ConcatenatedTables<'a> {
    /// The tables of `bytes`; an empty buffer holds none.
    pub const fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, offset: 0, index: 0, failed: false }
    }

    fn next_table(&self) -> Result<TableInBuffer<'a>, Error> {
        let rest = &self.bytes[self.offset..];
        let signature = array_at::<4>(rest, 0).map_or(Signature(*b"????"), Signature);
        let error =
            |reason| Error::BlobTable { index: self.index, offset: self.offset, signature, reason };
        if rest.len() < HEADER_LENGTH {
            return Err(error("the bytes left are too few for a table header"));
        }
        // The header is there, so its length field is.
        let length = array_at::<4>(rest, LENGTH_OFFSET).map_or(0, u32::from_le_bytes);
        let length = usize::try_from(length).unwrap_or(usize::MAX);
        if length < HEADER_LENGTH {
            return Err(error("its length is shorter than a table header"));
        }
        let bytes = rest.get(..length).ok_or(error("its length runs past the end of the blob"))?;
        let table = RawTable::new(bytes).map_err(|_| error("its signature is not printable"))?;
        if checksum::sum(bytes) != 0 {
            return Err(error("its checksum does not sum to zero"));
        }
        Ok(TableInBuffer { index: self.index, offset: self.offset, table })
    }
}

impl<'a> Iterator for ConcatenatedTables<'a> {
    type Item = Result<TableInBuffer<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.offset >= self.bytes.len() {
            return None;
        }
        let item = self.next_table();
        match &item {
            Ok(found) => {
                self.offset += found.table.bytes().len();
                self.index += 1;
            }
            Err(_) => self.failed = true,
        }
        Some(item)
    }
}

impl core::iter::FusedIterator for ConcatenatedTables<'_> {}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    /// A table of `length` bytes with a valid checksum.
    fn table(signature: &[u8; 4], length: u32) -> [u8; 64] {
        let mut t = [0x5Au8; 64];
        t[..4].copy_from_slice(signature);
        t[4..8].copy_from_slice(&length.to_le_bytes());
        checksum::fix(&mut t[..length as usize], 9);
        t
    }

    fn reason(bytes: &[u8]) -> (usize, usize, &'static str) {
        match ConcatenatedTables::new(bytes).find_map(Result::err) {
            Some(Error::BlobTable { index, offset, reason, .. }) => (index, offset, reason),
            other => panic!("expected a blob error, got {other:?}"),
        }
    }

    #[test]
    fn tables_are_found_in_order() {
        let mut blob = Vec::new();
        blob.extend_from_slice(&table(b"SLIC", 40)[..40]);
        blob.extend_from_slice(&table(b"SSDT", 64)[..64]);
        let found: Vec<_> = ConcatenatedTables::new(&blob).map(Result::unwrap).collect();
        assert_eq!(found.len(), 2);
        assert_eq!((found[1].index, found[1].offset), (1, 40));
        assert_eq!(found[1].table.bytes(), &blob[40..]);
        assert_eq!(ConcatenatedTables::new(&[]).count(), 0);
    }

    #[test]
    fn each_fault_is_named_with_its_place() {
        let good = table(b"SLIC", 40);
        let mut blob = Vec::from(&good[..40]);
        blob.extend_from_slice(&[0; 10]);
        assert_eq!(reason(&blob), (1, 40, "the bytes left are too few for a table header"));

        let short = table(b"SLIC", 20);
        assert_eq!(reason(&short), (0, 0, "its length is shorter than a table header"));
        let long = table(b"SLIC", 60);
        assert_eq!(reason(&long[..50]), (0, 0, "its length runs past the end of the blob"));
        let mut bad_sum = table(b"SLIC", 40);
        bad_sum[20] ^= 1;
        assert_eq!(reason(&bad_sum[..40]), (0, 0, "its checksum does not sum to zero"));
        let unprintable = table(b"S\0IC", 40);
        assert_eq!(reason(&unprintable[..40]), (0, 0, "its signature is not printable"));
    }

    #[test]
    fn iteration_stops_after_an_error() {
        let bad = table(b"SLIC", 20);
        let mut tables = ConcatenatedTables::new(&bad);
        assert!(matches!(tables.next(), Some(Err(_))));
        assert!(tables.next().is_none());
    }
}
