//! The Generic Address Structure (ACPI 6.5 section 5.2.3.2, Table 5.1).

/// `Address Space ID` values of a Generic Address Structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum AddressSpaceId {
    /// System memory.
    SystemMemory = 0,
    /// System I/O ports.
    SystemIo = 1,
    /// PCI configuration space.
    PciConfig = 2,
}

/// `Access Size` values of a Generic Address Structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum AccessSize {
    /// Undefined (legacy reasons).
    Undefined = 0,
    /// Byte access.
    Byte = 1,
    /// Word (16-bit) access.
    Word = 2,
    /// Dword (32-bit) access.
    Dword = 3,
    /// Qword (64-bit) access.
    Qword = 4,
}

/// A Generic Address Structure: where a register block lives and how to access it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenericAddress {
    /// The address space the register is in.
    pub space: AddressSpaceId,
    /// Size of the register in bits.
    pub bit_width: u8,
    /// Bit offset of the register at `address`.
    pub bit_offset: u8,
    /// The access size the OS must use.
    pub access_size: AccessSize,
    /// The register address in `space`.
    pub address: u64,
}

impl GenericAddress {
    /// Encoded size of the structure.
    pub const LENGTH: usize = 12;

    /// The all-zero structure meaning "not present".
    pub const NONE: Self = Self {
        space: AddressSpaceId::SystemMemory,
        bit_width: 0,
        bit_offset: 0,
        access_size: AccessSize::Undefined,
        address: 0,
    };

    /// A register block of `length` bytes in system I/O space.
    pub const fn io(port: u16, length: u8, access_size: AccessSize) -> Self {
        Self {
            space: AddressSpaceId::SystemIo,
            bit_width: length.saturating_mul(8),
            bit_offset: 0,
            access_size,
            address: port as u64,
        }
    }

    /// A register block of `bit_width` bits in system memory.
    pub const fn memory(address: u64, bit_width: u8, access_size: AccessSize) -> Self {
        Self { space: AddressSpaceId::SystemMemory, bit_width, bit_offset: 0, access_size, address }
    }

    /// The 12-byte encoding.
    pub fn to_bytes(&self) -> [u8; Self::LENGTH] {
        let mut out = [0u8; Self::LENGTH];
        out[0] = self.space as u8;
        out[1] = self.bit_width;
        out[2] = self.bit_offset;
        out[3] = self.access_size as u8;
        out[4..].copy_from_slice(&self.address.to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_block_encoding() {
        let g = GenericAddress::io(0xb008, 4, AccessSize::Dword);
        assert_eq!(g.to_bytes(), [1, 32, 0, 3, 0x08, 0xb0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(GenericAddress::NONE.to_bytes(), [0; 12]);
    }
}
