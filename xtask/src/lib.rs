//! The library half of xtask: the parts the workspace's integration tests reuse (the ACPI
//! golden test drives the same extraction as `cargo xtask acpi-dump`; tests and benchmark
//! boot the same device mixes; the real-Xen tests use the device model of
//! `cargo xtask xen-dm`).

pub mod acpi_dump;
pub mod host;
pub mod mixes;
pub mod qmp;
pub mod xen_dm;

/// Errors are messages for a human at a terminal.
pub type Result<T> = std::result::Result<T, String>;
