//! Phase 1: find every function, number the buses, size BARs and bridge windows.
//!
//! Nothing a previous firmware left is trusted: every function found gets its command
//! register cleared (no decoding, no bus mastering, every other bit at its reset value)
//! before anything is sized, every bridge gets its bus numbers and windows closed, and buses
//! are numbered afresh, depth-first from bus 0. So the result depends only on the hardware,
//! not on what SeaBIOS (under QEMU) or anyone else set.
//!
//! Each configuration access may be a round trip to a device model (under Xen, one per
//! access to a present function), so nothing is read twice: a slot's vendor ID and header
//! type serve function 0, registers that hold more than one field are written whole (a
//! bridge's bus numbers, its window bases and limits), and what only has to be written is
//! not read first.
//!
//! Each bus is scanned in two passes: first every function on it is probed (which closes
//! the bus numbers of every bridge on it), then the bridges are descended into one after the
//! other. Closing all siblings first matters: a bridge still carrying a previous firmware's
//! bus range could otherwise claim configuration cycles meant for the bus just given to its
//! sibling. During the descent a bridge's subordinate bus is 0xFF, so that it forwards cycles
//! for every bus number handed out below it; once its subtree is done it becomes the last
//! bus number handed out, or more when the bridge reserves bus numbers for hot-plugged
//! bridges (see [`hotplug`](super::hotplug)).
//!
//! The walk ends on any input: bus numbers only grow and there are 256 of them, each bus is
//! scanned once, and the depth-first descent keeps an explicit stack rather than recursing
//! (deep bridge chains must not overflow the firmware stack).

use alloc::vec::Vec;

use super::bar::{Bar, size_bars};
use super::error::{ExpanderError, PciProblem};
use super::hotplug::{self, HotplugSlot, Reservation};
use super::types::{IntxPin, IoDecode, PrefDecode};
use super::{Bdf, ConfigSpace, reg};

/// Every function found and what was wrong, in discovery order: all functions of a bus come
/// before those of the buses below it, so a bridge always comes before its children.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topology {
    pub functions: Vec<Function>,
    /// Devices or registers that were skipped, each already logged.
    pub problems: Vec<PciProblem>,
    /// The highest bus number handed out (0 when there are no bridges).
    pub last_bus: u8,
    /// The highest bus number of bus 0's own hierarchy (the whole machine's but for the
    /// buses of expander root buses, [`BridgeInfo::expander`]).
    pub last_bus0_bus: u8,
}

/// One PCI function with a type 0 or type 1 header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    pub bdf: Bdf,
    pub vendor_id: u16,
    pub device_id: u16,
    /// Base class, subclass and programming interface (config offsets 0x0B, 0x0A, 0x09).
    pub class_code: u32,
    /// The usable BARs, ROM last; BARs that read 0 or were unusable are not in it.
    pub bars: Vec<Bar>,
    pub interrupt_pin: Option<IntxPin>,
    /// Index (in [`Topology::functions`]) of the bridge whose secondary bus this function is
    /// on; `None` on bus 0.
    pub upstream: Option<usize>,
    /// Set for a type 1 header (PCI-PCI bridge, PCIe root or downstream port, PCIe-to-PCI
    /// bridge).
    pub bridge: Option<BridgeInfo>,
}

/// What a type 1 header forwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BridgeInfo {
    pub secondary_bus: u8,
    /// The highest bus number behind the bridge; equal to `secondary_bus` when no bridge is
    /// below it. A bridge that got no bus number has secondary and subordinate 0.
    pub subordinate_bus: u8,
    pub io: IoDecode,
    pub prefetchable: PrefDecode,
    /// Room to keep free behind the bridge for hot-plugged devices (none when the bridge
    /// is not hot-plug capable and QEMU asked for nothing).
    pub reservation: Reservation,
    /// Set for a QEMU PCI expander bridge (`pxb`, `pxb-pcie`): a host bridge that shows up
    /// as a type 0 function on bus 0 and opens a further root bus at a number fixed by the
    /// VM configuration. Nothing decodes its windows (every root bus shares the host's
    /// address spaces), so they are bookkeeping for the OS's root bridge description: they
    /// are planned as a bridge's are, so that the root bus's resources form disjoint blocks,
    /// and never written to the function.
    pub expander: bool,
}

/// QEMU's PCI expander bridges (Red Hat vendor ID): `pxb` and `pxb-pcie`.
const EXPANDER_IDS: [(u16, u16); 2] = [(0x1B36, 0x0009), (0x1B36, 0x000B)];
/// Class code (base class, subclass) of a host bridge.
const CLASS_HOST_BRIDGE: u32 = 0x06_00;

const HEADER_LAYOUT_MASK: u8 = 0x7F;
const HEADER_MULTI_FUNCTION: u8 = 0x80;
const HEADER_ENDPOINT: u8 = 0;
const HEADER_BRIDGE: u8 = 1;
const HEADER_CARDBUS: u8 = 2;
/// Low nibble of the I/O base and prefetchable base registers: the addressing capability.
const WINDOW_DECODE_MASK: u8 = 0x0F;
const WINDOW_DECODE_NARROW: u8 = 0;
const WINDOW_DECODE_WIDE: u8 = 1;

/// Walks every bus reachable from bus 0, and the `extra_roots` further root buses QEMU's
/// expander bridges open (fw_cfg `etc/extra-pci-roots`; 0 elsewhere). Writes bus numbers
/// into bridges and leaves every function found with decoding and bus mastering off, every
/// BAR at 0 and every bridge window closed, ready for [`plan`](super::plan) and
/// [`program`](super::program).
///
/// An expander's root bus number is fixed by the VM configuration and not visible in any
/// register, so, as other firmware does, the root buses are found by looking for functions
/// on the bus numbers above 0 once bus 0's bridges are closed (nothing else answers there
/// then), lowest first, and each is scanned (closing its own bridges) before looking
/// further. Bus 0's bridges are then numbered below the first root bus, and each root bus's
/// bridges between it and the next. The expanders on bus 0 are matched with the root buses
/// in order: slot order and bus number order. Errors: a count that does not match; an
/// expander whose root bus has no device is a [`PciProblem::ExpanderWithoutBus`].
pub fn enumerate(cfg: &mut impl ConfigSpace, extra_roots: u8) -> Result<Topology, ExpanderError> {
    let mut topology = Topology::default();
    let root_bridges = scan_bus(cfg, &mut topology, 0, None);
    let expanders: Vec<usize> = topology
        .functions
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            EXPANDER_IDS.contains(&(f.vendor_id, f.device_id))
                && f.class_code >> 8 == CLASS_HOST_BRIDGE
                && f.bridge.is_none()
        })
        .map(|(index, _)| index)
        .collect();
    if usize::from(extra_roots) != expanders.len() {
        return Err(ExpanderError::Count { roots: extra_roots, expanders: expanders.len() });
    }
    let mut roots = Vec::new();
    let mut bus: u16 = 1;
    while roots.len() < expanders.len() && bus <= 0xFF {
        let number = bus as u8;
        bus += 1;
        if !(0..32).any(|device| cfg.ids(Bdf::new(number, device, 0)).is_some()) {
            continue;
        }
        let expander = expanders[roots.len()];
        topology.functions[expander].bridge = Some(BridgeInfo {
            secondary_bus: number,
            subordinate_bus: number,
            io: IoDecode::Bits16,
            prefetchable: PrefDecode::Bits64,
            reservation: Reservation::default(),
            expander: true,
        });
        log::info!(
            "{}: expander bridge to root bus {number:02x}",
            topology.functions[expander].bdf
        );
        let bridges = scan_bus(cfg, &mut topology, number, Some(expander));
        roots.push((expander, number, bridges));
    }
    // An expander with nothing behind it has a root bus no access can find (QEMU allows
    // it; SeaBIOS scans on past it too). It gets no root bridge; as the pairing is by order,
    // it is taken to be the last.
    for &expander in &expanders[roots.len()..] {
        let expander = topology.functions[expander].bdf;
        report(&mut topology, PciProblem::ExpanderWithoutBus { expander, found: roots.len() });
    }
    let first_root = roots.first().map_or(0x100, |&(_, number, _)| u16::from(number));
    let last = number_hierarchy(cfg, &mut topology, None, root_bridges, 1, first_root - 1);
    topology.last_bus0_bus = last;
    topology.last_bus = last;
    for index in 0..roots.len() {
        let (expander, number, ref bridges) = roots[index];
        let limit = roots.get(index + 1).map_or(0xFF, |&(_, next, _)| u16::from(next) - 1);
        let bridges = bridges.clone();
        let first = u16::from(number) + 1;
        let last =
            number_hierarchy(cfg, &mut topology, Some(expander), bridges, first, limit).max(number);
        if let Some(info) = &mut topology.functions[expander].bridge {
            info.subordinate_bus = last;
        }
        topology.last_bus = last;
    }
    Ok(topology)
}

/// Numbers the bridges below one root bus depth-first, handing out bus numbers from
/// `first` up to `limit`; `root_bridges` are the bridges on the root bus itself (already
/// scanned, for the root bus of `expander`, or bus 0 for `None`). Returns the highest bus
/// number handed out (`first - 1` when none was).
fn number_hierarchy(
    cfg: &mut impl ConfigSpace,
    topology: &mut Topology,
    expander: Option<usize>,
    root_bridges: Vec<usize>,
    first: u16,
    limit: u16,
) -> u8 {
    // The next bus number to hand out; above `limit` means none is left.
    let mut next_bus: u16 = first;
    // One entry per bus being scanned: the bridge leading to it (the root's expander, or
    // `None` for bus 0) and the bridges found on it still to descend into.
    let mut stack = Vec::from([(expander, true, root_bridges.into_iter())]);
    while let Some((owner, is_root, pending)) = stack.last_mut() {
        let (owner, is_root) = (*owner, *is_root);
        if let Some(bridge) = pending.next() {
            if let Some(secondary) = assign_bus_numbers(cfg, topology, bridge, next_bus, limit) {
                next_bus += 1;
                let bridges = scan_bus(cfg, topology, secondary, Some(bridge));
                stack.push((Some(bridge), false, bridges.into_iter()));
            }
            continue;
        }
        stack.pop();
        if let (Some(bridge), false) = (owner, is_root) {
            // Every bus number handed out since this bridge's own is behind it, and the
            // numbers it reserves for hot-plugged bridges.
            let last = reserve_bus_numbers(&topology.functions[bridge], next_bus - 1, limit);
            next_bus = u16::from(last) + 1;
            let bdf = topology.functions[bridge].bdf;
            cfg.write8(bdf, reg::SUBORDINATE_BUS, last);
            if let Some(info) = &mut topology.functions[bridge].bridge {
                info.subordinate_bus = last;
            }
        }
    }
    (next_bus - 1) as u8
}

/// The subordinate bus of `bridge` whose subtree used numbers up to `last_used`: at least
/// its secondary bus plus its bus reservation, as far as bus numbers go. Bus numbers are
/// handed out depth-first, so a reservation is granted before the bridges that come later
/// are seen; one that leaves them nothing shows up as [`PciProblem::OutOfBusNumbers`] on
/// them. QEMU only asks for this when told to (`bus-reserve`), so that is left to the VM
/// configuration rather than guessed here.
fn reserve_bus_numbers(bridge: &Function, last_used: u16, limit: u16) -> u8 {
    let Some(info) = &bridge.bridge else {
        return last_used as u8;
    };
    let wanted = u16::from(info.secondary_bus) + u16::from(info.reservation.buses);
    if wanted > limit {
        log::warn!(
            "{}: {} bus numbers reserved for hot-plug, only up to bus {limit:02x} granted",
            bridge.bdf,
            info.reservation.buses
        );
    }
    wanted.min(limit).max(last_used) as u8
}

/// Gives `bridge` secondary bus `next_bus` and subordinate `limit` (the last number this
/// root bus may hand out) for the descent, and returns the secondary bus; or records why it
/// cannot be used and returns `None`.
fn assign_bus_numbers(
    cfg: &mut impl ConfigSpace,
    topology: &mut Topology,
    bridge: usize,
    next_bus: u16,
    limit: u16,
) -> Option<u8> {
    let bdf = topology.functions[bridge].bdf;
    if next_bus > limit {
        report(topology, PciProblem::OutOfBusNumbers { bridge: bdf });
        return None;
    }
    let secondary = next_bus as u8;
    let wrote = [bdf.bus(), secondary, limit as u8];
    write_bus_numbers(cfg, bdf, wrote);
    let [primary, secondary_read, subordinate, _] = cfg.read32(bdf, reg::PRIMARY_BUS).to_le_bytes();
    let read = [primary, secondary_read, subordinate];
    if read != wrote {
        write_bus_numbers(cfg, bdf, [0; 3]);
        report(topology, PciProblem::BusNumbersNotKept { bridge: bdf, wrote, read });
        return None;
    }
    if let Some(info) = &mut topology.functions[bridge].bridge {
        info.secondary_bus = secondary;
        info.subordinate_bus = limit as u8;
    }
    log::debug!("{bdf}: bridge to bus {secondary:02x}");
    Some(secondary)
}

/// Writes primary, secondary and subordinate bus in one access, with the secondary latency
/// timer (the register's fourth byte) at 0, its reset value (read-only on PCI Express).
fn write_bus_numbers(
    cfg: &mut impl ConfigSpace,
    bdf: Bdf,
    [primary, secondary, subordinate]: [u8; 3],
) {
    cfg.write32(bdf, reg::PRIMARY_BUS, u32::from_le_bytes([primary, secondary, subordinate, 0]));
}

fn report(topology: &mut Topology, problem: PciProblem) {
    log::warn!("{problem}");
    topology.problems.push(problem);
}

/// Probes every function on `bus` and returns the indices of the bridges among them.
fn scan_bus(
    cfg: &mut impl ConfigSpace,
    topology: &mut Topology,
    bus: u8,
    upstream: Option<usize>,
) -> Vec<usize> {
    let mut bridges = Vec::new();
    for device in 0..32 {
        let function0 = Bdf::new(bus, device, 0);
        let Some(ids0) = cfg.ids(function0) else {
            continue;
        };
        let header0 = cfg.read8(function0, reg::HEADER_TYPE);
        let functions = if header0 & HEADER_MULTI_FUNCTION != 0 { 8 } else { 1 };
        for function in 0..functions {
            let bdf = Bdf::new(bus, device, function);
            let (ids, header) = if function == 0 {
                (ids0, header0)
            } else {
                let Some(ids) = cfg.ids(bdf) else {
                    continue;
                };
                (ids, cfg.read8(bdf, reg::HEADER_TYPE))
            };
            if let Some(found) = probe_function(cfg, topology, bdf, ids, header, upstream) {
                log::debug!(
                    "{bdf}: {:04x}:{:04x} class {:06x}{}",
                    found.vendor_id,
                    found.device_id,
                    found.class_code,
                    if found.bridge.is_some() { " bridge" } else { "" }
                );
                if found.bridge.is_some() {
                    bridges.push(topology.functions.len());
                }
                topology.functions.push(found);
            }
        }
    }
    bridges
}

/// Quiesces the function at `bdf` (vendor and device `ids`, header type register
/// `header`) and reads what it needs; `None` (after logging) for a header type this
/// firmware does not handle.
fn probe_function(
    cfg: &mut impl ConfigSpace,
    topology: &mut Topology,
    bdf: Bdf,
    (vendor_id, device_id): (u16, u16),
    header: u8,
    upstream: Option<usize>,
) -> Option<Function> {
    // The command register is common to all header types: whatever happens next, the
    // function must not decode addresses a previous firmware gave it. Every bit goes back
    // to its reset value; `program` sets the enables it needs.
    cfg.write16(bdf, reg::COMMAND, 0);

    let (bar_count, rom_offset) = match header & HEADER_LAYOUT_MASK {
        HEADER_ENDPOINT => (6, reg::ROM_TYPE0),
        HEADER_BRIDGE => (2, reg::ROM_TYPE1),
        HEADER_CARDBUS => {
            report(topology, PciProblem::CardBus { bdf });
            return None;
        }
        header_type => {
            report(topology, PciProblem::UnknownHeaderType { bdf, header_type });
            return None;
        }
    };
    let bridge =
        (rom_offset == reg::ROM_TYPE1).then(|| probe_bridge(cfg, topology, bdf, vendor_id));
    let bars = size_bars(cfg, bdf, bar_count, rom_offset, &mut topology.problems);
    let pin = cfg.read8(bdf, reg::INTERRUPT_PIN);
    let interrupt_pin = match pin {
        0 => None,
        pin => IntxPin::from_register(pin).or_else(|| {
            report(topology, PciProblem::InvalidInterruptPin { bdf, pin });
            None
        }),
    };
    Some(Function {
        bdf,
        vendor_id,
        device_id,
        class_code: cfg.read32(bdf, reg::REVISION) >> 8,
        bars,
        interrupt_pin,
        upstream,
        bridge,
    })
}

/// Closes the bridge (bus numbers 0, every window base above its limit) and finds out which
/// windows it implements: an optional window's base register reads 0 whatever is written.
/// Each window's base and limit are written in one access.
fn probe_bridge(
    cfg: &mut impl ConfigSpace,
    topology: &mut Topology,
    bdf: Bdf,
    vendor_id: u16,
) -> BridgeInfo {
    write_bus_numbers(cfg, bdf, [0; 3]);

    cfg.write16(bdf, reg::IO_BASE, u16::from_le_bytes([0xF0, 0x00]));
    let io_base = cfg.read8(bdf, reg::IO_BASE);
    let io = match (io_base & !WINDOW_DECODE_MASK, io_base & WINDOW_DECODE_MASK) {
        (0, _) => IoDecode::Absent,
        (_, WINDOW_DECODE_NARROW) => IoDecode::Bits16,
        (_, WINDOW_DECODE_WIDE) => IoDecode::Bits32,
        _ => {
            let problem = PciProblem::WindowDecodeUnknown {
                bridge: bdf,
                register: reg::IO_BASE,
                value: io_base,
            };
            report(topology, problem);
            IoDecode::Absent
        }
    };
    if io == IoDecode::Bits32 {
        cfg.write32(bdf, reg::IO_BASE_UPPER, 0);
    }

    cfg.write32(bdf, reg::MEMORY_BASE, 0xFFF0);

    cfg.write32(bdf, reg::PREF_BASE, 0xFFF0);
    let pref_base = cfg.read16(bdf, reg::PREF_BASE);
    let decode = (pref_base as u8) & WINDOW_DECODE_MASK;
    let prefetchable = match (pref_base & 0xFFF0, decode) {
        (0, _) => PrefDecode::Absent,
        (_, WINDOW_DECODE_NARROW) => PrefDecode::Bits32,
        (_, WINDOW_DECODE_WIDE) => PrefDecode::Bits64,
        _ => {
            let problem = PciProblem::WindowDecodeUnknown {
                bridge: bdf,
                register: reg::PREF_BASE,
                value: pref_base as u8,
            };
            report(topology, problem);
            PrefDecode::Absent
        }
    };
    if prefetchable == PrefDecode::Bits64 {
        cfg.write32(bdf, reg::PREF_BASE_UPPER, 0);
        cfg.write32(bdf, reg::PREF_LIMIT_UPPER, 0);
    }
    let reservation = hotplug::probe(cfg, bdf, vendor_id, io, prefetchable);
    if reservation.any() {
        let why = match (reservation.hotplug, reservation.qemu_hint) {
            (Some(HotplugSlot::Pcie), false) => "hot-plug slot",
            (Some(HotplugSlot::Shpc), false) => "SHPC",
            (Some(_), true) => "hot-plug, QEMU resource reserve",
            (None, _) => "QEMU resource reserve",
        };
        log::debug!("{bdf}: {why}: reserving {reservation}");
    }
    BridgeInfo {
        secondary_bus: 0,
        subordinate_bus: 0,
        io,
        prefetchable,
        reservation,
        expander: false,
    }
}
