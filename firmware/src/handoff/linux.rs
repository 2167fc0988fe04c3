//! Direct Linux boot through the x86 boot protocol's 64-bit entry
//! (Documentation/arch/x86/boot.rst in the kernel tree).
//!
//! A bzImage is a real-mode setup part (boot sector plus `setup_sects` sectors, the setup
//! header at 0x1F1) followed by the protected-mode kernel. The firmware:
//!
//! 1. reads the boot sector and setup header (the first two sectors; the rest of the setup
//!    part is skipped) and validates the header ([`SetupHeader::parse`]):
//!    boot flag, "HdrS", protocol 2.12 or later (for `xloadflags`), a bzImage
//!    (`LOADED_HIGH`), a 64-bit entry point (`XLF_KERNEL_64`);
//! 2. places the protected-mode kernel ([`plan`]): at `pref_address` when that is free, else
//!    (relocatable kernels only) at the lowest `kernel_alignment`-aligned free address above
//!    it, with room for `init_size` (the kernel decompresses in place, and a relocatable
//!    kernel never decompresses below `pref_address`); then the initrd below
//!    `initrd_addr_max`, the command line and the zero page, none overlapping anything;
//! 3. reads the kernel and initrd from fw_cfg straight to their places;
//! 4. at boot time builds the zero page ([`zero_page`]): the header copied from the image,
//!    `type_of_loader` 0xFF, the E820 table, the command line, initrd and RSDP pointers;
//! 5. jumps to the 64-bit entry (load address + 0x200) with RSI = the zero page.
//!
//! Everything is below 4 GiB, where the entry's page tables map. The kernel, initrd, zero
//! page and command line stay RAM in the memory map: the protocol makes them the kernel's,
//! and it reserves what it keeps (initrd) itself.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use log::info;

use super::place::{FreeMemory, HIGH_LIMIT, LOW_LIMIT};
use super::{HandoffError, files, window};
use crate::addr::PAGE_SIZE;
use crate::arch::{Jump, PhysMemoryMut, PortIo};
use crate::bootinfo::{MemoryKind, PhysRange};
use crate::e820::{E820_ENTRY_SIZE, E820Map, MAX_E820_ENTRIES};
use crate::platform::fw_cfg::{DmaAddressing, File, FwCfg};

/// Oldest boot protocol accepted: 2.12 added `xloadflags`, which says whether the kernel has
/// the 64-bit entry point this firmware jumps to.
pub const MIN_PROTOCOL: u16 = 0x020C;

const SECTOR: usize = 512;
/// `setup_sects` of 0 means 4, for compatibility with ancient images.
const DEFAULT_SETUP_SECTS: usize = 4;
/// Size of the zero page (`struct boot_params`).
pub const ZERO_PAGE_SIZE: usize = 4096;
/// Offset of the 64-bit entry point from the protected-mode kernel's load address.
pub const ENTRY_64_OFFSET: u64 = 0x200;

/// Offsets in the image's first sectors and, for the same fields, in the zero page (the
/// zero page embeds the setup header at the same offsets).
mod offset {
    pub const SETUP_SECTS: usize = 0x1F1;
    pub const BOOT_FLAG: usize = 0x1FE;
    /// The header starts here; it ends at 0x202 + the byte at 0x201.
    pub const HEADER_START: usize = 0x1F1;
    pub const JUMP: usize = 0x200;
    pub const HEADER_MAGIC: usize = 0x202;
    pub const VERSION: usize = 0x206;
    pub const TYPE_OF_LOADER: usize = 0x210;
    pub const LOADFLAGS: usize = 0x211;
    pub const CODE32_START: usize = 0x214;
    pub const RAMDISK_IMAGE: usize = 0x218;
    pub const RAMDISK_SIZE: usize = 0x21C;
    pub const CMD_LINE_PTR: usize = 0x228;
    pub const INITRD_ADDR_MAX: usize = 0x22C;
    pub const KERNEL_ALIGNMENT: usize = 0x230;
    pub const RELOCATABLE_KERNEL: usize = 0x234;
    pub const XLOADFLAGS: usize = 0x236;
    pub const CMDLINE_SIZE: usize = 0x238;
    pub const PREF_ADDRESS: usize = 0x258;
    pub const INIT_SIZE: usize = 0x260;
    /// First byte after everything the header can be (`boot_params.edd_mbr_sig_buffer`).
    pub const HEADER_LIMIT: usize = 0x290;

    // Zero page fields outside the header.
    pub const ACPI_RSDP_ADDR: usize = 0x070;
    pub const EXT_RAMDISK_IMAGE: usize = 0x0C0;
    pub const EXT_RAMDISK_SIZE: usize = 0x0C4;
    pub const EXT_CMD_LINE_PTR: usize = 0x0C8;
    pub const E820_ENTRIES: usize = 0x1E8;
    pub const E820_TABLE: usize = 0x2D0;
}

const BOOT_FLAG: u16 = 0xAA55;
const HEADER_MAGIC: &[u8; 4] = b"HdrS";
/// `loadflags`: the protected-mode kernel is loaded at 1 MiB or above (a bzImage).
const LOADED_HIGH: u8 = 1 << 0;
/// `xloadflags`: the kernel has the 64-bit entry point at +0x200.
const XLF_KERNEL_64: u16 = 1 << 0;
/// `type_of_loader` for a boot loader without an assigned ID.
const LOADER_UNDEFINED: u8 = 0xFF;

/// What is wrong with a kernel image or its companions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinuxError {
    /// Shorter than its boot sector and setup header.
    TooSmall {
        size: u64,
    },
    /// No 0xAA55 boot flag at 0x1FE.
    BadBootFlag(u16),
    /// No "HdrS" at 0x202: not a bzImage (or from before boot protocol 2.00).
    NoHeaderMagic,
    ProtocolTooOld {
        version: u16,
    },
    /// `LOADED_HIGH` clear: a zImage, loaded at 0x10000, which this firmware does not do.
    NotBzImage,
    /// `XLF_KERNEL_64` clear: no 64-bit entry point (a 32-bit kernel).
    No64BitEntry,
    /// `kernel_alignment` is not a power of two.
    BadAlignment(u32),
    /// The setup sectors claim more than the file holds.
    SetupPastEnd {
        setup: u64,
        size: u64,
    },
    /// The command line is longer than the kernel's `cmdline_size`.
    CmdlineTooLong {
        len: usize,
        max: u32,
    },
    /// The command line has a NUL byte inside.
    CmdlineHasNul,
    /// A kernel that cannot be relocated, whose `pref_address` is not free RAM.
    FixedAddressTaken {
        pref_address: u64,
        size: u64,
    },
}

impl fmt::Display for LinuxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinuxError::TooSmall { size } => {
                write!(f, "{size} bytes is too small for a bzImage (boot sector and setup header)")
            }
            LinuxError::BadBootFlag(flag) => {
                write!(f, "not a bzImage: boot flag {flag:#06x} at 0x1fe (expected 0xaa55)")
            }
            LinuxError::NoHeaderMagic => {
                f.write_str("not a bzImage: no \"HdrS\" setup header signature at 0x202")
            }
            LinuxError::ProtocolTooOld { version } => write!(
                f,
                "boot protocol {}.{:02} is too old (2.12 or later needed for the 64-bit entry)",
                version >> 8,
                version & 0xFF
            ),
            LinuxError::NotBzImage => {
                f.write_str("a zImage (LOADED_HIGH clear); only bzImages are supported")
            }
            LinuxError::No64BitEntry => {
                f.write_str("no 64-bit entry point (XLF_KERNEL_64 clear): a 32-bit kernel?")
            }
            LinuxError::BadAlignment(align) => {
                write!(f, "kernel_alignment {align:#x} is not a power of two")
            }
            LinuxError::SetupPastEnd { setup, size } => {
                write!(f, "setup part of {setup} bytes but the file has only {size}")
            }
            LinuxError::CmdlineTooLong { len, max } => write!(
                f,
                "command line ({}) of {len} bytes, the kernel accepts at most {max}",
                files::CMDLINE
            ),
            LinuxError::CmdlineHasNul => {
                write!(f, "command line ({}) contains a NUL byte", files::CMDLINE)
            }
            LinuxError::FixedAddressTaken { pref_address, size } => write!(
                f,
                "kernel is not relocatable and its load address {pref_address:#x} \
                 (+{size:#x} bytes) is not free RAM"
            ),
        }
    }
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// Length of the setup part (boot sector included) from the image's first sector.
pub fn setup_len(sector0: &[u8; SECTOR]) -> Result<usize, LinuxError> {
    let flag = u16_at(sector0, offset::BOOT_FLAG);
    if flag != BOOT_FLAG {
        return Err(LinuxError::BadBootFlag(flag));
    }
    let sects = match sector0[offset::SETUP_SECTS] {
        0 => DEFAULT_SETUP_SECTS,
        n => usize::from(n),
    };
    Ok((sects + 1) * SECTOR)
}

/// The validated setup header of a bzImage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupHeader {
    pub version: u16,
    pub initrd_addr_max: u32,
    pub kernel_alignment: u32,
    pub relocatable: bool,
    pub cmdline_size: u32,
    pub pref_address: u64,
    pub init_size: u32,
    /// The header's bytes from 0x1F1, copied into the zero page as they are.
    raw: Vec<u8>,
}

impl SetupHeader {
    /// Parses the header from the start of the image: its first two sectors or more.
    pub fn parse(head: &[u8]) -> Result<Self, LinuxError> {
        let sector0: &[u8; SECTOR] = head
            .get(..SECTOR)
            .and_then(|s| s.try_into().ok())
            .ok_or(LinuxError::TooSmall { size: head.len() as u64 })?;
        setup_len(sector0)?;
        // Every field read below lies before 0x26C, inside the first two sectors, and a
        // bzImage always has at least one setup sector.
        if head.len() < 2 * SECTOR {
            return Err(LinuxError::TooSmall { size: head.len() as u64 });
        }
        if &head[offset::HEADER_MAGIC..offset::HEADER_MAGIC + 4] != HEADER_MAGIC {
            return Err(LinuxError::NoHeaderMagic);
        }
        let version = u16_at(head, offset::VERSION);
        if version < MIN_PROTOCOL {
            return Err(LinuxError::ProtocolTooOld { version });
        }
        if head[offset::LOADFLAGS] & LOADED_HIGH == 0 {
            return Err(LinuxError::NotBzImage);
        }
        if u16_at(head, offset::XLOADFLAGS) & XLF_KERNEL_64 == 0 {
            return Err(LinuxError::No64BitEntry);
        }
        let kernel_alignment = u32_at(head, offset::KERNEL_ALIGNMENT);
        if !kernel_alignment.is_power_of_two() {
            return Err(LinuxError::BadAlignment(kernel_alignment));
        }
        let header_end = (offset::JUMP + 2 + usize::from(head[offset::JUMP + 1]))
            .clamp(offset::INIT_SIZE + 4, offset::HEADER_LIMIT);
        Ok(SetupHeader {
            version,
            initrd_addr_max: u32_at(head, offset::INITRD_ADDR_MAX),
            kernel_alignment,
            relocatable: head[offset::RELOCATABLE_KERNEL] != 0,
            cmdline_size: u32_at(head, offset::CMDLINE_SIZE),
            pref_address: u64_at(head, offset::PREF_ADDRESS),
            init_size: u32_at(head, offset::INIT_SIZE),
            raw: head[offset::HEADER_START..header_end.min(head.len())].to_vec(),
        })
    }
}

/// Where each part goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The protected-mode kernel as loaded.
    pub kernel: PhysRange,
    /// What the kernel needs from its load address while it decompresses (`init_size`).
    pub kernel_area: PhysRange,
    pub initrd: Option<PhysRange>,
    /// The command line and its NUL.
    pub cmdline: PhysRange,
    pub zero_page: PhysRange,
}

impl Layout {
    /// Every part, named, for logs and checks.
    pub fn parts(&self) -> impl Iterator<Item = (&'static str, PhysRange)> {
        [
            Some(("kernel", self.kernel_area)),
            self.initrd.map(|r| ("initrd", r)),
            Some(("command line", self.cmdline)),
            Some(("zero page", self.zero_page)),
        ]
        .into_iter()
        .flatten()
    }

    /// The 64-bit entry point.
    pub fn entry(&self) -> u64 {
        self.kernel.start + ENTRY_64_OFFSET
    }
}

/// Places the kernel (`kernel_len` bytes of protected-mode code), the initrd, the command
/// line (`cmdline_len` bytes without its NUL) and the zero page in `free`.
pub fn plan(
    header: &SetupHeader,
    kernel_len: u64,
    initrd_len: Option<u64>,
    cmdline_len: usize,
    free: &mut FreeMemory,
) -> Result<Layout, Box<HandoffError>> {
    if cmdline_len > header.cmdline_size as usize {
        return Err(
            LinuxError::CmdlineTooLong { len: cmdline_len, max: header.cmdline_size }.into()
        );
    }
    let area_len = u64::from(header.init_size).max(kernel_len).next_multiple_of(PAGE_SIZE);
    let pref = header.pref_address;
    let kernel_area = match PhysRange::from_len(pref, area_len) {
        Some(range) if free.is_free(range) => {
            free.remove(range);
            range
        }
        _ if header.relocatable => {
            let align = u64::from(header.kernel_alignment).max(PAGE_SIZE);
            let above_pref = PhysRange { start: pref, end: HIGH_LIMIT };
            free.allocate(area_len, align, above_pref).ok_or(HandoffError::NoRoom {
                what: "kernel",
                size: area_len,
                limit: HIGH_LIMIT,
            })?
        }
        _ => {
            return Err(LinuxError::FixedAddressTaken { pref_address: pref, size: area_len }.into());
        }
    };
    let kernel = PhysRange { start: kernel_area.start, end: kernel_area.start + kernel_len };

    let initrd = match initrd_len {
        Some(len) => {
            // initrd_addr_max is the highest address the initrd's last byte may have.
            let limit = (u64::from(header.initrd_addr_max) + 1).min(HIGH_LIMIT);
            let window = PhysRange { start: LOW_LIMIT, end: limit };
            Some(
                free.allocate(len.next_multiple_of(PAGE_SIZE), PAGE_SIZE, window)
                    .ok_or(HandoffError::NoRoom { what: "initrd", size: len, limit })?,
            )
            .map(|range| PhysRange { start: range.start, end: range.start + len })
        }
        None => None,
    };
    let low = PhysRange { start: LOW_LIMIT, end: HIGH_LIMIT };
    let cmdline_size = cmdline_len as u64 + 1;
    let cmdline = free
        .allocate(cmdline_size.next_multiple_of(PAGE_SIZE), PAGE_SIZE, low)
        .ok_or(HandoffError::NoRoom { what: "command line", size: cmdline_size, limit: HIGH_LIMIT })
        .map(|range| PhysRange { start: range.start, end: range.start + cmdline_size })?;
    let zero_page =
        free.allocate(ZERO_PAGE_SIZE as u64, PAGE_SIZE, low).ok_or(HandoffError::NoRoom {
            what: "zero page",
            size: ZERO_PAGE_SIZE as u64,
            limit: HIGH_LIMIT,
        })?;
    Ok(Layout { kernel, kernel_area, initrd, cmdline, zero_page })
}

/// The zero page (`struct boot_params`) for `layout`, with `e820` as the memory map and
/// `rsdp` as the ACPI root pointer (protocol 2.14's `acpi_rsdp_addr`; older kernels ignore
/// the field and search the BIOS area).
pub fn zero_page(
    header: &SetupHeader,
    layout: &Layout,
    e820: &E820Map,
    rsdp: Option<u64>,
) -> Result<Vec<u8>, Box<HandoffError>> {
    let mut page = vec![0u8; ZERO_PAGE_SIZE];
    let header_end = offset::HEADER_START + header.raw.len();
    page[offset::HEADER_START..header_end].copy_from_slice(&header.raw);
    page[offset::TYPE_OF_LOADER] = LOADER_UNDEFINED;
    let mut put32 = |at: usize, value: u64| {
        // Every address here is below 4 GiB (placement keeps it so); the high halves of the
        // split fields are zero.
        page[at..at + 4].copy_from_slice(&(value as u32).to_le_bytes());
    };
    put32(offset::CODE32_START, layout.kernel.start);
    put32(offset::CMD_LINE_PTR, layout.cmdline.start);
    put32(offset::EXT_CMD_LINE_PTR, layout.cmdline.start >> 32);
    let (initrd_start, initrd_len) = layout.initrd.map_or((0, 0), |r| (r.start, r.len()));
    put32(offset::RAMDISK_IMAGE, initrd_start);
    put32(offset::RAMDISK_SIZE, initrd_len);
    put32(offset::EXT_RAMDISK_IMAGE, initrd_start >> 32);
    put32(offset::EXT_RAMDISK_SIZE, initrd_len >> 32);
    page[offset::ACPI_RSDP_ADDR..offset::ACPI_RSDP_ADDR + 8]
        .copy_from_slice(&rsdp.unwrap_or(0).to_le_bytes());
    let table =
        &mut page[offset::E820_TABLE..offset::E820_TABLE + MAX_E820_ENTRIES * E820_ENTRY_SIZE];
    e820.encode_into(table)?;
    page[offset::E820_ENTRIES] = e820.len() as u8;
    Ok(page)
}

/// A kernel loaded from fw_cfg, waiting for [`boot`](Self::boot).
#[derive(Debug)]
pub struct LinuxPayload {
    header: SetupHeader,
    layout: Layout,
    cmdline: Vec<u8>,
}

impl LinuxPayload {
    /// Loads `opt/hvmloader/kernel` (and the initrd and command line files, when present)
    /// into free RAM of `e820`, leaving `in_use` alone (the firmware image, boot modules,
    /// whatever must survive until the jump). `None` when there is no kernel file.
    pub fn load<P: PortIo, A: DmaAddressing>(
        fw_cfg: &mut FwCfg<P, A>,
        e820: &E820Map,
        in_use: &[PhysRange],
        memory: &mut impl PhysMemoryMut,
    ) -> Result<Option<Self>, Box<HandoffError>> {
        let Some(kernel_file) = fw_cfg.find_file(files::KERNEL)? else { return Ok(None) };
        let initrd_file = fw_cfg.find_file(files::INITRD)?;
        let cmdline_file = fw_cfg.find_file(files::CMDLINE)?;

        let size = u64::from(kernel_file.size);
        let (head, setup_len) = read_setup_head(fw_cfg, &kernel_file)?;
        let header = SetupHeader::parse(&head)?;
        drop(head);
        let cmdline = match cmdline_file {
            Some(file) => read_cmdline(fw_cfg, &file, header.cmdline_size)?,
            None => Vec::new(),
        };

        let kernel_len = size - setup_len as u64;
        let mut free = FreeMemory::new(e820, in_use);
        let layout = plan(
            &header,
            kernel_len,
            initrd_file.as_ref().map(|f| u64::from(f.size)),
            cmdline.len(),
            &mut free,
        )?;
        info!(
            "Linux: boot protocol {}.{:02}, kernel {:#x} bytes at {} (init_size {:#x}), \
             command line \"{}\"",
            header.version >> 8,
            header.version & 0xFF,
            kernel_len,
            layout.kernel,
            header.init_size,
            core::str::from_utf8(&cmdline).unwrap_or("<not UTF-8>"),
        );
        // Selecting the file again restarts it: skip the setup part.
        let mut reader = fw_cfg.open(&kernel_file);
        reader.skip(setup_len)?;
        reader.read_exact(window(memory, "kernel", layout.kernel)?)?;
        if let (Some(file), Some(range)) = (&initrd_file, layout.initrd) {
            fw_cfg.read_file(file, window(memory, "initrd", range)?)?;
            info!("Linux: initrd {:#x} bytes at {range}", file.size);
        }
        Ok(Some(LinuxPayload { header, layout, cmdline }))
    }

    #[cfg(test)]
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Writes the command line and the zero page for the final memory map `e820`; returns
    /// the zero page's address. Fails if `e820` took any placed range away from RAM.
    pub fn prepare(
        &self,
        e820: &E820Map,
        rsdp: Option<u64>,
        memory: &mut impl PhysMemoryMut,
    ) -> Result<u64, Box<HandoffError>> {
        for (what, range) in self.layout.parts() {
            let still_ram = e820
                .entries()
                .iter()
                .any(|e| e.kind == MemoryKind::Ram && e.range.contains_range(&range));
            if !still_ram {
                return Err(HandoffError::PlacementInvalidated { what, range }.into());
            }
        }
        let page = zero_page(&self.header, &self.layout, e820, rsdp)?;
        let cmdline = window(memory, "command line", self.layout.cmdline)?;
        let (text, nul) = cmdline.split_at_mut(self.cmdline.len());
        text.copy_from_slice(&self.cmdline);
        nul[0] = 0;
        window(memory, "zero page", self.layout.zero_page)?.copy_from_slice(&page);
        Ok(self.layout.zero_page.start)
    }

    /// Readies the kernel to start with `e820` as its memory map and `rsdp` as its ACPI
    /// root, and says where to jump.
    pub fn boot(
        self,
        e820: &E820Map,
        rsdp: Option<u64>,
        memory: &mut impl PhysMemoryMut,
        mut ports: impl crate::arch::PortIo,
    ) -> Result<Jump, Box<HandoffError>> {
        let boot_params = self.prepare(e820, rsdp, memory)?;
        info!(
            "Linux: zero page at {:#x}, {} memory map entries, rsdp {:#x}; jumping to {:#x}",
            boot_params,
            e820.len(),
            rsdp.unwrap_or(0),
            self.layout.entry()
        );
        super::before_jump(&mut ports);
        // `load` put a validated bzImage's protected-mode kernel (XLF_KERNEL_64) at
        // `layout.kernel`, outside everything in use (the firmware image among it) and below
        // 4 GiB with its whole init_size area; `prepare` wrote the zero page and command
        // line, also below 4 GiB and outside the kernel's area.
        Ok(Jump::Linux64 { entry: self.layout.entry(), boot_params })
    }
}

/// The kernel file's first two sectors (the boot sector and the setup header) and the
/// length of its setup part, checked against the file's size.
fn read_setup_head<P: PortIo, A: DmaAddressing>(
    fw_cfg: &mut FwCfg<P, A>,
    file: &File,
) -> Result<(Vec<u8>, usize), Box<HandoffError>> {
    let size = u64::from(file.size);
    if size < 2 * SECTOR as u64 {
        return Err(LinuxError::TooSmall { size }.into());
    }
    let mut head = vec![0u8; 2 * SECTOR];
    fw_cfg.open(file).read_exact(&mut head)?;
    let setup_size = setup_len(head[..SECTOR].try_into().expect("one sector"))?;
    if setup_size as u64 >= size {
        return Err(LinuxError::SetupPastEnd { setup: setup_size as u64, size }.into());
    }
    Ok((head, setup_size))
}

/// The command line file: bytes without a NUL inside; trailing newlines and NULs (from
/// `file=` with an editor's newline, or a C string) are dropped. Longer than `max` (the
/// kernel's `cmdline_size`) is an error, found before reading it to the heap.
fn read_cmdline<P: PortIo, A: DmaAddressing>(
    fw_cfg: &mut FwCfg<P, A>,
    file: &File,
    max: u32,
) -> Result<Vec<u8>, Box<HandoffError>> {
    // Room for a trailing CR LF NUL, which are dropped below.
    if u64::from(file.size) > u64::from(max) + 3 {
        return Err(LinuxError::CmdlineTooLong { len: file.size as usize, max }.into());
    }
    let mut text = vec![0u8; file.size as usize];
    fw_cfg.read_file(file, &mut text)?;
    while matches!(text.last(), Some(b'\n' | b'\r' | 0)) {
        text.pop();
    }
    if text.contains(&0) {
        return Err(LinuxError::CmdlineHasNul.into());
    }
    Ok(text)
}

#[cfg(test)]
mod tests;
