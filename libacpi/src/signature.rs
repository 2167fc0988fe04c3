//! Four-character table signatures (ACPI 6.5 section 5.2.6, Table 5.5).

use core::fmt;

/// A four-byte table signature such as `FACP` or `SSDT`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 4]);

impl Signature {
    /// Root System Description Table.
    pub const RSDT: Self = Self(*b"RSDT");
    /// Extended System Description Table.
    pub const XSDT: Self = Self(*b"XSDT");
    /// Fixed ACPI Description Table.
    pub const FADT: Self = Self(*b"FACP");
    /// Firmware ACPI Control Structure.
    pub const FACS: Self = Self(*b"FACS");
    /// Differentiated System Description Table.
    pub const DSDT: Self = Self(*b"DSDT");
    /// Secondary System Description Table.
    pub const SSDT: Self = Self(*b"SSDT");
    /// Multiple APIC Description Table.
    pub const MADT: Self = Self(*b"APIC");
    /// IA-PC High Precision Event Timer table.
    pub const HPET: Self = Self(*b"HPET");
    /// PCI Express memory-mapped configuration space table.
    pub const MCFG: Self = Self(*b"MCFG");
    /// Windows ACPI Emulated Devices Table.
    pub const WAET: Self = Self(*b"WAET");
    /// System Resource Affinity Table.
    pub const SRAT: Self = Self(*b"SRAT");
    /// System Locality Information Table.
    pub const SLIT: Self = Self(*b"SLIT");
    /// Trusted Computing Platform Alliance table (TPM 1.2 event log).
    pub const TCPA: Self = Self(*b"TCPA");
    /// TPM 2.0 table.
    pub const TPM2: Self = Self(*b"TPM2");
    /// The first four bytes of the RSDP signature `"RSD PTR "`; used in
    /// installer reports and errors.
    pub const RSDP: Self = Self(*b"RSD ");

    /// Whether several tables with this signature may be installed.
    ///
    /// ACPI 6.5 section 5.2.11.2 allows any number of SSDTs; every other
    /// table this crate knows describes a single platform-wide object.
    pub const fn may_repeat(self) -> bool {
        matches!(self.0, [b'S', b'S', b'D', b'T'])
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.0 {
            let c = if b.is_ascii_graphic() || b == b' ' { b as char } else { '?' };
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(\"{self}\")")
    }
}
