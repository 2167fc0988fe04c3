//! Shared helpers of the integration tests: where the images are, and booting one in QEMU.
#![allow(dead_code)] // each test binary uses its own subset

pub mod linux;
pub mod qmp;
pub mod xen;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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
    let mut child = Command::new("qemu-system-x86_64")
        .args(["-accel", "tcg", "-machine", machine, "-m", "512M"])
        .args(["-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .arg("-kernel")
        .arg(kernel)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qemu-system-x86_64 must be installed (.ci/run installs it)");
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for QEMU") {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            let out = reader.join().unwrap_or_default();
            panic!(
                "QEMU did not exit within {timeout:?}; serial log:\n{}",
                String::from_utf8_lossy(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let out = reader.join().unwrap_or_default();
    let serial = String::from_utf8_lossy(&out).replace('\r', "");
    if !stderr.trim().is_empty() {
        eprintln!("QEMU stderr: {stderr}");
    }
    Run { status: status.code(), serial }
}

/// A scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = target_dir().join("test-scratch").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}
