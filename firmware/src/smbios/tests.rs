//! The tables are checked by parsing them back with a small, strict parser written from the
//! specification (DSP0134 3.0) independently of the encoder: it trusts no length or count the
//! encoder computed and rejects anything a careful reader could choke on.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use std::collections::HashSet;

use proptest::prelude::*;

use super::*;
use crate::addr::{GiB, MiB};

const TIB: u64 = 1 << 40;

// ---- the independent parser ----------------------------------------------------------------

#[derive(Debug)]
struct Structure {
    kind: u8,
    handle: u16,
    /// The formatted area, header included, so offsets match the specification's tables.
    area: Vec<u8>,
    strings: Vec<String>,
    /// Formatted area, strings and terminators.
    size: usize,
}

impl Structure {
    fn byte(&self, offset: usize) -> u8 {
        self.area[offset]
    }
    fn word(&self, offset: usize) -> u16 {
        u16::from_le_bytes(self.area[offset..offset + 2].try_into().unwrap())
    }
    fn dword(&self, offset: usize) -> u32 {
        u32::from_le_bytes(self.area[offset..offset + 4].try_into().unwrap())
    }
    fn qword(&self, offset: usize) -> u64 {
        u64::from_le_bytes(self.area[offset..offset + 8].try_into().unwrap())
    }
    /// The string a string field refers to; "" for index 0.
    fn string(&self, offset: usize) -> &str {
        match self.byte(offset) {
            0 => "",
            n => &self.strings[usize::from(n) - 1],
        }
    }
}

/// The formatted-area length SMBIOS 3.0 gives each type this firmware emits, with the offsets
/// of its string fields.
fn layout(kind: u8) -> (usize, &'static [usize]) {
    match kind {
        0 => (0x18, &[0x04, 0x05, 0x08]),
        1 => (0x1B, &[0x04, 0x05, 0x06, 0x07, 0x19, 0x1A]),
        2 => (0x0F, &[0x04, 0x05, 0x06, 0x07, 0x08, 0x0A]),
        3 => (0x16, &[0x04, 0x06, 0x07, 0x08, 0x15]),
        4 => (0x30, &[0x04, 0x07, 0x10, 0x20, 0x21, 0x22]),
        16 => (0x17, &[]),
        17 => (0x28, &[0x10, 0x11, 0x17, 0x18, 0x19, 0x1A]),
        19 => (0x1F, &[]),
        32 => (0x0B, &[]),
        127 => (0x04, &[]),
        other => panic!("unexpected structure type {other}"),
    }
}

/// Parses a whole structure table strictly: every structure's length is its type's, every
/// string set is well formed (non-empty strings, double-NUL end, no unused or repeated string),
/// string fields refer inside the set, handles are unique, type 127 ends the table exactly.
fn parse_table(table: &[u8]) -> Vec<Structure> {
    let mut structures = Vec::new();
    let mut handles = HashSet::new();
    let mut at = 0;
    loop {
        assert!(at + 4 <= table.len(), "structure header past the end at {at:#x}");
        let kind = table[at];
        let length = usize::from(table[at + 1]);
        let handle = u16::from_le_bytes([table[at + 2], table[at + 3]]);
        let (expected_len, string_fields) = layout(kind);
        assert_eq!(length, expected_len, "type {kind} length");
        assert!(handle < 0xFF00, "handle {handle:#x} in the reserved range");
        assert!(handles.insert(handle), "handle {handle:#x} used twice");
        assert!(at + length <= table.len(), "type {kind} formatted area past the end");
        let area = table[at..at + length].to_vec();

        // The string set: strings each ended by a NUL, the set ended by one more NUL; a
        // structure without strings ends with two NULs.
        let mut cursor = at + length;
        let mut strings = Vec::new();
        if table.get(cursor..cursor + 2) == Some(&[0, 0]) {
            cursor += 2;
        } else {
            loop {
                let nul =
                    table[cursor..].iter().position(|&b| b == 0).expect("unterminated string");
                assert!(nul > 0, "empty string inside a string set");
                strings.push(String::from_utf8(table[cursor..cursor + nul].to_vec()).unwrap());
                cursor += nul + 1;
                assert!(cursor < table.len(), "string set not terminated");
                if table[cursor] == 0 {
                    cursor += 1;
                    break;
                }
            }
        }
        let mut referenced = vec![false; strings.len()];
        for &offset in string_fields {
            match area[offset] {
                0 => {}
                n => {
                    let index = usize::from(n) - 1;
                    assert!(index < strings.len(), "type {kind} string {n} out of range");
                    referenced[index] = true;
                }
            }
        }
        assert!(referenced.iter().all(|&r| r), "type {kind} has unreferenced strings");
        let unique: HashSet<&String> = strings.iter().collect();
        assert_eq!(unique.len(), strings.len(), "type {kind} repeats a string");

        structures.push(Structure { kind, handle, area, strings, size: cursor - at });
        at = cursor;
        if kind == 127 {
            assert_eq!(at, table.len(), "bytes after the end-of-table structure");
            return structures;
        }
    }
}

fn sum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b))
}

/// Checks both entry points against the table and `paddr`, and returns the parsed table.
fn check_all(table: &[u8], paddr: u64, eps: &EntryPoints) -> Vec<Structure> {
    let structures = parse_table(table);
    let max_size = structures.iter().map(|s| s.size).max().unwrap();

    let ep3 = &eps.smbios3;
    assert_eq!(&ep3[0..5], b"_SM3_");
    assert_eq!(sum(ep3), 0, "_SM3_ checksum");
    assert_eq!(ep3[6], 0x18);
    assert_eq!((ep3[7], ep3[8]), (3, 0));
    assert_eq!(ep3[0x0A], 1, "entry point revision");
    assert_eq!(ep3[0x0B], 0, "reserved");
    assert_eq!(u32::from_le_bytes(ep3[0x0C..0x10].try_into().unwrap()) as usize, table.len());
    assert_eq!(u64::from_le_bytes(ep3[0x10..0x18].try_into().unwrap()), paddr);

    let ep2 = &eps.smbios2;
    assert_eq!(&ep2[0..4], b"_SM_");
    assert_eq!(sum(ep2), 0, "_SM_ checksum");
    assert_eq!(ep2[5], 0x1F);
    assert_eq!((ep2[6], ep2[7]), (3, 0));
    assert_eq!(
        usize::from(u16::from_le_bytes([ep2[8], ep2[9]])),
        max_size,
        "maximum structure size"
    );
    assert_eq!(ep2[0x0A], 0, "entry point revision");
    assert_eq!(ep2[0x0B..0x10], [0; 5], "formatted area");
    assert_eq!(&ep2[0x10..0x15], b"_DMI_");
    assert_eq!(sum(&ep2[0x10..0x1F]), 0, "intermediate checksum");
    assert_eq!(usize::from(u16::from_le_bytes([ep2[0x16], ep2[0x17]])), table.len());
    assert_eq!(u64::from(u32::from_le_bytes(ep2[0x18..0x1C].try_into().unwrap())), paddr);
    assert_eq!(
        usize::from(u16::from_le_bytes([ep2[0x1C], ep2[0x1D]])),
        structures.len(),
        "number of structures"
    );
    assert_eq!(ep2[0x1E], 0x30, "BCD revision");
    structures
}

fn of_kind(structures: &[Structure], kind: u8) -> Vec<&Structure> {
    structures.iter().filter(|s| s.kind == kind).collect()
}

/// The RAM ranges the type 19 structures describe, as half-open byte ranges.
fn mapped_ranges(structures: &[Structure]) -> Vec<PhysRange> {
    of_kind(structures, 19)
        .iter()
        .map(|s| {
            if s.dword(0x04) == u32::MAX {
                assert_eq!(s.dword(0x08), u32::MAX);
                PhysRange { start: s.qword(0x0F), end: s.qword(0x17) + 1 }
            } else {
                assert_eq!((s.qword(0x0F), s.qword(0x17)), (0, 0));
                PhysRange {
                    start: u64::from(s.dword(0x04)) << 10,
                    end: (u64::from(s.dword(0x08)) + 1) << 10,
                }
            }
        })
        .collect()
}

/// Type 17 sizes in MiB.
fn device_sizes_mib(structures: &[Structure]) -> Vec<u64> {
    of_kind(structures, 17)
        .iter()
        .map(|s| match s.word(0x0C) {
            0x7FFF => {
                let mib = u64::from(s.dword(0x1C));
                assert!((0x7FFF..1 << 31).contains(&mib), "extended size {mib}");
                mib
            }
            size => {
                assert!(size & 0x8000 == 0, "KiB granularity not used");
                assert_eq!(s.dword(0x1C), 0);
                u64::from(size)
            }
        })
        .collect()
}

/// The structure-level checks every table must pass, given what it was built from.
fn check_contents(structures: &[Structure], info: &SmbiosInfo<'_>, ram: &[PhysRange]) {
    // Required order and counts.
    let kinds: Vec<u8> = structures.iter().map(|s| s.kind).collect();
    assert_eq!(kinds[..4], [0, 1, 2, 3]);
    assert_eq!(*kinds.last().unwrap(), 127);
    assert_eq!(of_kind(structures, 0).len(), 1);
    assert_eq!(of_kind(structures, 32).len(), 1);
    assert_eq!(of_kind(structures, 4).len(), usize::from(info.topology.sockets));
    // Handles are sequential.
    for (i, s) in structures.iter().enumerate() {
        assert_eq!(usize::from(s.handle), i);
    }

    let bios = &of_kind(structures, 0)[0];
    assert_eq!(bios.string(0x04), info.bios.vendor);
    assert_eq!(bios.string(0x05), info.bios.version);
    assert_eq!(bios.string(0x08), info.bios.release_date);
    assert_eq!(bios.word(0x06), info.bios.starting_segment);
    assert_eq!(bios.qword(0x0A), info.bios.characteristics);

    let system = &of_kind(structures, 1)[0];
    assert_eq!(system.string(0x04), info.system.manufacturer);
    assert_eq!(system.string(0x05), info.system.product);
    assert_eq!(system.string(0x06), info.system.version);
    assert_eq!(system.string(0x19), info.system.sku_number);
    assert_eq!(system.string(0x1A), info.system.family);

    let board = &of_kind(structures, 2)[0];
    let chassis = &of_kind(structures, 3)[0];
    assert_eq!(board.word(0x0B), chassis.handle, "baseboard's chassis handle");
    assert_eq!(board.string(0x04), info.baseboard.manufacturer);
    assert_eq!(chassis.string(0x04), info.chassis.manufacturer);
    assert_eq!(chassis.string(0x15), info.chassis.sku_number);

    let topology = info.topology;
    let threads = u32::from(topology.cores_per_socket) * u32::from(topology.threads_per_core);
    for (socket, cpu) in of_kind(structures, 4).iter().enumerate() {
        assert_eq!(cpu.string(0x04), format!("CPU {socket}"));
        assert_eq!(cpu.string(0x07), info.processor.manufacturer);
        assert_eq!(cpu.string(0x10), info.processor.version);
        assert_eq!(cpu.byte(0x18), 0x41);
        assert_eq!(cpu.word(0x2A), topology.cores_per_socket);
        assert_eq!(cpu.word(0x2C), topology.cores_per_socket);
        assert_eq!(u32::from(cpu.word(0x2E)), threads);
        let byte = |n: u32| if n > 255 { 0xFF } else { n as u8 };
        assert_eq!(cpu.byte(0x23), byte(u32::from(topology.cores_per_socket)));
        assert_eq!(cpu.byte(0x25), byte(threads));
        assert_eq!(cpu.word(0x28), info.processor.family);
        if info.processor.family < 0xFE {
            assert_eq!(u16::from(cpu.byte(0x06)), info.processor.family);
        } else {
            assert_eq!(cpu.byte(0x06), 0xFE);
        }
    }

    // Memory: one array holding every device, devices that hold the RAM, ranges that are the
    // RAM.
    let arrays = of_kind(structures, 16);
    assert_eq!(arrays.len(), 1);
    let array = arrays[0];
    let devices = of_kind(structures, 17);
    assert_eq!(usize::from(array.word(0x0D)), devices.len());
    for device in &devices {
        assert_eq!(device.word(0x04), array.handle);
    }
    let sizes = device_sizes_mib(structures);
    let total_mib: u64 = sizes.iter().sum();
    let ram_bytes: u64 = ram.iter().map(PhysRange::len).sum();
    assert_eq!(total_mib, ram_bytes.div_ceil(MiB), "devices hold exactly the RAM");
    assert!(sizes.iter().all(|&mib| mib > 0 && mib * MiB <= MAX_MEMORY_DEVICE_SIZE));
    let capacity_bytes = match array.dword(0x07) {
        0x8000_0000 => array.qword(0x0F),
        kib => {
            assert_eq!(array.qword(0x0F), 0);
            u64::from(kib) << 10
        }
    };
    assert_eq!(capacity_bytes, total_mib * MiB);
    for mapped in of_kind(structures, 19) {
        assert_eq!(mapped.word(0x0C), array.handle);
    }
    assert_eq!(mapped_ranges(structures), ram);
}

/// Builds, writes at `paddr` and parses back, checking everything.
fn build_and_check(
    info: &SmbiosInfo<'_>,
    paddr: u64,
    expected_ram: &[PhysRange],
) -> Vec<Structure> {
    let table = SmbiosTable::build(info).unwrap();
    let mut buf = vec![0u8; table.len()];
    let eps = table.write_to(&mut buf, paddr).unwrap();
    assert_eq!(buf, table.as_bytes());
    let structures = check_all(&buf, paddr, &eps);
    assert_eq!(usize::from(table.structure_count()), structures.len());
    check_contents(&structures, info, expected_ram);
    structures
}

fn range(start: u64, end: u64) -> PhysRange {
    PhysRange { start, end }
}

fn xen_ram(mib: u64) -> Vec<PhysRange> {
    vec![range(0, 0x9F000), range(MiB, mib * MiB)]
}

// ---- unit tests ------------------------------------------------------------------------------

#[test]
fn default_tables_parse_back() {
    let ram = xen_ram(128);
    let info = SmbiosInfo::new(CpuTopology::sockets_only(2), &ram);
    let structures = build_and_check(&info, 0xFC00_0000, &ram);
    let kinds: Vec<u8> = structures.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [0, 1, 2, 3, 4, 4, 16, 17, 19, 19, 32, 127]);

    let bios = &structures[0];
    assert_eq!(bios.string(0x04), FIRMWARE_VENDOR);
    assert_eq!(bios.string(0x05), env!("CARGO_PKG_VERSION"));
    assert_eq!(bios.word(0x06), 0xE800);
    assert_eq!(bios.byte(0x09), 0, "64 KiB ROM");
    assert_eq!(bios.qword(0x0A), (1 << 7) | (1 << 19), "PCI, EDD");
    assert_eq!(bios.area[0x12..0x14], [0x01, 0x14]);
    assert_eq!(bios.area[0x16..0x18], [0xFF, 0xFF]);

    let system = &structures[1];
    assert_eq!(system.string(0x04), "Xen");
    assert_eq!(system.string(0x05), "HVM domU");
    assert_eq!(system.string(0x07), "", "no UUID, no serial");
    assert_eq!(system.area[0x08..0x18], [0; 16]);
    assert_eq!(system.byte(0x18), 0x06, "power switch");
    // "Xen" is the manufacturer of the system, board and chassis; each structure holds it once.
    assert_eq!(structures[2].strings, ["Xen", "HVM domU"]);

    let device = &structures[7];
    assert_eq!(device.word(0x0C), 128, "128 MiB rounded up from the RAM");
    assert_eq!(device.string(0x10), "DIMM 0");
    assert_eq!(device.string(0x11), "");
    assert_eq!(device.string(0x17), "Xen");
    assert_eq!(device.byte(0x0E), 0x09);
    assert_eq!(device.byte(0x12), 0x07);

    let low = &structures[8];
    assert_eq!((low.dword(0x04), low.dword(0x08)), (0, 0x9F000 / 1024 - 1));

    let boot = &structures[10];
    assert_eq!(boot.area[4..0x0B], [0; 7]);
    assert_eq!(boot.size, 0x0B + 2);
}

#[test]
fn uuid_is_stored_in_smbios_byte_order_and_is_the_default_serial() {
    let ram = xen_ram(64);
    let mut info = SmbiosInfo::new(CpuTopology::sockets_only(1), &ram);
    let uuid = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE,
        0xFF,
    ];
    info.system.uuid = Some(uuid);
    let structures = build_and_check(&info, 0xF_0000, &ram);
    let system = &structures[1];
    assert_eq!(
        system.area[0x08..0x18],
        [
            0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD,
            0xEE, 0xFF
        ]
    );
    assert_eq!(system.string(0x07), "00112233-4455-6677-8899-aabbccddeeff");

    info.system.serial_number = Some("serial-1");
    let structures = build_and_check(&info, 0xF_0000, &ram);
    assert_eq!(structures[1].string(0x07), "serial-1");
    info.system.serial_number = Some("");
    let structures = build_and_check(&info, 0xF_0000, &ram);
    assert_eq!(structures[1].byte(0x07), 0, "an explicitly empty serial stays empty");
}

#[test]
fn strings_are_deduplicated_and_empty_ones_are_index_zero() {
    let ram = xen_ram(64);
    let mut info = SmbiosInfo::new(CpuTopology::sockets_only(1), &ram);
    info.system.manufacturer = "Same";
    info.system.product = "Same";
    info.system.version = "";
    info.system.family = "Other";
    let structures = build_and_check(&info, 0x10_0000, &ram);
    let system = &structures[1];
    assert_eq!(system.strings, ["Same", "Other"]);
    assert_eq!(
        (system.byte(0x04), system.byte(0x05), system.byte(0x06), system.byte(0x1A)),
        (1, 1, 0, 2)
    );

    // A structure whose strings are all empty ends with the double NUL right after its area.
    info.baseboard = BaseboardInfo { manufacturer: "", product: "", ..BaseboardInfo::default() };
    let structures = build_and_check(&info, 0x10_0000, &ram);
    assert!(structures[2].strings.is_empty());
    assert_eq!(structures[2].size, 0x0F + 2);
}

#[test]
fn bad_strings_are_errors_naming_the_field() {
    let ram = xen_ram(64);
    let mut info = SmbiosInfo::new(CpuTopology::sockets_only(1), &ram);
    info.chassis.asset_tag = "tag\0more";
    assert_eq!(
        SmbiosTable::build(&info),
        Err(SmbiosError::StringHasNul { field: "chassis.asset_tag" })
    );
    let long = "x".repeat(MAX_STRING_LEN + 1);
    let mut info = SmbiosInfo::new(CpuTopology::sockets_only(1), &ram);
    info.processor.version = &long;
    let err = SmbiosTable::build(&info).unwrap_err();
    assert_eq!(
        err,
        SmbiosError::StringTooLong { field: "processor.version", len: MAX_STRING_LEN + 1 }
    );
    assert!(err.to_string().contains("processor.version"));
    let longest = "y".repeat(MAX_STRING_LEN);
    info.processor.version = &longest;
    build_and_check(&info, 0x10_0000, &ram);
}

#[test]
fn release_date_must_be_mm_dd_yyyy() {
    let ram = xen_ram(64);
    for (date, ok) in [
        ("01/31/2025", true),
        ("12/01/1999", true),
        ("", true),
        ("13/01/2025", false),
        ("00/10/2025", false),
        ("01/32/2025", false),
        ("1/1/2025", false),
        ("01/01/25", false),
        ("01-01-2025", false),
        ("01/01/２０２", false),
    ] {
        let mut info = SmbiosInfo::new(CpuTopology::sockets_only(1), &ram);
        info.bios.release_date = date;
        assert_eq!(SmbiosTable::build(&info).is_ok(), ok, "{date:?}");
    }
}

#[test]
fn rom_size_counts_64k_blocks() {
    let ram = xen_ram(64);
    for (size, field) in [
        (1, Some(0)),
        (64 << 10, Some(0)),
        ((64 << 10) + 1, Some(1)),
        (256 << 10, Some(3)),
        (16 << 20, Some(0xFF)),
        (0, None),
        ((16 << 20) + 1, None),
    ] {
        let mut info = SmbiosInfo::new(CpuTopology::sockets_only(1), &ram);
        info.bios.rom_size = size;
        match (SmbiosTable::build(&info), field) {
            (Ok(table), Some(field)) => assert_eq!(table.as_bytes()[9], field, "{size:#x}"),
            (Err(SmbiosError::BadRomSize(s)), None) => assert_eq!(s, size),
            (other, _) => panic!("{size:#x}: {other:?}"),
        }
    }
}

#[test]
fn large_memory_uses_extended_sizes() {
    // 40 GiB: one device above the 32 GiB - 1 MiB Size limit.
    let ram = vec![range(0, 0xA0000), range(MiB, 3 * GiB), range(4 * GiB, 41 * GiB)];
    let info = SmbiosInfo::new(CpuTopology::sockets_only(4), &ram);
    let structures = build_and_check(&info, 0xFC00_0000, &ram);
    let device = of_kind(&structures, 17)[0];
    assert_eq!(device.word(0x0C), 0x7FFF);
    assert_eq!(device.dword(0x1C), 40 * 1024);

    // Just below the limit: 0x7FFE MiB fits the Size field.
    let ram = vec![range(0, 0x7FFE * MiB)];
    let structures = build_and_check(&SmbiosInfo::new(CpuTopology::sockets_only(1), &ram), 0, &ram);
    assert_eq!(of_kind(&structures, 17)[0].word(0x0C), 0x7FFE);
    let ram = vec![range(0, 0x7FFF * MiB)];
    let structures = build_and_check(&SmbiosInfo::new(CpuTopology::sockets_only(1), &ram), 0, &ram);
    assert_eq!(of_kind(&structures, 17)[0].word(0x0C), 0x7FFF);

    // 3 TiB: twelve 256 GiB devices, capacity beyond the KiB field.
    let ram = vec![range(0, 2 * GiB), range(4 * GiB, 3 * TIB + 2 * GiB)];
    let structures = build_and_check(&SmbiosInfo::new(CpuTopology::sockets_only(1), &ram), 0, &ram);
    assert_eq!(device_sizes_mib(&structures), vec![256 * 1024; 12]);
    let array = of_kind(&structures, 16)[0];
    assert_eq!(array.dword(0x07), 0x8000_0000);
    assert_eq!(array.qword(0x0F), 3 * TIB);

    // 600 GiB: two whole devices and the rest.
    let ram = vec![range(0, 600 * GiB)];
    let structures = build_and_check(&SmbiosInfo::new(CpuTopology::sockets_only(1), &ram), 0, &ram);
    assert_eq!(device_sizes_mib(&structures), vec![262_144, 262_144, 88 * 1024]);
}

#[test]
fn ranges_above_4tib_or_off_kib_boundaries_use_extended_addresses() {
    let ram = vec![
        range(0, 0x9FC00),                   // on KiB boundaries: KiB fields
        range(MiB, MiB + 0x1800),            // 6 KiB: KiB fields
        range(2 * MiB + 0x200, 3 * MiB),     // starts off a KiB boundary: extended
        range(4 * TIB - GiB, 4 * TIB - MiB), // below 4 TiB: KiB fields
        range(4 * TIB, 4 * TIB + GiB),       // at 4 TiB: extended
    ];
    let info = SmbiosInfo::new(CpuTopology::sockets_only(1), &ram);
    let structures = build_and_check(&info, 0, &ram);
    let starts: Vec<u32> = of_kind(&structures, 19).iter().map(|s| s.dword(0x04)).collect();
    assert_eq!(starts, [0, 1024, u32::MAX, ((4 * TIB - GiB) >> 10) as u32, u32::MAX]);
}

#[test]
fn ram_is_sorted_and_joined_before_it_is_described() {
    let ram = [range(MiB, 2 * MiB), range(0, 0xA0000), range(2 * MiB, 8 * MiB)];
    let info = SmbiosInfo::new(CpuTopology::sockets_only(1), &ram);
    build_and_check(&info, 0, &[range(0, 0xA0000), range(MiB, 8 * MiB)]);
}

#[test]
fn bad_ram_is_an_error() {
    let topology = CpuTopology::sockets_only(1);
    let build = |ram: &[PhysRange]| SmbiosTable::build(&SmbiosInfo::new(topology, ram));
    assert_eq!(build(&[]), Err(SmbiosError::NoRam));
    assert_eq!(build(&[range(5, 5)]), Err(SmbiosError::EmptyRamRange(range(5, 5))));
    assert_eq!(build(&[range(9, 5)]), Err(SmbiosError::EmptyRamRange(range(9, 5))));
    assert_eq!(
        build(&[range(2 * MiB, 4 * MiB), range(0, 3 * MiB)]),
        Err(SmbiosError::RamRangesOverlap {
            first: range(0, 3 * MiB),
            second: range(2 * MiB, 4 * MiB)
        })
    );
    let many: Vec<PhysRange> = (0..129).map(|i| range(i * 0x2000, i * 0x2000 + 0x1000)).collect();
    assert_eq!(build(&many), Err(SmbiosError::TooManyRamRanges(129)));
    assert_eq!(build(&[range(0, 200 * TIB)]), Err(SmbiosError::TooMuchRam { bytes: 200 * TIB }));
    assert!(matches!(
        build(&[range(0, u64::MAX), range(u64::MAX - 1, u64::MAX)]),
        Err(SmbiosError::RamRangesOverlap { .. })
    ));
}

#[test]
fn processor_counts_and_family() {
    let ram = xen_ram(64);
    let mut info = SmbiosInfo::new(
        CpuTopology { sockets: 2, cores_per_socket: 300, threads_per_core: 2 },
        &ram,
    );
    info.processor.family = 0x118; // ARMv8: only in Processor Family 2
    info.processor.manufacturer = "GenuineIntel";
    info.processor.cpuid_signature = 0x000A_06A4;
    info.processor.cpuid_features = 0x178B_FBFF;
    let structures = build_and_check(&info, 0, &ram);
    let cpu = of_kind(&structures, 4)[1];
    assert_eq!(cpu.qword(0x08), 0x178B_FBFF_000A_06A4);
    assert_eq!((cpu.byte(0x23), cpu.byte(0x24), cpu.byte(0x25)), (0xFF, 0xFF, 0xFF));
    assert_eq!((cpu.word(0x2A), cpu.word(0x2E)), (300, 600));
    assert_eq!(cpu.word(0x26), (1 << 2) | (1 << 3) | (1 << 4));

    info.topology = CpuTopology { sockets: 1, cores_per_socket: 4, threads_per_core: 1 };
    info.processor.family = 0xB3;
    let structures = build_and_check(&info, 0, &ram);
    let cpu = of_kind(&structures, 4)[0];
    assert_eq!((cpu.byte(0x06), cpu.word(0x28)), (0xB3, 0xB3));
    assert_eq!((cpu.byte(0x23), cpu.byte(0x25)), (4, 4));
    assert_eq!(cpu.word(0x26), (1 << 2) | (1 << 3));
}

#[test]
fn impossible_topologies_are_errors() {
    let ram = xen_ram(64);
    for topology in [
        CpuTopology::sockets_only(0),
        CpuTopology::sockets_only(MAX_SOCKETS + 1),
        CpuTopology { sockets: 1, cores_per_socket: 0, threads_per_core: 1 },
        CpuTopology { sockets: 1, cores_per_socket: 1, threads_per_core: 0 },
        CpuTopology { sockets: 1, cores_per_socket: 256, threads_per_core: 256 },
        CpuTopology { sockets: 1, cores_per_socket: 0xFFFF, threads_per_core: 1 },
    ] {
        assert_eq!(
            SmbiosTable::build(&SmbiosInfo::new(topology, &ram)),
            Err(SmbiosError::BadTopology(topology))
        );
    }
    // The most sockets, with the most devices and ranges, still fit the 32-bit entry point.
    let ram: Vec<PhysRange> = (0..128u64).map(|i| range(i * TIB, i * TIB + TIB - 0x400)).collect();
    let info = SmbiosInfo::new(CpuTopology::sockets_only(MAX_SOCKETS), &ram);
    let table = SmbiosTable::build(&info).unwrap();
    assert!(table.len() < 0x10000);
    build_and_check(&info, 0x1000, &ram);
}

#[test]
fn placement_errors() {
    let ram = xen_ram(64);
    let info = SmbiosInfo::new(CpuTopology::sockets_only(1), &ram);
    let table = SmbiosTable::build(&info).unwrap();
    let len = table.len();
    let mut small = vec![0u8; len - 1];
    assert_eq!(
        table.write_to(&mut small, 0x1000),
        Err(SmbiosError::BufferTooSmall { needed: len, available: len - 1 })
    );
    assert!(small.iter().all(|&b| b == 0), "nothing written on error");
    // Built where it stays: a buffer one byte short says what the table needs, and
    // nothing is written past it.
    let mut place = vec![0xEEu8; len + 1];
    assert_eq!(
        SmbiosTable::build_into(&info, &mut place[..len - 1]).map_err(|e| *e),
        Err(SmbiosError::BufferTooSmall { needed: len, available: len - 1 })
    );
    assert_eq!(place[len - 1..], [0xEE, 0xEE]);
    assert_eq!(SmbiosTable::build_into(&info, &mut place[..len]), Ok(table.clone()));
    assert_eq!(place[..len], *table.as_bytes());
    let mut buf = vec![0u8; len + 16];
    let top = (1u64 << 32) - len as u64;
    assert!(table.write_to(&mut buf, top).is_ok(), "may end exactly at 4 GiB");
    assert_eq!(
        table.write_to(&mut buf, top + 1),
        Err(SmbiosError::TableAbove4GiB { paddr: top + 1, len })
    );
    let above = table.entry_points(u64::MAX - 4).unwrap_err();
    assert!(matches!(*above, SmbiosError::TableAbove4GiB { .. }));

    let (written, eps) = write_tables(&info, &mut buf, 0xFC00_2000).unwrap();
    assert_eq!(written, len);
    check_all(&buf[..len], 0xFC00_2000, &eps);
}

#[test]
fn error_messages_are_one_line() {
    let errors = [
        SmbiosError::BadReleaseDate,
        SmbiosError::BadRomSize(0),
        SmbiosError::BadTopology(CpuTopology::sockets_only(0)),
        SmbiosError::NoRam,
        SmbiosError::TooManyRamRanges(200),
        SmbiosError::EmptyRamRange(range(1, 1)),
        SmbiosError::RamRangesOverlap { first: range(0, 2), second: range(1, 3) },
        SmbiosError::TooMuchRam { bytes: 1 },
        SmbiosError::TableTooLarge { len: 70000 },
        SmbiosError::TableAbove4GiB { paddr: 1, len: 2 },
        SmbiosError::BufferTooSmall { needed: 2, available: 1 },
    ];
    for err in errors {
        let text = err.to_string();
        assert!(text.starts_with("smbios: ") && !text.contains('\n'), "{text}");
    }
}

// ---- properties ------------------------------------------------------------------------------

/// Strings as a toolstack might pass them: empty, short ASCII, UTF-8, repeats of each other
/// (from a small pool so deduplication happens), and now and then a NUL or an overlong one
/// (about half the descriptions have one bad string).
fn string_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => Just(String::new()),
        12 => prop::sample::select(vec!["Xen", "HVM domU", "Xen", "4.17", "QEMU"])
            .prop_map(String::from),
        16 => "[ -~]{1,40}",
        4 => "\\PC{1,20}",
        1 => "[a-z]{0,5}\0[a-z]{0,5}",
        1 => "[a-z]{250,260}",
    ]
}

/// RAM as non-overlapping ranges with random gaps, some off KiB boundaries, some far up.
fn ram_strategy() -> impl Strategy<Value = Vec<PhysRange>> {
    prop::collection::vec(
        (
            prop_oneof![0u64..0x10_0000, 0u64..64 * GiB, 0u64..8 * TIB],
            prop_oneof![1u64..0x10_0000, 1u64..64 * GiB, 1u64..2 * TIB],
        ),
        1..12,
    )
    .prop_map(|pieces| {
        let mut ranges = Vec::new();
        let mut at = 0u64;
        for (gap, len) in pieces {
            let start = at + gap;
            ranges.push(range(start, start + len));
            at = start + len;
        }
        ranges
    })
}

fn valid(s: &str) -> bool {
    s.len() <= MAX_STRING_LEN && !s.contains('\0')
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_descriptions_build_valid_tables_or_fail_cleanly(
        strings in prop::collection::vec(string_strategy(), 12),
        uuid in prop::option::of(any::<[u8; 16]>()),
        sockets in 1u16..20,
        cores in prop_oneof![1u16..8, 1u16..400],
        threads in 1u16..3,
        family in any::<u16>(),
        ram in ram_strategy(),
        paddr in prop_oneof![Just(0xF_0000u64), 0u64..0xF000_0000],
        shuffle in any::<prop::sample::Index>(),
    ) {
        let mut shuffled = ram.clone();
        let rotation = shuffle.index(shuffled.len());
        shuffled.rotate_left(rotation);
        let mut info = SmbiosInfo::new(
            CpuTopology { sockets, cores_per_socket: cores, threads_per_core: threads },
            &shuffled,
        );
        info.bios.vendor = &strings[0];
        info.bios.version = &strings[1];
        info.system.manufacturer = &strings[2];
        info.system.product = &strings[3];
        info.system.version = &strings[4];
        info.system.family = &strings[5];
        info.system.uuid = uuid;
        info.baseboard.manufacturer = &strings[6];
        info.baseboard.product = &strings[7];
        info.chassis.manufacturer = &strings[8];
        info.chassis.asset_tag = &strings[9];
        info.processor.manufacturer = &strings[10];
        info.processor.version = &strings[11];
        info.processor.family = family;

        let all_valid = strings.iter().all(|s| valid(s));
        match SmbiosTable::build(&info) {
            Ok(table) => {
                prop_assert!(all_valid);
                let mut buf = vec![0u8; table.len()];
                let eps = table.write_to(&mut buf, paddr).unwrap();
                let structures = check_all(&buf, paddr, &eps);
                check_contents(&structures, &info, &ram);
                let system = &structures[1];
                match uuid {
                    Some(uuid) => {
                        prop_assert_eq!(&system.area[0x08..0x18], &smbios_uuid(&uuid)[..]);
                        prop_assert_eq!(system.string(0x07).len(), 36);
                    }
                    None => prop_assert_eq!(&system.area[0x08..0x18], &[0u8; 16][..]),
                }
            }
            Err(SmbiosError::StringHasNul { .. } | SmbiosError::StringTooLong { .. }) => {
                prop_assert!(!all_valid);
            }
            Err(SmbiosError::TooMuchRam { bytes }) => {
                prop_assert!(bytes.div_ceil(MAX_MEMORY_DEVICE_SIZE) > MAX_MEMORY_DEVICES);
            }
            Err(other) => prop_assert!(false, "unexpected error: {}", other),
        }
    }
}
