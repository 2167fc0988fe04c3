//! The TPM tables against what iasl's data table compiler makes of the same fields, and
//! buffers of concatenated iasl output split back into their tables.

mod common;

use libacpi::tables::{ConcatenatedTables, Tcpa, Tpm2, Tpm2StartMethod};
use libacpi::{Error, HEADER_LENGTH, OemIds, Signature, Table, checksum};

/// Header fields iasl takes from the source; it writes its own compiler ID and revision.
const HEADER_SOURCE: &str = r#"
[0006]                             Oem ID : "Xen   "
[0008]                       Oem Table ID : "HVM     "
[0004]                       Oem Revision : 00000000
[0004]                    Asl Compiler ID : "HVML"
[0004]              Asl Compiler Revision : 00000000
"#;

fn write(table: &dyn Table) -> Vec<u8> {
    let mut bytes = vec![0u8; table.length()];
    assert_eq!(table.write(&OemIds::xen(), &mut bytes), Ok(table.length()));
    assert_eq!(checksum::sum(&bytes), 0, "{}", table.signature());
    bytes
}

/// Signature, length and revision equal, and every byte after the header.
fn assert_same_table(ours: &[u8], iasl: &[u8]) {
    assert_eq!(ours.len(), iasl.len(), "length");
    assert_eq!(ours[..9], iasl[..9], "signature, length, revision");
    assert_eq!(ours[HEADER_LENGTH..], iasl[HEADER_LENGTH..], "body");
}

#[test]
fn tcpa_client_matches_iasl() {
    let ours = write(&Tcpa::client(0xFC01_2340, 0x1_0000));
    let source = format!(
        r#"
[0004]                          Signature : "TCPA"
[0004]                       Table Length : 00000032
[0001]                           Revision : 02
[0001]                           Checksum : 00
{HEADER_SOURCE}
[0002]                     Platform Class : 0000
[0004]               Min Event Log Length : 00010000
[0008]                  Event Log Address : 00000000FC012340
"#
    );
    assert_same_table(&ours, &common::iasl_compile_table("tcpa", &source));
    let dsl = common::iasl_disassemble("tcpa-dis", &ours);
    assert!(dsl.contains("Min Event Log Length : 00010000"), "{dsl}");
    assert!(dsl.contains("Event Log Address : 00000000FC012340"), "{dsl}");
}

#[test]
fn tpm2_crb_matches_iasl() {
    let ours = write(&Tpm2::crb(0xFED4_0040, 0xFC01_2340, 0x1_0000));
    assert_eq!(ours.len(), 76, "the length Linux and SeaBIOS need to find the log");
    let source = format!(
        r#"
[0004]                          Signature : "TPM2"
[0004]                       Table Length : 0000004C
[0001]                           Revision : 04
[0001]                           Checksum : 00
{HEADER_SOURCE}
[0002]                     Platform Class : 0000
[0002]                           Reserved : 0000
[0008]                    Control Address : 00000000FED40040
[0004]                       Start Method : 07
[0012]                  Method Parameters : 00 00 00 00 00 00 00 00 00 00 00 00
[0004]                 Minimum Log Length : 00010000
[0008]                        Log Address : 00000000FC012340
"#
    );
    assert_same_table(&ours, &common::iasl_compile_table("tpm2", &source));
    let dsl = common::iasl_disassemble("tpm2-dis", &ours);
    assert!(dsl.contains("Start Method : 07 [Command Response Buffer]"), "{dsl}");
    assert!(dsl.contains("Log Address : 00000000FC012340"), "{dsl}");
}

#[test]
fn tpm_tables_refuse_impossible_log_areas() {
    let mut out = [0u8; 128];
    let ids = OemIds::xen();
    let field = |r: Result<usize, Error>| match r {
        Err(Error::InvalidField { reason, .. }) => reason,
        other => panic!("expected a field error, got {other:?}"),
    };
    assert!(field(Tcpa::client(0, 0x1000).write(&ids, &mut out)).contains("address 0"));
    assert!(field(Tcpa::client(0x1000, 0).write(&ids, &mut out)).contains("empty"));
    assert!(field(Tcpa::client(u64::MAX, 2).write(&ids, &mut out)).contains("wraps"));
    assert!(field(Tpm2::crb(0, 0x1000, 0x1000).write(&ids, &mut out)).contains("control area"));
    assert!(field(Tpm2::crb(0xFED4_0040, 0x1000, 0).write(&ids, &mut out)).contains("empty"));
    let fifo = Tpm2 { control_area: 0, start_method: Tpm2StartMethod::Fifo, ..Tpm2::crb(1, 2, 3) };
    assert_eq!(fifo.write(&ids, &mut out), Ok(Tpm2::LENGTH));
    assert!(matches!(
        Tcpa::client(0x1000, 0x1000).write(&ids, &mut out[..40]),
        Err(Error::BufferTooSmall { .. })
    ));
}

#[test]
fn concatenated_iasl_tables_split_back() {
    let first = common::iasl_compile_table(
        "blob-1",
        "DefinitionBlock (\"\", \"SSDT\", 2, \"OEM\", \"ONE\", 1) { Name (\\AAAA, 1) }",
    );
    let second = common::iasl_compile_table(
        "blob-2",
        "DefinitionBlock (\"\", \"SSDT\", 2, \"OEM\", \"TWO\", 1) { Name (\\BBBB, \"two\") }",
    );
    let tcpa = write(&Tcpa::client(0x1000, 0x1000));
    let blob = [first.as_slice(), &second, &tcpa].concat();
    let tables: Vec<_> = ConcatenatedTables::new(&blob).collect::<Result<_, _>>().unwrap();
    assert_eq!(tables.len(), 3);
    assert_eq!(tables[0].table.bytes(), first.as_slice());
    assert_eq!(tables[1].table.bytes(), second.as_slice());
    assert_eq!((tables[2].index, tables[2].offset), (2, first.len() + second.len()));
    assert_eq!(tables[2].table.signature(), Signature::TCPA);

    // Cut inside the last table: named, with its place.
    let cut = &blob[..blob.len() - 1];
    let error = ConcatenatedTables::new(cut).find_map(Result::err).unwrap();
    assert_eq!(
        error.to_string(),
        format!(
            "table 2 of the passed-through blob (TCPA at byte {:#x}): its length runs past the \
             end of the blob",
            first.len() + second.len()
        )
    );
}
