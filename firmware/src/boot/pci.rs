//! PCI bring-up, in the order the hardware needs it: enumerate over CF8 (numbering buses),
//! under Xen grow the MMIO hole over RAM moved above 4 GiB when the BARs need it and
//! hvmloader would, decide the layout (hole, ECAM area, 64-bit window), plan every BAR and
//! window, move the Q35 ECAM window to its place and switch to it, program, route INTx.

use alloc::vec::Vec;
use core::ops::Range;

use log::info;

use super::Fatal;
use crate::arch::{HwPorts, MmioRegion, cpuid};
use crate::bootinfo::{BootInfo, MemoryRegion, PhysRange};
use crate::chipset::q35::{self, EcamArea};
use crate::chipset::{Chipset, IntxWiring};
use crate::layout::{self, LayoutError};
use crate::pci::{self, Apertures, Bdf, Cf8, ConfigSpace, Ecam, Topology, UnplacedReason};
use crate::platform::xen::memmap::{HoleError, HoleLimit};
use crate::platform::xen::{Hypercall, XenError, XenSetup};

/// I/O ports PCI devices may use. Allocation starts at the top (0xC000 and up, where
/// hvmloader puts them) and goes lower only when needed.
const IO_PORTS: Range<u64> = 0x1000..0x1_0000;
/// Ports nothing may claim: QEMU's PCI hotplug (0xAE00), CPU hotplug (0xAF00) and GPE0
/// (0xAFE0) registers, and the ACPI PM block at 0xB000 where Xen emulates it and where
/// this firmware puts it on QEMU too.
const IO_RESERVED: [Range<u64>; 2] = [0xAE00..0xB000, 0xB000..0xB080];

/// What PCI bring-up leaves for the ACPI tables and the memory map.
#[derive(Debug)]
pub struct PciSetup {
    pub topology: Topology,
    /// The Q35 ECAM area, programmed and in use.
    pub ecam: Option<EcamArea>,
    /// The low PCI window, in pieces when the ECAM area splits it.
    pub low_window: Vec<Range<u64>>,
    pub high_window: Option<Range<u64>>,
    /// The part of the 64-bit window BARs occupy (MTRRs cover only that).
    pub high_used: Option<Range<u64>>,
    pub unplaced: usize,
    /// How INTx is wired on this machine, and every function's route over it (for the
    /// tables: `_PRT` rules, MADT overrides, MP table and `$PIR`).
    pub wiring: IntxWiring,
    pub routes: Vec<pci::IntxRoute>,
    /// The low MMIO hole the BARs were placed in: the one passed in, or under Xen the one
    /// it grew to (the RAM it covered moved above 4 GiB, and the memory map says so).
    pub hole: Range<u64>,
}

/// Configuration access by whichever mechanism is current.
enum Mechanism {
    Cf8(Cf8<HwPorts>),
    Ecam(Ecam),
}

impl ConfigSpace for Mechanism {
    fn read8(&mut self, bdf: Bdf, offset: u16) -> u8 {
        match self {
            Mechanism::Cf8(c) => c.read8(bdf, offset),
            Mechanism::Ecam(e) => e.read8(bdf, offset),
        }
    }
    fn read16(&mut self, bdf: Bdf, offset: u16) -> u16 {
        match self {
            Mechanism::Cf8(c) => c.read16(bdf, offset),
            Mechanism::Ecam(e) => e.read16(bdf, offset),
        }
    }
    fn read32(&mut self, bdf: Bdf, offset: u16) -> u32 {
        match self {
            Mechanism::Cf8(c) => c.read32(bdf, offset),
            Mechanism::Ecam(e) => e.read32(bdf, offset),
        }
    }
    fn write8(&mut self, bdf: Bdf, offset: u16, value: u8) {
        match self {
            Mechanism::Cf8(c) => c.write8(bdf, offset, value),
            Mechanism::Ecam(e) => e.write8(bdf, offset, value),
        }
    }
    fn write16(&mut self, bdf: Bdf, offset: u16, value: u16) {
        match self {
            Mechanism::Cf8(c) => c.write16(bdf, offset, value),
            Mechanism::Ecam(e) => e.write16(bdf, offset, value),
        }
    }
    fn write32(&mut self, bdf: Bdf, offset: u16, value: u32) {
        match self {
            Mechanism::Cf8(c) => c.write32(bdf, offset, value),
            Mechanism::Ecam(e) => e.write32(bdf, offset, value),
        }
    }
}

/// Physical address width, from CPUID 0x80000008 (36 bits when the leaf is missing, the
/// architectural minimum with PAE).
fn phys_bits() -> u8 {
    if cpuid(0x8000_0000, 0).eax >= 0x8000_0008 { cpuid(0x8000_0008, 0).eax as u8 } else { 36 }
}

fn hw_cf8() -> Cf8<HwPorts> {
    // SAFETY: the firmware owns the machine's devices while it runs.
    Cf8::new(unsafe { HwPorts::new() })
}

/// Where the PCI resources may go for one hole and memory map.
struct Ranges {
    /// Parts of the hole nothing may use: memory-map entries, the ECAM area.
    reserved: Vec<Range<u64>>,
    ecam: Option<EcamArea>,
    high: Option<Range<u64>>,
}

impl Ranges {
    fn new(
        chipset: Chipset,
        map: &[MemoryRegion],
        hole: &Range<u64>,
        buses_in_use: u16,
        phys_bits: u8,
    ) -> Result<Self, LayoutError> {
        let mut reserved = layout::reserved_in(map, hole);
        let ecam = match chipset {
            Chipset::Q35 => {
                let area = layout::ecam_area(hole, &reserved, buses_in_use)?;
                reserved.push(area.base..area.end());
                Some(area)
            }
            Chipset::I440fx => None,
        };
        let high = layout::high_window(map, phys_bits);
        Ok(Ranges { reserved, ecam, high })
    }

    fn apertures(&self, hole: &Range<u64>) -> Apertures<'_> {
        Apertures {
            io: IO_PORTS,
            io_reserved: &IO_RESERVED,
            low_mem: hole.clone(),
            low_mem_reserved: &self.reserved,
            high_mem: self.high.clone(),
        }
    }
}

/// Under Xen, the hole hvmloader would make for these BARs ([`XenSetup::fit_low_hole`]),
/// with `boot`'s memory map following any RAM it moves; elsewhere `hole` as it is.
fn fit_hole<H: Hypercall>(
    xen: Option<&mut XenSetup<H>>,
    boot: &mut BootInfo,
    topology: &Topology,
    hole: Range<u64>,
    ranges_for: impl Fn(&[MemoryRegion], &Range<u64>) -> Result<Ranges, LayoutError>,
) -> Result<(Range<u64>, HoleLimit), XenError> {
    let Some(xen) = xen else { return Ok((hole, HoleLimit::MemoryMap)) };
    let mut keep: Vec<PhysRange> = boot.modules.iter().map(|m| m.range).collect();
    keep.push(boot.start_info);
    // A hole that cannot even hold the ECAM area holds nothing.
    let fits = |candidate: &Range<u64>, map: &[MemoryRegion]| {
        ranges_for(map, candidate)
            .ok()
            .and_then(|r| pci::plan(topology, &r.apertures(candidate)).ok())
            .is_some_and(|plan| !plan.low_mem_short)
    };
    let fitted = xen.fit_low_hole(hole, &keep, fits)?;
    boot.memory_map = xen.memory_map.clone();
    Ok((fitted.hole, fitted.limit))
}

pub fn bring_up<H: Hypercall>(
    chipset: Chipset,
    wiring: IntxWiring,
    boot: &mut BootInfo,
    hole: Range<u64>,
    xen: Option<&mut XenSetup<H>>,
    self_checks: bool,
) -> Result<PciSetup, Fatal> {
    let mut cf8 = hw_cf8();
    let mut topology = pci::enumerate(&mut cf8);
    let buses_in_use = u16::from(topology.last_bus) + 1;
    info!("{} functions on {buses_in_use} bus(es)", topology.functions.len());

    let phys_bits = phys_bits();
    let ranges_for = |map: &[MemoryRegion], hole: &Range<u64>| {
        Ranges::new(chipset, map, hole, buses_in_use, phys_bits)
    };
    // Q35: ECAM before anything is planned, since SR-IOV VF BARs are sized in extended
    // configuration space; where the hole as it stands puts it (a hole grown under Xen keeps
    // its top, and the area with it, or the area moves below).
    let mut ecam = ranges_for(&boot.memory_map, &hole)?.ecam;
    let mut cfg = match ecam {
        Some(area) => Mechanism::Ecam(switch_to_ecam(cf8, area, &topology, self_checks)?),
        None => Mechanism::Cf8(cf8),
    };
    if let Mechanism::Ecam(ecam) = &mut cfg {
        let with_vfs = pci::add_vf_bars(ecam, &mut topology);
        if with_vfs > 0 {
            info!("SR-IOV: VF BARs of {with_vfs} function(s) placed with their other BARs");
        }
    }

    let (hole, limit) = fit_hole(xen, boot, &topology, hole, ranges_for).map_err(Fatal::Xen)?;
    let ranges = ranges_for(&boot.memory_map, &hole)?;
    let high = ranges.high.clone();
    if let Some(area) = ranges.ecam.filter(|&area| Some(area) != ecam) {
        cfg = Mechanism::Ecam(switch_to_ecam(hw_cf8(), area, &topology, self_checks)?);
        ecam = Some(area);
    }
    let plan = pci::plan(&topology, &ranges.apertures(&hole)).map_err(Fatal::Pci)?;
    report_shortfall(&plan, &hole, limit);

    pci::program(&mut cfg, &topology, &plan).map_err(Fatal::Pci)?;

    // SAFETY: the firmware owns the machine's devices while it runs.
    let mut ports = unsafe { HwPorts::new() };
    chipset.route_pirqs(wiring, &mut cfg, &mut ports);
    let routes = pci::route_intx(&topology, |device, pin| wiring.bus0_link(device, pin) as u8);
    pci::program_interrupt_lines(&mut cfg, &routes, wiring.link_irqs());
    info!(
        "INTx: {} functions routed ({wiring:?} wiring); PIRQ links to IRQs {:?}",
        routes.len(),
        wiring.link_irqs()
    );

    let ecam_range = ecam.map(|a| a.base..a.end());
    let low_window =
        layout::low_window(&hole, plan.low_mem_used.as_ref().map(|r| r.start), ecam_range.as_ref());
    let windows: Vec<_> = low_window.iter().map(|r| span(&Some(r.clone()))).collect();
    info!(
        "low window {} (used {}), 64-bit window {}, I/O used {}",
        windows.join(" "),
        span(&plan.low_mem_used),
        span(&plan.high_mem_used),
        span(&plan.io_used),
    );
    Ok(PciSetup {
        ecam,
        low_window,
        high_window: plan.high_mem_used.clone().and(high),
        high_used: plan.high_mem_used.clone(),
        unplaced: plan.unplaced.len(),
        topology,
        wiring,
        routes,
        hole,
    })
}

/// Moves the Q35 MCH's ECAM window to `area` (PCIEXBAR, read back) and returns access through
/// it; with `self_checks`, ECAM and CF8 must agree on every function found.
fn switch_to_ecam(
    mut cf8: Cf8<HwPorts>,
    area: EcamArea,
    topology: &Topology,
    self_checks: bool,
) -> Result<Ecam, Fatal> {
    q35::set_pciexbar(&mut cf8, area);
    if q35::pciexbar(&mut cf8) != Some(area) {
        return Err(Fatal::EcamNotDecoded(area));
    }
    info!("ECAM (MMCONFIG) at {area}, config accesses switch to it");
    // SAFETY: the MCH decodes exactly this range as ECAM now (read back above); it lies in
    // the identity-mapped low 4 GiB and nothing else uses it.
    let window = unsafe { MmioRegion::new(area.base, area.size()) };
    let mut ecam = Ecam::new(window, area.buses);
    if self_checks {
        let functions = topology.functions.iter().map(|f| f.bdf);
        let checked = pci::compare_ecam_with_cf8(&mut cf8, &mut ecam, functions)
            .map_err(Fatal::EcamSelfCheck)?;
        info!("self-check: ECAM and CF8 agree on {checked} functions");
    }
    Ok(ecam)
}

/// Says so when the hole held less than the BARs below 4 GiB needed: 64-bit BARs moved
/// above 4 GiB (what hvmloader does too, and logs), and as an error naming the limit when
/// memory BARs still got no address.
fn report_shortfall(plan: &pci::Plan, hole: &Range<u64>, limit: HoleLimit) {
    if !plan.low_mem_short {
        return;
    }
    let lost =
        plan.unplaced.iter().filter(|u| u.reason == UnplacedReason::NoSpace && !u.kind.is_io());
    let (unplaced, bytes) = lost.fold((0, 0u64), |(n, b), u| (n + 1, b.saturating_add(u.size)));
    if unplaced == 0 {
        info!(
            "low MMIO hole [{:#x}-{:#x}] too small for every BAR below 4 GiB ({limit}): \
             64-bit BARs placed above 4 GiB",
            hole.start,
            hole.end - 1
        );
    } else {
        log::error!("{}", HoleError::BarsDoNotFit { hole: hole.clone(), limit, unplaced, bytes });
    }
}

fn span(range: &Option<Range<u64>>) -> alloc::string::String {
    match range {
        Some(r) => alloc::format!("[{:#x}-{:#x}]", r.start, r.end - 1),
        None => alloc::string::String::from("none"),
    }
}
