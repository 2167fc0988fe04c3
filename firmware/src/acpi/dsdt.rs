//! The DSDTs: written in ASL (asl/dsdt_i440.asl, asl/dsdt_q35.asl) and compiled by
//! ACPICA's iasl when the firmware is built (build.rs), so the image carries them as
//! complete tables, header and checksum included.
//!
//! What the DSDTs need to know at run time is set in the installed copy ([`DsdtSettings`]):
//! each is an ASL `Name (XXXX, Zero)` whose ZeroOp becomes OneOp. The runtime SSDT cannot
//! carry them: a DSDT name the SSDT defines needs an External declaration in the DSDT, and
//! SeaBIOS's DSDT parser (SeaBIOS reads our DSDT under Xen, to find the legacy devices)
//! stops at the first one.

use alloc::vec::Vec;

use libacpi::Error;

use crate::chipset::Chipset;
use crate::chipset::isa::LegacyDevices;

/// The run-time switches of the DSDTs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DsdtSettings {
    /// `\XENI`: Xen wires PCI INTx (its `_PRT` rules and link polarity), not the chipset
    /// as QEMU emulates it.
    pub xen_intx: bool,
    /// `\_SB.PCI0.NHPG` (Q35): `_OSC` may grant native PCIe hot-plug.
    pub native_pcie_hotplug: bool,
    /// `HCM1`, `HCM2`, `HLPT`, `HFDC` (asl/isa_devices.asi): the legacy devices present.
    pub legacy: LegacyDevices,
}

/// AML's NameOp, ZeroOp and OneOp.
const NAME_OP: u8 = 0x08;
const ZERO_OP: u8 = 0x00;
const ONE_OP: u8 = 0x01;
/// Offset of the checksum in a table header.
const CHECKSUM: usize = 9;

/// The DSDT of `chipset` with `settings` applied.
pub fn installed_dsdt(chipset: Chipset, settings: DsdtSettings) -> Result<Vec<u8>, Error> {
    let mut table = dsdt(chipset).to_vec();
    set(&mut table, *b"XENI", settings.xen_intx)?;
    if chipset == Chipset::Q35 {
        set(&mut table, *b"NHPG", settings.native_pcie_hotplug)?;
    }
    let legacy = settings.legacy;
    set(&mut table, *b"HCM1", legacy.com1)?;
    set(&mut table, *b"HCM2", legacy.com2)?;
    set(&mut table, *b"HLPT", legacy.lpt1)?;
    set(&mut table, *b"HFDC", legacy.floppy)?;
    Ok(table)
}

/// Sets `Name (name, Zero)` (which must occur exactly once) to `value`, keeping the
/// checksum right.
fn set(table: &mut [u8], name: [u8; 4], value: bool) -> Result<(), Error> {
    let pattern = [NAME_OP, name[0], name[1], name[2], name[3], ZERO_OP];
    let mut found = table.windows(pattern.len()).enumerate().filter(|(_, w)| *w == pattern);
    let (Some((at, _)), None) = (found.next(), found.next()) else {
        return Err(Error::InvalidAmlOperand("a DSDT switch is not one `Name (XXXX, Zero)`"));
    };
    if value {
        table[at + pattern.len() - 1] = ONE_OP;
        table[CHECKSUM] = table[CHECKSUM].wrapping_sub(ONE_OP - ZERO_OP);
    }
    Ok(())
}

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

    #[test]
    fn settings_turn_exactly_their_zero_into_one() {
        for chipset in [Chipset::I440fx, Chipset::Q35] {
            let plain = installed_dsdt(chipset, DsdtSettings::default()).unwrap();
            assert_eq!(plain, dsdt(chipset), "{chipset}: nothing set, nothing changed");
            let legacy = LegacyDevices { com1: true, com2: true, lpt1: true, floppy: true };
            let all = DsdtSettings { xen_intx: true, native_pcie_hotplug: true, legacy };
            let set = installed_dsdt(chipset, all).unwrap();
            let changed: Vec<usize> =
                (0..set.len()).filter(|&i| i != CHECKSUM && set[i] != plain[i]).collect();
            let switches = if chipset == Chipset::Q35 { 6 } else { 5 };
            assert_eq!(changed.len(), switches, "{chipset}");
            for at in changed {
                assert_eq!((plain[at], set[at]), (ZERO_OP, ONE_OP));
                assert_eq!(plain[at - 5], NAME_OP);
            }
            assert_eq!(checksum::sum(&set), 0, "{chipset} checksum");
        }
    }

    #[test]
    fn a_switch_must_be_there_once() {
        let mut table = dsdt(Chipset::I440fx).to_vec();
        assert!(set(&mut table, *b"NOPE", true).is_err());
        let twice = [&table[..], &[NAME_OP, b'X', b'E', b'N', b'I', ZERO_OP]].concat();
        assert!(set(&mut twice.clone(), *b"XENI", true).is_err());
    }
}
