//! Build steps of the firmware package:
//!
//! - link settings for the bare-metal firmware binary only (`rustc-link-arg-bins`): tests,
//!   build scripts and proc-macros of the workspace keep the host's normal linking;
//! - the DSDTs: every `asl/*.asl` compiled by ACPICA's iasl into `OUT_DIR`, where
//!   `firmware/src/acpi/dsdt.rs` includes them.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let script = root.join("linker.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    for arg in [
        "-nostartfiles",
        "-nostdlib",
        "-static",
        "-Wl,--no-dynamic-linker",
        "-Wl,--build-id=none",
        "-Wl,-z,norelro",
        "-Wl,--gc-sections",
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());

    compile_asl(&root.join("asl"));
}

/// ACPI source language: compiles every `.asl` file of `asl_dir` with `iasl -we` into
/// `OUT_DIR/<name>.aml`. Any error, warning or remark fails the build with iasl's own
/// report: the tables go to every guest OS, and what iasl flags, some OS trips over.
fn compile_asl(asl_dir: &Path) {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    // The directory itself, so that added or removed files rerun this step too.
    println!("cargo:rerun-if-changed={}", asl_dir.display());
    let entries = std::fs::read_dir(asl_dir)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", asl_dir.display())));
    let mut sources: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap_or_else(|e| fail(&format!("{}: {e}", asl_dir.display()))))
        .map(|entry| entry.path())
        .filter(|path| path.extension() == Some(OsStr::new("asl")))
        .collect();
    sources.sort();
    for source in &sources {
        println!("cargo:rerun-if-changed={}", source.display());
        let stem = source.file_stem().expect("a file name ending in .asl");
        let prefix = out_dir.join(stem);
        let output =
            match Command::new("iasl").arg("-we").arg("-p").arg(&prefix).arg(source).output() {
                Ok(output) => output,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => fail(
                    "iasl not found: building the DSDTs (asl/*.asl) needs ACPICA's ASL compiler; \
                 install it (Debian/Ubuntu: apt-get install acpica-tools)",
                ),
                Err(e) => fail(&format!("cannot run iasl: {e}")),
            };
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        // -we turns warnings into errors; remarks only show in the summary line
        // ("Compilation successful. 0 Errors, 0 Warnings, 0 Remarks, ...").
        if !output.status.success() || !report.contains(" 0 Warnings, 0 Remarks") {
            fail(&format!("iasl rejected {}:\n{report}", source.display()));
        }
    }
}

/// Stops the build script with `message` (cargo shows a failed build script's stderr).
fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1)
}
