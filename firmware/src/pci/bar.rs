//! Base address registers: what kind of space a function decodes and how much of it.
//!
//! Sizing follows the PCI Local Bus Specification 3.0, 6.2.5.1: with decoding off, write all
//! ones and read back the mask; the lowest writable address bit is the size and alignment,
//! and the read-only low bits say what kind of BAR it is. That is the whole cost: two
//! accesses per register. The register keeps its mask until [`program`](super::program)
//! writes its address (or 0, when it got none); a BAR found unusable is written 0 here, so
//! nothing ever decodes at a mask.

use alloc::vec::Vec;
use core::fmt;

use super::error::PciProblem;
use super::types::BarRegister;
use super::{Bdf, ConfigSpace, reg};

/// The kind of address space a BAR decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum BarKind {
    /// I/O ports (BAR bit 0 set).
    Io,
    /// Memory below 4 GiB (type 00).
    Mem32 { prefetchable: bool },
    /// Memory anywhere in 64 bits (type 10); takes two BAR slots.
    Mem64 { prefetchable: bool },
    /// The expansion ROM: 32-bit memory, enabled by bit 0 of its register.
    Rom,
}

impl BarKind {
    pub fn is_io(self) -> bool {
        self == BarKind::Io
    }
    pub fn is_prefetchable(self) -> bool {
        matches!(
            self,
            BarKind::Mem32 { prefetchable: true } | BarKind::Mem64 { prefetchable: true }
        )
    }
    /// Whether the BAR can be placed above 4 GiB.
    pub fn is_64bit(self) -> bool {
        matches!(self, BarKind::Mem64 { .. })
    }
}

impl fmt::Display for BarKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BarKind::Io => "io",
            BarKind::Mem32 { prefetchable: false } => "mem32",
            BarKind::Mem32 { prefetchable: true } => "mem32 pref",
            BarKind::Mem64 { prefetchable: false } => "mem64",
            BarKind::Mem64 { prefetchable: true } => "mem64 pref",
            BarKind::Rom => "rom",
        })
    }
}

/// One implemented BAR of a function, sized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bar {
    pub register: BarRegister,
    pub kind: BarKind,
    /// Bytes the BAR decodes: a power of two, or for a VF BAR its per-VF size (a power of
    /// two) times [`Bar::vfs`].
    pub size: u64,
    /// For a VF BAR of an SR-IOV capability, the VFs it holds room for (TotalVFs): VF n's
    /// BAR lies at the base plus n times the per-VF size. 0 for the function's own BARs.
    pub vfs: u16,
}

impl Bar {
    /// A BAR of the function's own header.
    pub const fn own(register: BarRegister, kind: BarKind, size: u64) -> Self {
        Bar { register, kind, size, vfs: 0 }
    }

    /// The alignment its base needs: its size, or for a VF BAR one VF's size.
    pub fn align(&self) -> u64 {
        if self.vfs == 0 { self.size } else { self.size / u64::from(self.vfs) }
    }

    /// Whether it is a VF BAR, which the OS enables with the VFs, not with the function's
    /// own decoding.
    pub fn is_vf(&self) -> bool {
        self.vfs != 0
    }
}

const IO_SPACE_BIT: u32 = 1 << 0;
const MEM_TYPE_SHIFT: u32 = 1;
const MEM_TYPE_32: u32 = 0b00;
const MEM_TYPE_64: u32 = 0b10;
const MEM_PREFETCHABLE: u32 = 1 << 3;
const IO_ADDRESS_MASK: u32 = !0x3;
const MEM_ADDRESS_MASK: u32 = !0xF;
const ROM_ADDRESS_MASK: u32 = !0x7FF;
pub(super) const ROM_ENABLE: u32 = 1 << 0;

/// Sizes the BARs of the function at `bdf` (`bar_count` of them: 6 for a type 0 header,
/// 2 for a type 1) and its expansion ROM at `rom_offset`. Decoding must already be off.
/// Problems are logged and pushed to `problems`, and the BAR concerned is left out.
pub(super) fn size_bars(
    cfg: &mut impl ConfigSpace,
    bdf: Bdf,
    bar_count: u16,
    rom_offset: u16,
    problems: &mut Vec<PciProblem>,
) -> Vec<Bar> {
    let mut bars = size_bar_block(cfg, bdf, reg::BAR0, bar_count, problems);
    match size_rom(cfg, bdf, rom_offset) {
        Ok(Some(bar)) => bars.push(bar),
        Ok(None) => {}
        Err(problem) => {
            log::warn!("{problem}");
            problems.push(problem);
        }
    }
    bars
}

/// Sizes `count` consecutive BAR registers from `first` (a header's, or the VF BARs of an
/// SR-IOV capability); problems are logged and pushed to `problems`, and the registers of
/// the BAR concerned written 0.
pub(super) fn size_bar_block(
    cfg: &mut impl ConfigSpace,
    bdf: Bdf,
    first: u16,
    count: u16,
    problems: &mut Vec<PciProblem>,
) -> Vec<Bar> {
    let mut bars = Vec::new();
    let last = first + 4 * (count - 1);
    let mut offset = first;
    while offset <= last {
        let (slots, sized) = size_bar(cfg, bdf, offset, last);
        match sized {
            Ok(Some(bar)) => bars.push(bar),
            Ok(None) => {}
            Err(problem) => {
                log::warn!("{problem}");
                problems.push(problem);
                for slot in 0..slots {
                    cfg.write32(bdf, offset + 4 * slot, 0);
                }
            }
        }
        offset += 4 * slots;
    }
    bars
}

/// Writes `ones` and returns what reads back: the size mask, with the read-only type bits.
fn probe(cfg: &mut impl ConfigSpace, bdf: Bdf, offset: u16, ones: u32) -> u32 {
    cfg.write32(bdf, offset, ones);
    cfg.read32(bdf, offset)
}

/// The size encoded by an address mask extended to 64 bits (bits above the BAR's width set),
/// if its ones are contiguous from bit 63 down.
fn size_of_mask(mask: u64) -> Option<u64> {
    let size = mask & mask.wrapping_neg();
    (size != 0 && mask == !(size - 1)).then_some(size)
}

/// Sizes the BAR at `offset`, `Ok(None)` if it is not implemented (reads 0 after all ones).
/// Also returns how many BAR slots it takes: 2 for a 64-bit BAR, even an unusable one, as
/// its upper half is never a BAR of its own.
fn size_bar(
    cfg: &mut impl ConfigSpace,
    bdf: Bdf,
    offset: u16,
    last: u16,
) -> (u16, Result<Option<Bar>, PciProblem>) {
    let value = probe(cfg, bdf, offset, !0);
    let is_64bit = value & IO_SPACE_BIT == 0 && (value >> MEM_TYPE_SHIFT) & 3 == MEM_TYPE_64;
    let slots = if is_64bit && offset < last { 2 } else { 1 };
    (slots, decode_bar(cfg, bdf, offset, last, value))
}

/// Turns what the lower (or only) dword of a BAR read after writing all ones (`value`) into
/// a [`Bar`], probing the upper dword of a 64-bit BAR.
fn decode_bar(
    cfg: &mut impl ConfigSpace,
    bdf: Bdf,
    offset: u16,
    last: u16,
    value: u32,
) -> Result<Option<Bar>, PciProblem> {
    let bar = BarRegister(offset);
    if value == 0 {
        return Ok(None);
    }
    if value & IO_SPACE_BIT != 0 {
        let mut address_mask = value & IO_ADDRESS_MASK;
        if address_mask & 0xFFFF == 0 {
            return Err(PciProblem::BarSizeZero { bdf, bar, value });
        }
        // I/O decoders of only 16 bits hard-wire the upper half to zero (PCI 3.0, 6.2.5.1).
        if address_mask >> 16 == 0 {
            address_mask |= 0xFFFF_0000;
        }
        let mask = 0xFFFF_FFFF_0000_0000 | u64::from(address_mask);
        let size = size_of_mask(mask).ok_or(PciProblem::BarMaskMalformed { bdf, bar, mask })?;
        return Ok(Some(Bar::own(bar, BarKind::Io, size)));
    }
    let prefetchable = value & MEM_PREFETCHABLE != 0;
    let address_low = value & MEM_ADDRESS_MASK;
    let (kind, mask) = match (value >> MEM_TYPE_SHIFT) & 3 {
        MEM_TYPE_32 => {
            if address_low == 0 {
                return Err(PciProblem::BarSizeZero { bdf, bar, value });
            }
            (BarKind::Mem32 { prefetchable }, 0xFFFF_FFFF_0000_0000 | u64::from(address_low))
        }
        MEM_TYPE_64 => {
            if offset == last {
                return Err(PciProblem::Bar64InLastSlot { bdf, bar });
            }
            let high = probe(cfg, bdf, offset + 4, !0);
            let mask = u64::from(high) << 32 | u64::from(address_low);
            if mask == 0 {
                return Err(PciProblem::BarSizeZero { bdf, bar, value });
            }
            (BarKind::Mem64 { prefetchable }, mask)
        }
        _ => return Err(PciProblem::BarTypeUnsupported { bdf, bar, value }),
    };
    let size = size_of_mask(mask).ok_or(PciProblem::BarMaskMalformed { bdf, bar, mask })?;
    Ok(Some(Bar::own(bar, kind, size)))
}

/// Sizes the expansion ROM BAR (its enable bit stays clear, so its mask decodes nothing).
fn size_rom(cfg: &mut impl ConfigSpace, bdf: Bdf, offset: u16) -> Result<Option<Bar>, PciProblem> {
    let bar = BarRegister(offset);
    let address_mask = probe(cfg, bdf, offset, ROM_ADDRESS_MASK) & ROM_ADDRESS_MASK;
    if address_mask == 0 {
        return Ok(None);
    }
    let mask = 0xFFFF_FFFF_0000_0000 | u64::from(address_mask);
    let size = size_of_mask(mask).ok_or(PciProblem::BarMaskMalformed { bdf, bar, mask })?;
    Ok(Some(Bar::own(bar, BarKind::Rom, size)))
}
