//! QEMU's firmware configuration device (fw_cfg), the channel through which QEMU hands the
//! firmware its payloads: `-fw_cfg name=opt/hvmloader/kernel,file=...` and friends.
//!
//! The x86 interface (QEMU docs/specs/fw_cfg.rst): a 16-bit selector at port 0x510, a data
//! port at 0x511 that streams the selected item byte by byte, and a DMA address register at
//! 0x514 (64 bits, big-endian, split in two 32-bit halves; writing the low half at 0x518
//! starts the transfer). Item 0 holds the signature "QEMU", item 1 the feature bits (bit 1 =
//! DMA), item 0x19 the directory of named files, all big-endian except the legacy numeric
//! items, which are little-endian.
//!
//! DMA moves a whole kernel in one transfer; streaming it through the data port costs one
//! emulated port read per byte. The driver uses DMA whenever the device offers it and the
//! buffer is reachable ([`DmaAddressing`]), and the data port otherwise.
//!
//! Everything QEMU reports is input: names are matched exactly, sizes are checked against
//! the caller's buffers, the directory's entry count is bounded.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{Ordering, compiler_fence};

use crate::acpi::ssdt::SleepStates;
use crate::arch::PortIo;

/// Selector register (16-bit write).
pub(crate) const SELECTOR_PORT: u16 = 0x510;
/// Data register (8-bit reads stream the selected item).
pub(crate) const DATA_PORT: u16 = 0x511;
/// High half of the DMA address register (big-endian 32-bit write).
pub(crate) const DMA_PORT_HIGH: u16 = 0x514;
/// Low half of the DMA address register; writing it starts the transfer.
pub(crate) const DMA_PORT_LOW: u16 = 0x518;

/// Well-known items (the legacy numeric keys this firmware uses).
pub(crate) mod key {
    /// "QEMU" when the device is present.
    pub const SIGNATURE: u16 = 0x00;
    /// Feature bitmap, little-endian u32.
    pub const ID: u16 = 0x01;
    /// Number of vCPUs QEMU started (`-smp`), little-endian u16.
    pub const NB_CPUS: u16 = 0x05;
    /// The named-file directory.
    pub const FILE_DIR: u16 = 0x19;
}

/// Feature bit of [`key::ID`]: the traditional data-port interface.
const FEATURE_TRADITIONAL: u32 = 1 << 0;
/// Feature bit of [`key::ID`]: the DMA interface.
const FEATURE_DMA: u32 = 1 << 1;

/// Bits of the DMA control word.
mod control {
    /// Set by the device when the transfer failed.
    pub const ERROR: u32 = 1 << 0;
    pub const READ: u32 = 1 << 1;
    /// Moves the item's offset on by the length, transferring nothing.
    pub const SKIP: u32 = 1 << 2;
    pub const SELECT: u32 = 1 << 3;
}

/// Longest file name in a directory entry, including its terminating NUL.
pub(crate) const FILE_NAME_LEN: usize = 56;
/// Size of one directory entry: size (BE32), select (BE16), reserved (u16), name.
const DIR_ENTRY_SIZE: usize = 64;
/// Most directory entries accepted. QEMU's default is 0x20 slots, up to 0x1000 with
/// `-global fw_cfg.file_slots`; anything beyond is a broken device, not a configuration.
pub(crate) const MAX_FILES: u32 = 0x1000;

/// The sleep states QEMU's PM device (PIIX4 or ICH9) implements: one byte per state S0-S5,
/// bit 7 set when the state is enabled, bits 6:0 its SLP_TYP. QEMU writes S3 as SLP_TYP 1,
/// S4 as the device's `s4_val` property (default 2), each enabled unless the `disable_s3` /
/// `disable_s4` property is set; S0 and S5 (SLP_TYP 0) always enabled, S1 and S2 never.
pub(crate) const SYSTEM_STATES_FILE: &str = "etc/system-states";
/// How many root buses QEMU's expander bridges add (`pxb`, `pxb-pcie`): a little-endian u64,
/// absent without expanders.
pub(crate) const EXTRA_PCI_ROOTS_FILE: &str = "etc/extra-pci-roots";
/// Size of [`SYSTEM_STATES_FILE`]: S0 to S5.
pub(crate) const SYSTEM_STATES_LEN: usize = 6;

/// The S3 and S4 entries of [`SYSTEM_STATES_FILE`]: each state's SLP_TYP when enabled. An
/// enabled state whose value does not fit PM1_CNT.SLP_TYP (3 bits) cannot be entered and
/// is left out.
pub(crate) fn parse_system_states(raw: &[u8; SYSTEM_STATES_LEN]) -> SleepStates {
    const ENABLED: u8 = 1 << 7;
    let state = |byte: u8| {
        let slp_typ = byte & !ENABLED;
        (byte & ENABLED != 0 && slp_typ <= 7).then_some(slp_typ)
    };
    SleepStates { s3: state(raw[3]), s4: state(raw[4]) }
}

/// A named file of the fw_cfg directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct File {
    /// Item key to select the file with.
    pub select: u16,
    /// Size in bytes.
    pub size: u32,
    pub name: String,
}

/// What went wrong talking to fw_cfg.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FwCfgError {
    /// The directory claims more entries than [`MAX_FILES`].
    TooManyFiles(u32),
    /// A read asked for more bytes than the item has left.
    ReadPastEnd { select: u16, wanted: u64, left: u64 },
    /// The device flagged a DMA transfer as failed.
    DmaFailed { select: u16, len: usize },
    /// A whole-file read into a buffer of another size.
    SizeMismatch { name: String, size: u32, buffer: usize },
}

impl fmt::Display for FwCfgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FwCfgError::TooManyFiles(n) => {
                write!(f, "fw_cfg: directory lists {n} files (at most {MAX_FILES} accepted)")
            }
            FwCfgError::ReadPastEnd { select, wanted, left } => write!(
                f,
                "fw_cfg: item {select:#06x}: reading {wanted} bytes, but only {left} are left"
            ),
            FwCfgError::DmaFailed { select, len } => {
                write!(f, "fw_cfg: item {select:#06x}: DMA transfer of {len} bytes failed")
            }
            FwCfgError::SizeMismatch { name, size, buffer } => {
                write!(f, "fw_cfg: file {name} has {size} bytes, the buffer {buffer}")
            }
        }
    }
}

/// How the device reaches the firmware's memory: fw_cfg DMA takes guest-physical addresses.
pub(crate) trait DmaAddressing {
    /// The address the device must be given for the byte `ptr` points at, or `None` when
    /// the device cannot reach it (the driver then falls back to the data port).
    fn device_address(&self, ptr: *const u8) -> Option<u64>;
}

/// The firmware's view: the first 4 GiB are identity-mapped, so a pointer below 4 GiB is
/// its own physical address. Nothing the firmware owns lies above.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IdentityMapped;

impl DmaAddressing for IdentityMapped {
    fn device_address(&self, ptr: *const u8) -> Option<u64> {
        let address = ptr.expose_provenance() as u64;
        (address < 1 << 32).then_some(address)
    }
}

/// The DMA descriptor (`FWCfgDmaAccess`), fields big-endian. The device reads it at the
/// address written to the DMA register and clears `control` (or sets its error bit) when done.
#[repr(C, align(8))]
#[derive(Debug)]
struct DmaAccess {
    control: u32,
    length: u32,
    address: u64,
}

/// The fw_cfg device.
#[derive(Debug)]
pub(crate) struct FwCfg<P: PortIo, A: DmaAddressing = IdentityMapped> {
    ports: P,
    /// `Some` when the device offers DMA.
    dma: Option<A>,
}

impl<P: PortIo, A: DmaAddressing> FwCfg<P, A> {
    /// Finds the device by its signature; `None` when it is absent (Xen has no fw_cfg).
    /// `addressing` is used only if the device offers DMA.
    pub fn detect(mut ports: P, addressing: A) -> Option<Self> {
        let mut signature = [0u8; 4];
        pio_read_item(&mut ports, key::SIGNATURE, &mut signature);
        if &signature != b"QEMU" {
            return None;
        }
        let mut id = [0u8; 4];
        pio_read_item(&mut ports, key::ID, &mut id);
        let features = u32::from_le_bytes(id);
        if features & FEATURE_TRADITIONAL == 0 {
            // Every QEMU sets it on x86; a device without it is not one we know.
            return None;
        }
        let dma = (features & FEATURE_DMA != 0).then_some(addressing);
        Some(FwCfg { ports, dma })
    }

    /// Whether transfers go through DMA.
    #[cfg(test)]
    pub fn has_dma(&self) -> bool {
        self.dma.is_some()
    }

    /// Reads the first `buf.len()` bytes of item `key` through the data port (for small
    /// numeric items; the device returns zeros past an item's end).
    pub fn read_item(&mut self, key: u16, buf: &mut [u8]) {
        pio_read_item(&mut self.ports, key, buf);
    }

    /// Number of vCPUs QEMU started.
    pub fn nb_cpus(&mut self) -> u16 {
        let mut raw = [0u8; 2];
        self.read_item(key::NB_CPUS, &mut raw);
        u16::from_le_bytes(raw)
    }

    /// The named files.
    pub fn files(&mut self) -> Result<Vec<File>, Box<FwCfgError>> {
        let mut reader = self.open_item(key::FILE_DIR, u64::from(u32::MAX));
        let mut count = [0u8; 4];
        reader.read_exact(&mut count)?;
        let count = u32::from_be_bytes(count);
        if count > MAX_FILES {
            return Err(Box::new(FwCfgError::TooManyFiles(count)));
        }
        let mut raw = vec![0u8; count as usize * DIR_ENTRY_SIZE];
        reader.read_exact(&mut raw)?;
        Ok(raw.chunks_exact(DIR_ENTRY_SIZE).map(parse_dir_entry).collect())
    }

    /// The file called exactly `name`, if QEMU has one.
    pub fn find_file(&mut self, name: &str) -> Result<Option<File>, Box<FwCfgError>> {
        Ok(self.files()?.into_iter().find(|file| file.name == name))
    }

    /// The sleep states the PM device implements, from [`SYSTEM_STATES_FILE`]; `None` when
    /// QEMU has no such file. A file of another size is an error.
    pub fn sleep_states(&mut self) -> Result<Option<SleepStates>, Box<FwCfgError>> {
        let Some(file) = self.find_file(SYSTEM_STATES_FILE)? else { return Ok(None) };
        let mut raw = [0u8; SYSTEM_STATES_LEN];
        self.read_file(&file, &mut raw)?;
        Ok(Some(parse_system_states(&raw)))
    }

    /// The number of extra PCI root buses ([`EXTRA_PCI_ROOTS_FILE`]), 0 without the file. A
    /// file of another size than 8 bytes is an error; a count above 255 is given as 255
    /// (there are no more bus numbers).
    pub fn extra_pci_roots(&mut self) -> Result<u8, Box<FwCfgError>> {
        let Some(file) = self.find_file(EXTRA_PCI_ROOTS_FILE)? else { return Ok(0) };
        let mut raw = [0u8; 8];
        self.read_file(&file, &mut raw)?;
        Ok(u64::from_le_bytes(raw).min(255) as u8)
    }

    /// Starts reading `file` from its first byte.
    pub fn open(&mut self, file: &File) -> FileReader<'_, P, A> {
        self.open_item(file.select, u64::from(file.size))
    }

    /// Reads the whole of `file` into `dest`, which must be exactly its size.
    pub fn read_file(&mut self, file: &File, dest: &mut [u8]) -> Result<(), Box<FwCfgError>> {
        if dest.len() as u64 != u64::from(file.size) {
            return Err(Box::new(FwCfgError::SizeMismatch {
                name: file.name.clone(),
                size: file.size,
                buffer: dest.len(),
            }));
        }
        self.open(file).read_exact(dest)
    }

    fn open_item(&mut self, select: u16, size: u64) -> FileReader<'_, P, A> {
        FileReader { fw_cfg: self, select, left: size, selected: false }
    }

    /// One DMA transfer of `dest.len()` bytes from the item at its current offset
    /// (selecting `select` first when `reselect`). Returns `false` if the buffer is out of
    /// the device's reach, before anything was started.
    fn dma_read(
        &mut self,
        select: u16,
        reselect: bool,
        dest: &mut [u8],
    ) -> Result<bool, Box<FwCfgError>> {
        let Some(addressing) = &self.dma else { return Ok(false) };
        let (Some(buffer), Ok(length)) =
            (addressing.device_address(dest.as_mut_ptr()), u32::try_from(dest.len()))
        else {
            return Ok(false);
        };
        self.dma(select, reselect, control::READ, length, buffer)
    }

    /// Moves the item's offset on by `len` bytes in one DMA operation, transferring
    /// nothing. Returns `false` without DMA.
    fn dma_skip(&mut self, select: u16, reselect: bool, len: u32) -> Result<bool, Box<FwCfgError>> {
        self.dma(select, reselect, control::SKIP, len, 0)
    }

    /// Runs one DMA operation `ctl` (read or skip) of `length` bytes to `buffer`, a device
    /// address. Returns `false` if the descriptor is out of the device's reach.
    fn dma(
        &mut self,
        select: u16,
        reselect: bool,
        mut ctl: u32,
        length: u32,
        buffer: u64,
    ) -> Result<bool, Box<FwCfgError>> {
        let Some(addressing) = &self.dma else { return Ok(false) };
        let mut access = DmaAccess { control: 0, length: 0, address: 0 };
        let Some(descriptor) = addressing.device_address((&raw const access).cast()) else {
            return Ok(false);
        };
        if reselect {
            ctl |= control::SELECT | (u32::from(select) << 16);
        }
        access.control = ctl.to_be();
        access.length = length.to_be();
        access.address = buffer.to_be();
        // The device reads the descriptor and writes the buffer and the descriptor behind the
        // compiler's back. Their addresses were exposed above; the fence keeps the stores
        // before the doorbell and the loads after it.
        compiler_fence(Ordering::SeqCst);
        self.ports.write32(DMA_PORT_HIGH, ((descriptor >> 32) as u32).to_be());
        self.ports.write32(DMA_PORT_LOW, (descriptor as u32).to_be());
        compiler_fence(Ordering::SeqCst);
        // QEMU completes the transfer within the port write; the specification still asks
        // the driver to wait for the device to clear the control word.
        loop {
            // Volatile: the read must see what the device wrote into the descriptor.
            let status = u32::from_be(crate::arch::read_volatile(&access.control));
            if status & control::ERROR != 0 {
                return Err(Box::new(FwCfgError::DmaFailed { select, len: length as usize }));
            }
            if status == 0 {
                return Ok(true);
            }
            core::hint::spin_loop();
        }
    }
}

/// Sequential reads of one item: fw_cfg keeps a read offset per selection, so a file can be
/// read in parts (a kernel's header to the heap, the rest to its load address).
#[derive(Debug)]
pub(crate) struct FileReader<'a, P: PortIo, A: DmaAddressing> {
    fw_cfg: &'a mut FwCfg<P, A>,
    select: u16,
    /// Bytes of the item not read yet.
    left: u64,
    /// Whether the item has been selected (the first read does it).
    selected: bool,
}

impl<P: PortIo, A: DmaAddressing> FileReader<'_, P, A> {
    /// Bytes of the item not read yet.
    #[cfg(test)]
    pub fn remaining(&self) -> u64 {
        self.left
    }

    /// Passes the item's next `len` bytes: one DMA skip, or without DMA a read through a
    /// small buffer (none is kept).
    pub fn skip(&mut self, mut len: usize) -> Result<(), Box<FwCfgError>> {
        self.check_left(len)?;
        // Within the item, so within its u32 size.
        if len > 0 && self.fw_cfg.dma_skip(self.select, !self.selected, len as u32)? {
            self.selected = true;
            self.left -= len as u64;
            return Ok(());
        }
        let mut scratch = [0u8; 512];
        while len > 0 {
            let part = len.min(scratch.len());
            self.read_exact(&mut scratch[..part])?;
            len -= part;
        }
        Ok(())
    }

    /// Fills `dest` with the item's next bytes.
    pub fn read_exact(&mut self, dest: &mut [u8]) -> Result<(), Box<FwCfgError>> {
        self.check_left(dest.len())?;
        if dest.is_empty() {
            return Ok(());
        }
        if !self.fw_cfg.dma_read(self.select, !self.selected, dest)? {
            if !self.selected {
                self.fw_cfg.ports.write16(SELECTOR_PORT, self.select);
            }
            for byte in dest.iter_mut() {
                *byte = self.fw_cfg.ports.read8(DATA_PORT);
            }
        }
        self.selected = true;
        self.left -= dest.len() as u64;
        Ok(())
    }

    /// That the item has `wanted` more bytes.
    fn check_left(&self, wanted: usize) -> Result<(), Box<FwCfgError>> {
        if wanted as u64 > self.left {
            let (select, left) = (self.select, self.left);
            return Err(Box::new(FwCfgError::ReadPastEnd { select, wanted: wanted as u64, left }));
        }
        Ok(())
    }
}

fn pio_read_item(ports: &mut impl PortIo, key: u16, buf: &mut [u8]) {
    ports.write16(SELECTOR_PORT, key);
    for byte in buf.iter_mut() {
        *byte = ports.read8(DATA_PORT);
    }
}

fn parse_dir_entry(raw: &[u8]) -> File {
    let size = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let select = u16::from_be_bytes([raw[4], raw[5]]);
    let name = &raw[8..8 + FILE_NAME_LEN];
    let len = name.iter().position(|&b| b == 0).unwrap_or(FILE_NAME_LEN);
    // A name that is not UTF-8 cannot equal any name we look for; keep it readable in logs.
    let name = String::from_utf8_lossy(&name[..len]).into_owned();
    File { select, size, name }
}

#[cfg(test)]
pub(crate) mod sim;
#[cfg(test)]
mod tests;
