use alloc::format;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::addr::{GiB, MiB, PAGE_SIZE};

fn range(start: u64, end: u64) -> PhysRange {
    PhysRange { start, end }
}

fn region(start: u64, end: u64, kind: MemoryKind) -> MemoryRegion {
    MemoryRegion { range: range(start, end), kind }
}

fn ram(start: u64, end: u64) -> MemoryRegion {
    region(start, end, MemoryKind::Ram)
}

/// The map Xen gives a 6 GiB HVM guest: low RAM up to the VGA hole, RAM from 1 MiB to the
/// start of the MMIO hole, and the rest above 4 GiB.
fn xen_platform() -> Vec<MemoryRegion> {
    vec![ram(0, 0x9F000), ram(MiB, 0xF000_0000), ram(4 * GiB, 4 * GiB + 0x1_1000_0000)]
}

#[test]
fn ram_alone_passes_through() {
    let map = E820Builder::new(&xen_platform()).unwrap().build().unwrap();
    assert_eq!(map.entries(), &xen_platform()[..]);
    assert_eq!(map.ram_bytes(), 0x9F000 + 0xF000_0000 - MiB + 0x1_1000_0000);
}

#[test]
fn touching_ram_entries_merge() {
    let map = E820Builder::new(&[ram(0, 0x1000), ram(0x1000, 0x5000), ram(0x6000, 0x7000)])
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(map.entries(), &[ram(0, 0x5000), ram(0x6000, 0x7000)]);
}

#[test]
fn claim_inside_ram_splits_it() {
    let mut builder = E820Builder::new(&[ram(MiB, 64 * MiB)]).unwrap();
    builder.claim(ClaimKind::AcpiTables, range(0x200_0000, 0x201_0000), "ACPI tables").unwrap();
    let map = builder.build().unwrap();
    assert_eq!(
        map.entries(),
        &[
            ram(MiB, 0x200_0000),
            region(0x200_0000, 0x201_0000, MemoryKind::AcpiReclaimable),
            ram(0x201_0000, 64 * MiB),
        ]
    );
}

#[test]
fn claims_at_both_ends_of_ram_shorten_it() {
    let mut builder = E820Builder::new(&[ram(MiB, 16 * MiB)]).unwrap();
    builder.claim(ClaimKind::Reserved, range(MiB, 2 * MiB), "firmware").unwrap();
    builder.claim(ClaimKind::AcpiNvs, range(15 * MiB, 16 * MiB), "FACS").unwrap();
    let map = builder.build().unwrap();
    assert_eq!(
        map.entries(),
        &[
            region(MiB, 2 * MiB, MemoryKind::Reserved),
            ram(2 * MiB, 15 * MiB),
            region(15 * MiB, 16 * MiB, MemoryKind::AcpiNvs),
        ]
    );
}

#[test]
fn claim_over_whole_ram_entry_replaces_it() {
    let mut builder = E820Builder::new(&[ram(0, 0xA0000), ram(MiB, 8 * MiB)]).unwrap();
    builder.claim(ClaimKind::Reserved, range(0, 0xA0000), "low memory").unwrap();
    let map = builder.build().unwrap();
    assert_eq!(map.entries(), &[region(0, 0xA0000, MemoryKind::Reserved), ram(MiB, 8 * MiB)]);
}

#[test]
fn claim_spanning_ram_and_hole_covers_both() {
    // The BIOS area often starts in RAM (QEMU's map has RAM to 0xA0000 or beyond).
    let mut builder = E820Builder::new(&[ram(0, 0xB0000), ram(MiB, 8 * MiB)]).unwrap();
    builder.claim(ClaimKind::Reserved, range(0xA0000, MiB), "BIOS area").unwrap();
    let map = builder.build().unwrap();
    assert_eq!(
        map.entries(),
        &[ram(0, 0xA0000), region(0xA0000, MiB, MemoryKind::Reserved), ram(MiB, 8 * MiB),]
    );
}

#[test]
fn mmio_claims_outside_ram_become_entries() {
    let mut builder = E820Builder::new(&xen_platform()).unwrap();
    builder.claim(ClaimKind::Reserved, range(0xFEE0_0000, 0xFEF0_0000), "LAPIC").unwrap();
    builder.claim(ClaimKind::Reserved, range(0xFEC0_0000, 0xFEC0_1000), "IOAPIC").unwrap();
    let map = builder.build().unwrap();
    assert_eq!(
        map.entries()[2..4],
        [
            region(0xFEC0_0000, 0xFEC0_1000, MemoryKind::Reserved),
            region(0xFEE0_0000, 0xFEF0_0000, MemoryKind::Reserved),
        ]
    );
    assert_eq!(map.len(), 5);
}

#[test]
fn overlapping_reserved_claims_are_united() {
    let mut builder = E820Builder::new(&xen_platform()).unwrap();
    builder.claim(ClaimKind::Reserved, range(0xFC00_0000, 4 * GiB), "hvmloader").unwrap();
    builder.claim(ClaimKind::Reserved, range(0xFEC0_0000, 0xFEC0_1000), "IOAPIC").unwrap();
    builder.claim(ClaimKind::Reserved, range(0xFBF0_0000, 0xFC10_0000), "other").unwrap();
    let map = builder.build().unwrap();
    assert!(map.entries().contains(&region(0xFBF0_0000, 4 * GiB, MemoryKind::Reserved)), "{map}");
}

#[test]
fn acpi_over_reserved_is_an_error_naming_both() {
    let mut builder = E820Builder::new(&xen_platform()).unwrap();
    builder.claim(ClaimKind::Reserved, range(0xFC00_0000, 4 * GiB), "hvmloader").unwrap();
    let err = builder
        .claim(ClaimKind::AcpiTables, range(0xFC01_0000, 0xFC02_0000), "ACPI tables")
        .unwrap_err();
    assert_eq!(
        *err,
        E820Error::ClaimsConflict {
            new: Claim {
                range: range(0xFC01_0000, 0xFC02_0000),
                kind: MemoryKind::AcpiReclaimable,
                owner: "ACPI tables",
            },
            existing: Claim {
                range: range(0xFC00_0000, 4 * GiB),
                kind: MemoryKind::Reserved,
                owner: "hvmloader",
            },
        }
    );
    let text = err.to_string();
    assert!(text.contains("[0xfc010000-0xfc01ffff]"), "{text}");
    assert!(text.contains("[0xfc000000-0xffffffff]"), "{text}");
    assert!(text.contains("ACPI tables") && text.contains("hvmloader"), "{text}");
    // The failed claim left no trace.
    assert_eq!(builder.claims().len(), 1);
}

#[test]
fn reserved_over_acpi_is_an_error() {
    let mut builder = E820Builder::new(&xen_platform()).unwrap();
    builder.claim(ClaimKind::AcpiTables, range(0x10_0000, 0x11_0000), "ACPI").unwrap();
    let err =
        builder.claim(ClaimKind::Reserved, range(0x10_F000, 0x12_0000), "firmware").unwrap_err();
    assert!(matches!(*err, E820Error::ClaimsConflict { .. }));
}

#[test]
fn two_acpi_claims_may_not_overlap_but_may_touch() {
    let mut builder = E820Builder::new(&xen_platform()).unwrap();
    builder.claim(ClaimKind::AcpiTables, range(0x10_0000, 0x10_2000), "DSDT").unwrap();
    assert!(matches!(
        builder.claim(ClaimKind::AcpiTables, range(0x10_1000, 0x10_3000), "SSDT").map_err(|e| *e),
        Err(E820Error::ClaimsConflict { .. })
    ));
    builder.claim(ClaimKind::AcpiTables, range(0x10_2000, 0x10_3000), "SSDT").unwrap();
    let map = builder.build().unwrap();
    assert!(map.entries().contains(&region(0x10_0000, 0x10_3000, MemoryKind::AcpiReclaimable)));
}

#[test]
fn touching_claims_of_different_types_stay_apart() {
    let mut builder = E820Builder::new(&[ram(0, 16 * MiB)]).unwrap();
    builder.claim(ClaimKind::AcpiTables, range(MiB, 2 * MiB), "ACPI").unwrap();
    builder.claim(ClaimKind::AcpiNvs, range(2 * MiB, 3 * MiB), "FACS").unwrap();
    let map = builder.build().unwrap();
    assert_eq!(map.len(), 4);
}

#[test]
fn platform_reserved_entries_are_kept_and_checked() {
    let platform = [
        ram(0, 0x9F000),
        region(0x9F000, 0xA0000, MemoryKind::Reserved),
        ram(MiB, 0x8000_0000),
        region(0xFEFF_C000, 0xFF00_0000, MemoryKind::Reserved),
        region(0x8000_0000, 0x8000_1000, MemoryKind::Other(0x55)),
    ];
    let mut builder = E820Builder::new(&platform).unwrap();
    // Reserved over the platform's reserved range is fine ...
    builder.claim(ClaimKind::Reserved, range(0xFC00_0000, 4 * GiB), "hvmloader").unwrap();
    // ... ACPI over it is not, and the error names the platform as the other owner.
    let err = builder.claim(ClaimKind::AcpiNvs, range(0x9F800, 0x9FC00), "FACS").unwrap_err();
    assert!(err.to_string().contains(PLATFORM_OWNER), "{err}");
    let map = builder.build().unwrap();
    assert_eq!(
        map.entries(),
        &[
            ram(0, 0x9F000),
            region(0x9F000, 0xA0000, MemoryKind::Reserved),
            ram(MiB, 0x8000_0000),
            region(0x8000_0000, 0x8000_1000, MemoryKind::Other(0x55)),
            region(0xFC00_0000, 4 * GiB, MemoryKind::Reserved),
        ]
    );
    let mut bytes = [0u8; 5 * E820_ENTRY_SIZE];
    map.encode_into(&mut bytes).unwrap();
    assert_eq!(&bytes[3 * 20 + 16..3 * 20 + 20], &0x55u32.to_le_bytes());
}

#[test]
fn kinds_compare_by_type_number() {
    // `Other(1)` is RAM and `Other(2)` reserved, whatever the input spelled them as.
    let platform = [
        ram(0, MiB),
        region(MiB, 2 * MiB, MemoryKind::Other(1)),
        region(2 * MiB, 3 * MiB, MemoryKind::Other(2)),
    ];
    let mut builder = E820Builder::new(&platform).unwrap();
    builder.claim(ClaimKind::Reserved, range(2 * MiB, 4 * MiB), "firmware").unwrap();
    let map = builder.build().unwrap();
    assert_eq!(map.entries(), &[ram(0, 2 * MiB), region(2 * MiB, 4 * MiB, MemoryKind::Reserved)]);
}

#[test]
fn overlapping_platform_entries_are_an_error() {
    let err = E820Builder::new(&[ram(0, 2 * MiB), ram(MiB, 3 * MiB)]).unwrap_err();
    assert_eq!(
        *err,
        E820Error::PlatformOverlap { first: range(0, 2 * MiB), second: range(MiB, 3 * MiB) }
    );
    let err = E820Builder::new(&[ram(0, 2 * MiB), region(MiB, MiB + 1, MemoryKind::Reserved)])
        .unwrap_err();
    assert!(matches!(*err, E820Error::PlatformOverlap { .. }));
}

#[test]
fn empty_and_inverted_ranges_are_errors() {
    let mut builder = E820Builder::new(&xen_platform()).unwrap();
    for bad in [range(MiB, MiB), range(2 * MiB, MiB)] {
        assert_eq!(
            builder.claim(ClaimKind::Reserved, bad, "nothing").map_err(|e| *e),
            Err(E820Error::EmptyRange { range: bad, owner: "nothing" })
        );
    }
    assert!(matches!(
        E820Builder::new(&[ram(5, 5)]).map_err(|e| *e),
        Err(E820Error::EmptyRange { .. })
    ));
}

#[test]
fn more_than_128_entries_is_an_error() {
    // 64 one-page claims in one RAM range: 64 claims + 65 RAM pieces = 129 entries.
    let mut builder = E820Builder::new(&[ram(0, 1 << 32)]).unwrap();
    for i in 0..64 {
        let start = (2 * i + 1) * 0x1000;
        builder.claim(ClaimKind::Reserved, range(start, start + 0x1000), "page").unwrap();
    }
    assert_eq!(builder.build().map_err(|e| *e), Err(E820Error::TooManyEntries { count: 129 }));
    // With RAM ending where the last claim ends, the same claims give exactly 128 entries.
    let mut builder = E820Builder::new(&[ram(0, 128 * 0x1000)]).unwrap();
    for i in 0..64 {
        let start = (2 * i + 1) * 0x1000;
        builder.claim(ClaimKind::Reserved, range(start, start + 0x1000), "page").unwrap();
    }
    assert_eq!(builder.build().unwrap().len(), MAX_E820_ENTRIES);
}

#[test]
fn encoding_is_base_length_type_little_endian() {
    let mut builder = E820Builder::new(&[ram(0, 0x9FC00)]).unwrap();
    builder.claim(ClaimKind::Reserved, range(0xF0000, 0x100000), "BIOS").unwrap();
    let map = builder.build().unwrap();
    let mut buf = [0xAAu8; 48];
    assert_eq!(map.encode_into(&mut buf), Ok(40));
    assert_eq!(
        buf[..40],
        [
            0, 0, 0, 0, 0, 0, 0, 0, // base 0
            0x00, 0xFC, 0x09, 0, 0, 0, 0, 0, // length 0x9FC00
            1, 0, 0, 0, // RAM
            0, 0, 0x0F, 0, 0, 0, 0, 0, // base 0xF0000
            0, 0, 0x01, 0, 0, 0, 0, 0, // length 0x10000
            2, 0, 0, 0, // reserved
        ]
    );
    assert_eq!(buf[40..], [0xAA; 8], "nothing written past the entries");
    assert_eq!(
        map.encode_into(&mut buf[..39]).map_err(|e| *e),
        Err(E820Error::BufferTooSmall { needed: 40, available: 39 })
    );
}

#[test]
fn display_lists_one_entry_per_line() {
    let mut builder = E820Builder::new(&[ram(0, 0x9FC00), ram(MiB, 0x800_0000)]).unwrap();
    builder.claim(ClaimKind::AcpiNvs, range(0x7FF_F000, 0x800_0000), "FACS").unwrap();
    let text = format!("{}", builder.build().unwrap());
    assert_eq!(
        text,
        "0x0000000000000000-0x000000000009fbff RAM\n\
         0x0000000000100000-0x0000000007ffefff RAM\n\
         0x0000000007fff000-0x0000000007ffffff ACPI NVS"
    );
}

#[test]
fn typical_q35_map() {
    let mut builder = E820Builder::new(&xen_platform()).unwrap();
    let claims = [
        (ClaimKind::Reserved, range(0xA0000, MiB), "BIOS area"),
        (ClaimKind::Reserved, range(0xE000_0000, 0xF000_0000), "MMCONFIG"),
        (ClaimKind::Reserved, range(0xFC00_0000, 0xFC00_1000), "info page"),
        (ClaimKind::AcpiTables, range(0xFC00_1000, 0xFC01_0000), "ACPI"),
        (ClaimKind::AcpiNvs, range(0xFC01_0000, 0xFC01_1000), "FACS"),
        (ClaimKind::Reserved, range(0xFEC0_0000, 0xFEC0_1000), "IOAPIC"),
        (ClaimKind::Reserved, range(0xFED0_0000, 0xFED0_0400), "HPET"),
        (ClaimKind::Reserved, range(0xFEE0_0000, 0xFEF0_0000), "LAPIC"),
    ];
    for (kind, range, owner) in claims {
        builder.claim(kind, range, owner).unwrap();
    }
    let map = builder.build().unwrap();
    assert_eq!(
        map.entries(),
        &[
            ram(0, 0x9F000),
            region(0xA0000, MiB, MemoryKind::Reserved),
            ram(MiB, 0xE000_0000),
            region(0xE000_0000, 0xF000_0000, MemoryKind::Reserved),
            region(0xFC00_0000, 0xFC00_1000, MemoryKind::Reserved),
            region(0xFC00_1000, 0xFC01_0000, MemoryKind::AcpiReclaimable),
            region(0xFC01_0000, 0xFC01_1000, MemoryKind::AcpiNvs),
            region(0xFEC0_0000, 0xFEC0_1000, MemoryKind::Reserved),
            region(0xFED0_0000, 0xFED0_0400, MemoryKind::Reserved),
            region(0xFEE0_0000, 0xFEF0_0000, MemoryKind::Reserved),
            ram(4 * GiB, 4 * GiB + 0x1_1000_0000),
        ]
    );
}

// ---- properties -------------------------------------------------------------------------------

/// Addresses in the properties are pages of a 256-page window placed low or above 4 GiB, so a
/// page-by-page model of the expected map stays cheap.
const PAGES: u64 = 256;

fn page_range(base: u64, first: u64, last_exclusive: u64) -> PhysRange {
    range(base + first * PAGE_SIZE, base + last_exclusive * PAGE_SIZE)
}

/// Non-overlapping RAM ranges from sorted distinct cut points: pairs of cuts become ranges,
/// some of them touching their neighbour.
fn ram_strategy() -> impl Strategy<Value = Vec<(u64, u64)>> {
    prop::collection::btree_set(0..=PAGES, 0..12).prop_map(|cuts| {
        let cuts: Vec<u64> = cuts.into_iter().collect();
        cuts.chunks_exact(2).map(|pair| (pair[0], pair[1])).collect()
    })
}

fn claim_strategy() -> impl Strategy<Value = Vec<(u8, u64, u64)>> {
    prop::collection::vec((0u8..3, 0..PAGES, 1..24u64), 0..16).prop_map(|claims| {
        claims
            .into_iter()
            .map(|(kind, first, len)| (kind, first, (first + len).min(PAGES + 8)))
            .collect()
    })
}

fn claim_kind(index: u8) -> ClaimKind {
    match index {
        0 => ClaimKind::Reserved,
        1 => ClaimKind::AcpiTables,
        _ => ClaimKind::AcpiNvs,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn built_maps_are_sorted_merged_and_cover_exactly(
        high in any::<bool>(),
        ram_pages in ram_strategy(),
        claims in claim_strategy(),
    ) {
        let base = if high { 0x7_FFFF_0000_0000 } else { 0 };
        let platform: Vec<MemoryRegion> = ram_pages
            .iter()
            .map(|&(first, end)| MemoryRegion {
                range: page_range(base, first, end),
                kind: MemoryKind::Ram,
            })
            .collect();
        let mut builder = E820Builder::new(&platform).unwrap();

        // The model: the expected kind of every page, `None` for a hole.
        let mut model: Vec<Option<MemoryKind>> = vec![None; (PAGES + 8) as usize];
        for &(first, end) in &ram_pages {
            for page in first..end {
                model[page as usize] = Some(MemoryKind::Ram);
            }
        }
        let mut accepted = Vec::new();
        for &(kind, first, end) in &claims {
            let kind = claim_kind(kind);
            let claimed = page_range(base, first, end);
            // A claim must be refused exactly when it overlaps an accepted one, unless both
            // are reserved.
            let conflicts = accepted.iter().any(|&(other, other_first, other_end)| {
                first < other_end
                    && other_first < end
                    && !(kind == ClaimKind::Reserved && other == ClaimKind::Reserved)
            });
            match builder.claim(kind, claimed, "test").map_err(|e| *e) {
                Ok(()) => {
                    prop_assert!(!conflicts);
                    accepted.push((kind, first, end));
                    for page in first..end {
                        model[page as usize] = Some(kind.memory_kind());
                    }
                }
                Err(E820Error::ClaimsConflict { new, existing }) => {
                    prop_assert!(conflicts);
                    prop_assert_eq!(new.range, claimed);
                    prop_assert!(existing.range.overlaps(&claimed));
                }
                Err(other) => prop_assert!(false, "unexpected error {}", other),
            }
        }

        let map = match builder.build().map_err(|e| *e) {
            Ok(map) => map,
            Err(E820Error::TooManyEntries { count }) => {
                prop_assert!(count > MAX_E820_ENTRIES);
                return Ok(());
            }
            Err(other) => return Err(TestCaseError::fail(format!("{other}"))),
        };
        let entries = map.entries();

        for pair in entries.windows(2) {
            // Sorted and non-overlapping ...
            prop_assert!(pair[0].range.end <= pair[1].range.start, "{}", map);
            // ... and merged: touching entries differ in type.
            prop_assert!(
                pair[0].range.end < pair[1].range.start || pair[0].kind != pair[1].kind,
                "{}", map
            );
        }
        // Page by page, the map says exactly what the model says: every RAM byte is covered
        // once, as RAM or as the claim over it, and every claim appears with its type.
        let mut actual: Vec<Option<MemoryKind>> = vec![None; (PAGES + 8) as usize];
        for entry in entries {
            prop_assert!(entry.range.start < entry.range.end);
            prop_assert_eq!(entry.range.start % PAGE_SIZE, 0);
            prop_assert_eq!(entry.range.end % PAGE_SIZE, 0);
            let first = (entry.range.start - base) / PAGE_SIZE;
            let end = (entry.range.end - base) / PAGE_SIZE;
            for page in first..end {
                prop_assert!(actual[page as usize].is_none(), "page {} twice", page);
                actual[page as usize] = Some(entry.kind);
            }
        }
        prop_assert_eq!(actual, model);

        let mut bytes = vec![0u8; map.encoded_len()];
        prop_assert_eq!(map.encode_into(&mut bytes), Ok(entries.len() * E820_ENTRY_SIZE));
        for (raw, entry) in bytes.chunks_exact(E820_ENTRY_SIZE).zip(entries) {
            let base = u64::from_le_bytes(raw[0..8].try_into().unwrap());
            let len = u64::from_le_bytes(raw[8..16].try_into().unwrap());
            let kind = u32::from_le_bytes(raw[16..20].try_into().unwrap());
            prop_assert_eq!(base, entry.range.start);
            prop_assert_eq!(base + len, entry.range.end);
            prop_assert_eq!(MemoryKind::from_e820(kind), entry.kind);
        }
    }
}

#[test]
fn display_of_errors_is_one_line() {
    let errors = [
        E820Error::EmptyRange { range: range(1, 1), owner: "x" },
        E820Error::PlatformOverlap { first: range(0, 2), second: range(1, 3) },
        E820Error::TooManyEntries { count: 130 },
        E820Error::BufferTooSmall { needed: 40, available: 20 },
    ];
    for err in errors {
        let text = err.to_string();
        assert!(text.starts_with("e820: ") && !text.contains('\n'), "{text}");
    }
}
