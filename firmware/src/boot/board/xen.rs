//! Xen, where this image replaces hvmloader: machine facts from hypercalls, `hvm_info` and
//! xenstore ([`XenSetup`]), vCPUs started through VCPUOP, INTx as Xen routes it, the BIOS
//! area always RAM, and the hand-off to the BIOS libxl passes.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use super::{Board, MachineTopology, NumaLayout, SmbiosSource, madt_list};
use crate::acpi::numa::NumaTopology;
use crate::acpi::ssdt::{CpuHotplug, SleepStates};
use crate::boot::tables::{self, TableRequests};
use crate::boot::{Fatal, Hardware, ImageLayout};
use crate::bootinfo::{BootInfo, MemoryRegion, PhysRange};
use crate::chipset::pm::{BiosAreaGate, PmBlocks};
use crate::chipset::{Chipset, IntxWiring};
use crate::cpu::{ApStartup, CpuList};
use crate::e820::E820Map;
use crate::pci::Cf8;
use crate::platform::xen::hypercall::Hypercall;
use crate::platform::xen::memmap::HoleLimit;
use crate::platform::xen::{XenCpuid, XenSetup, cmdline_key};
use crate::time::{self, RateSource, TscRate};
use libacpi::tables::MadtProcessor;

/// The Xen platform as the firmware drives it: through the real hypercall page.
pub(crate) type HwXen = XenSetup<crate::arch::HypercallPage>;

/// Starts the board: the TSC rate from Xen's CPUID time leaf, then [`XenSetup::start`]
/// (hypercall page, xenstore, `hvm_info`, Xen's memory map, which replaces the start
/// info's: Xen's start info for HVM firmware carries none). The command line becomes the
/// start info's and the xenstore key's, and the console follows it as soon as it is known.
pub(crate) fn start(
    machine: &crate::arch::Machine,
    leaves: XenCpuid,
    boot: &mut BootInfo,
    cmdline: &mut String,
) -> Result<HwXen, Fatal> {
    if let Some(khz) = leaves.tsc_khz() {
        time::set_tsc_rate(TscRate { khz: khz.into(), source: RateSource::XenCpuid });
    }
    let given = &boot.cmdline;
    let from_key = |key: Option<String>| {
        *cmdline = cmdline_key::combine(given, key.as_deref());
        super::super::settle_console(cmdline);
    };
    let setup = XenSetup::start(leaves, &machine.memory(), from_key)?;
    Ok(board(setup, boot))
}

/// The board `setup` makes, whatever its hypercalls reach (the real page, or a fake one in
/// the host tests of the whole boot): Xen's memory map replaces the start info's.
pub fn board<X: Hypercall>(setup: XenSetup<X>, boot: &mut BootInfo) -> XenSetup<X> {
    boot.memory_map = setup.memory_map.clone();
    setup
}

impl<H: Hardware, X: Hypercall + Copy> Board<H> for XenSetup<X> {
    fn low_hole(&self, _boot: &BootInfo) -> Result<Range<u64>, Fatal> {
        XenSetup::low_hole(self).map_err(Fatal::from)
    }

    fn intx_wiring(&self, chipset: Chipset) -> IntxWiring {
        IntxWiring::new(chipset, true)
    }

    fn extra_pci_roots(&mut self) -> Result<u8, Fatal> {
        Ok(0)
    }

    fn topology(&mut self, _extra_roots: u8) -> Result<MachineTopology, Fatal> {
        let numa = self.vnuma.as_ref().map(|v| NumaLayout {
            topology: NumaTopology {
                nodes: v.nr_vnodes,
                distances: v.distance.clone(),
                vcpu_node: v.vcpu_to_vnode.clone(),
                memory: v.memory.iter().map(|r| (r.start, r.end, r.nid)).collect(),
            },
            // Xen numbers vCPU n with APIC ID 2n.
            vcpu_of: |cpu| cpu.apic_id / 2,
        });
        Ok(MachineTopology { numa, expander_nodes: Vec::new() })
    }

    /// The hole hvmloader would make for these BARs ([`XenSetup::fit_low_hole`]), with
    /// `boot`'s memory map following any RAM it moves.
    fn fit_pci_hole(
        &mut self,
        boot: &mut BootInfo,
        hole: Range<u64>,
        fits: &mut dyn FnMut(&Range<u64>, &[MemoryRegion]) -> bool,
    ) -> Result<(Range<u64>, HoleLimit), Fatal> {
        let mut keep: Vec<PhysRange> = boot.modules.iter().map(|m| m.range).collect();
        keep.push(boot.start_info);
        let fitted = XenSetup::fit_low_hole(self, hole, &keep, fits)?;
        boot.memory_map = self.memory_map.clone();
        Ok((fitted.hole, fitted.limit))
    }

    fn expected_cpus(&mut self) -> Result<u32, Fatal> {
        Ok(XenSetup::expected_cpus(self))
    }

    /// The vCPUs are started as hvmloader starts them, through VCPUOP.
    fn ap_startup(&mut self) -> ApStartup<'_> {
        ApStartup::Hypervisor(self)
    }

    fn acpi_enabled(&self) -> bool {
        self.config.acpi
    }

    /// As hvmloader: once ACPI is on, Xen emulates PM1a status/enable at 0xb000 and the PM
    /// timer at 0xb008 itself. PM1a control and GPE0 stay the device model's chipset:
    /// PIIX4's GPE0 is at 0xafe0 (Xen's convention), ICH9's at PMBASE + 0x20, where nothing
    /// of Xen's is.
    fn acpi_pm_blocks(&mut self, pm: PmBlocks) -> Result<PmBlocks, Fatal> {
        let xen_pm = self.use_acpi_ports()?;
        if (pm.pm1a_event, pm.pm_timer) != (xen_pm.pm1a_event, xen_pm.pm_timer) {
            log::warn!(
                "chipset PM1a at {:#x}, timer at {:#x}: Xen emulates them at {:#x} and {:#x}, \
                 which the FADT names",
                pm.pm1a_event,
                pm.pm_timer,
                xen_pm.pm1a_event,
                xen_pm.pm_timer
            );
        }
        Ok(PmBlocks { pm1a_event: xen_pm.pm1a_event, pm_timer: xen_pm.pm_timer, ..pm })
    }

    /// In vCPU order (vCPU n has APIC ID 2n, and the hot-add SSDT names processors by
    /// vCPU); vCPUs not online at boot are present but not enabled.
    fn madt_processors(&self, cpus: &CpuList) -> Vec<MadtProcessor> {
        madt_list(cpus, true, |apic_id| self.vcpu_enabled(apic_id / 2))
    }

    fn cpu_hotplug(&self, cpus: &[MadtProcessor]) -> Option<CpuHotplug> {
        crate::acpi::cpu_hotplug::for_xen(cpus, &self.hvm_info.vcpu_online)
            .inspect_err(|e| log::warn!("vCPU hot-add: none, {e}"))
            .ok()
    }

    fn smbios(&mut self, _chipset: Chipset) -> SmbiosSource {
        SmbiosSource {
            strings: self.config.bios_strings.clone(),
            uuid: self.uuid,
            qemu_table_len: None,
        }
    }

    fn read_smbios_table(&mut self, _into: &mut [u8]) -> bool {
        false // Xen's SMBIOS comes from its toolstack's keys and blob
    }

    fn sleep_states(&mut self) -> SleepStates {
        XenSetup::sleep_states(self)
    }

    fn bios_area(&self, _chipset: Chipset) -> BiosAreaGate {
        BiosAreaGate::AlwaysRam
    }

    fn generation_id(&self) -> Option<[u64; 2]> {
        self.config.generation_id
    }

    fn table_requests(&self) -> TableRequests {
        TableRequests::from_xen(&self.config)
    }

    fn hand_off(
        self: Box<Self>,
        machine: &H,
        _chipset: Chipset,
        boot: &BootInfo,
        e820: &E820Map,
        layout: ImageLayout,
        installed: &tables::Installed,
    ) -> Result<(), Fatal> {
        hand_off_to_bios(*self, machine, boot, e820, layout, installed)
    }
}

/// Under Xen: hand off as hvmloader does, to the BIOS `hvmloader/bios` names, which libxl
/// passes as the start info's "firmware" module.
fn hand_off_to_bios<H: Hardware, X: Hypercall + Copy>(
    mut xen: XenSetup<X>,
    machine: &H,
    boot: &BootInfo,
    e820: &E820Map,
    layout: ImageLayout,
    installed: &tables::Installed,
) -> Result<(), Fatal> {
    use crate::handoff::BiosPayload;
    use crate::handoff::ovmf::OvmfPayload;
    use crate::handoff::seabios::SeabiosPayload;
    use crate::platform::xen::BiosImage;

    let mut cfg = Cf8::new(machine.ports());
    // The hand-off writes only the BIOS area and its low pages, and for OVMF the flash range
    // below 4 GiB it first backs with RAM.
    let mut memory = machine.load_window()?;
    let bios = match xen.bios_image(boot)? {
        BiosImage::Seabios(module) => BiosPayload::Seabios(SeabiosPayload::from_module(
            module.range,
            // The module lies outside the BIOS area it is copied to.
            &machine.memory(),
            &mut cfg,
            BiosAreaGate::AlwaysRam,
            &mut memory,
        )?),
        BiosImage::Ovmf(module) => {
            // Pages behind the flash may be taken from free RAM, never from these.
            let mut in_use: Vec<PhysRange> = boot.modules.iter().map(|m| m.range).collect();
            in_use.extend([boot.start_info, layout.image]);
            let ovmf = OvmfPayload::from_xen_module(
                module.range,
                &mut xen.xen,
                e820,
                &in_use,
                &mut cfg,
                BiosAreaGate::AlwaysRam,
                &mut memory,
            );
            BiosPayload::Ovmf(ovmf?)
        }
    };
    if let Some(page) = installed.generation_id {
        xen.publish_generation_id(page.start)?;
    }
    xen.finish_and_unmap()?;
    let jump = bios.boot(e820, &installed.bios_tables(), &mut memory, machine.ports())?;
    drop(memory);
    machine.jump(jump);
    Ok(())
}
