//! Root System Description Pointer (ACPI 6.5 section 5.2.5.3, Table 5.3).

use crate::{Error, checksum, header::pad_identifier};

/// The revision 2 RSDP, which points at both the RSDT and the XSDT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rsdp {
    /// `OEMID` (6 bytes, space padded).
    pub oem_id: [u8; 6],
    /// `RsdtAddress`: 32-bit physical address of the RSDT, 0 if there is none.
    pub rsdt_address: u32,
    /// `XsdtAddress`: 64-bit physical address of the XSDT.
    pub xsdt_address: u64,
}

impl Rsdp {
    /// Length of the revision 2 structure (`Length` field value).
    pub const LENGTH: usize = 36;
    /// Bytes covered by the ACPI 1.0 `Checksum` field.
    pub const V1_LENGTH: usize = 20;
    /// Offset of the ACPI 1.0 checksum.
    const CHECKSUM_OFFSET: usize = 8;
    /// Offset of the extended checksum over the whole structure.
    const EXTENDED_CHECKSUM_OFFSET: usize = 32;

    /// An RSDP with the given OEM ID (validated, at most 6 printable bytes).
    pub fn new(oem_id: &str, rsdt_address: u32, xsdt_address: u64) -> Result<Self, Error> {
        Ok(Self { oem_id: pad_identifier(oem_id)?, rsdt_address, xsdt_address })
    }

    /// The encoded structure with both checksums set.
    pub fn to_bytes(&self) -> [u8; Self::LENGTH] {
        let mut b = [0u8; Self::LENGTH];
        b[0..8].copy_from_slice(b"RSD PTR ");
        b[9..15].copy_from_slice(&self.oem_id);
        b[15] = 2; // Revision: 2 for ACPI 2.0 and later.
        b[16..20].copy_from_slice(&self.rsdt_address.to_le_bytes());
        b[20..24].copy_from_slice(&(Self::LENGTH as u32).to_le_bytes());
        b[24..32].copy_from_slice(&self.xsdt_address.to_le_bytes());
        // The first checksum covers bytes 0..20 only; the extended checksum
        // covers the whole structure, including the first checksum.
        checksum::fix(&mut b[..Self::V1_LENGTH], Self::CHECKSUM_OFFSET);
        checksum::fix(&mut b, Self::EXTENDED_CHECKSUM_OFFSET);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_checksums_hold() {
        let b = Rsdp::new("Xen", 0xfc00_1000, 0xfc00_2000).unwrap().to_bytes();
        assert_eq!(checksum::sum(&b[..20]), 0);
        assert_eq!(checksum::sum(&b), 0);
        assert_eq!(&b[0..8], b"RSD PTR ");
        assert_eq!(&b[9..15], b"Xen   ");
        assert_eq!(b[15], 2);
        assert_eq!(b[20..24], 36u32.to_le_bytes());
        assert_eq!(b[24..32], 0xfc00_2000u64.to_le_bytes());
    }
}
