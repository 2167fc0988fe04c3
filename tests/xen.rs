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

use common::xen::{GuestExtras, Scenario, TEST_MOUNT, XenRun, dom0_or_skip, run_with};
use common::{hex, image};

/// One Xen at a time: each is a 2-vCPU TCG QEMU running a nested hypervisor, and two of
/// them on a small CI machine slow each other down for no gain.
static ONE_XEN_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Xen's hvmloader and SeaBIOS reach "No bootable device" about 5 s after `xl create`; our
/// firmware takes 8-16 s more (every COM1 byte and config access is a round trip to the
/// device model in a nested dom0), and several times that on a loaded 2-core machine.
const GUEST_TIMEOUT: Duration = Duration::from_secs(240);

/// Boots Xen and runs `scenario`, or returns `None` when this machine cannot run Xen.
fn run_under_xen(test: &str, scenario: Scenario) -> Option<XenRun> {
    run_under_xen_with(test, scenario, GuestExtras::default())
}

/// [`run_under_xen`] with more files and xl.cfg lines for the guest.
fn run_under_xen_with(test: &str, scenario: Scenario, extras: GuestExtras) -> Option<XenRun> {
    let dom0 = dom0_or_skip(test)?;
    let _only_one = ONE_XEN_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let run = run_with(dom0, &scenario, &extras);
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

/// Our firmware ran to its hand-off: no fatal error, no error logged, no fault Xen caught,
/// and SeaBIOS's banner after our hand-off line.
fn assert_handed_off_to_seabios(run: &XenRun) {
    assert_eq!(run.create_status(), 0, "xl create refused our image\n{run}");
    let ours = run.firmware_lines();
    assert!(!ours.iter().any(|l| l.contains("fatal: ")), "the firmware stopped\n{run}");
    assert!(!ours.iter().any(|l| l.starts_with("hvmrs ERROR")), "errors logged\n{run}");
    assert_eq!(run.xen_fault(), None, "Xen stopped the guest for a fault\n{run}");
    let guest = run.guest_lines();
    let handoff = guest.iter().position(|l| l.contains("handoff: SeaBIOS: "));
    let banner = guest.iter().position(|l| l.contains("SeaBIOS (version"));
    assert!(
        matches!((handoff, banner), (Some(h), Some(b)) if h < b),
        "no hand-off to SeaBIOS followed by its banner\n{run}"
    );
}

/// `[start-end]` ranges (inclusive ends) of the firmware lines holding `marker`, as
/// half-open ranges.
fn ranges_after(lines: &[&str], marker: &str) -> Vec<(u64, u64)> {
    lines
        .iter()
        .filter_map(|l| l.split_once(marker)?.1.strip_prefix('['))
        .filter_map(|rest| {
            let (range, _) = rest.split_once(']')?;
            let (start, end) = range.split_once('-')?;
            Some((hex(start), hex(end) + 1))
        })
        .collect()
}

/// xl.cfg `mmio_hole=`: hvmloader's rule makes the MMIO hole the top `mmio_hole` MiB below
/// 4 GiB, and Xen puts the RAM that no longer fits below it above 4 GiB. The firmware must
/// take both from Xen: RAM above 4 GiB in its memory map, the PCI window where the hole
/// starts, every BAR inside the hole.
#[test]
fn mmio_hole_size_moves_ram_above_4_gib() {
    const MEMORY_MIB: u64 = 1024;
    const HOLE_MIB: u64 = 3584;
    let hole_start = (4096 - HOLE_MIB) << 20;
    let Some(run) = run_under_xen_with(
        "mmio_hole_size_moves_ram_above_4_gib",
        Scenario {
            name: "ours-mmio-hole",
            firmware_override: Some(our_image()),
            memory_mib: MEMORY_MIB as u32,
            vcpus: 1,
            wait_for: r"No bootable device|hvmrs .*fatal: ",
            guest_timeout: GUEST_TIMEOUT,
        },
        GuestExtras { config: vec![format!("mmio_hole = {HOLE_MIB}")], ..Default::default() },
    ) else {
        return;
    };
    assert_handed_off_to_seabios(&run);
    let ours = run.firmware_lines();
    run.assert_guest_printed(&format!("mmio_hole_size {:#x}", HOLE_MIB << 20));

    let ram: Vec<(u64, u64)> = ours
        .iter()
        .filter(|l| l.ends_with("] RAM"))
        .flat_map(|l| ranges_after(&[l], "memory map: "))
        .collect();
    let below: u64 = ram.iter().filter(|r| r.1 <= 1 << 32).map(|r| r.1 - r.0).sum();
    let above: u64 = ram.iter().filter(|r| r.0 >= 1 << 32).map(|r| r.1 - r.0).sum();
    assert!(
        ram.iter().all(|r| r.1 <= hole_start || r.0 >= 1 << 32),
        "RAM inside the {HOLE_MIB} MiB hole: {ram:x?}\n{run}"
    );
    assert!(above > 0, "no RAM above 4 GiB in the memory map: {ram:x?}\n{run}");
    let total = below + above;
    assert!(
        ((MEMORY_MIB - 16) << 20..=MEMORY_MIB << 20).contains(&total),
        "{total:#x} bytes of RAM for a {MEMORY_MIB} MiB guest: {ram:x?}\n{run}"
    );

    let window = ranges_after(&ours, "low window ");
    assert!(
        window.first().is_some_and(|w| w.0 >= hole_start),
        "the low PCI window {window:x?} does not start in the hole at {hole_start:#x}\n{run}"
    );
    let bars: Vec<u64> = ours
        .iter()
        .filter(|l| l.contains(" BAR") && l.contains(" mem"))
        .filter_map(|l| l.split_once(" base ")?.1.split_whitespace().next().map(hex))
        .collect();
    assert!(!bars.is_empty(), "no memory BAR placed\n{run}");
    assert!(
        bars.iter().all(|&b| (hole_start..1 << 32).contains(&b) || b >= 1 << 32),
        "a BAR outside the hole: {bars:x?}\n{run}"
    );
}

/// xl.cfg `acpi = 0` (xenstore platform/acpi = 0): no ACPI tables at all, the hand-off
/// still happens, and SeaBIOS gets no RSDP.
#[test]
fn acpi_off_builds_no_acpi_tables() {
    let Some(run) = run_under_xen_with(
        "acpi_off_builds_no_acpi_tables",
        Scenario {
            name: "ours-acpi-off",
            firmware_override: Some(our_image()),
            memory_mib: 128,
            vcpus: 1,
            wait_for: r"No bootable device|hvmrs .*fatal: ",
            guest_timeout: GUEST_TIMEOUT,
        },
        GuestExtras { config: vec!["acpi = 0".into()], ..Default::default() },
    ) else {
        return;
    };
    assert_handed_off_to_seabios(&run);
    run.assert_guest_printed("acpi false");
    run.assert_guest_printed("ACPI: off, as the platform asks");
    run.assert_guest_printed("ACPI: no tables, as the platform asks");
    let ours = run.firmware_lines();
    assert!(!ours.iter().any(|l| l.contains("ACPI: RSDP")), "ACPI tables were built\n{run}");
    assert!(ours.iter().any(|l| l.contains("SMBIOS 3.0: ")), "no SMBIOS tables\n{run}");
}

/// A deliberately bad input: `bios_path_override` pointing at 64 KiB of zeroes, which has
/// no reset vector. The firmware must say so in one line and end the domain as crashed
/// (SCHEDOP_shutdown), not jump into it.
#[test]
fn a_bios_without_reset_vector_crashes_the_domain_with_our_error() {
    let dir = common::scratch("xen-bad-bios-file");
    let bad_bios = dir.join("zeroes.bin");
    std::fs::write(&bad_bios, vec![0u8; 64 * 1024]).expect("write the bad BIOS");
    let Some(run) = run_under_xen_with(
        "a_bios_without_reset_vector_crashes_the_domain_with_our_error",
        Scenario {
            name: "ours-bad-bios",
            firmware_override: Some(our_image()),
            memory_mib: 128,
            vcpus: 1,
            // Nothing to match: the wait ends when the domain shuts down.
            wait_for: "^never printed$",
            guest_timeout: GUEST_TIMEOUT,
        },
        GuestExtras {
            files: vec![("zeroes.bin".into(), bad_bios)],
            config: vec![format!(r#"bios_path_override = "{TEST_MOUNT}/zeroes.bin""#)],
        },
    ) else {
        return;
    };
    assert_eq!(run.create_status(), 0, "xl create failed\n{run}");
    let ours = run.firmware_lines();
    let fatal: Vec<&&str> = ours.iter().filter(|l| l.contains("fatal: ")).collect();
    assert_eq!(fatal.len(), 1, "not exactly one fatal line: {fatal:?}\n{run}");
    assert!(fatal[0].contains("reset vector"), "the fatal line names another cause\n{run}");
    assert_eq!(run.shutdown_reason(), Some(3), "the domain did not end crashed\n{run}");
    assert_eq!(run.xen_fault(), None, "Xen caught a fault instead\n{run}");
    assert!(
        !run.guest_lines().iter().any(|l| l.contains("SeaBIOS (version")),
        "something ran the bad BIOS\n{run}"
    );
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
