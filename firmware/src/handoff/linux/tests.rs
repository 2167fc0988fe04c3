use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::arch::PhysReadError;
use crate::bootinfo::MemoryRegion;
use crate::e820::{ClaimKind, E820Builder};
use crate::platform::fw_cfg::sim::{HostAddressing, SimFwCfg};

const MIB: u64 = 1 << 20;

/// The header fields a test varies; the defaults are those of a current x86_64 bzImage.
#[derive(Clone, Copy)]
struct Image {
    setup_sects: u8,
    version: u16,
    loadflags: u8,
    xloadflags: u16,
    relocatable: bool,
    kernel_alignment: u32,
    pref_address: u64,
    init_size: u32,
    cmdline_size: u32,
    initrd_addr_max: u32,
    kernel_len: usize,
}

const DEBIAN_LIKE: Image = Image {
    setup_sects: 3,
    version: 0x020F,
    loadflags: 0x01,
    xloadflags: 0x7F,
    relocatable: true,
    kernel_alignment: 0x20_0000,
    pref_address: 0x100_0000,
    init_size: 0x80_0000,
    cmdline_size: 2047,
    initrd_addr_max: 0x7FFF_FFFF,
    kernel_len: 0x1_0000,
};

impl Image {
    fn bytes(&self) -> Vec<u8> {
        let setup_len = (usize::from(self.setup_sects.max(1)) + 1) * 512;
        let mut image = vec![0u8; setup_len + self.kernel_len];
        image[offset::SETUP_SECTS] = self.setup_sects;
        image[offset::BOOT_FLAG..][..2].copy_from_slice(&BOOT_FLAG.to_le_bytes());
        // A short jump over the header, whose end it gives: 0x202 + 0x6A = 0x26C.
        image[offset::JUMP..][..2].copy_from_slice(&[0xEB, 0x6A]);
        image[offset::HEADER_MAGIC..][..4].copy_from_slice(HEADER_MAGIC);
        image[offset::VERSION..][..2].copy_from_slice(&self.version.to_le_bytes());
        image[offset::LOADFLAGS] = self.loadflags;
        image[offset::INITRD_ADDR_MAX..][..4].copy_from_slice(&self.initrd_addr_max.to_le_bytes());
        image[offset::KERNEL_ALIGNMENT..][..4]
            .copy_from_slice(&self.kernel_alignment.to_le_bytes());
        image[offset::RELOCATABLE_KERNEL] = u8::from(self.relocatable);
        image[offset::XLOADFLAGS..][..2].copy_from_slice(&self.xloadflags.to_le_bytes());
        image[offset::CMDLINE_SIZE..][..4].copy_from_slice(&self.cmdline_size.to_le_bytes());
        image[offset::PREF_ADDRESS..][..8].copy_from_slice(&self.pref_address.to_le_bytes());
        image[offset::INIT_SIZE..][..4].copy_from_slice(&self.init_size.to_le_bytes());
        for (i, byte) in image[setup_len..].iter_mut().enumerate() {
            *byte = (i % 251) as u8;
        }
        image
    }

    fn setup(&self) -> Vec<u8> {
        let bytes = self.bytes();
        let len = setup_len(bytes[..512].try_into().unwrap()).unwrap();
        bytes[..len].to_vec()
    }

    fn header(&self) -> SetupHeader {
        SetupHeader::parse(&self.setup()).unwrap()
    }
}

fn range(start: u64, end: u64) -> PhysRange {
    PhysRange { start, end }
}

fn ram(start: u64, end: u64) -> MemoryRegion {
    MemoryRegion { range: range(start, end), kind: MemoryKind::Ram }
}

/// QEMU's 512 MiB map, with the firmware's usual claims.
fn e820() -> E820Map {
    let mut builder = E820Builder::new(&[ram(0, 0x9_FC00), ram(MIB, 0x1FFD_F000)]).unwrap();
    builder.claim(ClaimKind::Reserved, range(0xA_0000, MIB), "BIOS").unwrap();
    builder.build().unwrap()
}

/// The firmware image while it runs.
const FIRMWARE: PhysRange = PhysRange { start: MIB, end: 0x23_5000 };

#[test]
fn debian_like_header_parses() {
    let header = DEBIAN_LIKE.header();
    assert_eq!(header.version, 0x020F);
    assert!(header.relocatable);
    assert_eq!(header.pref_address, 0x100_0000);
    assert_eq!(header.raw.len(), 0x26C - 0x1F1);
}

#[test]
fn bad_headers_name_their_fault() {
    let cases: [(Image, LinuxError); 5] = [
        (Image { version: 0x020B, ..DEBIAN_LIKE }, LinuxError::ProtocolTooOld { version: 0x020B }),
        (Image { loadflags: 0, ..DEBIAN_LIKE }, LinuxError::NotBzImage),
        (Image { xloadflags: 0x7E, ..DEBIAN_LIKE }, LinuxError::No64BitEntry),
        (Image { kernel_alignment: 0x30_0000, ..DEBIAN_LIKE }, LinuxError::BadAlignment(0x30_0000)),
        (Image { kernel_alignment: 0, ..DEBIAN_LIKE }, LinuxError::BadAlignment(0)),
    ];
    for (image, expected) in cases {
        assert_eq!(SetupHeader::parse(&image.setup()), Err(expected));
    }
    let mut setup = DEBIAN_LIKE.setup();
    setup[offset::HEADER_MAGIC] = b'X';
    assert_eq!(SetupHeader::parse(&setup), Err(LinuxError::NoHeaderMagic));
    setup[offset::BOOT_FLAG] = 0;
    assert_eq!(SetupHeader::parse(&setup), Err(LinuxError::BadBootFlag(0xAA00)));
    assert_eq!(SetupHeader::parse(&setup[..100]), Err(LinuxError::TooSmall { size: 100 }));
    assert_eq!(
        LinuxError::ProtocolTooOld { version: 0x0209 }.to_string(),
        "boot protocol 2.09 is too old (2.12 or later needed for the 64-bit entry)"
    );
}

#[test]
fn zero_setup_sects_means_four() {
    let mut sector = [0u8; 512];
    sector[offset::BOOT_FLAG..][..2].copy_from_slice(&BOOT_FLAG.to_le_bytes());
    assert_eq!(setup_len(&sector), Ok(5 * 512));
    sector[offset::SETUP_SECTS] = 30;
    assert_eq!(setup_len(&sector), Ok(31 * 512));
}

#[test]
fn kernel_goes_to_pref_address_and_the_rest_below_it() {
    let mut free = FreeMemory::new(&e820(), &[FIRMWARE]);
    let layout = plan(&DEBIAN_LIKE.header(), 0x1_0000, Some(0x3000), 20, &mut free).unwrap();
    assert_eq!(layout.kernel, range(0x100_0000, 0x101_0000));
    assert_eq!(layout.kernel_area, range(0x100_0000, 0x180_0000));
    assert_eq!(layout.entry(), 0x100_0200);
    assert_eq!(layout.initrd, Some(range(0x23_5000, 0x23_8000)));
    assert_eq!(layout.cmdline, range(0x23_8000, 0x23_8015));
    assert_eq!(layout.zero_page, range(0x23_9000, 0x23_A000));
    let parts: Vec<PhysRange> = layout.parts().map(|(_, r)| r).collect();
    for (i, a) in parts.iter().enumerate() {
        assert!(!a.overlaps(&FIRMWARE));
        for b in &parts[i + 1..] {
            assert!(!a.overlaps(b), "{a} overlaps {b}");
        }
    }
}

#[test]
fn taken_pref_address_moves_a_relocatable_kernel_up_aligned() {
    let in_use = [FIRMWARE, range(0x110_0000, 0x110_1000)];
    let mut free = FreeMemory::new(&e820(), &in_use);
    let layout = plan(&DEBIAN_LIKE.header(), 0x1_0000, None, 0, &mut free).unwrap();
    assert_eq!(layout.kernel_area, range(0x120_0000, 0x1A0_0000));
    assert_eq!(layout.initrd, None);
}

#[test]
fn taken_pref_address_is_fatal_for_a_fixed_kernel() {
    let in_use = [FIRMWARE, range(0x110_0000, 0x110_1000)];
    let mut free = FreeMemory::new(&e820(), &in_use);
    let header = Image { relocatable: false, ..DEBIAN_LIKE }.header();
    assert_eq!(
        plan(&header, 0x1_0000, None, 0, &mut free),
        Err(Box::new(HandoffError::Linux(LinuxError::FixedAddressTaken {
            pref_address: 0x100_0000,
            size: 0x80_0000
        })))
    );
}

#[test]
fn kernel_larger_than_ram_does_not_fit() {
    let mut free = FreeMemory::new(&e820(), &[FIRMWARE]);
    let header = Image { init_size: 0x4000_0000, ..DEBIAN_LIKE }.header();
    let err = plan(&header, 0x1_0000, None, 0, &mut free).unwrap_err();
    assert_eq!(*err, HandoffError::NoRoom { what: "kernel", size: 0x4000_0000, limit: 1 << 32 });
    assert!(err.to_string().starts_with("no free RAM for the kernel"), "{err}");
}

#[test]
fn initrd_stays_below_initrd_addr_max() {
    let mut free = FreeMemory::new(&e820(), &[FIRMWARE]);
    // Only 4 MiB of room below the limit, minus the firmware: a 3 MiB initrd cannot fit.
    let header = Image { initrd_addr_max: 0x3F_FFFF, ..DEBIAN_LIKE }.header();
    assert_eq!(
        plan(&header, 0x1_0000, Some(3 * MIB), 0, &mut free),
        Err(Box::new(HandoffError::NoRoom { what: "initrd", size: 3 * MIB, limit: 0x40_0000 }))
    );
    let mut free = FreeMemory::new(&e820(), &[FIRMWARE]);
    let layout = plan(&header, 0x1_0000, Some(MIB), 0, &mut free).unwrap();
    assert!(layout.initrd.unwrap().end <= 0x40_0000);
}

#[test]
fn command_line_longer_than_cmdline_size_is_refused() {
    let mut free = FreeMemory::new(&e820(), &[FIRMWARE]);
    assert_eq!(
        plan(&DEBIAN_LIKE.header(), 0x1_0000, None, 2048, &mut free),
        Err(Box::new(HandoffError::Linux(LinuxError::CmdlineTooLong { len: 2048, max: 2047 })))
    );
}

#[test]
fn zero_page_carries_header_pointers_e820_and_rsdp() {
    let header = DEBIAN_LIKE.header();
    let mut free = FreeMemory::new(&e820(), &[FIRMWARE]);
    let layout = plan(&header, 0x1_0000, Some(0x3000), 20, &mut free).unwrap();
    let map = e820();
    let page = zero_page(&header, &layout, &map, Some(0xF_59E0)).unwrap();
    assert_eq!(page.len(), 4096);
    assert_eq!(&page[offset::HEADER_MAGIC..][..4], b"HdrS");
    assert_eq!(u16_at(&page, offset::BOOT_FLAG), 0xAA55);
    assert_eq!(page[offset::TYPE_OF_LOADER], 0xFF);
    assert_eq!(u32_at(&page, offset::CODE32_START), 0x100_0000);
    assert_eq!(u32_at(&page, offset::CMD_LINE_PTR), 0x23_8000);
    assert_eq!(u32_at(&page, offset::RAMDISK_IMAGE), 0x23_5000);
    assert_eq!(u32_at(&page, offset::RAMDISK_SIZE), 0x3000);
    assert_eq!(u64_at(&page, offset::ACPI_RSDP_ADDR), 0xF_59E0);
    assert_eq!(usize::from(page[offset::E820_ENTRIES]), map.len());
    assert_eq!(map.len(), 3);
    let mut expected = vec![0u8; map.encoded_len()];
    map.encode_into(&mut expected).unwrap();
    assert_eq!(&page[offset::E820_TABLE..][..expected.len()], &expected[..]);
    // The sentinel (0x1EF) stays zero: the kernel then trusts every field we left zero.
    assert_eq!(page[0x1EF], 0);
    // Nothing of the header is copied past its end.
    assert!(page[0x26C..offset::E820_TABLE].iter().all(|&b| b == 0));
}

/// Guest memory for load tests: `[0, len)` in a host buffer.
struct TestMemory(Vec<u8>);

impl PhysMemoryMut for TestMemory {
    fn window(&mut self, range: PhysRange) -> Result<&mut [u8], PhysReadError> {
        let len = range.len() as usize;
        self.0
            .get_mut(range.start as usize..range.end as usize)
            .ok_or(PhysReadError { paddr: range.start, len })
    }
}

fn fw_cfg_with(files: &[(&str, &[u8])]) -> FwCfg<SimFwCfg, HostAddressing> {
    let mut sim = SimFwCfg::new(true);
    for (name, data) in files {
        sim.add_file(name, data);
    }
    FwCfg::detect(sim, HostAddressing).unwrap()
}

fn small_map() -> E820Map {
    E820Builder::new(&[ram(0, 0x9_FC00), ram(MIB, 48 * MIB)]).unwrap().build().unwrap()
}

#[test]
fn no_kernel_file_is_no_payload() {
    let mut fw_cfg = fw_cfg_with(&[(files::CMDLINE, b"quiet")]);
    let mut memory = TestMemory(vec![0; 1]);
    assert!(LinuxPayload::load(&mut fw_cfg, &small_map(), &[], &mut memory).unwrap().is_none());
}

#[test]
fn load_and_prepare_put_every_byte_in_place() {
    let image = DEBIAN_LIKE.bytes();
    let initrd: Vec<u8> = (0..5000u32).map(|i| (i * 3) as u8).collect();
    let mut fw_cfg = fw_cfg_with(&[
        (files::KERNEL, &image),
        (files::INITRD, &initrd),
        (files::CMDLINE, b"console=ttyS0 quiet\n"),
    ]);
    let map = small_map();
    let mut memory = TestMemory(vec![0; 48 << 20]);
    let payload = LinuxPayload::load(&mut fw_cfg, &map, &[FIRMWARE], &mut memory).unwrap().unwrap();
    let layout = *payload.layout();
    let at = |r: PhysRange| &memory.0[r.start as usize..r.end as usize];
    assert_eq!(at(layout.kernel), &image[4 * 512..]);
    assert_eq!(at(layout.initrd.unwrap()), &initrd[..]);

    let zero_page = payload.prepare(&map, None, &mut memory).unwrap();
    let at = |r: PhysRange| &memory.0[r.start as usize..r.end as usize];
    assert_eq!(zero_page, layout.zero_page.start);
    assert_eq!(at(layout.cmdline), b"console=ttyS0 quiet\0");
    let page = at(layout.zero_page);
    assert_eq!(u32_at(page, offset::CMD_LINE_PTR) as u64, layout.cmdline.start);
    assert_eq!(u64_at(page, offset::ACPI_RSDP_ADDR), 0);
}

#[test]
fn a_final_map_that_takes_placed_memory_is_refused() {
    let image = DEBIAN_LIKE.bytes();
    let mut fw_cfg = fw_cfg_with(&[(files::KERNEL, &image)]);
    let map = small_map();
    let mut memory = TestMemory(vec![0; 48 << 20]);
    let payload = LinuxPayload::load(&mut fw_cfg, &map, &[FIRMWARE], &mut memory).unwrap().unwrap();
    let mut later = E820Builder::new(&[ram(0, 0x9_FC00), ram(MIB, 48 * MIB)]).unwrap();
    later.claim(ClaimKind::AcpiTables, range(0x101_0000, 0x102_0000), "ACPI tables").unwrap();
    assert_eq!(
        payload.prepare(&later.build().unwrap(), None, &mut memory),
        Err(Box::new(HandoffError::PlacementInvalidated {
            what: "kernel",
            range: range(0x100_0000, 0x180_0000)
        }))
    );
}

#[test]
fn bad_payload_files_are_errors() {
    let map = small_map();
    let mut memory = TestMemory(vec![0; 48 << 20]);
    let mut load = |files: &[(&str, &[u8])]| {
        *LinuxPayload::load(&mut fw_cfg_with(files), &map, &[FIRMWARE], &mut memory).unwrap_err()
    };
    let elf = [0x7F, b'E', b'L', b'F'].repeat(1024);
    assert_eq!(
        load(&[(files::KERNEL, &elf)]),
        HandoffError::Linux(LinuxError::BadBootFlag(0x464C))
    );
    assert_eq!(
        load(&[(files::KERNEL, b"tiny")]),
        HandoffError::Linux(LinuxError::TooSmall { size: 4 })
    );
    let image = DEBIAN_LIKE.bytes();
    assert_eq!(
        load(&[(files::KERNEL, &image[..3 * 512])]),
        HandoffError::Linux(LinuxError::SetupPastEnd { setup: 2048, size: 1536 })
    );
    assert_eq!(
        load(&[(files::KERNEL, &image), (files::CMDLINE, b"a\0b")]),
        HandoffError::Linux(LinuxError::CmdlineHasNul)
    );
    let long = vec![b'x'; 4096];
    assert_eq!(
        load(&[(files::KERNEL, &image), (files::CMDLINE, &long)]),
        HandoffError::Linux(LinuxError::CmdlineTooLong { len: 4096, max: 2047 })
    );
    let err = HandoffError::Linux(LinuxError::No64BitEntry).to_string();
    assert_eq!(
        err,
        "opt/hvmloader/kernel: no 64-bit entry point (XLF_KERNEL_64 clear): a 32-bit kernel?"
    );
}
