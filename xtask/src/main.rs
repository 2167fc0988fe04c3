//! Build steps cargo cannot do by itself, and the commands around the firmware.
//!
//! - `cargo xtask build`: links the firmware once and derives both images from that link:
//!   `target/hvmloader` (Xen: ELF32, no notes, stripped) and `target/hvmloader-qemu`
//!   (ELF32 with the PVH entry note, for `qemu-system-x86_64 -kernel`).
//! - `cargo xtask run ...`: builds and boots the QEMU image under TCG with the serial console
//!   on the terminal; by default it hands off to the project's Linux guest, which gives a
//!   shell (see `qemu.rs`).
//! - `cargo xtask xen-run ...`: the same guest in an HVM guest of a real Xen, under QEMU,
//!   with the firmware in place of hvmloader (see `xen_run.rs` and `xtask::xen`).
//! - `cargo xtask test`: builds, then runs every test of the workspace (host unit tests and
//!   the QEMU integration tests under tests/).
//! - `cargo xtask acpi-dump ...`: the installed ACPI tables, disassembled and compared with
//!   a reference (see `acpi_dump.rs`).
//! - `cargo xtask bench ...`: the performance figures (see `bench.rs`).
//! - `cargo xtask xen-dm`: builds (once per machine) the Q35-capable Xen device model of
//!   tools/xen-dm and prints, last, the path of its `device_model_override` wrapper.

mod bench;
mod elf;
mod pack;
mod qemu;
mod xen_run;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("build") => build(&args[1..]).map(|_| ExitCode::SUCCESS),
        Some("run") => run(&args[1..]),
        Some("xen-run") => xen_run::XenRunOptions::parse(&args[1..])
            .map_err(|e| format!("{e}\n{USAGE}"))
            .and_then(|options| xen_run::main(&options, &root(), || build(&[]).map(|i| i.xen))),
        Some("test") => test(&args[1..]),
        Some("bench") => bench::main(&args[1..], &root(), || build(&[])),
        Some("xen-dm") => xen_dm(&args[1..]),
        Some("acpi-dump") => {
            xtask::acpi_dump::main(&args[1..], &root(), || build(&[]).map(|images| images.qemu))
        }
        _ => Err(USAGE.to_string()),
    };
    match outcome {
        Ok(code) => code,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: cargo xtask <command>
  build                      build target/hvmloader (Xen) and target/hvmloader-qemu (QEMU)
  run [--machine i440|q35] [--smp N] [--mem SIZE] [--cmdline FIRMWARE_OPTIONS]
      [--kernel FILE] [--initrd FILE] [--append KERNEL_ARGS] [--firmware-only | --bios seabios]
      [-- QEMU ARGS]
                             build, then boot the firmware in QEMU (TCG) and, through it, a
                             Linux guest to a shell on the terminal (Debian's cloud kernel and
                             a busybox initramfs, fetched once); --firmware-only: the firmware
                             alone; --bios seabios: hand off to SeaBIOS as under Xen, which
                             boots the guest from a CD. Ctrl-A X quits QEMU
  xen-run [--machine i440|q35] [--vcpus N] [--memory MIB] [--firmware PATH|xen]
          [--kernel FILE] [--initrd FILE] [--append KERNEL_ARGS] [--cmdline FIRMWARE_OPTIONS]
          [--xenstore KEY=VALUE]... [-- XL.CFG LINES]
                             the same guest in an HVM guest of Xen 4.17 (nested, in QEMU
                             TCG), the firmware as its firmware_override (--firmware xen:
                             Xen's own hvmloader), its serial console and Xen's (dN) lines
                             on the terminal; the dom0 image is built once (debootstrap)
  test [-- CARGO TEST ARGS]  cargo fmt --check, clippy -D warnings, build, then every test
  acpi-dump [--machine i440|q35] [--smp N] [--mem SIZE] [--out DIR]
            [--reference qemu|FILE_OR_DIR] [--diff] [--bless] [-- QEMU ARGS]
                             dump the installed ACPI tables, compare with a reference
  bench [--runs N] [--only size,acpi,devices,linux]
                             size, ACPI bytes, firmware time, device accesses, Linux boot
                             ratio; a table on stdout, JSON in target/bench/
  xen-dm [--missing-packages]
                             build the Q35-capable Xen device model of tools/xen-dm (cached
                             per machine); the last line is its xl.cfg wrapper's path. With
                             --missing-packages: the Debian packages the build lacks";

/// The workspace root (xtask lives one level below it).
fn root() -> PathBuf {
    xtask::workspace_root()
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// The firmware is built for the host target named explicitly: with `--target`, cargo
/// gives the flags below to the firmware and its dependencies only, not to build scripts
/// and proc-macros (which `.cargo/config.toml` rustflags would hit).
const FIRMWARE_TARGET: &str = "x86_64-unknown-linux-gnu";
/// Code generation for a firmware at a fixed address, measured on target/hvmloader (before
/// it was packed; each still makes the packed image smaller, by 0.5-7 KB, as measured on
/// 2026-12-07):
/// - `relocation-model=static`: direct calls and absolute addresses instead of the GOT the
///   host's default PIE model goes through (3.2 KB);
/// - not LLVM's machine outliner, which saved 4.4 KB unpacked: the packed image is 1.9 KB
///   smaller without it (DEFLATE finds the same repeats), and it would outline sequences
///   of the boot code into functions in the packed payload;
/// - an inlining threshold of 10 instead of the 5 LLVM uses at `-Oz`: 6.6 KB (3.5 KB of it
///   rodata). 10 to 40 all save 2-7 KB and 10 was the smallest at each of two
///   measurements far apart; 75 and more make the image larger. The sizes move by a KB or
///   two with any change of the code;
/// - no jump tables (nor lookup tables) for `match`: with the static model each case costs an
///   8-byte address in rodata, and compare chains are 1.3 KB smaller in all;
/// - four LLVM optimization passes off, ones it skips at `-O0` too: loop strength
///   reduction, machine LICM, machine CSE and block placement. Without them the image is
///   6.5 KB smaller (1-2.5 KB each), as much with the inlining threshold at 10, 15 or 25;
///   packed, 0.3-1.3 KB each. `opt-level = "s"` and thresholds 25 and 50 pack 1.8-7.6 KB
///   larger.
const FIRMWARE_RUSTFLAGS: [&str; 14] = [
    "-C",
    "relocation-model=static",
    "-C",
    "llvm-args=-inline-threshold=10",
    "-C",
    "jump-tables=no",
    "-C",
    "llvm-args=-disable-lsr",
    "-C",
    "llvm-args=-disable-machine-licm",
    "-C",
    "llvm-args=-disable-machine-cse",
    "-C",
    "llvm-args=-disable-block-placement",
];

/// The linked firmware ELF (64-bit, with symbols) under `target`.
pub fn linked_elf(target: &Path) -> PathBuf {
    target.join(FIRMWARE_TARGET).join("release/hvmloader")
}

fn check_status(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{cmd:?} failed with {status}")) }
}

/// Paths of the two images.
pub struct Images {
    pub xen: PathBuf,
    pub qemu: PathBuf,
}

fn build(args: &[String]) -> Result<Images> {
    if let Some(extra) = args.first() {
        return Err(format!("build takes no arguments (got `{extra}`)\n{USAGE}"));
    }
    // The build script compiles the DSDTs with iasl; the images are cut with objcopy.
    xtask::host::require(&["iasl", "objcopy"])?;
    check_status(
        cargo()
            .args(["build", "--release", "--bin", "hvmloader", "--target", FIRMWARE_TARGET])
            .env("CARGO_ENCODED_RUSTFLAGS", FIRMWARE_RUSTFLAGS.join("\x1f")),
    )?;
    let target = root().join("target");
    let linked = linked_elf(&target);
    let images = Images { xen: target.join("hvmloader"), qemu: target.join("hvmloader-qemu") };
    // Each image is made under a name of this process and renamed into place, so commands
    // and tests running at once (each `cargo xtask run` builds first) never see one half
    // written.
    let partial = |image: &Path| image.with_extension(format!("partial.{}", std::process::id()));
    let (xen, qemu) = (partial(&images.xen), partial(&images.qemu));

    let made = cut_images(&linked, &xen, &qemu).and_then(|()| {
        for (made, image) in [(&xen, &images.xen), (&qemu, &images.qemu)] {
            std::fs::rename(made, image)
                .map_err(|e| format!("rename to {}: {e}", image.display()))?;
        }
        Ok(())
    });
    if made.is_err() {
        let _ = std::fs::remove_file(&xen);
        let _ = std::fs::remove_file(&qemu);
    }
    made?;
    for image in [&images.xen, &images.qemu] {
        let len = std::fs::metadata(image).map_err(|e| format!("{}: {e}", image.display()))?.len();
        println!("built {} ({len} bytes)", image.display());
    }
    Ok(images)
}

/// Cuts the two images out of the `linked` firmware.
fn cut_images(linked: &Path, xen: &Path, qemu: &Path) -> Result<()> {
    // QEMU's PVH loader needs the note; an ELF32 container like Xen's.
    check_status(
        Command::new("objcopy").args(["-O", "elf32-i386", "--strip-all"]).arg(linked).arg(qemu),
    )?;
    // Xen: no Xen notes at all, or libxl would take the PVH path and not load the firmware
    // modules. objcopy drops the section but leaves an empty PT_NOTE header behind, which
    // `elf::drop_empty_notes` turns into PT_NULL.
    check_status(
        Command::new("objcopy")
            .args(["-O", "elf32-i386", "--strip-all", "--remove-section", ".note.Xen"])
            .arg(linked)
            .arg(xen),
    )?;
    elf::drop_empty_notes(xen)?;
    for (image, name) in [(xen, "hvmloader"), (qemu, "hvmloader-qemu")] {
        let packed = pack::pack_file(image)?;
        println!(
            "packed {name}'s payload: {} -> {} bytes, room past its end: {}",
            packed.payload,
            packed.stream,
            match packed.room {
                1 => "1 byte".to_string(),
                n => format!("{n} bytes"),
            }
        );
    }
    elf::check_xen_image(xen)
}

fn run(args: &[String]) -> Result<ExitCode> {
    let (options, extra) = qemu::RunOptions::parse(args).map_err(|e| format!("{e}\n{USAGE}"))?;
    xtask::host::require(&["qemu-system-x86_64"])?;
    let images = build(&[])?;
    let target = root().join("target");
    let payload = options.payload_args(&target.join("linux-cache"))?;
    let mut cmd = options.command(&images.qemu);
    cmd.args(payload).args(extra);
    eprintln!("xtask: {cmd:?}");
    if options.stops_at_seabios_boot() {
        return qemu::run_until_seabios_boots_again(&mut cmd);
    }
    let status = cmd.status().map_err(|e| format!("cannot start QEMU: {e}"))?;
    Ok(qemu::report_exit(status))
}

fn xen_dm(args: &[String]) -> Result<ExitCode> {
    match args.first().map(String::as_str) {
        None => {}
        Some("--missing-packages") if args.len() == 1 => {
            println!("{}", xtask::xen_dm::missing_packages().join(" "));
            return Ok(ExitCode::SUCCESS);
        }
        Some(extra) => return Err(format!("xen-dm: unexpected `{extra}`\n{USAGE}")),
    }
    let entry = xtask::xen_dm::build_or_reuse(&root(), &|line| eprintln!("{line}"))?;
    println!("{}", entry.join(xtask::xen_dm::WRAPPER).display());
    Ok(ExitCode::SUCCESS)
}

fn test(args: &[String]) -> Result<ExitCode> {
    let extra = match args.split_first() {
        None => &[][..],
        Some((sep, rest)) if sep == "--" => rest,
        Some((other, _)) => return Err(format!("unexpected `{other}`\n{USAGE}")),
    };
    // What a reviewer checks first: formatting, then clippy with warnings as errors (the
    // workspace's [lints] table adds undocumented unsafe blocks).
    check_status(cargo().args(["fmt", "--all", "--check"]))
        .map_err(|e| format!("{e} (run `cargo fmt --all`)"))?;
    check_status(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    build(&[])?;
    let skips = root().join("target").join("test-skips");
    let _ = std::fs::remove_dir_all(&skips);
    let mut child = cargo()
        .args(["test", "--workspace"])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo test: {e}"))?;
    // Pass the output through, adding up every test binary's result line, so the run ends
    // with one total instead of the last binary's (often a doc-test run with nothing in it).
    let mut totals = TestTotals::default();
    let stdout = child.stdout.take().expect("piped");
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let line = line.map_err(|e| format!("reading cargo test's output: {e}"))?;
        println!("{line}");
        totals.add(&line);
    }
    let status = child.wait().map_err(|e| format!("waiting for cargo test: {e}"))?;
    // Tests that could not run on this machine returned early, which libtest counts as a
    // pass; each left its reason in target/test-skips/ (HVMRS_REQUIRE_XEN=1 makes them fail).
    let skipped = skipped_tests(&skips);
    for (test, reason) in &skipped {
        println!("skipped: {test}: {reason}");
    }
    println!(
        "tests: {} passed, {} failed, {} ignored, {} skipped (could not run here)",
        totals.passed - skipped.len() as u64,
        totals.failed,
        totals.ignored,
        skipped.len()
    );
    if status.success() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(format!("cargo test failed: {status}"))
    }
}

/// The skips recorded in `dir` (one `<test>.txt` per test, its reason inside), by name.
fn skipped_tests(dir: &Path) -> Vec<(String, String)> {
    let mut skipped: Vec<(String, String)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let test = path.file_stem()?.to_string_lossy().into_owned();
            Some((test, std::fs::read_to_string(&path).unwrap_or_default()))
        })
        .collect();
    skipped.sort();
    skipped
}

/// Sums of libtest's `test result: ok. N passed; N failed; N ignored; ...` lines.
#[derive(Debug, Default, PartialEq, Eq)]
struct TestTotals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl TestTotals {
    fn add(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else { return };
        for part in rest.split(['.', ';']) {
            let mut words = part.split_whitespace();
            let (Some(count), Some(what)) = (words.next(), words.next()) else { continue };
            let Ok(count) = count.parse::<u64>() else { continue };
            match what {
                "passed" => self.passed += count,
                "failed" => self.failed += count,
                "ignored" => self.ignored += count,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TestTotals;

    #[test]
    fn totals_add_up_result_lines() {
        let mut t = TestTotals::default();
        t.add("test result: ok. 198 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 6.87s");
        t.add("test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out");
        t.add("running 5 tests");
        assert_eq!(t, TestTotals { passed: 201, failed: 2, ignored: 2 });
    }
}
