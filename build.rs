//! Build steps of the firmware package:
//!
//! - link settings for the bare-metal firmware binary only (`rustc-link-arg-bins`): tests,
//!   build scripts and proc-macros of the workspace keep the host's normal linking;
//! - the DSDTs: every `asl/*.asl` compiled by ACPICA's iasl into `OUT_DIR`, where
//!   `firmware/src/acpi/dsdt.rs` includes them (`asl/*.asi` are parts they include);
//! - the release date SMBIOS reports (`HVMRS_RELEASE_DATE`, mm/dd/yyyy): `SOURCE_DATE_EPOCH`
//!   when set (reproducible builds), else the date of the commit being built, else the day
//!   of the build.

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
        // Identical functions (monomorphised copies that compile to the same bytes, such as
        // `RawVec::drop` for element types of one size) kept once: 400 bytes. Nothing in
        // the firmware compares function addresses.
        "-Wl,--icf=all",
        // Loaders copy segments by address and need no page alignment in the file (Xen's own
        // hvmloader has 32-byte alignment): this saves the 4 KiB gap before the code.
        "-Wl,-z,max-page-size=16",
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());

    compile_asl(&root.join("asl"));
    println!("cargo:rustc-env=HVMRS_RELEASE_DATE={}", release_date(&root));
}

/// The firmware's release date as SMBIOS type 0 wants it, mm/dd/yyyy (UTC).
fn release_date(root: &Path) -> String {
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(value) => value.trim().parse::<i64>().unwrap_or_else(|e| {
            fail(&format!("SOURCE_DATE_EPOCH={value:?} is not a number of seconds: {e}"))
        }),
        Err(_) => commit_time(root).unwrap_or_else(|| {
            println!(
                "cargo:warning=no SOURCE_DATE_EPOCH and no git commit: the SMBIOS release \
                 date is today's"
            );
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            now.map_or(0, |d| d.as_secs() as i64)
        }),
    };
    let (year, month, day) = civil_date(epoch.div_euclid(86_400));
    format!("{month:02}/{day:02}/{year:04}")
}

/// The committer time of HEAD, with the files that change when HEAD moves watched.
fn commit_time(root: &Path) -> Option<i64> {
    let git = |args: &[&str]| {
        let out = Command::new("git").arg("-C").arg(root).args(args).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let time = git(&["log", "-1", "--format=%ct", "HEAD"])?.parse().ok()?;
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])?];
    watched.push(git(&["rev-parse", "--git-path", "packed-refs"])?);
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(git(&["rev-parse", "--git-path", &branch])?);
    }
    for path in watched {
        let path = root.join(path);
        // A path that does not exist would make cargo rerun this script on every build.
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    Some(time)
}

/// Year, month and day of the day `days` after 1970-01-01 (proleptic Gregorian calendar).
fn civil_date(days: i64) -> (i64, u32, u32) {
    // Days since 0000-03-01, in 400-year eras of 146097 days: March-based years put the
    // leap day last.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
    let files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap_or_else(|e| fail(&format!("{}: {e}", asl_dir.display()))))
        .map(|entry| entry.path())
        .collect();
    // Every file, so that the parts the tables include (`*.asi`) rerun this step too.
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let mut sources: Vec<&PathBuf> =
        files.iter().filter(|path| path.extension() == Some(OsStr::new("asl"))).collect();
    sources.sort();
    for source in sources {
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
