//! Phase 2: decide an address for every BAR and bridge window. Pure: reads only the
//! [`Topology`], writes nothing to hardware, so a caller may plan with several candidate
//! holes and program one.
//!
//! # Policy
//!
//! * Each bridge has three windows (I/O with 4 KiB granularity, memory and prefetchable
//!   memory with 1 MiB granularity, PCI-PCI Bridge Architecture 1.2, 3.2.5). A window holds
//!   its bus's BARs of that kind and its child bridges' windows, packed from its base in
//!   decreasing order of alignment, so there is no padding between BARs; its alignment is the
//!   largest of its granule and its contents'. Windows are laid out bottom-up.
//! * Bus 0 has no windows: its BARs and its bridges' windows are allocated straight from the
//!   caller's ranges, largest alignment first: I/O ports and the low hole from the top down
//!   (so the used part of the hole is one block at its top, see [`Plan::low_mem_used`]), the
//!   64-bit window from the bottom up (low addresses need fewer physical address bits).
//! * Above 4 GiB go: 64-bit BARs of 1 GiB or more, and, when the low hole is too small, every
//!   64-bit BAR (hvmloader's policy: one predictable step rather than a search). Behind
//!   bridges only prefetchable 64-bit BARs can go up, through 64-bit prefetchable windows of
//!   every bridge on the path; a prefetchable window goes up when anything in it must. A
//!   32-bit prefetchable BAR (or a 32-bit child prefetchable window) under a window that went
//!   up is put in the non-prefetchable memory window instead, which is always allowed. Nothing
//!   is allocated above 4 GiB unless something has to be.
//! * Hot-plug capable bridges keep room for devices plugged in later
//!   ([`Reservation`](super::Reservation)): each of their windows is at least the reserved
//!   size, rounded up to the window granule, and aligned to the largest power of two not
//!   above that size, so that a hot-plugged device with a BAR of that size fits (Linux only
//!   needs the 1 MiB window alignment; OVMF aligns its padding the same way). A window the
//!   present devices already fill is left as they need it. A 64-bit prefetchable
//!   reservation counts as a 64-bit prefetchable BAR of its size for going above 4 GiB.
//! * When something does not fit, in this order: 64-bit BARs move above 4 GiB (nothing is
//!   lost); then reservations are given up one window at a time, the one keeping the most
//!   room free in the address range that ran out first (ties: the bridge found last), and
//!   the layout is redone; only when no reservation takes room in that range any more, a
//!   BAR is left out, the largest of the first item that failed, and the layout is redone,
//!   until everything left fits. So a device present at boot never loses its address to a
//!   reservation. Each left-out BAR is reported in [`Plan::unplaced`], each bridge that lost
//!   a reservation in [`Plan::dropped_reservations`]. I/O BARs behind a bridge without an
//!   I/O window (on any level) cannot be reached and are reported too.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use super::Bdf;
use super::bar::BarKind;
use super::enumerate::Topology;
use super::error::PlanError;
use super::freelist::{Direction, FreeList};
use super::types::{BarRegister, IoDecode, PrefDecode};
use crate::sort::SortedMap;

/// Where resources may go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Apertures<'a> {
    /// I/O ports, within 0x1000..0x10000. Allocation is from the top, so passing
    /// 0x1000..0x10000 uses 0xC000..0xFFFF first and lower ports only when needed.
    pub io: Range<u64>,
    /// Ports nothing may use (the PM block, fw_cfg, hotplug registers...).
    pub io_reserved: &'a [Range<u64>],
    /// The low memory hole, below 4 GiB.
    pub low_mem: Range<u64>,
    /// Parts of the hole nothing may use (the ECAM area, chipset and firmware ranges).
    pub low_mem_reserved: &'a [Range<u64>],
    /// The 64-bit window: above 4 GiB, below `1 << phys_bits`. `None`: everything stays low.
    pub high_mem: Option<Range<u64>>,
}

/// One placed address range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Resource {
    pub base: u64,
    pub size: u64,
}

impl Resource {
    /// One past the last address.
    pub fn end(&self) -> u64 {
        self.base + self.size
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "base {:#x} size {:#x}", self.base, self.size)
    }
}

/// A bridge's windows; `None` is a window left closed (nothing in it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BridgeWindows {
    pub io: Option<Resource>,
    pub mem: Option<Resource>,
    pub prefetchable: Option<Resource>,
}

/// The placement of one function; [`Plan::functions`] runs parallel to
/// [`Topology::functions`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FunctionPlan {
    /// Base address of each of the function's BARs (parallel to `Function::bars`), `None`
    /// when it was not placed.
    pub bars: Vec<Option<u64>>,
    /// For bridges.
    pub windows: BridgeWindows,
}

/// A BAR that got no address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unplaced {
    pub bdf: Bdf,
    pub bar: BarRegister,
    pub kind: BarKind,
    pub size: u64,
    pub reason: UnplacedReason,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnplacedReason {
    /// Not enough room left in the ranges it may go to.
    NoSpace,
    /// An I/O BAR behind this bridge, which has no I/O window.
    NoIoWindow { bridge: Bdf },
}

impl fmt::Display for Unplaced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {} size {:#x} not placed: ", self.bdf, self.bar, self.kind, self.size)?;
        match self.reason {
            UnplacedReason::NoSpace => f.write_str("no room left"),
            UnplacedReason::NoIoWindow { bridge } => {
                write!(f, "bridge {bridge} on its path has no I/O window")
            }
        }
    }
}

/// A bridge whose hot-plug reservation was given up, for some or all of its windows,
/// because the devices present needed the room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DroppedReservation {
    pub bridge: Bdf,
    /// The reserved sizes given up; 0 for windows whose reservation was kept (or had none).
    pub io: u64,
    pub mem: u64,
    pub prefetchable: u64,
}

impl fmt::Display for DroppedReservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: no room for the hot-plug reservation of", self.bridge)?;
        for (name, size) in
            [("io", self.io), ("mem", self.mem), ("prefetchable", self.prefetchable)]
        {
            if size != 0 {
                write!(f, " {name} window ({size:#x})")?;
            }
        }
        f.write_str(", windows cover only the devices present")
    }
}

/// Where everything goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub functions: Vec<FunctionPlan>,
    pub unplaced: Vec<Unplaced>,
    /// Bridges whose hot-plug reservation did not fit, one entry per bridge, in discovery
    /// order.
    pub dropped_reservations: Vec<DroppedReservation>,
    /// The span of I/O ports used, if any.
    pub io_used: Option<Range<u64>>,
    /// The span of the low hole used, if any. Allocation is from the top of the hole, so its
    /// start is how low the hole must reach: a caller sizing the hole from demand plans with
    /// the largest hole it could make, then makes the hole `[low_mem_used.start, end)` (and
    /// plans again, to the same result, before programming).
    pub low_mem_used: Option<Range<u64>>,
    /// The span of the 64-bit window used; `None` when nothing had to go above 4 GiB.
    pub high_mem_used: Option<Range<u64>>,
    /// The low hole could not hold everything that belongs below 4 GiB: 64-bit BARs were
    /// moved above 4 GiB for it, or a reservation or BAR was left out. A caller that may
    /// make the hole larger (Xen's RAM relocation) plans again with a larger one.
    pub low_mem_short: bool,
}

const IO_GRANULE: u128 = 0x1000;
const MEM_GRANULE: u128 = 0x10_0000;
/// 64-bit BARs at least this large go above 4 GiB even if they would fit below.
const HIGH_THRESHOLD: u64 = 1 << 30;
const FOUR_GIB: u64 = 1 << 32;

/// A bridge window kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Space {
    Io = 0,
    Mem = 1,
    Pref = 2,
}

/// The caller's ranges, used directly by bus 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum RootSpace {
    Io = 0,
    Low = 1,
    High = 2,
}

/// Something that needs an address: a BAR (function index, BAR index) or a bridge window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Item {
    Bar(usize, usize),
    Window(usize, Space),
}

/// What an item is placed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Container {
    Root(RootSpace),
    Window(usize, Space),
}

/// A bridge window's contents at offsets from its base.
#[derive(Clone, Debug, Default)]
struct Packed {
    size: u128,
    align: u128,
    contents: Vec<(Item, u128)>,
    /// How much of `size` is there only for the hot-plug reservation.
    reserved: u128,
}

/// Places everything in `topology` within `apertures`. Fails only if the apertures
/// themselves are unusable; resources that do not fit are in [`Plan::unplaced`].
pub fn plan(topology: &Topology, apertures: &Apertures) -> Result<Plan, PlanError> {
    validate(apertures)?;
    let mut left_out = unreachable_io_bars(topology);
    // Windows whose reservation was given up.
    let mut dropped = SortedMap::new();
    let mut relocate = false;
    let mut low_short = false;
    loop {
        let attempt = Attempt::new(topology, apertures, &left_out, &dropped, relocate);
        let (placed, failed) = attempt.allocate_root();
        let low_failed = failed.iter().any(|&(space, _)| space == RootSpace::Low);
        low_short |= low_failed;
        if low_failed && apertures.high_mem.is_some() && !relocate {
            log::debug!("low hole too small, moving 64-bit BARs above 4 GiB");
            relocate = true;
            continue;
        }
        // Reservations first: whichever item failed, a reservation elsewhere in the same
        // range may be what took its room.
        let mut progress = false;
        for space in [RootSpace::Io, RootSpace::Low, RootSpace::High] {
            if !failed.iter().any(|&(s, _)| s == space) {
                continue;
            }
            if let Some((bridge, window)) = attempt.largest_reservation_in(space) {
                let bdf = topology.functions[bridge].bdf;
                log::debug!("no room, giving up the {window:?} reservation of {bdf}");
                dropped.insert((bridge, window), ());
                progress = true;
            }
        }
        if progress {
            continue;
        }
        // Only the first failure of each space: leaving out its largest BAR may be enough
        // for the items after it.
        for space in [RootSpace::Io, RootSpace::Low, RootSpace::High] {
            let first = failed.iter().find(|&&(s, _)| s == space);
            let Some((function, bar)) = first.and_then(|&(_, item)| attempt.largest_bar_in(item))
            else {
                continue;
            };
            let f = &topology.functions[function];
            log::debug!("no room, leaving out {} {}", f.bdf, f.bars[bar].register);
            left_out.insert((function, bar), UnplacedReason::NoSpace);
            progress = true;
        }
        // Without progress, whatever failed holds no BAR and losing it loses nothing.
        if !progress {
            let plan = attempt.finish(placed, left_out, &dropped);
            return Ok(Plan { low_mem_short: low_short, ..plan });
        }
    }
}

fn validate(apertures: &Apertures) -> Result<(), PlanError> {
    let check = |what, range: &Range<u64>, lowest: u64, highest: u64| {
        if range.start < range.end && lowest <= range.start && range.end <= highest {
            Ok(())
        } else {
            Err(PlanError::InvalidRange { what, start: range.start, end: range.end })
        }
    };
    check("I/O range", &apertures.io, 0x1000, 0x1_0000)?;
    check("low memory hole", &apertures.low_mem, 0, FOUR_GIB)?;
    if let Some(high) = &apertures.high_mem {
        check("64-bit window", high, FOUR_GIB, u64::MAX)?;
    }
    Ok(())
}

/// I/O BARs behind a bridge without an I/O window, on any level up to bus 0.
fn unreachable_io_bars(topology: &Topology) -> SortedMap<(usize, usize), UnplacedReason> {
    // For each bridge, the first bridge on its path (itself included) without an I/O window.
    let mut blocker: Vec<Option<Bdf>> = vec![None; topology.functions.len()];
    let mut left_out = SortedMap::new();
    for (index, function) in topology.functions.iter().enumerate() {
        let upstream_blocker = function.upstream.and_then(|up| blocker[up]);
        if let Some(bridge) = &function.bridge {
            blocker[index] =
                upstream_blocker.or((bridge.io == IoDecode::Absent).then_some(function.bdf));
        }
        let Some(bridge) = function.upstream.and_then(|up| blocker[up]) else {
            continue;
        };
        for (bar_index, bar) in function.bars.iter().enumerate() {
            if bar.kind.is_io() {
                left_out.insert((index, bar_index), UnplacedReason::NoIoWindow { bridge });
            }
        }
    }
    left_out
}

/// One layout of everything but the left-out BARs.
struct Attempt<'a> {
    topology: &'a Topology,
    apertures: &'a Apertures<'a>,
    /// The contents of each bridge's three windows, indexed by function and [`Space`].
    windows: Vec<[Packed; 3]>,
    /// The items of each [`RootSpace`].
    root: [Vec<Item>; 3],
}

impl<'a> Attempt<'a> {
    fn new(
        topology: &'a Topology,
        apertures: &'a Apertures<'a>,
        left_out: &SortedMap<(usize, usize), UnplacedReason>,
        dropped: &SortedMap<(usize, Space), ()>,
        relocate: bool,
    ) -> Self {
        let high = prefetchable_windows_high(
            topology,
            left_out,
            dropped,
            relocate,
            apertures.high_mem.is_some(),
        );
        let count = topology.functions.len();
        let mut window_items: Vec<[Vec<Item>; 3]> = vec![Default::default(); count];
        let mut root: [Vec<Item>; 3] = Default::default();
        let mut put = |container, item| match container {
            Container::Root(space) => root[space as usize].push(item),
            Container::Window(bridge, space) => window_items[bridge][space as usize].push(item),
        };
        for (index, function) in topology.functions.iter().enumerate() {
            for (bar_index, bar) in function.bars.iter().enumerate() {
                if left_out.contains_key(&(index, bar_index)) {
                    continue;
                }
                let wants_high = apertures.high_mem.is_some()
                    && bar.kind.is_64bit()
                    && (bar.size >= HIGH_THRESHOLD || relocate);
                let container = match (function.upstream, bar.kind) {
                    (None, BarKind::Io) => Container::Root(RootSpace::Io),
                    (None, _) if wants_high => Container::Root(RootSpace::High),
                    (None, _) => Container::Root(RootSpace::Low),
                    (Some(up), BarKind::Io) => Container::Window(up, Space::Io),
                    (Some(up), kind) if kind.is_prefetchable() => {
                        let has_pref = topology.functions[up]
                            .bridge
                            .is_some_and(|b| b.prefetchable != PrefDecode::Absent);
                        // A 32-bit BAR cannot follow a window that went above 4 GiB.
                        if has_pref && (kind.is_64bit() || !high[up]) {
                            Container::Window(up, Space::Pref)
                        } else {
                            Container::Window(up, Space::Mem)
                        }
                    }
                    (Some(up), _) => Container::Window(up, Space::Mem),
                };
                put(container, Item::Bar(index, bar_index));
            }
            if function.bridge.is_none() {
                continue;
            }
            let parent_has_low_pref = function.upstream.is_some_and(|up| {
                !high[up]
                    && topology.functions[up]
                        .bridge
                        .is_some_and(|b| b.prefetchable != PrefDecode::Absent)
            });
            let pref_container = match function.upstream {
                None if high[index] => Container::Root(RootSpace::High),
                None => Container::Root(RootSpace::Low),
                // `high[index]` implies `high[up]`.
                Some(up) if high[index] || parent_has_low_pref => {
                    Container::Window(up, Space::Pref)
                }
                Some(up) => Container::Window(up, Space::Mem),
            };
            let (io_container, mem_container) = match function.upstream {
                None => (Container::Root(RootSpace::Io), Container::Root(RootSpace::Low)),
                Some(up) => (Container::Window(up, Space::Io), Container::Window(up, Space::Mem)),
            };
            put(io_container, Item::Window(index, Space::Io));
            put(mem_container, Item::Window(index, Space::Mem));
            put(pref_container, Item::Window(index, Space::Pref));
        }

        let mut attempt =
            Attempt { topology, apertures, windows: vec![Default::default(); count], root };
        // Children come after their bridge in `functions`: going backwards packs every
        // window after the windows inside it.
        for (index, items) in window_items.into_iter().enumerate().rev() {
            let [io, mem, pref] = items;
            let reserve = |space| reservation(topology, dropped, index, space);
            attempt.windows[index] = [
                attempt.pack(io, IO_GRANULE, reserve(Space::Io)),
                attempt.pack(mem, MEM_GRANULE, reserve(Space::Mem)),
                attempt.pack(pref, MEM_GRANULE, reserve(Space::Pref)),
            ];
        }
        attempt
    }

    /// Size and alignment of an item; windows must be packed already.
    fn extent(&self, item: Item) -> (u128, u128) {
        match item {
            Item::Bar(function, bar) => {
                let bar = &self.topology.functions[function].bars[bar];
                (u128::from(bar.size), u128::from(bar.align()))
            }
            Item::Window(bridge, space) => {
                let packed = &self.windows[bridge][space as usize];
                (packed.size, packed.align)
            }
        }
    }

    /// Non-empty items, largest alignment first, then largest size; ties keep discovery
    /// order, so the result depends on nothing but the topology.
    fn sorted(&self, mut items: Vec<Item>) -> Vec<(Item, u128, u128)> {
        let mut sized: Vec<_> = items
            .drain(..)
            .map(|item| {
                let (size, align) = self.extent(item);
                (item, size, align)
            })
            .filter(|&(_, size, _)| size != 0)
            .collect();
        crate::sort::sort_by_key(&mut sized, |&(_, size, align)| core::cmp::Reverse((align, size)));
        sized
    }

    /// Packs a window's items; `reserve` is its minimum size (0: none).
    fn pack(&self, items: Vec<Item>, granule: u128, reserve: u128) -> Packed {
        let mut packed = Packed { align: granule, ..Packed::default() };
        let mut end: u128 = 0;
        for (item, size, align) in self.sorted(items) {
            let offset = end.next_multiple_of(align);
            packed.contents.push((item, offset));
            packed.align = packed.align.max(align);
            end = offset + size;
        }
        packed.size = end.next_multiple_of(granule);
        let reserve = reserve.next_multiple_of(granule);
        if reserve > packed.size {
            packed.reserved = reserve - packed.size;
            packed.size = reserve;
            // The largest BAR a hot-plugged device could bring into the free part.
            let natural = 1 << (u128::BITS - 1 - reserve.leading_zeros());
            packed.align = packed.align.max(natural);
        }
        packed
    }

    /// Allocates bus 0's items: those placed with their base, and those that did not fit.
    #[allow(clippy::type_complexity)]
    fn allocate_root(&self) -> (Vec<(RootSpace, Item, u128)>, Vec<(RootSpace, Item)>) {
        let apertures = self.apertures;
        let ranges = [
            (RootSpace::Io, Some(&apertures.io), apertures.io_reserved, Direction::TopDown),
            (
                RootSpace::Low,
                Some(&apertures.low_mem),
                apertures.low_mem_reserved,
                Direction::TopDown,
            ),
            (RootSpace::High, apertures.high_mem.as_ref(), &[][..], Direction::BottomUp),
        ];
        let mut placed = Vec::new();
        let mut failed = Vec::new();
        for (space, range, reserved, direction) in ranges {
            let items = self.sorted(self.root[space as usize].clone());
            // Without a range (no 64-bit window) nothing was put in the space.
            let Some(range) = range else {
                continue;
            };
            let mut free = FreeList::new(range, reserved);
            for (item, size, align) in items {
                match free.allocate(size, align, direction) {
                    Some(base) => placed.push((space, item, base)),
                    None => failed.push((space, item)),
                }
            }
        }
        (placed, failed)
    }

    /// The largest BAR in `item` (itself, for a BAR): the one to leave out when it does not
    /// fit.
    fn largest_bar_in(&self, item: Item) -> Option<(usize, usize)> {
        let mut largest: Option<((usize, usize), u128)> = None;
        let mut pending = Vec::from([item]);
        while let Some(item) = pending.pop() {
            match item {
                Item::Bar(function, bar) => {
                    let (size, _) = self.extent(item);
                    if largest.is_none_or(|(_, s)| size > s) {
                        largest = Some(((function, bar), size));
                    }
                }
                Item::Window(bridge, space) => pending.extend(
                    self.windows[bridge][space as usize]
                        .contents
                        .iter()
                        .rev()
                        .map(|&(inner, _)| inner),
                ),
            }
        }
        largest.map(|(bar, _)| bar)
    }

    /// The window in `space` whose reservation keeps the most room free (ties: the bridge
    /// found last), if any reservation there has an effect.
    fn largest_reservation_in(&self, space: RootSpace) -> Option<(usize, Space)> {
        let mut largest: Option<((u128, usize), Space)> = None;
        let mut pending = self.root[space as usize].clone();
        while let Some(item) = pending.pop() {
            let Item::Window(bridge, window) = item else {
                continue;
            };
            let packed = &self.windows[bridge][window as usize];
            let key = (packed.reserved, bridge);
            if packed.reserved > 0 && largest.is_none_or(|(k, _)| key > k) {
                largest = Some((key, window));
            }
            pending.extend(packed.contents.iter().map(|&(inner, _)| inner));
        }
        largest.map(|((_, bridge), window)| (bridge, window))
    }

    /// Turns bus 0's placements into addresses for everything.
    fn finish(
        &self,
        root: Vec<(RootSpace, Item, u128)>,
        left_out: SortedMap<(usize, usize), UnplacedReason>,
        dropped: &SortedMap<(usize, Space), ()>,
    ) -> Plan {
        let functions = &self.topology.functions;
        let mut plan = Plan {
            functions: functions
                .iter()
                .map(|f| FunctionPlan {
                    bars: vec![None; f.bars.len()],
                    windows: BridgeWindows::default(),
                })
                .collect(),
            ..Plan::default()
        };
        for &(space, item, base) in &root {
            let (size, _) = self.extent(item);
            let used = match space {
                RootSpace::Io => &mut plan.io_used,
                RootSpace::Low => &mut plan.low_mem_used,
                RootSpace::High => &mut plan.high_mem_used,
            };
            // Bus 0's items are all within the caller's u64 ranges.
            let (start, end) = (base as u64, (base + size) as u64);
            *used = Some(match used.take() {
                Some(r) => r.start.min(start)..r.end.max(end),
                None => start..end,
            });
        }
        let mut pending: Vec<_> = root.into_iter().map(|(_, item, base)| (item, base)).collect();
        while let Some((item, base)) = pending.pop() {
            match item {
                Item::Bar(function, bar) => plan.functions[function].bars[bar] = Some(base as u64),
                Item::Window(bridge, space) => {
                    let packed = &self.windows[bridge][space as usize];
                    let resource = Some(Resource { base: base as u64, size: packed.size as u64 });
                    let windows = &mut plan.functions[bridge].windows;
                    match space {
                        Space::Io => windows.io = resource,
                        Space::Mem => windows.mem = resource,
                        Space::Pref => windows.prefetchable = resource,
                    }
                    pending.extend(
                        packed.contents.iter().map(|&(inner, offset)| (inner, base + offset)),
                    );
                }
            }
        }
        plan.unplaced = left_out
            .into_iter()
            .map(|((function, bar), reason)| {
                let f = &functions[function];
                Unplaced {
                    bdf: f.bdf,
                    bar: f.bars[bar].register,
                    kind: f.bars[bar].kind,
                    size: f.bars[bar].size,
                    reason,
                }
            })
            .collect();
        // `dropped` is ordered by bridge, then window: one entry per bridge.
        for &(bridge, space) in dropped.keys() {
            let f = &functions[bridge];
            let Some(info) = &f.bridge else {
                continue;
            };
            if plan.dropped_reservations.last().is_none_or(|d| d.bridge != f.bdf) {
                plan.dropped_reservations.push(DroppedReservation {
                    bridge: f.bdf,
                    io: 0,
                    mem: 0,
                    prefetchable: 0,
                });
            }
            let entry = plan.dropped_reservations.last_mut().expect("pushed above");
            let r = &info.reservation;
            match space {
                Space::Io => entry.io = r.io,
                Space::Mem => entry.mem = r.mem,
                Space::Pref => entry.prefetchable = r.prefetchable,
            }
        }
        plan
    }
}

/// The reserved minimum size of a bridge window, 0 when it has none or it was given up.
fn reservation(
    topology: &Topology,
    dropped: &SortedMap<(usize, Space), ()>,
    bridge: usize,
    space: Space,
) -> u128 {
    if dropped.contains_key(&(bridge, space)) {
        return 0;
    }
    let Some(info) = &topology.functions[bridge].bridge else {
        return 0;
    };
    let r = &info.reservation;
    let functions = &topology.functions;
    // I/O reserved behind a bridge without an I/O window further up could never be reached
    // (and the window above would be opened for nothing).
    let io_blocked = || {
        core::iter::successors(Some(bridge), |&i| functions[i].upstream)
            .any(|i| functions[i].bridge.is_some_and(|b| b.io == IoDecode::Absent))
    };
    u128::from(match space {
        Space::Io if io_blocked() => 0,
        Space::Io => r.io,
        Space::Mem => r.mem,
        Space::Pref => r.prefetchable,
    })
}

/// Which bridges' prefetchable windows go above 4 GiB: those with a 64-bit prefetchable
/// window, on a path of such windows from bus 0, holding (at any depth) a 64-bit prefetchable
/// BAR or reservation that must go high.
fn prefetchable_windows_high(
    topology: &Topology,
    left_out: &SortedMap<(usize, usize), UnplacedReason>,
    dropped: &SortedMap<(usize, Space), ()>,
    relocate: bool,
    high_available: bool,
) -> Vec<bool> {
    let functions = &topology.functions;
    let mut high = vec![false; functions.len()];
    if !high_available {
        return high;
    }
    let is_pref64 = |index: usize| {
        functions[index].bridge.is_some_and(|b| b.prefetchable == PrefDecode::Bits64)
    };
    // Bottom-up: a window wants to go up if anything in it does.
    for index in (0..functions.len()).rev() {
        let function = &functions[index];
        // A reservation for 64-bit prefetchable BARs wants to go up as such a BAR would.
        let reserved = reservation(topology, dropped, index, Space::Pref);
        let reserve_64bit = function.bridge.is_some_and(|b| b.reservation.prefetchable_64bit);
        if reserve_64bit && reserved != 0 && (reserved >= u128::from(HIGH_THRESHOLD) || relocate) {
            high[index] = true;
        }
        high[index] &= is_pref64(index);
        let Some(up) = function.upstream else {
            continue;
        };
        let bar_wants_high = function.bars.iter().enumerate().any(|(bar_index, bar)| {
            !left_out.contains_key(&(index, bar_index))
                && bar.kind == (BarKind::Mem64 { prefetchable: true })
                && (bar.size >= HIGH_THRESHOLD || relocate)
        });
        if bar_wants_high || high[index] {
            high[up] = true;
        }
    }
    // Top-down: only if every window above it went up too.
    for index in 0..functions.len() {
        if let Some(up) = functions[index].upstream {
            high[index] &= high[up];
        }
    }
    high
}
