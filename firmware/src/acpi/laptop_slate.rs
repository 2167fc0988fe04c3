//! Windows' laptop/slate mode indicator (`\_SB.CONV`: _HID ID9001, _CID PNP0C60), for Xen's
//! `platform/acpi_laptop_slate=1`: hvmloader then adds an SSDT holding just that device
//! (tools/libacpi/ssdt_laptop_slate.asl, added to the tables by tools/libacpi/build.c).
//! Ours is asl/ssdt_laptop_slate.asl, compiled by build.rs.

use libacpi::Error;
use libacpi::tables::RawTable;

static SSDT_LAPTOP_SLATE: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/ssdt_laptop_slate.aml"));

/// The SSDT with the device, a complete table as iasl wrote it.
pub fn ssdt() -> Result<RawTable<'static>, Error> {
    RawTable::new(SSDT_LAPTOP_SLATE)
}

#[cfg(test)]
mod tests {
    use libacpi::{Signature, Table, checksum};

    use super::*;

    #[test]
    fn the_ssdt_holds_the_conv_device() {
        let table = ssdt().unwrap();
        assert_eq!(table.signature(), Signature::SSDT);
        assert_eq!(checksum::sum(table.bytes()), 0);
        assert_eq!(&table.bytes()[16..24], b"CONV\0\0\0\0", "OEM table ID, as iasl pads it");
        let body = &table.bytes()[libacpi::HEADER_LENGTH..];
        for needle in [&b"CONV"[..], b"_HID", b"ID9001\0", b"_CID", b"PNP0C60\0"] {
            assert!(body.windows(needle.len()).any(|w| w == needle), "{needle:?}");
        }
    }
}
