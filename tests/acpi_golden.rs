//! Regression guard for the ACPI tables: the firmware's tables for a few fixed machines,
//! extracted from guest memory the way `cargo xtask acpi-dump` does it, must equal the
//! golden dumps in tests/golden/<config>/ (masked disassembly and decoded key fields).
//!
//! After an intended change: `cargo xtask acpi-dump --bless` (or
//! `BLESS=1 cargo test --test acpi_golden`), then review `git diff tests/golden`.

mod common;

use std::path::Path;

use xtask::acpi_dump::golden;

fn check(name: &str) {
    let config = golden::config(name);
    let image = common::image("hvmloader-qemu");
    let scratch = common::scratch(&format!("acpi-golden-{name}"));
    let golden_root = golden::directory(Path::new(env!("CARGO_MANIFEST_DIR")));
    if std::env::var_os("BLESS").is_some_and(|v| v == "1") {
        golden::bless(config, &image, &scratch, &golden_root).unwrap_or_else(|e| panic!("{e}"));
        eprintln!("blessed tests/golden/{name}");
        return;
    }
    if let Err(report) = golden::check(config, &image, &scratch, &golden_root) {
        panic!("{report}");
    }
}

#[test]
fn i440_smp1() {
    check("i440-smp1");
}

#[test]
fn i440_smp4() {
    check("i440-smp4");
}

#[test]
fn q35_smp1_rootport() {
    check("q35-smp1-rootport");
}

/// A golden directory without a configuration would never be checked again.
#[test]
fn every_golden_directory_has_a_configuration() {
    let root = golden::directory(Path::new(env!("CARGO_MANIFEST_DIR")));
    for entry in std::fs::read_dir(&root).expect("tests/golden exists") {
        let path = entry.expect("readable").path();
        if path.is_dir() {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                golden::CONFIGS.iter().any(|c| c.name == name),
                "{} has no entry in xtask::acpi_dump::golden::CONFIGS",
                path.display()
            );
        }
    }
}
