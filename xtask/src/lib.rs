//! The library half of xtask: the parts the workspace's integration tests reuse (the ACPI
//! golden test drives the same extraction as `cargo xtask acpi-dump`).

pub mod acpi_dump;

/// Errors are messages for a human at a terminal.
pub type Result<T> = std::result::Result<T, String>;
