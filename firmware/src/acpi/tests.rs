//! Host tests: a whole table set installed into a buffer, parsed back by the `acpi` crate
//! through the same self-test the firmware runs, and corrupted to see the self-test object.

use alloc::vec;
use alloc::vec::Vec;

use libacpi::tables::{AmlBody, AmlTable, MadtProcessor, ProcessorState};
use libacpi::{InstallSummary, OemIds, RsdpPlacement, Table};

use super::selftest::{SelfTestError, verify};
use super::*;
use crate::arch::BufferMapper;
use crate::chipset::SCI_IRQ;

const REGION_BASE: u64 = 0x1FF0_0000;
const RSDP_BASE: u64 = 0xE_0000;

/// A DSDT with an empty body (the real ones are tested with iasl and acpiexec).
fn tiny_dsdt() -> Vec<u8> {
    let dsdt = AmlTable::dsdt(&[]);
    let mut bytes = vec![0; dsdt.length()];
    dsdt.write(&OemIds::xen(), &mut bytes).unwrap();
    bytes
}

fn cpus() -> Vec<MadtProcessor> {
    // -smp 6,sockets=2,cores=3: APIC IDs with a gap.
    [0, 1, 2, 4, 5, 6]
        .iter()
        .enumerate()
        .map(|(uid, &apic_id)| MadtProcessor {
            uid: uid as u32,
            apic_id,
            state: ProcessorState::Enabled,
        })
        .collect()
}

struct Installed {
    region: Vec<u8>,
    bios: Vec<u8>,
    summary: InstallSummary,
}

impl Installed {
    /// The parser's view of the two buffers standing for physical memory: the table
    /// region and the RSDP's place.
    fn handler(&self) -> BufferMapper<'_> {
        BufferMapper::new(&[(REGION_BASE, &self.region), (RSDP_BASE, &self.bios)])
    }
}

fn install_for(chipset: Chipset, ecam: Option<EcamArea>, cpus: &[MadtProcessor]) -> Installed {
    install_with_numa(chipset, ecam, cpus, None)
}

fn install_with_numa(
    chipset: Chipset,
    ecam: Option<EcamArea>,
    cpus: &[MadtProcessor],
    numa: Option<&super::numa::NumaTables>,
) -> Installed {
    try_install(chipset, ecam, cpus, numa, ExtraTables::NONE).unwrap()
}

fn try_install(
    chipset: Chipset,
    ecam: Option<EcamArea>,
    cpus: &[MadtProcessor],
    numa: Option<&super::numa::NumaTables>,
    extra: ExtraTables<'_>,
) -> Result<Installed, libacpi::Error> {
    let dsdt = tiny_dsdt();
    let pm = PmBlocks {
        pm1a_event: 0xB000,
        pm1a_control: 0xB004,
        pm_timer: 0xB008,
        gpe0: 0xAFE0,
        gpe0_len: 4,
        sci_irq: SCI_IRQ,
    };
    let set = TableSet {
        chipset,
        pm,
        cpus,
        ioapic_id: 0,
        intx_wiring: crate::chipset::IntxWiring::new(chipset, false),
        hpet_block_id: Some(0x8086_A201),
        ecam,
        dsdt: &dsdt,
        ssdt_body: AmlBody::Bytes(&[]),
        numa,
        extra,
    };
    let mut region = vec![0u8; 0x1_0000];
    let mut bios = vec![0u8; 0x100];
    let summary = install(
        &set,
        &mut region,
        REGION_BASE,
        RsdpPlacement::At { buffer: &mut bios[..36], address: RSDP_BASE },
    )?;
    Ok(Installed { region, bios, summary })
}

const Q35_ECAM: EcamArea = EcamArea { base: 0xF000_0000, buses: 64 };

#[test]
fn q35_set_passes_the_self_test() {
    let cpus = cpus();
    let set = install_for(Chipset::Q35, Some(Q35_ECAM), &cpus);
    let handler = set.handler();
    let checked = verify(handler, &set.summary, &cpus, Some(Q35_ECAM)).unwrap();
    // FADT, MADT, HPET, MCFG, WAET, SSDT from the XSDT, plus the DSDT.
    assert_eq!(checked, 7);
    let sigs: Vec<[u8; 4]> = set.summary.tables().iter().map(|t| t.signature.0).collect();
    assert!(sigs.contains(b"MCFG") && sigs.contains(b"HPET") && sigs.contains(b"SSDT"));
    // The FACS comes first, 64-byte aligned, where the caller marks it NVS.
    let facs = set.summary.find(libacpi::Signature(*b"FACS")).unwrap();
    assert_eq!(facs.address, REGION_BASE);
}

#[test]
fn i440_set_has_no_mcfg() {
    let cpus = cpus();
    let set = install_for(Chipset::I440fx, None, &cpus);
    let handler = set.handler();
    verify(handler, &set.summary, &cpus, None).unwrap();
    assert!(set.summary.find(libacpi::Signature(*b"MCFG")).is_none());
}

#[test]
fn self_test_catches_mismatches() {
    let cpus = cpus();
    let mut set = install_for(Chipset::Q35, Some(Q35_ECAM), &cpus);
    let other = EcamArea { base: 0xB000_0000, buses: 256 };
    let err = verify(set.handler(), &set.summary, &cpus, Some(other)).unwrap_err();
    assert!(matches!(err, SelfTestError::Mcfg { base: 0xF000_0000, end_bus: 63 }), "{err}");
    let err = verify(set.handler(), &set.summary, &cpus[..5], Some(Q35_ECAM)).unwrap_err();
    assert!(matches!(err, SelfTestError::MadtApicId { .. } | SelfTestError::MadtProcessors { .. }));
    let mut wrong_ids = cpus.clone();
    wrong_ids[3].apic_id = 3;
    let err = verify(set.handler(), &set.summary, &wrong_ids, Some(Q35_ECAM)).unwrap_err();
    assert!(matches!(err, SelfTestError::MadtApicId { uid: 3, found: 4, expected: 3 }), "{err}");

    // A flipped byte in the MADT breaks its checksum.
    let madt = set.summary.find(libacpi::Signature(*b"APIC")).unwrap();
    set.region[(madt.address - REGION_BASE) as usize + 40] ^= 0xFF;
    let handler = set.handler();
    let err = verify(handler, &set.summary, &cpus, Some(Q35_ECAM)).unwrap_err();
    assert!(
        matches!(err, SelfTestError::Checksum { signature: [b'A', b'P', b'I', b'C'], .. }),
        "{err}"
    );
}

#[test]
fn a_vnuma_topology_adds_srat_and_slit() {
    use super::numa::{NumaTables, NumaTopology};
    let cpus = cpus();
    let topology = NumaTopology {
        nodes: 2,
        distances: vec![10, 21, 21, 10],
        vcpu_node: (0..cpus.len() as u32).map(|v| v % 2).collect(),
        memory: vec![(0, 0x4000_0000, 0), (0x4000_0000, 0x8000_0000, 1)],
    };
    let numa = NumaTables::from_topology(&topology, &cpus, |c| c.uid).unwrap();
    let set = install_with_numa(Chipset::I440fx, None, &cpus, Some(&numa));
    let bytes = |set: &Installed, sig: &[u8; 4]| {
        let t = set.summary.find(libacpi::Signature(*sig)).expect("table installed");
        let at = (t.address - REGION_BASE) as usize;
        set.region[at..at + t.length as usize].to_vec()
    };
    let slit = bytes(&set, b"SLIT");
    assert_eq!(u64::from_le_bytes(slit[36..44].try_into().unwrap()), 2);
    assert_eq!(&slit[44..], &[10, 21, 21, 10]);
    let srat = bytes(&set, b"SRAT");
    // After the header and its 12 reserved bytes: one 16-byte APIC affinity per CPU, then
    // the 40-byte memory affinities.
    let first = 48;
    assert_eq!((srat[first], srat[first + 1], srat[first + 3]), (0, 16, cpus[0].apic_id as u8));
    let memory = first + 16 * cpus.len();
    assert_eq!((srat[memory], srat[memory + 1], srat[memory + 2]), (1, 40, 0));
    assert_eq!(srat[memory + 40 + 2], 1, "second range in node 1");
    let checksum = |t: &[u8]| t.iter().fold(0u8, |s, b| s.wrapping_add(*b));
    assert_eq!((checksum(&srat), checksum(&slit)), (0, 0));
    // The independent parser still accepts the whole set.
    let handler = set.handler();
    verify(handler, &set.summary, &cpus, None).unwrap();
}

// ---- tables a platform's owner asks for (Xen's keys) ----------------------------------------

impl Installed {
    fn table(&self, signature: &[u8; 4]) -> &[u8] {
        let t = self.summary.find(libacpi::Signature(*signature)).expect("table installed");
        let at = (t.address - REGION_BASE) as usize;
        &self.region[at..at + t.length as usize]
    }

    /// The signatures the XSDT lists, in order.
    fn listed(&self) -> Vec<[u8; 4]> {
        let xsdt = self.table(b"XSDT");
        xsdt[36..]
            .chunks(8)
            .map(|entry| {
                let address = u64::from_le_bytes(entry.try_into().unwrap());
                let t = self.summary.tables().iter().find(|t| t.address == address).unwrap();
                t.signature.0
            })
            .collect()
    }

    /// The OEM table IDs of the SSDTs, in memory order.
    fn ssdt_ids(&self) -> Vec<[u8; 8]> {
        self.summary
            .tables()
            .iter()
            .filter(|t| t.signature.0 == *b"SSDT")
            .map(|t| {
                let at = (t.address - REGION_BASE) as usize;
                self.region[at + 16..at + 24].try_into().unwrap()
            })
            .collect()
    }
}

fn installed_with(extra: ExtraTables<'_>) -> Result<Installed, libacpi::Error> {
    try_install(Chipset::I440fx, None, &cpus(), None, extra)
}

#[test]
fn a_tpm12_adds_its_ssdt_and_a_tcpa_over_the_log() {
    let tpm = tpm::TpmTables { interface: tpm::TpmInterface::Tis, log_area: 0x1FEF_0000 };
    let set = installed_with(ExtraTables { tpm: Some(tpm), ..ExtraTables::NONE }).unwrap();
    let cpus = cpus();
    let checked = verify(set.handler(), &set.summary, &cpus, None).unwrap();
    assert_eq!(checked, 6 + 2, "FADT, MADT, HPET, WAET, SSDT, DSDT; the TPM's SSDT and TCPA");
    assert_eq!(set.listed()[4..], [*b"SSDT", *b"SSDT", *b"TCPA"]);
    assert_eq!(set.ssdt_ids(), [*b"PLATFORM", *b"TPM12\0\0\0"]);
    let tcpa = set.table(b"TCPA");
    assert_eq!(tcpa[38..42], tpm::LOG_AREA_SIZE.to_le_bytes());
    assert_eq!(tcpa[42..50], 0x1FEF_0000u64.to_le_bytes());
    assert!(set.summary.find(libacpi::Signature(*b"TPM2")).is_none());
}

#[test]
fn a_tpm20_adds_its_ssdt_and_a_tpm2_over_the_log() {
    let tpm = tpm::TpmTables { interface: tpm::TpmInterface::Crb, log_area: 0x1FEF_0000 };
    let set = installed_with(ExtraTables { tpm: Some(tpm), ..ExtraTables::NONE }).unwrap();
    let cpus = cpus();
    verify(set.handler(), &set.summary, &cpus, None).unwrap();
    assert_eq!(set.listed()[4..], [*b"SSDT", *b"SSDT", *b"TPM2"]);
    assert_eq!(set.ssdt_ids()[1], *b"TPM20\0\0\0");
    let tpm2 = set.table(b"TPM2");
    assert_eq!(tpm2[40..48], tpm::CRB_CONTROL_AREA.to_le_bytes());
    assert_eq!(tpm2[68..76], 0x1FEF_0000u64.to_le_bytes());
    assert!(set.summary.find(libacpi::Signature(*b"TCPA")).is_none());
}

#[test]
fn no_extra_tables_without_a_request() {
    let set = installed_with(ExtraTables::NONE).unwrap();
    assert_eq!(set.ssdt_ids(), [*b"PLATFORM"]);
    let sigs: Vec<[u8; 4]> = set.summary.tables().iter().map(|t| t.signature.0).collect();
    assert!(!sigs.contains(b"TCPA") && !sigs.contains(b"TPM2"));
}

#[test]
fn laptop_slate_adds_the_conv_ssdt() {
    let extra = ExtraTables { laptop_slate: true, ..ExtraTables::NONE };
    let set = installed_with(extra).unwrap();
    let cpus = cpus();
    verify(set.handler(), &set.summary, &cpus, None).unwrap();
    assert_eq!(set.ssdt_ids(), [*b"PLATFORM", *b"CONV\0\0\0\0"]);
}

/// A complete table with a zero checksum.
fn table(signature: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0u8; 36];
    bytes[..4].copy_from_slice(signature);
    bytes[4..8].copy_from_slice(&((36 + body.len()) as u32).to_le_bytes());
    bytes[8] = 1;
    bytes[10..16].copy_from_slice(b"OEMOEM");
    bytes.extend_from_slice(body);
    libacpi::checksum::fix(&mut bytes, 9);
    bytes
}

fn blob_tables(blob: &[u8]) -> Result<Vec<libacpi::tables::TableInBuffer<'_>>, libacpi::Error> {
    libacpi::tables::ConcatenatedTables::new(blob).collect()
}

#[test]
fn passed_through_tables_come_last_as_given() {
    let slic = table(b"SLIC", &[0xA5; 40]);
    let ssdt = table(b"SSDT", &[0x08, b'X', b'X', b'X', b'X', 0x01]);
    let blob = [slic.clone(), ssdt.clone()].concat();
    let passed = blob_tables(&blob).unwrap();
    let extra = ExtraTables { laptop_slate: true, passthrough: &passed, ..ExtraTables::NONE };
    let set = installed_with(extra).unwrap();
    let cpus = cpus();
    let checked = verify(set.handler(), &set.summary, &cpus, None).unwrap();
    assert_eq!(checked, 6 + 1 + 2);
    assert_eq!(set.listed()[4..], [*b"SSDT", *b"SSDT", *b"SLIC", *b"SSDT"]);
    assert_eq!(set.table(b"SLIC"), slic.as_slice(), "byte for byte");
    let last = set.summary.tables().iter().rfind(|t| t.signature.0 == *b"SSDT").unwrap();
    let at = (last.address - REGION_BASE) as usize;
    assert_eq!(&set.region[at..at + ssdt.len()], ssdt.as_slice());
}

#[test]
fn a_passed_through_table_may_not_repeat_the_firmwares() {
    let refused = |signature: &[u8; 4]| {
        let blob = [table(b"SLIC", &[1; 4]), table(signature, &[0; 8])].concat();
        let passed = blob_tables(&blob).unwrap();
        let extra = ExtraTables { passthrough: &passed, ..ExtraTables::NONE };
        match installed_with(extra) {
            Err(e @ libacpi::Error::BlobTable { index: 1, offset: 40, .. }) => e.to_string(),
            Err(other) => panic!("{signature:?}: {other}"),
            Ok(_) => panic!("{signature:?} was accepted"),
        }
    };
    for signature in [b"FACP", b"APIC", b"HPET", b"WAET", b"DSDT", b"FACS"] {
        assert!(refused(signature).ends_with("the firmware builds this table itself"));
    }
    for signature in [b"XSDT", b"RSDT"] {
        assert!(refused(signature).ends_with("the firmware writes this table itself"));
    }
    assert_eq!(
        refused(b"APIC"),
        "table 1 of the passed-through blob (APIC at byte 0x28): the firmware builds this table \
         itself"
    );
    // A TPM table repeats the firmware's only when the firmware built one.
    let blob = table(b"TCPA", &[0; 14]);
    let passed = blob_tables(&blob).unwrap();
    assert!(installed_with(ExtraTables { passthrough: &passed, ..ExtraTables::NONE }).is_ok());
    let tpm = tpm::TpmTables { interface: tpm::TpmInterface::Tis, log_area: 0x1FEF_0000 };
    let extra = ExtraTables { tpm: Some(tpm), passthrough: &passed, ..ExtraTables::NONE };
    assert!(matches!(installed_with(extra), Err(libacpi::Error::BlobTable { index: 0, .. })));
}

#[test]
fn passed_through_tables_that_do_not_fit_are_named() {
    let big = table(b"SSDT", &vec![0xA3; 0x1_0000]);
    let passed = blob_tables(&big).unwrap();
    let extra = ExtraTables { passthrough: &passed, ..ExtraTables::NONE };
    let error = installed_with(extra).err().expect("a 64 KiB table in a 64 KiB region");
    assert_eq!(
        error.to_string(),
        "table 0 of the passed-through blob (SSDT at byte 0x0): it does not fit in what is \
         left of the ACPI area"
    );
    let many: Vec<u8> =
        (0..32).flat_map(|_| table(b"SSDT", &[0x08, b'Y', b'Y', b'Y', b'Y', 0])).collect();
    let passed = blob_tables(&many).unwrap();
    let extra = ExtraTables { passthrough: &passed, ..ExtraTables::NONE };
    let error = installed_with(extra).err().expect("more tables than the XSDT holds");
    assert!(
        error.to_string().ends_with("it is one table more than the firmware can list"),
        "{error}"
    );
}
