//! SR-IOV virtual functions' BARs (PCIe Base 5.0, 9.3.3): what gets passed through to guests.
//!
//! A physical function with the SR-IOV extended capability describes every VF's BARs in
//! six VF BAR registers of that capability: VF BAR i of VF n decodes at the register's base
//! plus n times the per-VF size. Neither the PF's own sizing nor a BIOS that knows no
//! SR-IOV places them, and an OS then has to find room for them later (Linux: "VF BAR 0
//! [mem 0x00000000-...]", reassigned once the bridge windows are fixed, when they may no
//! longer fit). So the firmware sizes them like BARs of the PF, for TotalVFs VFs (the
//! room Linux reserves too), and places them inside the PF's bridge windows with its other
//! BARs; `echo N > sriov_numvfs` then finds them in place.
//!
//! The capability lies in extended configuration space: this runs over ECAM only. VFs are
//! left disabled, whatever an earlier firmware did (VF Enable, VF Migration Enable and VF
//! Memory Space Enable clear, NumVFs 0): enabling them is the OS's.

use super::bar::size_bar_block;
use super::caps::find_extended;
use super::enumerate::Topology;
use super::error::PciProblem;
use super::{Bdf, ConfigSpace};

/// Extended capability ID of SR-IOV.
pub const EXT_CAP_SRIOV: u16 = 0x0010;
/// Registers, from the capability's offset.
const CONTROL: u16 = 0x08;
const TOTAL_VFS: u16 = 0x0E;
const NUM_VFS: u16 = 0x10;
const VF_BAR0: u16 = 0x24;
const VF_BAR_COUNT: u16 = 6;
/// SR-IOV Control: VF Enable, VF Migration Enable and VF Memory Space Enable.
const VF_ENABLE: u16 = 1 << 0;
const VF_MIGRATION_ENABLE: u16 = 1 << 1;
const VF_MEMORY_ENABLE: u16 = 1 << 3;
const VF_CONTROLS: u16 = VF_ENABLE | VF_MIGRATION_ENABLE | VF_MEMORY_ENABLE;

/// Adds the VF BARs of every function with an SR-IOV capability to its BARs (after its own
/// and its ROM), each sized for TotalVFs VFs. `cfg` must reach extended configuration
/// space (ECAM). Returns how many functions have VF BARs.
pub fn add_vf_bars(cfg: &mut impl ConfigSpace, topology: &mut Topology) -> usize {
    let mut with_vfs = 0;
    for function in &mut topology.functions {
        // Bridges and ports have no SR-IOV capability.
        if function.bridge.is_some() {
            continue;
        }
        let bdf = function.bdf;
        let Some(cap) = find_extended(cfg, bdf, EXT_CAP_SRIOV) else { continue };
        let control = cfg.read16(bdf, cap + CONTROL);
        if control & VF_CONTROLS != 0 {
            cfg.write16(bdf, cap + CONTROL, control & !VF_CONTROLS);
        }
        cfg.write16(bdf, cap + NUM_VFS, 0);
        let total = cfg.read16(bdf, cap + TOTAL_VFS);
        if total == 0 {
            continue;
        }
        let sized = size_bar_block(cfg, bdf, cap + VF_BAR0, VF_BAR_COUNT, &mut topology.problems);
        let mut added = 0;
        for mut bar in sized {
            match vf_bar(bdf, &mut bar, total) {
                Ok(()) => {
                    function.bars.push(bar);
                    added += 1;
                }
                Err(problem) => {
                    log::warn!("{problem}");
                    topology.problems.push(problem);
                }
            }
        }
        if added > 0 {
            with_vfs += 1;
            log::debug!("{bdf}: SR-IOV at {cap:#05x}, {total} VFs, {added} VF BAR(s)");
        }
    }
    with_vfs
}

/// Turns one VF's BAR (as sized) into the PF's BAR for `total` VFs.
fn vf_bar(bdf: Bdf, bar: &mut super::Bar, total: u16) -> Result<(), PciProblem> {
    // VFs have memory BARs only (PCIe Base 5.0, 9.3.3.14); there is no VF ROM either.
    if !matches!(bar.kind, super::BarKind::Mem32 { .. } | super::BarKind::Mem64 { .. }) {
        return Err(PciProblem::VfBarNotMemory { bdf, bar: bar.register });
    }
    let span = bar.size.checked_mul(u64::from(total));
    let Some(span) = span.filter(|&s| bar.kind.is_64bit() || s <= 1 << 32) else {
        return Err(PciProblem::VfBarsTooLarge { bdf, bar: bar.register, size: bar.size, total });
    };
    bar.size = span;
    bar.vfs = total;
    Ok(())
}
