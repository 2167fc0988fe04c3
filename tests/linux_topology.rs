//! Machines as QEMU builds them (issue 19): PCI expander bridges and NUMA topologies reach
//! Linux through our firmware as they do through QEMU's own SeaBIOS path, which each test
//! boots on the same command line as the control.
//!
//! One boot per machine and firmware checks everything at once:
//!
//! - q35: two NUMA nodes with a distance of 31; a `pxb-pcie` (bus_nr 128, node 1) with a
//!   root port and an NVMe behind it, and a root port with an NVMe on bus 0;
//! - pc: four NUMA nodes with every distance given; a `pxb` (bus_nr 64, node 2) with an NVMe
//!   behind it, and an NVMe on bus 0.
//!
//! Linux must find both root bridges with disjoint windows, both NVMe controllers doing I/O,
//! the expander's NVMe on the expander's node, no BAR moved, and the same nodes (CPU lists,
//! memory, distances) as through QEMU's own tables.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use common::checks::Problems;
use common::linux::{Firmware, guest};
use common::{OnReset, boot_with, hex, scratch};
use xtask::qmp::tail;

/// One Linux boot takes 4-10 s under TCG; the margin is for loaded CI machines.
const LINUX_TIMEOUT: Duration = Duration::from_secs(150);
/// `nokaslr`: the kernel's own memory is not in MemTotal, so a kernel placed at random
/// would move up to its size between nodes from boot to boot.
const CMDLINE: &str = "console=ttyS0 panic=-1 no_timer_check nokaslr \
                       nvme_core.admin_timeout=15 nvme_core.io_timeout=15";
const REPORT_BEGIN: &str = "=== topology report begin ===";
const REPORT_END: &str = "=== topology report end ===";

/// The guest's report: nodes, NVMe controllers (address, node, an I/O round trip) and the
/// kernel's lines about root bridges and BAR assignment.
const REPORT_INIT: &str = r#"
mkdir -p /tmp
echo "=== topology report begin ==="
for n in /sys/devices/system/node/node*; do
  id=${n##*node}
  echo "node $id cpus $(cat $n/cpulist)"
  echo "node $id distance $(cat $n/distance)"
  echo "node $id memkb $(grep MemTotal $n/meminfo | awk '{print $4}')"
done
for c in /sys/class/nvme/nvme*; do
  dev=$(readlink -f $c/device)
  bdf=${dev##*/}
  ns=/dev/$(basename $c)n1
  echo "topology-check-$bdf" > /tmp/pattern
  dd if=/tmp/pattern of=$ns bs=512 count=1 conv=sync 2>/dev/null
  sync
  echo 3 > /proc/sys/vm/drop_caches
  got=$(dd if=$ns bs=512 count=1 2>/dev/null | tr -cd 'a-z0-9:.-')
  echo "nvme $bdf node $(cat $dev/numa_node) io $got"
done
dmesg | grep -E "PCI Root Bridge|root bus resource|BAR .*: assigned|reassign|no space for|can't claim" | sed 's/^\[[ 0-9.]*\] //' | sed 's/^/dmesg: /'
echo "=== topology report end ==="
"#;

/// What one boot found.
#[derive(Debug, Default)]
struct Found {
    /// node -> (cpu list, distances, MemTotal in KiB).
    nodes: BTreeMap<u32, (String, String, u64)>,
    /// BDF -> (NUMA node, what was read back).
    nvme: BTreeMap<String, (i32, String)>,
    dmesg: Vec<String>,
}

fn boot(firmware: Firmware, machine: &str, devices: &[&str]) -> (Found, String) {
    let guest = guest();
    let initrd = guest.initrd_with_init(REPORT_INIT);
    let (kernel, mut args) = firmware.kernel_args(&initrd, CMDLINE);
    args.extend(devices.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = boot_with(&kernel, machine, &args, LINUX_TIMEOUT, OnReset::Exit, |_| false);
    let serial = run.serial.clone();
    let report = serial
        .find(REPORT_BEGIN)
        .and_then(|start| {
            let start = start + REPORT_BEGIN.len();
            serial[start..].find(REPORT_END).map(|len| &serial[start..start + len])
        })
        .unwrap_or_else(|| {
            panic!("{machine} through {firmware}: no report:\n{}", tail(&serial, 60))
        });
    let mut found = Found::default();
    for line in report.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["node", id, "cpus", cpus] => {
                found.nodes.entry(id.parse().unwrap()).or_default().0 = cpus.to_string();
            }
            ["node", id, "distance", rest @ ..] => {
                found.nodes.entry(id.parse().unwrap()).or_default().1 = rest.join(" ");
            }
            ["node", id, "memkb", kb] => {
                found.nodes.entry(id.parse().unwrap()).or_default().2 = kb.parse().unwrap();
            }
            ["nvme", bdf, "node", node, "io", got @ ..] => {
                found.nvme.insert(bdf.to_string(), (node.parse().unwrap(), got.join(" ")));
            }
            _ => {
                if let Some(l) = line.strip_prefix("dmesg: ") {
                    found.dmesg.push(l.to_string());
                }
            }
        }
    }
    (found, serial)
}

/// `[mem A-B window]` / `[io A-B window]` ranges of each root bus, from the kernel's lines.
fn root_windows(dmesg: &[String]) -> BTreeMap<String, Vec<(bool, u64, u64)>> {
    let mut out: BTreeMap<String, Vec<(bool, u64, u64)>> = BTreeMap::new();
    for line in dmesg {
        let Some(rest) = line.strip_prefix("pci_bus ") else { continue };
        let Some((bus, resource)) = rest.split_once(": root bus resource [") else { continue };
        let Some(window) = resource.strip_suffix(" window]") else { continue };
        let (kind, range) = window.split_once(' ').unwrap();
        let (start, end) = range.trim().split_once('-').unwrap();
        out.entry(bus.to_string()).or_default().push((kind == "io", hex(start), hex(end)));
    }
    out
}

/// Checks one machine through both firmwares.
fn check_machine(
    name: &str,
    machine: &str,
    devices: &[&str],
    expander_nvme: &str,
    expander_node: i32,
    node_count: usize,
) {
    let (ours, serial) = boot(Firmware::Ours, machine, devices);
    let (stock, _) = boot(Firmware::Stock, machine, devices);
    let mut problems = Problems::default();

    problems.check(ours.nodes.len() == node_count, || {
        format!("{} node(s) through our firmware, {node_count} expected", ours.nodes.len())
    });
    problems.check(stock.nodes.len() == node_count, || {
        format!("{} node(s) through SeaBIOS (the control)", stock.nodes.len())
    });
    for (node, (cpus, distance, kb)) in &ours.nodes {
        let Some((c_cpus, c_distance, c_kb)) = stock.nodes.get(node) else {
            problems.check(false, || format!("node {node} only through our firmware"));
            continue;
        };
        problems.check(cpus == c_cpus, || {
            format!("node {node}: CPUs {cpus} through ours, {c_cpus} through SeaBIOS")
        });
        problems.check(distance == c_distance, || {
            format!("node {node}: distances {distance} through ours, {c_distance} through SeaBIOS")
        });
        // The firmwares keep different pages for themselves (about 20 KiB apart).
        problems.check(kb.abs_diff(*c_kb) < 1024, || {
            format!("node {node}: {kb} KiB through ours, {c_kb} KiB through SeaBIOS")
        });
        eprintln!(
            "{name}: node {node}: cpus {cpus}, distances {distance}, {kb} KiB (SeaBIOS {c_kb} KiB)"
        );
    }

    for (which, found) in [("ours", &ours), ("SeaBIOS", &stock)] {
        problems.check(found.nvme.len() == 2, || {
            format!(
                "{which}: {} NVMe controller(s), 2 expected: {:?}",
                found.nvme.len(),
                found.nvme
            )
        });
        for (bdf, (node, got)) in &found.nvme {
            problems.check(got.starts_with(&format!("topology-check-{bdf}")), || {
                format!("{which}: NVMe {bdf}: read back {got:?}")
            });
            if bdf == expander_nvme {
                problems.check(*node == expander_node, || {
                    format!("{which}: NVMe {bdf} on node {node}, expander node {expander_node}")
                });
            }
        }
        problems.check(found.nvme.contains_key(expander_nvme), || {
            format!("{which}: no NVMe at {expander_nvme} behind the expander: {:?}", found.nvme)
        });
        let bridges = found.dmesg.iter().filter(|l| l.contains("PCI Root Bridge")).count();
        problems.check(bridges == 2, || format!("{which}: {bridges} root bridge(s), 2 expected"));
    }

    // Ours: no BAR moved, root bridges' windows disjoint.
    let moved: Vec<&String> = ours
        .dmesg
        .iter()
        .filter(|l| l.contains("assigned") || l.contains("no space") || l.contains("can't claim"))
        .collect();
    problems.check(moved.is_empty(), || format!("Linux moved or refused BARs: {moved:?}"));
    let windows = root_windows(&ours.dmesg);
    problems.check(windows.len() == 2, || format!("root bus windows: {windows:?}"));
    let all: Vec<(&String, &(bool, u64, u64))> =
        windows.iter().flat_map(|(bus, ws)| ws.iter().map(move |w| (bus, w))).collect();
    for (i, (bus_a, a)) in all.iter().enumerate() {
        for (bus_b, b) in &all[i + 1..] {
            let overlap = bus_a != bus_b && a.0 == b.0 && a.1 <= b.2 && b.1 <= a.2;
            problems.check(!overlap, || format!("{bus_a} {a:x?} overlaps {bus_b} {b:x?}"));
        }
    }

    if !problems.0.is_empty() {
        let log = scratch(&format!("topology-{name}")).join("serial.log");
        std::fs::write(&log, &serial).expect("save the serial log");
        let mut message = format!("{name}: {} problem(s):\n", problems.0.len());
        for problem in &problems.0 {
            let _ = writeln!(message, "  - {problem}");
        }
        panic!("{message}our serial log: {}", log.display());
    }
}

/// Two 1 MiB raw disks in the test's own scratch directory (made afresh here).
fn disks(test: &str) -> (String, String) {
    let dir = scratch(&format!("topology-disks-{test}"));
    let [a, b] = ["a", "b"].map(|n| disk(&dir, &format!("{test}{n}")));
    (a, b)
}

fn disk(dir: &std::path::Path, name: &str) -> String {
    let path = dir.join(format!("{name}.img"));
    let file = std::fs::File::create(&path).expect("create disk image");
    file.set_len(1 << 20).expect("size disk image");
    format!("file={},if=none,id={name},format=raw", path.display())
}

#[test]
fn q35_expander_on_node_1_of_2() {
    let (d0, d1) = disks("q35");
    let devices = [
        "-m",
        "1G",
        "-smp",
        "2",
        "-object",
        "memory-backend-ram,id=m0,size=512M",
        "-object",
        "memory-backend-ram,id=m1,size=512M",
        "-numa",
        "node,nodeid=0,cpus=0,memdev=m0",
        "-numa",
        "node,nodeid=1,cpus=1,memdev=m1",
        "-numa",
        "dist,src=0,dst=1,val=31",
        "-device",
        "pxb-pcie,id=pxb1,bus_nr=128,bus=pcie.0,numa_node=1",
        "-device",
        "pcie-root-port,id=rp9,bus=pxb1,chassis=9",
        "-drive",
        &d0,
        "-device",
        "nvme,drive=q35a,serial=e0,bus=rp9",
        "-device",
        "pcie-root-port,id=rp1,bus=pcie.0,chassis=1",
        "-drive",
        &d1,
        "-device",
        "nvme,drive=q35b,serial=b0,bus=rp1",
    ];
    check_machine("q35", "q35", &devices, "0000:81:00.0", 1, 2);
}

#[test]
fn pc_expander_on_node_2_of_4() {
    let (d0, d1) = disks("pc");
    let devices = [
        "-m",
        "1G",
        "-smp",
        "4",
        "-object",
        "memory-backend-ram,id=m0,size=256M",
        "-object",
        "memory-backend-ram,id=m1,size=256M",
        "-object",
        "memory-backend-ram,id=m2,size=256M",
        "-object",
        "memory-backend-ram,id=m3,size=256M",
        "-numa",
        "node,nodeid=0,cpus=0,memdev=m0",
        "-numa",
        "node,nodeid=1,cpus=1,memdev=m1",
        "-numa",
        "node,nodeid=2,cpus=2,memdev=m2",
        "-numa",
        "node,nodeid=3,cpus=3,memdev=m3",
        "-numa",
        "dist,src=0,dst=1,val=15",
        "-numa",
        "dist,src=0,dst=2,val=20",
        "-numa",
        "dist,src=0,dst=3,val=25",
        "-numa",
        "dist,src=1,dst=2,val=30",
        "-numa",
        "dist,src=1,dst=3,val=35",
        "-numa",
        "dist,src=2,dst=3,val=40",
        "-device",
        "pxb,id=pxb1,bus_nr=64,bus=pci.0,numa_node=2",
        "-drive",
        &d0,
        "-device",
        "nvme,drive=pca,serial=e0,bus=pxb1,addr=3",
        "-drive",
        &d1,
        "-device",
        "nvme,drive=pcb,serial=b0,bus=pci.0",
    ];
    check_machine("pc", "pc", &devices, "0000:41:03.0", 2, 4);
}
