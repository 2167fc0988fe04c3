//! The library half of xtask: what the commands and the workspace's integration tests share
//! (the ACPI golden test drives the same extraction as `cargo xtask acpi-dump`; tests and
//! benchmark boot the same device mixes; the Linux tests boot the guest of `guest`; the
//! real-Xen tests run the harness of `xen` and the device model of `cargo xtask xen-dm`).

pub mod acpi_dump;
pub mod guest;
pub mod host;
pub mod mixes;
pub mod qmp;
pub mod xen;
pub mod xen_dm;

/// Errors are messages for a human at a terminal.
pub type Result<T> = std::result::Result<T, String>;

/// 64-bit FNV-1a: a stable hash for cache keys (std's hasher may change between releases).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
