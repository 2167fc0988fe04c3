//! Under a real Xen: Xen 4.17 and a Debian dom0 run inside QEMU (TCG, nested SVM), and each
//! test creates one HVM guest with `xl` and reads what Xen printed on its console, where
//! whatever the guest's firmware writes to port 0xE9 appears as `(dN) ...` lines.
//!
//! The first run builds the dom0 image (a few minutes, cached under target/xen-cache); each
//! test then boots Xen once (about 30 s). A machine that cannot run Xen prints why and skips
//! (`HVMRS_REQUIRE_XEN=1` makes that a failure).
//!
//! Only i440FX is tested here: Debian's device model (upstream QEMU 7.2) runs HVM guests on
//! the i440FX-based `xenfv` machine only. Q35 is covered by the QEMU tests.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::image;
use common::xen::{Scenario, XenRun, dom0_or_skip, run};

/// One Xen at a time: each is a 2-vCPU TCG QEMU running a nested hypervisor, and two of
/// them on a small CI machine slow each other down for no gain.
static ONE_XEN_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Xen's hvmloader and SeaBIOS reach "No bootable device" about 5 s after `xl create`; our
/// firmware takes 8-16 s more (every COM1 byte and config access is a round trip to the
/// device model in a nested dom0), and several times that on a loaded 2-core machine.
const GUEST_TIMEOUT: Duration = Duration::from_secs(240);

/// Boots Xen and runs `scenario`, or returns `None` when this machine cannot run Xen.
fn run_under_xen(test: &str, scenario: Scenario) -> Option<XenRun> {
    let dom0 = dom0_or_skip(test)?;
    let _only_one = ONE_XEN_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let run = run(dom0, &scenario);
    eprintln!(
        "{test}: Xen boot, guest and power-off took {:?}; the guest's (dN) lines:",
        run.elapsed
    );
    for line in run.guest_lines() {
        eprintln!("    {line}");
    }
    Some(run)
}

/// Our Xen image, as a user points `firmware_override` at it.
fn our_image() -> Vec<u8> {
    std::fs::read(image("hvmloader")).expect("read target/hvmloader")
}

/// Proves the harness: with no `firmware_override`, the guest runs Xen's own hvmloader,
/// which hands off to SeaBIOS.
#[test]
fn xen_boots_a_guest_with_its_own_hvmloader_and_seabios() {
    let Some(run) = run_under_xen(
        "xen_boots_a_guest_with_its_own_hvmloader_and_seabios",
        Scenario {
            name: "stock-hvmloader",
            firmware_override: None,
            memory_mib: 128,
            vcpus: 1,
            wait_for: "No bootable device",
            guest_timeout: GUEST_TIMEOUT,
        },
    ) else {
        return;
    };
    assert_eq!(run.create_status(), 0, "xl create failed\n{run}");
    assert_eq!(run.wait_outcome(), "matched", "SeaBIOS never gave up booting\n{run}");
    run.assert_guest_printed("HVM Loader");
    run.assert_guest_printed("Invoking SeaBIOS");
    run.assert_guest_printed("SeaBIOS (version");
    run.assert_guest_printed("No bootable device");
}

/// The floor, true before and after the firmware drives the Xen platform: Xen loads our
/// image, our log reaches Xen's console, the firmware recognises Xen, and it either hands
/// off to SeaBIOS or ends with one line naming why it stopped (never a fault Xen catches).
#[test]
fn xen_runs_our_firmware_and_it_detects_xen() {
    let Some(run) = run_under_xen(
        "xen_runs_our_firmware_and_it_detects_xen",
        Scenario {
            name: "ours-detects-xen",
            firmware_override: Some(our_image()),
            memory_mib: 128,
            vcpus: 1,
            // Our last line either way: a fatal error, the summary, or SeaBIOS once we hand off.
            wait_for: r"hvmrs .*(fatal: |done: )|No bootable device",
            guest_timeout: GUEST_TIMEOUT,
        },
    ) else {
        return;
    };
    assert_eq!(run.create_status(), 0, "xl create refused our image\n{run}");
    let ours = run.firmware_lines();
    assert!(
        ours.first().is_some_and(|l| l.contains("boot: hvmloader-rs ")),
        "our banner is not the guest's first line of ours\n{run}"
    );
    run.assert_guest_printed("platform Xen 4.17");
    // The firmware may end its domain as "crashed" on purpose (SCHEDOP_shutdown), so the
    // domain's state says nothing; Xen's own messages tell a fault from a report.
    assert_eq!(run.xen_fault(), None, "Xen stopped the guest for a fault\n{run}");
    assert!(!ours.iter().any(|l| l.contains("fatal: ")), "the firmware stopped\n{run}");
    let handed_off = run.guest_lines().iter().any(|l| l.contains("SeaBIOS (version"));
    assert!(handed_off, "the firmware did not hand off to SeaBIOS\n{run}");
}

/// The whole boot once the firmware drives the Xen platform: it finds Xen, the i440FX
/// chipset, the vCPUs and memory the guest config asks for, places the Xen platform PCI
/// device, and hands off to the SeaBIOS libxl passed as the "firmware" module.
#[test]
fn xen_boots_through_our_firmware_into_seabios() {
    const VCPUS: u32 = 2;
    const MEMORY_MIB: u32 = 256;
    let Some(run) = run_under_xen(
        "xen_boots_through_our_firmware_into_seabios",
        Scenario {
            name: "ours-full",
            firmware_override: Some(our_image()),
            memory_mib: MEMORY_MIB,
            vcpus: VCPUS,
            wait_for: r"No bootable device|hvmrs .*fatal: ",
            guest_timeout: GUEST_TIMEOUT,
        },
    ) else {
        return;
    };
    assert_eq!(run.create_status(), 0, "xl create refused our image\n{run}");
    assert_eq!(run.wait_outcome(), "matched", "the guest never got to SeaBIOS\n{run}");
    let ours = run.firmware_lines();
    assert!(!ours.iter().any(|l| l.contains("fatal: ")), "the firmware stopped\n{run}");
    assert!(!ours.iter().any(|l| l.starts_with("hvmrs ERROR")), "errors logged\n{run}");
    assert_eq!(run.xen_fault(), None, "Xen stopped the guest for a fault\n{run}");
    run.assert_guest_printed("platform Xen 4.17");
    run.assert_guest_printed("host bridge 8086:1237 at 00:00.0: i440FX/PIIX");
    run.assert_guest_printed(&format!("{VCPUS} vCPU(s) up"));

    // libxl passes the SeaBIOS image as a module named "firmware".
    let modules = ours
        .iter()
        .find_map(|l| {
            l.split_once("start info at ")?.1.split(", ").find(|f| f.ends_with("module(s)"))
        })
        .and_then(|f| f.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("no start info line with a module count\n{run}"));
    assert!(modules >= 1, "libxl passed no firmware module\n{run}");

    // The RAM Xen gave the guest: the whole config size less Xen's special pages and the
    // legacy area below 1 MiB.
    let ram_bytes: u64 = ours
        .iter()
        .filter_map(|l| l.split_once("memory map: [")?.1.strip_suffix("] RAM"))
        .filter_map(|range| {
            let (start, end) = range.split_once('-')?;
            let parse = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok();
            Some(parse(end)? + 1 - parse(start)?)
        })
        .sum();
    let config_bytes = u64::from(MEMORY_MIB) << 20;
    assert!(
        (config_bytes - (16 << 20)..=config_bytes).contains(&ram_bytes),
        "the memory map holds {ram_bytes:#x} bytes of RAM for a {MEMORY_MIB} MiB guest\n{run}"
    );

    // The Xen platform device, with its MMIO BAR placed in the hole.
    assert!(
        ours.iter().any(|l| l.contains(" 5853:0001 BAR") && l.contains(" base 0x")),
        "the Xen platform device 5853:0001 was not placed\n{run}"
    );

    // Our hand-off, then SeaBIOS's banner, in that order.
    let guest = run.guest_lines();
    let handoff = guest
        .iter()
        .position(|l| l.contains("handoff: SeaBIOS: ") && l.contains("at [0xc0000-0xfffff]"))
        .unwrap_or_else(|| panic!("no SeaBIOS hand-off line\n{run}"));
    let banner = guest
        .iter()
        .position(|l| l.contains("SeaBIOS (version"))
        .unwrap_or_else(|| panic!("no SeaBIOS banner\n{run}"));
    assert!(handoff < banner, "SeaBIOS's banner came before our hand-off\n{run}");
}

/// A user pointing `firmware_override` at a broken file gets an error from `xl create`, and
/// no guest runs.
#[test]
fn a_truncated_image_makes_xl_create_fail() {
    let mut truncated = our_image();
    // Headers intact, most of the loadable segment gone.
    truncated.truncate(truncated.len() / 2);
    let Some(run) = run_under_xen(
        "a_truncated_image_makes_xl_create_fail",
        Scenario {
            name: "truncated",
            firmware_override: Some(truncated),
            memory_mib: 128,
            vcpus: 1,
            wait_for: "hvmrs ",
            guest_timeout: Duration::from_secs(20),
        },
    ) else {
        return;
    };
    assert_ne!(run.create_status(), 0, "xl create accepted a truncated image\n{run}");
    assert_eq!(run.wait_outcome(), "not created", "{run}");
    assert!(
        !run.console.lines().any(|l| l.starts_with("(d") && l.contains(") hvmrs ")),
        "the truncated firmware ran\n{run}"
    );
    eprintln!("a_truncated_image_makes_xl_create_fail: xl create said:\n{}", run.create_output());
}

/// Q35 needs the device-model half of the Xen Q35 series, which upstream QEMU (Debian's
/// qemu-system-xen) lacks: say so in the test output instead of silently testing less.
#[test]
fn q35_under_xen_is_not_available_here() {
    eprintln!(
        "SKIPPED q35_under_xen_is_not_available_here: Debian's Xen device model (upstream \
         QEMU 7.2) runs HVM guests only on the i440FX-based xenfv machine; Q35 under Xen \
         needs the unmerged device-model patches. Q35 is tested under QEMU (qemu_boot, \
         pci_layout, cpus, acpi_tables, linux_boot)."
    );
}
