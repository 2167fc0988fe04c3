//! The memory-type layout every CPU gets, computed once on the BSP from the PCI layout.
//!
//! Policy (the same on every CPU, as the SDM requires of MTRRs):
//!
//! * default type write-back, so every byte of RAM is cacheable whatever the memory map
//!   looks like and no RAM range ever costs a variable MTRR;
//! * the first MiB through the fixed-range MTRRs: 0-0x9FFFF WB (conventional memory),
//!   0xA0000-0xBFFFF UC (the legacy VGA window: device memory, and a framebuffer must not
//!   be cached), 0xC0000-0xFFFFF WB (see [`FIXED_C0000_TYPE`]);
//! * every MMIO range the caller names uncacheable through variable MTRRs.
//!
//! A variable MTRR covers a naturally aligned power-of-two block. The UC ranges are merged
//! and cut into the largest aligned blocks, left to right. That is the fewest blocks possible:
//! two aligned power-of-two blocks are either disjoint or nested, so any set of blocks whose
//! union is exactly the range can be reduced to disjoint maximal blocks, and greedy cutting
//! finds those. If more are needed than MTRRcap.VCNT provides, planning fails: covering less
//! would leave MMIO write-back, covering more would make RAM uncacheable.

use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use crate::addr::PAGE_SIZE;
use crate::arch::{MAX_VARIABLE_MTRRS, MtrrRegisters};

/// Architectural memory types (the encodings of MTRRs and PAT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemType {
    Uncacheable = 0,
    // The firmware programs only UC and WB; the other types are read back in tests.
    #[cfg(test)]
    WriteCombining = 1,
    #[cfg(test)]
    WriteThrough = 4,
    #[cfg(test)]
    WriteProtect = 5,
    WriteBack = 6,
}

impl MemType {
    #[cfg(test)]
    fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0 => MemType::Uncacheable,
            1 => MemType::WriteCombining,
            4 => MemType::WriteThrough,
            5 => MemType::WriteProtect,
            6 => MemType::WriteBack,
            _ => return None,
        })
    }

    fn short_name(self) -> &'static str {
        match self {
            MemType::Uncacheable => "UC",
            #[cfg(test)]
            MemType::WriteCombining => "WC",
            #[cfg(test)]
            MemType::WriteThrough => "WT",
            #[cfg(test)]
            MemType::WriteProtect => "WP",
            MemType::WriteBack => "WB",
        }
    }
}

impl fmt::Display for MemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short_name())
    }
}

/// Type of 0xC0000-0xFFFFF (option ROMs and the BIOS). Under Xen and QEMU this is plain RAM
/// that the hand-off fills with SeaBIOS and option ROMs; read-only-ness is the chipset's job
/// (PAM registers), not the cache's. WP would only make the copies and the BIOS's own early
/// writes uncached for no gain, so this is WB, as in Xen's hvmloader and SeaBIOS.
pub const FIXED_C0000_TYPE: MemType = MemType::WriteBack;

/// The first address the variable MTRRs govern: below it the fixed-range MTRRs decide.
pub const FIXED_RANGE_END: u64 = 0x10_0000;

/// What MTRRcap (MSR 0xFE) reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MtrrCaps {
    /// VCNT: number of variable-range register pairs.
    pub variable: u8,
    /// FIX: the fixed-range registers exist.
    pub fixed: bool,
}

impl MtrrCaps {
    pub fn from_msr(mtrrcap: u64) -> Self {
        MtrrCaps { variable: mtrrcap as u8, fixed: mtrrcap & (1 << 8) != 0 }
    }
}

/// The ranges to make uncacheable; everything else is write-back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MtrrRequest {
    /// MMIO ranges: 4 KiB aligned, at or above 1 MiB, below `1 << phys_bits`. Overlapping
    /// and adjacent ranges are fine (they are merged).
    pub uncacheable: Vec<Range<u64>>,
}

/// One variable-range MTRR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VariableRange {
    pub base: u64,
    /// A power of two, and `base` is a multiple of it.
    pub size: u64,
    pub mem_type: MemType,
}

impl VariableRange {
    pub fn end(&self) -> u64 {
        self.base + self.size
    }

    #[cfg(test)]
    fn contains(&self, addr: u64) -> bool {
        addr & !(self.size - 1) == self.base
    }
}

/// The planned layout, the same for every CPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MtrrLayout {
    pub default: MemType,
    /// Whether the fixed-range registers are used (they are when the CPU has them).
    pub fixed: bool,
    pub variable: Vec<VariableRange>,
    /// VCNT of the CPU the layout was planned for: every one of these pairs is written,
    /// the unused ones invalid, so nothing a previous firmware left survives.
    pub variable_slots: u8,
    phys_bits: u8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MtrrError {
    /// A range that is not 4 KiB aligned, reaches below 1 MiB or beyond the physical
    /// address width.
    BadRange { range: Range<u64>, phys_bits: u8 },
    /// The ranges need more variable MTRRs than the CPU has.
    TooManyRanges { needed: usize, available: usize },
}

impl fmt::Display for MtrrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MtrrError::BadRange { range, phys_bits } => write!(
                f,
                "MTRR range [{:#x}-{:#x}] is not 4 KiB aligned within [1 MiB, 2^{phys_bits})",
                range.start,
                range.end.wrapping_sub(1)
            ),
            MtrrError::TooManyRanges { needed, available } => {
                write!(f, "uncacheable MMIO needs {needed} variable MTRRs, the CPU has {available}")
            }
        }
    }
}

/// Fixed-range register contents: each register holds eight one-byte types.
fn fixed_registers() -> [u64; 11] {
    let all = |t: MemType| u64::from_ne_bytes([t as u8; 8]);
    let mut regs = [all(MemType::WriteBack); 11];
    // 0: 0x00000-0x7FFFF (64 KiB each), 1: 0x80000-0x9FFFF (16 KiB each): conventional RAM.
    // 2: 0xA0000-0xBFFFF (16 KiB each): the VGA window.
    regs[2] = all(MemType::Uncacheable);
    // 3..=10: 0xC0000-0xFFFFF (4 KiB each).
    for reg in &mut regs[3..] {
        *reg = all(FIXED_C0000_TYPE);
    }
    regs
}

/// MSR-index order of the fixed-range registers: (first address, bytes per type field).
#[cfg(test)]
const FIXED_SPANS: [(u64, u64); 11] = [
    (0x0_0000, 0x1_0000),
    (0x8_0000, 0x4000),
    (0xA_0000, 0x4000),
    (0xC_0000, 0x1000),
    (0xC_8000, 0x1000),
    (0xD_0000, 0x1000),
    (0xD_8000, 0x1000),
    (0xE_0000, 0x1000),
    (0xE_8000, 0x1000),
    (0xF_0000, 0x1000),
    (0xF_8000, 0x1000),
];

/// Sorted, merged copy of `ranges` (overlapping or touching ranges become one).
fn merged(ranges: &[Range<u64>]) -> Vec<Range<u64>> {
    let mut sorted: Vec<_> = ranges.iter().filter(|r| r.start < r.end).cloned().collect();
    crate::sort::sort_by_key(&mut sorted, |r| r.start);
    let mut out: Vec<Range<u64>> = Vec::new();
    for r in sorted {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// Cuts `range` into the largest naturally aligned power-of-two blocks, left to right.
fn aligned_blocks(range: &Range<u64>) -> impl Iterator<Item = (u64, u64)> + '_ {
    let mut base = range.start;
    core::iter::from_fn(move || {
        if base >= range.end {
            return None;
        }
        let alignment = if base == 0 { 1 << 63 } else { 1 << base.trailing_zeros() };
        let fits = 1 << (63 - (range.end - base).leading_zeros());
        let size: u64 = alignment.min(fits);
        let block = (base, size);
        base += size;
        Some(block)
    })
}

impl MtrrLayout {
    /// Plans the layout for a CPU with `caps` and `phys_bits` address bits.
    pub fn plan(request: &MtrrRequest, caps: MtrrCaps, phys_bits: u8) -> Result<Self, MtrrError> {
        let limit = 1u64.checked_shl(u32::from(phys_bits)).unwrap_or(u64::MAX);
        for range in &request.uncacheable {
            let aligned = range.start % PAGE_SIZE == 0 && range.end % PAGE_SIZE == 0;
            if !aligned || range.start < FIXED_RANGE_END || range.end > limit {
                return Err(MtrrError::BadRange { range: range.clone(), phys_bits });
            }
        }
        let variable: Vec<_> = merged(&request.uncacheable)
            .iter()
            .flat_map(|r| aligned_blocks(r).collect::<Vec<_>>())
            .map(|(base, size)| VariableRange { base, size, mem_type: MemType::Uncacheable })
            .collect();
        let available = usize::from(caps.variable).min(MAX_VARIABLE_MTRRS);
        if variable.len() > available {
            return Err(MtrrError::TooManyRanges { needed: variable.len(), available });
        }
        Ok(MtrrLayout {
            default: MemType::WriteBack,
            fixed: caps.fixed,
            variable,
            variable_slots: caps.variable,
            phys_bits,
        })
    }

    /// The type the CPU gives `addr` under this layout, by the SDM's precedence rules
    /// (fixed ranges first below 1 MiB, then variable ranges with UC winning, then the
    /// default). Used by the tests, and to describe the layout in the log.
    #[cfg(test)]
    pub fn type_of(&self, addr: u64) -> MemType {
        if self.fixed && addr < FIXED_RANGE_END {
            let regs = fixed_registers();
            let (index, (start, step)) = FIXED_SPANS
                .iter()
                .enumerate()
                .rev()
                .find(|(_, (start, _))| addr >= *start)
                .expect("the first span starts at 0");
            let field = (addr - start) / step;
            let bits = (regs[index] >> (field * 8)) as u8;
            return MemType::from_bits(bits).expect("fixed registers hold valid types");
        }
        let mut matching = self.variable.iter().filter(|v| v.contains(addr)).map(|v| v.mem_type);
        match matching.next() {
            None => self.default,
            Some(first) => matching.fold(first, |acc, t| match (acc, t) {
                (MemType::Uncacheable, _) | (_, MemType::Uncacheable) => MemType::Uncacheable,
                (a, b) if a == b => a,
                // WT with WB is WT; the planner never produces other mixes.
                _ => MemType::WriteThrough,
            }),
        }
    }

    /// The register image that [`crate::arch::LocalCpu::write_mtrrs`] programs.
    pub fn registers(&self) -> MtrrRegisters {
        const ENABLE: u64 = 1 << 11;
        const FIXED_ENABLE: u64 = 1 << 10;
        const VALID: u64 = 1 << 11;
        let address_mask = ((1u64 << self.phys_bits) - 1) & !(PAGE_SIZE - 1);
        let mut variable = [(0, 0); MAX_VARIABLE_MTRRS];
        for (pair, range) in variable.iter_mut().zip(&self.variable) {
            *pair =
                (range.base | range.mem_type as u64, (!(range.size - 1) & address_mask) | VALID);
        }
        MtrrRegisters {
            def_type: ENABLE | if self.fixed { FIXED_ENABLE } else { 0 } | self.default as u64,
            fixed: self.fixed.then(fixed_registers),
            variable,
            variable_slots: self.variable_slots,
        }
    }
}

impl fmt::Display for MtrrLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "default {}", self.default)?;
        if self.fixed {
            write!(f, ", fixed: [0x0-0x9ffff] WB [0xa0000-0xbffff] UC [0xc0000-0xfffff] ")?;
            write!(f, "{FIXED_C0000_TYPE}")?;
        }
        write!(f, ", variable {}/{}:", self.variable.len(), self.variable_slots)?;
        for v in &self.variable {
            write!(f, " [{:#x}-{:#x}] {}", v.base, v.end() - 1, v.mem_type)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use proptest::prelude::*;

    use super::*;

    use crate::addr::{GiB, MiB};
    const QEMU_CAPS: MtrrCaps = MtrrCaps { variable: 8, fixed: true };

    fn request(ranges: &[Range<u64>]) -> MtrrRequest {
        MtrrRequest { uncacheable: ranges.to_vec() }
    }

    /// A request for the one range `start..end`.
    fn uc(start: u64, end: u64) -> MtrrRequest {
        MtrrRequest { uncacheable: vec![Range { start, end }] }
    }

    #[test]
    fn caps_decode_mtrrcap() {
        // QEMU: VCNT 8, FIX, WC.
        assert_eq!(MtrrCaps::from_msr(0x508), MtrrCaps { variable: 8, fixed: true });
        assert_eq!(MtrrCaps::from_msr(0x0a), MtrrCaps { variable: 10, fixed: false });
    }

    #[test]
    fn qemu_512m_hole_is_one_range() {
        let layout = MtrrLayout::plan(&uc(0x2000_0000, 4 * GiB), QEMU_CAPS, 40).unwrap();
        assert_eq!(
            layout.variable,
            vec![
                VariableRange {
                    base: 0x2000_0000,
                    size: 0x2000_0000,
                    mem_type: MemType::Uncacheable
                },
                VariableRange {
                    base: 0x4000_0000,
                    size: 0x4000_0000,
                    mem_type: MemType::Uncacheable
                },
                VariableRange {
                    base: 0x8000_0000,
                    size: 0x8000_0000,
                    mem_type: MemType::Uncacheable
                },
            ]
        );
        let regs = layout.registers();
        assert_eq!(regs.def_type, 0xC06);
        assert_eq!(regs.variable[0], (0x2000_0000, 0xFF_E000_0800));
        assert_eq!(regs.variable[2], (0x8000_0000, 0xFF_8000_0800));
        assert_eq!(regs.variable[3], (0, 0));
        assert_eq!(regs.variable_slots, 8);
        let fixed = regs.fixed.unwrap();
        assert_eq!(fixed[0], 0x0606_0606_0606_0606);
        assert_eq!(fixed[2], 0);
        assert_eq!(fixed[10], 0x0606_0606_0606_0606);
    }

    #[test]
    fn legacy_first_mib() {
        let layout = MtrrLayout::plan(&request(&[]), QEMU_CAPS, 36).unwrap();
        assert_eq!(layout.type_of(0), MemType::WriteBack);
        assert_eq!(layout.type_of(0x9_FFFF), MemType::WriteBack);
        assert_eq!(layout.type_of(0xA_0000), MemType::Uncacheable);
        assert_eq!(layout.type_of(0xB_FFFF), MemType::Uncacheable);
        assert_eq!(layout.type_of(0xC_0000), FIXED_C0000_TYPE);
        assert_eq!(layout.type_of(0xF_FFFF), FIXED_C0000_TYPE);
        assert_eq!(layout.type_of(FIXED_RANGE_END), MemType::WriteBack);
        assert!(layout.variable.is_empty());
    }

    #[test]
    fn adjacent_ranges_are_merged() {
        // Low window, ECAM, rest of the hole, hvmloader's area: one hole really.
        let pieces = [0xE000_0000..0xF000_0000, 0xF000_0000..0xF400_0000, 0xF400_0000..0xFC00_0000];
        let layout = MtrrLayout::plan(
            &request(&[
                pieces[2].clone(),
                0xFC00_0000..4 * GiB,
                pieces[0].clone(),
                pieces[1].clone(),
            ]),
            QEMU_CAPS,
            40,
        )
        .unwrap();
        assert_eq!(layout.variable.len(), 1);
        assert_eq!(layout.variable[0].base, 0xE000_0000);
        assert_eq!(layout.variable[0].size, 0x2000_0000);
    }

    #[test]
    fn too_many_ranges_is_an_error() {
        // 0x8010_0000..4 GiB needs one block per set bit of 0x7FF0_0000 >> 20: 11.
        let err = MtrrLayout::plan(&uc(0x8010_0000, 4 * GiB), QEMU_CAPS, 40).unwrap_err();
        assert_eq!(err, MtrrError::TooManyRanges { needed: 11, available: 8 });
        assert!(alloc::format!("{err}").contains("needs 11 variable MTRRs, the CPU has 8"));
        // QEMU's whole default 64-bit window [4 GiB, 0xFD00000000) alone needs 13.
        let err = MtrrLayout::plan(&uc(4 * GiB, 0xFD_0000_0000), QEMU_CAPS, 40).unwrap_err();
        assert_eq!(err, MtrrError::TooManyRanges { needed: 13, available: 8 });
    }

    #[test]
    fn bad_ranges_are_errors() {
        for bad in [0x9_0000..0x20_0000, 0x1000_0800..0x2000_0000, 0x10_0000..(1 << 37)] {
            let err =
                MtrrLayout::plan(&request(core::slice::from_ref(&bad)), QEMU_CAPS, 36).unwrap_err();
            assert_eq!(err, MtrrError::BadRange { range: bad, phys_bits: 36 });
        }
    }

    #[test]
    fn without_fixed_ranges_the_default_rules() {
        let caps = MtrrCaps { variable: 8, fixed: false };
        let layout = MtrrLayout::plan(&uc(0xC000_0000, 4 * GiB), caps, 36).unwrap();
        assert_eq!(layout.type_of(0xA_0000), MemType::WriteBack);
        assert_eq!(layout.registers().def_type, 0x806);
        assert_eq!(layout.registers().fixed, None);
    }

    /// The intended type: UC inside any requested range, the fixed policy below 1 MiB, WB
    /// everywhere else.
    fn intended(ranges: &[Range<u64>], addr: u64) -> MemType {
        if addr < FIXED_RANGE_END {
            return if (0xA_0000..0xC_0000).contains(&addr) {
                MemType::Uncacheable
            } else if addr >= 0xC_0000 {
                FIXED_C0000_TYPE
            } else {
                MemType::WriteBack
            };
        }
        if ranges.iter().any(|r| r.contains(&addr)) {
            MemType::Uncacheable
        } else {
            MemType::WriteBack
        }
    }

    /// A range in MiB units (1 MiB granular like the PCI hole), optionally page-granular.
    fn arb_range(phys_bits: u8) -> impl Strategy<Value = Range<u64>> {
        let top = 1u64 << (phys_bits - 12);
        (256u64..top, 1u64..top, any::<bool>()).prop_map(move |(start, len, pages)| {
            let (start, len) = if pages {
                (start, len % 4096 + 1)
            } else {
                (start & !0xFF, (len & !0xFF).max(0x100))
            };
            let end = (start + len).min(top);
            (start * PAGE_SIZE)..(end * PAGE_SIZE)
        })
    }

    proptest! {
        #[test]
        fn every_address_gets_its_intended_type(
            ranges in prop::collection::vec(arb_range(40), 0..4),
            probes in prop::collection::vec(0u64..(1 << 40), 64),
            variable in 1u8..20,
        ) {
            let ranges: Vec<_> = ranges.into_iter().filter(|r| r.start < r.end).collect();
            let caps = MtrrCaps { variable, fixed: true };
            match MtrrLayout::plan(&request(&ranges), caps, 40) {
                Ok(layout) => {
                    prop_assert!(layout.variable.len() <= usize::from(variable));
                    // Blocks are aligned powers of two and pairwise disjoint: no overlap
                    // can change a type.
                    for (i, a) in layout.variable.iter().enumerate() {
                        prop_assert!(a.size.is_power_of_two() && a.base % a.size == 0);
                        prop_assert!(a.size >= PAGE_SIZE && a.end() <= 1 << 40);
                        for b in &layout.variable[i + 1..] {
                            prop_assert!(a.end() <= b.base || b.end() <= a.base);
                        }
                    }
                    // Every boundary of every range, both sides, plus random probes.
                    let edges = ranges.iter().flat_map(|r| [r.start, r.end]).flat_map(|e| [e.saturating_sub(1), e]);
                    for addr in edges.chain(probes.iter().copied()).chain([0, 0x9_FFFF, 0xA_0000, 0xC_0000, FIXED_RANGE_END]) {
                        prop_assert_eq!(layout.type_of(addr), intended(&ranges, addr), "at {:#x}", addr);
                    }
                    // The register image says the same as the layout.
                    let regs = layout.registers();
                    for (pair, v) in regs.variable.iter().zip(&layout.variable) {
                        prop_assert_eq!(pair.0 & !0xFFF, v.base);
                        prop_assert_eq!(pair.1 & !0xFFF, !(v.size - 1) & ((1 << 40) - 1) & !0xFFF);
                    }
                }
                Err(MtrrError::TooManyRanges { needed, available }) => {
                    prop_assert!(needed > available);
                    prop_assert_eq!(available, usize::from(variable).min(MAX_VARIABLE_MTRRS));
                    // The count is the canonical one: the number of maximal aligned blocks.
                    let exact: usize = merged(&ranges).iter().map(|r| aligned_blocks(r).count()).sum();
                    prop_assert_eq!(needed, exact);
                }
                Err(e) => prop_assert!(false, "unexpected {:?}", e),
            }
        }

        #[test]
        fn suffix_of_4g_needs_one_block_per_set_bit(start_mib in 1u64..4096) {
            let range = start_mib * MiB..4 * GiB;
            let blocks = aligned_blocks(&range).count();
            prop_assert_eq!(blocks as u32, (4 * GiB - range.start).count_ones());
        }
    }
}
