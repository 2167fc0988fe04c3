//! Host tests of the whole boot: [`run`] from the start info to the hand-off, on the
//! simulated machine ([`super::sim`]), for QEMU's i440FX and Q35 machines and for Xen.
//!
//! Every check reads the simulated machine after the run (PCI registers, memory, ports,
//! the jump taken), never the process-wide statistics, clock or log, so the tests hold
//! whatever else runs beside them.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use super::board::qemu::Qemu;
use super::board::xen as xen_board;
use super::sim::{ELCR, SimMachine, SimMemory};
use super::*;
use crate::addr::FOUR_GIB;
use crate::arch::{IOAPIC_BASE, Jump};
use crate::bootinfo::{BootInfoError, START_INFO_MAGIC};
use crate::pci::sim::{BridgeCaps, FnId, ROOT, Sim as PciSim, SimBar, SimCap};
use crate::pci::{Bdf, reg};
use crate::platform::fw_cfg::sim::SimFwCfg;
use crate::platform::xen::XenCpuid;
use crate::platform::xen::tests as fake_xen;

const MIB: u64 = 1 << 20;
/// Where the firmware image lies, as the linker script puts it.
const IMAGE: PhysRange = PhysRange { start: 0x10_0000, end: 0x20_0000 };
const LAYOUT: ImageLayout = ImageLayout { image: IMAGE, heap_size: 0, unpacked: None };
/// The start info and what it points at, in low RAM clear of the AP start-up page.
const START_INFO: u64 = 0x6000;
const CMDLINE_AT: u64 = 0x6100;
const MEMMAP_AT: u64 = 0x6200;
const MODLIST_AT: u64 = 0x6800;
const MODULE_NAMES_AT: u64 = 0x6A00;
/// The PCI hole below 4 GiB on a guest with 256 MiB of RAM.
const QEMU_HOLE: core::ops::Range<u64> = 256 * MIB..crate::layout::HOLE_END;
/// The BIOS area OSes scan for the RSDP.
const BIOS_AREA: core::ops::Range<u64> = 0xE_0000..0x10_0000;

/// A `struct hvm_start_info` (version 1) as a loader writes it.
struct StartInfo<'a> {
    magic: u32,
    cmdline: &'a str,
    /// (address, size, E820 type); empty for Xen's start info, which has none.
    memory_map: Vec<(u64, u64, u32)>,
    /// (address, size, command line).
    modules: Vec<(u64, u64, &'a str)>,
}

impl<'a> StartInfo<'a> {
    /// QEMU's PVH start info: its memory map, no modules.
    fn qemu(cmdline: &'a str) -> Self {
        StartInfo {
            magic: START_INFO_MAGIC,
            cmdline,
            memory_map: qemu_memory_map(),
            modules: vec![],
        }
    }

    fn write(&self, memory: &SimMemory) {
        let mut header = [0u8; 56];
        let mut put = |at: usize, bytes: &[u8]| header[at..at + bytes.len()].copy_from_slice(bytes);
        put(0, &self.magic.to_le_bytes());
        put(4, &1u32.to_le_bytes());
        put(12, &(self.modules.len() as u32).to_le_bytes());
        put(16, &MODLIST_AT.to_le_bytes());
        put(24, &CMDLINE_AT.to_le_bytes());
        put(40, &MEMMAP_AT.to_le_bytes());
        put(48, &(self.memory_map.len() as u32).to_le_bytes());
        memory.write(START_INFO, &header);
        memory.write(CMDLINE_AT, &[self.cmdline.as_bytes(), &[0]].concat());
        for (i, &(start, size, kind)) in self.memory_map.iter().enumerate() {
            let entry =
                [&start.to_le_bytes()[..], &size.to_le_bytes(), &kind.to_le_bytes(), &[0; 4]];
            memory.write(MEMMAP_AT + 24 * i as u64, &entry.concat());
        }
        for (i, &(start, size, name)) in self.modules.iter().enumerate() {
            let name_at = MODULE_NAMES_AT + 0x40 * i as u64;
            memory.write(name_at, &[name.as_bytes(), &[0]].concat());
            let entry = [start.to_le_bytes(), size.to_le_bytes(), name_at.to_le_bytes(), [0; 8]];
            memory.write(MODLIST_AT + 32 * i as u64, &entry.concat());
        }
    }
}

/// QEMU's map for 256 MiB: RAM below the EBDA and from 1 MiB, the BIOS's F segment, the
/// KVM TSS/identity-map pages and the flash reserved.
fn qemu_memory_map() -> Vec<(u64, u64, u32)> {
    vec![
        (0, 0x9_FC00, 1),
        (0x9_FC00, 0x400, 2),
        (0xF_0000, 0x1_0000, 2),
        (MIB, 255 * MIB, 1),
        (0xFEFF_C000, 0x4000, 2),
        (0xFFFC_0000, 0x4_0000, 2),
    ]
}

/// QEMU's fw_cfg for that machine: one vCPU, `etc/e820` as QEMU builds it.
fn qemu_fw_cfg(dma: bool) -> SimFwCfg {
    let mut fw_cfg = SimFwCfg::new(dma);
    fw_cfg.items.insert(crate::platform::fw_cfg::key::NB_CPUS, 1u16.to_le_bytes().to_vec());
    let e820: Vec<u8> = [(0u64, 256 * MIB, 1u32), (0xFEFF_C000, 0x4000, 2)]
        .iter()
        .flat_map(|&(start, len, kind)| {
            [&start.to_le_bytes()[..], &len.to_le_bytes(), &kind.to_le_bytes()].concat()
        })
        .collect();
    fw_cfg.add_file("etc/e820", &e820);
    fw_cfg
}

/// A chipset function (no BARs): `ids`, `class` (class, subclass, programming interface).
fn chipset_function(pci: &mut PciSim, bdf: Bdf, ids: (u16, u16), class: [u8; 3]) -> FnId {
    let function = pci.add_endpoint(ROOT, bdf.device(), bdf.function(), &[], 0, 0);
    pci.poke(function, reg::VENDOR_ID, &ids.0.to_le_bytes());
    pci.poke(function, reg::DEVICE_ID, &ids.1.to_le_bytes());
    pci.poke(function, reg::CLASS_CODE, &[class[2], class[1], class[0]]);
    function
}

/// A memory or I/O BAR to check after the run: function, register, kind.
#[derive(Clone, Copy, Debug)]
struct BarToCheck {
    function: FnId,
    offset: u16,
    bar: SimBar,
}

/// The i440FX machine: host bridge (PAM registers writable), PIIX3 ISA bridge (PIRQ
/// routing), PIIX4 PM function, and the endpoints `extra` adds.
fn i440fx(extra: impl FnOnce(&mut PciSim, &mut Vec<BarToCheck>)) -> (PciSim, Vec<BarToCheck>) {
    let mut pci = PciSim::new();
    let host = chipset_function(&mut pci, Bdf::new(0, 0, 0), (0x8086, 0x1237), [6, 0, 0]);
    pci.set_wmask(host, 0x59, &[0xF0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    let isa = chipset_function(&mut pci, Bdf::new(0, 1, 0), (0x8086, 0x7000), [6, 1, 0]);
    pci.set_wmask(isa, 0x60, &[0xFF; 4]);
    let pm = chipset_function(&mut pci, Bdf::new(0, 1, 3), (0x8086, 0x7113), [6, 0x80, 0]);
    // PMBA: I/O space indicator read-only 1, base bits 15:6; PMREGMISC: PMIOSE.
    pci.poke(pm, 0x40, &1u32.to_le_bytes());
    pci.set_wmask(pm, 0x40, &[0xC0, 0xFF, 0, 0]);
    pci.set_wmask(pm, 0x80, &[0x01]);
    let mut bars = Vec::new();
    extra(&mut pci, &mut bars);
    (pci, bars)
}

/// The Q35 machine: MCH (PCIEXBAR and PAM writable), ICH9 LPC (PMBASE, ACPI_CNTL, PIRQ
/// A-H), two endpoints on bus 0, and a root port (returned) with a device behind it (its
/// BAR last in the list).
fn q35() -> (PciSim, Vec<BarToCheck>, FnId) {
    let mut pci = PciSim::new();
    let mch = chipset_function(&mut pci, Bdf::new(0, 0, 0), (0x8086, 0x29C0), [6, 0, 0]);
    // PCIEXBAR: base bits 35:26, length, enable.
    pci.set_wmask(mch, 0x60, &[0x07, 0, 0, 0xFC, 0x0F, 0, 0, 0]);
    pci.set_wmask(mch, 0x90, &[0xF0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    let lpc = chipset_function(&mut pci, Bdf::new(0, 0x1F, 0), (0x8086, 0x2918), [6, 1, 0]);
    pci.poke(lpc, 0x40, &1u32.to_le_bytes());
    pci.set_wmask(lpc, 0x40, &[0x80, 0xFF, 0, 0]);
    pci.set_wmask(lpc, 0x44, &[0xFF]);
    pci.set_wmask(lpc, 0x60, &[0xFF; 4]);
    pci.set_wmask(lpc, 0x68, &[0xFF; 4]);
    let mut bars = Vec::new();
    let registers = SimBar::Mem32 { size: 0x1000, prefetchable: false };
    let display = pci.add_endpoint(ROOT, 1, 0, &[FRAME_BUFFER, registers], 0, 0);
    bars.push(BarToCheck { function: display, offset: reg::BAR0, bar: FRAME_BUFFER });
    bars.push(BarToCheck { function: display, offset: reg::BAR0 + 4, bar: registers });
    let nic_bars = [SimBar::Io(0x20), SimBar::Mem32 { size: 0x4000, prefetchable: false }];
    let nic = pci.add_endpoint(ROOT, 2, 0, &nic_bars, 0x4_0000, 1);
    bars.push(BarToCheck { function: nic, offset: reg::BAR0, bar: nic_bars[0] });
    bars.push(BarToCheck { function: nic, offset: reg::BAR0 + 4, bar: nic_bars[1] });
    let (port, secondary) = pci.add_bridge(ROOT, 0x1C, 0, BridgeCaps::FULL, &[]);
    pci.poke(port, reg::DEVICE_ID, &0x000Cu16.to_le_bytes());
    pci.add_capability(port, &SimCap::Pcie { port_type: 4, slot: Some(true) });
    let storage_bar = SimBar::Mem64 { size: 0x4000, prefetchable: false };
    let storage = pci.add_endpoint(secondary, 0, 0, &[storage_bar], 0, 1);
    pci.add_capability(storage, &SimCap::Pcie { port_type: 0, slot: None });
    // PCI Express functions have 4 KiB of configuration space, which ECAM reaches.
    pci.functions[port].extended = true;
    pci.functions[storage].extended = true;
    bars.push(BarToCheck { function: storage, offset: reg::BAR0, bar: storage_bar });
    (pci, bars, port)
}

/// A display's frame buffer: a prefetchable 32-bit memory BAR of 16 MiB.
const FRAME_BUFFER: SimBar = SimBar::Mem32 { size: 16 << 20, prefetchable: true };

/// Two endpoints for the i440FX machine: a display and a NIC with an I/O BAR and a ROM,
/// and a 64-bit BAR.
fn i440fx_endpoints(pci: &mut PciSim, bars: &mut Vec<BarToCheck>) {
    let display = pci.add_endpoint(ROOT, 2, 0, &[FRAME_BUFFER], 0, 0);
    bars.push(BarToCheck { function: display, offset: reg::BAR0, bar: FRAME_BUFFER });
    let nic_bars = [SimBar::Io(0x40), SimBar::Mem64 { size: 8 * MIB, prefetchable: true }];
    let nic = pci.add_endpoint(ROOT, 3, 0, &nic_bars, 0x4_0000, 1);
    bars.push(BarToCheck { function: nic, offset: reg::BAR0, bar: nic_bars[0] });
    bars.push(BarToCheck { function: nic, offset: reg::BAR0 + 4, bar: nic_bars[1] });
}

/// Where a BAR was programmed, and whether its function decodes that space.
fn programmed(machine: &SimMachine, check: BarToCheck) -> (u64, bool) {
    let pci = machine.pci.borrow();
    let low = pci.peek32(check.function, check.offset);
    let command = pci.peek16(check.function, reg::COMMAND);
    match check.bar {
        SimBar::Io(_) => (u64::from(low & !3), command & 1 != 0),
        SimBar::Mem32 { .. } => (u64::from(low & !0xF), command & 2 != 0),
        SimBar::Mem64 { .. } => {
            let high = pci.peek32(check.function, check.offset + 4);
            (u64::from(high) << 32 | u64::from(low & !0xF), command & 2 != 0)
        }
    }
}

/// Runs the boot on `machine` as the QEMU board, the start info at [`START_INFO`].
///
/// No test's command line names a console: the console is process-wide and its sinks
/// write to the host's real ports.
fn run_qemu(machine: &SimMachine) -> Result<Summary, Fatal> {
    run(machine, Platform::Qemu, START_INFO as u32, LAYOUT, &mut |_, cmdline| {
        Ok(Box::new(Qemu::<SimMachine>::start(machine, cmdline)?))
    })
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// The RSDP a legacy scan of the BIOS area finds: 16-byte aligned, signature and the ACPI
/// 1.0 checksum right.
fn scan_for_rsdp(memory: &SimMemory) -> Option<u64> {
    let area = memory.bytes(BIOS_AREA.start, (BIOS_AREA.end - BIOS_AREA.start) as usize);
    (0..area.len()).step_by(16).find_map(|at| {
        let candidate = area.get(at..at + 20)?;
        let sums_to_zero = candidate.iter().fold(0u8, |s, &b| s.wrapping_add(b)) == 0;
        (candidate.starts_with(b"RSD PTR ") && sums_to_zero).then_some(BIOS_AREA.start + at as u64)
    })
}

/// The tables the XSDT found through the RSDP at `rsdp` lists: (signature, address).
fn xsdt_tables(memory: &SimMemory, rsdp: u64) -> Vec<([u8; 4], u64)> {
    let xsdt = u64_at(&memory.bytes(rsdp, 36), 24);
    let header = memory.bytes(xsdt, 36);
    assert_eq!(&header[..4], b"XSDT");
    let entries = memory.bytes(xsdt + 36, u32_at(&header, 4) as usize - 36);
    entries
        .chunks_exact(8)
        .map(|entry| {
            let address = u64::from_le_bytes(entry.try_into().expect("8 bytes"));
            (memory.bytes(address, 4).try_into().expect("4 bytes"), address)
        })
        .collect()
}

/// The memory map in SeaBIOS's info table at 0x1000: (start, end, E820 type).
fn seabios_e820(memory: &SimMemory) -> Vec<(u64, u64, u32)> {
    let info = memory.bytes(0x1000, 32);
    assert_eq!(&info[..14], b"XenHVMSeaBIOS\0");
    let (at, count) = (u32_at(&info, 24), u32_at(&info, 28) as usize);
    let raw = memory.bytes(u64::from(at), 20 * count);
    raw.chunks_exact(20)
        .map(|e| (u64_at(e, 0), u64_at(e, 0) + u64_at(e, 8), u32_at(e, 16)))
        .collect()
}

/// The table addresses in SeaBIOS's info table at 0x1000: RSDP, SMBIOS entry point, MP
/// floating pointer, `$PIR`, those there are.
fn seabios_tables(memory: &SimMemory) -> Vec<u32> {
    let info = memory.bytes(0x1000, 32);
    assert_eq!(&info[..14], b"XenHVMSeaBIOS\0");
    let (at, count) = (u32_at(&info, 16), u32_at(&info, 20) as usize);
    let raw = memory.bytes(u64::from(at), 4 * count);
    raw.chunks_exact(4).map(|address| u32_at(address, 0)).collect()
}

/// A SeaBIOS-shaped image: `size` bytes of a pattern, its reset vector a far jump to
/// F000:E05B as SeaBIOS's is.
fn fake_seabios(size: usize) -> Vec<u8> {
    let mut image: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    image[size - 16..size - 11].copy_from_slice(&[0xEA, 0x5B, 0xE0, 0x00, 0xF0]);
    image
}

/// Checks what every successful boot leaves, whatever the platform: BARs in the hole (64-bit
/// ones above 4 GiB instead with `mem64_high`) and decoded, the IOAPIC set up, the chipset
/// in ACPI mode, the MTRRs asked to make the hole uncacheable, every handle given back.
fn check_common(
    machine: &SimMachine,
    bars: &[BarToCheck],
    hole: core::ops::Range<u64>,
    mem64_high: bool,
) {
    for &check in bars {
        let (base, decoded) = programmed(machine, check);
        assert!(decoded, "{check:?}: decoding is off");
        match check.bar {
            SimBar::Io(size) => {
                assert!((0x1000..0x1_0000).contains(&base), "{check:?} at {base:#x}");
                assert!(!(0xAE00..0xB080).contains(&base), "{check:?} in reserved ports");
                assert_eq!(base % u64::from(size), 0);
            }
            SimBar::Mem32 { size, .. } => {
                assert!(
                    hole.contains(&base) && base + u64::from(size) <= hole.end,
                    "{check:?} at {base:#x}"
                );
                assert_eq!(base % u64::from(size), 0);
            }
            SimBar::Mem64 { size, .. } => {
                let in_hole = hole.contains(&base) && base + size <= hole.end;
                assert!(in_hole || (mem64_high && base >= FOUR_GIB), "{check:?} at {base:#x}");
                assert_eq!(base % size, 0);
            }
        }
    }
    let ioapic = machine.ioapic.borrow();
    assert_eq!(ioapic.id >> 24, 1, "the lowest ID no CPU has (the BSP is APIC ID 0)");
    assert!(ioapic.entries.iter().all(|e| e & 1 << 16 != 0), "every input masked");
    drop(ioapic);
    // ACPI mode: PM block at 0xB000, SCI_EN in PM1a control; the SCI (IRQ 9) level-triggered.
    assert_eq!(machine.pm_register(4), (Some(crate::chipset::pm::PM_BASE), 1));
    assert_ne!(machine.latch(ELCR[1]).unwrap() & 1 << (9 - 8), 0);
    let uncacheable = machine.uncacheable.borrow();
    assert_eq!(uncacheable.len(), 1, "one bring-up");
    assert!(uncacheable[0].contains(&(hole.start..FOUR_GIB)), "{uncacheable:?}");
    assert!(machine.holds_only(IMAGE), "every handle was given back");
}

#[test]
fn i440fx_boots_end_to_end_with_fw_cfg_dma_and_nothing_to_hand_off() {
    let (pci, bars) = i440fx(i440fx_endpoints);
    let mut fw_cfg = qemu_fw_cfg(true);
    // QEMU's own SMBIOS structures: a system (type 1) naming its manufacturer, the end.
    let mut system = vec![1, 0x1B, 0x00, 0x01, 1, 0, 0, 0];
    system.extend([0; 16]);
    system.extend([6, 0, 0]);
    let qemu_smbios = [&system[..], b"SimVendor\0\0", &[127, 4, 0x01, 0x01, 0, 0]].concat();
    fw_cfg.add_file(crate::smbios::qemu::TABLES_FILE, &qemu_smbios);
    let machine = SimMachine::new(Chipset::I440fx, pci, Some(fw_cfg), IMAGE);
    StartInfo::qemu("selfcheck").write(&machine.memory);

    let summary = run_qemu(&machine).expect("the boot completes");

    assert_eq!(summary.chipset, Chipset::I440fx);
    assert!(matches!(summary.platform, Platform::Qemu));
    assert_eq!((summary.cpus, summary.modules, summary.unplaced_bars), (1, 0, 0));
    assert_eq!(summary.pci_functions, 5, "host bridge, ISA bridge, PM, display, NIC");
    assert!((250 * MIB..256 * MIB).contains(&summary.ram_bytes), "{summary}");
    check_common(&machine, &bars, QEMU_HOLE, false);
    assert!(machine.jumps.borrow().is_empty(), "no payload in fw_cfg: nothing to jump to");
    let (_, dma_transfers) = machine.fw_cfg_reads().expect("fw_cfg");
    assert!(dma_transfers > 0, "files read through DMA where the device has it");
    // The BIOS area was unlocked for the entry points and locked read-only again.
    let pam: Vec<u8> = (0x59..0x60).map(|r| machine.pci.borrow().peek8(0, r)).collect();
    assert_eq!(pam, [0x10, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11]);
    // The legacy scan finds the RSDP, whose XSDT lists the platform's tables (no HPET or
    // TPM: their registers read all ones) but no MCFG (i440FX has no ECAM).
    let rsdp = scan_for_rsdp(&machine.memory).expect("an RSDP in the BIOS area");
    let signatures: Vec<[u8; 4]> = xsdt_tables(&machine.memory, rsdp).iter().map(|t| t.0).collect();
    for wanted in [b"FACP", b"APIC", b"SSDT"] {
        assert!(signatures.contains(wanted), "{signatures:?}");
    }
    for absent in [b"MCFG", b"HPET", b"TCPA"] {
        assert!(!signatures.contains(absent), "{signatures:?}");
    }
    // QEMU's structures (read into RAM beside the tables, not the heap) are in the table
    // the _SM3_ entry point names.
    let entry = machine.memory.bytes(0xF_0030, 0x18);
    assert_eq!(&entry[..5], b"_SM3_");
    let length = u32::from_le_bytes(entry[0x0C..0x10].try_into().unwrap()) as usize;
    let table =
        machine.memory.bytes(u64::from_le_bytes(entry[0x10..0x18].try_into().unwrap()), length);
    assert!(table.windows(10).any(|w| w == b"SimVendor\0"), "QEMU's type 1 passed through");
}

#[test]
fn q35_boots_end_to_end_through_ecam_and_hands_off_to_seabios_from_fw_cfg() {
    let (pci, bars, port) = q35();
    let mut fw_cfg = qemu_fw_cfg(false);
    let seabios = fake_seabios(128 * 1024);
    fw_cfg.add_file(crate::handoff::files::FIRMWARE, &seabios);
    let machine = SimMachine::new(Chipset::Q35, pci, Some(fw_cfg), IMAGE);
    StartInfo::qemu("selfcheck").write(&machine.memory);

    let summary = run_qemu(&machine).expect("the boot completes");

    assert_eq!(summary.chipset, Chipset::Q35);
    let (data_reads, dma_transfers) = machine.fw_cfg_reads().expect("fw_cfg");
    assert_eq!(dma_transfers, 0, "no DMA on a device without it");
    assert!(data_reads > seabios.len(), "the image came through the data port");
    assert_eq!((summary.cpus, summary.unplaced_bars), (1, 0));
    assert_eq!(summary.pci_functions, 6, "MCH, LPC, display, NIC, root port, its device");
    // The MCH decodes ECAM where the firmware put it: 64 buses at the top of the hole that
    // fits them, clear of every BAR.
    let ecam = crate::chipset::q35::pciexbar(&mut *machine.pci.borrow_mut()).expect("ECAM on");
    assert_eq!((ecam.base, ecam.buses), (0xF000_0000, 64));
    for &check in &bars {
        let (base, _) = programmed(&machine, check);
        assert!(!(ecam.base..ecam.end()).contains(&base), "{check:?} inside ECAM");
    }
    check_common(&machine, &bars, QEMU_HOLE, false);
    // The root port forwards bus 1 to the device behind it, and its memory window holds
    // that device's BAR.
    let pci = machine.pci.borrow();
    assert_eq!(pci.peek8(port, reg::SECONDARY_BUS), 1);
    let window = pci.peek32(port, reg::MEMORY_BASE);
    let (window_base, window_end) =
        (u64::from(window & 0xFFF0) << 16, (u64::from(window >> 16 | 0xF) << 16) + 0x1_0000);
    drop(pci);
    let (device_bar, _) = programmed(&machine, *bars.last().expect("the device behind the port"));
    assert!((window_base..window_end).contains(&device_bar), "{device_bar:#x} outside the window");

    // The MCFG the self-check parsed back names the window (the RSDP as SeaBIOS is told,
    // its image having overwritten the BIOS-area copy).
    let rsdp = u64::from(seabios_tables(&machine.memory)[0]);
    let tables = xsdt_tables(&machine.memory, rsdp);
    let &(_, mcfg) = tables.iter().find(|t| &t.0 == b"MCFG").expect("an MCFG on Q35");
    assert_eq!(u64_at(&machine.memory.bytes(mcfg + 44, 8), 0), ecam.base);

    // The hand-off: SeaBIOS ends at 1 MiB, its info table's memory map reserves ECAM (Linux
    // uses MMCONFIG only then), and the jump is to its reset vector.
    assert_eq!(*machine.jumps.borrow(), [Jump::BiosResetVector]);
    assert_eq!(machine.memory.bytes(0x10_0000 - seabios.len() as u64, seabios.len()), seabios);
    let e820 = seabios_e820(&machine.memory);
    assert!(
        e820.iter().any(|&(start, end, kind)| kind == 2 && start <= ecam.base && ecam.end() <= end),
        "{e820:x?}"
    );
    assert!(e820.iter().any(|&(start, end, kind)| kind == 1 && start == MIB && end > 200 * MIB));
}

#[test]
fn xen_boots_end_to_end_and_hands_off_to_the_seabios_module() {
    let (pci, bars) = i440fx(|pci, bars| {
        // The Xen platform device, as Xen's device model puts it at slot 2.
        let mmio = SimBar::Mem32 { size: 16 << 20, prefetchable: true };
        let platform = pci.add_endpoint(ROOT, 2, 0, &[SimBar::Io(0x100), mmio], 0, 1);
        pci.poke(platform, reg::VENDOR_ID, &0x5853u16.to_le_bytes());
        pci.poke(platform, reg::DEVICE_ID, &0x0001u16.to_le_bytes());
        bars.push(BarToCheck { function: platform, offset: reg::BAR0, bar: SimBar::Io(0x100) });
        bars.push(BarToCheck { function: platform, offset: reg::BAR0 + 4, bar: mmio });
    });
    // No fw_cfg under Xen.
    let machine = SimMachine::new(Chipset::I440fx, pci, None, IMAGE);
    machine.memory.write(0x9_F800, &fake_xen::hvm_info_bytes(1, 1, 0x8_0000, 0));
    let seabios = fake_seabios(64 * 1024);
    let module = 0x40_0000;
    machine.memory.write(module, &seabios);
    // Xen's start info for HVM firmware has no memory map: Xen's replaces it.
    let modules = vec![(module, seabios.len() as u64, "firmware")];
    StartInfo { magic: START_INFO_MAGIC, cmdline: "selfcheck", memory_map: vec![], modules }
        .write(&machine.memory);
    let keys = [("hvmloader/bios", "seabios"), ("platform/generation-id", "0x1234:5678")];
    let (setup, xen) =
        fake_xen::setup_for_boot(&keys, &machine.memory()).expect("the fake gathers");
    let mut setup = Some(setup);
    let platform =
        Platform::Xen(XenCpuid { base: 0x4000_0000, version_major: 4, version_minor: 17 });

    let summary = run(&machine, platform, START_INFO as u32, LAYOUT, &mut |boot, _| {
        let setup = setup.take().expect("the board is started once");
        Ok(Box::new(xen_board::board(setup, boot)))
    })
    .expect("the boot completes");

    assert!(matches!(summary.platform, Platform::Xen(_)));
    assert_eq!((summary.chipset, summary.modules, summary.cpus), (Chipset::I440fx, 1, 1));
    assert_eq!((summary.pci_functions, summary.unplaced_bars), (4, 0));
    // Xen's 2 GiB guest: RAM up to 2 GiB, so the hole starts there.
    check_common(&machine, &bars, 0x8000_0000..crate::layout::HOLE_END, false);
    assert!(summary.ram_bytes > 2000 * MIB, "{summary}");

    // The SeaBIOS module was copied to end at 1 MiB and started at its reset vector, with
    // the tables in its info table.
    assert_eq!(*machine.jumps.borrow(), [Jump::BiosResetVector]);
    assert_eq!(machine.memory.bytes(0x10_0000 - seabios.len() as u64, seabios.len()), seabios);
    let tables = seabios_tables(&machine.memory);
    let rsdp = u64::from(tables[0]);
    assert_eq!(&machine.memory.bytes(rsdp, 8)[..], b"RSD PTR ");
    // Xen asks for a TPM 1.2 by default; none answers, so no TCPA.
    let signatures: Vec<[u8; 4]> = xsdt_tables(&machine.memory, rsdp).iter().map(|t| t.0).collect();
    assert!(signatures.contains(b"FACP") && !signatures.contains(b"TCPA"), "{signatures:?}");
    let smbios = u64::from(tables[1]);
    assert_eq!(&machine.memory.bytes(smbios, 4)[..], b"_SM_");
    // SeaBIOS's image overwrote the BIOS-area copies; it copies the tables it is given.
    assert_eq!(scan_for_rsdp(&machine.memory), None);
    let e820 = seabios_e820(&machine.memory);
    assert!(e820.iter().any(|&(start, end, kind)| (start, kind) == (MIB, 1) && end > 1900 * MIB));
    assert!(
        e820.iter()
            .any(|&(start, end, kind)| kind == 2 && start <= IOAPIC_BASE && IOAPIC_BASE < end)
    );

    // Xen was told where the PM block and the generation ID are, the shared info frame was
    // emptied again and the xenstore ring handed back.
    let params = xen.set_params();
    assert!(params.contains(&(fake_xen::PARAM_ACPI_IOPORTS_LOCATION, 1)), "{params:?}");
    let &(_, generation_id) = params
        .iter()
        .find(|p| p.0 == fake_xen::PARAM_VM_GENERATION_ID_ADDR)
        .expect("the generation ID's address published");
    let expected = crate::acpi::ssdt::generation_id_bytes([0x1234, 5678]);
    assert_eq!(machine.memory.bytes(generation_id, 16), expected);
    assert_eq!(xen.removed_frames(), [crate::platform::xen::shared_info::SHARED_INFO_GPFN]);
    assert!(xen.store_handed_back());
}

#[test]
fn a_start_info_with_a_bad_magic_stops_the_boot_before_the_board_starts() {
    let (pci, bars) = i440fx(i440fx_endpoints);
    let machine = SimMachine::new(Chipset::I440fx, pci, Some(qemu_fw_cfg(true)), IMAGE);
    StartInfo { magic: 0xDEAD_BEEF, cmdline: "", memory_map: qemu_memory_map(), modules: vec![] }
        .write(&machine.memory);
    let mut started = false;
    let outcome = run(&machine, Platform::Qemu, START_INFO as u32, LAYOUT, &mut |_, cmdline| {
        started = true;
        Ok(Box::new(Qemu::<SimMachine>::start(&machine, cmdline)?))
    });
    assert!(
        matches!(outcome, Err(Fatal::BootInfo(e)) if *e == BootInfoError::BadMagic(0xDEAD_BEEF))
    );
    assert!(!started);
    assert!(bars.iter().all(|&bar| programmed(&machine, bar) == (0, false)), "PCI untouched");
}

#[test]
fn overlapping_modules_stop_the_boot() {
    let (pci, _) = i440fx(i440fx_endpoints);
    let machine = SimMachine::new(Chipset::I440fx, pci, Some(qemu_fw_cfg(true)), IMAGE);
    let modules = vec![(0x40_0000, 0x2_0000, "initrd"), (0x41_0000, 0x1000, "firmware")];
    StartInfo { magic: START_INFO_MAGIC, cmdline: "", memory_map: qemu_memory_map(), modules }
        .write(&machine.memory);
    let outcome = run_qemu(&machine);
    assert!(
        matches!(
            outcome,
            Err(Fatal::BootInfo(ref e))
                if **e == BootInfoError::ModulesOverlap { first: 0, second: 1 }
        ),
        "{outcome:?}"
    );
}

#[test]
fn a_bar_no_hole_can_hold_is_reported_unplaced_and_left_off() {
    // 2 GiB of 32-bit, non-prefetchable memory: aligned to its size it could only go at
    // 2 GiB, and the hole ends at 0xFC000000.
    let absurd = SimBar::Mem32 { size: 0x8000_0000, prefetchable: false };
    let mut absurd_function = None;
    let (pci, bars) = i440fx(|pci, bars| {
        i440fx_endpoints(pci, bars);
        absurd_function = Some(pci.add_endpoint(ROOT, 4, 0, &[absurd], 0, 0));
    });
    let absurd_function = absurd_function.expect("added");
    let machine = SimMachine::new(Chipset::I440fx, pci, Some(qemu_fw_cfg(true)), IMAGE);
    StartInfo::qemu("").write(&machine.memory);

    let summary = run_qemu(&machine).expect("an unplaced BAR does not stop the boot");

    assert_eq!(summary.unplaced_bars, 1, "{summary}");
    // The others are placed, the 64-bit one above 4 GiB as the hole is short (what
    // hvmloader does too); the absurd one's function does not decode memory.
    check_common(&machine, &bars, QEMU_HOLE, true);
    let mem64 = bars.iter().find(|b| matches!(b.bar, SimBar::Mem64 { .. })).expect("the NIC's");
    let (nic_mem64, _) = programmed(&machine, *mem64);
    assert!(nic_mem64 >= FOUR_GIB, "{nic_mem64:#x}");
    let command = machine.pci.borrow().peek16(absurd_function, reg::COMMAND);
    assert_eq!(command & 2, 0, "memory decoding stays off");
}

#[test]
fn a_pam_that_does_not_unlock_is_fatal() {
    let (mut pci, _) = i440fx(i440fx_endpoints);
    // PAM registers wired read-only: the BIOS area can never be written.
    pci.set_wmask(0, 0x59, &[0; 7]);
    let machine = SimMachine::new(Chipset::I440fx, pci, Some(qemu_fw_cfg(true)), IMAGE);
    StartInfo::qemu("").write(&machine.memory);
    let outcome = run_qemu(&machine);
    assert!(
        matches!(
            outcome,
            Err(Fatal::Pam(crate::chipset::pm::PamLocked { register: 0x59, wrote: 0x30, read: 0 }))
        ),
        "{outcome:?}"
    );
    assert!(machine.holds_only(IMAGE), "the handles were given back on the way out");
}

/// A bzImage as the x86 boot protocol lays it out (one setup sector after the boot
/// sector; protocol 2.15, relocatable, 64-bit entry, preferred at 16 MiB, 8 MiB init_size)
/// with `kernel_len` bytes of a pattern as its protected-mode kernel.
fn fake_bzimage(kernel_len: usize) -> Vec<u8> {
    const SETUP_LEN: usize = 2 * 512;
    let mut image = vec![0u8; SETUP_LEN + kernel_len];
    let mut put = |at: usize, bytes: &[u8]| image[at..at + bytes.len()].copy_from_slice(bytes);
    put(0x1F1, &[1]); // setup_sects
    put(0x1FE, &0xAA55u16.to_le_bytes()); // boot_flag
    put(0x200, &[0xEB, 0x6A]); // jump over the header, which ends at 0x26C
    put(0x202, b"HdrS");
    put(0x206, &0x020Fu16.to_le_bytes()); // version
    put(0x211, &[0x01]); // loadflags: LOADED_HIGH
    put(0x22C, &0x7FFF_FFFFu32.to_le_bytes()); // initrd_addr_max
    put(0x230, &0x20_0000u32.to_le_bytes()); // kernel_alignment
    put(0x234, &[1]); // relocatable_kernel
    put(0x236, &0x7Fu16.to_le_bytes()); // xloadflags: XLF_KERNEL_64 and friends
    put(0x238, &2047u32.to_le_bytes()); // cmdline_size
    put(0x258, &0x100_0000u64.to_le_bytes()); // pref_address
    put(0x260, &0x80_0000u32.to_le_bytes()); // init_size
    for (i, byte) in image[SETUP_LEN..].iter_mut().enumerate() {
        *byte = (i % 251) as u8;
    }
    image
}

#[test]
fn a_kernel_in_fw_cfg_is_booted_with_its_zero_page_and_a_reset_path() {
    let (pci, bars) = i440fx(i440fx_endpoints);
    let mut fw_cfg = qemu_fw_cfg(true);
    let kernel = fake_bzimage(64 * 1024);
    fw_cfg.add_file(crate::handoff::files::KERNEL, &kernel);
    fw_cfg.add_file(crate::handoff::files::CMDLINE, b"console=ttyS0\n");
    let machine = SimMachine::new(Chipset::I440fx, pci, Some(fw_cfg), IMAGE);
    // The BIOS ROM's reset vector: SeaBIOS's far jump to F000:E05B.
    let rom_vector = [0xEA, 0x5B, 0xE0, 0x00, 0xF0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    machine.memory.write(0xFFFF_FFF0, &rom_vector);
    StartInfo::qemu("selfcheck").write(&machine.memory);

    let summary = run_qemu(&machine).expect("the boot completes");

    assert_eq!(summary.unplaced_bars, 0);
    check_common(&machine, &bars, QEMU_HOLE, false);
    // The kernel went to its preferred address, free RAM here, and is entered at +0x200.
    let jumps = machine.jumps.borrow();
    let [Jump::Linux64 { entry, boot_params }] = jumps[..] else { panic!("{jumps:?}") };
    assert_eq!(entry, 0x100_0000 + 0x200);
    assert_eq!(machine.memory.bytes(0x100_0000, kernel.len() - 1024), kernel[1024..]);
    // The zero page: the command line (without QEMU's newline), the RSDP the tables'
    // installer placed, the memory map handed on.
    let zero_page = machine.memory.bytes(boot_params, 4096);
    let cmdline = u64::from(u32_at(&zero_page, 0x228));
    assert_eq!(machine.memory.bytes(cmdline, 14), b"console=ttyS0\0");
    let rsdp = u64_at(&zero_page, 0x70);
    assert_eq!(&machine.memory.bytes(rsdp, 8)[..], b"RSD PTR ");
    assert_eq!(
        xsdt_tables(&machine.memory, rsdp),
        xsdt_tables(&machine.memory, scan_for_rsdp(&machine.memory).expect("the BIOS-area copy")),
        "the RSDP handed over and the BIOS area's lead to the same tables"
    );
    let entries = usize::from(zero_page[0x1E8]);
    let e820: Vec<(u64, u64, u32)> = zero_page[0x2D0..0x2D0 + 20 * entries]
        .chunks_exact(20)
        .map(|e| (u64_at(e, 0), u64_at(e, 8), u32_at(e, 16)))
        .collect();
    assert!(
        e820.iter().any(|&(start, len, kind)| kind == 1
            && start <= 0x100_0000
            && 0x101_0000 <= start + len)
    );
    // A reboot runs the ROM again: the ROM's jump now lands in the reset path.
    let path = crate::handoff::reset::ResetPath::new(Chipset::I440fx, &rom_vector).expect("path");
    assert_eq!(path.target, 0xF_E05B);
    assert_eq!(machine.memory.bytes(path.target, path.code.len()), path.code);
}
