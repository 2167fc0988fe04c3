//! The guest's memory map under Xen: XENMEM_memory_map (what libxl set; Xen's start info
//! for an HVM firmware carries none) turned into the [`MemoryRegion`] list the rest of the
//! firmware uses, the reserved-device-memory (RDM) regions folded in as reserved, and the
//! MMIO hole `platform/mmio_hole_size` asks for.

use alloc::vec::Vec;
use core::ops::Range;

use super::XenError;
use super::abi::{E820Entry, ReservedDeviceMemory};
use crate::bootinfo::{MemoryKind, MemoryRegion, PhysRange};
use crate::layout::{self, HOLE_END};

const FOUR_GIB: u64 = 1 << 32;
/// Where hvmloader's default low MMIO window starts (`HVM_BELOW_4G_MMIO_START`): an
/// `mmio_hole_size` smaller than 4 GiB minus this is ignored, as hvmloader does.
pub const HVM_BELOW_4G_MMIO_START: u64 = 0xF000_0000;

/// Validates raw E820 entries from Xen: no empty or wrapping entries, no overlaps. The
/// result is sorted by address.
pub fn from_e820(entries: &[E820Entry]) -> Result<Vec<MemoryRegion>, XenError> {
    let mut map = Vec::with_capacity(entries.len());
    for (index, e) in entries.iter().enumerate() {
        let (start, size, kind) = (e.addr, e.size, e.kind);
        let range = PhysRange::from_len(start, size)
            .filter(|r| !r.is_empty())
            .ok_or(XenError::BadMemoryEntry { index, start, size })?;
        map.push(MemoryRegion { range, kind: MemoryKind::from_e820(kind) });
    }
    map.sort_by_key(|r| r.range);
    for pair in map.windows(2) {
        if pair[0].range.overlaps(&pair[1].range) {
            return Err(XenError::MemoryEntriesOverlap {
                first: pair[0].range,
                second: pair[1].range,
            });
        }
    }
    Ok(map)
}

/// The conventional memory below 640 KiB, which XENMEM_memory_map leaves out for HVM guests
/// (libxl's map starts at 1 MiB): the domain builder populates it, and hvmloader's own E820
/// shows it as RAM up to the hvm_info_table's page at 0x9F000, which stays reserved. Added
/// when `map` has nothing below 1 MiB; a map that describes low memory is kept as it is.
pub fn with_low_memory(mut map: Vec<MemoryRegion>) -> Vec<MemoryRegion> {
    const HVM_INFO_PAGE: u64 = 0x9_F000;
    if map.iter().any(|r| r.range.start < 0x10_0000) {
        return map;
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
pub fn rdm_ranges(rdm: &[ReservedDeviceMemory]) -> Result<Vec<PhysRange>, XenError> {
    rdm.iter()
        .map(|r| {
            let bad = XenError::BadRdm { start_pfn: r.start_pfn, nr_pages: r.nr_pages };
            let start = r.start_pfn.checked_mul(4096).ok_or(bad.clone())?;
            let len = r.nr_pages.checked_mul(4096).ok_or(bad.clone())?;
            PhysRange::from_len(start, len).filter(|r| !r.is_empty()).ok_or(bad)
        })
        .collect()
}

/// The map with every RDM region reserved: RAM under a region is cut out of the RAM entry
/// (the toolstack normally keeps RAM clear of RDM; `rdm_mem_boundary` policies may not),
/// and the parts no entry covers become reserved entries, which keeps PCI BARs out of them
/// ([`layout::reserved_in`]) and puts them in the E820 handed on. Returns the new map and
/// the RAM ranges that had to be given up, for the log.
pub fn reserve_rdm(map: &[MemoryRegion], rdm: &[PhysRange]) -> (Vec<MemoryRegion>, Vec<PhysRange>) {
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
        next.sort_by_key(|e| e.range);
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
        next.sort_by_key(|e| e.range);
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
pub fn low_hole(map: &[MemoryRegion], mmio_hole_size: Option<u64>) -> Result<Range<u64>, XenError> {
    let natural = layout::low_hole(map).map_err(XenError::Layout)?;
    let Some(size) = mmio_hole_size else { return Ok(natural) };
    if size == 0 || size >= FOUR_GIB {
        return Err(XenError::MmioHoleSize { size });
    }
    let start = FOUR_GIB - size;
    if start > HVM_BELOW_4G_MMIO_START {
        log::warn!(
            "platform/mmio_hole_size {size:#x} would start the hole above \
             {HVM_BELOW_4G_MMIO_START:#x}: ignored, as hvmloader does"
        );
        return Ok(natural);
    }
    if start < natural.start {
        return Err(XenError::MmioHoleOverRam { hole_start: start, ram_end: natural.start });
    }
    Ok(start..HOLE_END)
}
