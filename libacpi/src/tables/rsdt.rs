//! Root and Extended System Description Tables (ACPI 6.5 sections 5.2.7 and 5.2.8).

use super::Table;
use crate::header::{HEADER_LENGTH, write_table};
use crate::{Error, OemIds, Signature};

/// The RSDT: a header followed by 32-bit physical addresses of the other tables.
#[derive(Clone, Copy, Debug)]
pub struct Rsdt<'a> {
    /// Physical addresses of the tables, each of which must be below 4 GiB.
    pub entries: &'a [u64],
}

impl Table for Rsdt<'_> {
    fn signature(&self) -> Signature {
        Signature::RSDT
    }

    fn length(&self) -> usize {
        HEADER_LENGTH + 4 * self.entries.len()
    }

    fn write(&self, ids: &OemIds, out: &mut [u8]) -> Result<usize, Error> {
        write_table(out, Signature::RSDT, 1, ids, |w| {
            for &address in self.entries {
                let entry = u32::try_from(address)
                    .map_err(|_| Error::AddressAbove4GiB { signature: Signature::RSDT, address })?;
                w.u32(entry);
            }
            Ok(())
        })
    }
}

/// The XSDT: a header followed by 64-bit physical addresses of the other tables.
#[derive(Clone, Copy, Debug)]
pub struct Xsdt<'a> {
    /// Physical addresses of the tables.
    pub entries: &'a [u64],
}

impl Table for Xsdt<'_> {
    fn signature(&self) -> Signature {
        Signature::XSDT
    }

    fn length(&self) -> usize {
        HEADER_LENGTH + 8 * self.entries.len()
    }

    fn write(&self, ids: &OemIds, out: &mut [u8]) -> Result<usize, Error> {
        write_table(out, Signature::XSDT, 1, ids, |w| {
            for &address in self.entries {
                w.u64(address);
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsdt_rejects_high_addresses() {
        let mut buf = [0u8; 64];
        let r = Rsdt { entries: &[0x1000, 0x1_0000_0000] }.write(&OemIds::xen(), &mut buf);
        assert_eq!(
            r,
            Err(Error::AddressAbove4GiB { signature: Signature::RSDT, address: 0x1_0000_0000 })
        );
    }

    #[test]
    fn xsdt_entries_are_64_bit() {
        let mut buf = [0u8; 64];
        let t = Xsdt { entries: &[0x1_2345_6789] };
        let n = t.write(&OemIds::xen(), &mut buf).unwrap();
        assert_eq!(n, t.length());
        assert_eq!(buf[36..44], 0x1_2345_6789u64.to_le_bytes());
    }
}
