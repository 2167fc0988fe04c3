//! ACPI: the table set describing the platform the firmware programmed.

pub mod dsdt;
pub mod ssdt;
