//! The key fields of the fixed-layout tables, decoded from their bytes: what an ACPI
//! reviewer checks first when two firmwares' tables differ (PM blocks, SCI, boot flags,
//! interrupt controllers, ECAM ranges, HPET).
//!
//! They are written as `fields.txt` next to the disassembly, one `TABLE.key = value` line
//! each, so that a golden directory (text only) can be compared field by field later.

use super::extract::{Table, le16, le32, le64, oem_ids};

/// One decoded field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Table name as in the dump (`FACP`, `APIC`, `SSDT1`...).
    pub table: String,
    pub key: String,
    pub value: String,
}

/// The key fields of every table, in table order.
pub fn decode(tables: &[Table]) -> Vec<Field> {
    let mut fields = Vec::new();
    let order: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    let mut push = |table: &str, key: &str, value: String| {
        fields.push(Field { table: table.into(), key: key.into(), value });
    };
    push("*", "tables", order.join(" "));
    for table in tables {
        let b = &table.bytes;
        let name = table.name.as_str();
        let mut push = |key: &str, value: String| push(name, key, value);
        match &table.signature {
            b"RSD " => {
                let (oem, _) = oem_ids(b);
                let root = if b[15] >= 2 && le64(b, 24) != 0 { "XSDT" } else { "RSDT only" };
                push("header", format!("revision {}, OEM \"{oem}\", root {root}", b[15]));
                continue;
            }
            b"FACS" => {
                facs(b, &mut push);
                continue;
            }
            _ => {}
        }
        let (oem, oem_table) = oem_ids(b);
        push(
            "header",
            format!("revision {}, {} bytes, OEM \"{oem}\" \"{oem_table}\"", b[8], b.len()),
        );
        match &table.signature {
            b"FACP" => fadt(b, &mut push),
            b"APIC" => madt(b, &mut push),
            b"MCFG" => {
                for (i, entry) in b.get(44..).unwrap_or_default().chunks_exact(16).enumerate() {
                    push(
                        &format!("range {i}"),
                        format!(
                            "ECAM {:#x}, segment {}, buses {:#04x}-{:#04x}",
                            le64(entry, 0),
                            le16(entry, 8),
                            entry[10],
                            entry[11]
                        ),
                    );
                }
            }
            b"HPET" if b.len() >= 56 => {
                let id = le32(b, 36);
                push(
                    "event timer block id",
                    format!(
                        "{id:#010x}: vendor {:04x}, rev {}, {} comparators{}{}",
                        id >> 16,
                        id & 0xff,
                        ((id >> 8) & 0x1f) + 1,
                        if id & (1 << 13) != 0 { ", 64-bit counter" } else { "" },
                        if id & (1 << 15) != 0 { ", legacy replacement" } else { "" }
                    ),
                );
                push("base", gas(&b[40..52]));
                push("number", b[52].to_string());
                push("minimum tick", format!("{:#x}", le16(b, 53)));
                push("page protection", format!("{:#x}", b[55]));
            }
            b"WAET" if b.len() >= 40 => {
                let flags = le32(b, 36);
                push("flags", flags_text(flags, &["RTC_GOOD", "ACPI_PM_TIMER_GOOD"]));
            }
            _ => {}
        }
    }
    fields
}

const FADT_FLAGS: &[&str] = &[
    "WBINVD",
    "WBINVD_FLUSH",
    "PROC_C1",
    "P_LVL2_UP",
    "PWR_BUTTON",
    "SLP_BUTTON",
    "FIX_RTC",
    "RTC_S4",
    "TMR_VAL_EXT",
    "DCK_CAP",
    "RESET_REG_SUP",
    "SEALED_CASE",
    "HEADLESS",
    "CPU_SW_SLP",
    "PCI_EXP_WAK",
    "USE_PLATFORM_CLOCK",
    "S4_RTC_STS_VALID",
    "REMOTE_POWER_ON_CAPABLE",
    "FORCE_APIC_CLUSTER_MODEL",
    "FORCE_APIC_PHYSICAL_DESTINATION_MODE",
    "HW_REDUCED_ACPI",
    "LOW_POWER_S0_IDLE_CAPABLE",
];

const IAPC_BOOT_ARCH: &[&str] = &[
    "LEGACY_DEVICES",
    "8042",
    "VGA_NOT_PRESENT",
    "MSI_NOT_SUPPORTED",
    "PCIE_ASPM_CONTROLS",
    "CMOS_RTC_NOT_PRESENT",
];

const PM_PROFILES: &[&str] = &[
    "Unspecified",
    "Desktop",
    "Mobile",
    "Workstation",
    "Enterprise Server",
    "SOHO Server",
    "Appliance PC",
    "Performance Server",
    "Tablet",
];

/// `0x8145 WBINVD PROC_C1 ...`; bits without a name are shown as `bitN`.
fn flags_text(value: u32, names: &[&str]) -> String {
    let mut text = format!("{value:#x}");
    for bit in (0..32).filter(|bit| value & (1 << bit) != 0) {
        text.push(' ');
        match names.get(bit) {
            Some(name) => text.push_str(name),
            None => text.push_str(&format!("bit{bit}")),
        }
    }
    text
}

/// A Generic Address Structure (12 bytes), e.g. `io 0xb000 (32 bits)`.
fn gas(b: &[u8]) -> String {
    let space = match b[0] {
        0 => "mem".to_string(),
        1 => "io".to_string(),
        2 => "pcicfg".to_string(),
        3 => "ec".to_string(),
        0x7f => "ffixedhw".to_string(),
        other => format!("space {other:#x}"),
    };
    let mut text = format!("{space} {:#x} ({} bits", le64(b, 4), b[1]);
    if b[2] != 0 {
        text.push_str(&format!(" at bit {}", b[2]));
    }
    if b[3] != 0 {
        text.push_str(&format!(", access size {}", b[3]));
    }
    text.push(')');
    text
}

fn fadt(b: &[u8], push: &mut dyn FnMut(&str, String)) {
    if b.len() < 116 {
        push("truncated", format!("{} bytes", b.len()));
        return;
    }
    let has = |end: usize| b.len() >= end;
    let minor = if has(132) { format!(".{}", b[131] & 0xf) } else { String::new() };
    push("FADT version", format!("{}{minor}", b[8]));
    let profile = PM_PROFILES.get(usize::from(b[45])).copied().unwrap_or("reserved");
    push("Preferred_PM_Profile", format!("{} ({profile})", b[45]));
    push("SCI_INT", le16(b, 46).to_string());
    push(
        "SMI_CMD",
        format!(
            "{:#x}, ACPI_ENABLE {:#x}, ACPI_DISABLE {:#x}, S4BIOS_REQ {:#x}, PSTATE_CNT {:#x}, \
             CST_CNT {:#x}",
            le32(b, 48),
            b[52],
            b[53],
            b[54],
            b[55],
            b[95]
        ),
    );
    // (name, legacy block offset, its length offset, X_ GAS offset)
    let blocks = [
        ("PM1a_EVT_BLK", 56, 88, 148),
        ("PM1b_EVT_BLK", 60, 88, 160),
        ("PM1a_CNT_BLK", 64, 89, 172),
        ("PM1b_CNT_BLK", 68, 89, 184),
        ("PM2_CNT_BLK", 72, 90, 196),
        ("PM_TMR_BLK", 76, 91, 208),
        ("GPE0_BLK", 80, 92, 220),
        ("GPE1_BLK", 84, 93, 232),
    ];
    for (name, at, length_at, x_at) in blocks {
        let address = le32(b, at);
        let x = if has(x_at + 12) && b[x_at..x_at + 12].iter().any(|&v| v != 0) {
            format!("; X_ {}", gas(&b[x_at..x_at + 12]))
        } else {
            String::new()
        };
        if address == 0 && x.is_empty() {
            push(name, "none".into());
        } else {
            push(name, format!("{address:#x} length {}{x}", b[length_at]));
        }
    }
    if le32(b, 84) != 0 {
        push("GPE1_BASE", b[94].to_string());
    }
    push("P_LVL2_LAT, P_LVL3_LAT", format!("{}, {}", le16(b, 96), le16(b, 98)));
    push("RTC DAY_ALRM, MON_ALRM, CENTURY", format!("{:#x}, {:#x}, {:#x}", b[106], b[107], b[108]));
    push("IAPC_BOOT_ARCH", flags_text(u32::from(le16(b, 109)), IAPC_BOOT_ARCH));
    push("Flags", flags_text(le32(b, 112), FADT_FLAGS));
    if has(129) && (le32(b, 112) & (1 << 10) != 0 || b[116..129].iter().any(|&v| v != 0)) {
        push("RESET_REG", format!("{}, value {:#x}", gas(&b[116..128]), b[128]));
    }
    let pointer = |legacy_at: usize, x_at: usize| {
        let legacy = le32(b, legacy_at) != 0;
        let x = has(x_at + 8) && le64(b, x_at) != 0;
        match (legacy, x) {
            (true, true) if u64::from(le32(b, legacy_at)) == le64(b, x_at) => "both (equal)",
            (true, true) => "both (DIFFERENT)",
            (true, false) => "32-bit only",
            (false, true) => "X_ only",
            (false, false) => "none",
        }
    };
    push("FIRMWARE_CTRL/X_FIRMWARE_CTRL", pointer(36, 132).into());
    push("DSDT/X_DSDT", pointer(40, 140).into());
    if has(256 + 12) {
        for (name, at) in [("SLEEP_CONTROL_REG", 244), ("SLEEP_STATUS_REG", 256)] {
            if b[at..at + 12].iter().any(|&v| v != 0) {
                push(name, gas(&b[at..at + 12]));
            }
        }
    }
    if has(276) {
        let vendor = le64(b, 268);
        if vendor != 0 {
            let text = String::from_utf8_lossy(&b[268..276]).trim_end_matches('\0').to_string();
            push("Hypervisor Vendor Identity", format!("{vendor:#x} \"{text}\""));
        }
    }
}

fn madt(b: &[u8], push: &mut dyn FnMut(&str, String)) {
    if b.len() < 44 {
        return;
    }
    let pcat = if le32(b, 40) & 1 != 0 { ", PCAT_COMPAT" } else { "" };
    push("local APIC address", format!("{:#x}{pcat}", le32(b, 36)));
    let mut offset = 44;
    while offset + 2 <= b.len() {
        let (kind, length) = (b[offset], usize::from(b[offset + 1]));
        if length < 2 || offset + length > b.len() {
            push("malformed entry", format!("at offset {offset}, length {length}"));
            return;
        }
        let e = &b[offset..offset + length];
        let (key, value) = madt_entry(kind, e);
        push(&key, value);
        offset += length;
    }
}

/// LAPIC/x2APIC flags: bit 0 Enabled, bit 1 Online Capable.
fn lapic_flags(flags: u32) -> String {
    let mut text = if flags & 1 != 0 { "enabled" } else { "disabled" }.to_string();
    if flags & 2 != 0 {
        text.push_str(", online capable");
    }
    if flags & !3 != 0 {
        text.push_str(&format!(", flags {flags:#x}"));
    }
    text
}

/// MPS INTI flags: polarity bits 1:0, trigger mode bits 3:2.
fn inti_flags(flags: u16) -> String {
    let polarity = ["conforming", "active high", "reserved", "active low"][usize::from(flags & 3)];
    let trigger = ["conforming", "edge", "reserved", "level"][usize::from((flags >> 2) & 3)];
    format!("{polarity}, {trigger}")
}

fn madt_entry(kind: u8, e: &[u8]) -> (String, String) {
    let short = || (format!("type {kind} entry"), format!("too short ({} bytes)", e.len()));
    match kind {
        0 if e.len() >= 8 => (
            format!("LAPIC uid {}", e[2]),
            format!("APIC ID {}, {}", e[3], lapic_flags(le32(e, 4))),
        ),
        1 if e.len() >= 12 => (
            format!("IOAPIC id {}", e[2]),
            format!("address {:#x}, GSI base {}", le32(e, 4), le32(e, 8)),
        ),
        2 if e.len() >= 10 => (
            format!("override bus {} irq {}", e[2], e[3]),
            format!("GSI {}, {}", le32(e, 4), inti_flags(le16(e, 8))),
        ),
        3 if e.len() >= 8 => (format!("NMI source GSI {}", le32(e, 4)), inti_flags(le16(e, 2))),
        4 if e.len() >= 6 => {
            let uid = if e[2] == 0xff { "all".to_string() } else { e[2].to_string() };
            (format!("LAPIC NMI uid {uid}"), format!("LINT{}, {}", e[5], inti_flags(le16(e, 3))))
        }
        5 if e.len() >= 12 => ("LAPIC address override".into(), format!("{:#x}", le64(e, 4))),
        9 if e.len() >= 16 => (
            format!("x2APIC uid {}", le32(e, 12)),
            format!("x2APIC ID {}, {}", le32(e, 4), lapic_flags(le32(e, 8))),
        ),
        10 if e.len() >= 12 => {
            let uid = le32(e, 4);
            let uid = if uid == u32::MAX { "all".to_string() } else { uid.to_string() };
            (format!("x2APIC NMI uid {uid}"), format!("LINT{}, {}", e[8], inti_flags(le16(e, 2))))
        }
        0..=10 => short(),
        _ => (format!("type {kind} entry"), format!("{} bytes", e.len())),
    }
}

fn facs(b: &[u8], push: &mut dyn FnMut(&str, String)) {
    if b.len() < 64 {
        return;
    }
    push(
        "header",
        format!("version {}, {} bytes, hardware signature {:#x}", b[32], b.len(), le32(b, 8)),
    );
    push("Flags", flags_text(le32(b, 24), &["S4BIOS_F", "64BIT_WAKE_SUPPORTED_F"]));
}

/// `fields.txt`: one `TABLE.key = value` line per field.
pub fn to_text(fields: &[Field]) -> String {
    fields.iter().map(|f| format!("{}.{} = {}\n", f.table, f.key, f.value)).collect()
}

/// Reads `fields.txt` back.
pub fn from_text(text: &str) -> Vec<Field> {
    text.lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(" = ")?;
            let (table, key) = key.split_once('.')?;
            Some(Field { table: table.into(), key: key.into(), value: value.into() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_header(signature: &[u8; 4], body: &[u8]) -> Table {
        let mut bytes = vec![0u8; 36];
        bytes[..4].copy_from_slice(signature);
        bytes[8] = 3;
        bytes.extend_from_slice(body);
        Table { name: "APIC".into(), signature: *signature, address: None, bytes }
    }

    #[test]
    fn madt_entries_are_keyed_by_their_ids() {
        let mut body = vec![0u8; 8];
        body[..4].copy_from_slice(&0xFEE0_0000u32.to_le_bytes());
        body[4] = 1;
        body.extend_from_slice(&[0, 8, 0, 0, 1, 0, 0, 0]); // LAPIC uid 0, id 0, enabled
        body.extend_from_slice(&[1, 12, 1, 0, 0, 0, 0xC0, 0xFE, 0, 0, 0, 0]); // IOAPIC
        body.extend_from_slice(&[2, 10, 0, 5, 5, 0, 0, 0, 0x0F, 0]); // IRQ 5 level low
        body.extend_from_slice(&[4, 6, 0xFF, 5, 0, 1]); // LINT1 NMI for all
        let fields = decode(&[with_header(b"APIC", &body)]);
        let text = to_text(&fields);
        assert_eq!(
            text,
            "*.tables = APIC
APIC.header = revision 3, 80 bytes, OEM \"\" \"\"
APIC.local APIC address = 0xfee00000, PCAT_COMPAT
APIC.LAPIC uid 0 = APIC ID 0, enabled
APIC.IOAPIC id 1 = address 0xfec00000, GSI base 0
APIC.override bus 0 irq 5 = GSI 5, active low, level
APIC.LAPIC NMI uid all = LINT1, active high, edge
"
        );
        assert_eq!(from_text(&text), fields);
    }

    #[test]
    fn fadt_blocks_show_legacy_and_extended_forms() {
        let mut body = vec![0u8; 276 - 36];
        let at = |o: usize| o - 36;
        body[at(46)] = 9;
        body[at(56)..at(60)].copy_from_slice(&0xB000u32.to_le_bytes());
        body[at(88)] = 4;
        body[at(112)] = 0x01;
        body[at(148)..at(160)].copy_from_slice(&[1, 32, 0, 0, 0, 0xB0, 0, 0, 0, 0, 0, 0]);
        let fields = decode(&[with_header(b"FACP", &body)]);
        let get = |key: &str| fields.iter().find(|f| f.key == key).unwrap().value.clone();
        assert_eq!(get("SCI_INT"), "9");
        assert_eq!(get("PM1a_EVT_BLK"), "0xb000 length 4; X_ io 0xb000 (32 bits)");
        assert_eq!(get("PM1b_EVT_BLK"), "none");
        assert_eq!(get("Flags"), "0x1 WBINVD");
        assert_eq!(get("DSDT/X_DSDT"), "none");
    }
}
