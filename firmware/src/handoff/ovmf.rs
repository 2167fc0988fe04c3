//! Hand-off to OVMF the way Xen's hvmloader does it: the flash image placed to end at
//! 4 GiB (its start rounded down to 1 MiB), its last 64 KiB also copied to 0xF0000 for the
//! real-mode reset vector, the `XenHVMOVMF` info table at 0x1000, then real mode and
//! F000:FFF0; OVMF's reset code goes on to its 32-bit code below 4 GiB.
//!
//! On Xen the top of the address space is RAM the loader populates. Under plain QEMU it is
//! the BIOS ROM QEMU maps there (SeaBIOS's, at 0xFFFC0000-0xFFFFFFFF, which writes do not
//! change): loading then fails with a clear "not RAM" error instead of jumping into a BIOS
//! that is only half OVMF.

use alloc::vec;
use alloc::vec::Vec;
use core::convert::Infallible;

use log::info;

use super::seabios::{BIOS_END, BiosTables, check_ram, has_reset_vector, unlock_bios_area};
use super::{HandoffError, byte_sum, files, window};
use crate::arch::{PhysMemoryMut, PortIo};
use crate::bootinfo::PhysRange;
use crate::e820::E820Map;
use crate::pci::ConfigSpace;
use crate::platform::fw_cfg::{DmaAddressing, File, FwCfg};

pub const INFO_ADDRESS: u64 = 0x1000;
const SIGNATURE: &[u8; 14] = b"XenHVMOVMF\0\0\0\0";
/// signature, length, checksum, tables u64, tables_nr u32, e820 u64, e820_nr u32 (packed).
const INFO_LEN: usize = 40;
const TABLES_OFFSET: usize = 0x40;
const E820_OFFSET: usize = 0x80;
/// The low copy of the image's last bytes, holding the reset vector for real mode.
const LOW_CHUNK: u64 = 0x1_0000;
const MIB: u64 = 1 << 20;
const FOUR_GIB: u64 = 1 << 32;
/// Largest image accepted (OVMF_CODE_4M is 4 MiB; hvmloader's flash window is 16 MiB).
pub const MAX_IMAGE: u32 = 16 << 20;

/// The bytes for [`INFO_ADDRESS`]: info table, table pointers (u64 each), memory map.
pub fn info_page(tables: &BiosTables, e820: &E820Map) -> Result<Vec<u8>, HandoffError> {
    let addresses = tables.addresses();
    let mut page = vec![0u8; E820_OFFSET + e820.encoded_len()];
    page[..14].copy_from_slice(SIGNATURE);
    page[14] = INFO_LEN as u8;
    page[16..24].copy_from_slice(&(INFO_ADDRESS + TABLES_OFFSET as u64).to_le_bytes());
    page[24..28].copy_from_slice(&(addresses.len() as u32).to_le_bytes());
    page[28..36].copy_from_slice(&(INFO_ADDRESS + E820_OFFSET as u64).to_le_bytes());
    page[36..40].copy_from_slice(&(e820.len() as u32).to_le_bytes());
    page[15] = 0u8.wrapping_sub(byte_sum(&page[..INFO_LEN]));
    for (slot, address) in page[TABLES_OFFSET..E820_OFFSET].chunks_exact_mut(8).zip(addresses) {
        slot.copy_from_slice(&u64::from(address).to_le_bytes());
    }
    e820.encode_into(&mut page[E820_OFFSET..])?;
    Ok(page)
}

/// Where an image of `size` bytes goes: it ends at 4 GiB... as hvmloader places it, its
/// start is 4 GiB minus the size rounded up to 1 MiB.
pub fn flash_range(size: u32) -> PhysRange {
    let start = FOUR_GIB - u64::from(size).next_multiple_of(MIB);
    PhysRange { start, end: start + u64::from(size) }
}

/// An OVMF image in place.
#[derive(Debug)]
pub struct OvmfPayload {
    flash: PhysRange,
}

impl OvmfPayload {
    pub fn load<P: PortIo, A: DmaAddressing>(
        fw_cfg: &mut FwCfg<P, A>,
        file: &File,
        cfg: &mut impl ConfigSpace,
        chipset: crate::chipset::Chipset,
        memory: &mut impl PhysMemoryMut,
    ) -> Result<Self, HandoffError> {
        if u64::from(file.size) < LOW_CHUNK || file.size > MAX_IMAGE {
            return Err(HandoffError::BiosSize { what: "OVMF", size: file.size, max: MAX_IMAGE });
        }
        let flash = flash_range(file.size);
        let image = window(memory, "OVMF flash image", flash)?;
        check_ram(image, "OVMF flash image", flash)?;
        fw_cfg.read_file(file, image)?;
        let tail = image[image.len() - LOW_CHUNK as usize..].to_vec();
        if !has_reset_vector(&tail[tail.len() - 16..]) {
            return Err(HandoffError::NoResetVector { what: "OVMF" });
        }
        unlock_bios_area(cfg, chipset)?;
        let low = PhysRange { start: BIOS_END - LOW_CHUNK, end: BIOS_END };
        let low_window = window(memory, "OVMF reset vector copy", low)?;
        check_ram(low_window, "OVMF reset vector copy", low)?;
        low_window.copy_from_slice(&tail);
        info!("OVMF: {} ({} KiB) at {flash}", files::FIRMWARE, file.size >> 10);
        Ok(OvmfPayload { flash })
    }

    pub fn flash(&self) -> PhysRange {
        self.flash
    }

    /// Starts OVMF through its reset vector. Returns only on an error found before the jump.
    pub fn boot(
        self,
        e820: &E820Map,
        tables: &BiosTables,
        memory: &mut impl PhysMemoryMut,
    ) -> Result<Infallible, HandoffError> {
        let page = info_page(tables, e820)?;
        let range = PhysRange { start: INFO_ADDRESS, end: INFO_ADDRESS + page.len() as u64 };
        window(memory, "OVMF info table", range)?.copy_from_slice(&page);
        info!("OVMF: info table at {range}; real mode, jumping to F000:FFF0");
        super::drain_console_hw();
        // SAFETY: the image is in place at the top of 4 GiB with its reset vector copied to
        // the end of the first MiB; the info table and the trampoline are in pages below
        // 1 MiB the firmware no longer needs.
        unsafe { crate::arch::realmode::enter_bios_reset_vector() }
    }
}
