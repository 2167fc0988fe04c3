//! ACPI: the table set describing the platform the firmware programmed, installed in RAM
//! the memory map marks as ACPI, and checked by an independent parser (the `acpi` crate).
//!
//! [`TableSet`] is everything the tables say; [`install`] lays them out with libacpi's
//! installer. Both are pure, so the host tests install a set into a buffer and parse it back.
//! The DSDTs come from `asl/` ([`dsdt`]); what depends on the run (PCI windows, the ECAM
//! reservation, processor objects) is in the runtime SSDT ([`ssdt`]). Tables a platform's
//! owner asks for besides ([`ExtraTables`]: the TPM's, the laptop/slate device, tables
//! passed through) come last.

pub mod cpu_hotplug;
pub mod dsdt;
pub mod laptop_slate;
pub mod numa;
pub mod qemu_numa;
pub mod selftest;
pub mod ssdt;
pub mod tpm;

use libacpi::tables::{
    AmlBody, AmlTable, Facs, Fadt, Hpet, IapcBootArch, InterruptSourceOverride, IoApic,
    LocalApicNmi, Madt, MadtProcessor, Mcfg, McfgAllocation, PmRegisterBlocks, RawTable, Slit,
    Srat, TableInBuffer, Waet,
};
use libacpi::{Error, InstallSummary, Installer, OemIds, RsdpPlacement, Table};

use crate::chipset::pm::PmBlocks;
use crate::chipset::q35::EcamArea;
use crate::chipset::{Chipset, IntxWiring};

/// Where the IOAPIC lives on both chipsets (its GSI base is 0).
pub const IOAPIC_ADDRESS: u32 = crate::arch::IOAPIC_BASE as u32;
/// The HPET's architectural address on both chipsets (QEMU and Xen).
pub const HPET_ADDRESS: u64 = 0xFED0_0000;

/// Everything the tables describe.
#[derive(Clone, Copy, Debug)]
pub struct TableSet<'a> {
    pub chipset: Chipset,
    pub pm: PmBlocks,
    /// Boot processor first; UIDs match the SSDT's processor objects.
    pub cpus: &'a [MadtProcessor],
    pub ioapic_id: u8,
    /// How PCI INTx is wired: the ISA IRQs its links are routed to get level-triggered
    /// overrides in the MADT with the wiring's polarity.
    pub intx_wiring: IntxWiring,
    /// The HPET's event timer block ID (its capabilities register), when one exists.
    pub hpet_block_id: Option<u32>,
    pub ecam: Option<EcamArea>,
    /// The chipset's DSDT, compiled from asl/.
    pub dsdt: &'a [u8],
    /// The runtime SSDT's AML body (without header), written in place by the firmware.
    pub ssdt_body: AmlBody<'a>,
    /// The SRAT and SLIT contents, for a guest with a virtual NUMA topology.
    pub numa: Option<&'a numa::NumaTables>,
    /// Tables the platform's owner asks for besides.
    pub extra: ExtraTables<'a>,
}

/// Tables beyond the platform's own, each only when asked for (Xen's keys; none under QEMU).
#[derive(Clone, Copy, Debug, Default)]
pub struct ExtraTables<'a> {
    /// The TPM that answered (`platform/tpm_version`): its TCPA or TPM2, and an SSDT with
    /// its device.
    pub tpm: Option<tpm::TpmTables>,
    /// Windows' laptop/slate mode device (`platform/acpi_laptop_slate`), in an SSDT.
    pub laptop_slate: bool,
    /// The vCPU hot-add SSDT (Xen), which the runtime SSDT's processors call into.
    pub cpu_hotplug: bool,
    /// Tables passed through from the platform's owner (`hvmloader/acpi`), checked, added
    /// after every table of the firmware's. None may repeat one of those (SSDTs aside).
    pub passthrough: &'a [TableInBuffer<'a>],
}

impl ExtraTables<'_> {
    /// No extra tables (QEMU, and the tests of the platform's own tables).
    #[cfg(test)]
    pub const NONE: ExtraTables<'static> =
        ExtraTables { tpm: None, laptop_slate: false, cpu_hotplug: false, passthrough: &[] };
}

/// Installs the whole set into `region` (at physical `base`): FACS first (so it sits at
/// the start of the region, 64-byte aligned, where the caller marks it NVS), then DSDT,
/// FADT, MADT, HPET, MCFG, SRAT and SLIT, WAET and the SSDT, then the extra tables (the
/// laptop/slate SSDT, the TPM's SSDT and TCPA or TPM2, the passed-through tables: the order
/// hvmloader adds them in), linked by XSDT and RSDT.
pub fn install(
    set: &TableSet,
    region: &mut [u8],
    base: u64,
    rsdp: RsdpPlacement<'_>,
) -> Result<InstallSummary, Error> {
    let mut installer = Installer::new(region, base, OemIds::xen())?;
    installer.install(&Facs::new(0))?;
    installer.install(&RawTable::new(set.dsdt)?)?;

    let pm = PmRegisterBlocks {
        pm1a_event: set.pm.pm1a_event,
        pm1a_control: set.pm.pm1a_control,
        pm_timer: set.pm.pm_timer,
        gpe0: set.pm.gpe0,
        gpe0_length: set.pm.gpe0_len,
    };
    let boot_arch = match set.chipset {
        Chipset::I440fx => IapcBootArch::I440FX,
        Chipset::Q35 => IapcBootArch::Q35,
    };
    installer.install(&Fadt::new(pm, u16::from(set.pm.sci_irq), boot_arch))?;

    let mut overrides = [InterruptSourceOverride::timer_irq0_to_gsi2(); 8];
    overrides[1] = InterruptSourceOverride::sci(set.pm.sci_irq);
    let mut count = 2;
    let polarity = set.intx_wiring.polarity();
    for &irq in set.intx_wiring.link_irqs() {
        if count < overrides.len() && !overrides[..count].iter().any(|o| o.irq == irq) {
            overrides[count] = InterruptSourceOverride::pci_irq(irq, polarity);
            count += 1;
        }
    }
    installer.install(&Madt {
        local_apic_address: Madt::DEFAULT_LOCAL_APIC_ADDRESS,
        pcat_compat: true,
        processors: set.cpus,
        io_apics: &[IoApic { id: set.ioapic_id, address: IOAPIC_ADDRESS, gsi_base: 0 }],
        overrides: &overrides[..count],
        nmi: Some(LocalApicNmi::LINT1),
    })?;
    if let Some(block_id) = set.hpet_block_id {
        installer.install(&Hpet::new(block_id, HPET_ADDRESS, 0x80))?;
    }
    if let Some(ecam) = set.ecam {
        let allocation = McfgAllocation {
            base_address: ecam.base,
            segment: 0,
            start_bus: 0,
            end_bus: (ecam.buses - 1) as u8,
        };
        installer.install(&Mcfg { allocations: &[allocation] })?;
    }
    if let Some(numa) = set.numa {
        installer.install(&Srat { processors: &numa.processors, memory: &numa.memory })?;
        installer.install(&Slit { localities: numa.localities, distances: &numa.distances })?;
    }
    installer.install(&Waet { rtc_good: true, pm_timer_good: true })?;
    installer.install(&AmlTable::ssdt_of(set.ssdt_body).with_oem_table_id("PLATFORM")?)?;
    if set.extra.cpu_hotplug {
        installer.install(&cpu_hotplug::ssdt(set.chipset)?)?;
    }
    if set.extra.laptop_slate {
        installer.install(&laptop_slate::ssdt()?)?;
    }
    if let Some(tpm) = set.extra.tpm {
        installer.install(&tpm.device_ssdt()?)?;
        installer.install(&tpm.interface_table())?;
    }
    for passed in set.extra.passthrough {
        install_passed_through(&mut installer, passed)?;
    }
    installer.finish(rsdp)
}

/// Adds a passed-through table; a refusal names the table's place in its blob.
fn install_passed_through(
    installer: &mut Installer<'_>,
    passed: &TableInBuffer<'_>,
) -> Result<(), Error> {
    let refuse = |reason| Error::BlobTable {
        index: passed.index,
        offset: passed.offset,
        signature: passed.table.signature(),
        reason,
    };
    match installer.install(&passed.table) {
        Ok(_) => Ok(()),
        Err(Error::DuplicateTable(_)) => Err(refuse("the firmware builds this table itself")),
        Err(Error::ReservedSignature(_)) => Err(refuse("the firmware writes this table itself")),
        Err(Error::RegionFull { .. }) => {
            Err(refuse("it does not fit in what is left of the ACPI area"))
        }
        Err(Error::TooManyTables) => Err(refuse("it is one table more than the firmware can list")),
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests;
