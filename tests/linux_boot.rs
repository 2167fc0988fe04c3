//! The firmware hands off to payloads QEMU passes as fw_cfg files: a Linux kernel booted
//! directly through the x86 boot protocol, or SeaBIOS started the way Xen's hvmloader
//! starts it. Bad payloads end with one line naming the cause.

mod common;

use std::time::{Duration, Instant};

use common::linux::{REPORT_BEGIN, guest, report};
use common::{EXIT_FAILURE, boot, boot_until, image};

/// One Linux boot takes about 3-5 s under TCG; the margin is for loaded CI machines.
const LINUX_TIMEOUT: Duration = Duration::from_secs(60);
const SEABIOS: &str = "/usr/share/seabios/bios-256k.bin";

fn fw_cfg_file(name: &str, path: &std::path::Path) -> String {
    format!("name=opt/hvmloader/{name},file={}", path.display())
}

fn boot_linux(machine: &str) {
    let guest = guest();
    let kernel = fw_cfg_file("kernel", &guest.kernel);
    let initrd = fw_cfg_file("initrd", &guest.initrd);
    let started = Instant::now();
    let run = boot(
        &image("hvmloader-qemu"),
        machine,
        &[
            "-smp",
            "2",
            "-fw_cfg",
            &kernel,
            "-fw_cfg",
            &initrd,
            "-fw_cfg",
            "name=opt/hvmloader/cmdline,string=console=ttyS0 panic=-1",
        ],
        LINUX_TIMEOUT,
    );
    eprintln!(
        "{machine}: {} booted and powered off in {:?}",
        guest.kernel_package,
        started.elapsed()
    );

    // Our firmware, then Linux, then the report: in that order on one serial line.
    let serial = &run.serial;
    let handoff = serial.find("handoff: Linux: zero page at ").expect("hand-off logged");
    let linux = serial.find("Linux version ").unwrap_or_else(|| panic!("no Linux:\n{serial}"));
    let report_at = serial.find(REPORT_BEGIN).unwrap_or_else(|| panic!("no report:\n{serial}"));
    assert!(handoff < linux && linux < report_at, "out of order:\n{serial}");
    assert!(!serial.contains("ERROR"), "{serial}");
    // poweroff -f through ACPI makes QEMU exit by itself, with status 0.
    assert_eq!(run.status, Some(0), "QEMU did not exit after poweroff:\n{serial}");

    let report = report(serial).unwrap_or_else(|| panic!("report incomplete:\n{serial}"));
    assert!(report.contains("cpus: 2"), "{report}");
    let mem_kib: u64 = report
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no MemTotal:\n{report}"));
    assert!((400 << 10..512 << 10).contains(&mem_kib), "MemTotal {mem_kib} kB");
    for table in ["FACP", "DSDT", "APIC"] {
        assert!(report.contains(table), "ACPI table {table} missing:\n{report}");
    }
    assert!(report.contains("pci: 0000:00:00.0 0x8086:"), "{report}");
    // It booted with our command line and initrd (the report comes from the initrd's /init).
    assert!(serial.contains("Command line: console=ttyS0 panic=-1"), "{serial}");
    assert!(serial.contains("handoff: Linux: initrd "), "{serial}");

    // The heap is sized at twice what a boot uses (firmware/src/rt/heap.rs), and the Linux
    // hand-off uses the most: the firmware's own high-water mark says whether it still fits.
    let kib_after = |prefix: &str| -> u32 {
        let at = serial.find(prefix).unwrap_or_else(|| panic!("no `{prefix}`:\n{serial}"));
        let digits = serial[at + prefix.len()..].split(' ').next().unwrap_or_default();
        digits.parse().unwrap_or_else(|e| panic!("`{prefix}{digits}`: {e}"))
    };
    let (heap, used) = (kib_after(", heap "), kib_after("heap: at most "));
    assert!(2 * used <= heap, "the heap ({heap} KiB) is less than twice its use ({used} KiB)");
}

#[test]
fn linux_boots_directly_on_pc() {
    boot_linux("pc");
}

#[test]
fn linux_boots_directly_on_q35() {
    boot_linux("q35");
}

#[test]
fn a_kernel_that_is_not_a_bzimage_is_refused() {
    // 4 KiB of zeroes: no boot flag at 0x1fe. (Not our own image: what lies at 0x1fe of it
    // moves whenever its layout does.)
    let kernel = common::scratch("not-a-bzimage").join("kernel");
    std::fs::write(&kernel, [0u8; 4096]).unwrap();
    let run = boot(
        &image("hvmloader-qemu"),
        "pc",
        &["-fw_cfg", &fw_cfg_file("kernel", &kernel)],
        Duration::from_secs(30),
    );
    run.assert_status(EXIT_FAILURE);
    run.assert_log_contains(
        "fatal: hand-off: opt/hvmloader/kernel: not a bzImage: boot flag 0x0000 at 0x1fe",
    );
}

/// SeaBIOS prints on QEMU's debug console (port 0x402), here a file next to the serial log.
fn boot_seabios(machine: &str) {
    let dir = common::scratch(&format!("seabios-{machine}"));
    let debugcon = dir.join("seabios.log");
    let chardev = format!("file,id=seabios,path={}", debugcon.display());
    let firmware = fw_cfg_file("firmware", std::path::Path::new(SEABIOS));
    // SeaBIOS runs once before us (QEMU's own BIOS) and once after our hand-off; QEMU's
    // -kernel boot entry then jumps into this firmware again, without loading it again: it
    // stops at once with the failure code, which ends the run.
    let seabios_log = || std::fs::read_to_string(&debugcon).unwrap_or_default();
    // Each POST prints its banner ("SeaBIOS (version ...)", twice: again once the VGA
    // console is up) and its build line once; the second build line starts our SeaBIOS.
    let second_boot_attempt = |log: &str| {
        log.match_indices("\nBUILD: ").nth(1).is_some_and(|(at, _)| {
            let ours = &log[at..];
            ours.contains("SeaBIOS (version")
                && (ours.contains("Booting from") || ours.contains("No bootable device"))
        })
    };
    let started = Instant::now();
    let run = boot_until(
        &image("hvmloader-qemu"),
        machine,
        &[
            "-chardev",
            &chardev,
            "-device",
            "isa-debugcon,iobase=0x402,chardev=seabios",
            "-fw_cfg",
            &firmware,
        ],
        Duration::from_secs(60),
        |_serial| false,
    );
    eprintln!("{machine}: the run ended after {:?}", started.elapsed());
    run.assert_log_contains(
        "handoff: SeaBIOS: opt/hvmloader/firmware (256 KiB) at [0xc0000-0xfffff]",
    );
    run.assert_log_contains("real mode, jumping to F000:FFF0");
    run.assert_status(EXIT_FAILURE);
    run.assert_log_contains(
        "fatal: the packed image does not unpack: it was started again without being loaded again",
    );
    let log = seabios_log();
    assert!(second_boot_attempt(&log), "SeaBIOS did not restart after the hand-off:\n{log}");
}

#[test]
fn seabios_starts_from_the_handoff_on_pc() {
    boot_seabios("pc");
}

#[test]
fn seabios_starts_from_the_handoff_on_q35() {
    boot_seabios("q35");
}
