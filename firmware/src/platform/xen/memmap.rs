//! The guest's memory map under Xen: XENMEM_memory_map (what libxl set; Xen's start info
//! for an HVM firmware carries none) turned into the [`MemoryRegion`] list the rest of the
//! firmware uses, the reserved-device-memory (RDM) regions folded in as reserved, the
//! MMIO hole `platform/mmio_hole_size` asks for, and hvmloader's growing of that hole over
//! RAM it moves above 4 GiB (`hvmloader/allow-memory-relocate`, [`XenSetup::fit_low_hole`]).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use log::{debug, info, warn};

use super::abi::{E820Entry, ReservedDeviceMemory};
use super::{Hypercall, XenError, XenSetup};
use crate::addr::FOUR_GIB;
use crate::bootinfo::{MemoryKind, MemoryRegion, PhysRange};
use crate::layout::{self, HOLE_END};

/// Where hvmloader's default low MMIO window starts (`HVM_BELOW_4G_MMIO_START`): an
/// `mmio_hole_size` smaller than 4 GiB minus this is ignored, as hvmloader does.
pub(crate) const HVM_BELOW_4G_MMIO_START: u64 = 0xF000_0000;

/// Validates raw E820 entries from Xen: no empty or wrapping entries, no overlaps. The
/// result is sorted by address.
pub(crate) fn from_e820(entries: &[E820Entry]) -> Result<Vec<MemoryRegion>, Box<XenError>> {
    let mut map = Vec::with_capacity(entries.len());
    for (index, e) in entries.iter().enumerate() {
        let (start, size, kind) = (e.addr, e.size, e.kind);
        let range = PhysRange::from_len(start, size)
            .filter(|r| !r.is_empty())
            .ok_or(XenError::BadMemoryEntry { index, start, size })?;
        map.push(MemoryRegion { range, kind: MemoryKind::from_e820(kind) });
    }
    MemoryRegion::sort_by_address(&mut map);
    for pair in map.windows(2) {
        if pair[0].range.overlaps(&pair[1].range) {
            return Err(Box::new(XenError::MemoryEntriesOverlap {
                first: pair[0].range,
                second: pair[1].range,
            }));
        }
    }
    Ok(map)
}

/// The conventional memory below 640 KiB, which XENMEM_memory_map leaves out for HVM guests
/// (libxl's map starts at 1 MiB): the domain builder populates it, and hvmloader's own E820
/// shows it as RAM up to the hvm_info_table's page at 0x9F000, which stays reserved. Added
/// when `map` has no RAM below 1 MiB; a map that describes low RAM is kept as it is.
///
/// Other entries wholly below 1 MiB are dropped, with a warning each: libxl 4.17 lists an
/// `acpi_firmware=` file as an ACPI entry at address 0 of the file's length (it builds the
/// map before the file has its address), which would otherwise claim the real-mode IVT.
pub(crate) fn with_low_memory(map: Vec<MemoryRegion>) -> Vec<MemoryRegion> {
    const HVM_INFO_PAGE: u64 = 0x9_F000;
    const ONE_MIB: u64 = 0x10_0000;
    if map.iter().any(|r| r.kind == MemoryKind::Ram && r.range.start < ONE_MIB) {
        return map;
    }
    let (below, mut map): (Vec<_>, Vec<_>) = map.into_iter().partition(|r| r.range.end <= ONE_MIB);
    for r in below {
        warn!("XENMEM_memory_map: {:?} entry {} below 1 MiB ignored", r.kind, r.range);
    }
    map.insert(
        0,
        MemoryRegion { range: PhysRange { start: 0, end: HVM_INFO_PAGE }, kind: MemoryKind::Ram },
    );
    map.insert(
        1,
        MemoryRegion {
            range: PhysRange { start: HVM_INFO_PAGE, end: 0xA_0000 },
            kind: MemoryKind::Reserved,
        },
    );
    map
}

/// RDM regions as physical ranges; a region that wraps is an error.
pub(crate) fn rdm_ranges(rdm: &[ReservedDeviceMemory]) -> Result<Vec<PhysRange>, Box<XenError>> {
    let mut ranges = Vec::with_capacity(rdm.len());
    for r in rdm {
        let start = r.start_pfn.checked_mul(4096);
        let len = r.nr_pages.checked_mul(4096);
        let range = start
            .zip(len)
            .and_then(|(start, len)| PhysRange::from_len(start, len))
            .filter(|r| !r.is_empty())
            .ok_or(XenError::BadRdm { start_pfn: r.start_pfn, nr_pages: r.nr_pages })?;
        ranges.push(range);
    }
    Ok(ranges)
}

/// The map with every RDM region reserved: RAM under a region is cut out of the RAM entry
/// (the toolstack normally keeps RAM clear of RDM; `rdm_mem_boundary` policies may not),
/// and the parts no entry covers become reserved entries, which keeps PCI BARs out of them
/// ([`layout::reserved_in`]) and puts them in the E820 handed on. Returns the new map and
/// the RAM ranges that had to be given up, for the log.
pub(crate) fn reserve_rdm(
    map: &[MemoryRegion],
    rdm: &[PhysRange],
) -> (Vec<MemoryRegion>, Vec<PhysRange>) {
    let mut out: Vec<MemoryRegion> = map.to_vec();
    let mut lost = Vec::new();
    for r in rdm {
        let mut next = Vec::with_capacity(out.len() + 2);
        for e in out {
            if e.kind == MemoryKind::Ram && e.range.overlaps(r) {
                lost.push(PhysRange {
                    start: e.range.start.max(r.start),
                    end: e.range.end.min(r.end),
                });
                if e.range.start < r.start {
                    next.push(MemoryRegion {
                        range: PhysRange { start: e.range.start, end: r.start },
                        kind: e.kind,
                    });
                }
                if r.end < e.range.end {
                    next.push(MemoryRegion {
                        range: PhysRange { start: r.end, end: e.range.end },
                        kind: e.kind,
                    });
                }
            } else {
                next.push(e);
            }
        }
        // The parts of `r` no (non-RAM) entry covers become reserved.
        MemoryRegion::sort_by_address(&mut next);
        let mut at = r.start;
        let mut gaps = Vec::new();
        for e in next.iter().filter(|e| e.range.overlaps(r)) {
            if e.range.start > at {
                gaps.push(PhysRange { start: at, end: e.range.start });
            }
            at = at.max(e.range.end);
        }
        if at < r.end {
            gaps.push(PhysRange { start: at, end: r.end });
        }
        next.extend(
            gaps.into_iter().map(|range| MemoryRegion { range, kind: MemoryKind::Reserved }),
        );
        MemoryRegion::sort_by_address(&mut next);
        out = next;
    }
    (out, lost)
}

/// The low MMIO hole. Without `mmio_hole_size` it is [`layout::low_hole`] (from the top of
/// RAM below 4 GiB). With it, hvmloader's rule: the hole is the top `mmio_hole_size` bytes
/// below 4 GiB, so the PCI area starts at `4 GiB - mmio_hole_size` (up to our
/// [`HOLE_END`]); a size that would start above [`HVM_BELOW_4G_MMIO_START`] is ignored.
/// RAM reaching into the requested hole is an error: libxl lowers the RAM when it sets the
/// key, so a conflict means the two disagree, and hvmloader's silent overlap would put BARs
/// over RAM.
pub(crate) fn low_hole(
    map: &[MemoryRegion],
    mmio_hole_size: Option<u64>,
) -> Result<Range<u64>, Box<XenError>> {
    let natural = layout::low_hole(map).map_err(XenError::Layout)?;
    let Some(start) = fixed_hole_start(mmio_hole_size)? else {
        if let Some(size) = mmio_hole_size {
            warn!(
                "platform/mmio_hole_size {size:#x} would start the hole above \
                 {HVM_BELOW_4G_MMIO_START:#x}: ignored, as hvmloader does"
            );
        }
        return Ok(natural);
    };
    if start < natural.start {
        return Err(Box::new(XenError::MmioHoleOverRam {
            hole_start: start,
            ram_end: natural.start,
        }));
    }
    Ok(start..HOLE_END)
}

/// Where `platform/mmio_hole_size` puts the hole's start, `None` when it is unset or
/// ignored (as hvmloader ignores a size that starts the hole above
/// [`HVM_BELOW_4G_MMIO_START`]).
fn fixed_hole_start(mmio_hole_size: Option<u64>) -> Result<Option<u64>, Box<XenError>> {
    let Some(size) = mmio_hole_size else { return Ok(None) };
    if size == 0 || size >= FOUR_GIB {
        return Err(Box::new(XenError::MmioHoleSize { size }));
    }
    let start = FOUR_GIB - size;
    Ok((start <= HVM_BELOW_4G_MMIO_START).then_some(start))
}

// ---------------------------------------------------------------------------------------
// Growing the hole over RAM, as hvmloader does (tools/firmware/hvmloader/pci.c, e820.c).
//
// hvmloader (4.17) sizes its hole by its BARs: it starts at HVM_BELOW_4G_MMIO_START and,
// while the memory BARs (64-bit ones over 1 GiB excepted: those always go above 4 GiB) do
// not fit below its ceiling, doubles the hole (its start goes 0xF0000000,
// 0xE0000000, 0xC0000000, 0x80000000 and stops there, the next doubling overflowing 32
// bits). With `hvmloader/allow-memory-relocate` 0 it stops before the hole would reach
// RAM; with `platform/mmio_hole_size` it does not grow the hole at all. RAM under the hole
// is then moved, top down, in XENMAPSPACE_gmfn_range calls of at most 0xFFFF pages, to the
// frames after `high_mem_pgend` (4 GiB when there is no RAM above 4 GiB), and the
// hvm_info_table's `low_mem_pgend`/`high_mem_pgend` and its memory map follow. What still
// does not fit goes above 4 GiB if it is a 64-bit BAR, or stays unassigned.
//
// This firmware's hole already reaches down to the end of RAM (the layout module), so it
// needs to grow only where hvmloader would move RAM. It tries hvmloader's starts in
// hvmloader's order, asking the PCI planner whether everything fits instead of comparing a
// sum of BAR sizes (the planner knows alignment, reserved ranges and bridges).

/// hvmloader's hole starts, largest first (pci.c's `pci_mem_start <<= 1` on a 32-bit
/// value from HVM_BELOW_4G_MMIO_START: the hole to 4 GiB doubles each time, up to 2 GiB).
pub(crate) const HVMLOADER_HOLE_STARTS: [u64; 4] =
    [0xF000_0000, 0xE000_0000, 0xC000_0000, 0x8000_0000];
/// The lowest start hvmloader gives the hole: RAM below 2 GiB never moves.
pub(crate) const LOWEST_HOLE_START: u64 = 0x8000_0000;
/// Pages per XENMAPSPACE_gmfn_range call: its `size` is 16 bits, and hvmloader moves
/// `(1 << 16) - 1` pages at a time.
pub(crate) const PAGES_PER_MOVE: u64 = 0xFFFF;
const PAGE_SHIFT: u32 = 12;
/// The first frame above 4 GiB.
const PFN_4G: u64 = FOUR_GIB >> PAGE_SHIFT;

/// What keeps the low hole from growing further.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HoleLimit {
    /// `platform/mmio_hole_size` sets the hole; hvmloader does not grow it then.
    FixedSize,
    /// `hvmloader/allow-memory-relocate` is 0: the hole stays above RAM.
    RelocationNotAllowed,
    /// hvmloader grows the hole down to [`LOWEST_HOLE_START`] at most.
    LowestStart,
    /// The RAM the next step would move cannot move (a warning says why).
    RamCannotMove,
    /// Not under Xen: the hole is what the memory map leaves.
    MemoryMap,
}

impl fmt::Display for HoleLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HoleLimit::FixedSize => "platform/mmio_hole_size fixes it",
            HoleLimit::RelocationNotAllowed => {
                "hvmloader/allow-memory-relocate is 0, so no RAM moves for it"
            }
            HoleLimit::LowestStart => "hvmloader grows it to 2 GiB at most",
            HoleLimit::RamCannotMove => "the RAM below it cannot move",
            HoleLimit::MemoryMap => "it is what the memory map leaves",
        })
    }
}

/// How far the low hole may grow: from the hole Xen's map leaves (`natural`) down to
/// `lowest_start`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HoleBounds {
    pub natural: Range<u64>,
    pub lowest_start: u64,
    pub limit: HoleLimit,
}

/// The bounds hvmloader keeps to: a hole `mmio_hole_size` fixes does not grow; without
/// relocation it stays above RAM, which the natural hole already reaches; with it, it grows
/// to [`LOWEST_HOLE_START`] (never shrinking a hole that already starts lower).
pub(crate) fn hole_bounds(
    natural: Range<u64>,
    fixed_size: bool,
    allow_relocate: bool,
) -> HoleBounds {
    let (lowest_start, limit) = if fixed_size {
        (natural.start, HoleLimit::FixedSize)
    } else if !allow_relocate {
        (natural.start, HoleLimit::RelocationNotAllowed)
    } else {
        (natural.start.min(LOWEST_HOLE_START), HoleLimit::LowestStart)
    };
    HoleBounds { natural, lowest_start, limit }
}

/// The starts the hole may grow to, in the order hvmloader tries them: its
/// [`HVMLOADER_HOLE_STARTS`] below the natural start and not below `bounds.lowest_start`.
pub(crate) fn growth_starts(bounds: &HoleBounds) -> Vec<u64> {
    HVMLOADER_HOLE_STARTS
        .iter()
        .copied()
        .filter(|&s| s >= bounds.lowest_start && s < bounds.natural.start)
        .collect()
}

/// One XENMAPSPACE_gmfn_range call: `pages` frames from `from_pfn` move to `to_pfn` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PageMove {
    pub from_pfn: u64,
    pub to_pfn: u64,
    pub pages: u16,
}

/// The RAM to move out of a grown hole, and the hvm_info_table's page ends afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Relocation {
    /// The first frame of the hole: no RAM below 4 GiB from here on once `moves` are made.
    pub hole_start_pfn: u64,
    /// In the order of the calls: the top of low RAM first, each chunk after the last.
    pub moves: Vec<PageMove>,
    pub low_mem_pgend: u32,
    pub high_mem_pgend: u32,
}

impl Relocation {
    /// The RAM below 4 GiB that moves; `None` when nothing does.
    pub fn source(&self) -> Option<PhysRange> {
        let start = self.moves.iter().map(|m| m.from_pfn).min()?;
        let end = self.moves.iter().map(|m| m.from_pfn + u64::from(m.pages)).max()?;
        Some(PhysRange { start: start << PAGE_SHIFT, end: end << PAGE_SHIFT })
    }

    /// Where it goes, above 4 GiB; `None` when nothing moves.
    pub fn destination(&self) -> Option<PhysRange> {
        let start = self.moves.iter().map(|m| m.to_pfn).min()?;
        let end = self.moves.iter().map(|m| m.to_pfn + u64::from(m.pages)).max()?;
        Some(PhysRange { start: start << PAGE_SHIFT, end: end << PAGE_SHIFT })
    }
}

/// hvmloader's relocation for a hole from `hole_start`: the frames from `hole_start` (its
/// page) to `low_mem_pgend`, taken from the top in chunks of [`PAGES_PER_MOVE`], each put
/// after the last at `high_mem_pgend` (at 4 GiB when that is 0, no RAM above 4 GiB).
pub(crate) fn relocation(
    hole_start: u64,
    low_mem_pgend: u32,
    high_mem_pgend: u32,
) -> Result<Relocation, HoleError> {
    let first_pfn = hole_start >> PAGE_SHIFT;
    let mut low = u64::from(low_mem_pgend);
    let mut high = u64::from(high_mem_pgend);
    let mut moves = Vec::new();
    while first_pfn < low {
        let pages = (low - first_pfn).min(PAGES_PER_MOVE);
        if high == 0 {
            high = PFN_4G;
        }
        low -= pages;
        // At most PAGES_PER_MOVE, so it fits the 16-bit count.
        moves.push(PageMove { from_pfn: low, to_pfn: high, pages: pages as u16 });
        high += pages;
    }
    let high_mem_pgend =
        u32::try_from(high).map_err(|_| HoleError::HighMemPgendOverflow { pfn: high })?;
    // `low` only decreased from a u32.
    Ok(Relocation { hole_start_pfn: first_pfn, moves, low_mem_pgend: low as u32, high_mem_pgend })
}

/// The memory map after `relocation`: the moved RAM gone from below 4 GiB and added (or
/// appended to the RAM ending there) at its destination, as hvmloader's memory map and
/// E820 show it. The map must agree with the hvm_info_table: exactly the moved range is RAM
/// from its start to 4 GiB, and the destination is free. Nothing in `keep` (boot modules,
/// the start info) may be in the moved range.
pub(crate) fn relocated_map(
    map: &[MemoryRegion],
    relocation: &Relocation,
    keep: &[PhysRange],
) -> Result<Vec<MemoryRegion>, HoleError> {
    let above = PhysRange { start: relocation.hole_start_pfn << PAGE_SHIFT, end: FOUR_GIB };
    let mut ram: Vec<PhysRange> = map
        .iter()
        .filter(|r| r.kind == MemoryKind::Ram && r.range.overlaps(&above))
        .map(|r| PhysRange {
            start: r.range.start.max(above.start),
            end: r.range.end.min(above.end),
        })
        .collect();
    crate::sort::sort_unstable(&mut ram);
    let merged = ram.iter().try_fold(None::<PhysRange>, |acc, r| match acc {
        None => Some(Some(*r)),
        Some(a) if a.end == r.start => Some(Some(PhysRange { start: a.start, end: r.end })),
        Some(_) => None,
    });
    let (Some(source), Some(destination)) = (relocation.source(), relocation.destination()) else {
        // Nothing moves: then there must be no RAM in the hole either.
        if !ram.is_empty() {
            return Err(HoleError::MapDisagrees { hvm_info_ram: None, map_ram: ram });
        }
        return Ok(map.to_vec());
    };
    if merged != Some(Some(source)) {
        return Err(HoleError::MapDisagrees { hvm_info_ram: Some(source), map_ram: ram });
    }
    if let Some(data) = keep.iter().find(|k| k.overlaps(&source)) {
        return Err(HoleError::BootDataInHole { moved: source, data: *data });
    }
    if let Some(entry) = map.iter().find(|r| r.range.overlaps(&destination)) {
        return Err(HoleError::DestinationInUse { destination, entry: entry.range });
    }
    let mut out: Vec<MemoryRegion> = Vec::with_capacity(map.len() + 1);
    for region in map {
        if region.kind == MemoryKind::Ram && region.range.overlaps(&source) {
            if region.range.start < source.start {
                let range = PhysRange { start: region.range.start, end: source.start };
                out.push(MemoryRegion { range, kind: MemoryKind::Ram });
            }
        } else if region.kind == MemoryKind::Ram && region.range.end == destination.start {
            let range = PhysRange { start: region.range.start, end: destination.end };
            out.push(MemoryRegion { range, kind: MemoryKind::Ram });
        } else {
            out.push(*region);
        }
    }
    if !out.iter().any(|r| r.range.end == destination.end && r.kind == MemoryKind::Ram) {
        out.push(MemoryRegion { range: destination, kind: MemoryKind::Ram });
    }
    MemoryRegion::sort_by_address(&mut out);
    Ok(out)
}

/// The low hole [`XenSetup::fit_low_hole`] settled on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FittedHole {
    pub hole: Range<u64>,
    /// What keeps it from growing further, for the message when BARs still do not fit.
    pub limit: HoleLimit,
}

/// Why the hole cannot be grown as planned, or (only reported) that its largest allowed
/// size still cannot hold the BARs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HoleError {
    /// The largest hole allowed cannot hold every memory BAR: `unplaced` of them
    /// (`bytes` in all) got no address. Reported, not fatal: hvmloader boots on with them
    /// unassigned too.
    BarsDoNotFit { hole: Range<u64>, limit: HoleLimit, unplaced: usize, bytes: u64 },
    /// The RAM under the hole (from its start to 4 GiB) is `hvm_info_ram` by the
    /// hvm_info_table's `low_mem_pgend` but `map_ram` by Xen's memory map.
    MapDisagrees { hvm_info_ram: Option<PhysRange>, map_ram: Vec<PhysRange> },
    /// The moved RAM would land on an entry of the memory map.
    DestinationInUse { destination: PhysRange, entry: PhysRange },
    /// A boot module or the start info lies in the RAM that would move.
    BootDataInHole { moved: PhysRange, data: PhysRange },
    /// The moved RAM would end beyond what `high_mem_pgend` (32 bits of frames) describes.
    HighMemPgendOverflow { pfn: u64 },
}

impl fmt::Display for HoleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HoleError::BarsDoNotFit { hole, limit, unplaced, bytes } => write!(
                f,
                "MMIO hole [{:#x}-{:#x}] is the largest allowed ({limit}) and {unplaced} memory \
                 BAR(s), {bytes:#x} bytes, fit neither there nor above 4 GiB: left unassigned, \
                 as hvmloader leaves them",
                hole.start,
                hole.end.saturating_sub(1)
            ),
            HoleError::MapDisagrees { hvm_info_ram, map_ram } => {
                f.write_str("MMIO hole: RAM under it is")?;
                match hvm_info_ram {
                    Some(r) => write!(f, " {r}")?,
                    None => f.write_str(" none")?,
                }
                f.write_str(" by the hvm_info_table but")?;
                if map_ram.is_empty() {
                    f.write_str(" none")?;
                }
                for r in map_ram {
                    write!(f, " {r}")?;
                }
                f.write_str(" by Xen's memory map")
            }
            HoleError::DestinationInUse { destination, entry } => write!(
                f,
                "MMIO hole: RAM moved above 4 GiB would go to {destination}, over the memory \
                 map's entry {entry}"
            ),
            HoleError::BootDataInHole { moved, data } => write!(
                f,
                "MMIO hole: RAM {moved} would move above 4 GiB, but boot data at {data} lies in it"
            ),
            HoleError::HighMemPgendOverflow { pfn } => write!(
                f,
                "MMIO hole: RAM moved above 4 GiB would end at frame {pfn:#x}, beyond the \
                 hvm_info_table's 32-bit high_mem_pgend"
            ),
        }
    }
}

impl From<HoleError> for Box<XenError> {
    fn from(e: HoleError) -> Self {
        Box::new(XenError::Hole(e))
    }
}

impl<H: Hypercall> XenSetup<H> {
    /// Makes the low MMIO hole as large as the BARs need, within what hvmloader allows
    /// ([`hole_bounds`]), moving the RAM the grown hole covers above 4 GiB.
    ///
    /// `hole` is the hole Xen's map leaves ([`XenSetup::low_hole`]); `fits` runs the PCI
    /// planner on a candidate hole with the memory map it would come with, and says whether
    /// everything that belongs below 4 GiB fits. When `hole` holds everything, nothing
    /// changes and no hypercall is made. Otherwise the hole takes hvmloader's starts in
    /// turn ([`growth_starts`]) until one holds everything, or the lowest allowed (as
    /// hvmloader grows it all the way, then moves 64-bit BARs up). RAM that cannot move (the
    /// map and the hvm_info_table disagree, boot data lies in it) stops the growth at the
    /// step before, with a warning. The RAM under the chosen hole then moves
    /// ([`Xen::add_to_physmap_range`](super::Xen::add_to_physmap_range)), and `hvm_info`
    /// and `memory_map` follow. `keep`: ranges that must not move (boot modules, start
    /// info).
    pub fn fit_low_hole(
        &mut self,
        hole: Range<u64>,
        keep: &[PhysRange],
        mut fits: impl FnMut(&Range<u64>, &[MemoryRegion]) -> bool,
    ) -> Result<FittedHole, Box<XenError>> {
        let fixed = fixed_hole_start(self.config.mmio_hole_size)?.is_some();
        let bounds = hole_bounds(hole.clone(), fixed, self.config.allow_memory_relocate);
        if fits(&hole, &self.memory_map) {
            return Ok(FittedHole { hole, limit: bounds.limit });
        }
        let (low, high) = (self.hvm_info.low_mem_pgend, self.hvm_info.high_mem_pgend);
        let mut chosen = None;
        let mut limit = bounds.limit;
        for start in growth_starts(&bounds) {
            let plan = relocation(start, low, high)?;
            let map = match relocated_map(&self.memory_map, &plan, keep) {
                Ok(map) => map,
                Err(e) => {
                    warn!("{e}: the MMIO hole does not grow to {start:#x}");
                    limit = HoleLimit::RamCannotMove;
                    break;
                }
            };
            let done = fits(&(start..hole.end), &map);
            chosen = Some((start, plan, map));
            if done {
                break;
            }
        }
        // Not grown: the caller's planner moves 64-bit BARs above 4 GiB and says so.
        let Some((start, plan, map)) = chosen else {
            return Ok(FittedHole { hole, limit });
        };
        self.move_ram(&plan)?;
        self.memory_map = map;
        if let (Some(from), Some(to)) = (plan.source(), plan.destination()) {
            info!(
                "MMIO hole grown to start at {start:#x}: RAM {from} moved to {to} \
                 ({} call(s)); low_mem_pgend {:#x}, high_mem_pgend {:#x}",
                plan.moves.len(),
                plan.low_mem_pgend,
                plan.high_mem_pgend
            );
        }
        if self.vnuma.is_some() {
            warn!(
                "RAM moved above 4 GiB with a vNUMA topology: its memory ranges (and the SRAT) \
                 describe the old layout (libxl forbids relocation with vNUMA for this)"
            );
        }
        Ok(FittedHole { hole: start..hole.end, limit })
    }

    /// Makes the calls of `plan` in order, updating `hvm_info` after each as hvmloader
    /// updates its table, so that a failure leaves it describing what did move.
    fn move_ram(&mut self, plan: &Relocation) -> Result<(), Box<XenError>> {
        for m in &plan.moves {
            debug!(
                "moving {:#x} pages from {:#x} to {:#x} for the MMIO hole",
                m.pages,
                m.from_pfn << PAGE_SHIFT,
                m.to_pfn << PAGE_SHIFT
            );
            self.xen.add_to_physmap_range(m.from_pfn, m.to_pfn, m.pages)?;
            // Frames below 4 GiB and `relocation`'s checked end fit 32 bits.
            self.hvm_info.low_mem_pgend = m.from_pfn as u32;
            self.hvm_info.high_mem_pgend = (m.to_pfn + u64::from(m.pages)) as u32;
        }
        Ok(())
    }
}
