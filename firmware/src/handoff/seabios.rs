//! Hand-off to SeaBIOS the way Xen's hvmloader does it: the image copied to end at 1 MiB,
//! the `XenHVMSeaBIOS` info table at 0x1000 pointing at the BIOS tables and the memory map,
//! then real mode and the reset vector F000:FFF0.
//!
//! On Xen, SeaBIOS finds the info table (it knows it is on Xen from CPUID) and takes the
//! memory map and tables from it. Under plain QEMU it does not believe it is on Xen and
//! redoes its own setup from fw_cfg: expected, and still a test of the whole path.
//!
//! Under QEMU the BIOS area 0xC0000-0xFFFFF is shadow RAM behind the chipset's PAM
//! registers, left read-only by the SeaBIOS that started us: [`unlock_bios_area`] makes it
//! read/write RAM first. Under Xen it always is RAM, and the PAM registers are left alone
//! ([`BiosAreaGate::AlwaysRam`]), as hvmloader leaves them.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use log::info;

use super::{HandoffError, files, window};
use crate::arch::{Jump, PhysMemory, PhysMemoryMut, PortIo};
use crate::bootinfo::PhysRange;
use crate::chipset::pm::{BiosArea, BiosAreaGate};
use crate::e820::{E820_ENTRY_SIZE, E820Map, MAX_E820_ENTRIES};
use crate::pci::ConfigSpace;
use crate::platform::fw_cfg::{DmaAddressing, File, FwCfg};

/// Where the info table goes (SeaBIOS looks there on Xen).
pub const INFO_ADDRESS: u64 = 0x1000;
const SIGNATURE: &[u8; 14] = b"XenHVMSeaBIOS\0";
/// The info table: signature, length, checksum, then four u32: tables, tables_nr, e820,
/// e820_nr (packed).
const INFO_LEN: usize = 32;
/// The table-pointer array and the memory map follow the info table in the same page.
const TABLES_OFFSET: usize = 0x20;
const MAX_TABLES: usize = 4;
const E820_OFFSET: usize = 0x40;
/// Bytes written at [`INFO_ADDRESS`] at most: everything stays within one page, below the
/// real-mode trampoline (`arch::realmode::TRAMPOLINE_BASE`).
pub const INFO_PAGE_LEN: usize = E820_OFFSET + MAX_E820_ENTRIES * E820_ENTRY_SIZE;
const _: () = assert!(INFO_PAGE_LEN <= crate::addr::PAGE_SIZE as usize, "one page");

/// The BIOS image ends here; the CPU's real-mode reset vector is its last 16 bytes.
pub const BIOS_END: u64 = 0x10_0000;
/// The shadow-RAM area below 1 MiB that PAM controls; the largest SeaBIOS (bios-256k.bin)
/// fills it.
pub const BIOS_AREA_START: u64 = 0xC_0000;

/// Makes 0xC0000-0xFFFFF read/write RAM (the SeaBIOS that started us under QEMU left it
/// read-only).
pub fn unlock_bios_area(
    cfg: &mut impl ConfigSpace,
    gate: BiosAreaGate,
) -> Result<(), Box<HandoffError>> {
    Ok(gate.set(cfg, BiosArea::ReadWrite).map_err(HandoffError::Pam)?)
}

/// Physical addresses of the tables SeaBIOS (and OVMF) copy on Xen instead of building
/// their own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BiosTables {
    pub rsdp: Option<u32>,
    pub smbios_entry: Option<u32>,
    pub mp_floating: Option<u32>,
    pub pir: Option<u32>,
}

impl BiosTables {
    pub fn addresses(&self) -> Vec<u32> {
        [self.rsdp, self.smbios_entry, self.mp_floating, self.pir].into_iter().flatten().collect()
    }
}

/// The bytes for [`INFO_ADDRESS`]: info table, table pointers, memory map.
pub fn info_page(tables: &BiosTables, e820: &E820Map) -> Result<Vec<u8>, Box<HandoffError>> {
    let addresses = tables.addresses();
    debug_assert!(addresses.len() <= MAX_TABLES);
    let mut page = vec![0u8; E820_OFFSET + e820.encoded_len()];
    page[..14].copy_from_slice(SIGNATURE);
    page[14] = INFO_LEN as u8;
    let base = INFO_ADDRESS as u32;
    let fields = [
        base + TABLES_OFFSET as u32,
        addresses.len() as u32,
        base + E820_OFFSET as u32,
        e820.len() as u32,
    ];
    for (slot, value) in page[16..INFO_LEN].chunks_exact_mut(4).zip(fields) {
        slot.copy_from_slice(&value.to_le_bytes());
    }
    page[15] = libacpi::checksum::compute(&page[..INFO_LEN]);
    for (slot, address) in page[TABLES_OFFSET..E820_OFFSET].chunks_exact_mut(4).zip(addresses) {
        slot.copy_from_slice(&address.to_le_bytes());
    }
    e820.encode_into(&mut page[E820_OFFSET..])?;
    Ok(page)
}

/// Opcodes of `jmp rel16/32` (0xE9), `jmp ptr16:16` (0xEA) and `jmp rel8` (0xEB).
const JMP_NEAR: u8 = 0xE9;
const JMP_SHORT: u8 = 0xEB;

/// Whether the last 16 bytes of a BIOS image (its reset vector) start with a jump, after
/// optional NOPs (OVMF's vector is `nop; nop; jmp near`, SeaBIOS's a far jump).
pub fn has_reset_vector(image_tail: &[u8]) -> bool {
    image_tail
        .iter()
        .take(16)
        .find(|&&b| b != 0x90)
        .is_some_and(|&opcode| matches!(opcode, JMP_NEAR..=JMP_SHORT))
}

/// Checks that `window` is RAM by writing a pattern to its first and last bytes.
pub(super) fn check_ram(
    window: &mut [u8],
    what: &'static str,
    range: PhysRange,
) -> Result<(), Box<HandoffError>> {
    let last = window.len() - 1;
    for (at, pattern) in [(0, 0x5A), (last, 0xA5), (0, 0xA5), (last, 0x5A)] {
        // Volatile: the compiler must not fold the read into the write just before it.
        if crate::arch::write_read_volatile(&mut window[at], pattern) != pattern {
            return Err(HandoffError::NotRam { what, range }.into());
        }
    }
    Ok(())
}

/// A SeaBIOS image loaded to end at 1 MiB.
#[derive(Debug)]
pub struct SeabiosPayload {
    /// Where the image went (logged when loaded; the tests check it).
    #[cfg(test)]
    image: PhysRange,
}

impl SeabiosPayload {
    /// Loads `file` (the `opt/hvmloader/firmware` file, at most 256 KiB) to end at 1 MiB,
    /// after unlocking the BIOS area.
    pub fn load<P: PortIo, A: DmaAddressing>(
        fw_cfg: &mut FwCfg<P, A>,
        file: &File,
        cfg: &mut impl ConfigSpace,
        gate: BiosAreaGate,
        memory: &mut impl PhysMemoryMut,
    ) -> Result<Self, Box<HandoffError>> {
        Self::place(file.size, files::FIRMWARE, cfg, gate, memory, |dest| {
            Ok(fw_cfg.read_file(file, dest)?)
        })
    }

    /// Xen: the image is the start info's "firmware" module, already in RAM at `module`,
    /// read through `source` straight to its place (no copy on the heap: SeaBIOS is 256 KiB).
    pub fn from_module(
        module: PhysRange,
        source: &impl PhysMemory,
        cfg: &mut impl ConfigSpace,
        gate: BiosAreaGate,
        memory: &mut impl PhysMemoryMut,
    ) -> Result<Self, Box<HandoffError>> {
        let size = u32::try_from(module.len()).unwrap_or(u32::MAX);
        if module.overlaps(&PhysRange { start: BIOS_AREA_START, end: BIOS_END }) {
            return Err(HandoffError::BiosSize { what: "SeaBIOS module", size, max: 0 }.into());
        }
        Self::place(size, "the firmware module", cfg, gate, memory, |dest| {
            source
                .read(module.start, dest)
                .map_err(|err| HandoffError::Unwritable { what: "firmware module", err }.into())
        })
    }

    /// Copies an image of `size` bytes (written by `fill`) to end at 1 MiB.
    fn place(
        size: u32,
        source: &str,
        cfg: &mut impl ConfigSpace,
        gate: BiosAreaGate,
        memory: &mut impl PhysMemoryMut,
        fill: impl FnOnce(&mut [u8]) -> Result<(), Box<HandoffError>>,
    ) -> Result<Self, Box<HandoffError>> {
        let max = (BIOS_END - BIOS_AREA_START) as u32;
        if size < 16 || size > max {
            return Err(HandoffError::BiosSize { what: "SeaBIOS", size, max }.into());
        }
        let image = PhysRange { start: BIOS_END - u64::from(size), end: BIOS_END };
        unlock_bios_area(cfg, gate)?;
        let bytes = window(memory, "SeaBIOS image", image)?;
        check_ram(bytes, "SeaBIOS image", image)?;
        fill(bytes)?;
        if !has_reset_vector(&bytes[bytes.len() - 16..]) {
            return Err(HandoffError::NoResetVector { what: "SeaBIOS" }.into());
        }
        info!("SeaBIOS: {source} ({} KiB) at {image}", size >> 10);
        Ok(SeabiosPayload {
            #[cfg(test)]
            image,
        })
    }

    #[cfg(test)]
    pub fn image(&self) -> PhysRange {
        self.image
    }

    /// Writes the info table for `e820` and `tables`; returns its bytes' range.
    pub fn prepare(
        &self,
        e820: &E820Map,
        tables: &BiosTables,
        memory: &mut impl PhysMemoryMut,
    ) -> Result<PhysRange, Box<HandoffError>> {
        let page = info_page(tables, e820)?;
        let range = PhysRange { start: INFO_ADDRESS, end: INFO_ADDRESS + page.len() as u64 };
        window(memory, "SeaBIOS info table", range)?.copy_from_slice(&page);
        Ok(range)
    }

    /// Readies SeaBIOS to start at its reset vector, and says so.
    pub fn boot(
        self,
        e820: &E820Map,
        tables: &BiosTables,
        memory: &mut impl PhysMemoryMut,
        mut ports: impl crate::arch::PortIo,
    ) -> Result<Jump, Box<HandoffError>> {
        let info = self.prepare(e820, tables, memory)?;
        info!(
            "SeaBIOS: info table at {info} ({} tables, {} memory map entries); \
             real mode, jumping to F000:FFF0",
            tables.addresses().len(),
            e820.len()
        );
        super::before_jump(&mut ports);
        // The image was loaded to end at 1 MiB in RAM made writable; the info table lies in
        // page 0x1000, below the trampoline's page; both pages are below 1 MiB, where the
        // firmware keeps nothing it still needs.
        Ok(Jump::BiosResetVector)
    }
}

#[cfg(test)]
mod tests;
