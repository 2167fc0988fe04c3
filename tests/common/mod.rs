//! Shared helpers of the integration tests: where the images are, and booting one in QEMU.
#![allow(dead_code)] // each test binary uses its own subset

pub mod checks;
pub mod linux;
pub mod qmp;
pub mod terminal;
pub mod workloads;
pub mod xen;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// QEMU exit statuses for the firmware's success (0x10) and failure (0x11) codes.
pub const EXIT_SUCCESS: i32 = 33;
pub const EXIT_FAILURE: i32 = 35;

pub fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target")
}

/// Path of an image made by `cargo xtask build`; the tests do not build it themselves.
pub fn image(name: &str) -> PathBuf {
    let path = target_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run the tests through `cargo xtask test` (it builds the images first)",
        path.display()
    );
    path
}

/// A finished QEMU run.
pub struct Run {
    pub status: Option<i32>,
    /// Everything the guest wrote to COM1, with CRs removed.
    pub serial: String,
}

impl Run {
    /// The firmware's own log lines.
    pub fn log_lines(&self) -> Vec<&str> {
        self.serial.lines().filter(|l| l.starts_with("hvmrs ")).collect()
    }

    pub fn assert_log_contains(&self, needle: &str) {
        assert!(
            self.serial.contains(needle),
            "expected `{needle}` in the serial log:\n{}",
            self.serial
        );
    }

    pub fn assert_status(&self, expected: i32) {
        assert_eq!(
            self.status,
            Some(expected),
            "unexpected QEMU exit status; serial log:\n{}",
            self.serial
        );
    }
}

/// Boots `kernel` in QEMU (TCG) on `machine` ("pc" or "q35") with extra arguments and waits
/// for it to exit, at most `timeout`.
pub fn boot(kernel: &Path, machine: &str, extra: &[&str], timeout: Duration) -> Run {
    boot_until(kernel, machine, extra, timeout, |_| false)
}

/// Boots like [`boot`], but stops QEMU as soon as `done` says so (given the serial output so
/// far), for guests that never exit by themselves (a BIOS looping through its boot devices).
/// Returns the run with `status` `None` if `done` stopped it.
pub fn boot_until(
    kernel: &Path,
    machine: &str,
    extra: &[&str],
    timeout: Duration,
    done: impl Fn(&str) -> bool,
) -> Run {
    boot_with(kernel, machine, extra, timeout, OnReset::Exit, done)
}

/// What QEMU does when the guest resets the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnReset {
    /// Exit (`-no-reboot`): a reset ends the run like a power-off.
    Exit,
    /// Reset the machine and run on, as a real one does.
    Reboot,
}

/// [`boot_until`] with a choice of what a guest reset does.
pub fn boot_with(
    kernel: &Path,
    machine: &str,
    extra: &[&str],
    timeout: Duration,
    on_reset: OnReset,
    done: impl Fn(&str) -> bool,
) -> Run {
    let mut child: Child = Command::new("qemu-system-x86_64")
        .args(["-accel", "tcg", "-machine", machine, "-m", "512M"])
        .args(["-display", "none", "-serial", "stdio", "-monitor", "none"])
        .args(if on_reset == OnReset::Exit { &["-no-reboot"][..] } else { &[] })
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .arg("-kernel")
        .arg(kernel)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("qemu-system-x86_64 must be installed (.ci/run installs it)");
    let serial = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().expect("piped");
    let reader = {
        let serial = Arc::clone(&serial);
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut chunk) {
                serial.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        })
    };
    let text = || String::from_utf8_lossy(&serial.lock().unwrap()).replace('\r', "");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for QEMU") {
            break status.code();
        }
        if done(&text()) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("QEMU did not finish within {timeout:?}; serial log:\n{}", text());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = reader.join();
    Run { status, serial: text() }
}

/// Where skipped tests leave their reason, one file per test, for `cargo xtask test` to
/// count: libtest has no skip outcome, and a test that returns early would pass.
pub const SKIPS_DIR: &str = "test-skips";

/// Records that `test` could not run on this machine and why (`cargo xtask test` counts and
/// lists the skips), and says so on stderr.
pub fn record_skip(test: &str, reason: &str) {
    eprintln!("SKIPPED {test}: {reason}");
    let dir = target_dir().join(SKIPS_DIR);
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join(format!("{test}.txt")), reason));
    written.unwrap_or_else(|e| panic!("record the skip of {test} in {}: {e}", dir.display()));
}

/// A scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = target_dir().join("test-scratch").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A hex number as the firmware and Linux log them, with or without `0x`.
pub fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16)
        .unwrap_or_else(|e| panic!("not a hex number: {s:?}: {e}"))
}
