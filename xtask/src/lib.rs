//! The library half of xtask: the parts the workspace's integration tests reuse (the ACPI
//! golden test drives the same extraction as `cargo xtask acpi-dump`; tests and benchmark
//! boot the same device mixes).

pub mod acpi_dump;
pub mod mixes;
pub mod qmp;

/// Errors are messages for a human at a terminal.
pub type Result<T> = std::result::Result<T, String>;
