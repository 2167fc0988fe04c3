//! ACPICA's tools: `iasl -d` for the .dsl text of every table, `acpixtract -a` for
//! acpidump-style text files; and the masks that make two disassemblies comparable.
//!
//! # Masks
//!
//! A masked .dsl differs from iasl's output only where the bytes say nothing about the
//! platform, so that a diff (and a golden file) shows what the OS would see differently:
//!
//! - the disassembly banner: iasl's version, copyright years and the date of the run;
//! - checksums (`Checksum`, `Extended Checksum`): they change with every other byte;
//! - `OEM Revision` and the ASL compiler revision: build identities, not behaviour (our
//!   DSDTs carry the version of the iasl that built them);
//! - pointers between tables (RSDP -> RSDT/XSDT, root table entries, FADT -> FACS/DSDT): the
//!   addresses depend on the RAM size and on how the firmware carves its ACPI area, so a
//!   non-zero pointer is replaced by the name of the table found there (`<FACP>`; `<address>`
//!   when it is unknown, as for tables read from a reference directory). A zero stays: "not
//!   set" matters (X_DSDT against DSDT, say);
//! - the raw hex dump iasl appends to data tables: it repeats the decoded fields above it,
//!   checksum and pointers included.
//!
//! Nothing in AML code is masked: an address in an OperationRegion is platform behaviour.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::extract::Table;
use crate::Result;

/// Runs `iasl -d` on every table in `dir` (written there before), leaving `NAME.dsl` next
/// to `NAME.aml`. DSDT and SSDTs get every other AML table as an external (`-e`), so that
/// references between them resolve instead of becoming guessed `External` declarations.
/// Returns iasl's complaints (its errors and warnings), which do not stop the dump.
pub fn disassemble(dir: &Path, tables: &[Table]) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for table in tables {
        if &table.signature == b"RSD " {
            let path = dir.join("RSDP.dsl");
            std::fs::write(&path, rsdp_dsl(&table.bytes))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            continue;
        }
        let mut cmd = Command::new("iasl");
        cmd.current_dir(dir);
        if table.is_aml() {
            let others: Vec<String> = tables
                .iter()
                .filter(|t| t.is_aml() && t.name != table.name)
                .map(Table::file_name)
                .collect();
            if !others.is_empty() {
                // `-e` takes a space-separated list, ended by the next option.
                cmd.arg("-e").args(others);
            }
        }
        cmd.arg("-d").arg(table.file_name());
        let out = cmd.output().map_err(|e| {
            format!("cannot run iasl: {e} (install ACPICA's tools: apt-get install acpica-tools)")
        })?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() || !dir.join(format!("{}.dsl", table.name)).exists() {
            return Err(format!("iasl -d {} failed:\n{text}", table.file_name()));
        }
        for line in text.lines().filter(|l| l.contains("Error") || l.contains("Warning")) {
            problems.push(format!("iasl -d {}: {}", table.file_name(), line.trim()));
        }
    }
    Ok(problems)
}

/// The RSDP in iasl's data-table layout: iasl 20200925 does not take an RSDP from a
/// binary file ("does not contain a valid ACPI table").
pub fn rsdp_dsl(b: &[u8]) -> String {
    let mut out = String::from(
        "/*\n * RSDP decoded by cargo xtask acpi-dump in iasl's data-table layout\n *\n \
         * Format: [HexOffset DecimalOffset ByteLength]  FieldName : FieldValue\n */\n\n",
    );
    let mut field = |offset: usize, length: usize, name: &str, value: String| {
        out.push_str(&format!("[{offset:03X}h {offset:04} {length:3}] {name:>28} : {value}\n"));
    };
    let text =
        |range: std::ops::Range<usize>| format!("\"{}\"", String::from_utf8_lossy(&b[range]));
    let hex = |range: std::ops::Range<usize>| {
        range.rev().map(|i| format!("{:02X}", b[i])).collect::<String>()
    };
    field(0, 8, "Signature", text(0..8));
    field(8, 1, "Checksum", hex(8..9));
    field(9, 6, "Oem ID", text(9..15));
    field(15, 1, "Revision", hex(15..16));
    field(16, 4, "RSDT Address", hex(16..20));
    if b.len() >= 36 {
        field(20, 4, "Length", hex(20..24));
        field(24, 8, "XSDT Address", hex(24..32));
        field(32, 1, "Extended Checksum", hex(32..33));
        field(33, 3, "Reserved", hex(33..36));
    }
    out
}

/// Writes the masked form of every `NAME.dsl` of `dir` into `masked_dir`.
pub fn write_masked(dir: &Path, tables: &[Table], masked_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(masked_dir).map_err(|e| format!("{}: {e}", masked_dir.display()))?;
    let names: HashMap<u64, String> =
        tables.iter().filter_map(|t| Some((t.address?, t.name.clone()))).collect();
    for table in tables {
        let source = dir.join(format!("{}.dsl", table.name));
        let text =
            std::fs::read_to_string(&source).map_err(|e| format!("{}: {e}", source.display()))?;
        let target = masked_dir.join(format!("{}.dsl", table.name));
        std::fs::write(&target, mask(&text, &names))
            .map_err(|e| format!("{}: {e}", target.display()))?;
    }
    Ok(())
}

/// Data-table fields whose value is a checksum or a build identity.
const MASKED_FIELDS: &[&str] =
    &["Checksum", "Extended Checksum", "Oem Revision", "Asl Compiler Revision"];
/// Data-table fields holding a pointer to another table.
const POINTER_FIELDS: &[&str] = &["RSDT Address", "XSDT Address", "FACS Address", "DSDT Address"];
/// The same, in the header comment iasl writes above a DefinitionBlock.
const MASKED_HEADER_COMMENTS: &[&str] = &["Checksum", "OEM Revision", "Compiler Version"];

const MASK: &str = "<masked>";

/// The masked form of one iasl disassembly; `names` maps table addresses to names.
pub fn mask(dsl: &str, names: &HashMap<u64, String>) -> String {
    let mut out = String::with_capacity(dsl.len());
    let mut in_raw_dump = false;
    for line in dsl.lines() {
        let trimmed = line.trim_start();
        if in_raw_dump && (trimmed.is_empty() || is_hex_dump_line(trimmed)) {
            continue;
        }
        in_raw_dump = false;
        let masked = if trimmed.starts_with("Raw Table Data:") {
            in_raw_dump = true;
            format!("{line}\n    {MASK} raw bytes: the fields above decode them")
        } else if trimmed.starts_with("* AML/ASL+ Disassembler version")
            || trimmed.starts_with("* Copyright (c)")
        {
            let keep = &line[..line.find(|c: char| c.is_ascii_digit()).unwrap_or(line.len())];
            format!("{keep}{MASK}")
        } else if let Some(rest) = trimmed.strip_prefix("* Disassembly of ") {
            // "DSDT.aml, Wed Nov 25 19:46:03 2026": keep the file name, drop the date.
            let file = rest.split(',').next().unwrap_or(rest);
            format!("{}* Disassembly of {file}", &line[..line.len() - trimmed.len()])
        } else if let Some(field) = comment_field(trimmed, MASKED_HEADER_COMMENTS) {
            format!("{}{MASK}", &line[..line.find(field).expect("field in line") + 17])
        } else if trimmed.starts_with("DefinitionBlock (") {
            // The last argument is the OEM revision.
            match line.rfind(", ") {
                Some(at) => format!("{}, {MASK})", &line[..at]),
                None => line.to_string(),
            }
        } else if let Some((label, value_at)) = data_field(line) {
            let value = line[value_at..].trim();
            if MASKED_FIELDS.contains(&label) {
                format!("{}{MASK}", &line[..value_at])
            } else if is_pointer_field(label) {
                match u64::from_str_radix(value, 16) {
                    Ok(0) | Err(_) => line.to_string(),
                    Ok(address) => {
                        let name = names.get(&address).map_or("address", String::as_str);
                        format!("{}<{name}>", &line[..value_at])
                    }
                }
            } else {
                line.to_string()
            }
        } else {
            line.to_string()
        };
        out.push_str(&masked);
        out.push('\n');
    }
    out
}

/// `0000: 46 41 43 50 ...  // FACP...` lines of iasl's raw dump.
fn is_hex_dump_line(trimmed: &str) -> bool {
    let b = trimmed.as_bytes();
    b.len() > 6 && b[..4].iter().all(u8::is_ascii_hexdigit) && b[4] == b':'
}

/// In ` *     Checksum         0x80`, the field name when it is one of `fields`.
fn comment_field<'a>(trimmed: &str, fields: &[&'a str]) -> Option<&'a str> {
    let rest = trimmed.strip_prefix('*')?;
    // The header comment indents its fields by five spaces and pads names to 17 columns.
    let rest = rest.strip_prefix("     ")?;
    fields
        .iter()
        .copied()
        .find(|f| rest.starts_with(f) && rest.len() > 17 && rest[f.len()..17].trim().is_empty())
}

/// `[009h 0009   1]                     Checksum : C8` -> ("Checksum", offset of "C8").
fn data_field(line: &str) -> Option<(&str, usize)> {
    if !line.starts_with('[') {
        return None;
    }
    let label_start = line.find(']')? + 1;
    let colon = label_start + line[label_start..].find(" : ")?;
    Some((line[label_start..colon].trim(), colon + 3))
}

fn is_pointer_field(label: &str) -> bool {
    POINTER_FIELDS.contains(&label)
        || label.strip_prefix("ACPI Table Address").is_some_and(|n| n.trim().parse::<u32>().is_ok())
}

/// Runs `acpixtract -a` on an acpidump-style text file into `into`; returns the files it
/// wrote (`dsdt.dat`, `ssdt1.dat`...).
pub fn acpixtract(file: &Path, into: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(into).map_err(|e| format!("{}: {e}", into.display()))?;
    let file = std::path::absolute(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let out = Command::new("acpixtract")
        .current_dir(into)
        .arg("-a")
        .arg(&file)
        .output()
        .map_err(|e| format!("cannot run acpixtract: {e} (apt-get install acpica-tools)"))?;
    if !out.status.success() {
        return Err(format!(
            "acpixtract -a {} failed:\n{}{}",
            file.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(into)
        .map_err(|e| format!("{}: {e}", into.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "dat"))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FADT: &str = "\
/*
 * Intel ACPI Component Architecture
 * AML/ASL+ Disassembler version 20200925 (64-bit version)
 * Copyright (c) 2000 - 2020 Intel Corporation
 * 
 * Disassembly of FACP.aml, Wed Nov 25 19:45:58 2026
 */

[009h 0009   1]                     Checksum : C8
[018h 0024   4]                 Oem Revision : 00000001
[024h 0036   4]                 FACS Address : FC001000
[028h 0040   4]                 DSDT Address : FC001040
[038h 0056   4]     PM1A Event Block Address : 0000B000
[084h 0132   8]                 FACS Address : 0000000000000000

Raw Table Data: Length 244 (0xF4)

    0000: 46 41 43 50 F4 00 00 00 04 C8 58 65 6E 00 00 00  // FACP......Xen...
    0010: 48 56 4D 00 00 00 00 00 00 00 00 00 48 56 4D 4C  // HVM.........HVML
";

    #[test]
    fn data_tables_lose_checksums_pointers_and_the_raw_dump() {
        let names = HashMap::from([(0xFC00_1000, "FACS".to_string())]);
        let masked = mask(FADT, &names);
        let expected = "\
/*
 * Intel ACPI Component Architecture
 * AML/ASL+ Disassembler version <masked>
 * Copyright (c) <masked>
 * 
 * Disassembly of FACP.aml
 */

[009h 0009   1]                     Checksum : <masked>
[018h 0024   4]                 Oem Revision : <masked>
[024h 0036   4]                 FACS Address : <FACS>
[028h 0040   4]                 DSDT Address : <address>
[038h 0056   4]     PM1A Event Block Address : 0000B000
[084h 0132   8]                 FACS Address : 0000000000000000

Raw Table Data: Length 244 (0xF4)
    <masked> raw bytes: the fields above decode them
";
        assert_eq!(masked, expected);
    }

    #[test]
    fn aml_headers_lose_checksum_and_revisions() {
        let dsl = "\
 * Original Table Header:
 *     Signature        \"DSDT\"
 *     Checksum         0x80
 *     OEM Revision     0x00000000 (0)
 *     Compiler Version 0x20200925 (538970405)
 */
DefinitionBlock (\"\", \"DSDT\", 2, \"Xen\", \"HVM\", 0x00000001)
{
    OperationRegion (BIOS, SystemMemory, 0xFC000000, 0xFF)
";
        let expected = "\
 * Original Table Header:
 *     Signature        \"DSDT\"
 *     Checksum         <masked>
 *     OEM Revision     <masked>
 *     Compiler Version <masked>
 */
DefinitionBlock (\"\", \"DSDT\", 2, \"Xen\", \"HVM\", <masked>)
{
    OperationRegion (BIOS, SystemMemory, 0xFC000000, 0xFF)
";
        assert_eq!(mask(dsl, &HashMap::new()), expected);
    }

    #[test]
    fn rsdp_is_decoded_like_iasl_decodes_data_tables() {
        let mut rsdp = b"RSD PTR \x2cXen   \x02".to_vec();
        rsdp.extend_from_slice(&[0x50, 0xbe, 0xfb, 0x1f, 0x24, 0, 0, 0]);
        rsdp.extend_from_slice(&[0xf0, 0xbd, 0xfb, 0x1f, 0, 0, 0, 0, 0x15, 0, 0, 0]);
        let dsl = rsdp_dsl(&rsdp);
        assert!(dsl.contains("\n[000h 0000   8]                    Signature : \"RSD PTR \"\n"));
        assert!(dsl.contains("\n[010h 0016   4]                 RSDT Address : 1FFBBE50\n"));
        assert!(
            dsl.contains("\n[018h 0024   8]                 XSDT Address : 000000001FFBBDF0\n")
        );
        assert!(dsl.ends_with("[021h 0033   3]                     Reserved : 000000\n"));
    }

    #[test]
    fn root_table_entries_become_names() {
        let line = "[024h 0036   8]       ACPI Table Address   0 : 000000001FFBC070";
        let names = HashMap::from([(0x1FFB_C070, "FACP".to_string())]);
        assert_eq!(mask(line, &names), "[024h 0036   8]       ACPI Table Address   0 : <FACP>\n");
    }
}
