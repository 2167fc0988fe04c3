use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::bootinfo::PhysRange;
use crate::smbios::{CpuTopology, SmbiosInfo, SmbiosTable};

/// One structure as it lies in the blob: formatted area (header, then `fields`) and
/// strings, without the length field.
fn structure(kind: u8, handle: u16, fields: &[u8], strings: &[&str]) -> Vec<u8> {
    let mut bytes = vec![kind, (4 + fields.len()) as u8];
    bytes.extend_from_slice(&handle.to_le_bytes());
    bytes.extend_from_slice(fields);
    if strings.is_empty() {
        bytes.extend_from_slice(&[0, 0]);
    } else {
        for s in strings {
            bytes.extend_from_slice(s.as_bytes());
            bytes.push(0);
        }
        bytes.push(0);
    }
    bytes
}

/// `structures`, each preceded by its 32-bit length: the blob format.
fn blob(structures: &[Vec<u8>]) -> Vec<u8> {
    let mut blob = Vec::new();
    for s in structures {
        blob.extend_from_slice(&(s.len() as u32).to_le_bytes());
        blob.extend_from_slice(s);
    }
    blob
}

/// A type 1 as a vendor's firmware writes it: 0x1B bytes, manufacturer and product.
fn vendor_system() -> Vec<u8> {
    let mut fields = vec![1, 2, 0, 0];
    fields.extend_from_slice(&[0xAB; 16]); // UUID
    fields.extend_from_slice(&[0x06, 0, 0]); // wake-up type, SKU, family
    structure(1, 0x0100, &fields, &["Vendor Inc.", "Model 7"])
}

/// A type 2 naming chassis handle 0x0300 at 0x0B.
fn vendor_board() -> Vec<u8> {
    let fields = [1, 2, 0, 0, 0, 0x09, 0, 0x00, 0x03, 0x0A, 0];
    structure(2, 0x0200, &fields, &["Vendor Inc.", "Board 9"])
}

/// The structures of a table, walked by formatted length and string-set end.
fn walk(table: &[u8]) -> Vec<(u8, u16, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < table.len() {
        let end = string_set_end(table, at + usize::from(table[at + 1])).expect("string set");
        out.push((table[at], u16::from_le_bytes([table[at + 2], table[at + 3]]), &table[at..end]));
        at = end;
    }
    out
}

fn build(passthrough: Option<&SmbiosPassthrough<'_>>) -> SmbiosTable {
    let ram = [PhysRange { start: 0, end: 0x8000_0000 }];
    let mut info = SmbiosInfo::new(CpuTopology::sockets_only(2), &ram);
    info.passthrough = passthrough;
    SmbiosTable::build(&info).unwrap()
}

fn fault(blob: &[u8]) -> SmbiosBlobError {
    SmbiosPassthrough::parse(blob).unwrap_err()
}

#[test]
fn each_structure_gets_hvmloaders_treatment() {
    let blob = blob(&[
        vendor_system(),
        structure(17, 0x1100, &[0; 0x24], &[]),
        structure(0x85, 5, &[0xEE; 3], &["activation"]),
        vendor_board(),
        structure(1, 0x0101, &[0; 0x17], &[]),
        structure(11, 0x0B00, &[2], &["oem one", "oem two"]),
        structure(0x86, 0x0FFF, &[], &[]),
        structure(127, 0x7F00, &[], &[]),
    ]);
    let passed = SmbiosPassthrough::parse(&blob).unwrap();
    let uses: Vec<Use> = passed.structures().iter().map(|s| passed.use_of(s)).collect();
    assert_eq!(
        uses,
        [
            Use::Replaces,
            Use::IgnoredType,
            Use::AddedWithItsHandle,
            Use::Replaces,
            Use::IgnoredRepeat,
            Use::Added,
            Use::AddedWithItsHandle,
            Use::IgnoredType,
        ]
    );
    assert_eq!(passed.single(1).unwrap().index, 0, "the first type 1 counts");
    assert_eq!(passed.single(17), None);
    assert_eq!(passed.kept_handles(), [5, 0x0FFF]);
    assert_eq!(passed.structures()[2].offset, 4 + vendor_system().len() + 4 + 0x28 + 2);
}

#[test]
fn the_table_takes_replacements_additions_and_vendor_structures() {
    let system = vendor_system();
    let board = vendor_board();
    let oem = structure(11, 0x0B00, &[1], &["oem"]);
    let activation = structure(0x85, 5, &[0xEE; 3], &["activation"]);
    let blob = blob(&[
        system.clone(),
        board,
        oem.clone(),
        activation.clone(),
        structure(17, 0x1100, &[0; 0x24], &[]),
    ]);
    let passed = SmbiosPassthrough::parse(&blob).unwrap();
    let ours = build(None);
    let table = build(Some(&passed));
    let structures = walk(table.as_bytes());
    let kinds: Vec<u8> = structures.iter().map(|s| s.0).collect();
    assert_eq!(kinds, [0, 1, 2, 3, 4, 4, 11, 16, 17, 19, 32, 0x85, 127]);
    assert_eq!(usize::from(table.structure_count()), structures.len());

    // Handles: unique, the vendor structure keeps 5, the firmware's skip it.
    let handles: Vec<u16> = structures.iter().map(|s| s.1).collect();
    assert_eq!(handles, [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 5, 12]);

    // The replacement is the blob's structure but for the handle.
    let (_, _, type1) = structures[1];
    assert_eq!(type1[..2], system[..2]);
    assert_eq!(type1[4..], system[4..]);
    // The board names the table's chassis.
    let (_, chassis_handle, _) = structures[3];
    assert_eq!(structures[2].2[0x0B..0x0D], chassis_handle.to_le_bytes());
    assert_eq!(structures[6].2[4..], oem[4..]);
    assert_eq!(structures[11].2, &activation[..]);
    // Memory stays the firmware's: type 17 from the blob is not used.
    let our_kinds: Vec<u8> = walk(ours.as_bytes()).iter().map(|s| s.0).collect();
    assert_eq!(our_kinds, [0, 1, 2, 3, 4, 4, 16, 17, 19, 32, 127]);
    let max = structures.iter().map(|s| s.2.len()).max().unwrap();
    assert_eq!(usize::from(table.max_structure_size()), max);
}

#[test]
fn a_board_without_a_chassis_keeps_none() {
    let fields = [1, 2, 0, 0, 0, 0x09, 0, 0x00, 0x00, 0x0A, 0];
    let board = structure(2, 0x0200, &fields, &["Vendor Inc.", "Board 9"]);
    let short_board = structure(2, 0x0200, &[1, 2, 0, 0], &["Vendor Inc.", "Board 9"]);
    // Nothing but the handle changes: no chassis stays none, and a board too short for the
    // field has its strings there.
    for board in [board, short_board] {
        let blob = blob(core::slice::from_ref(&board));
        let passed = SmbiosPassthrough::parse(&blob).unwrap();
        let table = build(Some(&passed));
        let structures = walk(table.as_bytes());
        assert_eq!(structures[2].2[4..], board[4..]);
    }
}

#[test]
fn an_empty_blob_changes_nothing() {
    let passed = SmbiosPassthrough::parse(&[]).unwrap();
    assert!(passed.structures().is_empty());
    assert_eq!(build(Some(&passed)), build(None));
}

#[test]
fn malformed_blobs_are_named_in_one_line() {
    let good = vendor_system();
    let mut trailing = blob(core::slice::from_ref(&good));
    trailing.extend_from_slice(&[1, 2]);
    let e = fault(&trailing);
    assert_eq!((e.index, e.offset, e.kind), (1, 4 + good.len(), None));
    assert_eq!(e.reason, BlobFault::TrailingBytes(2));
    assert_eq!(
        e.to_string(),
        "structure 1 (at byte 0x34): 2 byte(s) left, too few for a 32-bit length field"
    );

    let mut past_end = blob(core::slice::from_ref(&good));
    past_end[0] += 1;
    let e = fault(&past_end);
    assert_eq!(e.reason, BlobFault::PastTheEnd { length: good.len() as u32 + 1, left: good.len() });
    assert_eq!(
        e.to_string(),
        "structure 0 (type 1, at byte 0x0): its length 49 runs past the end of the blob (48 \
         bytes left)"
    );

    let e = fault(&[4, 0, 0, 0, 1, 4, 0, 0]);
    assert_eq!(e.reason, BlobFault::TooShort(4));

    let mut formatted_too_long = good.clone();
    formatted_too_long[1] = good.len() as u8;
    let e = fault(&blob(&[formatted_too_long]));
    assert!(matches!(e.reason, BlobFault::FormattedLength { .. }), "{e}");
    let mut formatted_too_short = good.clone();
    formatted_too_short[1] = 3;
    assert!(matches!(
        fault(&blob(&[formatted_too_short])).reason,
        BlobFault::FormattedLength { .. }
    ));

    // The length field covers one byte beyond the string set (the next structure's type).
    let mut long_strings = good.clone();
    long_strings.push(0x85);
    let e = fault(&blob(&[long_strings]));
    assert_eq!(e.reason, BlobFault::StringsEnd { length: good.len() + 1, end: Some(good.len()) });
    // A string set cut before its final NUL.
    let cut = &good[..good.len() - 1];
    let e = fault(&blob(&[cut.to_vec()]));
    assert_eq!(e.reason, BlobFault::StringsEnd { length: good.len() - 1, end: None });
    assert!(e.to_string().contains("no end (double NUL)"), "{e}");

    let twins = blob(&[structure(0x85, 7, &[], &[]), structure(0x90, 7, &[], &[])]);
    let e = fault(&twins);
    assert_eq!(
        (e.index, e.reason.clone()),
        (1, BlobFault::HandleRepeated { handle: 7, first_index: 0 })
    );
    let reserved = blob(&[structure(0x85, 0xFF00, &[], &[])]);
    assert_eq!(fault(&reserved).reason, BlobFault::HandleReserved(0xFF00));
    // Firmware types take the table's handles, so theirs may repeat.
    assert!(SmbiosPassthrough::parse(&blob(&[vendor_system(), vendor_board()])).is_ok());
}

#[test]
fn string_sets_end_where_the_specification_says() {
    assert_eq!(string_set_end(&[9, 9, 0, 0], 2), Some(4));
    assert_eq!(string_set_end(b"\x09ab\0c\0\0", 1), Some(7));
    assert_eq!(string_set_end(b"\x09\0a\0\0", 1), None, "an empty first string");
    assert_eq!(string_set_end(b"\x09ab\0", 1), None);
    assert_eq!(string_set_end(b"\x09", 1), None);
}
