//! What can be wrong: with a device ([`PciProblem`], logged and recorded, the walk goes on)
//! or with the caller's address ranges ([`PlanError`], nothing is placed).

use core::fmt;

use super::Bdf;
use super::types::BarRegister;

/// A device the PCI core could not handle completely. Each one is logged as a warning when
/// found and kept in [`Topology::problems`](super::Topology::problems); the function (or the
/// one register) concerned is left out, everything else goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PciProblem {
    /// Header type 2: CardBus bridges are not supported; the bridge and whatever is behind
    /// it are skipped.
    CardBus { bdf: Bdf },
    /// A header layout other than 0, 1 or 2 (all-ones reads give 0x7f): the function is
    /// skipped.
    UnknownHeaderType { bdf: Bdf, header_type: u8 },
    /// No bus number is left for the bridge: all 256 are in use, or its root bus's range
    /// ends at the next expander's root bus; the bridge is left closed and nothing behind
    /// it is enumerated.
    OutOfBusNumbers { bridge: Bdf },
    /// The bridge did not keep the bus numbers written to it (broken or looping bridge);
    /// it is left closed and nothing behind it is enumerated.
    BusNumbersNotKept { bridge: Bdf, wrote: [u8; 3], read: [u8; 3] },
    /// Writing all ones gave an address mask with no address bit set.
    BarSizeZero { bdf: Bdf, bar: BarRegister, value: u32 },
    /// The address bits of the size mask are not contiguous ones down from the top.
    BarMaskMalformed { bdf: Bdf, bar: BarRegister, mask: u64 },
    /// Memory type 01 (below 1 MiB, obsolete) or 11 (reserved).
    BarTypeUnsupported { bdf: Bdf, bar: BarRegister, value: u32 },
    /// A 64-bit memory BAR in the last BAR slot has no register for its upper half.
    Bar64InLastSlot { bdf: Bdf, bar: BarRegister },
    /// The interrupt pin register holds something other than 0..=4; treated as no pin.
    InvalidInterruptPin { bdf: Bdf, pin: u8 },
    /// A bridge's I/O or prefetchable window reports an addressing capability other than
    /// 16/32 (I/O) or 32/64 bits (prefetchable); that window is treated as absent.
    WindowDecodeUnknown { bridge: Bdf, register: u16, value: u8 },
    /// Only `found` root buses answered, fewer than there are expander bridges: `expander`
    /// has nothing behind it (QEMU allows that), its root bus cannot be found and it gets
    /// no root bridge.
    ExpanderWithoutBus { expander: Bdf, found: usize },
    /// An SR-IOV VF BAR that is not a memory BAR (VFs have none other); not placed.
    VfBarNotMemory { bdf: Bdf, bar: BarRegister },
    /// An SR-IOV VF BAR whose room for every VF does not fit its address width.
    VfBarsTooLarge { bdf: Bdf, bar: BarRegister, size: u64, total: u16 },
}

impl fmt::Display for PciProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use PciProblem::*;
        match *self {
            ExpanderWithoutBus { expander, found } => write!(
                f,
                "{expander}: expander bridge with no device on its root bus ({found} root \
                 bus(es) found for the others): it gets no root bridge"
            ),
            CardBus { bdf } => {
                write!(f, "{bdf}: CardBus bridge (header type 2) not supported, skipped")
            }
            UnknownHeaderType { bdf, header_type } => {
                write!(f, "{bdf}: unknown header type {header_type:#04x}, function skipped")
            }
            OutOfBusNumbers { bridge } => write!(
                f,
                "{bridge}: no bus number left (all 256 in use, or the next expander root bus's \
                 number reached), nothing behind this bridge is enumerated"
            ),
            BusNumbersNotKept { bridge, wrote, read } => write!(
                f,
                "{bridge}: bridge bus numbers (primary, secondary, subordinate) written {wrote:02x?} \
                 read back {read:02x?}, nothing behind this bridge is enumerated"
            ),
            BarSizeZero { bdf, bar, value } => write!(
                f,
                "{bdf}: {bar} reads {value:#010x} after writing all ones: no address bits, size 0, ignored"
            ),
            BarMaskMalformed { bdf, bar, mask } => {
                write!(f, "{bdf}: {bar} size mask {mask:#x} is not contiguous, ignored")
            }
            BarTypeUnsupported { bdf, bar, value } => write!(
                f,
                "{bdf}: {bar} value {value:#010x} has memory type {} (only 32 and 64-bit supported), ignored",
                (value >> 1) & 3
            ),
            Bar64InLastSlot { bdf, bar } => {
                write!(f, "{bdf}: {bar} is a 64-bit BAR in the last slot (no upper half), ignored")
            }
            InvalidInterruptPin { bdf, pin } => write!(
                f,
                "{bdf}: interrupt pin register {pin:#04x} is not 0..=4, treated as no interrupt"
            ),
            WindowDecodeUnknown { bridge, register, value } => write!(
                f,
                "{bridge}: window register {register:#04x} reads {value:#04x}: unknown addressing \
                 capability, window not used"
            ),
            VfBarNotMemory { bdf, bar } => {
                write!(f, "{bdf}: SR-IOV {bar} is not a memory BAR (VFs have only those), ignored")
            }
            VfBarsTooLarge { bdf, bar, size, total } => write!(
                f,
                "{bdf}: SR-IOV {bar} of {size:#x} bytes for {total} VFs exceeds its address \
                 width, ignored"
            ),
        }
    }
}

/// The caller's address ranges are unusable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// A range is empty, reversed, or outside the space it belongs to (I/O ports 0x1000 up to
    /// 0x10000, the low hole below 4 GiB, the 64-bit window above it).
    InvalidRange { what: &'static str, start: u64, end: u64 },
    /// The plan passed to [`program`](super::program) was not made for this topology.
    PlanMismatch { functions: usize, planned: usize },
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::InvalidRange { what, start, end } => write!(
                f,
                "PCI resource placement: {what} [{start:#x}, {end:#x}) is empty or outside its \
                 address space (I/O 0x1000..0x10000, low memory below 4 GiB, 64-bit window above)"
            ),
            PlanError::PlanMismatch { functions, planned } => write!(
                f,
                "PCI programming: plan for {planned} functions given for a topology of {functions} \
                 (or BAR counts differ)"
            ),
        }
    }
}

/// QEMU's expander bridges and its count of extra root buses disagree: the machine cannot be
/// described, and guessing would misnumber buses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpanderError {
    /// fw_cfg `etc/extra-pci-roots` names `roots` root buses, bus 0 holds `expanders`
    /// expander bridges.
    Count { roots: u8, expanders: usize },
}

impl fmt::Display for ExpanderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExpanderError::Count { roots, expanders } => write!(
                f,
                "PCI: fw_cfg etc/extra-pci-roots says {roots} extra root bus(es), bus 0 has \
                 {expanders} expander bridge(s)"
            ),
        }
    }
}
