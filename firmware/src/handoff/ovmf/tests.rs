use alloc::collections::BTreeMap;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;
use core::mem::{offset_of, size_of};

use super::*;
use crate::bootinfo::MemoryKind;
use crate::pci::Bdf;
use crate::platform::xen::abi::errno;
use crate::platform::xen::abi::{self, AddToPhysmap, DOMID_SELF, MemoryReservation};

const MIB: u64 = 1 << 20;

fn range(start: u64, end: u64) -> PhysRange {
    PhysRange { start, end }
}

fn region(start: u64, end: u64, kind: MemoryKind) -> MemoryRegion {
    MemoryRegion { range: range(start, end), kind }
}

/// Where the firmware's tables sit in [`guest_map`]: the top of low RAM.
const TABLES: PhysRange = PhysRange { start: 0x0FFC_0000, end: 0x1000_0000 };

/// A 256 MiB Xen guest as the firmware hands it on: conventional memory, the BIOS area,
/// low RAM with the ACPI tables carved at its top, optionally RAM above 4 GiB.
fn guest_map(high_ram: Option<PhysRange>) -> E820Map {
    let mut platform =
        vec![region(0, 0x9_F000, MemoryKind::Ram), region(MIB, TABLES.end, MemoryKind::Ram)];
    if let Some(high) = high_ram {
        platform.push(MemoryRegion { range: high, kind: MemoryKind::Ram });
    }
    let mut map = E820Builder::new(&platform).unwrap();
    map.claim(ClaimKind::Reserved, range(0xA_0000, MIB), "BIOS area").unwrap();
    map.claim(ClaimKind::AcpiTables, TABLES, "ACPI tables").unwrap();
    map.build().unwrap()
}

// ---------------------------------------------------------------------------------------
// The info table.

/// `EFI_XEN_OVMF_INFO` (edk2 `OvmfPkg/XenPlatformPei/Xen.h`), the layout OVMF reads.
#[repr(C, packed)]
#[allow(dead_code)]
struct XenOvmfInfo {
    signature: [u8; 14],
    length: u8,
    checksum: u8,
    tables: u64,
    tables_count: u32,
    e820: u64,
    e820_count: u32,
}

#[test]
fn info_table_has_ovmfs_packed_layout() {
    assert_eq!(size_of::<XenOvmfInfo>(), INFO_LEN);
    assert_eq!(offset_of!(XenOvmfInfo, length), 14);
    assert_eq!(offset_of!(XenOvmfInfo, checksum), 15);
    assert_eq!(offset_of!(XenOvmfInfo, tables), 16);
    assert_eq!(offset_of!(XenOvmfInfo, tables_count), 24);
    assert_eq!(offset_of!(XenOvmfInfo, e820), 28);
    assert_eq!(offset_of!(XenOvmfInfo, e820_count), 36);
}

#[test]
fn info_page_bytes_sum_to_zero_and_point_into_the_same_page() {
    let map = guest_map(None);
    let page = info_page(&[RSDP_COPY_ADDRESS, SMBIOS_COPY_ADDRESS], &map).unwrap();
    assert_eq!(&page[..14], b"XenHVMOVMF\0\0\0\0");
    assert_eq!(page[14], 40);
    assert_eq!(libacpi::checksum::sum(&page[..40]), 0);
    let u64_at = |at: usize| u64::from_le_bytes(page[at..at + 8].try_into().unwrap());
    let u32_at = |at: usize| u32::from_le_bytes(page[at..at + 4].try_into().unwrap());
    assert_eq!((u64_at(16), u32_at(24)), (0x1040, 2));
    assert_eq!((u64_at(28), u32_at(36)), (0x1080, map.len() as u32));
    assert_eq!((u64_at(0x40), u64_at(0x48)), (0xE_A020, 0xE_B000));
    let mut encoded = vec![0u8; map.encoded_len()];
    map.encode_into(&mut encoded).unwrap();
    assert_eq!(&page[0x80..], &encoded[..]);
    // The longest page still ends below the real-mode trampoline's page.
    assert!(INFO_ADDRESS + INFO_PAGE_LEN as u64 <= crate::arch::realmode::TRAMPOLINE_BASE);
}

// ---------------------------------------------------------------------------------------
// Placement.

#[test]
fn whole_mib_images_end_at_4_gib() {
    assert_eq!(flash_range(MIB), Ok(range(0xFFF0_0000, 1 << 32)));
    assert_eq!(flash_range(2 * MIB), Ok(range(0xFFE0_0000, 1 << 32)));
    assert_eq!(flash_range(4 * MIB), Ok(range(0xFFC0_0000, 1 << 32)));
    assert_eq!(flash_range(16 * MIB), Ok(range(0xFF00_0000, 1 << 32)));
}

#[test]
fn images_that_cannot_end_at_4_gib_are_refused_in_one_line() {
    // OVMF_CODE.fd and OVMF_CODE_4M.fd alone (no variable store) are not whole MiB.
    for size in [0, 0x1E_0000, 0x37_C000, MIB + 1] {
        assert_eq!(flash_range(size), Err(OvmfError::NotWholeMib { size }));
    }
    assert_eq!(flash_range(17 * MIB), Err(OvmfError::TooLarge { size: 17 * MIB }));
    for e in [flash_range(0x1E_0000).unwrap_err(), flash_range(17 * MIB).unwrap_err()] {
        let text = e.to_string();
        assert!(!text.contains('\n') && text.contains("OVMF image of"), "{text}");
    }
}

#[test]
fn the_flash_must_not_overlap_the_memory_map() {
    let flash = flash_range(2 * MIB).unwrap();
    let mut map = guest_map(None).entries().to_vec();
    assert_eq!(check_room(flash, &map), Ok(()));
    // Reserved device memory (an RMRR) at the top of 4 GiB.
    let rdm = region(0xFFF0_0000, 0xFFF0_1000, MemoryKind::Reserved);
    map.push(rdm);
    assert_eq!(check_room(flash, &map), Err(OvmfError::NoRoom { flash, entry: rdm }));
    let text = check_room(flash, &map).unwrap_err().to_string();
    assert!(text.starts_with("no room for the OVMF flash at [0xffe00000-0xffffffff]"), "{text}");
}

#[test]
fn spare_pages_come_from_the_top_of_free_ram_above_1_mib() {
    let high = range(1 << 32, (1 << 32) + 2 * 0x1000);
    let map = guest_map(Some(high));
    let image = range(MIB, MIB + 0x8_0000);
    let below_tables = TABLES.start / 0x1000;
    let pages = spare_pages(&map, &[image], 5);
    // RAM above 4 GiB first, then the top of low RAM, below the ACPI tables.
    assert_eq!(pages, [0x10_0001, 0x10_0000, below_tables - 1, below_tables - 2, below_tables - 3]);
    // What is in use and what lies below 1 MiB is never offered.
    let all = spare_pages(&map, &[image], usize::MAX);
    let low_ram_pages = (TABLES.start - MIB) / 0x1000;
    assert_eq!(all.len() as u64, 2 + low_ram_pages - image.len() / 0x1000);
    assert!(all.iter().all(|&p| p >= 0x100 && !(0x100..0x180).contains(&p)));
}

// ---------------------------------------------------------------------------------------
// Backing the flash with RAM, against a fake hypervisor.

/// Xen's memory operations as far as the flash needs them: populate_physmap up to a budget
/// of pages (the domain's allocation left), add_to_physmap recorded.
#[derive(Default)]
struct FakeXen {
    budget: usize,
    populated: Vec<u64>,
    moves: Vec<(u64, u64)>,
    populate_errno: Option<i64>,
}

impl Hypercall for FakeXen {
    unsafe fn call(&mut self, op: u32, args: [u64; 5]) -> i64 {
        assert_eq!(op, abi::hypercall::MEMORY_OP);
        // SAFETY: the wrappers pass pointers to live structures of the
        // operation's layout, which is what this fake decodes them as.
        unsafe {
            match args[0] {
                abi::xenmem::POPULATE_PHYSMAP => {
                    if let Some(e) = self.populate_errno {
                        return -e;
                    }
                    let r = &*(args[1] as *const MemoryReservation);
                    assert_eq!((r.domid, r.extent_order), (DOMID_SELF, 0));
                    let frames = core::slice::from_raw_parts(
                        r.extent_start as *const u64,
                        r.nr_extents as usize,
                    );
                    let done = frames.len().min(self.budget);
                    self.budget -= done;
                    self.populated.extend_from_slice(&frames[..done]);
                    done as i64
                }
                abi::xenmem::ADD_TO_PHYSMAP => {
                    let a = &*(args[1] as *const AddToPhysmap);
                    assert_eq!((a.domid, a.space), (DOMID_SELF, MAPSPACE_GMFN));
                    self.moves.push((a.idx, a.gpfn));
                    0
                }
                other => panic!("unexpected memory_op {other}"),
            }
        }
    }
}

#[test]
fn flash_pages_are_populated_while_xen_allows_then_moved_from_spare_ram() {
    // libxl leaves 1 MiB (256 pages) of allocation above the guest's memory.
    let mut xen = Xen::new(FakeXen { budget: 256, ..Default::default() });
    let flash = flash_range(2 * MIB).unwrap();
    let backing =
        back_flash(&mut xen, flash, |n| (0..n as u64).map(|i| 0xFFBF - i).collect()).unwrap();
    let fake = xen.raw();
    assert_eq!(backing.populated, 256);
    assert_eq!(fake.populated, (0xFFE00..0xFFF00).collect::<Vec<u64>>());
    assert_eq!(fake.moves.len(), 256);
    assert_eq!(fake.moves[0], (0xFFBF, 0xFFF00));
    assert_eq!(fake.moves[255], (0xFFBF - 255, 0xFFFFF));
    assert_eq!(backing.moved, [range(0x0FEC_0000, 0x0FFC_0000)]);

    let mut xen = Xen::new(FakeXen { budget: 10_000, ..Default::default() });
    let backing = back_flash(&mut xen, flash, |_| panic!("nothing to move")).unwrap();
    assert_eq!((backing.populated, backing.moved.len()), (512, 0));
}

#[test]
fn too_little_spare_ram_or_a_failing_xen_is_an_error() {
    let flash = flash_range(MIB).unwrap();
    let mut xen = Xen::new(FakeXen { budget: 200, ..Default::default() });
    let err = back_flash(&mut xen, flash, |_| vec![0x5000; 10]).unwrap_err();
    assert_eq!(err, OvmfError::NotEnoughRam { pages: 256, populated: 200, spare: 10 });
    assert!(xen.raw().moves.is_empty(), "nothing may move when the flash cannot be filled");

    let mut xen = Xen::new(FakeXen { populate_errno: Some(errno::EFAULT), ..Default::default() });
    let err = back_flash(&mut xen, flash, |_| Vec::new()).unwrap_err();
    let OvmfError::Xen(xen_error) = &err else { panic!("{err:?}") };
    assert!(matches!(**xen_error, XenError::Hypercall { errno: 14, .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------
// What OVMF gets besides its image.

#[test]
fn the_handed_on_map_reserves_the_flash_and_the_moved_ram() {
    let map = guest_map(None);
    let flash = flash_range(2 * MIB).unwrap();
    let moved = [range(0x0FEC_0000, 0x0FFC_0000)];
    let out = handoff_map(&map, flash, &moved).unwrap();
    let entries = out.entries();
    assert_eq!(entries.last(), Some(&region(0xFFE0_0000, 1 << 32, MemoryKind::Reserved)));
    assert!(entries.contains(&region(MIB, 0x0FEC_0000, MemoryKind::Ram)));
    assert!(entries.contains(&region(0x0FEC_0000, 0x0FFC_0000, MemoryKind::Reserved)));
    assert!(entries.contains(&region(TABLES.start, TABLES.end, MemoryKind::AcpiReclaimable)));
    // OVMF's PEI memory goes below the end of low RAM: below what was moved and the tables.
    assert_eq!(low_ram_end(&out), 0x0FEC_0000);
    assert_eq!(low_ram_end(&map), TABLES.start);
}

#[test]
fn cmos_memory_size_follows_hvmloader() {
    // hvmloader's 256 MiB guest after moving 252 pages behind the OVMF flash: 640 KiB base,
    // extended memory beyond what 16 bits count, 0xEF0 units of 64 KiB above 16 MiB.
    assert_eq!(
        cmos_memory_size(0x0FF0_4000),
        [
            (0x15, 0x80),
            (0x16, 0x02),
            (0x17, 0xFF),
            (0x18, 0xFF),
            (0x30, 0xFF),
            (0x31, 0xFF),
            (0x34, 0xF0),
            (0x35, 0x0E)
        ]
    );
    // 48 MiB: 47 MiB extended (0xBC00 KiB), 32 MiB above 16 MiB (0x200 units).
    assert_eq!(
        cmos_memory_size(48 * MIB)[2..],
        [(0x17, 0x00), (0x18, 0xBC), (0x30, 0x00), (0x31, 0xBC), (0x34, 0x00), (0x35, 0x02)]
    );
    // Below 16 MiB nothing counts above it.
    assert_eq!(cmos_memory_size(8 * MIB)[6..], [(0x34, 0), (0x35, 0)]);
}

/// Port writes, recorded.
#[derive(Default)]
struct Ports {
    writes: Vec<(u16, u8)>,
}

impl PortIo for Ports {
    fn read8(&mut self, _: u16) -> u8 {
        0xFF
    }
    fn read16(&mut self, _: u16) -> u16 {
        0xFFFF
    }
    fn read32(&mut self, _: u16) -> u32 {
        !0
    }
    fn write8(&mut self, port: u16, value: u8) {
        self.writes.push((port, value));
    }
    fn write16(&mut self, _: u16, _: u16) {
        unimplemented!()
    }
    fn write32(&mut self, _: u16, _: u32) {
        unimplemented!()
    }
}

#[test]
fn cmos_bytes_go_through_the_index_and_data_ports() {
    let mut ports = Ports::default();
    write_cmos(&mut ports, &[(0x34, 0xAB), (0x35, 0x0C)]);
    assert_eq!(ports.writes, [(0x70, 0x34), (0x71, 0xAB), (0x70, 0x35), (0x71, 0x0C)]);
}

// ---------------------------------------------------------------------------------------
// The whole Xen path over simulated memory.

/// Guest memory as a few separate regions; a window must lie inside one.
struct SparseMemory {
    regions: Vec<(u64, Vec<u8>)>,
}

impl SparseMemory {
    fn bytes(&mut self, at: PhysRange) -> &mut [u8] {
        self.window(at).unwrap()
    }
}

impl PhysMemoryMut for SparseMemory {
    fn window(&mut self, range: PhysRange) -> Result<&mut [u8], crate::arch::PhysReadError> {
        let err = crate::arch::PhysReadError { paddr: range.start, len: range.len() as usize };
        let (base, bytes) = self
            .regions
            .iter_mut()
            .find(|(base, bytes)| *base <= range.start && range.end <= *base + bytes.len() as u64)
            .ok_or(err)?;
        Ok(&mut bytes[(range.start - *base) as usize..(range.end - *base) as usize])
    }
}

/// An i440FX host bridge whose PAM registers read back what is written.
#[derive(Default)]
struct Bridge {
    regs: BTreeMap<u16, u8>,
}

impl ConfigSpace for Bridge {
    fn read8(&mut self, _: Bdf, offset: u16) -> u8 {
        self.regs.get(&offset).copied().unwrap_or(0)
    }
    fn read16(&mut self, _: Bdf, _: u16) -> u16 {
        unimplemented!()
    }
    fn read32(&mut self, _: Bdf, _: u16) -> u32 {
        unimplemented!()
    }
    fn write8(&mut self, _: Bdf, offset: u16, value: u8) {
        self.regs.insert(offset, value);
    }
    fn write16(&mut self, _: Bdf, _: u16, _: u16) {
        unimplemented!()
    }
    fn write32(&mut self, _: Bdf, _: u16, _: u32) {
        unimplemented!()
    }
}

/// The last 32 bytes of Debian bookworm's OVMF.fd (edk2 2022.11, X64): the AP entry, the
/// VTF signature, and the reset vector, which tests CR0.PE before its jumps.
const OVMF_FD_TAIL: [u8; 32] = [
    0xE9, 0x2A, 0xFF, 0x90, 0x90, 0x90, 0x90, 0x90, 0x00, 0x00, 0x00, 0x00, b'V', b'T', b'F', 0,
    0x0F, 0x20, 0xC0, 0xA8, 0x01, 0x74, 0x05, 0xE9, 0x28, 0xFF, 0xFF, 0xFF, 0xE9, 0x09, 0xFF, 0x90,
];

/// A 1 MiB "OVMF": a byte pattern ending like OVMF.fd.
fn ovmf_image() -> Vec<u8> {
    let mut image: Vec<u8> = (0..MIB as usize).map(|i| (i / 4096) as u8 ^ i as u8).collect();
    let end = image.len();
    image[end - 32..].copy_from_slice(&OVMF_FD_TAIL);
    image
}

#[test]
fn ovmf_images_are_told_by_their_vtf_signature() {
    assert!(has_vtf_signature(&OVMF_FD_TAIL));
    // Older and IA32 builds: `nop; nop; jmp near` after the same signature.
    let mut ia32 = OVMF_FD_TAIL;
    ia32[16..21].copy_from_slice(&[0x90, 0x90, 0xE9, 0x34, 0x12]);
    assert!(has_vtf_signature(&ia32));
    // SeaBIOS ends in a far jump and a date, no signature.
    let mut seabios = [0u8; 32];
    seabios[16..21].copy_from_slice(&[0xEA, 0x5B, 0xE0, 0x00, 0xF0]);
    assert!(!has_vtf_signature(&seabios));
    assert!(!has_vtf_signature(&OVMF_FD_TAIL[..19]));
}

const MODULE: PhysRange = PhysRange { start: 0x20_0000, end: 0x30_0000 };
const RSDP_AT: u64 = TABLES.start + 0x40;
const SMBIOS_AT: u64 = TABLES.start + 0x80;

/// Low memory, the module, the tables page and the flash, as Xen leaves them at hand-off.
fn xen_guest_memory(image: &[u8]) -> SparseMemory {
    let mut tables = vec![0u8; 0x1000];
    let rsdp = &mut tables[0x40..0x40 + 36];
    rsdp[..8].copy_from_slice(b"RSD PTR ");
    rsdp[15] = 2;
    rsdp[20] = 36;
    let smbios = &mut tables[0x80..0x80 + 0x1F];
    smbios[..4].copy_from_slice(b"_SM_");
    smbios[5] = 0x1F;
    smbios[0x10..0x15].copy_from_slice(b"_DMI_");
    SparseMemory {
        regions: vec![
            (0, vec![0; MIB as usize]),
            (MODULE.start, image.to_vec()),
            (TABLES.start, tables),
            (0xFFF0_0000, vec![0; MIB as usize]),
        ],
    }
}

#[test]
fn a_xen_module_lands_at_4_gib_with_everything_ovmf_reads() {
    let image = ovmf_image();
    let mut memory = xen_guest_memory(&image);
    let map = guest_map(None);
    let mut xen = Xen::new(FakeXen { budget: 100, ..Default::default() });
    let mut bridge = Bridge::default();
    let firmware = range(MIB, MIB + 0x8_0000);
    let ovmf = OvmfPayload::from_xen_module(
        MODULE,
        &mut xen,
        &map,
        &[firmware],
        &mut bridge,
        BiosAreaGate::AlwaysRam,
        &mut memory,
    )
    .unwrap();
    assert_eq!(ovmf.flash(), range(0xFFF0_0000, 1 << 32));
    assert_eq!(memory.bytes(ovmf.flash()), &image[..]);
    assert_eq!(memory.bytes(LOW_CHUNK), &image[image.len() - 0x1_0000..]);
    // 100 pages populated, 156 moved from just below the tables.
    assert_eq!(xen.raw().moves.len(), 156);
    assert_eq!(ovmf.moved(), [range(TABLES.start - 156 * 0x1000, TABLES.start)]);
    assert!(bridge.regs.is_empty(), "the PAM registers are Xen's no business");

    let tables = BiosTables {
        rsdp: Some(RSDP_AT as u32),
        smbios_entry: Some(SMBIOS_AT as u32),
        ..Default::default()
    };
    let mut ports = Ports::default();
    let prepared = ovmf.prepare(&map, &tables, &mut memory, &mut ports).unwrap();
    assert_eq!(prepared.tables, [RSDP_COPY_ADDRESS, SMBIOS_COPY_ADDRESS]);
    assert_eq!(&memory.bytes(range(0xE_A020, 0xE_A028))[..], b"RSD PTR ");
    assert_eq!(&memory.bytes(range(0xE_B000, 0xE_B004))[..], b"_SM_");
    let info_bytes = memory.bytes(prepared.info).to_vec();
    assert_eq!(info_bytes, info_page(&prepared.tables, &prepared.map).unwrap());
    assert_eq!(prepared.map, handoff_map(&map, ovmf.flash(), ovmf.moved()).unwrap());
    assert_eq!(prepared.low_ram_end, TABLES.start - 156 * 0x1000);
    let cmos: Vec<(u16, u8)> = cmos_memory_size(prepared.low_ram_end)
        .iter()
        .flat_map(|&(index, value)| [(0x70, index), (0x71, value)])
        .collect();
    assert_eq!(ports.writes, cmos);
}

#[test]
fn bad_xen_modules_are_refused_before_anything_is_written() {
    let map = guest_map(None);
    let try_module = |module: PhysRange, image: &[u8]| {
        let mut memory = xen_guest_memory(image);
        let mut xen = Xen::new(FakeXen { budget: 10_000, ..Default::default() });
        let err = OvmfPayload::from_xen_module(
            module,
            &mut xen,
            &map,
            &[],
            &mut Bridge::default(),
            BiosAreaGate::AlwaysRam,
            &mut memory,
        )
        .unwrap_err();
        (*err, xen.raw().populated.len())
    };
    let short = range(MODULE.start, MODULE.start + 0x1E_0000);
    let (err, populated) = try_module(short, &ovmf_image());
    assert_eq!(
        err,
        HandoffError::OvmfImage {
            source: "the \"firmware\" module",
            error: OvmfError::NotWholeMib { size: 0x1E_0000 }
        }
    );
    assert_eq!(populated, 0);
    assert!(err.to_string().starts_with("the \"firmware\" module: OVMF image of 1966080 bytes"));

    let (err, populated) = try_module(MODULE, &vec![0u8; MIB as usize]);
    assert_eq!(populated, 0);
    assert_eq!(
        err,
        HandoffError::OvmfImage {
            source: "the \"firmware\" module",
            error: OvmfError::NoVtfSignature
        }
    );
    assert!(!err.to_string().contains('\n'));
}
