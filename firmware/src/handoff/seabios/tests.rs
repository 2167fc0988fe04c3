use alloc::collections::BTreeMap;
use alloc::string::ToString;

use super::*;
use crate::bootinfo::{MemoryKind, MemoryRegion};
use crate::chipset::{Chipset, HOST_BRIDGE};
use crate::e820::E820Builder;
use crate::handoff::BiosPayload;
use crate::pci::Bdf;
use crate::platform::fw_cfg::sim::{HostAddressing, SimFwCfg};

fn e820() -> E820Map {
    let ram = |start, end| MemoryRegion { range: PhysRange { start, end }, kind: MemoryKind::Ram };
    E820Builder::new(&[ram(0, 0x9_FC00), ram(0x10_0000, 0x2000_0000)]).unwrap().build().unwrap()
}

#[test]
fn info_table_is_xen_layout_and_sums_to_zero() {
    let map = e820();
    let tables =
        BiosTables { rsdp: Some(0xF_59E0), smbios_entry: Some(0xF_5A00), ..Default::default() };
    let page = info_page(&tables, &map).unwrap();
    assert_eq!(&page[..14], b"XenHVMSeaBIOS\0");
    assert_eq!(page[14], 32);
    assert_eq!(libacpi::checksum::sum(&page[..32]), 0);
    let u32_at = |at: usize| u32::from_le_bytes(page[at..at + 4].try_into().unwrap());
    assert_eq!((u32_at(16), u32_at(20)), (0x1020, 2));
    assert_eq!((u32_at(24), u32_at(28)), (0x1040, 2));
    assert_eq!((u32_at(0x20), u32_at(0x24)), (0xF_59E0, 0xF_5A00));
    let mut encoded = [0u8; 40];
    map.encode_into(&mut encoded).unwrap();
    assert_eq!(&page[0x40..], &encoded);
    assert!(page.len() <= INFO_PAGE_LEN);
}

#[test]
fn reset_vectors_are_recognised() {
    assert!(has_reset_vector(&[0xEA, 0x5B, 0xE0, 0x00, 0xF0]));
    assert!(has_reset_vector(&[0x90, 0x90, 0xE9, 0x00, 0x00]));
    assert!(!has_reset_vector(&[0u8; 16]));
    assert!(!has_reset_vector(&[0x90; 16]));
}

/// A host bridge whose PAM registers read back what is written, or stay zero if `locked`;
/// accesses of any width, byte by byte.
struct Bridge {
    regs: BTreeMap<u16, u8>,
    locked: bool,
    accesses: usize,
}

impl Bridge {
    fn new(locked: bool) -> Self {
        Bridge { regs: BTreeMap::new(), locked, accesses: 0 }
    }

    fn read(&mut self, bdf: Bdf, offset: u16, width: u16) -> u32 {
        assert_eq!(bdf, HOST_BRIDGE);
        self.accesses += 1;
        (0..width).fold(0, |value, i| {
            value | u32::from(self.regs.get(&(offset + i)).copied().unwrap_or(0)) << (8 * i)
        })
    }

    fn write(&mut self, bdf: Bdf, offset: u16, width: u16, value: u32) {
        assert_eq!(bdf, HOST_BRIDGE);
        self.accesses += 1;
        if !self.locked {
            for i in 0..width {
                self.regs.insert(offset + i, (value >> (8 * i)) as u8);
            }
        }
    }
}

impl ConfigSpace for Bridge {
    fn read8(&mut self, bdf: Bdf, offset: u16) -> u8 {
        self.read(bdf, offset, 1) as u8
    }
    fn read16(&mut self, bdf: Bdf, offset: u16) -> u16 {
        self.read(bdf, offset, 2) as u16
    }
    fn read32(&mut self, bdf: Bdf, offset: u16) -> u32 {
        self.read(bdf, offset, 4)
    }
    fn write8(&mut self, bdf: Bdf, offset: u16, value: u8) {
        self.write(bdf, offset, 1, value.into());
    }
    fn write16(&mut self, bdf: Bdf, offset: u16, value: u16) {
        self.write(bdf, offset, 2, value.into());
    }
    fn write32(&mut self, bdf: Bdf, offset: u16, value: u32) {
        self.write(bdf, offset, 4, value);
    }
}

#[test]
fn pam_unlock_sets_every_segment_read_write() {
    for (chipset, pam) in [(Chipset::I440fx, 0x59..=0x5F), (Chipset::Q35, 0x90..=0x96)] {
        let mut bridge = Bridge::new(false);
        unlock_bios_area(&mut bridge, BiosAreaGate::Pam(chipset)).unwrap();
        let first = *pam.start();
        assert_eq!(bridge.regs.len(), 7, "{chipset}: only the PAM registers");
        assert_eq!(bridge.regs[&first], 0x30);
        assert!(pam.skip(1).all(|reg| bridge.regs[&reg] == 0x33));
        assert_eq!(bridge.accesses, 6, "{chipset}: three writes, three reads back");
    }
    let mut locked = Bridge::new(true);
    let err = unlock_bios_area(&mut locked, BiosAreaGate::Pam(Chipset::Q35)).unwrap_err();
    let expected = crate::chipset::pm::PamLocked { register: 0x90, wrote: 0x30, read: 0 };
    assert_eq!(*err, HandoffError::Pam(expected));
    assert!(err.to_string().contains("keeps its old access mode"), "{err}");
}

#[test]
fn under_xen_the_pam_registers_are_left_alone() {
    let mut bridge = Bridge::new(true);
    unlock_bios_area(&mut bridge, BiosAreaGate::AlwaysRam).unwrap();
    assert_eq!(bridge.accesses, 0);
}

/// Guest memory below 1 MiB; nothing else is reachable.
struct LowMemory {
    low: alloc::vec::Vec<u8>,
}

impl PhysMemoryMut for LowMemory {
    fn window(&mut self, range: PhysRange) -> Result<&mut [u8], crate::arch::PhysReadError> {
        let len = range.len() as usize;
        self.low
            .get_mut(range.start as usize..range.end as usize)
            .ok_or(crate::arch::PhysReadError { paddr: range.start, len })
    }
}

fn bios_image(len: usize) -> alloc::vec::Vec<u8> {
    let mut image = alloc::vec![0x11u8; len];
    image[len - 16..len - 11].copy_from_slice(&[0xEA, 0x5B, 0xE0, 0x00, 0xF0]);
    image
}

#[test]
fn seabios_lands_at_the_end_of_the_first_mib() {
    let image = bios_image(0x2_0000);
    let mut sim = SimFwCfg::new(true);
    sim.add_file(files::FIRMWARE, &image);
    let mut fw_cfg = FwCfg::detect(sim, HostAddressing).unwrap();
    let mut bridge = Bridge::new(false);
    let mut memory = LowMemory { low: alloc::vec![0; 0x10_0000] };
    let Some(BiosPayload::Seabios(bios)) = BiosPayload::load(
        &mut fw_cfg,
        &mut bridge,
        BiosAreaGate::Pam(Chipset::I440fx),
        &mut memory,
    )
    .unwrap() else {
        panic!("expected SeaBIOS")
    };
    assert_eq!(bios.image(), PhysRange { start: 0xE_0000, end: 0x10_0000 });
    assert_eq!(&memory.low[0xE_0000..], &image[..]);
    let info = bios.prepare(&e820(), &BiosTables::default(), &mut memory).unwrap();
    assert_eq!(&memory.low[0x1000..0x100E], b"XenHVMSeaBIOS\0");
    assert_eq!(info, PhysRange { start: 0x1000, end: 0x1040 + 40 });
}

#[test]
fn bad_bios_images_are_refused() {
    let mut bridge = Bridge::new(false);
    let mut memory = LowMemory { low: alloc::vec![0; 0x10_0000] };
    let mut load = |image: &[u8]| {
        let mut sim = SimFwCfg::new(true);
        sim.add_file(files::FIRMWARE, image);
        let mut fw_cfg = FwCfg::detect(sim, HostAddressing).unwrap();
        *BiosPayload::load(&mut fw_cfg, &mut bridge, BiosAreaGate::Pam(Chipset::Q35), &mut memory)
            .unwrap_err()
    };
    assert_eq!(load(&[0u8; 0x1_0000]), HandoffError::NoResetVector { what: "SeaBIOS" });
    assert_eq!(
        load(&[0xEA; 8]),
        HandoffError::BiosSize { what: "SeaBIOS", size: 8, max: 0x4_0000 }
    );
    // OVMF-sized images go to the top of 4 GiB, which this memory does not reach.
    assert_eq!(
        load(&bios_image(0x20_0000)),
        HandoffError::Unwritable {
            what: "OVMF flash image",
            err: crate::arch::PhysReadError { paddr: 0xFFE0_0000, len: 0x20_0000 }
        }
    );
}
