//! SMBIOS tables (in progress).
