//! vCPU bring-up checked from outside the firmware: after it halts, QEMU's own list of CPUs
//! (QMP `query-cpus-fast`: socket, core and thread of each) must match, APIC ID for APIC ID,
//! the CPUs the firmware logged, including topologies whose APIC IDs have gaps.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::qmp::Inspected;
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(120);

/// `(sockets, cores per socket, threads per core)` of one `-smp` configuration.
struct Smp {
    arg: &'static str,
    sockets: u32,
    cores: u32,
    threads: u32,
}

const CONFIGS: [Smp; 3] = [
    Smp { arg: "1", sockets: 1, cores: 1, threads: 1 },
    Smp { arg: "4", sockets: 1, cores: 4, threads: 1 },
    // Three cores need two bits: APIC IDs 0,1,2 and 4,5,6.
    Smp { arg: "6,sockets=2,cores=3", sockets: 2, cores: 3, threads: 1 },
];

fn width(count: u32) -> u32 {
    count.next_power_of_two().trailing_zeros()
}

/// APIC ID as QEMU composes it: thread, then core, then socket fields, each as wide as its
/// count rounded up to a power of two.
fn apic_id(smp: &Smp, socket: u32, core: u32, thread: u32) -> u32 {
    let thread_bits = width(smp.threads);
    let core_bits = width(smp.cores);
    (socket << (core_bits + thread_bits)) | (core << thread_bits) | thread
}

/// `(index, APIC ID)` of every `cpu: CPU n: APIC ID x` line.
fn logged_cpus(serial: &str) -> Vec<(u32, u32)> {
    const PREFIX: &str = "hvmrs INFO  cpu: CPU ";
    serial
        .lines()
        .filter_map(|line| line.strip_prefix(PREFIX))
        .map(|rest| {
            let (index, rest) = rest.split_once(": APIC ID ").expect("CPU line format");
            let id = rest.split(|c: char| !c.is_ascii_digit()).next().unwrap();
            (index.parse().unwrap(), id.parse().unwrap())
        })
        .collect()
}

fn check(machine: &str, smp: &Smp) {
    let dir = common::scratch(&format!("cpus-{machine}-{}", smp.arg.replace([',', '='], "-")));
    let mut qemu = Inspected::boot(
        &common::image("hvmloader-qemu"),
        machine,
        &["-smp", smp.arg],
        &dir,
        TIMEOUT,
    );
    let serial = qemu.serial.clone();
    assert!(serial.contains("boot: done:"), "firmware failed:\n{serial}");

    let cpus = qemu.execute("query-cpus-fast", json!({}));
    let expected: BTreeSet<u32> = cpus
        .as_array()
        .unwrap()
        .iter()
        .map(|cpu| {
            let prop = |name: &str| cpu["props"][name].as_u64().unwrap_or(0) as u32;
            apic_id(smp, prop("socket-id"), prop("core-id"), prop("thread-id"))
        })
        .collect();
    let count = smp.sockets * smp.cores * smp.threads;
    assert_eq!(expected.len() as u32, count, "QEMU lists {cpus}");

    let logged = logged_cpus(&serial);
    let indices: Vec<u32> = logged.iter().map(|&(i, _)| i).collect();
    assert_eq!(indices, (0..count).collect::<Vec<_>>(), "one line per CPU, in order:\n{serial}");
    let ids: Vec<u32> = logged.iter().map(|&(_, id)| id).collect();
    let unique: BTreeSet<u32> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "APIC IDs logged twice:\n{serial}");
    assert_eq!(unique, expected, "firmware's APIC IDs vs QEMU's:\n{serial}");
    // The BSP (QEMU's CPU 0, APIC ID 0) comes first, the APs by ascending ID.
    assert_eq!(ids[0], 0);
    assert!(ids[1..].windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(
        serial.contains(&format!("cpu: {count} CPU(s) as expected, {} socket(s)", smp.sockets)),
        "summary line:\n{serial}"
    );
    assert!(serial.contains("MTRRs identical on every CPU"), "{serial}");
    assert!(serial.contains("cpu: IOAPIC at 0xfec00000: ID "), "{serial}");
}

#[test]
fn every_cpu_on_pc() {
    for smp in &CONFIGS {
        check("pc", smp);
    }
}

#[test]
fn every_cpu_on_q35() {
    for smp in &CONFIGS {
        check("q35", smp);
    }
}

#[test]
fn apic_ids_follow_qemu_topology() {
    let smp = &CONFIGS[2];
    let ids: Vec<u32> = (0..2).flat_map(|s| (0..3).map(move |c| apic_id(smp, s, c, 0))).collect();
    assert_eq!(ids, [0, 1, 2, 4, 5, 6]);
}
