//! Firmware ACPI Control Structure (ACPI 6.5 section 5.2.10, Table 5.14).
//!
//! The FACS has no checksum and no OEM fields; it must sit on a 64-byte
//! boundary, which the [`crate::Installer`] enforces.

use super::Table;
use crate::bytes::ByteWriter;
use crate::{Error, OemIds, Signature};

/// FACS `Flags` (ACPI 6.5 Table 5.15).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FacsFlags(pub u32);

impl FacsFlags {
    /// `S4BIOS_F`: the platform supports S4BIOS_REQ.
    pub const S4BIOS: Self = Self(1 << 0);
    /// `64BIT_WAKE_SUPPORTED_F`: the platform can wake into a 64-bit environment.
    pub const WAKE_64BIT_SUPPORTED: Self = Self(1 << 1);
}

/// A version 2 FACS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facs {
    /// `Hardware Signature`: changes when the hardware configuration changes
    /// across a sleep cycle.
    pub hardware_signature: u32,
    /// `Flags`.
    pub flags: FacsFlags,
}

impl Facs {
    /// Length of the structure (`Length` field value).
    pub const LENGTH: usize = 64;
    /// Required alignment of the structure in physical memory.
    pub const ALIGNMENT: u64 = 64;

    /// A FACS with no S4BIOS or 64-bit wake support.
    pub const fn new(hardware_signature: u32) -> Self {
        Self { hardware_signature, flags: FacsFlags(0) }
    }
}

impl Table for Facs {
    fn signature(&self) -> Signature {
        Signature::FACS
    }

    fn length(&self) -> usize {
        Self::LENGTH
    }

    fn write(&self, _ids: &OemIds, out: &mut [u8]) -> Result<usize, Error> {
        let mut w = ByteWriter::new(out);
        w.bytes(&Signature::FACS.0);
        w.u32(Self::LENGTH as u32);
        w.u32(self.hardware_signature);
        w.u32(0); // Firmware Waking Vector, set by OSPM's S3 support code.
        w.u32(0); // Global Lock.
        w.u32(self.flags.0);
        w.u64(0); // X_Firmware_Waking_Vector.
        w.u8(2); // Version.
        w.zeros(3); // Reserved.
        w.u32(0); // OSPM Flags, owned by OSPM.
        w.zeros(24); // Reserved.
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let mut buf = [0xaau8; 64];
        let facs = Facs { hardware_signature: 0x1234, flags: FacsFlags::S4BIOS };
        assert_eq!(facs.write(&OemIds::xen(), &mut buf), Ok(64));
        assert_eq!(&buf[0..4], b"FACS");
        assert_eq!(buf[4..8], 64u32.to_le_bytes());
        assert_eq!(buf[8..12], 0x1234u32.to_le_bytes());
        assert_eq!(buf[20..24], 1u32.to_le_bytes());
        assert_eq!(buf[32], 2);
        assert!(buf[33..].iter().all(|&b| b == 0));
    }
}
