//! Hand-off: starting whatever runs after the firmware.
//!
//! Payloads come from QEMU's fw_cfg as named files (under Xen the BIOS arrives as the
//! "firmware" start-info module instead, started as `hvmloader/bios` says: see
//! [`seabios::SeabiosPayload::from_module`] and [`ovmf::OvmfPayload::from_xen_module`]):
//!
//! | file                      | what                                                 |
//! |---------------------------|------------------------------------------------------|
//! | `opt/hvmloader/kernel`    | a Linux bzImage, booted directly ([`linux`])         |
//! | `opt/hvmloader/initrd`    | its initramfs (optional)                             |
//! | `opt/hvmloader/cmdline`   | its command line (optional)                          |
//! | `opt/hvmloader/firmware`  | a SeaBIOS ([`seabios`]) or OVMF ([`ovmf`]) image     |
//!
//! [`place`] finds room for payloads in the memory map; everything that decides where bytes
//! go is pure and host-tested, the final jumps are in [`crate::arch`].

pub mod linux;
pub mod ovmf;
pub mod place;
pub mod reset;
pub mod seabios;

use alloc::boxed::Box;
use core::fmt;

use crate::arch::PhysReadError;
use crate::bootinfo::PhysRange;
use crate::e820::E820Error;
use crate::platform::fw_cfg::FwCfgError;

/// fw_cfg file names of the payloads.
pub mod files {
    pub const KERNEL: &str = "opt/hvmloader/kernel";
    pub const INITRD: &str = "opt/hvmloader/initrd";
    pub const CMDLINE: &str = "opt/hvmloader/cmdline";
    pub const FIRMWARE: &str = "opt/hvmloader/firmware";
}

/// Why a payload cannot be started. Passed on boxed (`Box<HandoffError>`): the hand-off's
/// `Result`s are then two registers wide, which `?` moves without copying an error through
/// memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HandoffError {
    FwCfg(Box<FwCfgError>),
    Linux(linux::LinuxError),
    /// No free RAM range fits a payload part.
    NoRoom {
        what: &'static str,
        size: u64,
        limit: u64,
    },
    /// Memory the payload must go to cannot be written.
    Unwritable {
        what: &'static str,
        err: PhysReadError,
    },
    /// Memory written did not read back (ROM or flash where RAM was expected).
    NotRam {
        what: &'static str,
        range: PhysRange,
    },
    /// A placed range is no longer RAM in the memory map given at boot time.
    PlacementInvalidated {
        what: &'static str,
        range: PhysRange,
    },
    MemoryMap(Box<E820Error>),
    /// A BIOS image of a size that cannot be placed.
    BiosSize {
        what: &'static str,
        size: u32,
        max: u32,
    },
    /// A BIOS image whose last 16 bytes hold no reset-vector jump.
    NoResetVector {
        what: &'static str,
    },
    /// A PAM register did not take the value that makes the BIOS area RAM.
    Pam(crate::chipset::pm::PamLocked),
    /// An OVMF image (from `source`) that cannot be placed.
    OvmfImage {
        source: &'static str,
        error: ovmf::OvmfError,
    },
    /// OVMF's hand-off failed.
    Ovmf(ovmf::OvmfError),
}

impl fmt::Display for HandoffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandoffError::FwCfg(e) => e.fmt(f),
            HandoffError::Linux(e) => write!(f, "{}: {e}", files::KERNEL),
            HandoffError::NoRoom { what, size, limit } => write!(
                f,
                "no free RAM for the {what} ({size:#x} bytes, below {limit:#x}) in the memory map"
            ),
            HandoffError::Unwritable { what, err } => write!(f, "cannot write the {what}: {err}"),
            HandoffError::NotRam { what, range } => write!(
                f,
                "the {what} at {range} did not read back as written: not RAM (ROM or flash?)"
            ),
            HandoffError::PlacementInvalidated { what, range } => write!(
                f,
                "the {what} was loaded at {range}, which the final memory map no longer has as RAM"
            ),
            HandoffError::MemoryMap(e) => e.fmt(f),
            HandoffError::BiosSize { what, size, max } => write!(
                f,
                "{}: {what} image of {size} bytes (must be 16 bytes to {max} bytes)",
                files::FIRMWARE
            ),
            HandoffError::NoResetVector { what } => write!(
                f,
                "{}: not a {what} image (no jump at its reset vector, 16 bytes before its end)",
                files::FIRMWARE
            ),
            HandoffError::Pam(e) => e.fmt(f),
            HandoffError::OvmfImage { source, error } => write!(f, "{source}: {error}"),
            HandoffError::Ovmf(e) => e.fmt(f),
        }
    }
}

impl From<Box<FwCfgError>> for Box<HandoffError> {
    fn from(e: Box<FwCfgError>) -> Self {
        Box::new(HandoffError::FwCfg(e))
    }
}

impl From<linux::LinuxError> for Box<HandoffError> {
    fn from(e: linux::LinuxError) -> Self {
        Box::new(HandoffError::Linux(e))
    }
}

impl From<Box<E820Error>> for Box<HandoffError> {
    fn from(e: Box<E820Error>) -> Self {
        Box::new(HandoffError::MemoryMap(e))
    }
}

/// The bytes of `range` to load `what` into.
fn window<'m>(
    memory: &'m mut impl crate::arch::PhysMemoryMut,
    what: &'static str,
    range: PhysRange,
) -> Result<&'m mut [u8], Box<HandoffError>> {
    memory.window(range).map_err(|err| HandoffError::Unwritable { what, err }.into())
}

/// COM1's line status register and its "transmitter empty" bit (holding register and shift
/// register both empty).
const COM1_LSR: u16 = 0x3FD;
const LSR_TRANSMITTER_EMPTY: u8 = 1 << 6;
/// Polls before giving up on a UART that never drains (at 115200 baud a 16-byte FIFO
/// drains in under 2 ms; each poll is a port read, a microsecond or more).
const DRAIN_POLLS: u32 = 1_000_000;

/// Waits until COM1 has sent every byte of the firmware's log. The next program resets
/// the UART (a BIOS) or reprograms it (Linux), and whatever is still in the transmit FIFO
/// then is lost: the hand-off's last log lines, the ones that matter most. Without a UART
/// the register floats to all ones, which reads as empty.
fn drain_console(ports: &mut impl crate::arch::PortIo) {
    for _ in 0..DRAIN_POLLS {
        if ports.read8(COM1_LSR) & LSR_TRANSMITTER_EMPTY != 0 {
            return;
        }
        core::hint::spin_loop();
    }
}

/// The heap's high-water mark, then [`drain_console`] on the machine's ports, just before a
/// jump.
fn before_jump(ports: &mut impl crate::arch::PortIo) {
    log::info!("heap: {}", crate::stats::HEAP);
    drain_console(ports);
}

/// A BIOS image from `opt/hvmloader/firmware`, told apart by size: SeaBIOS fits below
/// 1 MiB (at most 256 KiB), OVMF flash images are 1 MiB or more.
#[derive(Debug)]
pub enum BiosPayload {
    Seabios(seabios::SeabiosPayload),
    Ovmf(ovmf::OvmfPayload),
}

impl BiosPayload {
    /// Loads the firmware file, if there is one, unlocking the BIOS area for it.
    pub fn load<P: crate::arch::PortIo, A: crate::platform::fw_cfg::DmaAddressing>(
        fw_cfg: &mut crate::platform::fw_cfg::FwCfg<P, A>,
        cfg: &mut impl crate::pci::ConfigSpace,
        gate: crate::chipset::pm::BiosAreaGate,
        memory: &mut impl crate::arch::PhysMemoryMut,
    ) -> Result<Option<Self>, Box<HandoffError>> {
        let Some(file) = fw_cfg.find_file(files::FIRMWARE)? else { return Ok(None) };
        let seabios_max = seabios::BIOS_END - seabios::BIOS_AREA_START;
        Ok(Some(if u64::from(file.size) <= seabios_max {
            BiosPayload::Seabios(seabios::SeabiosPayload::load(fw_cfg, &file, cfg, gate, memory)?)
        } else {
            BiosPayload::Ovmf(ovmf::OvmfPayload::load(fw_cfg, &file, cfg, gate, memory)?)
        }))
    }

    /// Readies the BIOS to start (`ports`: the machine's, for the last writes before the
    /// jump) and says where to jump.
    pub fn boot(
        self,
        e820: &crate::e820::E820Map,
        tables: &seabios::BiosTables,
        memory: &mut impl crate::arch::PhysMemoryMut,
        ports: impl crate::arch::PortIo,
    ) -> Result<crate::arch::Jump, Box<HandoffError>> {
        match self {
            BiosPayload::Seabios(bios) => bios.boot(e820, tables, memory, ports),
            BiosPayload::Ovmf(bios) => bios.boot(e820, tables, memory, ports),
        }
    }
}
