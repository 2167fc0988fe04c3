//! Room for hot-plug: which bridges can receive devices after boot, and how much address
//! space (and how many bus numbers) to keep free behind them.
//!
//! A bridge whose windows only cover the devices present at boot leaves nothing for a device
//! hot-plugged later, and a closed window makes the OS size and assign one itself. Linux
//! (drivers/pci/setup-bus.c, `__pci_bus_size_bridges`) gives every window of a bridge marked
//! `is_hotplug_bridge` that it has to assign at least `pci=hpiosize` (256 bytes, rounded up
//! to the 4 KiB I/O window granule), `hpmmiosize` (2 MiB) and `hpmmioprefsize` (2 MiB), and
//! logs `add_size` for each; windows it found programmed and could claim are left alone
//! (`pbus_size_io`/`pbus_size_mem` return early for an assigned window). So a PC BIOS
//! opens every window of such a bridge with at least these sizes, and so does this firmware.
//!
//! Hot-plug capable means what Linux and SeaBIOS look at:
//! * a PCIe Root Port, Switch Downstream Port or PCI/PCI-X-to-PCIe bridge (Linux
//!   `pcie_downstream_port()`) whose PCI Express Capabilities register has Slot Implemented
//!   (bit 8) and whose Slot Capabilities register has Hot-Plug Capable (bit 6) (PCIe Base
//!   Specification 4.0, 7.5.3.2 and 7.5.3.9; Linux `set_pcie_hotplug_bridge()`);
//! * any bridge with a Standard Hot-Plug Controller capability (ID 0x0C, SHPC 1.0, 4.1):
//!   QEMU's `pci-bridge` and `pcie-pci-bridge`. Linux 6.1 does not mark those
//!   `is_hotplug_bridge` at boot (only acpiphp does, for bridges it hot-adds), so it asks for
//!   nothing there; SeaBIOS reserves behind them all the same, and so does this firmware, so
//!   that `shpchp` has room for what is plugged in.
//!
//! QEMU describes per-port wishes with a Red Hat vendor-specific capability (QEMU
//! docs/pcie_pci_bridge.txt, hw/pci/pci_bridge.c `pci_bridge_qemu_reserve_cap_init`),
//! present only when one of the `bus-reserve`, `io-reserve`, `mem-reserve`,
//! `pref32-reserve`, `pref64-reserve` properties is set. Each field of all ones means "no
//! wish"; any other value replaces the default for that window, 0 included (no reservation).
//! The capability applies whether or not the slot is hot-plug capable: it is an explicit
//! request in the VM configuration, as SeaBIOS treats it.

use core::fmt;

use super::types::{IoDecode, PrefDecode};
use super::{Bdf, ConfigSpace, caps};

/// Linux `DEFAULT_HOTPLUG_IO_SIZE` (256 bytes) rounded up to the I/O window granule: Linux
/// itself asks for `add_size 1000`.
pub const DEFAULT_IO: u64 = 0x1000;
/// Linux `DEFAULT_HOTPLUG_MMIO_SIZE`.
pub const DEFAULT_MEM: u64 = 2 << 20;
/// Linux `DEFAULT_HOTPLUG_MMIO_PREF_SIZE`.
pub const DEFAULT_PREFETCHABLE: u64 = 2 << 20;

/// PCI Express Capabilities register (offset 2 in the capability): Device/Port Type and
/// Slot Implemented.
const PCIE_FLAGS: u16 = 0x02;
const PCIE_FLAGS_TYPE_SHIFT: u16 = 4;
const PCIE_FLAGS_SLOT: u16 = 1 << 8;
const PCIE_TYPE_ROOT_PORT: u16 = 0x4;
const PCIE_TYPE_DOWNSTREAM: u16 = 0x6;
const PCIE_TYPE_PCI_TO_PCIE_BRIDGE: u16 = 0x8;
/// Slot Capabilities register and its Hot-Plug Capable bit.
const PCIE_SLOT_CAPS: u16 = 0x14;
const SLOT_CAPS_HOTPLUG_CAPABLE: u32 = 1 << 6;

/// QEMU's vendor ID (Red Hat, Inc.): the vendor-specific capability means what QEMU says
/// only on its own devices.
const VENDOR_REDHAT: u16 = 0x1B36;
/// Offsets in QEMU's capability, after the standard ID, next and length bytes.
const QEMU_CAP_LEN: u16 = 2;
const QEMU_CAP_TYPE: u16 = 3;
const QEMU_CAP_TYPE_RESOURCE_RESERVE: u8 = 1;
const QEMU_CAP_BUS: u16 = 4;
const QEMU_CAP_IO: u16 = 8;
const QEMU_CAP_MEM: u16 = 16;
const QEMU_CAP_PREF32: u16 = 20;
const QEMU_CAP_PREF64: u16 = 24;
const QEMU_CAP_SIZE: u8 = 32;

/// How a bridge receives hot-plugged devices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HotplugSlot {
    /// A PCIe port with a hot-plug capable slot (pciehp).
    Pcie,
    /// A standard hot-plug controller (shpchp).
    Shpc,
}

/// What to keep free behind a bridge. Sizes are minimum window sizes, not additions: a
/// window whose devices already fill that much gets nothing more (as Linux computes it,
/// `max(size, add_size)` in `calculate_memsize`). The planner rounds them up to the window
/// granules and may drop them when room runs out; see [`plan`](super::plan).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reservation {
    pub hotplug: Option<HotplugSlot>,
    /// QEMU's resource-reserve capability was found (and overrides the defaults it sets).
    pub qemu_hint: bool,
    /// Minimum I/O window size; 0 when none (or the bridge has no I/O window).
    pub io: u64,
    /// Minimum memory window size.
    pub mem: u64,
    /// Minimum prefetchable window size; 0 when none (or there is no prefetchable window).
    pub prefetchable: u64,
    /// The prefetchable reservation is for 64-bit BARs, so it may go above 4 GiB with a
    /// 64-bit window: false for QEMU's `pref32-reserve`.
    pub prefetchable_64bit: bool,
    /// Bus numbers to keep behind the bridge: its subordinate bus is at least its secondary
    /// bus plus this (QEMU's `bus-reserve`, as SeaBIOS applies it). No default: Linux only
    /// renumbers buses it has to, and keeps ours.
    pub buses: u8,
}

impl Reservation {
    /// Whether anything is reserved.
    pub fn any(&self) -> bool {
        self.io != 0 || self.mem != 0 || self.prefetchable != 0 || self.buses != 0
    }
}

impl fmt::Display for Reservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "io {:#x} mem {:#x} prefetchable {:#x}{} buses {}",
            self.io,
            self.mem,
            self.prefetchable,
            if self.prefetchable_64bit { " (64-bit)" } else { "" },
            self.buses
        )
    }
}

/// Finds out whether the bridge at `bdf` is hot-plug capable and what it asks for; windows
/// it does not implement get no reservation.
pub(super) fn probe(
    cfg: &mut impl ConfigSpace,
    bdf: Bdf,
    vendor_id: u16,
    io: IoDecode,
    prefetchable: PrefDecode,
) -> Reservation {
    let capabilities = caps::capabilities(cfg, bdf);
    let has = |id| capabilities.iter().find(|&&(cap, _)| cap == id).map(|&(_, offset)| offset);
    let pcie_slot = has(caps::CAP_ID_PCIE).is_some_and(|pcie| {
        let flags = cfg.read16(bdf, pcie + PCIE_FLAGS);
        let port_type = (flags >> PCIE_FLAGS_TYPE_SHIFT) & 0xF;
        // Slot Capabilities is only defined for downstream-facing ports with a slot; Linux
        // reads it as 0 otherwise (`pcie_cap_has_sltctl()`).
        matches!(
            port_type,
            PCIE_TYPE_ROOT_PORT | PCIE_TYPE_DOWNSTREAM | PCIE_TYPE_PCI_TO_PCIE_BRIDGE
        ) && flags & PCIE_FLAGS_SLOT != 0
            && cfg.read32(bdf, pcie + PCIE_SLOT_CAPS) & SLOT_CAPS_HOTPLUG_CAPABLE != 0
    });
    let hotplug = if pcie_slot {
        Some(HotplugSlot::Pcie)
    } else if has(caps::CAP_ID_SHPC).is_some() {
        Some(HotplugSlot::Shpc)
    } else {
        None
    };

    let mut r = Reservation { hotplug, ..Reservation::default() };
    if hotplug.is_some() {
        r.io = DEFAULT_IO;
        r.mem = DEFAULT_MEM;
        r.prefetchable = DEFAULT_PREFETCHABLE;
        r.prefetchable_64bit = true;
    }
    if vendor_id == VENDOR_REDHAT {
        let hint = capabilities.iter().find(|&&(id, offset)| {
            id == caps::CAP_ID_VENDOR
                && cfg.read8(bdf, offset + QEMU_CAP_TYPE) == QEMU_CAP_TYPE_RESOURCE_RESERVE
                && cfg.read8(bdf, offset + QEMU_CAP_LEN) >= QEMU_CAP_SIZE
        });
        if let Some(&(_, cap)) = hint {
            apply_qemu_hint(cfg, bdf, cap, &mut r);
        }
    }
    if io == IoDecode::Absent {
        r.io = 0;
    }
    if prefetchable == PrefDecode::Absent {
        // Prefetchable BARs behind it go to the memory window, whose reservation stays.
        r.prefetchable = 0;
    }
    if r.prefetchable == 0 {
        r.prefetchable_64bit = false;
    }
    r
}

fn apply_qemu_hint<C: ConfigSpace>(cfg: &mut C, bdf: Bdf, cap: u16, r: &mut Reservation) {
    r.qemu_hint = true;
    // Dword reads only: the capability is dword aligned, its 64-bit fields are not
    // necessarily accessible as one.
    let read32 = |cfg: &mut C, offset: u16| cfg.read32(bdf, cap + offset);
    let read64 = |cfg: &mut C, offset: u16| {
        u64::from(read32(cfg, offset)) | u64::from(read32(cfg, offset + 4)) << 32
    };
    let bus = read32(cfg, QEMU_CAP_BUS);
    let io = read64(cfg, QEMU_CAP_IO);
    let mem = read32(cfg, QEMU_CAP_MEM);
    let pref32 = read32(cfg, QEMU_CAP_PREF32);
    let pref64 = read64(cfg, QEMU_CAP_PREF64);
    if bus != u32::MAX {
        r.buses = u8::try_from(bus).unwrap_or(u8::MAX);
    }
    if io != u64::MAX {
        r.io = io;
    }
    if mem != u32::MAX {
        r.mem = u64::from(mem);
    }
    // QEMU refuses both at once; should both be set, the 32-bit one is the stricter wish
    // (SeaBIOS reads it first too).
    if pref32 != u32::MAX {
        r.prefetchable = u64::from(pref32);
        r.prefetchable_64bit = false;
    } else if pref64 != u64::MAX {
        r.prefetchable = pref64;
        r.prefetchable_64bit = true;
    }
}
