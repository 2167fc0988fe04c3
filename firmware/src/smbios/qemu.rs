//! SMBIOS structures QEMU builds for its machine, fw_cfg `etc/smbios/smbios-tables`: the
//! identity users set with `-smbios type=N,...` (cloud-init's NoCloud seed in the serial
//! number, asset tags, UUIDs) and QEMU's description of the machine (processors per
//! socket, memory devices, the memory map).
//!
//! The file is a plain structure table (no entry point; QEMU gives that apart, in
//! `etc/smbios/smbios-anchor`, for firmware that installs the table as it is). As QEMU's
//! own firmware does, the firmware takes every structure as QEMU built it, with its handle,
//! since QEMU's structures refer to one another (the baseboard to the chassis, memory
//! devices and mapped ranges to their array); its own structures only fill in the types
//! QEMU gives none of (the BIOS information, unless `-smbios type=0` was given).
//!
//! The table is checked first, like a passed-through blob: a structure running past the
//! end, a formatted area that does not fit, a string set without its end, two structures
//! with one handle, or a handle in the reserved range are errors naming the structure.

use alloc::vec::Vec;

use super::FIRST_RESERVED_HANDLE;
use super::passthrough::{BlobFault, PassedStructure, SmbiosBlobError, string_set_end};

/// The fw_cfg file holding the structures.
pub const TABLES_FILE: &str = "etc/smbios/smbios-tables";
/// A structure header: type, length, handle.
const HEADER_LEN: usize = 4;
/// The end-of-table structure, which the firmware writes itself.
const TYPE_END_OF_TABLE: u8 = 127;

/// QEMU's structures, checked, in table order (its end-of-table structure left out).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QemuStructures<'a> {
    structures: Vec<PassedStructure<'a>>,
}

impl<'a> QemuStructures<'a> {
    /// Splits and checks `table`, up to its end-of-table structure or its end.
    pub fn parse(table: &'a [u8]) -> Result<Self, SmbiosBlobError> {
        let mut structures: Vec<PassedStructure<'a>> = Vec::new();
        let mut offset = 0;
        while offset < table.len() {
            let index = structures.len();
            let rest = &table[offset..];
            let kind = rest.first().copied();
            let fail = |reason| SmbiosBlobError { index, offset, kind, reason };
            if rest.len() < HEADER_LEN {
                return Err(fail(BlobFault::TrailingBytes(rest.len())));
            }
            let formatted = rest[1];
            if usize::from(formatted) < HEADER_LEN || usize::from(formatted) + 2 > rest.len() {
                return Err(fail(BlobFault::FormattedLength { formatted, length: rest.len() }));
            }
            let Some(len) = string_set_end(rest, usize::from(formatted)) else {
                return Err(fail(BlobFault::StringsEnd { length: rest.len(), end: None }));
            };
            let structure = PassedStructure { index, offset, bytes: &rest[..len] };
            if structure.kind() == TYPE_END_OF_TABLE {
                break;
            }
            let handle = structure.handle();
            if handle >= FIRST_RESERVED_HANDLE {
                return Err(fail(BlobFault::HandleReserved(handle)));
            }
            if let Some(first) = structures.iter().find(|s| s.handle() == handle) {
                return Err(fail(BlobFault::HandleRepeated { handle, first_index: first.index }));
            }
            structures.push(structure);
            offset += len;
        }
        Ok(QemuStructures { structures })
    }

    /// Every structure, in table order.
    pub fn structures(&self) -> &[PassedStructure<'a>] {
        &self.structures
    }

    /// The structures of type `kind`, in table order.
    pub fn of_type(&self, kind: u8) -> impl Iterator<Item = &PassedStructure<'a>> {
        self.structures.iter().filter(move |s| s.kind() == kind)
    }

    pub fn has(&self, kind: u8) -> bool {
        self.of_type(kind).next().is_some()
    }

    /// The types present, ascending, each once.
    pub fn types(&self) -> Vec<u8> {
        let mut types: Vec<u8> = self.structures.iter().map(PassedStructure::kind).collect();
        crate::sort::sort_unstable(&mut types);
        types.dedup();
        types
    }

    /// The handles QEMU's structures keep, which the firmware's must not take.
    pub fn handles(&self) -> Vec<u16> {
        self.structures.iter().map(PassedStructure::handle).collect()
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;

    /// A structure: header with `kind`, `handle` and `formatted` bytes in all, then strings.
    fn structure(kind: u8, handle: u16, formatted: u8, strings: &[&str]) -> Vec<u8> {
        let mut bytes = vec![kind, formatted];
        bytes.extend_from_slice(&handle.to_le_bytes());
        bytes.resize(usize::from(formatted), 0);
        for s in strings {
            bytes.extend_from_slice(s.as_bytes());
            bytes.push(0);
        }
        if strings.is_empty() {
            bytes.push(0);
        }
        bytes.push(0);
        bytes
    }

    #[test]
    fn splits_a_table_and_stops_at_its_end() {
        let table = [
            structure(1, 0x100, 0x1B, &["QEMU", "Standard PC"]),
            structure(3, 0x300, 0x16, &["QEMU"]),
            structure(4, 0x400, 0x30, &["CPU 0", "QEMU"]),
            structure(127, 0x7F00, 4, &[]),
            b"after the end".to_vec(),
        ]
        .concat();
        let parsed = QemuStructures::parse(&table).unwrap();
        assert_eq!(parsed.types(), [1, 3, 4]);
        assert_eq!(parsed.handles(), [0x100, 0x300, 0x400]);
        assert!(parsed.has(3) && !parsed.has(0));
        let system = parsed.of_type(1).next().unwrap();
        assert_eq!(system.bytes, &table[..system.bytes.len()]);
        assert!(system.bytes.ends_with(b"Standard PC\0\0"));
    }

    #[test]
    fn a_table_without_its_end_structure_ends_with_the_data() {
        let table = [structure(1, 0x100, 0x1B, &[]), structure(32, 0x2000, 0x0B, &[])].concat();
        assert_eq!(QemuStructures::parse(&table).unwrap().types(), [1, 32]);
        assert_eq!(QemuStructures::parse(&[]).unwrap().structures().len(), 0);
    }

    #[test]
    fn broken_tables_are_refused_naming_the_structure() {
        let good = structure(1, 0x100, 0x1B, &["QEMU"]);
        let fault = |table: &[u8]| QemuStructures::parse(table).unwrap_err();

        let truncated = [good.clone(), vec![3, 0x16, 0]].concat();
        let e = fault(&truncated);
        assert_eq!((e.index, e.offset, e.reason), (1, good.len(), BlobFault::TrailingBytes(3)));

        let mut short_formatted = good.clone();
        short_formatted[1] = 3;
        assert!(matches!(fault(&short_formatted).reason, BlobFault::FormattedLength { .. }));

        let unterminated = good[..good.len() - 1].to_vec();
        assert!(matches!(fault(&unterminated).reason, BlobFault::StringsEnd { end: None, .. }));

        let twice = [good.clone(), structure(3, 0x100, 0x16, &[])].concat();
        let e = fault(&twice);
        assert_eq!(e.kind, Some(3));
        assert_eq!(e.reason, BlobFault::HandleRepeated { handle: 0x100, first_index: 0 });

        let reserved = structure(2, 0xFF00, 0x0F, &[]);
        assert_eq!(fault(&reserved).reason, BlobFault::HandleReserved(0xFF00));
        assert!(fault(&twice).to_string().contains("structure 1 (type 3, at byte"));
    }
}
