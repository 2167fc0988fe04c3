//! Builds and installs a complete table set, then checks it with the `acpi`
//! crate's parser, field by field, and with `iasl -d`; plus installer errors.

mod common;

use acpi::sdt::{
    fadt::Fadt as ParsedFadt,
    hpet::HpetTable,
    madt::{Madt as ParsedMadt, MadtEntry},
};
use acpi::sdt::{mcfg::Mcfg as ParsedMcfg, slit::Slit as ParsedSlit, srat::Srat as ParsedSrat};
use acpi::{AcpiTable, AcpiTables};
use common::HostMemory;
use libacpi::aml::{AmlWriter, ProcessorDevice};
use libacpi::checksum;
use libacpi::tables::*;
use libacpi::{Error, InstallSummary, Installer, OemIds, RsdpPlacement, Signature, Table};

const REGION_BASE: u64 = 0xfc00_0000;
const BIOS_RSDP: u64 = 0xf5b50;

const PROCESSORS: [MadtProcessor; 3] = [
    MadtProcessor { uid: 0, apic_id: 0, state: ProcessorState::Enabled },
    MadtProcessor { uid: 1, apic_id: 2, state: ProcessorState::OnlineCapable },
    MadtProcessor { uid: 2, apic_id: 300, state: ProcessorState::Enabled },
];
const IO_APICS: [IoApic; 1] = [IoApic { id: 1, address: 0xfec0_0000, gsi_base: 0 }];
const OVERRIDES: [InterruptSourceOverride; 4] = [
    InterruptSourceOverride::timer_irq0_to_gsi2(),
    InterruptSourceOverride::sci(9),
    InterruptSourceOverride::pci_irq(10, Polarity::ActiveLow),
    InterruptSourceOverride::pci_irq(11, Polarity::ActiveLow),
];
const MCFG: [McfgAllocation; 1] =
    [McfgAllocation { base_address: 0xe000_0000, segment: 0, start_bus: 0, end_bus: 63 }];
const SRAT_CPUS: [ProcessorAffinity; 3] = [
    ProcessorAffinity { apic_id: 0, proximity_domain: 0, enabled: true },
    ProcessorAffinity { apic_id: 2, proximity_domain: 0x123, enabled: true },
    ProcessorAffinity { apic_id: 300, proximity_domain: 1, enabled: true },
];
const SRAT_MEMORY: [MemoryAffinity; 2] = [
    MemoryAffinity {
        proximity_domain: 0,
        base: 0,
        length: 0x8000_0000,
        enabled: true,
        hot_pluggable: false,
        non_volatile: false,
    },
    MemoryAffinity {
        proximity_domain: 1,
        base: 0x1_0000_0000,
        length: 0x4000_0000,
        enabled: true,
        hot_pluggable: true,
        non_volatile: false,
    },
];
const SLIT_DISTANCES: [u8; 4] = [10, 20, 20, 10];

fn madt() -> Madt<'static> {
    Madt {
        local_apic_address: Madt::DEFAULT_LOCAL_APIC_ADDRESS,
        pcat_compat: true,
        processors: &PROCESSORS,
        io_apics: &IO_APICS,
        overrides: &OVERRIDES,
        nmi: Some(LocalApicNmi::LINT1),
    }
}

fn fadt() -> Fadt {
    let mut fadt = Fadt::new(PmRegisterBlocks::XEN, 9, IapcBootArch::I440FX);
    fadt.smi_command = SmiCommand { port: 0xb2, acpi_enable: 0xf1, acpi_disable: 0xf0 };
    fadt
}

/// A DSDT compiled by iasl: the opaque blob the firmware embeds.
fn dsdt_blob() -> Vec<u8> {
    let dir = common::scratch_dir("dsdt");
    std::fs::write(
        dir.join("dsdt.asl"),
        "DefinitionBlock (\"\", \"DSDT\", 2, \"Xen\", \"HVM\", 0) { Name (\\_S5, Package () { 7, 7 }) }",
    )
    .unwrap();
    let out = std::process::Command::new("iasl")
        .current_dir(&dir)
        .args(["-we", "-p", "dsdt", "dsdt.asl"])
        .output()
        .expect("cannot run iasl: install acpica-tools");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    std::fs::read(dir.join("dsdt.aml")).unwrap()
}

/// An SSDT built with the AML encoder: processor devices matching the MADT.
fn ssdt_body() -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let mut w = AmlWriter::new(&mut buf);
    w.scope("\\_SB", |w| {
        for (i, p) in PROCESSORS.iter().enumerate() {
            let name = format!("C{i:03X}");
            w.emit(&ProcessorDevice { name: &name, madt_entry: *p, status: 0x0f });
        }
    });
    w.finish().unwrap();
    w.as_bytes().to_vec()
}

struct Installed {
    region: Vec<u8>,
    bios: Vec<u8>,
    summary: InstallSummary,
}

fn install_full_set() -> Installed {
    let dsdt = dsdt_blob();
    let ssdt = ssdt_body();
    let mut region = vec![0u8; 16 * 1024];
    let mut bios = vec![0u8; 64];
    let mut inst = Installer::new(&mut region, REGION_BASE, OemIds::xen()).unwrap();
    // An odd-sized table first, so the FACS alignment is exercised.
    inst.install(&Waet { rtc_good: true, pm_timer_good: true }).unwrap();
    inst.install(&Facs::new(0)).unwrap();
    inst.install(&RawTable::new(&dsdt).unwrap()).unwrap();
    inst.install(&fadt()).unwrap();
    inst.install(&madt()).unwrap();
    inst.install(&Hpet::new(0x8086_a201, 0xfed0_0000, 0x80)).unwrap();
    inst.install(&Mcfg { allocations: &MCFG }).unwrap();
    inst.install(&Srat { processors: &SRAT_CPUS, memory: &SRAT_MEMORY }).unwrap();
    inst.install(&Slit { localities: 2, distances: &SLIT_DISTANCES }).unwrap();
    inst.install(&AmlTable::ssdt(&ssdt).with_oem_table_id("CPUS").unwrap()).unwrap();
    let summary = inst.finish(RsdpPlacement::At { buffer: &mut bios, address: BIOS_RSDP }).unwrap();
    Installed { region, bios, summary }
}

impl Installed {
    fn handler(&self) -> HostMemory {
        HostMemory::new(REGION_BASE, &self.region).with_second_range(BIOS_RSDP, &self.bios)
    }

    fn table(&self, signature: Signature) -> &[u8] {
        let t = self.summary.find(signature).unwrap_or_else(|| panic!("{signature} not installed"));
        let start = (t.address - REGION_BASE) as usize;
        &self.region[start..start + t.length as usize]
    }
}

#[test]
fn full_set_parses_with_the_acpi_crate() {
    let set = install_full_set();
    assert_eq!(set.summary.rsdp_address, BIOS_RSDP);
    assert_eq!(&set.bios[..36], &set.summary.rsdp);
    // SAFETY: the handler maps the test's installed tables, which outlive every mapping.
    let rsdp = unsafe {
        acpi::PhysicalMapping::<_, acpi::rsdp::Rsdp>::new(BIOS_RSDP as usize, 36, set.handler())
    };
    rsdp.validate().unwrap();
    assert_eq!(rsdp.oem_id().unwrap(), "Xen   ");
    assert_eq!(rsdp.revision(), 2);
    // SAFETY: as above; the RSDP was validated.
    let tables = unsafe { AcpiTables::from_rsdp(set.handler(), BIOS_RSDP as usize) }.unwrap();

    // The XSDT lists every table except FACS and DSDT, FADT first.
    let listed: Vec<(usize, [u8; 4])> = tables
        .table_headers()
        .map(|(address, header)| {
            (address, *header.signature.as_str().as_bytes().first_chunk().unwrap())
        })
        .collect();
    let expected: Vec<(usize, [u8; 4])> =
        ["FACP", "WAET", "APIC", "HPET", "MCFG", "SRAT", "SLIT", "SSDT"]
            .iter()
            .map(|s| {
                let sig = Signature(*s.as_bytes().first_chunk().unwrap());
                (set.summary.find(sig).unwrap().address as usize, sig.0)
            })
            .collect();
    assert_eq!(listed, expected);

    // The RSDT lists the same tables with 32-bit entries.
    let rsdt = set.summary.find(Signature::RSDT).unwrap();
    // SAFETY: as above; the RSDT is the installer's.
    let via_rsdt =
        unsafe { AcpiTables::from_rsdt(set.handler(), rsdt.address as usize, 4) }.unwrap();
    assert_eq!(
        via_rsdt.table_entries().collect::<Vec<_>>(),
        tables.table_entries().collect::<Vec<_>>()
    );

    let fadt = tables.find_table::<ParsedFadt>().unwrap();
    fadt.validate().unwrap();
    assert_eq!({ fadt.header.length }, 276);
    assert_eq!(fadt.header.revision, 6);
    assert_eq!(
        fadt.dsdt_address().unwrap() as u64,
        set.summary.find(Signature::DSDT).unwrap().address
    );
    assert_eq!(
        fadt.facs_address().unwrap() as u64,
        set.summary.find(Signature::FACS).unwrap().address
    );
    assert_eq!({ fadt.firmware_ctrl } as u64, set.summary.find(Signature::FACS).unwrap().address);
    assert_eq!({ fadt.sci_interrupt }, 9);
    assert_eq!({ fadt.smi_cmd_port }, 0xb2);
    assert_eq!((fadt.acpi_enable, fadt.acpi_disable), (0xf1, 0xf0));
    let pm1a = fadt.pm1a_event_block().unwrap();
    assert_eq!((pm1a.address, pm1a.bit_width, pm1a.access_size), (0xb000, 32, 2));
    let pm1a_cnt = fadt.pm1a_control_block().unwrap();
    assert_eq!((pm1a_cnt.address, pm1a_cnt.bit_width), (0xb004, 16));
    let timer = fadt.pm_timer_block().unwrap().unwrap();
    assert_eq!((timer.address, timer.bit_width, timer.access_size), (0xb008, 32, 3));
    let gpe0 = fadt.gpe0_block().unwrap().unwrap();
    assert_eq!((gpe0.address, gpe0.bit_width), (0xafe0, 32));
    assert_eq!({ fadt.gpe0_block_length }, 4);
    let reset = fadt.reset_register().unwrap();
    assert_eq!((reset.address, reset.bit_width, fadt.reset_value), (0xcf9, 8, 6));
    assert!({ fadt.flags }.supports_system_reset_via_fadt());
    assert!({ fadt.flags }.pm_timer_is_32_bit());
    assert!({ fadt.iapc_boot_arch }.motherboard_implements_8042());
    assert!({ fadt.iapc_boot_arch }.legacy_devices_are_accessible());
    assert_eq!(
        // SAFETY: FADT revision 6 has the hypervisor vendor field.
        unsafe { { fadt.hypervisor_vendor_id }.access(6) },
        Some(u64::from_le_bytes(*b"XenVMM\0\0"))
    );

    let madt = tables.find_table::<ParsedMadt>().unwrap();
    madt.get().validate().unwrap();
    assert!(madt.get().supports_8259());
    let mut lapics = vec![];
    let (mut x2apics, mut ioapics, mut isos, mut nmis) = (vec![], vec![], vec![], vec![]);
    for entry in madt.get().entries() {
        match entry {
            MadtEntry::LocalApic(e) => lapics.push((e.processor_id, e.apic_id, { e.flags })),
            MadtEntry::LocalX2Apic(e) => {
                x2apics.push(({ e.processor_uid }, { e.x2apic_id }, { e.flags }))
            }
            MadtEntry::IoApic(e) => ioapics
                .push((e.io_apic_id, { e.io_apic_address }, { e.global_system_interrupt_base })),
            MadtEntry::InterruptSourceOverride(e) => {
                isos.push((e.bus, e.irq, { e.global_system_interrupt }, { e.flags }))
            }
            MadtEntry::LocalApicNmi(e) => nmis.push((u32::from(e.processor_id), e.nmi_line)),
            MadtEntry::X2ApicNmi(e) => nmis.push(({ e.processor_uid }, e.nmi_line)),
            other => panic!("unexpected MADT entry {other:?}"),
        }
    }
    assert_eq!(lapics, [(0, 0, 1), (1, 2, 2)]);
    assert_eq!(x2apics, [(2, 300, 1)]);
    assert_eq!(ioapics, [(1, 0xfec0_0000, 0)]);
    assert_eq!(isos, [(0, 0, 2, 0), (0, 9, 9, 0x0d), (0, 10, 10, 0x0f), (0, 11, 11, 0x0f)]);
    assert_eq!(nmis, [(0xff, 1), (0xffff_ffff, 1)]);

    let hpet = tables.find_table::<HpetTable>().unwrap();
    hpet.validate().unwrap();
    assert_eq!({ hpet.event_timer_block_id }, 0x8086_a201);
    assert_eq!({ hpet.base_address.address }, 0xfed0_0000);
    assert_eq!({ hpet.clock_tick_unit }, 0x80);

    let mcfg = tables.find_table::<ParsedMcfg>().unwrap();
    mcfg.validate().unwrap();
    let e = mcfg.entries();
    assert_eq!(e.len(), 1);
    assert_eq!(
        (
            { e[0].base_address },
            { e[0].pci_segment_group },
            e[0].bus_number_start,
            e[0].bus_number_end
        ),
        (0xe000_0000, 0, 0, 63)
    );

    let srat = tables.find_table::<ParsedSrat>().unwrap();
    srat.get().validate().unwrap();
    // acpi 7.0.0-pre1 reads SRAT entry lengths as u16 (the specification
    // has Type u8, Length u8), so its entry iterator cannot be used; decode
    // the entries here instead.
    let raw = set.table(Signature::SRAT);
    assert_eq!(&raw[36..48], &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let le32 = |b: &[u8]| u32::from_le_bytes(b[..4].try_into().unwrap());
    let le64 = |b: &[u8]| u64::from_le_bytes(b[..8].try_into().unwrap());
    let (mut cpus, mut memory, mut at) = (vec![], vec![], 48);
    while at < raw.len() {
        let e = &raw[at..at + raw[at + 1] as usize];
        match (e[0], e.len()) {
            (0, 16) => cpus.push((
                u32::from(e[3]),
                u32::from(e[2]) | le32(&[e[9], e[10], e[11], 0]) << 8,
                le32(&e[4..]),
            )),
            (2, 24) => cpus.push((le32(&e[8..]), le32(&e[4..]), le32(&e[12..]))),
            (1, 40) => memory.push((le32(&e[2..]), le64(&e[8..]), le64(&e[16..]), le32(&e[28..]))),
            other => panic!("unexpected SRAT entry {other:?}"),
        }
        at += e.len();
    }
    assert_eq!(cpus, [(0, 0, 1), (2, 0x123, 1), (300, 1, 1)]);
    assert_eq!(memory, [(0, 0, 0x8000_0000, 1), (1, 0x1_0000_0000, 0x4000_0000, 3)]);

    let slit = tables.find_table::<ParsedSlit>().unwrap();
    slit.get().validate().unwrap();
    // acpi 7.0.0-pre1's SLIT matrix accessor squares the entry count twice
    // and returns an empty matrix for N > 1; check the raw bytes instead.
    assert_eq!(slit.get().matrix().num_proximity_domains, 2);
    assert_eq!(&set.table(Signature::SLIT)[44..], &SLIT_DISTANCES);

    let dsdt = tables.dsdt().unwrap();
    assert_eq!(dsdt.length as usize, dsdt_blob().len());
    let ssdts: Vec<_> = tables.ssdts().collect();
    assert_eq!(ssdts.len(), 1);
    assert_eq!(&set.table(Signature::SSDT)[16..24], b"CPUS    ");
}

#[test]
fn checksums_alignment_and_reported_lengths() {
    let set = install_full_set();
    let rsdp = &set.summary.rsdp;
    assert_eq!(checksum::sum(&rsdp[..20]), 0);
    assert_eq!(checksum::sum(rsdp), 0);
    assert_eq!(
        u32::from_le_bytes(rsdp[16..20].try_into().unwrap()) as u64,
        set.summary.find(Signature::RSDT).unwrap().address
    );
    assert_eq!(
        u64::from_le_bytes(rsdp[24..32].try_into().unwrap()),
        set.summary.find(Signature::XSDT).unwrap().address
    );
    for t in set.summary.tables() {
        let bytes = set.table(t.signature);
        assert_eq!(&bytes[..4], &t.signature.0);
        assert_eq!(
            u32::from_le_bytes(bytes[4..8].try_into().unwrap()),
            t.length,
            "{}",
            t.signature
        );
        if t.signature == Signature::FACS {
            assert_eq!(t.address % 64, 0, "FACS must be 64-byte aligned");
        } else {
            assert_eq!(checksum::sum(bytes), 0, "{} checksum", t.signature);
            assert_eq!(t.address % 16, 0);
        }
    }
    let last = set.summary.tables().iter().map(|t| t.address + u64::from(t.length)).max().unwrap();
    assert_eq!(set.summary.bytes_used as u64, last - REGION_BASE);
}

#[test]
fn every_table_disassembles_with_iasl() {
    let set = install_full_set();
    for t in set.summary.tables() {
        common::iasl_disassemble(&format!("dis-{}", t.signature), set.table(t.signature));
    }
    // iasl 20200925 cannot disassemble a standalone RSDP; the acpi crate
    // validates it in `full_set_parses_with_the_acpi_crate`.
    let fadt = common::iasl_disassemble("dis-fadt", set.table(Signature::FADT));
    assert!(fadt.contains("Revision : 06"), "{fadt}");
    assert!(fadt.contains("Table Length : 00000114"), "{fadt}");
}

#[test]
fn q35_style_tables_disassemble() {
    let mut fadt = Fadt::new(PmRegisterBlocks::ich9(0x600), 9, IapcBootArch::Q35);
    fadt.smi_command = SmiCommand { port: 0xb2, acpi_enable: 0x02, acpi_disable: 0x03 };
    fadt.facs_address = 0x1000;
    fadt.dsdt_address = 0x2000;
    let mut buf = vec![0u8; fadt.length()];
    fadt.write(&OemIds::xen(), &mut buf).unwrap();
    let dsl = common::iasl_disassemble("q35-fadt", &buf);
    assert!(dsl.contains("8042 Present on ports 60/64 (V2) : 1"), "{dsl}");
    assert!(dsl.contains("Legacy Devices Supported (V2) : 0"), "{dsl}");
    let waet = Waet { rtc_good: true, pm_timer_good: false };
    let mut buf = vec![0u8; waet.length()];
    waet.write(&OemIds::xen(), &mut buf).unwrap();
    common::iasl_disassemble("waet", &buf);
}

fn small_installer(region: &mut [u8]) -> Installer<'_> {
    Installer::new(region, 0x1008, OemIds::xen()).unwrap()
}

#[test]
fn region_full_is_an_error() {
    let mut region = [0u8; 80];
    let mut inst = small_installer(&mut region);
    inst.install(&Waet { rtc_good: true, pm_timer_good: true }).unwrap();
    let err = inst.install(&Facs::new(0)).unwrap_err();
    assert!(matches!(err, Error::RegionFull { signature: Signature::FACS, .. }), "{err:?}");
    // The XSDT does not fit either: finish reports it.
    let err = inst.finish(RsdpPlacement::InRegion).unwrap_err();
    assert!(matches!(err, Error::RegionFull { signature: Signature::XSDT, .. }), "{err:?}");
}

#[test]
fn duplicate_signatures_are_refused_but_ssdts_repeat() {
    let mut region = vec![0u8; 4096];
    let mut inst = small_installer(&mut region);
    let body = [0x08, b'A', b'_', b'_', b'_', 0x01];
    inst.install(&fadt()).unwrap();
    assert_eq!(inst.install(&fadt()), Err(Error::DuplicateTable(Signature::FADT)));
    inst.install(&madt()).unwrap();
    assert_eq!(inst.install(&madt()), Err(Error::DuplicateTable(Signature::MADT)));
    inst.install(&AmlTable::ssdt(&body)).unwrap();
    inst.install(&AmlTable::ssdt(&body)).unwrap();
    assert_eq!(
        inst.install(&Rsdt { entries: &[] }),
        Err(Error::ReservedSignature(Signature::RSDT))
    );
    assert_eq!(
        inst.install(&Xsdt { entries: &[] }),
        Err(Error::ReservedSignature(Signature::XSDT))
    );
    // A FADT needs a DSDT to point at.
    assert_eq!(
        inst.finish(RsdpPlacement::InRegion).unwrap_err(),
        Error::MissingTable(Signature::DSDT)
    );
}

#[test]
fn facs_is_64_byte_aligned() {
    let mut region = vec![0u8; 4096];
    let mut inst = small_installer(&mut region);
    let waet = inst.install(&Waet { rtc_good: true, pm_timer_good: true }).unwrap();
    assert_eq!(waet.address, 0x1010);
    let facs = inst.install(&Facs::new(0)).unwrap();
    assert_eq!(facs.address, 0x1040);
    assert_eq!(facs.length, 64);
    let summary = inst.finish(RsdpPlacement::InRegion).unwrap();
    assert_eq!(summary.rsdp_address % 16, 0);
    // FACS is not listed in the XSDT.
    let xsdt = summary.find(Signature::XSDT).unwrap();
    assert_eq!(xsdt.length, 36 + 8);
}

#[test]
fn too_many_tables() {
    let mut region = vec![0u8; 64 * 1024];
    let mut inst = small_installer(&mut region);
    let body = [0x01];
    for _ in 0..libacpi::MAX_TABLES {
        inst.install(&AmlTable::ssdt(&body)).unwrap();
    }
    assert_eq!(inst.install(&AmlTable::ssdt(&body)), Err(Error::TooManyTables));
    let summary = inst.finish(RsdpPlacement::InRegion).unwrap();
    assert_eq!(summary.tables().len(), libacpi::MAX_TABLES + 2);
}

#[test]
fn tables_above_4g_need_xsdt_only() {
    let mut region = vec![0u8; 4096];
    let base = 0x1_0000_0000;
    let mut inst = Installer::new(&mut region, base, OemIds::xen()).unwrap();
    inst.install(&Waet { rtc_good: true, pm_timer_good: true }).unwrap();
    assert_eq!(
        inst.finish(RsdpPlacement::InRegion).unwrap_err(),
        Error::AddressAbove4GiB { signature: Signature::WAET, address: base }
    );
    let mut inst = Installer::new(&mut region, base, OemIds::xen()).unwrap().without_rsdt();
    inst.install(&Waet { rtc_good: true, pm_timer_good: true }).unwrap();
    let summary = inst.finish(RsdpPlacement::InRegion).unwrap();
    assert!(summary.find(Signature::RSDT).is_none());
    assert_eq!(&summary.rsdp[16..20], &[0; 4]);
}

#[test]
fn external_rsdp_placement_is_checked() {
    let mut region = vec![0u8; 4096];
    let mut bios = [0u8; 36];
    let inst = small_installer(&mut region);
    assert_eq!(
        inst.finish(RsdpPlacement::At { buffer: &mut bios, address: 0xf5b58 }).unwrap_err(),
        Error::Misaligned { address: 0xf5b58, alignment: 16 }
    );
    let mut short = [0u8; 20];
    let inst = small_installer(&mut region);
    assert!(matches!(
        inst.finish(RsdpPlacement::At { buffer: &mut short, address: 0xf5b50 }),
        Err(Error::BufferTooSmall { .. })
    ));
}

#[test]
fn invalid_table_contents_are_errors() {
    let mut buf = vec![0u8; 512];
    let bad_slit = Slit { localities: 2, distances: &[10, 20, 20] };
    assert!(matches!(bad_slit.write(&OemIds::xen(), &mut buf), Err(Error::InvalidField { .. })));
    let bad_slit = Slit { localities: 2, distances: &[10, 5, 20, 10] };
    assert!(matches!(bad_slit.write(&OemIds::xen(), &mut buf), Err(Error::InvalidField { .. })));
    let bad_mcfg = Mcfg {
        allocations: &[McfgAllocation {
            base_address: 0xe008_0000,
            segment: 0,
            start_bus: 0,
            end_bus: 1,
        }],
    };
    assert!(matches!(bad_mcfg.write(&OemIds::xen(), &mut buf), Err(Error::Misaligned { .. })));
    let processors = [MadtProcessor { uid: 255, apic_id: 1, state: ProcessorState::Enabled }];
    let bad_madt = Madt { processors: &processors, ..madt() };
    assert!(matches!(bad_madt.write(&OemIds::xen(), &mut buf), Err(Error::InvalidField { .. })));
    assert!(matches!(
        madt().write(&OemIds::xen(), &mut buf[..50]),
        Err(Error::BufferTooSmall { .. })
    ));
    // Every builder writes exactly the length it declares.
    for table in [&madt() as &dyn Table, &fadt(), &Facs::new(1), &Hpet::new(0, 0xfed0_0000, 0x80)] {
        assert_eq!(table.write(&OemIds::xen(), &mut buf), Ok(table.length()));
    }
}
