//! Under a real Xen: Xen 4.17 and a Debian dom0 run inside QEMU (TCG, nested SVM), and each
//! test creates one HVM guest with `xl` and reads what Xen printed on its console, where
//! whatever the guest's firmware writes to port 0xE9 appears as `(dN) ...` lines.
//!
//! The first run builds the dom0 image (a few minutes, cached under target/xen-cache); each
//! test then boots Xen once (about 30 s). A machine that cannot run Xen prints why and skips
//! (`HVMRS_REQUIRE_XEN=1` makes that a failure).
//!
//! Only i440FX is tested here: Debian's device model (upstream QEMU 7.2) runs HVM guests on
//! the i440FX-based `xenfv` machine only. Q35 guests run on the project's own device model,
//! in tests/xen_q35.rs.

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
    // The APs were started as hvmloader starts them (VCPUOP_initialise/up/down), and Xen's
    // APIC IDs are twice the vCPU numbers.
    run.assert_guest_printed("APs started by the hypervisor");
    run.assert_guest_printed("CPU 1: APIC ID 2,");

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

/// An ACPI table: the 36-byte header with `signature`, then `body`, checksummed.
fn acpi_table(signature: &[u8; 4], oem_table_id: &[u8; 8], body: &[u8]) -> Vec<u8> {
    let mut table = Vec::new();
    table.extend_from_slice(signature);
    table.extend_from_slice(&(36 + body.len() as u32).to_le_bytes());
    table.push(2); // revision
    table.push(0); // checksum, set below
    table.extend_from_slice(b"HVMRS ");
    table.extend_from_slice(oem_table_id);
    table.extend_from_slice(&1u32.to_le_bytes());
    table.extend_from_slice(b"TEST");
    table.extend_from_slice(&1u32.to_le_bytes());
    table.extend_from_slice(body);
    let sum = table.iter().fold(0u8, |sum, b| sum.wrapping_add(*b));
    table[9] = sum.wrapping_neg();
    table
}

/// A structure of an `smbios_firmware=` file: its length (u32, little-endian), then the
/// structure (formatted area and string set).
fn smbios_blob_entry(structure: &[u8]) -> Vec<u8> {
    let mut entry = (structure.len() as u32).to_le_bytes().to_vec();
    entry.extend_from_slice(structure);
    entry
}

/// The user's own tables, as xl.cfg passes them (`acpi_firmware=`, `smbios_firmware=`, libxl
/// loads them next to the firmware and names them in `hvmloader/{acpi,smbios}/*`), and the
/// laptop/slate SSDT: our firmware adds them as hvmloader does.
#[test]
fn passed_through_acpi_and_smbios_tables_are_added() {
    let dir = common::scratch("xen-passthrough-files");
    // An SSDT declaring \PTST = 0x1234 (NameOp, name, WordPrefix, value) and a table of a
    // signature nobody builds.
    let ssdt = acpi_table(b"SSDT", b"PASSTHRU", &[0x08, b'P', b'T', b'S', b'T', 0x0B, 0x34, 0x12]);
    let xtst = acpi_table(b"XTST", b"PASSTHRU", &[1, 2, 3, 4]);
    let acpi_blob = [ssdt, xtst].concat();
    // A system-information structure (type 1, SMBIOS 2.4 length) whose manufacturer is
    // "PassCo", and a vendor structure (type 0x85) with handle 0x8000.
    let mut system = vec![1, 0x1B, 0, 0, 1, 0, 0, 0];
    system.extend_from_slice(&[0x11; 16]); // UUID
    system.extend_from_slice(&[6, 0, 0]); // wake-up type, SKU, family
    system.extend_from_slice(b"PassCo\0\0");
    let vendor = [0x85, 6, 0x00, 0x80, 0xAB, 0xCD, 0, 0];
    let smbios_blob = [smbios_blob_entry(&system), smbios_blob_entry(&vendor)].concat();
    let acpi_file = dir.join("pt-acpi.bin");
    let smbios_file = dir.join("pt-smbios.bin");
    std::fs::write(&acpi_file, &acpi_blob).expect("write the ACPI blob");
    std::fs::write(&smbios_file, &smbios_blob).expect("write the SMBIOS blob");

    let Some(run) = run_under_xen_with(
        "passed_through_acpi_and_smbios_tables_are_added",
        Scenario {
            name: "ours-passthrough",
            firmware_override: Some(our_image()),
            memory_mib: 128,
            vcpus: 1,
            wait_for: r"No bootable device|hvmrs .*fatal: ",
            guest_timeout: GUEST_TIMEOUT,
        },
        GuestExtras {
            files: vec![("pt-acpi.bin".into(), acpi_file), ("pt-smbios.bin".into(), smbios_file)],
            config: vec![
                format!(r#"acpi_firmware = "{TEST_MOUNT}/pt-acpi.bin""#),
                format!(r#"smbios_firmware = "{TEST_MOUNT}/pt-smbios.bin""#),
                "acpi_laptop_slate = 1".into(),
            ],
        },
    ) else {
        return;
    };
    assert_handed_off_to_seabios(&run);
    run.assert_guest_printed(&format!(
        "ACPI: 2 table(s) passed through from hvmloader/acpi ({} bytes at 0x",
        acpi_blob.len()
    ));
    run.assert_guest_printed("ACPI: XTST at 0x");
    run.assert_guest_printed("ACPI: laptop/slate device \\_SB.CONV");
    run.assert_guest_printed(&format!(
        "SMBIOS: 2 structure(s) passed through from hvmloader/smbios ({} bytes at 0x",
        smbios_blob.len()
    ));
    run.assert_guest_printed("(type 1, 35 bytes): replaces the firmware's");
    run.assert_guest_printed("(type 133, 8 bytes): added with its handle");
    // libxl 4.17 also lists the ACPI file in the memory map, at address 0 (it writes the
    // map before the file has an address): dropped, and said so.
    run.assert_guest_printed("entry [0x0-0x53] below 1 MiB ignored");
    // Xen 4.17 has no vTPM here: the TIS probe finds nothing and no TPM table is built.
    run.assert_guest_printed("TPM: no TPM 1.2 (TIS) answers at 0xfed40000");
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

/// A user pointing `firmware_override` at a truncated file gets one line naming the cause,
/// and none of the firmware runs. libxc checks only that the ELF headers lie in the file and
/// loads what the file holds of each segment, so with the headers intact `xl create` takes
/// the image; the boot code then finds the packed payload damaged and says so on Xen's
/// console, and the vCPU halts there (as hvmloader's own crash does). A refusal by
/// `xl create` would do as well.
#[test]
fn a_truncated_image_is_refused_or_stops_in_its_boot_code() {
    let mut truncated = our_image();
    // Headers and boot code intact, most of the packed payload gone.
    truncated.truncate(truncated.len() / 2);
    let Some(run) = run_under_xen(
        "a_truncated_image_is_refused_or_stops_in_its_boot_code",
        Scenario {
            name: "truncated",
            firmware_override: Some(truncated),
            memory_mib: 128,
            vcpus: 1,
            wait_for: "does not unpack",
            guest_timeout: Duration::from_secs(20),
        },
    ) else {
        return;
    };
    let refused = run.create_status() != 0;
    let reported =
        run.guest_lines().iter().any(|l| l.contains("fatal: the packed image does not unpack: "));
    assert!(refused || reported, "a truncated image neither refused nor reported\n{run}");
    assert!(
        !run.console.lines().any(|l| l.starts_with("(d") && l.contains(") hvmrs ")),
        "the truncated firmware's payload ran\n{run}"
    );
    eprintln!(
        "a_truncated_image_is_refused_or_stops_in_its_boot_code: refused by xl create: \
         {refused}, reported by the boot code: {reported}"
    );
}

// ---------------------------------------------------------------------------------------
// OVMF (`bios = "ovmf"`).
//
// Two things shape these tests:
// - Debian bookworm's OVMF.fd (edk2 2022.11) is the QEMU build (OvmfPkgX64): edk2 took the
//   Xen support out of it in 2021 (commit d06eb2d1d9, "OvmfPkg/PlatformPei: remove Xen
//   support") in favour of OvmfXen.dsc, which Debian does not ship. It is a RELEASE build
//   as well: it prints nothing (no debug port output, serial only once BDS runs), so what
//   shows that it runs is the vCPU's state, which a probe in dom0 samples with xenctx.
// - OVMF's X64 interrupt handlers restore CR8. In this nested setup QEMU 7.2's TCG then
//   calls cpu_interrupt() without its global lock when Xen has a virtual interrupt pending
//   (target/i386 helper_write_crN, case 8) and aborts ("tcg_handle_interrupt: assertion
//   failed: (qemu_mutex_iothread_locked())") once OVMF's DXE phase takes timer
//   interrupts: 2 to 5 s after the hand-off in the runs measured, with Xen's own hvmloader
//   alike. So no OVMF boot can finish here; the probe samples the first moments and then
//   pauses the guest, before OVMF enables interrupts.

/// The probe: waits (in dom0, without stopping the guest) until the guest's console shows
/// `sample_from` (a `grep -E` pattern for a line shortly before the loader's jump, after
/// its last timed wait), then samples the guest's vCPU 0 with xenctx, the guest paused for
/// each sample and let run for a moment in between, until a sample shows long mode at or
/// above 8 MiB (OVMF's code: its flash at the top of 4 GiB, its firmware volumes and PEI
/// memory above 8 MiB; the loaders live below 8 MiB), and leaves the guest paused. Guest run
/// time, not wall time, brings OVMF to its interrupts, so the samples stay ahead of them.
fn ovmf_probe(sample_from: &str) -> String {
    format!(
        r#"domid=$(xl domid "$1")
polls=0
until xl dmesg | grep -Eq '{sample_from}'; do
    polls=$((polls + 1))
    state=$(xl list "$domid" 2>/dev/null | awk 'NR == 2 {{ print $5 }}')
    case "$polls $state" in
        *" "|*s*|*c*|1000*)
            echo "probe: the guest never printed '{sample_from}' (state '$state')"
            exit 0 ;;
    esac
    sleep 0.1
done
sample=0
while [ "$sample" -lt 50 ]; do
    sample=$((sample + 1))
    xl pause "$domid"
    out=$(/usr/lib/xen-4.17/bin/xenctx -a "$domid" 0 2>&1 | head -n 24)
    echo "probe sample $sample at $(cut -d' ' -f1 /proc/uptime) s"
    printf '%s\n' "$out"
    rip=$(printf '%s\n' "$out" | sed -n 's/^rip: \([0-9a-f]*\).*/\1/p')
    if [ -n "$rip" ] && [ $((0x$rip >= 0x800000)) = 1 ]; then
        echo "probe: long mode at 0x$rip; guest left paused"
        exit 0
    fi
    xl unpause "$domid"
    sleep 0.1
done
xl pause "$domid"
echo "probe: no sample in long mode above 8 MiB; guest left paused"
"#
    )
}

/// One xenctx sample of vCPU 0: long mode (`rip:`) or not (`cs:eip:`), and the instruction
/// pointer (outside long mode the offset in CS).
#[derive(Debug)]
struct VcpuSample {
    long_mode: bool,
    ip: u64,
}

fn vcpu_samples(run: &XenRun) -> Vec<VcpuSample> {
    let probe = run.section("probe").unwrap_or_else(|| panic!("no probe section\n{run}"));
    probe
        .split("probe sample ")
        .skip(1)
        .filter_map(|sample| {
            sample.lines().find_map(|l| {
                let hex_word = |s: &str| s.split_whitespace().next().map(hex);
                if let Some(rest) = l.strip_prefix("rip: ") {
                    return Some(VcpuSample { long_mode: true, ip: hex_word(rest)? });
                }
                let (_cs, eip) = l.strip_prefix("cs:eip: ")?.split_once(':')?;
                Some(VcpuSample { long_mode: false, ip: hex_word(eip)? })
            })
        })
        .collect()
}

/// A guest with `bios = "ovmf"` (Debian's OVMF.fd as the "firmware" module) and the probe,
/// which starts once `wait_for` matched and samples from `sample_from` on.
fn run_ovmf_guest(
    test: &str,
    name: &'static str,
    ours: bool,
    wait_for: &'static str,
    sample_from: &str,
) -> Option<XenRun> {
    let dir = common::scratch(&format!("xen-{name}-probe"));
    let probe = dir.join(common::xen::PROBE_SCRIPT);
    std::fs::write(&probe, ovmf_probe(sample_from)).expect("write the probe");
    run_under_xen_with(
        test,
        Scenario {
            name,
            firmware_override: ours.then(our_image),
            memory_mib: 256,
            vcpus: 1,
            wait_for,
            guest_timeout: GUEST_TIMEOUT,
        },
        GuestExtras {
            files: vec![(common::xen::PROBE_SCRIPT.into(), probe)],
            config: vec![r#"bios = "ovmf""#.into()],
        },
    )
}

/// The vCPU ran OVMF's code after the hand-off: some sample is in long mode (which only
/// OVMF's reset code enters once the loader left for real mode) at or above 8 MiB, far from
/// the loader's image at 1 MiB. Returns that sample's instruction pointer.
fn assert_ovmf_runs(run: &XenRun, loader_image: std::ops::Range<u64>) -> u64 {
    const OVMF_CODE_FLOOR: u64 = 8 << 20;
    assert!(loader_image.end <= OVMF_CODE_FLOOR, "the loader reaches {:#x}", loader_image.end);
    let samples = vcpu_samples(run);
    let ovmf = samples.iter().find(|s| s.long_mode && s.ip >= OVMF_CODE_FLOOR);
    let Some(ovmf) = ovmf else {
        panic!("no sample shows OVMF running in long mode: {samples:x?}\n{run}")
    };
    assert!(run.shutdown_reason().is_none(), "the guest shut down\n{run}");
    assert_eq!(run.xen_fault(), None, "Xen stopped the guest for a fault\n{run}");
    eprintln!("OVMF runs in long mode at {:#x} ({} samples)", ovmf.ip, samples.len());
    ovmf.ip
}

/// The harness's control for OVMF: Xen's own hvmloader loads Debian's OVMF (populating the
/// flash, "Over-allocation" once libxl's 1 MiB of slack is used, then moving RAM there),
/// and the vCPU runs OVMF's code. A diagnostic for when the test below fails: is it the
/// setup or us.
#[test]
#[ignore = "a diagnostic control (Xen's own hvmloader with OVMF); run with --ignored"]
fn xen_starts_ovmf_with_its_own_hvmloader() {
    let test = "xen_starts_ovmf_with_its_own_hvmloader";
    // Sampled from "Loading OVMF": hvmloader then only copies, builds tables and jumps.
    let Some(run) =
        run_ovmf_guest(test, "stock-ovmf", false, "System requested OVMF", "Loading OVMF")
    else {
        return;
    };
    assert_eq!(run.create_status(), 0, "xl create failed\n{run}");
    assert_eq!(run.wait_outcome(), "matched", "hvmloader never asked for OVMF\n{run}");
    run.assert_guest_printed("ffe00000-ffffffff: Main BIOS");
    run.assert_guest_printed("Invoking OVMF");
    assert_ovmf_runs(&run, 0x10_0000..0x20_0000);
}

/// OVMF through our firmware: the "firmware" module goes to 0xFFE00000-0xFFFFFFFF, whose
/// pages it populates (and moves RAM behind once Xen refuses more), the info table, the
/// entry-point copies and CMOS are written, control passes in real mode at F000:FFF0, and
/// the vCPU then runs OVMF's code in long mode.
#[test]
fn xen_boots_through_our_firmware_into_ovmf() {
    let test = "xen_boots_through_our_firmware_into_ovmf";
    let Some(run) = run_ovmf_guest(
        test,
        "ours-ovmf",
        true,
        r"xenstore: bios Ovmf|hvmrs .*fatal: ",
        // Sampled from the line before the image is copied: no timed wait follows.
        r"handoff: OVMF: flash .* backed by RAM",
    ) else {
        return;
    };
    assert_eq!(run.create_status(), 0, "xl create refused our image\n{run}");
    assert_eq!(run.wait_outcome(), "matched", "the firmware never handed off\n{run}");
    let ours = run.firmware_lines();
    assert!(!ours.iter().any(|l| l.contains("fatal: ")), "the firmware stopped\n{run}");
    assert!(!ours.iter().any(|l| l.starts_with("hvmrs ERROR")), "errors logged\n{run}");
    run.assert_guest_printed("xenstore: bios Ovmf");

    // libxl's 2 MiB OVMF.fd ends at 4 GiB; its 512 pages are populated or moved there.
    let backed = ours
        .iter()
        .find_map(|l| l.split_once("handoff: OVMF: flash [0xffe00000-0xffffffff] backed by RAM: "))
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("no flash backing line\n{run}"));
    let counts: Vec<u64> = backed
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), 512, "not 512 pages behind the flash: {backed}\n{run}");
    run.assert_guest_printed(
        "(2048 KiB) at [0xffe00000-0xffffffff], its last 64 KiB at [0xf0000-0xfffff]",
    );
    let handoff = ours
        .iter()
        .find(|l| l.contains("handoff: OVMF: info table at [0x1000-"))
        .unwrap_or_else(|| panic!("no OVMF hand-off line\n{run}"));
    assert!(handoff.contains("entry points at [ea020, eb000]"), "{handoff}\n{run}");
    assert!(handoff.ends_with("real mode, jumping to F000:FFF0"), "{handoff}\n{run}");
    let low_ram_end = handoff
        .split_once("low RAM to ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .map(hex)
        .unwrap_or_else(|| panic!("no CMOS low RAM end in the hand-off line\n{run}"));

    let image = ours
        .iter()
        .find_map(|l| l.split_once("image [")?.1.split_once(']'))
        .and_then(|(range, _)| range.split_once('-'))
        .map(|(start, end)| hex(start)..hex(end) + 1)
        .unwrap_or_else(|| panic!("no image range in the banner\n{run}"));
    let ip = assert_ovmf_runs(&run, image);
    // OVMF runs from its flash (SEC) or from memory it takes top-down below the low RAM end
    // it read from CMOS, which is ours: never in the tables or the moved RAM above it.
    assert!(
        (8 << 20..low_ram_end).contains(&ip) || ip >= 0xFFE0_0000,
        "OVMF runs at {ip:#x}, neither in its flash nor below {low_ram_end:#x}\n{run}"
    );
}
