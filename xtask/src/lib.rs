//! The library half of xtask: what the commands and the workspace's integration tests share
//! (the ACPI golden test drives the same extraction as `cargo xtask acpi-dump`; tests and
//! benchmark boot the same device mixes; `cargo xtask run`, `cargo xtask xen-run` and the
//! Linux tests boot the same guest; the real-Xen tests and `xen-run` use the same Xen
//! harness and the device model of `cargo xtask xen-dm`).

pub mod acpi_dump;
pub mod guest;
pub mod host;
pub mod mixes;
pub mod qmp;
pub mod xen;
pub mod xen_dm;

use std::path::{Path, PathBuf};

/// Errors are messages for a human at a terminal.
pub type Result<T> = std::result::Result<T, String>;

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

/// Writes `bytes` to stdout as they are, waiting out `EAGAIN`: QEMU's stdio chardev makes
/// the terminal non-blocking, and stdout is often the same open file as the terminal QEMU
/// reads. A closed stdout ends the writing: nobody is left to show anything to.
pub fn write_to_terminal(bytes: &[u8]) {
    use std::io::{ErrorKind, Write};
    let mut stdout = std::io::stdout().lock();
    let mut rest = bytes;
    while !rest.is_empty() {
        match stdout.write(rest) {
            Ok(0) => return,
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
    while let Err(e) = stdout.flush() {
        if e.kind() != ErrorKind::WouldBlock {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// 64-bit FNV-1a: a stable hash for cache keys (std's hasher may change between releases).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
