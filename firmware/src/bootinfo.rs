//! `struct hvm_start_info`: what Xen's toolstack and QEMU's PVH loader hand the firmware in
//! EBX (xen/include/public/arch-x86/hvm/start_info.h).
//!
//! Everything in it is input from outside and is checked before use: the magic, counts,
//! that every pointed-to range is readable, that modules neither wrap, nor overlap each other,
//! the firmware image or the start info itself, and that memory-map entries do not overlap.
//! [`BootInfo::parse`] returns the first problem as a [`BootInfoError`] naming it.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub use crate::addr::PhysRange;
use crate::arch::{PhysMemory, PhysReadError};

pub const START_INFO_MAGIC: u32 = 0x336E_C578;
/// Xen passes at most two modules (firmware and, optionally, an ACPI table blob); more than
/// this many is corrupt input, not a configuration.
pub const MAX_MODULES: u32 = 16;
/// The E820 limit the whole firmware works with.
pub const MAX_MEMORY_MAP_ENTRIES: u32 = 128;
/// Longest command line accepted (firmware's own, and each module's).
pub const MAX_CMDLINE: usize = 4096;

const START_INFO_V0_SIZE: usize = 48;
const START_INFO_V1_SIZE: usize = 56;
const MODULE_ENTRY_SIZE: usize = 32;
const MEMMAP_ENTRY_SIZE: usize = 24;

/// Memory types of the start info memory map (E820 numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryKind {
    Ram,
    Reserved,
    AcpiReclaimable,
    AcpiNvs,
    Unusable,
    Disabled,
    Persistent,
    /// A type this firmware does not know; treated as reserved.
    Other(u32),
}

impl MemoryKind {
    pub fn from_e820(kind: u32) -> Self {
        match kind {
            1 => MemoryKind::Ram,
            2 => MemoryKind::Reserved,
            3 => MemoryKind::AcpiReclaimable,
            4 => MemoryKind::AcpiNvs,
            5 => MemoryKind::Unusable,
            6 => MemoryKind::Disabled,
            7 => MemoryKind::Persistent,
            other => MemoryKind::Other(other),
        }
    }
}

impl fmt::Display for MemoryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemoryKind::Ram => f.write_str("RAM"),
            MemoryKind::Reserved => f.write_str("reserved"),
            MemoryKind::AcpiReclaimable => f.write_str("ACPI"),
            MemoryKind::AcpiNvs => f.write_str("ACPI NVS"),
            MemoryKind::Unusable => f.write_str("unusable"),
            MemoryKind::Disabled => f.write_str("disabled"),
            MemoryKind::Persistent => f.write_str("persistent"),
            MemoryKind::Other(t) => write!(f, "type {t}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRegion {
    pub range: PhysRange,
    pub kind: MemoryKind,
}

impl MemoryRegion {
    /// Sorts `regions` by address, keeping the order of equal ranges: one copy of the sort
    /// for the memory maps of the start info and of Xen, not one per place (640 bytes).
    pub fn sort_by_address(regions: &mut [MemoryRegion]) {
        crate::sort::sort_by_key(regions, |r| r.range);
    }
}

/// A boot module (`-initrd` under QEMU; the "firmware" image under Xen).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    pub range: PhysRange,
    pub cmdline: String,
}

/// The validated start info.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootInfo {
    /// Where the start info itself lies (it must survive until we are done with it).
    pub start_info: PhysRange,
    pub version: u32,
    pub flags: u32,
    pub cmdline: String,
    pub modules: Vec<Module>,
    /// The loader's RSDP (QEMU's own tables), if it gave one.
    pub rsdp: Option<u64>,
    /// Sorted by address, non-overlapping; empty when the loader gave none (version 0).
    pub memory_map: Vec<MemoryRegion>,
}

/// What is wrong with the start info.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BootInfoError {
    Unreadable { what: &'static str, err: PhysReadError },
    InsideFirmware { what: &'static str, range: PhysRange, image: PhysRange },
    BadMagic(u32),
    TooManyModules(u32),
    ModuleWraps { index: usize, start: u64, size: u64 },
    EmptyModule { index: usize },
    ModulesOverlap { first: usize, second: usize },
    ModuleOverlapsStartInfo { index: usize },
    ModuleOutsideRam { index: usize, range: PhysRange },
    TooManyMemoryEntries(u32),
    MemoryEntryWraps { index: usize, start: u64, size: u64 },
    EmptyMemoryEntry { index: usize },
    MemoryEntriesOverlap { first: PhysRange, second: PhysRange },
    StringTooLong { what: &'static str, paddr: u64 },
    StringNotUtf8 { what: &'static str, paddr: u64 },
}

impl fmt::Display for BootInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use BootInfoError::*;
        match self {
            Unreadable { what, err } => write!(f, "start info: {what}: {err}"),
            InsideFirmware { what, range, image } => {
                write!(f, "start info: {what} at {range} overlaps the firmware image {image}")
            }
            BadMagic(m) => write!(
                f,
                "start info: bad magic {m:#010x} (expected {START_INFO_MAGIC:#010x}): \
                 not started by a PVH/HVM loader"
            ),
            TooManyModules(n) => {
                write!(f, "start info: {n} modules (at most {MAX_MODULES} accepted)")
            }
            ModuleWraps { index, start, size } => write!(
                f,
                "start info: module {index} at {start:#x} with size {size:#x} wraps the address space"
            ),
            EmptyModule { index } => write!(f, "start info: module {index} has size 0"),
            ModulesOverlap { first, second } => {
                write!(f, "start info: modules {first} and {second} overlap")
            }
            ModuleOverlapsStartInfo { index } => {
                write!(f, "start info: module {index} overlaps the start info structures")
            }
            ModuleOutsideRam { index, range } => {
                write!(
                    f,
                    "start info: module {index} at {range} is not inside RAM of the memory map"
                )
            }
            TooManyMemoryEntries(n) => write!(
                f,
                "start info: {n} memory map entries (at most {MAX_MEMORY_MAP_ENTRIES} accepted)"
            ),
            MemoryEntryWraps { index, start, size } => write!(
                f,
                "start info: memory map entry {index} at {start:#x} with size {size:#x} wraps the address space"
            ),
            EmptyMemoryEntry { index } => {
                write!(f, "start info: memory map entry {index} has size 0")
            }
            MemoryEntriesOverlap { first, second } => {
                write!(f, "start info: memory map entries {first} and {second} overlap")
            }
            StringTooLong { what, paddr } => write!(
                f,
                "start info: {what} at {paddr:#x} has no terminating NUL within {MAX_CMDLINE} bytes"
            ),
            StringNotUtf8 { what, paddr } => {
                write!(f, "start info: {what} at {paddr:#x} is not valid UTF-8")
            }
        }
    }
}

fn u32_at(buf: &[u8], offset: usize) -> u32 {
    let mut b = [0; 4];
    b.copy_from_slice(&buf[offset..offset + 4]);
    u32::from_le_bytes(b)
}

fn u64_at(buf: &[u8], offset: usize) -> u64 {
    let mut b = [0; 8];
    b.copy_from_slice(&buf[offset..offset + 8]);
    u64::from_le_bytes(b)
}

/// Reads a NUL-terminated string of at most [`MAX_CMDLINE`] bytes; address 0 means none.
fn read_string(
    mem: &impl PhysMemory,
    paddr: u64,
    what: &'static str,
) -> Result<String, BootInfoError> {
    if paddr == 0 {
        return Ok(String::new());
    }
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 64];
    while bytes.len() < MAX_CMDLINE {
        let at = paddr + bytes.len() as u64;
        // Read a chunk, but never across a page boundary the caller may not own.
        let room = (0x1000 - (at & 0xFFF)) as usize;
        let chunk = &mut chunk[..room.min(64)];
        mem.read(at, chunk).map_err(|err| BootInfoError::Unreadable { what, err })?;
        match chunk.iter().position(|&b| b == 0) {
            Some(nul) => {
                bytes.extend_from_slice(&chunk[..nul]);
                if bytes.len() > MAX_CMDLINE {
                    break;
                }
                return String::from_utf8(bytes)
                    .map_err(|_| BootInfoError::StringNotUtf8 { what, paddr });
            }
            None => bytes.extend_from_slice(chunk),
        }
    }
    Err(BootInfoError::StringTooLong { what, paddr })
}

/// Reads `count` entries of `entry_size` bytes at `paddr` (a table the loader points at),
/// checking that it is readable and not inside the firmware image.
fn read_array(
    mem: &impl PhysMemory,
    paddr: u64,
    count: u32,
    entry_size: usize,
    what: &'static str,
    inside_image: &impl Fn(&'static str, PhysRange) -> Result<(), BootInfoError>,
) -> Result<(PhysRange, Vec<u8>), BootInfoError> {
    let size = count as usize * entry_size;
    let range = PhysRange::from_len(paddr, size as u64)
        .ok_or(BootInfoError::Unreadable { what, err: PhysReadError { paddr, len: size } })?;
    inside_image(what, range)?;
    let mut raw = alloc::vec![0u8; size];
    mem.read(paddr, &mut raw).map_err(|err| BootInfoError::Unreadable { what, err })?;
    Ok((range, raw))
}

impl BootInfo {
    /// Reads and validates the start info at `paddr`. `image` is the firmware's own loaded
    /// range, which no input may overlap.
    pub fn parse(
        mem: &impl PhysMemory,
        paddr: u64,
        image: PhysRange,
    ) -> Result<Self, BootInfoError> {
        let header_range = PhysRange::from_len(paddr, START_INFO_V0_SIZE as u64).ok_or(
            BootInfoError::Unreadable {
                what: "header",
                err: PhysReadError { paddr, len: START_INFO_V0_SIZE },
            },
        )?;
        let inside_image = |what, range: PhysRange| {
            if range.overlaps(&image) {
                Err(BootInfoError::InsideFirmware { what, range, image })
            } else {
                Ok(())
            }
        };
        inside_image("header", header_range)?;
        let mut header = [0u8; START_INFO_V1_SIZE];
        mem.read(paddr, &mut header[..START_INFO_V0_SIZE])
            .map_err(|err| BootInfoError::Unreadable { what: "header", err })?;
        let magic = u32_at(&header, 0);
        if magic != START_INFO_MAGIC {
            return Err(BootInfoError::BadMagic(magic));
        }
        let version = u32_at(&header, 4);
        let flags = u32_at(&header, 8);
        let nr_modules = u32_at(&header, 12);
        let modlist_paddr = u64_at(&header, 16);
        let cmdline_paddr = u64_at(&header, 24);
        let rsdp_paddr = u64_at(&header, 32);
        // Version 1 added the memory map; later versions only append fields.
        let (start_info, memmap_paddr, memmap_entries) = if version >= 1 {
            mem.read(paddr + START_INFO_V0_SIZE as u64, &mut header[START_INFO_V0_SIZE..])
                .map_err(|err| BootInfoError::Unreadable { what: "header", err })?;
            let range = PhysRange { start: paddr, end: paddr + START_INFO_V1_SIZE as u64 };
            inside_image("header", range)?;
            (range, u64_at(&header, 40), u32_at(&header, 48))
        } else {
            (header_range, 0, 0)
        };

        let memory_map = Self::parse_memory_map(mem, memmap_paddr, memmap_entries, &inside_image)?;
        let modules = Self::parse_modules(
            mem,
            modlist_paddr,
            nr_modules,
            start_info,
            &memory_map,
            &inside_image,
        )?;
        let cmdline = read_string(mem, cmdline_paddr, "command line")?;

        Ok(BootInfo {
            start_info,
            version,
            flags,
            cmdline,
            modules,
            rsdp: (rsdp_paddr != 0).then_some(rsdp_paddr),
            memory_map,
        })
    }

    fn parse_memory_map(
        mem: &impl PhysMemory,
        paddr: u64,
        entries: u32,
        inside_image: &impl Fn(&'static str, PhysRange) -> Result<(), BootInfoError>,
    ) -> Result<Vec<MemoryRegion>, BootInfoError> {
        if entries == 0 {
            return Ok(Vec::new());
        }
        if entries > MAX_MEMORY_MAP_ENTRIES {
            return Err(BootInfoError::TooManyMemoryEntries(entries));
        }
        let (_, raw) =
            read_array(mem, paddr, entries, MEMMAP_ENTRY_SIZE, "memory map", inside_image)?;
        let mut map = Vec::with_capacity(entries as usize);
        for (index, entry) in raw.chunks_exact(MEMMAP_ENTRY_SIZE).enumerate() {
            let (start, size) = (u64_at(entry, 0), u64_at(entry, 8));
            if size == 0 {
                return Err(BootInfoError::EmptyMemoryEntry { index });
            }
            let range = PhysRange::from_len(start, size)
                .ok_or(BootInfoError::MemoryEntryWraps { index, start, size })?;
            map.push(MemoryRegion { range, kind: MemoryKind::from_e820(u32_at(entry, 16)) });
        }
        MemoryRegion::sort_by_address(&mut map);
        for pair in map.windows(2) {
            if pair[0].range.overlaps(&pair[1].range) {
                return Err(BootInfoError::MemoryEntriesOverlap {
                    first: pair[0].range,
                    second: pair[1].range,
                });
            }
        }
        Ok(map)
    }

    fn parse_modules(
        mem: &impl PhysMemory,
        paddr: u64,
        count: u32,
        start_info: PhysRange,
        memory_map: &[MemoryRegion],
        inside_image: &impl Fn(&'static str, PhysRange) -> Result<(), BootInfoError>,
    ) -> Result<Vec<Module>, BootInfoError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        if count > MAX_MODULES {
            return Err(BootInfoError::TooManyModules(count));
        }
        let (list, raw) =
            read_array(mem, paddr, count, MODULE_ENTRY_SIZE, "module list", inside_image)?;
        let mut modules: Vec<Module> = Vec::with_capacity(count as usize);
        for (index, entry) in raw.chunks_exact(MODULE_ENTRY_SIZE).enumerate() {
            let (start, size) = (u64_at(entry, 0), u64_at(entry, 8));
            if size == 0 {
                return Err(BootInfoError::EmptyModule { index });
            }
            let range = PhysRange::from_len(start, size).ok_or(BootInfoError::ModuleWraps {
                index,
                start,
                size,
            })?;
            inside_image("module", range)?;
            if range.overlaps(&start_info) || range.overlaps(&list) {
                return Err(BootInfoError::ModuleOverlapsStartInfo { index });
            }
            if let Some(first) = modules.iter().position(|m| m.range.overlaps(&range)) {
                return Err(BootInfoError::ModulesOverlap { first, second: index });
            }
            // Modules are data we will read and pass on: they must be RAM we can reach.
            let in_ram = memory_map
                .iter()
                .any(|r| r.kind == MemoryKind::Ram && r.range.contains_range(&range));
            if !memory_map.is_empty() && !in_ram {
                return Err(BootInfoError::ModuleOutsideRam { index, range });
            }
            let mut probe = [0u8; 1];
            mem.read(range.end - 1, &mut probe)
                .and_then(|()| mem.read(range.start, &mut probe))
                .map_err(|err| BootInfoError::Unreadable { what: "module", err })?;
            let cmdline = read_string(mem, u64_at(entry, 16), "module command line")?;
            modules.push(Module { range, cmdline });
        }
        Ok(modules)
    }

    /// The module whose command line is `name` (Xen names SeaBIOS/OVMF "firmware").
    pub fn module(&self, name: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.cmdline == name)
    }
}

#[cfg(test)]
mod tests;
