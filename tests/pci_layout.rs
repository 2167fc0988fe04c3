//! PCI setup checked from outside the firmware: after it halts, QEMU's own view (QMP
//! `query-pci`, `info mtree`) must match what the firmware logged, nothing may overlap,
//! 64-bit BARs too large for the hole must sit above 4 GiB, and on Q35 the ECAM window must
//! be decoded at our address, not at SeaBIOS's 0xB0000000.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::qmp::Inspected;
use serde_json::{Value, json};
use xtask::mixes::{IVSHMEM_1G, PC_PCI_MIX, Q35_PCI_MIX};

const TIMEOUT: Duration = Duration::from_secs(120);

/// What the firmware said it placed: (bdf, "BAR0".."BAR5"/"ROM"/"io window"...) -> (base, size).
fn logged_placements(serial: &str) -> BTreeMap<(String, String), (u64, u64)> {
    let mut placed = BTreeMap::new();
    for line in serial.lines().filter(|l| l.starts_with("hvmrs INFO  pci: ")) {
        let words: Vec<&str> = line["hvmrs INFO  pci: ".len()..].split_whitespace().collect();
        let Some(base_at) = words.iter().position(|w| *w == "base") else { continue };
        if words.get(base_at + 2) != Some(&"size") {
            continue;
        }
        let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
        let bdf = words.iter().find(|w| w.len() == 7 && w.as_bytes()[2] == b':').unwrap();
        let what = if words.contains(&"bridge") {
            format!("{} window", words[base_at - 2])
        } else {
            words.iter().find(|w| w.starts_with("BAR") || **w == "ROM").unwrap().to_string()
        };
        placed.insert((bdf.to_string(), what), (hex(words[base_at + 1]), hex(words[base_at + 3])));
    }
    placed
}

fn bdf(dev: &Value) -> String {
    format!(
        "{:02x}:{:02x}.{:x}",
        dev["bus"].as_u64().unwrap(),
        dev["slot"].as_u64().unwrap(),
        dev["function"].as_u64().unwrap()
    )
}

/// Every device QEMU reports, depth first through bridges.
fn all_devices(buses: &Value) -> Vec<Value> {
    fn walk(devices: &Value, out: &mut Vec<Value>) {
        for dev in devices.as_array().unwrap() {
            out.push(dev.clone());
            if let Some(below) = dev.pointer("/pci_bridge/devices") {
                walk(below, out);
            }
        }
    }
    let mut out = Vec::new();
    for bus in buses.as_array().unwrap() {
        walk(&bus["devices"], &mut out);
    }
    out
}

/// Compares QEMU's view with the log and checks the layout rules; returns QEMU's devices.
fn check_against_qemu(vm: &mut Inspected) -> Vec<Value> {
    let logged = logged_placements(&vm.serial);
    assert!(!logged.is_empty(), "no placements logged:\n{}", vm.serial);
    let devices = all_devices(&vm.execute("query-pci", json!({})));
    let mut mem_ranges = Vec::new();
    let mut io_ranges = Vec::new();
    let mut seen = 0;
    for dev in &devices {
        let bdf = bdf(dev);
        for region in dev["regions"].as_array().unwrap() {
            let bar = region["bar"].as_u64().unwrap();
            let name = if bar == 6 { "ROM".to_string() } else { format!("BAR{bar}") };
            let address = region["address"].as_i64().unwrap();
            let size = region["size"].as_u64().unwrap();
            match logged.get(&(bdf.clone(), name.clone())) {
                Some(&(base, logged_size)) => {
                    assert_eq!(address as u64, base, "{bdf} {name}: QEMU has {address:#x}");
                    assert_eq!(size, logged_size, "{bdf} {name} size");
                    assert_eq!(base % size, 0, "{bdf} {name} naturally aligned");
                    if region["type"] == "io" {
                        io_ranges.push((base, base + size, format!("{bdf} {name}")));
                    } else {
                        mem_ranges.push((base, base + size, format!("{bdf} {name}")));
                    }
                    seen += 1;
                }
                // Not placed by us: QEMU must not see it decoding anywhere.
                None => assert_eq!(address, -1, "{bdf} {name} decodes but was not logged"),
            }
        }
        if let Some(bridge) = dev.get("pci_bridge") {
            let ranges = &bridge["bus"];
            for (key, what) in [
                ("io_range", "io window"),
                ("memory_range", "mem window"),
                ("prefetchable_range", "prefetchable window"),
            ] {
                let (base, limit) =
                    (ranges[key]["base"].as_u64().unwrap(), ranges[key]["limit"].as_u64().unwrap());
                match logged.get(&(bdf.clone(), what.to_string())) {
                    Some(&(b, s)) => {
                        assert_eq!((base, limit), (b, b + s - 1), "{bdf} {what}");
                        seen += 1;
                    }
                    None => assert!(
                        base > limit,
                        "{bdf} {what} open but not logged: {base:#x}-{limit:#x}"
                    ),
                }
            }
            let (sec, sub) =
                (ranges["secondary"].as_u64().unwrap(), ranges["subordinate"].as_u64().unwrap());
            assert!(sec > ranges["number"].as_u64().unwrap() && sub >= sec, "{bdf} bus numbers");
        }
    }
    assert_eq!(seen, logged.len(), "every logged placement is in QEMU's view: {logged:?}");
    // Endpoint BARs must not overlap each other (bridge windows contain them by design).
    for ranges in [&mut mem_ranges, &mut io_ranges] {
        ranges.sort();
        for pair in ranges.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "{} overlaps {}", pair[0].2, pair[1].2);
        }
    }
    assert!(vm.serial.contains("boot: done: "), "{}", vm.serial);
    assert!(!vm.serial.contains("ERROR"), "{}", vm.serial);
    devices
}

/// Every device with an interrupt pin, paired with the slots of the bridges above it
/// (bus-0 bridge first).
fn with_bridge_path(buses: &Value) -> Vec<(Value, Vec<u64>)> {
    fn walk(devices: &Value, path: &[u64], out: &mut Vec<(Value, Vec<u64>)>) {
        for dev in devices.as_array().unwrap() {
            out.push((dev.clone(), path.to_vec()));
            if let Some(below) = dev.pointer("/pci_bridge/devices") {
                let mut deeper = path.to_vec();
                deeper.push(dev["slot"].as_u64().unwrap());
                walk(below, &deeper, out);
            }
        }
    }
    let mut out = Vec::new();
    for bus in buses.as_array().unwrap() {
        walk(&bus["devices"], &[], &mut out);
    }
    out
}

/// Each function's interrupt line register (QEMU's `irq`) holds the IRQ of the PIRQ link its
/// pin reaches through the bridge swizzle, by the chipset's bus-0 rule and IRQ table.
fn check_intx(vm: &mut Inspected, root_link: impl Fn(u64, u64) -> usize, link_irqs: &[u64]) {
    let devices = with_bridge_path(&vm.execute("query-pci", json!({})));
    let mut checked = 0;
    for (dev, path) in &devices {
        let pin = dev["irq_pin"].as_u64().unwrap();
        if pin == 0 {
            continue;
        }
        // Swizzle up: a device's pin P on slot D appears as pin (P + D) mod 4 on its bridge.
        let mut pin = pin - 1;
        let mut slot = dev["slot"].as_u64().unwrap();
        for &bridge_slot in path.iter().rev() {
            pin = (pin + slot) % 4;
            slot = bridge_slot;
        }
        let expected = link_irqs[root_link(slot, pin)];
        assert_eq!(
            dev["irq"].as_u64(),
            Some(expected),
            "{} INTx line (root slot {slot} pin {pin})",
            bdf(dev)
        );
        checked += 1;
    }
    assert!(checked >= 4, "too few interrupting functions checked: {checked}");
}

fn region_of(devices: &[Value], vendor: u64, device: u64, bar: u64) -> (i64, u64) {
    let dev = devices
        .iter()
        .find(|d| d["id"]["vendor"] == vendor && d["id"]["device"] == device)
        .unwrap_or_else(|| panic!("{vendor:04x}:{device:04x} not found"));
    let region = dev["regions"].as_array().unwrap().iter().find(|r| r["bar"] == bar).unwrap();
    (region["address"].as_i64().unwrap(), region["size"].as_u64().unwrap())
}

#[test]
fn q35_mix_matches_qemu_view() {
    let dir = common::scratch("pci-q35");
    let mut args = vec!["-m", "512M", "-append", "selfcheck"];
    args.extend(Q35_PCI_MIX);
    args.extend(IVSHMEM_1G);
    let mut vm = Inspected::boot(&common::image("hvmloader-qemu"), "q35", &args, &dir, TIMEOUT);
    let devices = check_against_qemu(&mut vm);
    assert!(vm.serial.contains("self-check: ECAM and CF8 agree on"), "{}", vm.serial);

    // The 1 GiB BAR went above 4 GiB.
    let (address, size) = region_of(&devices, 0x1af4, 0x1110, 2);
    assert_eq!(size, 1 << 30);
    assert!(address as u64 >= 1 << 32, "ivshmem BAR2 at {address:#x}");

    // ECAM is decoded where the firmware said, and no longer at SeaBIOS's address.
    let line = vm.serial.lines().find(|l| l.contains("ECAM (MMCONFIG) at [")).unwrap();
    let base = line.split("at [").nth(1).unwrap().split('-').next().unwrap().to_string();
    assert_ne!(base, "0xb0000000");
    let mtree = vm.hmp("info mtree -f");
    let mmcfg: Vec<&str> = mtree.lines().filter(|l| l.contains("pcie-mmcfg-mmio")).collect();
    assert!(!mmcfg.is_empty(), "no ECAM region in QEMU's memory tree");
    let expected =
        format!("{:016x}-", u64::from_str_radix(base.trim_start_matches("0x"), 16).unwrap());
    assert!(mmcfg.iter().all(|l| l.trim_start().starts_with(&expected)), "{mmcfg:?} vs {base}");

    check_intx(
        &mut vm,
        |slot, pin| match slot {
            25..=29 | 31 => pin as usize,
            _ => 4 + ((slot + pin) % 4) as usize,
        },
        &[10, 11, 5, 10, 11, 5, 10, 11],
    );

    // PCIe endpoints behind root ports were found (bus numbers beyond 0).
    assert!(devices.iter().any(|d| d["bus"].as_u64() > Some(0) && d["id"]["device"] == 0x10d3));
}

#[test]
fn pc_mix_matches_qemu_view() {
    let dir = common::scratch("pci-pc");
    let mut args = vec!["-m", "1G", "-append", "selfcheck"];
    args.extend(PC_PCI_MIX);
    args.extend(IVSHMEM_1G);
    let mut vm = Inspected::boot(&common::image("hvmloader-qemu"), "pc", &args, &dir, TIMEOUT);
    let devices = check_against_qemu(&mut vm);
    let (address, _) = region_of(&devices, 0x1af4, 0x1110, 2);
    assert!(address as u64 >= 1 << 32, "ivshmem BAR2 at {address:#x}");
    // QEMU's PIIX3 wiring (hw/isa/piix3.c, pci_slot_get_pirq): slot 1 INTA drives PIRQA.
    check_intx(&mut vm, |slot, pin| ((slot + pin + 3) % 4) as usize, &[10, 11, 5, 10]);
    // A bridge behind a bridge got its own bus.
    assert!(devices.iter().any(|d| d["bus"].as_u64() == Some(2)), "nested bridge bus");
}
