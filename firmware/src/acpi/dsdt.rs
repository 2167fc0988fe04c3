//! The DSDTs: written in ASL (asl/dsdt_i440.asl, asl/dsdt_q35.asl) and compiled by
//! ACPICA's iasl when the firmware is built (build.rs), so the image carries them as
//! complete tables, header and checksum included.

use crate::chipset::Chipset;

static DSDT_I440: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/dsdt_i440.aml"));
static DSDT_Q35: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/dsdt_q35.aml"));

/// The DSDT of `chipset`, a complete table as iasl wrote it.
pub fn dsdt(chipset: Chipset) -> &'static [u8] {
    match chipset {
        Chipset::I440fx => DSDT_I440,
        Chipset::Q35 => DSDT_Q35,
    }
}

#[cfg(test)]
mod tests {
    use libacpi::checksum;
    use libacpi::tables::RawTable;

    use super::*;

    #[test]
    fn both_dsdts_are_complete_tables() {
        for chipset in [Chipset::I440fx, Chipset::Q35] {
            let table = dsdt(chipset);
            let raw = RawTable::new(table).unwrap_or_else(|e| panic!("{chipset} DSDT: {e}"));
            assert_eq!(&table[..4], b"DSDT", "{chipset}");
            // Revision 2: the DSDT's revision sets the integer width of the whole namespace,
            // and 64-bit window addresses need 64 bits.
            assert_eq!(table[8], 2, "{chipset} DSDT revision");
            assert_eq!(checksum::sum(raw.bytes()), 0, "{chipset} DSDT checksum");
        }
        assert_ne!(dsdt(Chipset::I440fx), dsdt(Chipset::Q35));
    }
}
