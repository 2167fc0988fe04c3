//! The QEMU image boots on both machine types, reports what it found and ends with the
//! right exit code; bad input ends with the failure code and one line naming the cause.

mod common;

use std::time::Duration;

use common::{EXIT_FAILURE, EXIT_SUCCESS, boot, image};

const TIMEOUT: Duration = Duration::from_secs(60);

fn boot_qemu_image(machine: &str, extra: &[&str]) -> common::Run {
    boot(&image("hvmloader-qemu"), machine, extra, TIMEOUT)
}

fn assert_clean_boot(run: &common::Run, host_bridge: &str, chipset: &str) {
    run.assert_status(EXIT_SUCCESS);
    let lines = run.log_lines();
    assert!(lines[0].starts_with("hvmrs INFO  boot: hvmloader-rs "), "banner first: {lines:?}");
    run.assert_log_contains("platform QEMU");
    run.assert_log_contains("start info at ");
    run.assert_log_contains("memory map: [0x100000-");
    run.assert_log_contains(&format!("host bridge {host_bridge} at 00:00.0: {chipset}"));
    assert!(lines.last().unwrap().contains("boot: done: "), "summary last: {lines:?}");
    assert!(!run.serial.contains("ERROR"), "{}", run.serial);
}

#[test]
fn boots_on_pc() {
    let run = boot_qemu_image("pc", &["-append", "loglevel=debug"]);
    assert_clean_boot(&run, "8086:1237", "i440FX/PIIX");
    run.assert_log_contains("boot: options: Options { log_level: Some(Debug)");
}

#[test]
fn boots_on_q35() {
    let run = boot_qemu_image("q35", &[]);
    assert_clean_boot(&run, "8086:29c0", "Q35/ICH9");
}

#[test]
fn reports_modules_and_command_line() {
    let dir = common::scratch("modules");
    let initrd = dir.join("initrd.bin");
    std::fs::write(&initrd, vec![0x5Au8; 12345]).unwrap();
    let run = boot_qemu_image("pc", &["-initrd", initrd.to_str().unwrap(), "-append", "selfcheck"]);
    run.assert_status(EXIT_SUCCESS);
    run.assert_log_contains("1 module(s)");
    // QEMU places the module itself; its size is ours.
    let module =
        run.log_lines().into_iter().find(|l| l.contains("module 0: [")).unwrap().to_string();
    let range = module.split('[').nth(1).unwrap().split(']').next().unwrap();
    let (start, last) = range.split_once('-').unwrap();
    let parse = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
    assert_eq!(parse(last) - parse(start) + 1, 12345, "{module}");
    run.assert_log_contains("command line: \"selfcheck\"");
}

#[test]
fn unknown_option_is_fatal() {
    let run = boot_qemu_image("pc", &["-append", "loglevel=debug bogus=1"]);
    run.assert_status(EXIT_FAILURE);
    run.assert_log_contains(
        "ERROR boot: fatal: command line: unknown command-line option `bogus=1`",
    );
}

/// (file offset, physical address, file bytes) of each PT_LOAD of an ELF32 image.
fn loads(elf: &[u8]) -> Vec<(u32, u32, u32)> {
    let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap());
    let (phoff, phnum) = (u32_at(28) as usize, u16::from_le_bytes([elf[44], elf[45]]) as usize);
    (0..phnum)
        .map(|i| phoff + i * 32)
        .filter(|&o| u32_at(o) == 1)
        .map(|o| (u32_at(o + 4), u32_at(o + 12), u32_at(o + 16)))
        .collect()
}

/// Patches the entry's `cli; cld` into `inc %ebx; nop`: the firmware then finds the start
/// info one byte off, as if the loader passed a bad pointer, and must say so.
#[test]
fn corrupted_start_info_pointer_is_fatal() {
    let mut elf = std::fs::read(image("hvmloader-qemu")).unwrap();
    let entry = u32::from_le_bytes(elf[24..28].try_into().unwrap());
    let (offset, paddr, _) = loads(&elf)[0];
    let at = (offset + entry - paddr) as usize;
    assert_eq!(&elf[at..at + 2], &[0xFA, 0xFC], "entry starts with cli; cld");
    elf[at..at + 2].copy_from_slice(&[0x43, 0x90]);
    let patched = common::scratch("bad-start-info").join("hvmloader-qemu");
    std::fs::write(&patched, elf).unwrap();

    let run = boot(&patched, "pc", &[], TIMEOUT);
    run.assert_status(EXIT_FAILURE);
    run.assert_log_contains("ERROR boot: fatal: start info: bad magic ");
}

/// A damaged packed payload stops the boot code, before any of the payload runs, with one
/// line naming the fault and the failure code.
#[test]
fn damaged_packed_payload_is_fatal() {
    let mut elf = std::fs::read(image("hvmloader-qemu")).unwrap();
    // The packed stream: the PT_LOAD with the most file bytes.
    let (offset, _, _) = loads(&elf).into_iter().max_by_key(|&(_, _, filesz)| filesz).unwrap();
    let at = offset as usize;
    // Its first block made final and of the reserved type 3.
    elf[at] |= 0b111;
    let patched = common::scratch("damaged-payload").join("hvmloader-qemu");
    std::fs::write(&patched, elf).unwrap();

    let run = boot(&patched, "pc", &[], TIMEOUT);
    run.assert_status(EXIT_FAILURE);
    assert!(
        run.serial.contains("fatal: the packed image does not unpack: a block of reserved type\n"),
        "{}",
        run.serial
    );
    assert!(!run.serial.contains("hvmrs "), "the payload ran:\n{}", run.serial);
}

/// The linked firmware, cut to ELF32 without packing (as one would for a debugger, symbols
/// kept), boots as it is: its pack header says "not packed" and the boot code leaves the
/// payload alone.
#[test]
fn the_linked_image_runs_unpacked() {
    let linked = image("x86_64-unknown-linux-gnu/release/hvmloader");
    let unpacked = common::scratch("unpacked").join("hvmloader-unpacked");
    let status = std::process::Command::new("objcopy")
        .args(["-O", "elf32-i386"])
        .arg(&linked)
        .arg(&unpacked)
        .status()
        .expect("run objcopy (binutils)");
    assert!(status.success());
    let run = boot(&unpacked, "q35", &[], TIMEOUT);
    run.assert_status(EXIT_SUCCESS);
    run.assert_log_contains("chipset Q35/ICH9");
    assert!(!run.serial.contains("payload unpacked"), "{}", run.serial);
}

/// Every fatal path (CPU exceptions on their own stack, a stack overflow into the guard
/// page, a panic) prints one line naming the cause and exits with the failure code.
#[test]
fn faults_are_reported_not_triple_faults() {
    for (fault, expected) in [
        ("page-fault", "fatal: CPU exception #PF page fault (vector 14) error code 0x0 at rip"),
        ("invalid-opcode", "fatal: CPU exception #UD invalid opcode (vector 6)"),
        ("stack-overflow", "fatal: CPU exception #PF page fault (vector 14) error code 0x2"),
        ("panic", "fatal: firmware panic: panicked at"),
    ] {
        let run = boot_qemu_image("pc", &["-append", &format!("fault={fault}")]);
        run.assert_status(EXIT_FAILURE);
        run.assert_log_contains(expected);
    }
}
