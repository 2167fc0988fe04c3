//! Hand-off to OVMF the way Xen's hvmloader (4.17) does it.
//!
//! What OVMF expects, and where the fact comes from:
//!
//! - **The flash image** ends at 4 GiB: an OVMF `.fd` is linked for the base `4 GiB - size`
//!   (its reset code jumps to fixed 32-bit addresses just below 4 GiB). hvmloader puts it at
//!   4 GiB minus the size rounded up to 1 MiB (`ovmf_load` in hvmloader's `ovmf.c`), which
//!   ends at 4 GiB only for whole MiB, so that is what [`flash_range`] accepts (OVMF.fd is 1,
//!   2 or 4 MiB). Under Xen that range is no RAM: each page is populated first
//!   (`mem_hole_populate_ram` in hvmloader's `util.c`): XENMEM_populate_physmap while the
//!   domain has allocation left (libxl leaves 1 MiB above the guest's memory,
//!   `LIBXL_MAXMEM_CONSTANT`; Xen then logs "Over-allocation"), then XENMEM_add_to_physmap
//!   (XENMAPSPACE_gmfn) moves RAM pages from the top of the guest's RAM there. See
//!   [`back_flash`]; here the pages come from the top of the RAM nothing uses
//!   ([`spare_pages`]), as the firmware's own tables sit at the top of low RAM.
//! - **The real-mode reset vector**: the image's last 64 KiB are also copied to
//!   0xF0000-0xFFFFF, and control passes in real mode at F000:FFF0, as for SeaBIOS.
//! - **The info table** `XenHVMOVMF` at 0x1000 (`EFI_XEN_OVMF_INFO` in edk2's
//!   `OvmfPkg/XenPlatformPei/Xen.h`, `struct ovmf_info` in hvmloader): 14-byte signature,
//!   length, checksum over `length` bytes, u64 table array address, u32 count, u64 E820
//!   address, u32 count, packed (40 bytes). OVMF checks the signature only and takes the
//!   E820 from it (`XenGetE820Map`, `XenPublishRamRegions`); hvmloader leaves the table array
//!   empty and no OVMF reads it. It is filled here with the two entry-point copies below.
//! - **ACPI and SMBIOS** are found by scanning, not through the table array: the RSDP on
//!   16-byte boundaries from 0xEA020 (`OvmfPkg/XenAcpiPlatformDxe/Xen.c`; hvmloader builds
//!   its tables there, `ACPI_PHYSICAL_ADDRESS`), the SMBIOS 2.x entry point from 0xEB000 to
//!   0xF0000 (`OvmfPkg/SmbiosPlatformDxe/X86Xen.c`, hvmloader's `SMBIOS_PHYSICAL_ADDRESS`).
//!   The copies in 0xF0000-0xFFFFF the table builder leaves for legacy scans are overwritten
//!   by the reset-vector copy, so [`OvmfPayload::prepare`] puts copies at exactly those two
//!   addresses.
//! - **CMOS 0x34/0x35** (RAM above 16 MiB in 64 KiB units): with hvmloader's info table
//!   present, OVMF takes the size of low RAM from there (`GetSystemMemorySizeBelow4gb` in
//!   `OvmfPkg/XenPlatformPei/MemDetect.c`) and puts its permanent PEI memory just below it;
//!   hvmloader writes it for every BIOS (`cmos_write_memory_size`). Xen's RTC holds zero
//!   otherwise, which would make OVMF believe in 16 MiB. [`low_ram_end`] is the end of the
//!   RAM that runs unbroken from 1 MiB in the handed-on map, so OVMF's PEI memory never
//!   lands on the firmware's tables at the top of low RAM.
//! - **E820**: hvmloader's map for OVMF reserves everything from its ACPI area up to 4 GiB,
//!   flash included. Here the flash range and the RAM pages moved behind it become reserved
//!   entries of the map handed on ([`handoff_map`]).
//!
//! Under plain QEMU the top of 4 GiB is the BIOS ROM QEMU maps there (writes do not change
//! it): loading fails with a clear "not RAM" error instead of jumping into a BIOS that is
//! only half OVMF.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use log::{info, warn};

use super::seabios::{BIOS_END, BiosTables, check_ram, unlock_bios_area};
use super::{HandoffError, files, window};
use crate::addr::{MiB, PAGE_SIZE};
use crate::arch::{Jump, PhysMemoryMut, PortIo};
use crate::bootinfo::{MemoryRegion, PhysRange};
use crate::chipset::pm::BiosAreaGate;
use crate::e820::{ClaimKind, E820_ENTRY_SIZE, E820Builder, E820Error, E820Map, MAX_E820_ENTRIES};
use crate::pci::ConfigSpace;
use crate::platform::fw_cfg::{DmaAddressing, File, FwCfg};
use crate::platform::xen::abi::xenmem::MAPSPACE_GMFN;
use crate::platform::xen::{Hypercall, Xen, XenError};

/// Where OVMF looks for the info table.
pub const INFO_ADDRESS: u64 = 0x1000;
const SIGNATURE: &[u8; 14] = b"XenHVMOVMF\0\0\0\0";
/// The packed info table's size, which its length byte holds and its checksum covers.
const INFO_LEN: usize = 40;
/// The table-pointer array (u64 each) and the memory map follow in the same page.
const TABLES_OFFSET: usize = 0x40;
const MAX_TABLES: usize = 8;
const E820_OFFSET: usize = TABLES_OFFSET + MAX_TABLES * 8;
/// Bytes written at [`INFO_ADDRESS`] at most: one page, below the real-mode trampoline.
pub const INFO_PAGE_LEN: usize = E820_OFFSET + MAX_E820_ENTRIES * E820_ENTRY_SIZE;
const _: () = assert!(INFO_PAGE_LEN <= crate::addr::PAGE_SIZE as usize, "one page");

/// The real-mode copy of the image's last 64 KiB, where F000:FFF0 lands.
pub const LOW_CHUNK: PhysRange = PhysRange { start: BIOS_END - 0x1_0000, end: BIOS_END };
/// Where OVMF's RSDP scan starts (and hvmloader's RSDP lies).
pub const RSDP_COPY_ADDRESS: u64 = 0xE_A020;
/// Where OVMF's SMBIOS entry-point scan starts; it ends at [`LOW_CHUNK`].
pub const SMBIOS_COPY_ADDRESS: u64 = 0xE_B000;

const FOUR_GIB: u64 = 1 << 32;
/// Largest image accepted: 16 MiB puts the flash at 0xFF000000, just above Xen's special
/// pages (0xFEFF0000-0xFEFFFFFF: xenstore, console, ...) and the LAPIC; more would overlap
/// them. OVMF.fd is 1, 2 or 4 MiB.
pub const MAX_IMAGE: u64 = 16 * MiB;
/// Bytes copied per step from memory to memory (the module to the flash, the flash's last
/// 64 KiB below 1 MiB): the window lends one range at a time, and the heap need not hold a
/// whole image. A page: at 16 KiB the copy was the heap's largest use under Xen.
const COPY_CHUNK: usize = 0x1000;

/// CMOS index and data ports (the RTC's NVRAM).
const CMOS_INDEX: u16 = 0x70;
const CMOS_DATA: u16 = 0x71;

/// Why an OVMF image cannot be placed or started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OvmfError {
    /// Empty or not a whole number of MiB: it would not end at 4 GiB where OVMF runs.
    NotWholeMib { size: u64 },
    /// Larger than the room between Xen's special pages and 4 GiB.
    TooLarge { size: u64 },
    /// Something of the memory map already lies where the flash must go.
    NoRoom { flash: PhysRange, entry: MemoryRegion },
    /// Populating or moving pages for the flash failed.
    Xen(Box<XenError>),
    /// Xen populated only part of the flash and too little free RAM is left to move there.
    NotEnoughRam { pages: usize, populated: usize, spare: usize },
    /// An entry point to copy for OVMF's scans is not what the table builder wrote.
    BadEntryPoint { what: &'static str, at: u64 },
    /// No `VTF\0` signature before the reset vector: not an OVMF (edk2) image.
    NoVtfSignature,
}

impl fmt::Display for OvmfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OvmfError::NotWholeMib { size } => write!(
                f,
                "OVMF image of {size} bytes: not a whole number of MiB, so placed as hvmloader \
                 places it (start rounded down to 1 MiB) it would not end at 4 GiB, where its \
                 reset code runs"
            ),
            OvmfError::TooLarge { size } => write!(
                f,
                "OVMF image of {size} bytes is too large: at most {} MiB fit between Xen's \
                 special pages and 4 GiB",
                MAX_IMAGE / MiB
            ),
            OvmfError::NoRoom { flash, entry } => write!(
                f,
                "no room for the OVMF flash at {flash} below 4 GiB: the memory map has {} {} there",
                entry.kind, entry.range
            ),
            OvmfError::Xen(e) => write!(f, "backing the OVMF flash with RAM: {e}"),
            OvmfError::NotEnoughRam { pages, populated, spare } => write!(
                f,
                "the OVMF flash needs {pages} pages of RAM: Xen populated {populated} and only \
                 {spare} free pages are left to move there"
            ),
            OvmfError::BadEntryPoint { what, at } => {
                write!(f, "no valid {what} at {at:#x} to copy where OVMF scans for it")
            }
            OvmfError::NoVtfSignature => f.write_str(
                "not an OVMF image: no \"VTF\" signature 20 bytes before its end, where every \
                 edk2 reset vector has one",
            ),
        }
    }
}

/// Whether the last 20 bytes of an image hold the edk2 Volume Top File signature `VTF\0`
/// just before the 16-byte reset vector (`ResetVectorVtf0` in edk2's OvmfPkg/ResetVector and
/// XenResetVector). The vector itself does not start with a jump in current OVMF (X64 builds
/// first test CR0.PE), so the signature is what identifies the image.
pub fn has_vtf_signature(image_tail: &[u8]) -> bool {
    image_tail.len() >= 20 && image_tail[image_tail.len() - 20..image_tail.len() - 16] == *b"VTF\0"
}

/// Copies the range `from` names to `to`'s address, [`COPY_CHUNK`] bytes at a time through
/// the heap.
fn copy(
    memory: &mut impl PhysMemoryMut,
    (from_what, from): (&'static str, PhysRange),
    (to_what, to): (&'static str, u64),
) -> Result<(), Box<HandoffError>> {
    let mut chunk = vec![0u8; COPY_CHUNK];
    let mut offset = 0;
    while offset < from.len() {
        let len = (from.len() - offset).min(COPY_CHUNK as u64);
        let at = |base: u64| PhysRange { start: base + offset, end: base + offset + len };
        let part = &mut chunk[..len as usize];
        part.copy_from_slice(window(memory, from_what, at(from.start))?);
        window(memory, to_what, at(to))?.copy_from_slice(part);
        offset += len;
    }
    Ok(())
}

/// Where an image of `size` bytes goes: to end at 4 GiB (hvmloader's placement for a whole
/// number of MiB), or why it cannot.
pub fn flash_range(size: u64) -> Result<PhysRange, OvmfError> {
    if size == 0 || !size.is_multiple_of(MiB) {
        return Err(OvmfError::NotWholeMib { size });
    }
    if size > MAX_IMAGE {
        return Err(OvmfError::TooLarge { size });
    }
    Ok(PhysRange { start: FOUR_GIB - size, end: FOUR_GIB })
}

/// Checks that nothing of `map` (RAM, reserved device memory, anything) lies in `flash`.
pub fn check_room(flash: PhysRange, map: &[MemoryRegion]) -> Result<(), OvmfError> {
    match map.iter().find(|entry| entry.range.overlaps(&flash)) {
        Some(entry) => Err(OvmfError::NoRoom { flash, entry: *entry }),
        None => Ok(()),
    }
}

/// Up to `count` page frame numbers of RAM in `map` at or above 1 MiB that lie in no range
/// of `in_use`, highest first (RAM above 4 GiB before RAM below, as hvmloader takes them).
pub fn spare_pages(map: &E820Map, in_use: &[PhysRange], count: usize) -> Vec<u64> {
    let mut pages = Vec::new();
    let mut ram: Vec<PhysRange> = map.ram().collect();
    crate::sort::sort_by_key(&mut ram, |r| core::cmp::Reverse(r.end));
    for range in ram {
        let start = range.start.max(super::place::LOW_LIMIT).next_multiple_of(PAGE_SIZE);
        let mut page = range.end & !(PAGE_SIZE - 1);
        while page >= start + PAGE_SIZE && pages.len() < count {
            page -= PAGE_SIZE;
            let frame = PhysRange { start: page, end: page + PAGE_SIZE };
            if !in_use.iter().any(|used| used.overlaps(&frame)) {
                pages.push(page / PAGE_SIZE);
            }
        }
    }
    pages
}

/// How the flash got its RAM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlashBacking {
    /// Pages Xen populated (the flash's first ones).
    pub populated: usize,
    /// RAM whose pages now back the rest of the flash: no longer RAM where it was.
    pub moved: Vec<PhysRange>,
}

/// Gives every page of `flash` RAM: XENMEM_populate_physmap for as many as Xen allows, then
/// XENMEM_add_to_physmap moving pages `spare` names (called with the number missing) there.
pub fn back_flash<H: Hypercall>(
    xen: &mut Xen<H>,
    flash: PhysRange,
    spare: impl FnOnce(usize) -> Vec<u64>,
) -> Result<FlashBacking, OvmfError> {
    let mut frames: Vec<u64> = (flash.start / PAGE_SIZE..flash.end.div_ceil(PAGE_SIZE)).collect();
    let populated = match xen.populate_physmap(&mut frames) {
        Ok(done) => done,
        Err(e) => match *e {
            // Xen stops at the first page over the domain's allocation; those before it
            // are in.
            XenError::Populate { done, .. } => done,
            _ => return Err(OvmfError::Xen(e)),
        },
    };
    let missing = &frames[populated..];
    if missing.is_empty() {
        return Ok(FlashBacking { populated, moved: Vec::new() });
    }
    let mut donors = spare(missing.len());
    if donors.len() < missing.len() {
        return Err(OvmfError::NotEnoughRam {
            pages: frames.len(),
            populated,
            spare: donors.len(),
        });
    }
    donors.truncate(missing.len());
    for (&frame, &donor) in missing.iter().zip(&donors) {
        xen.add_to_physmap(MAPSPACE_GMFN, donor, frame).map_err(OvmfError::Xen)?;
    }
    Ok(FlashBacking { populated, moved: page_ranges(donors) })
}

/// Page frame numbers as sorted ranges, neighbours merged.
fn page_ranges(mut frames: Vec<u64>) -> Vec<PhysRange> {
    crate::sort::sort_unstable(&mut frames);
    let mut ranges: Vec<PhysRange> = Vec::new();
    for frame in frames {
        let page = PhysRange { start: frame * PAGE_SIZE, end: (frame + 1) * PAGE_SIZE };
        match ranges.last_mut() {
            Some(last) if last.end == page.start => last.end = page.end,
            _ => ranges.push(page),
        }
    }
    ranges
}

/// The map OVMF gets: `e820` with the flash and the RAM moved behind it reserved.
pub fn handoff_map(
    e820: &E820Map,
    flash: PhysRange,
    moved: &[PhysRange],
) -> Result<E820Map, Box<E820Error>> {
    let mut map = E820Builder::new(e820.entries())?;
    map.claim(ClaimKind::Reserved, flash, "OVMF flash image")?;
    for range in moved {
        map.claim(ClaimKind::Reserved, *range, "RAM moved behind the OVMF flash")?;
    }
    map.build()
}

/// The end of the RAM that runs unbroken from 1 MiB in `map` (1 MiB if there is none): the
/// low memory size OVMF reads from CMOS and puts its PEI memory just below.
pub fn low_ram_end(map: &E820Map) -> u64 {
    map.ram().find(|r| r.start <= MiB && MiB < r.end).map_or(MiB, |r| r.end)
}

/// The CMOS bytes hvmloader writes for a low RAM end of `low_end`, as (index, value):
/// base memory 640 KiB (0x15/0x16), extended memory in KiB above 1 MiB capped at 0xFFFF
/// (0x17/0x18 and 0x30/0x31), memory above 16 MiB in 64 KiB units (0x34/0x35).
pub fn cmos_memory_size(low_end: u64) -> [(u8, u8); 8] {
    const BASE_KIB: u64 = 640;
    let extended_kib = (low_end.saturating_sub(MiB) >> 10).min(0xFFFF);
    let above_16m = low_end.saturating_sub(16 * MiB) >> 16;
    let lo = |v: u64| v as u8;
    let hi = |v: u64| (v >> 8) as u8;
    [
        (0x15, lo(BASE_KIB)),
        (0x16, hi(BASE_KIB)),
        (0x17, lo(extended_kib)),
        (0x18, hi(extended_kib)),
        (0x30, lo(extended_kib)),
        (0x31, hi(extended_kib)),
        (0x34, lo(above_16m)),
        (0x35, hi(above_16m)),
    ]
}

/// Writes `bytes` (index, value) to the CMOS NVRAM.
pub fn write_cmos(ports: &mut impl PortIo, bytes: &[(u8, u8)]) {
    for &(index, value) in bytes {
        ports.write8(CMOS_INDEX, index);
        ports.write8(CMOS_DATA, value);
    }
}

/// The bytes for [`INFO_ADDRESS`]: info table, table pointers (u64 each), memory map.
pub fn info_page(tables: &[u64], e820: &E820Map) -> Result<Vec<u8>, Box<HandoffError>> {
    debug_assert!(tables.len() <= MAX_TABLES);
    let mut page = vec![0u8; E820_OFFSET + e820.encoded_len()];
    page[..14].copy_from_slice(SIGNATURE);
    page[14] = INFO_LEN as u8;
    page[16..24].copy_from_slice(&(INFO_ADDRESS + TABLES_OFFSET as u64).to_le_bytes());
    page[24..28].copy_from_slice(&(tables.len() as u32).to_le_bytes());
    page[28..36].copy_from_slice(&(INFO_ADDRESS + E820_OFFSET as u64).to_le_bytes());
    page[36..40].copy_from_slice(&(e820.len() as u32).to_le_bytes());
    page[15] = libacpi::checksum::compute(&page[..INFO_LEN]);
    for (slot, address) in page[TABLES_OFFSET..E820_OFFSET].chunks_exact_mut(8).zip(tables) {
        slot.copy_from_slice(&address.to_le_bytes());
    }
    e820.encode_into(&mut page[E820_OFFSET..])?;
    Ok(page)
}

/// The RSDP at `at`: 20 bytes (ACPI 1.0) or 36 (revision 2 and later).
fn read_rsdp(memory: &mut impl PhysMemoryMut, at: u64) -> Result<Vec<u8>, Box<HandoffError>> {
    let bad = || HandoffError::Ovmf(OvmfError::BadEntryPoint { what: "RSDP", at });
    let bytes = window(memory, "RSDP", PhysRange { start: at, end: at + 36 })?;
    if &bytes[..8] != b"RSD PTR " {
        return Err(bad().into());
    }
    let len = if bytes[15] >= 2 { 36 } else { 20 };
    Ok(bytes[..len].to_vec())
}

/// The SMBIOS 2.x entry point at `at` (`_SM_` ... `_DMI_`, its length in byte 5).
fn read_smbios_entry(
    memory: &mut impl PhysMemoryMut,
    at: u64,
) -> Result<Vec<u8>, Box<HandoffError>> {
    let bad = || HandoffError::Ovmf(OvmfError::BadEntryPoint { what: "SMBIOS entry point", at });
    let bytes = window(memory, "SMBIOS entry point", PhysRange { start: at, end: at + 0x20 })?;
    let len = usize::from(bytes[5]);
    if &bytes[..4] != b"_SM_" || &bytes[0x10..0x15] != b"_DMI_" || !(0x1F..=0x20).contains(&len) {
        return Err(bad().into());
    }
    Ok(bytes[..len].to_vec())
}

/// What [`OvmfPayload::prepare`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepared {
    /// The info table with its pointer array and memory map.
    pub info: PhysRange,
    /// The memory map OVMF gets.
    pub map: E820Map,
    /// The end of low RAM written to CMOS.
    pub low_ram_end: u64,
    /// Where the entry-point copies went.
    pub tables: Vec<u64>,
}

/// An OVMF image in place.
#[derive(Debug)]
pub struct OvmfPayload {
    flash: PhysRange,
    /// RAM moved behind the flash (Xen), reserved in the map handed on.
    moved: Vec<PhysRange>,
}

impl OvmfPayload {
    /// QEMU: loads the `opt/hvmloader/firmware` file to the top of 4 GiB (fails there, as
    /// that is QEMU's BIOS ROM, see the module documentation).
    pub fn load<P: PortIo, A: DmaAddressing>(
        fw_cfg: &mut FwCfg<P, A>,
        file: &File,
        cfg: &mut impl ConfigSpace,
        gate: BiosAreaGate,
        memory: &mut impl PhysMemoryMut,
    ) -> Result<Self, Box<HandoffError>> {
        let flash = flash_range(u64::from(file.size))
            .map_err(|error| HandoffError::OvmfImage { source: files::FIRMWARE, error })?;
        let image = window(memory, "OVMF flash image", flash)?;
        check_ram(image, "OVMF flash image", flash)?;
        fw_cfg.read_file(file, image)?;
        Self::finish_load(flash, Vec::new(), files::FIRMWARE, cfg, gate, memory)
    }

    /// Xen: the start info's "firmware" module, already in RAM at `module`, goes to the top
    /// of 4 GiB, whose pages are populated (or moved there from RAM of `e820` outside
    /// `in_use`) first. `in_use` holds what must stay intact until the jump (the firmware
    /// image, the start info, the modules).
    pub fn from_xen_module<H: Hypercall>(
        module: PhysRange,
        xen: &mut Xen<H>,
        e820: &E820Map,
        in_use: &[PhysRange],
        cfg: &mut impl ConfigSpace,
        gate: BiosAreaGate,
        memory: &mut impl PhysMemoryMut,
    ) -> Result<Self, Box<HandoffError>> {
        const SOURCE: &str = "the \"firmware\" module";
        let image_error = |error| HandoffError::OvmfImage { source: SOURCE, error };
        let flash = flash_range(module.len()).map_err(image_error)?;
        check_room(flash, e820.entries()).map_err(image_error)?;
        // Checked before any page moves, so a wrong module leaves the guest as it was.
        let tail = PhysRange { start: module.end - 20, end: module.end };
        if !has_vtf_signature(window(memory, "firmware module", tail)?) {
            return Err(image_error(OvmfError::NoVtfSignature).into());
        }
        let mut keep = in_use.to_vec();
        keep.push(module);
        let backing =
            back_flash(xen, flash, |n| spare_pages(e820, &keep, n)).map_err(HandoffError::Ovmf)?;
        info!(
            "OVMF: flash {flash} backed by RAM: {} pages populated, {} moved from the top of RAM",
            backing.populated,
            backing.moved.iter().map(|r| r.len() / PAGE_SIZE).sum::<u64>()
        );
        check_ram(window(memory, "OVMF flash image", flash)?, "OVMF flash image", flash)?;
        copy(memory, ("firmware module", module), ("OVMF flash image", flash.start))?;
        Self::finish_load(flash, backing.moved, SOURCE, cfg, gate, memory)
    }

    /// With the image in `flash`: checks its reset vector and copies its last 64 KiB below
    /// 1 MiB for the real-mode start.
    fn finish_load(
        flash: PhysRange,
        moved: Vec<PhysRange>,
        source: &'static str,
        cfg: &mut impl ConfigSpace,
        gate: BiosAreaGate,
        memory: &mut impl PhysMemoryMut,
    ) -> Result<Self, Box<HandoffError>> {
        let tail_range = PhysRange { start: flash.end - LOW_CHUNK.len(), end: flash.end };
        if !has_vtf_signature(window(memory, "OVMF flash image", tail_range)?) {
            return Err(HandoffError::OvmfImage { source, error: OvmfError::NoVtfSignature }.into());
        }
        unlock_bios_area(cfg, gate)?;
        let low = window(memory, "OVMF reset vector copy", LOW_CHUNK)?;
        check_ram(low, "OVMF reset vector copy", LOW_CHUNK)?;
        copy(
            memory,
            ("OVMF flash image", tail_range),
            ("OVMF reset vector copy", LOW_CHUNK.start),
        )?;
        info!(
            "OVMF: {source} ({} KiB) at {flash}, its last 64 KiB at {LOW_CHUNK}",
            flash.len() >> 10
        );
        Ok(OvmfPayload { flash, moved })
    }

    #[cfg(test)]
    pub fn flash(&self) -> PhysRange {
        self.flash
    }

    /// RAM moved behind the flash (reserved in the map OVMF gets).
    #[cfg(test)]
    pub fn moved(&self) -> &[PhysRange] {
        &self.moved
    }

    /// Writes everything OVMF reads besides its image: the RSDP and SMBIOS entry-point copies
    /// where it scans, the info table with the memory map at 0x1000, the low memory size in
    /// CMOS.
    pub fn prepare(
        &self,
        e820: &E820Map,
        tables: &BiosTables,
        memory: &mut impl PhysMemoryMut,
        ports: &mut impl PortIo,
    ) -> Result<Prepared, Box<HandoffError>> {
        let map = handoff_map(e820, self.flash, &self.moved)?;
        let mut copies = Vec::new();
        if let Some(rsdp) = tables.rsdp {
            let bytes = read_rsdp(memory, u64::from(rsdp))?;
            let to =
                PhysRange { start: RSDP_COPY_ADDRESS, end: RSDP_COPY_ADDRESS + bytes.len() as u64 };
            window(memory, "RSDP copy", to)?.copy_from_slice(&bytes);
            copies.push(RSDP_COPY_ADDRESS);
        }
        if let Some(entry) = tables.smbios_entry {
            let bytes = read_smbios_entry(memory, u64::from(entry))?;
            let to = PhysRange {
                start: SMBIOS_COPY_ADDRESS,
                end: SMBIOS_COPY_ADDRESS + bytes.len() as u64,
            };
            window(memory, "SMBIOS entry point copy", to)?.copy_from_slice(&bytes);
            copies.push(SMBIOS_COPY_ADDRESS);
        }
        let page = info_page(&copies, &map)?;
        let info = PhysRange { start: INFO_ADDRESS, end: INFO_ADDRESS + page.len() as u64 };
        window(memory, "OVMF info table", info)?.copy_from_slice(&page);
        let low_end = low_ram_end(&map);
        if low_end <= 16 * MiB {
            warn!("OVMF: RAM from 1 MiB ends at {low_end:#x}: OVMF needs more than 16 MiB there");
        }
        write_cmos(ports, &cmos_memory_size(low_end));
        Ok(Prepared { info, map, low_ram_end: low_end, tables: copies })
    }

    /// Readies OVMF to start through its reset vector, and says so.
    pub fn boot(
        self,
        e820: &E820Map,
        tables: &BiosTables,
        memory: &mut impl PhysMemoryMut,
        mut ports: impl crate::arch::PortIo,
    ) -> Result<Jump, Box<HandoffError>> {
        let prepared = self.prepare(e820, tables, memory, &mut ports)?;
        for entry in prepared.map.entries() {
            log::debug!("OVMF e820: {} {}", entry.range, entry.kind);
        }
        info!(
            "OVMF: info table at {} ({} memory map entries, entry points at {:x?}), low RAM to \
             {:#x} in CMOS; real mode, jumping to F000:FFF0",
            prepared.info,
            prepared.map.len(),
            prepared.tables,
            prepared.low_ram_end
        );
        super::before_jump(&mut ports);
        // The image is in RAM at the top of 4 GiB with its last 64 KiB copied to end at
        // 1 MiB (the real-mode reset vector); the info table lies in page 0x1000, below the
        // trampoline's page; the firmware keeps nothing it still needs below 1 MiB.
        Ok(Jump::BiosResetVector)
    }
}

#[cfg(test)]
mod tests;
