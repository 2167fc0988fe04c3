//! The tables the firmware leaves for the OS: ACPI and SMBIOS, in RAM carved out of the
//! memory map, with their entry points (RSDP, `_SM3_`, `_SM_`) in the BIOS area where
//! legacy scans look. Under Xen, what the toolstack asks for besides ([`TableRequests`]):
//! the TPM's tables, the laptop/slate SSDT, ACPI tables and SMBIOS structures passed
//! through ([`passthrough`]).

use alloc::vec::Vec;

use libacpi::RsdpPlacement;
use libacpi::tables::{AmlBody, ConcatenatedTables, MadtProcessor, ProcessorState, TableInBuffer};
use log::info;

pub(crate) mod passthrough;

use passthrough::Blob;
pub(crate) use passthrough::PassthroughError;

use super::pci::PciSetup;
use super::{Fatal, Hardware};
use crate::acpi::ssdt::{
    ExpanderRoot, GENERATION_ID_SIZE, SleepStates, SsdtInput, build_ssdt, generation_id_bytes,
    ssdt_body_len,
};
use crate::acpi::tpm::{self, TpmInterface, TpmTables};
use crate::acpi::{self, ExtraTables, TableSet, selftest};
use crate::arch::PhysMemory;
use crate::bootinfo::{BootInfo, MemoryKind, PhysRange};
use crate::chipset::Chipset;
use crate::chipset::pm::{BiosArea, BiosAreaGate, PmBlocks};
use crate::handoff::seabios::BiosTables;
use crate::legacy::mptable::FLOATING_POINTER_LEN;
use crate::legacy::{self, Bus0Pins, MpCpu, MpInput, PciIntx, PirInput, write_mp_table, write_pir};
use crate::pci::Cf8;
use crate::pci::IntxPin;
use crate::platform::xen::config::{TpmVersion, XenConfig};
use crate::smbios::{
    BiosStrings, CpuTopology, QemuStructures, SmbiosInfo, SmbiosPassthrough, SmbiosTable,
};

/// Bytes carved for the ACPI tables (DSDTs are 10-40 KiB; the rest is small), room for
/// tables passed through, and the TPM's event log when there is a TPM. What stays unused
/// remains RAM.
pub(crate) const ACPI_AREA_SIZE: u64 = 256 * 1024;
/// Bytes carved for the SMBIOS structure table: the 64 KiB the 32-bit entry point can
/// describe (structures passed through can make it that large), and the entry point's copy.
pub(crate) const SMBIOS_AREA_SIZE: u64 = 68 * 1024;
/// Most bytes of ACPI tables passed through: what the ACPI area has besides the TPM log.
const ACPI_PASSTHROUGH_LIMIT: u64 = ACPI_AREA_SIZE - tpm::LOG_AREA_SIZE as u64;
/// Most bytes of SMBIOS structures passed through: the table's limit.
const SMBIOS_PASSTHROUGH_LIMIT: u64 = u16::MAX as u64;
/// Bytes carved for the MP table and `$PIR` (255 CPUs and 128 PCI pins take 6.3 KiB).
pub(crate) const LEGACY_AREA_SIZE: u64 = 8 * 1024;
/// One page for the VM generation ID (16 bytes, reserved: the spec forbids RAM and ACPI
/// reclaimable memory, and libxl maps just that page to update it).
pub(crate) const GENERATION_ID_AREA_SIZE: u64 = 0x1000;
/// Everything [`install`] needs carved.
pub(crate) const AREA_SIZE: u64 =
    ACPI_AREA_SIZE + SMBIOS_AREA_SIZE + LEGACY_AREA_SIZE + GENERATION_ID_AREA_SIZE;

/// The BIOS area legacy scans search: the RSDP anywhere in 0xE0000-0xFFFFF (ACPI 6.5,
/// 5.2.5.1), SMBIOS entry points in 0xF0000-0xFFFFF (SMBIOS 3.x, 5.2), 16-byte aligned.
const BIOS_AREA: PhysRange = PhysRange { start: 0xE_0000, end: 0x10_0000 };
const RSDP_ADDRESS: u64 = 0xF_0000;
const SMBIOS3_ADDRESS: u64 = 0xF_0030;
const SMBIOS2_ADDRESS: u64 = 0xF_0050;
/// The MP floating pointer (16 bytes) and the `$PIR` (at most 544 bytes), for OS scans.
const MP_FLOATING_ADDRESS: u64 = 0xF_0070;
const PIR_ADDRESS: u64 = 0xF_0080;
/// Anchors of entry points an earlier firmware may have left; ours must be the only ones.
const ANCHORS: [&[u8]; 6] = [b"RSD PTR ", b"_SM3_", b"_SM_", b"_DMI_", b"_MP_", b"$PIR"];
/// The BDA word holding the EBDA's segment, which OSes scan for the RSDP first.
const EBDA_SEGMENT_POINTER: u64 = 0x40E;

/// Where the tables went, for the memory map and the hand-off.
#[derive(Debug)]
pub(crate) struct Installed {
    /// The ACPI tables; `None` when the platform wants none (Xen's `platform/acpi=0`).
    pub acpi: Option<InstalledAcpi>,
    /// The SMBIOS 2.x entry point next to the table (copies in the BIOS area as well).
    pub smbios2: u64,
    /// The SMBIOS table (reserved in the memory map).
    pub smbios_table: PhysRange,
    /// The MP table and `$PIR` (reserved), when there are several CPUs.
    pub legacy: Option<InstalledLegacy>,
    /// The page holding the VM generation ID (reserved), when there is one.
    pub generation_id: Option<PhysRange>,
}

/// Where the MP table and `$PIR` went (the copies SeaBIOS takes; the BIOS area has more).
#[derive(Debug)]
pub(crate) struct InstalledLegacy {
    pub mp_floating: u64,
    pub pir: Option<PhysRange>,
    pub area: PhysRange,
}

/// Where the ACPI tables went.
#[derive(Debug)]
pub(crate) struct InstalledAcpi {
    /// The RSDP next to the tables (its copy in the BIOS area is for legacy scans).
    pub rsdp: u64,
    /// What the memory map marks ACPI NVS: the FACS, after the TPM's event log when there
    /// is a TPM (an OS must keep both, across S3 and S4 as well).
    pub facs: PhysRange,
    /// The other ACPI tables (ACPI reclaimable).
    pub tables: PhysRange,
}

impl Installed {
    pub fn rsdp(&self) -> Option<u64> {
        self.acpi.as_ref().map(|acpi| acpi.rsdp)
    }

    /// What a BIOS payload is told of the tables (SeaBIOS's info table, OVMF's table list):
    /// the 32-bit addresses of the entry points that have one.
    pub fn bios_tables(&self) -> BiosTables {
        let legacy = self.legacy.as_ref();
        BiosTables {
            rsdp: self.rsdp().and_then(|a| u32::try_from(a).ok()),
            smbios_entry: u32::try_from(self.smbios2).ok(),
            mp_floating: legacy.and_then(|l| u32::try_from(l.mp_floating).ok()),
            pir: legacy.and_then(|l| l.pir).and_then(|r| u32::try_from(r.start).ok()),
        }
    }
}

/// Everything the tables describe.
#[derive(Debug)]
pub(crate) struct Platform<'a> {
    /// The chipset in ACPI mode, when the platform has ACPI at all (Xen: `platform/acpi`).
    /// Without it an OS finds the CPUs and interrupt routing in the MP table and $PIR.
    pub acpi: Option<AcpiMode>,
    pub chipset: Chipset,
    /// Whether the BIOS area must be unlocked (PAM) to write the entry points there.
    pub bios_area: BiosAreaGate,
    pub pci: &'a PciSetup,
    pub cpus: &'a [MadtProcessor],
    pub topology: CpuTopology,
    pub ioapic_id: u8,
    pub ioapic_inputs: u16,
    pub uuid: Option<[u8; 16]>,
    /// SRAT and SLIT contents (Xen's vNUMA).
    pub numa: Option<&'a crate::acpi::numa::NumaTables>,
    /// The NUMA node of each expander bridge's root bus (by bus number), as QEMU's own
    /// tables give it.
    pub expander_nodes: &'a [(u8, u32)],
    /// The sleep states the SSDT advertises besides S5.
    pub sleep_states: SleepStates,
    /// The VM generation ID (Xen's `platform/generation-id`).
    pub generation_id: Option<[u64; 2]>,
    /// SMBIOS strings set by the platform's owner (over the builder's defaults).
    pub strings: &'a BiosStrings,
    /// vCPU hot-add (Xen): the processors follow the device model's presence bitmap.
    pub cpu_hotplug: Option<crate::acpi::ssdt::CpuHotplug>,
    /// The legacy ISA devices that answer (the DSDT declares them present).
    pub legacy: crate::chipset::isa::LegacyDevices,
    /// QEMU's SMBIOS structure table, taken as it is (the firmware's own structures fill in
    /// the types it lacks).
    pub qemu_smbios: Option<&'a [u8]>,
    /// What the platform's owner asks for besides (Xen's keys; nothing under QEMU).
    pub requests: TableRequests,
}

/// Tables Xen's toolstack asks for beyond the platform's own, with hvmloader's keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TableRequests {
    /// `platform/tpm_version`: the interface a TPM is looked for on.
    pub tpm: Option<TpmInterface>,
    /// `platform/acpi_laptop_slate`: Windows' laptop/slate device.
    pub laptop_slate: bool,
    /// `hvmloader/acpi/{address,length}`: ACPI tables to pass through.
    pub acpi_passthrough: Option<PhysRange>,
    /// `hvmloader/smbios/{address,length}`: SMBIOS structures to pass through.
    pub smbios_passthrough: Option<PhysRange>,
}

impl TableRequests {
    /// What `config`'s keys ask for.
    pub fn from_xen(config: &XenConfig) -> Self {
        TableRequests {
            tpm: match config.tpm_version {
                TpmVersion::Tpm12 => Some(TpmInterface::Tis),
                TpmVersion::Tpm20 => Some(TpmInterface::Crb),
                TpmVersion::None => None,
            },
            laptop_slate: config.acpi_laptop_slate,
            acpi_passthrough: config.acpi_passthrough,
            smbios_passthrough: config.smbios_passthrough,
        }
    }
}

/// What the probes of optional devices found, for the ACPI tables.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Probes {
    /// The TPM interface asked for, and whether a TPM answers on it.
    pub tpm: Option<(TpmInterface, bool)>,
    /// The HPET's capabilities register, when there is an HPET.
    pub hpet_block_id: Option<u32>,
}

/// What ACPI mode on the chipset gave the tables.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AcpiMode {
    pub pm: PmBlocks,
    /// `_OSC` may grant native PCIe hot-plug (Q35 without the device model's ACPI hot-plug).
    pub native_pcie_hotplug: bool,
}

/// Whether a TPM answers on `interface` at the TCG's fixed address (reads of its ID
/// registers, which have no side effects; all ones where nothing is).
fn tpm_answers(machine: &impl Hardware, interface: TpmInterface) -> Result<bool, Fatal> {
    let range = PhysRange { start: tpm::REGISTERS, end: tpm::REGISTERS + tpm::LOCALITY_SIZE };
    Ok(interface.answers(&machine.device_registers(range)?))
}

/// The HPET's capabilities register reads all ones or zero when there is no HPET.
fn hpet_block_id(machine: &impl Hardware) -> Result<Option<u32>, Fatal> {
    use crate::arch::Mmio;
    let range = PhysRange { start: acpi::HPET_ADDRESS, end: acpi::HPET_ADDRESS + 0x400 };
    let id = machine.device_registers(range)?.read32(0);
    Ok((id != 0 && id != u32::MAX).then_some(id))
}

/// Where each part of the carved area goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Areas {
    pub acpi: PhysRange,
    pub smbios: PhysRange,
    pub legacy: PhysRange,
    pub generation_id: PhysRange,
}

impl Areas {
    /// `area` ([`AREA_SIZE`] bytes carved from RAM) cut into its parts.
    pub fn split(area: PhysRange) -> Self {
        let acpi = PhysRange { start: area.start, end: area.start + ACPI_AREA_SIZE };
        let smbios = PhysRange { start: acpi.end, end: acpi.end + SMBIOS_AREA_SIZE };
        let legacy = PhysRange { start: smbios.end, end: smbios.end + LEGACY_AREA_SIZE };
        Areas {
            acpi,
            smbios,
            legacy,
            generation_id: PhysRange { start: legacy.end, end: area.end },
        }
    }
}

/// The parts of the carved area as bytes, zeroed: RAM on the machine, buffers in tests.
#[derive(Debug)]
pub(crate) struct Regions<'r> {
    pub acpi: &'r mut [u8],
    pub smbios: &'r mut [u8],
    pub legacy: &'r mut [u8],
    pub generation_id: &'r mut [u8],
}

/// What the tables need from the machine, read before anything is written.
#[derive(Debug, Default)]
pub(crate) struct Gathered<'m> {
    /// ACPI tables to pass through (only when there are ACPI tables to add them to).
    pub acpi_blob: Option<Blob<'m>>,
    /// SMBIOS structures to pass through.
    pub smbios_blob: Option<Blob<'m>>,
    pub probes: Probes,
    /// The RAM ranges of the memory map, which SMBIOS describes.
    pub ram: Vec<PhysRange>,
}

/// What building the tables leaves: where they went, and the copies of their entry points
/// that go into the BIOS area for legacy scans.
#[derive(Debug)]
pub(crate) struct Built {
    pub installed: Installed,
    /// What the self-test reads back, when there are ACPI tables.
    pub acpi: Option<libacpi::InstallSummary>,
    /// (address in the BIOS area, bytes), in writing order.
    pub bios_copies: Vec<(u64, Vec<u8>)>,
}

/// Builds and installs the ACPI and SMBIOS tables for `platform` in `area` (carved RAM of
/// [`AREA_SIZE`] bytes) and their entry points: what they need is read from the machine
/// ([`gather`]), the tables are built into the carved RAM ([`build`], which touches nothing
/// else), and the entry points' copies are written to the BIOS area ([`commit_bios_area`]).
pub(crate) fn install<H: Hardware>(
    machine: &H,
    platform: &Platform<'_>,
    boot: &BootInfo,
    area: PhysRange,
    self_checks: bool,
) -> Result<Installed, Fatal> {
    let ram: Vec<PhysRange> =
        boot.memory_map.iter().filter(|r| r.kind == MemoryKind::Ram).map(|r| r.range).collect();
    // Held, so that nothing is written over them while the tables are built (the carve
    // avoided them).
    let (acpi_held, smbios_held) = hold_blobs(machine, platform, &ram)?;
    let (acpi_blob, smbios_blob) = (as_blob::<H>(&acpi_held), as_blob::<H>(&smbios_held));
    let gathered = gather(machine, platform, ram, acpi_blob, smbios_blob)?;
    let areas = Areas::split(area);
    let mut acpi = machine.ram(areas.acpi)?;
    let mut smbios = machine.ram(areas.smbios)?;
    let mut legacy = machine.ram(areas.legacy)?;
    let mut generation_id = machine.ram(areas.generation_id)?;
    let regions = Regions {
        acpi: &mut acpi,
        smbios: &mut smbios,
        legacy: &mut legacy,
        generation_id: &mut generation_id,
    };
    let built = build(platform, &gathered, regions, areas)?;
    drop((acpi, smbios, legacy, generation_id));
    commit_bios_area(machine, platform.bios_area, &built.bios_copies)?;

    if let (true, Some(summary)) = (self_checks, &built.acpi) {
        let checked =
            selftest::verify(machine.acpi_handler(), summary, platform.cpus, platform.pci.ecam)?;
        info!("self-check: {checked} ACPI tables parse back and match the platform");
    }
    Ok(built.installed)
}

/// What the tables need from the machine besides the blobs the platform's owner names:
/// the optional devices' probes.
fn gather<'m>(
    machine: &impl Hardware,
    platform: &Platform<'_>,
    ram: Vec<PhysRange>,
    acpi_blob: Option<Blob<'m>>,
    smbios_blob: Option<Blob<'m>>,
) -> Result<Gathered<'m>, Fatal> {
    let requests = platform.requests;
    let probes = match platform.acpi {
        Some(_) => Probes {
            tpm: match requests.tpm {
                Some(interface) => Some((interface, tpm_answers(machine, interface)?)),
                None => None,
            },
            hpet_block_id: hpet_block_id(machine)?,
        },
        None => Probes::default(),
    };
    Ok(Gathered { acpi_blob, smbios_blob, probes, ram })
}

/// Builds every table into `regions` (at `areas`, zeroed here first) from `platform` and
/// what was `gathered`, and says where they went and what the BIOS area gets. Reaches
/// nothing but its arguments.
pub(crate) fn build(
    platform: &Platform<'_>,
    gathered: &Gathered<'_>,
    regions: Regions<'_>,
    areas: Areas,
) -> Result<Built, Fatal> {
    let requests = platform.requests;
    let smbios_passthrough = gathered.smbios_blob.as_ref().map(smbios_passthrough).transpose()?;
    let qemu_smbios = platform.qemu_smbios.map(qemu_smbios).transpose()?;
    let mut info = SmbiosInfo::new(platform.topology, &gathered.ram);
    info.system.uuid = platform.uuid;
    platform.strings.apply(&mut info);
    info.passthrough = smbios_passthrough.as_ref();
    info.qemu = qemu_smbios.as_ref();

    regions.acpi.fill(0);
    regions.smbios.fill(0);
    regions.legacy.fill(0);
    regions.generation_id.fill(0);
    let smbios = SmbiosTable::build_into(&info, regions.smbios)?;
    let legacy = install_legacy(platform, regions.legacy, areas.legacy)?;
    let generation_id = match platform.generation_id {
        Some(id) if platform.acpi.is_some() => {
            regions.generation_id[..GENERATION_ID_SIZE].copy_from_slice(&generation_id_bytes(id));
            info!(
                "VM generation ID {:#018x}:{:#018x} at {:#x}",
                id[0], id[1], areas.generation_id.start
            );
            Some(areas.generation_id)
        }
        _ => None,
    };
    let entry_points = smbios.entry_points(areas.smbios.start)?;
    // A copy of the 2.x entry point in RAM next to the table, for hand-offs: a BIOS image
    // copied into 0xC0000-0xFFFFF overwrites the BIOS-area copies.
    let smbios2_ram_offset = (smbios.len() as u64).next_multiple_of(16);
    regions.smbios[smbios2_ram_offset as usize..][..entry_points.smbios2.len()]
        .copy_from_slice(&entry_points.smbios2);
    let mut bios_copies = alloc::vec![
        (SMBIOS3_ADDRESS, entry_points.smbios3.to_vec()),
        (SMBIOS2_ADDRESS, entry_points.smbios2.to_vec()),
    ];
    // The RSDP lives with the tables (what hand-offs get) and, for legacy scans, in the
    // BIOS area.
    let installed = platform.acpi.map(|mode| {
        install_acpi(
            platform,
            mode,
            gathered.probes,
            regions.acpi,
            areas.acpi.start,
            generation_id,
            gathered.acpi_blob.as_ref(),
        )
    });
    if let Some(Ok((summary, _))) = &installed {
        bios_copies.push((RSDP_ADDRESS, summary.rsdp.to_vec()));
    }
    if let Some(legacy) = &legacy {
        // The floating pointer keeps pointing at the configuration table in reserved RAM.
        let floating = (legacy.mp_floating - areas.legacy.start) as usize;
        bios_copies.push((
            MP_FLOATING_ADDRESS,
            regions.legacy[floating..][..FLOATING_POINTER_LEN].to_vec(),
        ));
        if let Some(pir) = legacy.pir {
            let table = &regions.legacy[(pir.start - areas.legacy.start) as usize..];
            bios_copies.push((PIR_ADDRESS, table[..pir.len() as usize].to_vec()));
        }
    }
    info!(
        "SMBIOS 3.0: {} structures, {} bytes at {:#x}; entry points at {SMBIOS3_ADDRESS:#x} \
         (_SM3_) and {SMBIOS2_ADDRESS:#x} (_SM_)",
        smbios.structure_count(),
        smbios.len(),
        areas.smbios.start
    );
    let smbios_table = PhysRange {
        start: areas.smbios.start,
        end: (areas.smbios.start + smbios2_ram_offset + 0x20).next_multiple_of(0x1000),
    };
    let smbios2 = areas.smbios.start + smbios2_ram_offset;
    let Some(installed) = installed else {
        info!("ACPI: no tables, as the platform asks (platform/acpi=0)");
        if requests.tpm.is_some() || requests.laptop_slate || requests.acpi_passthrough.is_some() {
            info!("ACPI: so no TPM, laptop/slate or passed-through tables either");
        }
        let installed = Installed { acpi: None, smbios2, smbios_table, legacy, generation_id };
        return Ok(Built { installed, acpi: None, bios_copies });
    };
    let (summary, tpm_log) = installed.map_err(|error| match (error, &gathered.acpi_blob) {
        (libacpi::Error::BlobTable { .. }, Some(blob)) => {
            Fatal::from(PassthroughError::Acpi { blob: blob.range, error })
        }
        (error, _) => Fatal::from(error),
    })?;
    info!("ACPI: RSDP at {:#x}, copy at {RSDP_ADDRESS:#x}", summary.rsdp_address);
    for table in summary.tables() {
        info!(
            "ACPI: {} at {:#x}, {} bytes",
            core::str::from_utf8(&table.signature.0).unwrap_or("????"),
            table.address,
            table.length
        );
    }

    let facs = summary.find(libacpi::Signature(*b"FACS")).expect("the FACS is always installed");
    let facs = PhysRange {
        start: tpm_log.map_or(facs.address, |log| log.start),
        end: facs.address + u64::from(facs.length),
    };
    // The installer's region follows the TPM log, when there is one.
    let tables_base = tpm_log.map_or(areas.acpi.start, |log| log.end);
    let acpi_end = (tables_base + summary.bytes_used as u64).next_multiple_of(0x1000);
    let acpi = InstalledAcpi {
        rsdp: summary.rsdp_address,
        facs,
        tables: PhysRange { start: facs.end, end: acpi_end },
    };
    let installed = Installed { acpi: Some(acpi), smbios2, smbios_table, legacy, generation_id };
    Ok(Built { installed, acpi: Some(summary), bios_copies })
}

/// Writes `copies` into the BIOS area, unlocked (PAM) for it and locked again after, once
/// the entry points an earlier firmware left there and in the EBDA are erased: ours must be
/// the only ones legacy scans find.
fn commit_bios_area(
    machine: &impl Hardware,
    gate: BiosAreaGate,
    copies: &[(u64, Vec<u8>)],
) -> Result<(), Fatal> {
    let ebda_stale = erase_stale_ebda_rsdp(machine)?;
    let mut cfg = Cf8::new(machine.ports());
    gate.set(&mut cfg, BiosArea::ReadWrite).map_err(Fatal::Pam)?;
    // Shadow RAM below 1 MiB, writable until locked again below.
    let mut bios = machine.ram(BIOS_AREA)?;
    let stale = erase_anchors(&mut bios) + ebda_stale;
    for (address, bytes) in copies {
        let at = (address - BIOS_AREA.start) as usize;
        bios[at..][..bytes.len()].copy_from_slice(bytes);
    }
    drop(bios);
    gate.set(&mut cfg, BiosArea::ReadOnly).map_err(Fatal::Pam)?;
    if stale > 0 {
        info!("erased {stale} entry point(s) an earlier firmware left in the BIOS area");
    }
    Ok(())
}

/// The MP table and, on i440FX, the `$PIR`, for OSes that use no ACPI, written at the start
/// of `region` (RAM at `area`), when there is more than one CPU (hvmloader's rule) and
/// every APIC ID fits the MP table's 8 bits.
fn install_legacy(
    platform: &Platform<'_>,
    region: &mut [u8],
    area: PhysRange,
) -> Result<Option<InstalledLegacy>, Fatal> {
    let cpus = platform.cpus;
    if cpus.len() < 2 {
        return Ok(None);
    }
    if let Some(cpu) = cpus.iter().find(|c| c.apic_id > legacy::mptable::MAX_APIC_ID) {
        info!("MP table: none, APIC ID {} does not fit its 8 bits (x2APIC)", cpu.apic_id);
        return Ok(None);
    }
    let chipset = platform.chipset;
    let wiring = platform.pci.wiring;
    let link_bitmap = wiring.link_irqs().iter().fold(0u16, |bits, &irq| bits | 1 << irq);
    let pins = Bus0Pins::from_routes(&platform.pci.routes);
    let link_of = |device: u8, pin: IntxPin| wiring.bus0_link(device, pin);
    let pci_intx: Vec<PciIntx> = pins
        .iter()
        .map(|(device, pin)| PciIntx { device, pin, gsi: wiring.apic_gsi(device, pin) as u8 })
        .collect();
    let mp_cpus: Vec<MpCpu> = cpus
        .iter()
        .map(|c| MpCpu { apic_id: c.apic_id, enabled: c.state == ProcessorState::Enabled })
        .collect();
    let signature = crate::arch::cpuid(1, 0);
    let last_bus = platform.pci.topology.functions.iter().map(|f| f.bdf.bus()).max().unwrap_or(0);
    let input = MpInput {
        cpus: &mp_cpus,
        cpu_signature: signature.eax,
        cpu_features: signature.edx,
        isa_bus_id: last_bus.saturating_add(1),
        ioapic_id: platform.ioapic_id,
        ioapic_inputs: platform.ioapic_inputs,
        pci_link_irqs: link_bitmap,
        pci_intx: &pci_intx,
    };
    let mp = write_mp_table(&input, region, area.start)?;
    info!(
        "MP table: floating pointer at {:#x} (copy at {MP_FLOATING_ADDRESS:#x}), {} entries, \
         {} bytes",
        mp.floating_pointer, mp.entry_count, mp.config_len
    );
    let pir = match chipset {
        Chipset::I440fx => {
            let offset = mp.len.next_multiple_of(legacy::pir::PIR_ALIGN as usize);
            let input = PirInput {
                router: chipset.interrupt_router(),
                compatible_router: legacy::pir::PIIX_COMPATIBLE_ROUTER,
                exclusive_irqs: 0,
                devices: pins.devices(),
                irq_bitmap: link_bitmap,
            };
            let link_value = |device, pin| Chipset::pirq_register(link_of(device, pin)) as u8;
            let len = write_pir(&input, link_value, &mut region[offset..])?;
            let address = area.start + offset as u64;
            info!(
                "$PIR: at {address:#x} (copy at {PIR_ADDRESS:#x}), {} slots, {len} bytes",
                pins.devices().count_ones()
            );
            Some(PhysRange { start: address, end: address + len as u64 })
        }
        // ICH9's router has no $PIR-compatible PIIX identity; ACPI's _PRT describes it.
        Chipset::Q35 => None,
    };
    let end = pir.map_or(area.start + mp.len as u64, |pir| pir.end);
    Ok(Some(InstalledLegacy {
        mp_floating: mp.floating_pointer,
        pir,
        area: PhysRange { start: area.start, end: end.next_multiple_of(0x1000) },
    }))
}

/// Builds the runtime SSDT and installs every ACPI table in `region` (at `address`, zeroed),
/// after the TPM's event log when a TPM answers. Returns where the log went.
fn install_acpi(
    platform: &Platform<'_>,
    mode: AcpiMode,
    probes: Probes,
    region: &mut [u8],
    address: u64,
    generation_id: Option<PhysRange>,
    acpi_blob: Option<&Blob<'_>>,
) -> Result<(libacpi::InstallSummary, Option<PhysRange>), libacpi::Error> {
    let mut passthrough: Vec<TableInBuffer<'_>> = Vec::new();
    if let Some(blob) = acpi_blob {
        for table in ConcatenatedTables::new(blob.bytes) {
            passthrough.push(table?);
        }
    }
    let tpm = probes.tpm.and_then(|(interface, answers)| {
        if !answers {
            info!(
                "TPM: no {} answers at {:#x}, the interface platform/tpm_version selects: no \
                 TPM tables",
                interface.name(),
                tpm::REGISTERS
            );
        }
        answers.then_some(interface)
    });
    // The log first: the caller marks it ACPI NVS with the FACS that follows it.
    let log_len = if tpm.is_some() { u64::from(tpm::LOG_AREA_SIZE) } else { 0 };
    let tpm_log = tpm.map(|_| PhysRange { start: address, end: address + log_len });
    let tpm = tpm.map(|interface| {
        info!(
            "TPM: a {} answers at {:#x}: {} table and \\_SB.TPM, event log of {} KiB at {:#x}",
            interface.name(),
            tpm::REGISTERS,
            if interface == TpmInterface::Tis { "TCPA" } else { "TPM2" },
            tpm::LOG_AREA_SIZE >> 10,
            address
        );
        TpmTables { interface, log_area: address }
    });
    let (region, address) = (&mut region[log_len as usize..], address + log_len);
    if platform.requests.laptop_slate {
        info!("ACPI: laptop/slate device \\_SB.CONV, as platform/acpi_laptop_slate asks");
    }
    if let Some(blob) = acpi_blob {
        info!(
            "ACPI: {} table(s) passed through from {} ({} bytes at {:#x})",
            passthrough.len(),
            passthrough::ACPI_KEY,
            blob.bytes.len(),
            blob.range.start
        );
    }
    let pci = platform.pci;
    let last_bus = match (platform.chipset, pci.ecam) {
        // Hot-added bridges may number buses up to the end of what ECAM reaches, or the
        // first expander's root bus.
        (_, Some(ecam)) => (ecam.buses - 1) as u8,
        (_, None) => u8::MAX,
    };
    let last_bus = pci.expanders.iter().map(|e| *e.buses.start() - 1).fold(last_bus, u8::min);
    let expanders: Vec<ExpanderRoot> = pci
        .expanders
        .iter()
        .map(|e| ExpanderRoot {
            bus_range: e.buses.clone(),
            pcie: e.pcie,
            io: e.io.clone(),
            mem: e.mem.clone(),
            proximity: platform
                .expander_nodes
                .iter()
                .find(|&&(bus, _)| bus == *e.buses.start())
                .map(|&(_, node)| node),
            intx: core::array::from_fn(|entry| {
                let (slot, pin) = ((entry / 4) as u8, entry % 4);
                let pin = crate::pci::IntxPin::from_register(pin as u8 + 1).expect("0..4");
                let (device, pin) = pci.wiring.expander_input(e.bdf.device(), pin.swizzle(slot));
                [device, pin.index()]
            }),
        })
        .collect();
    let ssdt_input = SsdtInput {
        cpus: platform.cpus,
        bus_range: 0..=last_bus,
        low_windows: &pci.low_window,
        high_window: pci.high_window.clone(),
        ecam: pci.ecam,
        sleep_states: platform.sleep_states,
        expanders: &expanders,
        cpu_hotplug: platform.cpu_hotplug,
        generation_id: generation_id.map(|page| page.start),
    };
    let settings = acpi::dsdt::DsdtSettings {
        xen_intx: pci.wiring.is_xen(),
        native_pcie_hotplug: mode.native_pcie_hotplug,
        legacy: platform.legacy,
    };
    let dsdt = acpi::dsdt::installed_dsdt(platform.chipset, settings)?;
    let write_ssdt = |out: &mut [u8]| build_ssdt(&ssdt_input, out);
    let ssdt_body =
        AmlBody::WrittenInPlace { len: ssdt_body_len(&ssdt_input)?, write: &write_ssdt };
    let set = TableSet {
        chipset: platform.chipset,
        pm: mode.pm,
        cpus: platform.cpus,
        ioapic_id: platform.ioapic_id,
        intx_wiring: platform.pci.wiring,
        hpet_block_id: probes.hpet_block_id,
        ecam: platform.pci.ecam,
        dsdt: &dsdt,
        ssdt_body,
        numa: platform.numa,
        extra: ExtraTables {
            tpm,
            laptop_slate: platform.requests.laptop_slate,
            cpu_hotplug: platform.cpu_hotplug.is_some(),
            passthrough: &passthrough,
        },
    };

    let summary = acpi::install(&set, region, address, RsdpPlacement::InRegion)?;
    Ok((summary, tpm_log))
}

/// A blob the platform's owner names, with the handle that holds it.
type HeldBlob<'m, H> = Option<(PhysRange, <H as Hardware>::Ram<'m>)>;

fn as_blob<'a, H: Hardware>(held: &'a HeldBlob<'_, H>) -> Option<Blob<'a>> {
    held.as_ref().map(|(range, bytes)| Blob { range: *range, bytes })
}

/// Holds the blobs `platform` asks for (the ACPI one only when there are ACPI tables to add
/// it to), checked to lie in `ram` (the RAM ranges).
fn hold_blobs<'m, H: Hardware>(
    machine: &'m H,
    platform: &Platform<'_>,
    ram: &[PhysRange],
) -> Result<(HeldBlob<'m, H>, HeldBlob<'m, H>), Fatal> {
    let requests = platform.requests;
    let hold = |key, range: Option<PhysRange>, limit| match range {
        Some(range) => passthrough::hold(machine, ram, key, range, limit)
            .map(|held| Some((range, held)))
            .map_err(Fatal::from),
        None => Ok(None),
    };
    let acpi_range = requests.acpi_passthrough.filter(|_| platform.acpi.is_some());
    let acpi = hold(passthrough::ACPI_KEY, acpi_range, ACPI_PASSTHROUGH_LIMIT)?;
    let smbios =
        hold(passthrough::SMBIOS_KEY, requests.smbios_passthrough, SMBIOS_PASSTHROUGH_LIMIT)?;
    Ok((acpi, smbios))
}

/// The SMBIOS blob's structures, checked, each logged with what the table does with it.
/// QEMU's structures, checked; the log says which types came from QEMU.
fn qemu_smbios(table: &[u8]) -> Result<QemuStructures<'_>, Fatal> {
    let structures = QemuStructures::parse(table)?;
    info!(
        "SMBIOS: {} structure(s) of type(s) {:?} from QEMU ({} bytes)",
        structures.structures().len(),
        structures.types(),
        table.len()
    );
    Ok(structures)
}

fn smbios_passthrough<'b>(blob: &Blob<'b>) -> Result<SmbiosPassthrough<'b>, Fatal> {
    let passed = SmbiosPassthrough::parse(blob.bytes)
        .map_err(|error| Fatal::from(PassthroughError::Smbios { blob: blob.range, error }))?;
    info!(
        "SMBIOS: {} structure(s) passed through from {} ({} bytes at {:#x})",
        passed.structures().len(),
        passthrough::SMBIOS_KEY,
        blob.bytes.len(),
        blob.range.start
    );
    for structure in passed.structures() {
        info!(
            "SMBIOS: passed-through structure {} (type {}, {} bytes): {}",
            structure.index,
            structure.kind(),
            structure.bytes.len(),
            passed.use_of(structure)
        );
    }
    Ok(passed)
}

/// Clears every entry-point anchor (16-byte aligned) in `area`; returns how many.
fn erase_anchors(area: &mut [u8]) -> usize {
    let mut erased = 0;
    for offset in (0..area.len()).step_by(16) {
        for anchor in ANCHORS {
            if area[offset..].starts_with(anchor) {
                area[offset..offset + anchor.len()].fill(0);
                erased += 1;
            }
        }
    }
    erased
}

/// OSes look for the RSDP in the first KiB of the EBDA before the BIOS area: clear any
/// found there. Returns how many.
fn erase_stale_ebda_rsdp(machine: &impl Hardware) -> Result<usize, Fatal> {
    // The identity map covers the BDA (through page 0 on demand).
    let mut segment = [0u8; 2];
    if machine.memory().read(EBDA_SEGMENT_POINTER, &mut segment).is_err() {
        return Ok(0);
    }
    let ebda = u64::from(u16::from_le_bytes(segment)) << 4;
    // A plausible EBDA lies just below the VGA window; anything else is not one.
    if !(0x8_0000..0xA_0000).contains(&ebda) {
        return Ok(0);
    }
    // RAM below the VGA window that the firmware does not use otherwise.
    let range = PhysRange { start: ebda, end: (ebda + 1024).min(0xA_0000) };
    Ok(erase_anchors(&mut machine.ram(range)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::BufferMapper;
    use crate::chipset::IntxWiring;
    use crate::chipset::isa::LegacyDevices;
    use libacpi::tables::ProcessorState;

    const AREA: PhysRange = PhysRange { start: 0x7F0_0000, end: 0x7F0_0000 + AREA_SIZE };

    fn pci_setup(chipset: Chipset) -> PciSetup {
        PciSetup {
            topology: crate::pci::Topology::default(),
            ecam: None,
            low_window: alloc::vec![0xE000_0000..0xFC00_0000],
            high_window: None,
            high_used: None,
            unplaced: 0,
            wiring: IntxWiring::new(chipset, false),
            routes: Vec::new(),
            expanders: Vec::new(),
            hole: 0xE000_0000..0xFC00_0000,
        }
    }

    /// Builds the tables of an i440FX machine with `cpus` vCPUs into buffers.
    fn build_i440(cpus: &[MadtProcessor], acpi: bool) -> (Built, [Vec<u8>; 4]) {
        let pci = pci_setup(Chipset::I440fx);
        let strings = BiosStrings::default();
        // The PIIX4's blocks where the firmware puts them, which is where Xen has its own.
        let pm = crate::platform::xen::XEN_PM_BLOCKS;
        let platform = Platform {
            acpi: acpi.then_some(AcpiMode { pm, native_pcie_hotplug: false }),
            chipset: Chipset::I440fx,
            bios_area: BiosAreaGate::Pam(Chipset::I440fx),
            pci: &pci,
            cpus,
            topology: CpuTopology {
                sockets: 1,
                cores_per_socket: cpus.len() as u16,
                threads_per_core: 1,
            },
            ioapic_id: 2,
            ioapic_inputs: 24,
            uuid: None,
            numa: None,
            expander_nodes: &[],
            sleep_states: SleepStates::NONE,
            generation_id: Some([1, 2]),
            strings: &strings,
            cpu_hotplug: None,
            legacy: LegacyDevices { com1: true, com2: false, lpt1: false, floppy: false },
            qemu_smbios: None,
            requests: TableRequests::default(),
        };
        let gathered = Gathered {
            ram: alloc::vec![PhysRange { start: 0, end: 0x800_0000 }],
            ..Gathered::default()
        };
        let areas = Areas::split(AREA);
        let mut buffers = [areas.acpi, areas.smbios, areas.legacy, areas.generation_id]
            .map(|range| alloc::vec![0xAAu8; range.len() as usize]);
        let [acpi_buf, smbios_buf, legacy_buf, genid_buf] = &mut buffers;
        let regions = Regions {
            acpi: acpi_buf,
            smbios: smbios_buf,
            legacy: legacy_buf,
            generation_id: genid_buf,
        };
        let built = build(&platform, &gathered, regions, areas).unwrap();
        (built, buffers)
    }

    fn processors(n: u32) -> Vec<MadtProcessor> {
        (0..n)
            .map(|i| MadtProcessor { uid: i, apic_id: i, state: ProcessorState::Enabled })
            .collect()
    }

    #[test]
    fn built_tables_parse_back_and_their_entry_points_go_to_the_bios_area() {
        let cpus = processors(2);
        let (built, buffers) = build_i440(&cpus, true);
        let areas = Areas::split(AREA);
        let summary = built.acpi.as_ref().expect("ACPI tables were asked for");
        // The BIOS area as the commit step would leave it, for the RSDP's legacy copy.
        let mut bios = alloc::vec![0u8; BIOS_AREA.len() as usize];
        for (address, bytes) in &built.bios_copies {
            let at = (address - BIOS_AREA.start) as usize;
            bios[at..][..bytes.len()].copy_from_slice(bytes);
        }
        let memory = BufferMapper::new(&[
            (areas.acpi.start, &buffers[0]),
            (areas.generation_id.start, &buffers[3]),
            (BIOS_AREA.start, &bios),
        ]);
        let checked = selftest::verify(memory, summary, &cpus, None).unwrap();
        assert!(checked >= 5, "FADT, MADT, HPET, WAET, SSDT and the DSDT: {checked}");
        // Every entry point has its copy where legacy scans look.
        let copies: Vec<u64> = built.bios_copies.iter().map(|(address, _)| *address).collect();
        assert_eq!(
            copies,
            [SMBIOS3_ADDRESS, SMBIOS2_ADDRESS, RSDP_ADDRESS, MP_FLOATING_ADDRESS, PIR_ADDRESS]
        );
        assert!(bios[(RSDP_ADDRESS - BIOS_AREA.start) as usize..].starts_with(b"RSD PTR "));
        assert!(bios[(SMBIOS3_ADDRESS - BIOS_AREA.start) as usize..].starts_with(b"_SM3_"));
        assert!(bios[(MP_FLOATING_ADDRESS - BIOS_AREA.start) as usize..].starts_with(b"_MP_"));
        assert!(bios[(PIR_ADDRESS - BIOS_AREA.start) as usize..].starts_with(b"$PIR"));
        // Where they went: inside their areas, the ID's page reserved with its 16 bytes.
        let installed = &built.installed;
        let acpi = installed.acpi.as_ref().unwrap();
        assert!(areas.acpi.contains_range(&acpi.facs) && areas.acpi.contains_range(&acpi.tables));
        assert!(areas.smbios.contains_range(&installed.smbios_table));
        assert_eq!(installed.generation_id, Some(areas.generation_id));
        assert_eq!(buffers[3][..GENERATION_ID_SIZE], generation_id_bytes([1, 2]));
        assert!(buffers[3][GENERATION_ID_SIZE..].iter().all(|&b| b == 0), "zeroed first");
        let legacy = installed.legacy.as_ref().expect("two CPUs get an MP table");
        assert!(areas.legacy.contains_range(&legacy.area));
    }

    #[test]
    fn without_acpi_only_smbios_and_the_mp_table_are_built() {
        let (built, _) = build_i440(&processors(2), false);
        assert!(built.acpi.is_none() && built.installed.acpi.is_none());
        assert_eq!(built.installed.generation_id, None, "the ID is an ACPI device");
        let copies: Vec<u64> = built.bios_copies.iter().map(|(address, _)| *address).collect();
        assert_eq!(copies, [SMBIOS3_ADDRESS, SMBIOS2_ADDRESS, MP_FLOATING_ADDRESS, PIR_ADDRESS]);
        // One vCPU: no MP table (hvmloader's rule), so nothing but SMBIOS.
        let (built, _) = build_i440(&processors(1), false);
        assert_eq!(built.bios_copies.len(), 2);
    }

    #[test]
    fn xen_keys_become_requests() {
        let defaults = TableRequests::from_xen(&XenConfig::default());
        assert_eq!(
            defaults,
            TableRequests { tpm: Some(TpmInterface::Tis), ..TableRequests::default() },
            "hvmloader looks for a TPM 1.2 unless told otherwise"
        );
        let blob = PhysRange { start: 0x20_0000, end: 0x20_1000 };
        let config = XenConfig {
            tpm_version: TpmVersion::Tpm20,
            acpi_laptop_slate: true,
            acpi_passthrough: Some(blob),
            smbios_passthrough: Some(blob),
            ..XenConfig::default()
        };
        let requests = TableRequests::from_xen(&config);
        assert_eq!(requests.tpm, Some(TpmInterface::Crb));
        assert!(requests.laptop_slate);
        assert_eq!(
            (requests.acpi_passthrough, requests.smbios_passthrough),
            (Some(blob), Some(blob))
        );
        let none = XenConfig { tpm_version: TpmVersion::None, ..XenConfig::default() };
        assert_eq!(TableRequests::from_xen(&none).tpm, None);
        assert!(ACPI_PASSTHROUGH_LIMIT + u64::from(tpm::LOG_AREA_SIZE) <= ACPI_AREA_SIZE);
    }
}
