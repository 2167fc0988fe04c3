//! The capability lists: the one in the first 256 bytes of configuration space (PCI Local
//! Bus 3.0, 6.7), a chain of (ID, next pointer) headers starting at the capabilities
//! pointer, and PCI Express's extended one from offset 0x100 (PCIe Base 5.0, 7.6), reachable
//! through ECAM only.

use alloc::vec::Vec;

use super::{Bdf, ConfigSpace, reg};

/// Capability IDs (PCI Code and ID Assignment Specification, 2).
pub(super) const CAP_ID_VENDOR: u8 = 0x09;
pub(super) const CAP_ID_SHPC: u8 = 0x0C;
pub(super) const CAP_ID_PCIE: u8 = 0x10;

/// Status register: the function has a capability list.
const STATUS_CAP_LIST: u16 = 1 << 4;
/// Capabilities pointer, the same offset in type 0 and type 1 headers.
const CAP_POINTER: u16 = 0x34;
/// At most 48 capabilities fit in the 192 bytes after the header: a longer chain is a loop.
const MAX_CAPS: usize = 48;

/// Every capability of `bdf` as (ID, offset), in list order. A malformed list (pointer into
/// the header, or a loop) ends the walk: what came before is still returned.
pub(super) fn capabilities(cfg: &mut impl ConfigSpace, bdf: Bdf) -> Vec<(u8, u16)> {
    let mut found = Vec::new();
    if cfg.read16(bdf, reg::STATUS) & STATUS_CAP_LIST == 0 {
        return found;
    }
    // The bottom two bits of every pointer are reserved (PCI 3.0, 6.7).
    let mut pointer = cfg.read8(bdf, CAP_POINTER) & 0xFC;
    while pointer >= 0x40 && found.len() < MAX_CAPS {
        let header = cfg.read16(bdf, u16::from(pointer));
        found.push((header as u8, u16::from(pointer)));
        pointer = (header >> 8) as u8 & 0xFC;
    }
    found
}

/// The offset of the first capability with ID `id`.
pub(super) fn find(cfg: &mut impl ConfigSpace, bdf: Bdf, id: u8) -> Option<u16> {
    capabilities(cfg, bdf).into_iter().find(|&(cap, _)| cap == id).map(|(_, offset)| offset)
}

/// Where the extended capability list starts.
const EXTENDED_START: u16 = 0x100;
/// At most this many 4-byte extended capabilities fit in 0x100-0xFFF: a longer chain loops.
const MAX_EXTENDED_CAPS: usize = (0x1000 - 0x100) / 4;

/// The offset of the first extended capability with ID `id`. A function without extended
/// configuration space (conventional PCI, or not reachable: all ones) or an empty list (a
/// zero header) has none; a malformed chain ends the walk.
pub(super) fn find_extended(cfg: &mut impl ConfigSpace, bdf: Bdf, id: u16) -> Option<u16> {
    let mut offset = EXTENDED_START;
    for _ in 0..MAX_EXTENDED_CAPS {
        let header = cfg.read32(bdf, offset);
        if header == 0 || header == u32::MAX {
            return None;
        }
        if header as u16 == id {
            return Some(offset);
        }
        // Bits 31:20: the next capability's offset, dword aligned (low two bits reserved).
        let next = (header >> 20) as u16 & 0xFFC;
        if next < EXTENDED_START {
            return None;
        }
        offset = next;
    }
    None
}
