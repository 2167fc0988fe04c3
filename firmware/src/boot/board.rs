//! What the boot sequence asks of the platform it runs on.
//!
//! [`super::run`] is one sequence for every platform; where Xen and QEMU differ (where
//! machine facts come from, how vCPUs start, what the tables say, whom the machine is
//! handed to), it asks the [`Board`]. The two boards are QEMU ([`qemu::Qemu`], facts from
//! fw_cfg) and Xen ([`crate::platform::xen::XenSetup`], facts from hypercalls, `hvm_info`
//! and xenstore).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ops::Range;

use super::tables::{self, TableRequests};
use super::{Fatal, Hardware, ImageLayout};
use crate::acpi::numa::NumaTopology;
use crate::acpi::ssdt::{CpuHotplug, SleepStates};
use crate::bootinfo::{BootInfo, MemoryRegion};
use crate::chipset::pm::{BiosAreaGate, PmBlocks};
use crate::chipset::{Chipset, IntxWiring};
use crate::cpu::{ApStartup, CpuList};
use crate::e820::E820Map;
use crate::platform::xen::memmap::HoleLimit;
use crate::smbios::BiosStrings;
use libacpi::tables::{MadtProcessor, ProcessorState};

pub(crate) mod qemu;
pub(crate) mod xen;

/// The platform under the boot sequence, asked in the order [`super::run`] needs it.
///
/// Used as `dyn Board`: one copy of the sequence in the image, not one per platform.
pub(crate) trait Board<H: Hardware> {
    /// The low MMIO hole before PCI is placed, from the platform's memory map.
    fn low_hole(&self, boot: &BootInfo) -> Result<Range<u64>, Fatal>;

    /// How INTx reaches the interrupt controller on `chipset`.
    fn intx_wiring(&self, chipset: Chipset) -> IntxWiring;

    /// How many PCI root buses there are besides bus 0 (QEMU's expander bridges).
    fn extra_pci_roots(&mut self) -> Result<u8, Fatal>;

    /// The NUMA topology the platform describes, and the nodes of the `extra_roots`
    /// expander root buses ([`Board::extra_pci_roots`]).
    fn topology(&mut self, extra_roots: u8) -> Result<MachineTopology, Fatal>;

    /// The hole the BARs are placed in, given the one the memory map leaves: `hole` itself,
    /// or a larger one if the platform can move RAM out of the way (Xen, as hvmloader does),
    /// with `boot`'s memory map following the move. `fits` says whether a candidate hole,
    /// with the memory map it would leave, holds every BAR below 4 GiB.
    fn fit_pci_hole(
        &mut self,
        boot: &mut BootInfo,
        hole: Range<u64>,
        fits: &mut dyn FnMut(&Range<u64>, &[MemoryRegion]) -> bool,
    ) -> Result<(Range<u64>, HoleLimit), Fatal>;

    /// How many vCPUs to wait for.
    fn expected_cpus(&mut self) -> Result<u32, Fatal>;

    /// How the application processors are started.
    fn ap_startup(&mut self) -> ApStartup<'_>;

    /// Whether the platform has ACPI at all (Xen's `platform/acpi`).
    fn acpi_enabled(&self) -> bool;

    /// The PM blocks the FADT names, given those the chipset's ACPI mode put in place: where
    /// the platform emulates some itself, there.
    fn acpi_pm_blocks(&mut self, chipset: PmBlocks) -> Result<PmBlocks, Fatal>;

    /// The MADT's view of the CPUs: UIDs in the platform's order, boot CPU first.
    fn madt_processors(&self, cpus: &CpuList) -> Vec<MadtProcessor>;

    /// vCPU hot-add, when the platform's device model offers it.
    fn cpu_hotplug(&self, cpus: &[MadtProcessor]) -> Option<CpuHotplug>;

    /// Where the SMBIOS identity comes from.
    fn smbios(&mut self, chipset: Chipset) -> SmbiosSource;

    /// Reads the platform's own SMBIOS structure table (of the length [`Board::smbios`]
    /// gave) into `into`; `false` (said in the log) when it cannot, and the firmware's own
    /// structures are used instead.
    fn read_smbios_table(&mut self, into: &mut [u8]) -> bool;

    /// The sleep states to advertise besides S5.
    fn sleep_states(&mut self) -> SleepStates;

    /// Whether the BIOS area must be unlocked (PAM) to be written.
    fn bios_area(&self, chipset: Chipset) -> BiosAreaGate;

    /// The VM generation ID, when the platform gives one.
    fn generation_id(&self) -> Option<[u64; 2]>;

    /// Tables the platform's owner asks for beyond the platform's own.
    fn table_requests(&self) -> TableRequests;

    /// Hands the machine to the next program. Returns only when there is none (or when the
    /// machine is simulated and its jump returned).
    fn hand_off(
        self: Box<Self>,
        machine: &H,
        chipset: Chipset,
        boot: &BootInfo,
        e820: &E820Map,
        layout: ImageLayout,
        installed: &tables::Installed,
    ) -> Result<(), Fatal>;
}

/// Where the SMBIOS identity comes from.
pub(crate) struct SmbiosSource {
    /// Strings over the builder's defaults (Xen's `bios-strings/*`).
    pub strings: BiosStrings,
    pub uuid: Option<[u8; 16]>,
    /// The length of QEMU's own structure table, which the tables take as it is: read with
    /// [`Board::read_smbios_table`] into RAM set aside for it, not the heap (QEMU's
    /// structures may be 64 KiB).
    pub qemu_table_len: Option<usize>,
}

/// What the platform says about the machine's NUMA topology.
#[derive(Default)]
pub(crate) struct MachineTopology {
    /// The nodes, their distances and memory, and each vCPU's node; `None` without NUMA.
    pub numa: Option<NumaLayout>,
    /// The node of each expander bridge's root bus that has one: (bus, node).
    pub expander_nodes: Vec<(u8, u32)>,
}

/// A NUMA topology and how a processor is looked up in its vCPU-to-node list.
pub(crate) struct NumaLayout {
    pub topology: NumaTopology,
    /// The index of a processor in [`NumaTopology::vcpu_node`].
    pub vcpu_of: fn(&MadtProcessor) -> u32,
}

/// The MADT's processors for `cpus`: in bring-up order, or by APIC ID with `by_apic_id`;
/// those `enabled` rejects (by APIC ID) are present but not enabled (online capable).
fn madt_list(
    cpus: &CpuList,
    by_apic_id: bool,
    enabled: impl Fn(u32) -> bool,
) -> Vec<MadtProcessor> {
    let mut cpus: Vec<&crate::cpu::Cpu> = cpus.iter().collect();
    if by_apic_id {
        crate::sort::sort_by_key(&mut cpus, |cpu| cpu.apic_id);
    }
    cpus.into_iter()
        .enumerate()
        .map(|(uid, cpu)| MadtProcessor {
            uid: uid as u32,
            apic_id: cpu.apic_id,
            state: if enabled(cpu.apic_id) {
                ProcessorState::Enabled
            } else {
                ProcessorState::OnlineCapable
            },
        })
        .collect()
}
