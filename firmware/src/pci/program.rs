//! Phase 3: write a [`Plan`] to the hardware: BARs, ROM BARs, bridge windows, and last the
//! command registers, so nothing decodes before its address is final.
//!
//! A function gets I/O (memory) decoding only when every one of its I/O (memory) BARs was
//! placed: an unplaced BAR is written 0, and with decoding on it would claim the range at
//! address 0 (RAM, or the legacy ports). So a function keeps working for the kinds of space
//! that fit entirely. The ROM is the exception: its own enable bit stays clear when it was
//! not placed, so it does not stop memory decoding. Bus mastering is enabled for functions
//! that decode something, bridges included (a bridge forwards its children's DMA only when
//! it is a bus master).

use core::ops::Range;

use super::bar::{Bar, BarKind, ROM_ENABLE};
use super::enumerate::{BridgeInfo, Function, Topology};
use super::error::PlanError;
use super::place::{BridgeWindows, FunctionPlan, Plan, Resource};
use super::types::{IoDecode, PrefDecode};
use super::{Bdf, ConfigSpace, command, reg};

/// Programs `plan` (made by [`plan`](super::plan) for this `topology`) into the functions.
/// Bus numbers were written by [`enumerate`](super::enumerate) already; interrupt lines are
/// written by [`program_interrupt_lines`](super::program_interrupt_lines).
pub fn program(
    cfg: &mut impl ConfigSpace,
    topology: &Topology,
    plan: &Plan,
) -> Result<(), PlanError> {
    let mismatch = PlanError::PlanMismatch {
        functions: topology.functions.len(),
        planned: plan.functions.len(),
    };
    if topology.functions.len() != plan.functions.len()
        || topology.functions.iter().zip(&plan.functions).any(|(f, p)| f.bars.len() != p.bars.len())
    {
        return Err(mismatch);
    }
    for (function, placement) in topology.functions.iter().zip(&plan.functions) {
        program_function(cfg, function, placement);
    }
    for unplaced in &plan.unplaced {
        log::warn!("{unplaced}");
    }
    for dropped in &plan.dropped_reservations {
        log::warn!("{dropped}");
    }
    log_summary(plan);
    Ok(())
}

fn program_function(cfg: &mut impl ConfigSpace, function: &Function, placement: &FunctionPlan) {
    let bdf = function.bdf;
    let mut io = Decode::default();
    let mut mem = Decode::default();
    for (bar, &base) in function.bars.iter().zip(&placement.bars) {
        write_bar(cfg, bdf, bar, base);
        // The OS enables VF BARs with the VFs (SR-IOV control), not the function's decoding.
        match (bar.kind, base) {
            (BarKind::Rom, None) => {}
            _ if bar.is_vf() => {}
            (BarKind::Io, base) => io.add(base.is_some()),
            (_, base) => mem.add(base.is_some()),
        }
        if let Some(base) = base {
            let vfs = if bar.is_vf() { alloc::format!(" ({} VFs)", bar.vfs) } else { "".into() };
            log::info!(
                "{bdf} {:04x}:{:04x} {} {} {}{vfs}",
                function.vendor_id,
                function.device_id,
                bar.register,
                bar.kind,
                Resource { base, size: bar.size }
            );
        }
    }
    if let Some(bridge) = &function.bridge {
        let windows = &placement.windows;
        // An expander's windows exist only in the ACPI tables: it has no such registers.
        if !bridge.expander {
            write_windows(cfg, bdf, bridge, windows);
            io.add_window(windows.io.is_some());
            mem.add_window(windows.mem.is_some() || windows.prefetchable.is_some());
        }
        let what = if bridge.expander { "root bus" } else { "bridge" };
        for (name, window) in
            [("io", windows.io), ("mem", windows.mem), ("prefetchable", windows.prefetchable)]
        {
            if let Some(window) = window {
                log::info!(
                    "{bdf} {:04x}:{:04x} {what} {name} window {window}",
                    function.vendor_id,
                    function.device_id,
                );
            }
        }
    }

    let mut enable = 0;
    for (decode, bit, name) in [(io, command::IO, "I/O"), (mem, command::MEMORY, "memory")] {
        match (decode.placed, decode.missing) {
            (true, false) => enable |= bit,
            (true, true) => {
                log::warn!("{bdf}: {name} decoding left off: one of its {name} BARs has no address")
            }
            _ => {}
        }
    }
    // Enumeration left the command register 0: a function that decodes nothing keeps it.
    if enable != 0 {
        cfg.write16(bdf, reg::COMMAND, enable | command::BUS_MASTER);
    }
}

/// Whether a function has something of one kind of space placed, and something not.
#[derive(Clone, Copy, Debug, Default)]
struct Decode {
    placed: bool,
    missing: bool,
}

impl Decode {
    fn add(&mut self, placed: bool) {
        self.placed |= placed;
        self.missing |= !placed;
    }
    /// A closed window decodes nothing: it does not stop decoding.
    fn add_window(&mut self, open: bool) {
        self.placed |= open;
    }
}

/// Writes the BAR's address, 0 when it was not placed.
fn write_bar(cfg: &mut impl ConfigSpace, bdf: Bdf, bar: &Bar, base: Option<u64>) {
    let offset = bar.register.0;
    let address = base.unwrap_or(0);
    match bar.kind {
        BarKind::Rom => {
            let enable = if base.is_some() { ROM_ENABLE } else { 0 };
            cfg.write32(bdf, offset, address as u32 | enable);
        }
        BarKind::Mem64 { .. } => {
            cfg.write32(bdf, offset, address as u32);
            cfg.write32(bdf, offset + 4, (address >> 32) as u32);
        }
        BarKind::Io | BarKind::Mem32 { .. } => cfg.write32(bdf, offset, address as u32),
    }
}

/// The base and limit (last address) of a window, or of a closed one: base above limit.
fn base_limit(window: Option<Resource>, closed_base: u64) -> (u64, u64) {
    match window {
        Some(w) => (w.base, w.end() - 1),
        None => (closed_base, 0),
    }
}

/// Programs the three windows (PCI-PCI Bridge Architecture 1.2, 3.2.5.6-3.2.5.9): I/O in
/// 4 KiB units with optional upper 16 bits, memory in 1 MiB units, prefetchable in 1 MiB units
/// with optional upper 32 bits. Unused windows are closed.
fn write_windows(
    cfg: &mut impl ConfigSpace,
    bdf: Bdf,
    bridge: &BridgeInfo,
    windows: &BridgeWindows,
) {
    // Base and limit of a window share a register pair, written as one access.
    let pair16 = |base: u64, limit: u64| u16::from_le_bytes([base as u8, limit as u8]);
    let pair32 = |base: u64, limit: u64| u32::from(base as u16) | u32::from(limit as u16) << 16;
    if bridge.io != IoDecode::Absent {
        let (base, limit) = base_limit(windows.io, 0xF000);
        cfg.write16(bdf, reg::IO_BASE, pair16((base >> 8) & 0xF0, (limit >> 8) & 0xF0));
        if bridge.io == IoDecode::Bits32 {
            cfg.write32(bdf, reg::IO_BASE_UPPER, pair32(base >> 16, limit >> 16));
        }
    }
    let (base, limit) = base_limit(windows.mem, 0xFFF0_0000);
    cfg.write32(bdf, reg::MEMORY_BASE, pair32((base >> 16) & 0xFFF0, (limit >> 16) & 0xFFF0));
    if bridge.prefetchable != PrefDecode::Absent {
        let (base, limit) = base_limit(windows.prefetchable, 0xFFF0_0000);
        cfg.write32(bdf, reg::PREF_BASE, pair32((base >> 16) & 0xFFF0, (limit >> 16) & 0xFFF0));
        if bridge.prefetchable == PrefDecode::Bits64 {
            cfg.write32(bdf, reg::PREF_BASE_UPPER, (base >> 32) as u32);
            cfg.write32(bdf, reg::PREF_LIMIT_UPPER, (limit >> 32) as u32);
        }
    }
}

fn log_summary(plan: &Plan) {
    struct Span<'a>(&'a Option<Range<u64>>);
    impl core::fmt::Display for Span<'_> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            match self.0 {
                Some(r) => {
                    write!(f, "{:#x}-{:#x} ({:#x} bytes)", r.start, r.end - 1, r.end - r.start)
                }
                None => f.write_str("none"),
            }
        }
    }
    log::info!(
        "I/O ports used {}, low hole used {}, 64-bit window used {}, {} BARs not placed",
        Span(&plan.io_used),
        Span(&plan.low_mem_used),
        Span(&plan.high_mem_used),
        plan.unplaced.len()
    );
}
