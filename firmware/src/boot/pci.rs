//! PCI bring-up, in the order the hardware needs it: on Q35 put the ECAM window where the
//! hole puts it and switch to it, enumerate (numbering buses), under Xen grow the MMIO hole
//! over RAM moved above 4 GiB when the BARs need it and hvmloader would, decide the layout
//! (hole, ECAM area, 64-bit window; the ECAM window moves if it must), plan every BAR and
//! window, program, route INTx.
//!
//! ECAM comes first because it is the cheaper mechanism: one memory access per register
//! instead of CF8's two port accesses. How many buses the window needs is known only once
//! enumeration has numbered them, so it starts at the smallest size the MCH decodes (64
//! buses), which every machine with up to 32 buses keeps (see [`EcamArea::buses_for`]);
//! buses numbered beyond it are reached through CF8 until the window grows after
//! enumeration.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ops::Range;

use log::info;

use super::board::Board;
use super::{Fatal, Hardware};
use crate::addr::PhysRange;
use crate::arch::cpuid;
use crate::bootinfo::{BootInfo, MemoryRegion};
use crate::chipset::pm::PM_BASE;
use crate::chipset::q35::{self, EcamArea};
use crate::chipset::{Chipset, IntxWiring};
use crate::layout::{self, LayoutError};
use crate::pci::{self, Apertures, Bdf, Cf8, ConfigSpace, Ecam, Topology, UnplacedReason};
use crate::platform::xen::memmap::{HoleError, HoleLimit};

/// I/O ports PCI devices may use. Allocation starts at the top (0xC000 and up, where
/// hvmloader puts them) and goes lower only when needed.
const IO_PORTS: Range<u64> = 0x1000..0x1_0000;
/// Ports nothing may claim: QEMU's PCI hotplug (0xAE00), CPU hotplug (0xAF00) and GPE0
/// (0xAFE0) registers, and the ACPI PM block at 0xB000 where Xen emulates it and where
/// this firmware puts it on QEMU too.
const IO_RESERVED: [Range<u64>; 2] =
    [0xAE00..PM_BASE as u64, PM_BASE as u64..PM_BASE as u64 + 0x80];

/// What PCI bring-up leaves for the ACPI tables and the memory map.
#[derive(Debug)]
pub(crate) struct PciSetup {
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
    /// QEMU's expander bridges: where each one's root bus is and what it was given.
    pub expanders: Vec<ExpanderSetup>,
    /// The low MMIO hole the BARs were placed in: the one passed in, or under Xen the one
    /// it grew to (the RAM it covered moved above 4 GiB, and the memory map says so).
    pub hole: Range<u64>,
}

/// One expander bridge's root bus after placement.
#[derive(Clone, Debug)]
pub(crate) struct ExpanderSetup {
    /// The expander function on bus 0.
    pub bdf: Bdf,
    pub pcie: bool,
    pub buses: core::ops::RangeInclusive<u8>,
    pub io: Option<Range<u64>>,
    /// Its memory and prefetchable memory windows, those that are open.
    pub mem: Vec<Range<u64>>,
}

/// Configuration access on this machine: through the ECAM window for the buses it reaches,
/// through CF8 for the others (and for everything on i440FX, which has no ECAM). CF8 has no
/// extended configuration space: there, reads beyond the first 256 bytes give all ones and
/// writes go nowhere, as for a conventional PCI function.
struct ConfigAccess<'m, H: Hardware + 'm> {
    machine: &'m H,
    cf8: Cf8<H::Ports>,
    ecam: Option<Ecam<H::Registers<'m>>>,
}

/// The mechanism one access goes through.
enum Route<'a, 'm, H: Hardware + 'm> {
    Ecam(&'a mut Ecam<H::Registers<'m>>),
    Cf8(&'a mut Cf8<H::Ports>),
    /// Extended configuration space out of ECAM's reach.
    Nowhere,
}

impl<'m, H: Hardware> ConfigAccess<'m, H> {
    fn route(&mut self, bdf: Bdf, offset: u16) -> Route<'_, 'm, H> {
        match &mut self.ecam {
            Some(ecam) if ecam.covers(bdf) => Route::Ecam(ecam),
            _ if offset >= 0x100 => Route::Nowhere,
            _ => Route::Cf8(&mut self.cf8),
        }
    }

    /// The ECAM window in use.
    fn ecam_area(&self) -> Option<EcamArea> {
        self.ecam.as_ref().map(|e| EcamArea { base: e.base(), buses: e.buses() })
    }

    /// Moves the Q35 MCH's ECAM window to `area` (PCIEXBAR, read back) and sends every
    /// access to the buses it covers through it.
    fn switch_to_ecam(&mut self, area: EcamArea) -> Result<(), Fatal> {
        self.ecam = None;
        q35::set_pciexbar(&mut self.cf8, area);
        if q35::pciexbar(&mut self.cf8) != Some(area) {
            return Err(Fatal::EcamNotDecoded(Box::new(area)));
        }
        info!("ECAM (MMCONFIG) at {area}, config accesses switch to it");
        // The MCH decodes exactly this range as ECAM now (read back above).
        let window =
            self.machine.device_registers(PhysRange { start: area.base, end: area.end() })?;
        self.ecam = Some(Ecam::new(window, area.buses));
        Ok(())
    }

    /// With `self_checks`: ECAM and CF8 must agree on every function of `topology` that the
    /// window reaches.
    fn check_ecam(&mut self, topology: &Topology, self_checks: bool) -> Result<(), Fatal> {
        let (true, Some(ecam)) = (self_checks, &mut self.ecam) else { return Ok(()) };
        let buses = ecam.buses();
        let functions =
            topology.functions.iter().map(|f| f.bdf).filter(|bdf| u16::from(bdf.bus()) < buses);
        let checked = pci::compare_ecam_with_cf8(&mut self.cf8, ecam, functions)?;
        info!("self-check: ECAM and CF8 agree on {checked} functions");
        Ok(())
    }
}

impl<H: Hardware> ConfigSpace for ConfigAccess<'_, H> {
    fn read8(&mut self, bdf: Bdf, offset: u16) -> u8 {
        match self.route(bdf, offset) {
            Route::Ecam(e) => e.read8(bdf, offset),
            Route::Cf8(c) => c.read8(bdf, offset),
            Route::Nowhere => u8::MAX,
        }
    }
    fn read16(&mut self, bdf: Bdf, offset: u16) -> u16 {
        match self.route(bdf, offset) {
            Route::Ecam(e) => e.read16(bdf, offset),
            Route::Cf8(c) => c.read16(bdf, offset),
            Route::Nowhere => u16::MAX,
        }
    }
    fn read32(&mut self, bdf: Bdf, offset: u16) -> u32 {
        match self.route(bdf, offset) {
            Route::Ecam(e) => e.read32(bdf, offset),
            Route::Cf8(c) => c.read32(bdf, offset),
            Route::Nowhere => u32::MAX,
        }
    }
    fn write8(&mut self, bdf: Bdf, offset: u16, value: u8) {
        match self.route(bdf, offset) {
            Route::Ecam(e) => e.write8(bdf, offset, value),
            Route::Cf8(c) => c.write8(bdf, offset, value),
            Route::Nowhere => {}
        }
    }
    fn write16(&mut self, bdf: Bdf, offset: u16, value: u16) {
        match self.route(bdf, offset) {
            Route::Ecam(e) => e.write16(bdf, offset, value),
            Route::Cf8(c) => c.write16(bdf, offset, value),
            Route::Nowhere => {}
        }
    }
    fn write32(&mut self, bdf: Bdf, offset: u16, value: u32) {
        match self.route(bdf, offset) {
            Route::Ecam(e) => e.write32(bdf, offset, value),
            Route::Cf8(c) => c.write32(bdf, offset, value),
            Route::Nowhere => {}
        }
    }
}

/// Physical address width, from CPUID 0x80000008 (36 bits when the leaf is missing, the
/// architectural minimum with PAE).
fn phys_bits() -> u8 {
    if cpuid(0x8000_0000, 0).eax >= 0x8000_0008 { cpuid(0x8000_0008, 0).eax as u8 } else { 36 }
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

/// The hole the board gives these BARs ([`Board::fit_pci_hole`]): under Xen the one
/// hvmloader would make, with `boot`'s memory map following any RAM it moves.
fn fit_hole<H: Hardware>(
    board: &mut dyn Board<H>,
    boot: &mut BootInfo,
    topology: &Topology,
    hole: Range<u64>,
    ranges_for: impl Fn(&[MemoryRegion], &Range<u64>) -> Result<Ranges, LayoutError>,
) -> Result<(Range<u64>, HoleLimit), Fatal> {
    // A hole that cannot even hold the ECAM area holds nothing.
    let mut fits = |candidate: &Range<u64>, map: &[MemoryRegion]| {
        ranges_for(map, candidate)
            .ok()
            .and_then(|r| pci::plan(topology, &r.apertures(candidate)).ok())
            .is_some_and(|plan| !plan.low_mem_short)
    };
    board.fit_pci_hole(boot, hole, &mut fits)
}

pub(crate) fn bring_up<H: Hardware>(
    machine: &H,
    chipset: Chipset,
    boot: &mut BootInfo,
    hole: Range<u64>,
    board: &mut dyn Board<H>,
    extra_roots: u8,
    self_checks: bool,
) -> Result<PciSetup, Fatal> {
    let wiring = board.intx_wiring(chipset);
    let phys_bits = phys_bits();
    let mut cfg = ConfigAccess { machine, cf8: Cf8::new(machine.ports()), ecam: None };
    // Q35: ECAM for the enumeration itself, where the hole as it stands puts a window for
    // few buses.
    let before_enumeration = Ranges::new(chipset, &boot.memory_map, &hole, 1, phys_bits)?.ecam;
    if let Some(area) = before_enumeration {
        cfg.switch_to_ecam(area)?;
    }
    let mut topology = pci::enumerate(&mut cfg, extra_roots)?;
    let buses_in_use = u16::from(topology.last_bus) + 1;
    info!(
        "{} functions on {buses_in_use} bus(es), {extra_roots} extra root bus(es)",
        topology.functions.len()
    );
    cfg.check_ecam(&topology, self_checks)?;

    let ranges_for = |map: &[MemoryRegion], hole: &Range<u64>| {
        Ranges::new(chipset, map, hole, buses_in_use, phys_bits)
    };
    // More buses than the window reaches: it grows (and may move) before SR-IOV's VF BARs
    // are sized in extended configuration space.
    if let Some(area) =
        ranges_for(&boot.memory_map, &hole)?.ecam.filter(|&a| Some(a) != before_enumeration)
    {
        cfg.switch_to_ecam(area)?;
        cfg.check_ecam(&topology, self_checks)?;
    }
    if cfg.ecam.is_some() {
        let with_vfs = pci::add_vf_bars(&mut cfg, &mut topology);
        if with_vfs > 0 {
            info!("SR-IOV: VF BARs of {with_vfs} function(s) placed with their other BARs");
        }
    }

    // Under Xen the hole may grow; the ECAM area keeps its place at the top of the hole, or
    // moves below with it.
    let (hole, limit) = fit_hole(board, boot, &topology, hole, ranges_for)?;
    let ranges = ranges_for(&boot.memory_map, &hole)?;
    let high = ranges.high.clone();
    if let Some(area) = ranges.ecam.filter(|&area| Some(area) != cfg.ecam_area()) {
        cfg.switch_to_ecam(area)?;
        cfg.check_ecam(&topology, self_checks)?;
    }
    let ecam = cfg.ecam_area();
    let plan = pci::plan(&topology, &ranges.apertures(&hole))?;
    report_shortfall(&plan, &hole, limit);

    pci::program(&mut cfg, &topology, &plan)?;

    let mut ports = machine.ports();
    chipset.route_pirqs(wiring, &mut cfg, &mut ports);
    let routes = pci::route_intx(
        &topology,
        |device, pin| wiring.bus0_link(device, pin) as u8,
        |expander, pin| wiring.expander_input(expander, pin),
    );
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
    let expanders = topology
        .functions
        .iter()
        .zip(&plan.functions)
        .filter_map(|(f, p)| {
            let info = f.bridge.filter(|b| b.expander)?;
            let range = |r: pci::Resource| r.base..r.end();
            Some(ExpanderSetup {
                bdf: f.bdf,
                pcie: f.device_id == 0x000B,
                buses: info.secondary_bus..=info.subordinate_bus,
                io: p.windows.io.map(range),
                mem: [p.windows.mem, p.windows.prefetchable]
                    .into_iter()
                    .flatten()
                    .map(range)
                    .collect(),
            })
        })
        .collect();
    Ok(PciSetup {
        expanders,
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
