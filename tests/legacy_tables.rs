//! The MP table and `$PIR` as the firmware left them in guest memory, read back over QMP
//! after it halts and walked by a parser written here from the specifications (MP 1.4,
//! `$PIR` 1.0): the floating pointer and `$PIR` where OS scans look, every checksum, one
//! processor entry per CPU the firmware brought up with the boot CPU flagged, the I/O APIC
//! the firmware programmed, and an interrupt entry for each PCI pin the firmware routed.
//!
//! (The Debian cloud kernel the Linux tests boot is built without MP table support, so no
//! OS reads these tables here.)

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::qmp::Inspected;
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(120);
const MP_FLOATING_ADDRESS: u64 = 0xF_0070;
const PIR_ADDRESS: u64 = 0xF_0080;

fn read(vm: &mut Inspected, dir: &std::path::Path, address: u64, size: u64) -> Vec<u8> {
    let file = dir.join(format!("mem-{address:x}.bin"));
    vm.execute("pmemsave", json!({ "val": address, "size": size, "filename": file.to_str() }));
    let bytes = std::fs::read(&file).expect("pmemsave wrote the file");
    assert_eq!(bytes.len() as u64, size);
    bytes
}

fn sum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |s, b| s.wrapping_add(*b))
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// The numbers after `marker` on the firmware's lines, e.g. every `APIC ID n`.
fn logged_numbers(serial: &str, marker: &str) -> Vec<u64> {
    serial
        .lines()
        .filter_map(|l| l.split_once(marker))
        .filter_map(|(_, rest)| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

/// What the configuration table's entries say.
#[derive(Default, Debug)]
struct MpEntries {
    /// (APIC ID, flags) per processor entry.
    processors: Vec<(u8, u8)>,
    buses: Vec<(u8, String)>,
    /// (ID, address) per I/O APIC entry.
    ioapics: Vec<(u8, u32)>,
    /// (source bus, source IRQ, destination pin) per I/O interrupt entry.
    io_interrupts: Vec<(u8, u8, u8)>,
    local_interrupts: usize,
}

fn walk(config: &[u8]) -> MpEntries {
    let count = u16_at(config, 34);
    let mut at = 44;
    let mut out = MpEntries::default();
    for _ in 0..count {
        let len = match config[at] {
            0 => {
                out.processors.push((config[at + 1], config[at + 3]));
                20
            }
            1 => {
                let name = String::from_utf8_lossy(&config[at + 2..at + 8]).trim().to_string();
                out.buses.push((config[at + 1], name));
                8
            }
            2 => {
                out.ioapics.push((config[at + 1], u32_at(config, at + 4)));
                8
            }
            3 => {
                out.io_interrupts.push((config[at + 4], config[at + 5], config[at + 7]));
                8
            }
            4 => {
                out.local_interrupts += 1;
                8
            }
            other => panic!("unknown MP entry type {other} at offset {at}"),
        };
        at += len;
    }
    assert_eq!(at, usize::from(u16_at(config, 4)), "entries end where the length says");
    out
}

fn check(machine: &str, smp: &str) {
    let dir = common::scratch(&format!("legacy-{machine}-{}", smp.replace([',', '='], "-")));
    let mut vm = Inspected::boot(
        &common::image("hvmloader-qemu"),
        machine,
        &["-m", "512M", "-smp", smp],
        &dir,
        TIMEOUT,
    );
    let serial = vm.serial.clone();
    assert!(!serial.contains("ERROR"), "{serial}");
    let apic_ids = logged_numbers(&serial, ": APIC ID ");
    let ioapic_id = logged_numbers(&serial, "IOAPIC ID ");
    assert!(apic_ids.len() > 1 && ioapic_id.len() == 1, "CPU lines not found:\n{serial}");

    // The floating pointer where the firmware copied it for scans.
    let floating = read(&mut vm, &dir, MP_FLOATING_ADDRESS, 16);
    assert_eq!(&floating[..4], b"_MP_", "no floating pointer at {MP_FLOATING_ADDRESS:#x}");
    assert_eq!(sum(&floating), 0, "floating pointer checksum");
    assert_eq!(floating[8], 1, "length in paragraphs");
    assert_eq!(floating[9], 4, "MP spec 1.4");
    assert_eq!(floating[11], 0, "a configuration table, not a default configuration");

    let config_address = u64::from(u32_at(&floating, 4));
    let header = read(&mut vm, &dir, config_address, 44);
    assert_eq!(&header[..4], b"PCMP");
    let length = u64::from(u16_at(&header, 4));
    let config = read(&mut vm, &dir, config_address, length);
    assert_eq!(sum(&config), 0, "configuration table checksum");
    assert_eq!(config[6], 4, "MP spec 1.4");
    assert_eq!(u32_at(&config, 36), 0xFEE0_0000, "local APIC address");
    assert_eq!(u16_at(&config, 40), 0, "no extended table");

    let entries = walk(&config);
    let ids: Vec<u64> = entries.processors.iter().map(|p| u64::from(p.0)).collect();
    assert_eq!(ids, apic_ids, "processor entries vs the CPUs the firmware brought up");
    assert_eq!(entries.processors[0].1, 0b11, "the first processor is the enabled BSP");
    assert!(entries.processors[1..].iter().all(|p| p.1 == 0b01), "{entries:?}");
    assert_eq!(entries.ioapics, [(ioapic_id[0] as u8, 0xFEC0_0000)]);
    let isa = entries.buses.iter().find(|b| b.1 == "ISA").expect("an ISA bus entry").0;
    assert!(entries.buses.iter().any(|b| b == &(0, "PCI".to_string())), "{entries:?}");
    // ISA IRQ 0 arrives on pin 2, the others on their own pin; IRQ 2 is the cascade.
    let isa_irqs: Vec<(u8, u8)> =
        entries.io_interrupts.iter().filter(|i| i.0 == isa).map(|i| (i.1, i.2)).collect();
    assert_eq!(isa_irqs.len(), 15, "{isa_irqs:?}");
    assert!(isa_irqs.contains(&(0, 2)) && !isa_irqs.iter().any(|i| i.0 == 2), "{isa_irqs:?}");
    assert!(isa_irqs.iter().filter(|i| i.0 != 0).all(|i| i.0 == i.1), "{isa_irqs:?}");
    // Every PCI entry names a bus-0 device/pin once; the firmware routed at least one.
    let pci: BTreeSet<u8> =
        entries.io_interrupts.iter().filter(|i| i.0 == 0).map(|i| i.1).collect();
    let pci_count = entries.io_interrupts.iter().filter(|i| i.0 == 0).count();
    assert!(!pci.is_empty() && pci.len() == pci_count, "{entries:?}");
    assert_eq!(entries.local_interrupts, 2, "ExtINT on LINT0 and NMI on LINT1");

    // $PIR on i440FX only: the PIIX's router at 00:01.0, one slot per bus-0 device above.
    let pir_header = read(&mut vm, &dir, PIR_ADDRESS, 32);
    if machine == "q35" {
        assert_ne!(&pir_header[..4], b"$PIR", "a $PIR on Q35");
        return;
    }
    assert_eq!(&pir_header[..4], b"$PIR");
    assert_eq!(u16_at(&pir_header, 4), 0x0100, "version 1.0");
    let size = u64::from(u16_at(&pir_header, 6));
    let pir = read(&mut vm, &dir, PIR_ADDRESS, size);
    assert_eq!(sum(&pir), 0, "$PIR checksum");
    assert_eq!((pir[8], pir[9]), (0, 1 << 3), "router at 00:01.0");
    assert_eq!((u16_at(&pir, 12), u16_at(&pir, 14)), (0x8086, 0x122E), "PIIX-compatible");
    let slots: BTreeSet<u8> = pir[32..].chunks_exact(16).map(|s| s[1] >> 3).collect();
    let pci_devices: BTreeSet<u8> = pci.iter().map(|source| source >> 2).collect();
    assert_eq!(slots, pci_devices, "$PIR slots vs the MP table's PCI devices");
}

#[test]
fn mp_table_and_pir_on_pc() {
    // Three cores need two APIC ID bits: IDs 0,1,2 and 4,5,6, with a gap.
    check("pc", "6,sockets=2,cores=3");
}

#[test]
fn mp_table_on_q35() {
    check("q35", "4");
}
