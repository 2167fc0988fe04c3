//! The ACPI self-test: the installed tables, read back through an independent parser (the
//! `acpi` crate), must be well-formed and say what the firmware programmed. Generic over
//! the parser's memory handler, so the host tests run it on a buffer and the firmware on
//! physical memory.

use core::fmt;

use acpi::Handler;
use acpi::sdt::fadt::Fadt;
use acpi::sdt::madt::{Madt, MadtEntry};
use acpi::sdt::mcfg::Mcfg;
use libacpi::InstallSummary;
use libacpi::tables::MadtProcessor;

use crate::arch::{PhysicalMapper, parse_acpi_tables};
use crate::chipset::q35::EcamArea;

/// What the self-test found wrong.
#[derive(Debug)]
pub enum SelfTestError {
    Parse(acpi::AcpiError),
    Checksum { signature: [u8; 4], address: usize },
    Missing(&'static str),
    FadtLinks { dsdt: usize, facs: usize },
    MadtProcessors { found: usize, expected: usize },
    MadtApicId { uid: u32, found: u32, expected: u32 },
    Mcfg { base: u64, end_bus: u8 },
    UnexpectedMcfg,
}

impl fmt::Display for SelfTestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelfTestError::Parse(e) => write!(f, "ACPI self-test: parser rejects tables: {e:?}"),
            SelfTestError::Checksum { signature, address } => write!(
                f,
                "ACPI self-test: bad checksum in {} at {address:#x}",
                core::str::from_utf8(signature).unwrap_or("????")
            ),
            SelfTestError::Missing(t) => write!(f, "ACPI self-test: no {t} table found"),
            SelfTestError::FadtLinks { dsdt, facs } => write!(
                f,
                "ACPI self-test: FADT points at DSDT {dsdt:#x} and FACS {facs:#x}, not ours"
            ),
            SelfTestError::MadtProcessors { found, expected } => write!(
                f,
                "ACPI self-test: MADT has {found} enabled processors, {expected} CPUs were found"
            ),
            SelfTestError::MadtApicId { uid, found, expected } => write!(
                f,
                "ACPI self-test: MADT processor {uid} has APIC ID {found}, expected {expected}"
            ),
            SelfTestError::Mcfg { base, end_bus } => write!(
                f,
                "ACPI self-test: MCFG says ECAM at {base:#x} up to bus {end_bus:#x}, \
                 not what PCIEXBAR was programmed with"
            ),
            SelfTestError::UnexpectedMcfg => {
                f.write_str("ACPI self-test: MCFG present without an ECAM window")
            }
        }
    }
}

impl From<acpi::AcpiError> for SelfTestError {
    fn from(e: acpi::AcpiError) -> Self {
        SelfTestError::Parse(e)
    }
}

/// Checks the tables installed as `summary` describes, starting from the RSDP.
/// Returns how many tables were checked.
pub fn verify<H: PhysicalMapper>(
    handler: H,
    summary: &InstallSummary,
    cpus: &[MadtProcessor],
    ecam: Option<EcamArea>,
) -> Result<usize, SelfTestError> {
    let tables = parse_acpi_tables(handler.clone(), summary.rsdp_address)?;

    // Every table the root lists, plus the DSDT and FACS reached through the FADT.
    let mut checked = 0;
    for (address, header) in tables.table_headers() {
        checksum(&handler, address, header.length as usize, header.signature.as_str())?;
        checked += 1;
    }
    let fadt = tables.find_table::<Fadt>().ok_or(SelfTestError::Missing("FADT"))?;
    let (dsdt, facs) = (fadt.get().dsdt_address()?, fadt.get().facs_address()?);
    let ours = |sig: &[u8; 4]| summary.find(libacpi::Signature(*sig)).map(|t| t.address as usize);
    if Some(dsdt) != ours(b"DSDT") || Some(facs) != ours(b"FACS") {
        return Err(SelfTestError::FadtLinks { dsdt, facs });
    }
    let dsdt_table = tables.dsdt()?;
    checksum(&handler, dsdt_table.phys_address, dsdt_table.length as usize, "DSDT")?;
    checked += 1;

    let madt = tables.find_table::<Madt>().ok_or(SelfTestError::Missing("MADT"))?;
    let mut enabled = 0;
    for entry in madt.get().entries() {
        let (uid, apic_id, flags) = match entry {
            MadtEntry::LocalApic(e) => (u32::from(e.processor_id), u32::from(e.apic_id), e.flags),
            MadtEntry::LocalX2Apic(e) => (e.processor_uid, e.x2apic_id, e.flags),
            _ => continue,
        };
        if flags & 1 == 0 {
            continue;
        }
        enabled += 1;
        let expected = cpus.iter().find(|c| c.uid == uid).map(|c| c.apic_id);
        if expected != Some(apic_id) {
            let expected = expected.unwrap_or(u32::MAX);
            return Err(SelfTestError::MadtApicId { uid, found: apic_id, expected });
        }
    }
    if enabled != cpus.len() {
        return Err(SelfTestError::MadtProcessors { found: enabled, expected: cpus.len() });
    }

    match (tables.find_table::<Mcfg>(), ecam) {
        (Some(mcfg), Some(area)) => {
            let mcfg = mcfg.get();
            let entries = mcfg.entries();
            let matches = entries.len() == 1
                && entries[0].base_address == area.base
                && entries[0].pci_segment_group == 0
                && entries[0].bus_number_start == 0
                && u16::from(entries[0].bus_number_end) == area.buses - 1;
            if !matches {
                let (base, end_bus) =
                    entries.first().map_or((0, 0), |e| (e.base_address, e.bus_number_end));
                return Err(SelfTestError::Mcfg { base, end_bus });
            }
        }
        (None, Some(_)) => return Err(SelfTestError::Missing("MCFG")),
        (Some(_), None) => return Err(SelfTestError::UnexpectedMcfg),
        (None, None) => {}
    }
    Ok(checked)
}

fn checksum<H: Handler>(
    handler: &H,
    address: usize,
    length: usize,
    signature: &str,
) -> Result<(), SelfTestError> {
    let sum = (0..length).fold(0u8, |sum, i| sum.wrapping_add(handler.read_u8(address + i)));
    if sum == 0 {
        Ok(())
    } else {
        let mut sig = [b'?'; 4];
        for (d, s) in sig.iter_mut().zip(signature.bytes()) {
            *d = s;
        }
        Err(SelfTestError::Checksum { signature: sig, address })
    }
}
