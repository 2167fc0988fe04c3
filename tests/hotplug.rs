//! PCI hotplug under Linux (issue 5), driven from outside over QMP while the guest watches:
//!
//! - pc (i440FX): ACPI PCI hotplug of bus-0 slots. The DSDT implements QEMU's PIIX4
//!   interface at 0xAE00 (slot objects with _EJ0, \_GPE._E01); Linux's acpiphp must
//!   register the slots, add a device QEMU plugs and eject it when asked (QEMU then emits
//!   DEVICE_DELETED).
//! - q35: native PCIe hotplug on a root port, which the DSDT's _OSC must grant to Linux
//!   (pciehp). QEMU's own ACPI hotplug for Q35 is turned off so QEMU drives the root port's
//!   slot registers.
//!
//! The guest's /init prints a READY marker with the functions it sees, then polls sysfs
//! (every 100 ms, at most 30 s per step) and prints ADDED / REMOVED lines, then its dmesg
//! between the report markers and powers off.

mod common;

use std::time::{Duration, Instant};

use common::linux::{LiveVm, REPORT_END, guest, report, start_live};
use serde_json::json;
use xtask::qmp::tail;

const READY: &str = "HOTPLUG-READY";
const ADDED: &str = "HOTPLUG-ADDED ";
const NOTHING_ADDED: &str = "HOTPLUG-NOTHING-ADDED";
const REMOVED: &str = "HOTPLUG-REMOVED ";
const NOT_REMOVED: &str = "HOTPLUG-NOT-REMOVED ";

/// Linux up to /init: 4-10 s under TCG, with margin for a loaded machine.
const BOOT_TIMEOUT: Duration = Duration::from_secs(90);
/// The guest gives up on each step after 30 s and says so; the test waits a little longer
/// so the guest's own verdict (and its dmesg) arrives.
const STEP_TIMEOUT: Duration = Duration::from_secs(45);

/// The watcher. `sleep 0.1` needs busybox's fractional sleep (Debian's has it).
const WATCH_BODY: &str = r#"list() { ls /sys/bus/pci/devices | tr '\n' ' '; }
before=" $(list)"
echo "HOTPLUG-READY $before"
added=
i=0
while [ -z "$added" ] && [ $i -lt 300 ]; do
    sleep 0.1
    i=$((i + 1))
    for d in $(list); do
        case "$before " in *" $d "*) ;; *) added=$d ;; esac
    done
done
if [ -n "$added" ]; then
    dev=/sys/bus/pci/devices/$added
    echo "HOTPLUG-ADDED $added $(cat $dev/vendor):$(cat $dev/device)"
    i=0
    while [ -e $dev ] && [ $i -lt 300 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if [ -e $dev ]; then echo "HOTPLUG-NOT-REMOVED $added"; else echo "HOTPLUG-REMOVED $added"; fi
else
    echo "HOTPLUG-NOTHING-ADDED"
fi
echo "=== hvmloader-rs linux report begin ==="
dmesg | sed 's/^/dmesg: /'
echo "=== hvmloader-rs linux report end ===""#;

/// Hotplug-related kernel messages from the report (or the console, if no report came),
/// for failure messages.
fn hotplug_messages(serial: &str) -> String {
    let text = report(serial).unwrap_or(serial);
    let relevant: Vec<&str> = text
        .lines()
        .filter(|l| {
            ["acpiphp", "pciehp", "_OSC", "hotplug", "pci 0000", "ACPI Error", "ACPI BIOS Error"]
                .iter()
                .any(|n| l.contains(n))
        })
        .collect();
    relevant.join("\n")
}

/// Boots Linux with the watcher as /init and QMP on; returns once the guest is READY.
fn start(machine: &str, extra: &[&str], scratch: &str) -> (LiveVm, Instant) {
    let guest = guest();
    let initrd = guest.initrd_with_init(WATCH_BODY);
    let kernel = format!("name=opt/hvmloader/kernel,file={}", guest.kernel.display());
    let initrd = format!("name=opt/hvmloader/initrd,file={}", initrd.display());
    let mut args = vec!["-smp", "2", "-fw_cfg", &kernel, "-fw_cfg", &initrd];
    // no_timer_check: Linux's IO-APIC timer probe counts ticks over a short busy-wait and
    // panics ("IO-APIC + timer doesn't work!") when TCG on a loaded host runs that loop too
    // slowly; a timer that really does not work still stops the boot.
    args.extend([
        "-fw_cfg",
        "name=opt/hvmloader/cmdline,string=console=ttyS0 panic=-1 no_timer_check",
    ]);
    args.extend(extra);
    let started = Instant::now();
    let mut vm = start_live(machine, &args, &common::scratch(scratch));
    wait(&mut vm, "READY from the guest", BOOT_TIMEOUT, |s| s.contains(READY));
    eprintln!("{machine}: guest ready after {:.1?}", started.elapsed());
    (vm, started)
}

/// The serial log once `ready` holds for it; panics naming `what` on timeout.
fn wait(vm: &mut LiveVm, what: &str, timeout: Duration, ready: impl Fn(&str) -> bool) -> String {
    vm.wait_until(what, timeout, ready).unwrap_or_else(|e| panic!("{e}"))
}

/// Waits for the guest's verdict on one step: the line starting with `good`, or panics with
/// the guest's hotplug messages if it printed `bad` or nothing.
fn expect_line(vm: &mut LiveVm, what: &str, good: &str, bad: &str) -> String {
    let serial = wait(vm, what, STEP_TIMEOUT, |s| s.contains(good) || s.contains(bad));
    if let Some(line) = serial.lines().find(|l| l.starts_with(good)) {
        return line[good.len()..].trim().to_string();
    }
    // The guest gave up; its dmesg follows within a second or two.
    let serial = wait(vm, "the guest's dmesg", Duration::from_secs(20), |s| s.contains(REPORT_END));
    panic!(
        "{what}: the guest says `{}`; hotplug-related kernel messages:\n{}",
        bad.trim(),
        hotplug_messages(&serial)
    );
}

/// Plugs `device` (QMP device_add arguments, id "hot0"), expects the guest to see
/// `expected_id` at `expected_bdf`, unplugs it, expects the guest to lose it and QEMU to
/// finish the unplug, then expects the guest to power off. Returns the final serial log.
fn plug_and_unplug(
    vm: &mut LiveVm,
    started: Instant,
    device: serde_json::Value,
    expected_bdf: &str,
    expected_id: &str,
) -> String {
    vm.execute("device_add", device.clone())
        .unwrap_or_else(|e| panic!("QMP device_add {device} refused: {e}"));
    let added = expect_line(vm, "the hot-added function", ADDED, NOTHING_ADDED);
    eprintln!("guest saw {added} after {:.1?}", started.elapsed());
    assert_eq!(
        added,
        format!("{expected_bdf} {expected_id}"),
        "the guest found another function than the one plugged; kernel messages:\n{}",
        hotplug_messages(&vm.serial())
    );

    vm.execute("device_del", json!({ "id": "hot0" }))
        .unwrap_or_else(|e| panic!("QMP device_del hot0 refused: {e}"));
    let removed = expect_line(vm, "the removal", REMOVED, NOT_REMOVED);
    assert_eq!(removed, expected_bdf);
    eprintln!("guest lost {removed} after {:.1?}", started.elapsed());
    // QEMU finishes the unplug once the guest ejected the slot (_EJ0) or powered it off.
    // (Its children, such as virtio's backend, have their own events without a "device".)
    let deleted = vm.wait_for_event(Duration::from_secs(20), |e| {
        e["event"] == "DEVICE_DELETED" && e["data"]["device"] == "hot0"
    });
    assert!(
        deleted.is_some(),
        "QEMU did not complete the unplug of hot0 (no DEVICE_DELETED; events {:?}); \
         kernel messages:\n{}",
        vm.events,
        hotplug_messages(&vm.serial())
    );

    let status = vm.wait_for_exit(Duration::from_secs(30));
    let serial = vm.serial();
    assert_eq!(status, Some(0), "the guest did not power off; serial tail:\n{}", tail(&serial, 40));
    eprintln!("powered off after {:.1?}", started.elapsed());
    serial
}

/// The hotplug-side ACPI messages must be clean too.
fn assert_no_acpi_complaints(serial: &str) {
    let report = report(serial).expect("the guest printed its dmesg");
    let complaints: Vec<&str> = report
        .lines()
        .filter(|l| ["ACPI Error", "ACPI BIOS Error", "ACPI Warning"].iter().any(|n| l.contains(n)))
        .collect();
    assert!(complaints.is_empty(), "ACPI complaints:\n{}", complaints.join("\n"));
}

#[test]
fn acpi_hotplug_of_a_bus0_slot_on_pc() {
    let (mut vm, started) = start("pc", &[], "hotplug-pc");
    // Slot 9 is free on pc (0: host bridge, 1: PIIX, 2: VGA, 3: the default NIC).
    let serial = plug_and_unplug(
        &mut vm,
        started,
        json!({ "driver": "e1000", "id": "hot0", "bus": "pci.0", "addr": "0x9" }),
        "0000:00:09.0",
        "0x8086:0x100e",
    );
    let report = report(&serial).expect("the guest printed its dmesg");
    // acpiphp found the DSDT's slot objects (one per hotpluggable bus-0 slot, _SUN = slot).
    let slots = report.lines().filter(|l| l.contains("acpiphp: Slot [")).count();
    assert!(
        slots >= 20 && report.contains("acpiphp: Slot [9] registered"),
        "acpiphp registered {slots} slot(s), slot 9 among them expected:\n{}",
        hotplug_messages(&serial)
    );
    assert_no_acpi_complaints(&serial);
}

#[test]
fn native_pcie_hotplug_on_a_q35_root_port() {
    let (mut vm, started) = start(
        "q35",
        &[
            // QEMU's ACPI hotplug for Q35 (on by default since QEMU 6.1) would take the
            // root ports' slots away from pciehp; this test is about native hotplug.
            "-global",
            "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off",
            "-device",
            "pcie-root-port,id=rp1,chassis=1,slot=1",
        ],
        "hotplug-q35",
    );
    // Unplug under pciehp goes through the attention button: Linux waits 5 s before it
    // powers the slot off, which the step timeouts allow for.
    let serial = plug_and_unplug(
        &mut vm,
        started,
        json!({ "driver": "virtio-net-pci", "id": "hot0", "bus": "rp1" }),
        "0000:01:00.0",
        "0x1af4:0x1041",
    );
    let report = report(&serial).expect("the guest printed its dmesg");
    let osc = report.lines().find(|l| l.contains("_OSC: OS now controls"));
    assert!(
        osc.is_some_and(|l| l.contains("PCIeHotplug")),
        "_OSC did not grant native PCIe hotplug: {osc:?}\n{}",
        hotplug_messages(&serial)
    );
    assert!(
        report.contains("pciehp: Slot #1 "),
        "pciehp did not take the root port's slot:\n{}",
        hotplug_messages(&serial)
    );
    assert_no_acpi_complaints(&serial);
}
