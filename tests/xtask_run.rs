//! `cargo xtask run` as a user types it (issue 20): by default it boots a Linux guest
//! through the firmware to a shell on the terminal; `--bios seabios` hands off to SeaBIOS
//! as under Xen; `--firmware-only` is the firmware alone; a machine without QEMU gets one
//! line naming the package to install. Each test drives the command over its stdin and
//! stdout: a command to the guest's shell, its answer read back, then the power-off.

mod common;

use std::process::Command;
use std::time::Duration;

use common::terminal::Session;
use xtask::guest::PROMPT;

/// Building (nothing, normally: `cargo xtask test` built everything), fetching the guest
/// (cached) and booting Linux under TCG: seconds; the margin is for a loaded machine and a
/// first fetch.
const TO_THE_SHELL: Duration = Duration::from_secs(300);
const ANSWER: Duration = Duration::from_secs(30);

/// The shell answers a command, and `poweroff -f` ends QEMU with status 0.
fn shell_answers_and_powers_off(session: &mut Session) {
    session.send("echo hvmrs-$((6*7))");
    let answer = session.wait_for("hvmrs-42", ANSWER);
    // The echo of the typed command holds `$((6*7))`, not its value: the shell computed it.
    assert!(answer.contains("echo hvmrs-$((6*7))"), "{answer}");
    session.send("poweroff -f");
    let status = session.wait_exit(Duration::from_secs(60));
    assert!(status.success(), "{status}\n{}", session.stderr());
    assert!(
        session.stderr().contains("xtask: QEMU exited: the guest powered off"),
        "{}",
        session.stderr()
    );
}

#[test]
fn run_boots_linux_through_the_firmware_to_a_shell() {
    let mut session = Session::xtask(&["run"]);
    let boot = session.wait_for(PROMPT, TO_THE_SHELL);
    eprintln!("cargo xtask run: the guest's shell after {:?}", session.elapsed());
    // Our firmware's hand-off, then the banner of the guest's /init.
    let handoff = boot.find("hvmrs INFO  handoff: Linux: zero page at ").expect(&boot);
    assert!(boot[handoff..].contains("is up, booted through the firmware."), "{boot}");
    shell_answers_and_powers_off(&mut session);
}

#[test]
fn run_on_q35_with_two_vcpus_and_a_firmware_option() {
    let mut session =
        Session::xtask(&["run", "--machine", "q35", "--smp", "2", "--cmdline", "loglevel=debug"]);
    let boot = session.wait_for(PROMPT, TO_THE_SHELL);
    for needle in ["host bridge 8086:29c0", "2 CPU(s) as expected", "hvmrs DEBUG"] {
        assert!(boot.contains(needle), "`{needle}` missing:\n{boot}");
    }
    session.send("grep -c ^processor /proc/cpuinfo");
    session.wait_for("\n2\n", ANSWER);
    shell_answers_and_powers_off(&mut session);
}

#[test]
fn run_bios_seabios_hands_off_to_seabios_and_stops_when_it_boots_the_firmware_again() {
    let mut session = Session::xtask(&["run", "--bios", "seabios"]);
    let status = session.wait_exit(Duration::from_secs(120));
    let out = session.stdout();
    assert!(status.success(), "{status}\n{out}\n{}", session.stderr());
    let handoff = out.find("real mode, jumping to F000:FFF0").expect(&out);
    // SeaBIOS (ours) started after the hand-off and booted its first entry.
    assert!(out[handoff..].contains("SeaBIOS (version"), "{out}");
    assert!(out[handoff..].contains("Booting from ROM..."), "{out}");
    assert!(
        session.stderr().contains("SeaBIOS took over from the firmware"),
        "{}",
        session.stderr()
    );
}

#[test]
fn run_firmware_only_ends_with_the_firmware_success_code() {
    let mut session = Session::xtask(&["run", "--firmware-only"]);
    let status = session.wait_exit(Duration::from_secs(120));
    assert!(status.success(), "{status}\n{}", session.stderr());
    assert!(session.stdout().contains("nothing to hand off to"), "{}", session.stdout());
    assert!(session.stderr().contains("xtask: firmware finished (success code)"));
}

/// Without qemu-system-x86_64 on PATH, one line says which Debian package to install.
#[test]
fn run_without_qemu_names_the_package_to_install() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--quiet", "--package", "xtask"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo build");
    assert!(built.success());
    let xtask = common::target_dir().join("debug/xtask");
    let out = Command::new(&xtask)
        .arg("run")
        .env("PATH", common::scratch("no-qemu-on-path"))
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", xtask.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(
        stderr,
        "xtask: qemu-system-x86_64 not found: install the Debian package qemu-system-x86 \
         (`sudo apt-get install qemu-system-x86`), or run `bash .ci/run`, which installs \
         everything the project needs\n"
    );
}
