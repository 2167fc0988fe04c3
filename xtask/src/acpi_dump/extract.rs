//! Finding the installed tables in guest memory the way an OS does: the RSDP in the BIOS
//! area, then RSDP -> XSDT (or RSDT) -> every table, and FADT -> DSDT and FACS.

use std::path::Path;

use crate::Result;
use crate::qmp::GuestMemory;

/// Where legacy (BIOS) OSes look for the RSDP: on 16-byte boundaries of the read-only BIOS
/// area (ACPI 6.5, 5.2.5.1). The first KiB of the EBDA is the other place the spec names;
/// neither our firmware nor SeaBIOS puts it there.
pub const RSDP_SCAN: std::ops::Range<u64> = 0xE_0000..0x10_0000;

const HEADER_LEN: usize = 36;
/// A sanity bound on a table's length field: a bad pointer must not make us dump gigabytes.
const MAX_TABLE_LEN: u32 = 4 << 20;

/// One table as found in memory.
#[derive(Clone, Debug)]
pub struct Table {
    /// File stem: the signature, SSDTs numbered in root-table order (SSDT1, SSDT2...), a
    /// repeated signature numbered from its second instance (e.g. `BGRT2`), `RSDP`.
    pub name: String,
    pub signature: [u8; 4],
    /// Guest-physical address; unknown for tables read from a reference directory.
    pub address: Option<u64>,
    pub bytes: Vec<u8>,
}

impl Table {
    pub fn file_name(&self) -> String {
        let extension = if self.name == "RSDP" { "dat" } else { "aml" };
        format!("{}.{extension}", self.name)
    }

    pub fn is_aml(&self) -> bool {
        &self.signature == b"DSDT" || &self.signature == b"SSDT"
    }
}

/// Every table reachable from the RSDP, and what was wrong on the way.
#[derive(Debug, Default)]
pub struct Extracted {
    /// RSDP first, then the root tables, then the others in root-table order, each
    /// followed by what it points to (FADT -> DSDT, FACS).
    pub tables: Vec<Table>,
    /// Checksum failures, pointers that disagree, unreadable entries: reported, not fatal,
    /// because a dump tool must show broken tables too.
    pub problems: Vec<String>,
}

pub fn checksum_ok(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |sum, b| sum.wrapping_add(*b)) == 0
}

/// Little-endian fields at byte offset `o` (callers check the length first).
pub fn le16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
pub fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"))
}
pub fn le64(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"))
}

/// The valid RSDP at `offset` of `area`, if any: signature, the ACPI 1.0 checksum over 20
/// bytes, and for revision 2+ the length and the extended checksum.
pub fn rsdp_at(area: &[u8], offset: usize) -> Option<&[u8]> {
    let candidate = area.get(offset..)?;
    if candidate.len() < 20 || &candidate[..8] != b"RSD PTR " || !checksum_ok(&candidate[..20]) {
        return None;
    }
    if candidate[15] < 2 {
        return Some(&candidate[..20]);
    }
    let length = le32(candidate, 20) as usize;
    if !(36..=candidate.len()).contains(&length) || !checksum_ok(&candidate[..length]) {
        return None;
    }
    Some(&candidate[..length])
}

/// Addresses of every valid RSDP in the scan area, lowest first.
pub fn scan_rsdps(memory: &mut dyn GuestMemory) -> Result<Vec<(u64, Vec<u8>)>> {
    let area = memory.read(RSDP_SCAN.start, (RSDP_SCAN.end - RSDP_SCAN.start) as usize)?;
    Ok((0..area.len())
        .step_by(16)
        .filter_map(|offset| {
            rsdp_at(&area, offset).map(|r| (RSDP_SCAN.start + offset as u64, r.to_vec()))
        })
        .collect())
}

/// Reads the table at `address`: its header first for the length, then all of it.
fn read_table(memory: &mut dyn GuestMemory, address: u64) -> Result<Vec<u8>> {
    let header = memory.read(address, HEADER_LEN)?;
    let length = le32(&header, 4);
    if (length as usize) < HEADER_LEN || length > MAX_TABLE_LEN {
        let signature = String::from_utf8_lossy(&header[..4]);
        return Err(format!("table at {address:#x} (\"{signature}\") has length {length}"));
    }
    memory.read(address, length as usize)
}

/// The FACS has its own layout: signature and length, no checksum, at least 64 bytes.
fn read_facs(memory: &mut dyn GuestMemory, address: u64) -> Result<Vec<u8>> {
    let head = memory.read(address, 8)?;
    let length = le32(&head, 4);
    if &head[..4] != b"FACS" || !(64..=MAX_TABLE_LEN).contains(&length) {
        return Err(format!("no FACS at {address:#x}"));
    }
    memory.read(address, length as usize)
}

/// Walks everything reachable from the RSDP at `rsdp_address`.
pub fn walk(memory: &mut dyn GuestMemory, rsdp_address: u64, rsdp: Vec<u8>) -> Extracted {
    let mut out = Extracted::default();
    let revision = rsdp[15];
    let rsdt = u64::from(le32(&rsdp, 16));
    let xsdt = if revision >= 2 { le64(&rsdp, 24) } else { 0 };
    out.tables.push(Table {
        name: "RSDP".into(),
        signature: *b"RSD ",
        address: Some(rsdp_address),
        bytes: rsdp,
    });

    // Both root tables are dumped; the XSDT is the one an ACPI 2.0+ OS follows.
    let mut entries_by_root = Vec::new();
    for (signature, address, entry_size) in [(*b"XSDT", xsdt, 8), (*b"RSDT", rsdt, 4)] {
        if address == 0 {
            continue;
        }
        let name = String::from_utf8_lossy(&signature).into_owned();
        match read_table(memory, address) {
            Ok(bytes) if bytes[..4] == signature => {
                if !checksum_ok(&bytes) {
                    out.problems.push(format!("{name} at {address:#x}: bad checksum"));
                }
                let entries: Vec<u64> = bytes[HEADER_LEN..]
                    .chunks_exact(entry_size)
                    .map(|e| if entry_size == 8 { le64(e, 0) } else { u64::from(le32(e, 0)) })
                    .collect();
                entries_by_root.push((name.clone(), entries));
                out.tables.push(Table { name, signature, address: Some(address), bytes });
            }
            Ok(_) => out.problems.push(format!("RSDP points to no {name} at {address:#x}")),
            Err(e) => out.problems.push(format!("{name}: {e}")),
        }
    }
    let Some((root_name, entries)) = entries_by_root.first().cloned() else {
        out.problems.push("no usable XSDT or RSDT".into());
        return out;
    };
    if let [(_, xsdt_entries), (_, rsdt_entries)] = entries_by_root.as_slice()
        && xsdt_entries != rsdt_entries
    {
        out.problems.push(format!(
            "XSDT and RSDT list different tables (XSDT {xsdt_entries:x?}, RSDT {rsdt_entries:x?})"
        ));
    }

    let mut namer = Namer::default();
    for address in entries {
        let bytes = match read_table(memory, address) {
            Ok(bytes) => bytes,
            Err(e) => {
                out.problems.push(format!("{root_name} entry: {e}"));
                continue;
            }
        };
        let signature: [u8; 4] = bytes[..4].try_into().expect("4 bytes");
        let name = namer.name(signature);
        if !checksum_ok(&bytes) {
            out.problems.push(format!("{name} at {address:#x}: bad checksum"));
        }
        let is_fadt = &signature == b"FACP";
        out.tables.push(Table { name, signature, address: Some(address), bytes });
        if is_fadt {
            let fadt = out.tables.last().expect("just pushed").bytes.clone();
            follow_fadt(memory, &fadt, &mut namer, &mut out);
        }
    }
    out
}

/// FADT -> DSDT and FACS, the 64-bit X_ fields first (ACPI 6.5, 5.2.9: when both are
/// set, the 32-bit field must be zero or equal; a disagreement is reported).
fn follow_fadt(memory: &mut dyn GuestMemory, fadt: &[u8], namer: &mut Namer, out: &mut Extracted) {
    let pointer = |legacy_at: usize, x_at: usize, what: &str, problems: &mut Vec<String>| {
        let legacy = if fadt.len() >= legacy_at + 4 { u64::from(le32(fadt, legacy_at)) } else { 0 };
        let x = if fadt.len() >= x_at + 8 { le64(fadt, x_at) } else { 0 };
        if x != 0 && legacy != 0 && x != legacy {
            problems.push(format!("FADT: {what} {legacy:#x} and X_{what} {x:#x} disagree"));
        }
        if x != 0 { x } else { legacy }
    };
    let facs = pointer(36, 132, "FIRMWARE_CTRL", &mut out.problems);
    let dsdt = pointer(40, 140, "DSDT", &mut out.problems);
    if dsdt != 0 {
        match read_table(memory, dsdt) {
            Ok(bytes) if &bytes[..4] == b"DSDT" => {
                if !checksum_ok(&bytes) {
                    out.problems.push(format!("DSDT at {dsdt:#x}: bad checksum"));
                }
                let name = namer.name(*b"DSDT");
                out.tables.push(Table { name, signature: *b"DSDT", address: Some(dsdt), bytes });
            }
            Ok(_) => out.problems.push(format!("FADT points to no DSDT at {dsdt:#x}")),
            Err(e) => out.problems.push(format!("DSDT: {e}")),
        }
    } else {
        out.problems.push("FADT has no DSDT".into());
    }
    // Hardware-reduced platforms may have no FACS; QEMU's and ours always have one.
    if facs != 0 {
        match read_facs(memory, facs) {
            Ok(bytes) => {
                let name = namer.name(*b"FACS");
                out.tables.push(Table { name, signature: *b"FACS", address: Some(facs), bytes });
            }
            Err(e) => out.problems.push(format!("FACS: {e}")),
        }
    }
}

/// File names for tables: `SSDT1, SSDT2...` always numbered (as Linux's
/// /sys/firmware/acpi/tables and acpixtract do), other signatures numbered from their
/// second instance. Non-printable signature bytes become `_`.
#[derive(Default)]
pub struct Namer {
    seen: Vec<([u8; 4], usize)>,
}

impl Namer {
    pub fn name(&mut self, signature: [u8; 4]) -> String {
        let count = match self.seen.iter_mut().find(|(s, _)| *s == signature) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                self.seen.push((signature, 1));
                1
            }
        };
        let base: String = signature
            .iter()
            .map(|&b| if b.is_ascii_alphanumeric() { b as char } else { '_' })
            .collect();
        if &signature == b"SSDT" || count > 1 { format!("{base}{count}") } else { base }
    }
}

/// Writes every table as `name.aml` (`RSDP.dat`) into `dir`.
pub fn write_tables(tables: &[Table], dir: &Path) -> Result<()> {
    for table in tables {
        let path = dir.join(table.file_name());
        std::fs::write(&path, &table.bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// OEM ID and OEM table ID, padding trimmed (the RSDP has only an OEM ID).
pub fn oem_ids(bytes: &[u8]) -> (String, String) {
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim_end_matches(['\0', ' ']).to_string();
    if bytes.len() >= HEADER_LEN && &bytes[..8] != b"RSD PTR " {
        (text(&bytes[10..16]), text(&bytes[16..24]))
    } else if bytes.len() >= 15 {
        (text(&bytes[9..15]), String::new())
    } else {
        Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Guest memory as a sparse list of (address, bytes).
    struct FakeMemory(Vec<(u64, Vec<u8>)>);

    impl GuestMemory for FakeMemory {
        fn read(&mut self, address: u64, length: usize) -> Result<Vec<u8>> {
            let mut out = vec![0u8; length];
            for (base, bytes) in &self.0 {
                for (i, b) in bytes.iter().enumerate() {
                    let a = base + i as u64;
                    if (address..address + length as u64).contains(&a) {
                        out[(a - address) as usize] = *b;
                    }
                }
            }
            Ok(out)
        }
    }

    fn fix_checksum(bytes: &mut [u8], at: usize, over: usize) {
        bytes[at] = 0;
        let sum = bytes[..over].iter().fold(0u8, |s, b| s.wrapping_add(*b));
        bytes[at] = sum.wrapping_neg();
    }

    fn table(signature: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0u8; HEADER_LEN];
        bytes[..4].copy_from_slice(signature);
        bytes.extend_from_slice(body);
        let len = bytes.len() as u32;
        bytes[4..8].copy_from_slice(&len.to_le_bytes());
        bytes[8] = 2;
        bytes[10..13].copy_from_slice(b"TST");
        fix_checksum(&mut bytes, 9, len as usize);
        bytes
    }

    fn rsdp(xsdt: u64, rsdt: u32) -> Vec<u8> {
        let mut bytes = vec![0u8; 36];
        bytes[..8].copy_from_slice(b"RSD PTR ");
        bytes[9..12].copy_from_slice(b"TST");
        bytes[15] = 2;
        bytes[16..20].copy_from_slice(&rsdt.to_le_bytes());
        bytes[20..24].copy_from_slice(&36u32.to_le_bytes());
        bytes[24..32].copy_from_slice(&xsdt.to_le_bytes());
        fix_checksum(&mut bytes, 8, 20);
        fix_checksum(&mut bytes, 32, 36);
        bytes
    }

    /// RSDP at 0xF0000 -> XSDT -> FADT (X_DSDT, X_FIRMWARE_CTRL), two SSDTs, an APIC.
    fn machine() -> FakeMemory {
        let mut fadt_body = vec![0u8; 276 - HEADER_LEN];
        fadt_body[132 - HEADER_LEN..140 - HEADER_LEN].copy_from_slice(&0x1000u64.to_le_bytes());
        fadt_body[140 - HEADER_LEN..148 - HEADER_LEN].copy_from_slice(&0x2000u64.to_le_bytes());
        let mut facs = vec![0u8; 64];
        facs[..4].copy_from_slice(b"FACS");
        facs[4..8].copy_from_slice(&64u32.to_le_bytes());
        let entries: Vec<u8> =
            [0x3000u64, 0x4000, 0x5000, 0x6000].iter().flat_map(|a| a.to_le_bytes()).collect();
        FakeMemory(vec![
            // A stale signature with a bad checksum, which the scan must skip.
            (0xE_0010, b"RSD PTR \x01".to_vec()),
            (0xF_0000, rsdp(0x7000, 0)),
            (0x1000, facs),
            (0x2000, table(b"DSDT", &[0x10, 0x05])),
            (0x3000, table(b"FACP", &fadt_body)),
            (0x4000, table(b"SSDT", &[1])),
            (0x5000, table(b"APIC", &[0; 8])),
            (0x6000, table(b"SSDT", &[2])),
            (0x7000, table(b"XSDT", &entries)),
        ])
    }

    #[test]
    fn walk_finds_every_table_in_root_order() {
        let mut memory = machine();
        let rsdps = scan_rsdps(&mut memory).unwrap();
        assert_eq!(rsdps.iter().map(|r| r.0).collect::<Vec<_>>(), [0xF_0000]);
        let (address, bytes) = rsdps.into_iter().next().unwrap();
        let found = walk(&mut memory, address, bytes);
        let names: Vec<&str> = found.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["RSDP", "XSDT", "FACP", "DSDT", "FACS", "SSDT1", "APIC", "SSDT2"]);
        assert!(found.problems.is_empty(), "{:?}", found.problems);
        assert_eq!(found.tables[3].address, Some(0x2000));
    }

    #[test]
    fn walk_reports_bad_checksums() {
        let mut memory = machine();
        memory.0.iter_mut().find(|(a, _)| *a == 0x5000).unwrap().1[40] ^= 1;
        let found = walk(&mut memory, 0xF_0000, rsdp(0x7000, 0));
        assert_eq!(found.problems, ["APIC at 0x5000: bad checksum"]);
    }

    #[test]
    fn names_number_ssdts_and_repeated_signatures() {
        let mut namer = Namer::default();
        let names: Vec<String> =
            [*b"SSDT", *b"APIC", *b"SSDT", *b"APIC", *b"a\0b$"].map(|s| namer.name(s)).into();
        assert_eq!(names, ["SSDT1", "APIC", "SSDT2", "APIC2", "a_b_"]);
    }
}
