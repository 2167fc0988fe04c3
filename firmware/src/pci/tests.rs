//! The PCI core end to end against the simulated configuration space: scenarios, then
//! properties over random topologies, checked on the registers as programmed.

use alloc::vec::Vec;
use core::ops::Range;

use proptest::prelude::*;

use super::sim::{BridgeCaps, BusId, FnId, QemuReserve, ROOT, Sim, SimBar, SimCap};
use super::*;
use crate::chipset::IntxWiring;

const IO_RESERVED: [Range<u64>; 2] = [0xAE00..0xAF20, 0xB000..0xB040];
/// A pretend ECAM area inside the hole, and a range reaching outside it (allowed).
const LOW_RESERVED: [Range<u64>; 2] = [0xE000_0000..0xF000_0000, 0xFEC0_0000..0xFF00_0000];
const LOW: Range<u64> = 0x8000_0000..0xFC00_0000;
const HIGH: Range<u64> = 0x1_0000_0000..0x80_0000_0000;
const LINK_IRQS: [u8; 4] = [5, 10, 11, 5];

fn apertures(high: bool) -> Apertures<'static> {
    Apertures {
        io: 0x1000..0x1_0000,
        io_reserved: &IO_RESERVED,
        low_mem: LOW,
        low_mem_reserved: &LOW_RESERVED,
        high_mem: high.then_some(HIGH),
    }
}

/// Enumerates, places, programs and routes, as the firmware does.
fn run(sim: &mut Sim, apertures: &Apertures) -> (Topology, Plan) {
    let mut topology = enumerate(sim, sim.extra_roots()).expect("expanders match");
    add_vf_bars(sim, &mut topology);
    let plan = plan(&topology, apertures).expect("valid apertures");
    program(sim, &topology, &plan).expect("plan made for this topology");
    let routes = route_intx(
        &topology,
        |d, p: IntxPin| IntxWiring::Xen.bus0_link(d, p) as u8,
        |e, p| IntxWiring::Xen.expander_input(e, p),
    );
    program_interrupt_lines(sim, &routes, &LINK_IRQS);
    (topology, plan)
}

fn mem32(size: u32) -> SimBar {
    SimBar::Mem32 { size, prefetchable: false }
}
fn mem64(size: u64, prefetchable: bool) -> SimBar {
    SimBar::Mem64 { size, prefetchable }
}

fn function_at(topology: &Topology, bdf: Bdf) -> (usize, &Function) {
    topology
        .functions
        .iter()
        .enumerate()
        .find(|(_, f)| f.bdf == bdf)
        .unwrap_or_else(|| panic!("{bdf} not found"))
}

fn bdf(bus: u8, device: u8, function: u8) -> Bdf {
    Bdf::new(bus, device, function)
}

// ---- enumeration and sizing ----

#[test]
fn sizes_every_kind_of_bar_on_a_multi_function_device() {
    let mut sim = Sim::new();
    sim.add_endpoint(ROOT, 0, 0, &[], 0, 0);
    sim.add_endpoint(
        ROOT,
        3,
        0,
        &[SimBar::Io(0x20), mem32(0x1000), mem64(0x10_0000, true)],
        0x1_0000,
        1,
    );
    // Functions 0 and 2 only: function 1 is absent.
    sim.add_endpoint(ROOT, 4, 0, &[mem64(0x4_0000_0000, false)], 0, 2);
    sim.add_endpoint(ROOT, 4, 2, &[SimBar::Io(4)], 0, 0);
    let topology = enumerate(&mut sim, 0).unwrap();
    assert!(topology.problems.is_empty(), "{:?}", topology.problems);
    let found: Vec<Bdf> = topology.functions.iter().map(|f| f.bdf).collect();
    assert_eq!(found, [bdf(0, 0, 0), bdf(0, 3, 0), bdf(0, 4, 0), bdf(0, 4, 2)]);

    let (_, f) = function_at(&topology, bdf(0, 3, 0));
    let bars: Vec<(u16, BarKind, u64)> =
        f.bars.iter().map(|b| (b.register.0, b.kind, b.size)).collect();
    assert_eq!(
        bars,
        [
            (0x10, BarKind::Io, 0x20),
            (0x14, BarKind::Mem32 { prefetchable: false }, 0x1000),
            (0x18, BarKind::Mem64 { prefetchable: true }, 0x10_0000),
            (0x30, BarKind::Rom, 0x1_0000),
        ]
    );
    assert_eq!(f.interrupt_pin, Some(IntxPin::A));
    let (_, f) = function_at(&topology, bdf(0, 4, 0));
    assert_eq!(f.bars[0].size, 0x4_0000_0000);
    assert_eq!(f.bars[0].kind, BarKind::Mem64 { prefetchable: false });
}

#[test]
fn io_bar_of_a_16_bit_decoder() {
    let mut sim = Sim::new();
    let id = sim.add_endpoint(ROOT, 1, 0, &[SimBar::Io(0x100)], 0, 0);
    // Upper 16 bits hard-wired to 0.
    sim.set_wmask(id, 0x10, &0x0000_FF00u32.to_le_bytes());
    let topology = enumerate(&mut sim, 0).unwrap();
    assert_eq!(topology.functions[0].bars[0].size, 0x100);
    assert!(topology.problems.is_empty());
}

#[test]
fn absurd_bars_are_reported_and_the_rest_still_sized() {
    let mut sim = Sim::new();
    let id = sim.add_endpoint(ROOT, 1, 0, &[mem32(0x1000)], 0, 0);
    // BAR1: memory type 01 (below 1 MiB).
    sim.poke(id, 0x14, &2u32.to_le_bytes());
    sim.set_wmask(id, 0x14, &0xFFFF_F000u32.to_le_bytes());
    // BAR2: a mask with a hole in it.
    sim.set_wmask(id, 0x18, &0xFF0F_F000u32.to_le_bytes());
    // BAR3: only the read-only prefetchable bit, no address bits.
    sim.poke(id, 0x1C, &8u32.to_le_bytes());
    // BAR4: stuck at an address.
    sim.poke(id, 0x20, &0x1234_5000u32.to_le_bytes());
    // BAR5: 64-bit in the last slot.
    sim.poke(id, 0x24, &4u32.to_le_bytes());
    sim.set_wmask(id, 0x24, &0xFFFF_F000u32.to_le_bytes());
    let topology = enumerate(&mut sim, 0).unwrap();
    let b = bdf(0, 1, 0);
    assert_eq!(
        topology.problems,
        [
            PciProblem::BarTypeUnsupported { bdf: b, bar: BarRegister(0x14), value: 0xFFFF_F002 },
            PciProblem::BarMaskMalformed {
                bdf: b,
                bar: BarRegister(0x18),
                mask: 0xFFFF_FFFF_FF0F_F000
            },
            PciProblem::BarSizeZero { bdf: b, bar: BarRegister(0x1C), value: 8 },
            PciProblem::BarMaskMalformed {
                bdf: b,
                bar: BarRegister(0x20),
                mask: 0xFFFF_FFFF_1234_5000
            },
            PciProblem::Bar64InLastSlot { bdf: b, bar: BarRegister(0x24) },
        ]
    );
    assert_eq!(topology.functions[0].bars.len(), 1);
    assert_eq!(topology.functions[0].bars[0].size, 0x1000);
    // Every message names the device and register.
    for problem in &topology.problems {
        let text = alloc::format!("{problem}");
        assert!(text.starts_with("00:01.0: BAR"), "{text}");
    }
}

#[test]
fn all_ones_and_cardbus_functions_are_skipped() {
    let mut sim = Sim::new();
    sim.add_raw(ROOT, 2, 0, 0xFF);
    let cardbus = sim.add_endpoint(ROOT, 3, 0, &[mem32(0x1000)], 0, 0);
    sim.poke(cardbus, reg::HEADER_TYPE, &[2]);
    // Decoding left on by a previous firmware must be turned off even when skipped.
    sim.poke(cardbus, reg::COMMAND, &[3, 0]);
    sim.add_endpoint(ROOT, 4, 0, &[mem32(0x1000)], 0, 0);
    let (topology, plan) = run(&mut sim, &apertures(false));
    assert_eq!(
        topology.problems,
        [
            PciProblem::UnknownHeaderType { bdf: bdf(0, 2, 0), header_type: 0x7F },
            PciProblem::CardBus { bdf: bdf(0, 3, 0) },
        ]
    );
    assert_eq!(sim.peek16(cardbus, reg::COMMAND) & 7, 0);
    assert_eq!(topology.functions.len(), 1);
    assert!(plan.functions[0].bars[0].is_some());
}

/// Bus 0: bridge A (00:01) -> bridge B (01:00) -> endpoint, and bridge C (00:02) ->
/// endpoint; A's and C's bus numbers from a previous firmware clash with the new ones.
fn two_level_tree() -> (Sim, [FnId; 3]) {
    let mut sim = Sim::new();
    sim.add_endpoint(ROOT, 0, 0, &[], 0, 0);
    let (a, bus_a) = sim.add_bridge(ROOT, 1, 0, BridgeCaps::FULL, &[]);
    let (b, bus_b) = sim.add_bridge(bus_a, 0, 0, BridgeCaps::FULL, &[]);
    sim.add_endpoint(bus_b, 5, 0, &[mem32(0x10_0000), SimBar::Io(0x40)], 0, 1);
    let (c, bus_c) = sim.add_bridge(ROOT, 2, 0, BridgeCaps::FULL, &[]);
    sim.add_endpoint(bus_c, 0, 0, &[mem64(0x20_0000, true)], 0, 2);
    (sim, [a, b, c])
}

fn bus_numbers(sim: &Sim, id: FnId) -> [u8; 3] {
    [0x18, 0x19, 0x1A].map(|o| sim.peek8(id, o))
}

#[test]
fn buses_are_numbered_depth_first() {
    let (mut sim, [a, b, c]) = two_level_tree();
    let topology = enumerate(&mut sim, 0).unwrap();
    assert_eq!(bus_numbers(&sim, a), [0, 1, 2]);
    assert_eq!(bus_numbers(&sim, b), [1, 2, 2]);
    assert_eq!(bus_numbers(&sim, c), [0, 3, 3]);
    assert_eq!(topology.last_bus, 3);
    let found: Vec<Bdf> = topology.functions.iter().map(|f| f.bdf).collect();
    assert_eq!(
        found,
        [bdf(0, 0, 0), bdf(0, 1, 0), bdf(0, 2, 0), bdf(1, 0, 0), bdf(2, 5, 0), bdf(3, 0, 0)]
    );
}

#[test]
fn previous_firmware_state_does_not_change_the_result() {
    let (mut clean, _) = two_level_tree();
    let clean_result = run(&mut clean, &apertures(true));

    let (mut dirty, [a, b, c]) = two_level_tree();
    // C claims the bus that A gets, B a range outside A's, decoding on everywhere.
    for (id, numbers) in [(a, [0, 3, 3]), (b, [1, 7, 9]), (c, [0, 1, 2])] {
        dirty.write_masked(id, 0x18, &numbers);
    }
    for id in 0..dirty.functions.len() {
        dirty.write_masked(id, reg::COMMAND, &[7, 0]);
        dirty.write_masked(id, 0x10, &0xC000_0000u32.to_le_bytes());
    }
    let dirty_result = run(&mut dirty, &apertures(true));
    assert_eq!(dirty.routing_conflicts, 0);
    assert_eq!(clean_result, dirty_result);
    let registers = |sim: &Sim| sim.functions.iter().map(|f| f.config.clone()).collect::<Vec<_>>();
    assert_eq!(registers(&clean), registers(&dirty));
}

#[test]
fn more_than_256_buses_stop_cleanly() {
    let mut sim = Sim::new();
    let mut bus = ROOT;
    for _ in 0..300 {
        bus = sim.add_bridge(bus, 0, 0, BridgeCaps::FULL, &[]).1;
    }
    let topology = enumerate(&mut sim, 0).unwrap();
    assert_eq!(topology.last_bus, 255);
    assert_eq!(topology.functions.len(), 256);
    assert_eq!(topology.problems, [PciProblem::OutOfBusNumbers { bridge: bdf(255, 0, 0) }]);
    // The bridge without a bus number forwards nothing.
    let last = &topology.functions[255];
    let info = last.bridge.unwrap();
    assert_eq!((info.secondary_bus, info.subordinate_bus), (0, 0));
    plan(&topology, &apertures(true)).unwrap();
}

#[test]
fn a_bridge_looping_back_to_bus_0_ends() {
    let mut sim = Sim::new();
    sim.add_endpoint(ROOT, 0, 0, &[mem32(0x1000)], 0, 0);
    let (bridge, _) = sim.add_bridge(ROOT, 1, 0, BridgeCaps::FULL, &[]);
    sim.functions[bridge].child = Some(ROOT);
    let topology = enumerate(&mut sim, 0).unwrap();
    // Bus 1 shows bus 0 again, whose bridge is closed while probed there, so the cycle to
    // bus 1 stops reaching anything: whatever the outcome, it ends and places sanely.
    assert!(topology.functions.len() < 10);
    let plan = plan(&topology, &apertures(false)).unwrap();
    program(&mut sim, &topology, &plan).unwrap();
}

#[test]
fn bridge_that_does_not_keep_bus_numbers_is_left_closed() {
    let mut sim = Sim::new();
    let (bridge, bus) = sim.add_bridge(ROOT, 1, 0, BridgeCaps::FULL, &[]);
    sim.add_endpoint(bus, 0, 0, &[mem32(0x1000)], 0, 0);
    sim.set_wmask(bridge, 0x1A, &[0]);
    let topology = enumerate(&mut sim, 0).unwrap();
    assert_eq!(topology.functions.len(), 1);
    assert!(matches!(
        topology.problems[..],
        [PciProblem::BusNumbersNotKept { read: [0, 1, 0], .. }]
    ));
}

// ---- placement ----

#[test]
fn low_hole_is_used_from_the_top_largest_first() {
    let mut sim = Sim::new();
    sim.add_endpoint(ROOT, 1, 0, &[mem32(0x1000), mem32(0x400_0000)], 0, 0);
    sim.add_endpoint(ROOT, 2, 0, &[mem32(0x100_0000), mem64(0x10_0000, true)], 0x1_0000, 0);
    let (topology, plan) = run(&mut sim, &apertures(true));
    // 0xFC00_0000 down: 64 MiB, 16 MiB, 1 MiB, 64 KiB, 4 KiB, no gaps (the ECAM area
    // 0xE000_0000..0xF000_0000 is not reached).
    let bases =
        |i: usize| plan.functions[function_at(&topology, bdf(0, i as u8, 0)).0].bars.clone();
    assert_eq!(bases(1), [Some(0xF6EE_F000), Some(0xF800_0000)]);
    assert_eq!(bases(2), [Some(0xF700_0000), Some(0xF6F0_0000), Some(0xF6EF_0000)]);
    assert_eq!(plan.low_mem_used, Some(0xF6EE_F000..0xFC00_0000));
    assert_eq!(plan.high_mem_used, None);
    assert!(plan.unplaced.is_empty());
    // ROM enabled at its address, memory decode and bus mastering on.
    let id = 1;
    assert_eq!(sim.peek32(id, 0x30), 0xF6EF_0001);
    assert_eq!(sim.peek16(id, reg::COMMAND) & 7, command::MEMORY | command::BUS_MASTER);
}

#[test]
fn reserved_ranges_are_avoided() {
    let mut sim = Sim::new();
    // 512 MiB: the top block 0xF000_0000.. is only 192 MiB, below the ECAM area is room.
    sim.add_endpoint(ROOT, 1, 0, &[mem32(0x2000_0000)], 0, 0);
    sim.add_endpoint(ROOT, 2, 0, &[SimBar::Io(0x100); 6], 0, 0);
    let (_, plan) = run(&mut sim, &apertures(false));
    assert_eq!(plan.functions[0].bars, [Some(0xC000_0000)]);
    let io: Vec<u64> = plan.functions[1].bars.iter().map(|b| b.unwrap()).collect();
    assert_eq!(io, [0xFF00, 0xFE00, 0xFD00, 0xFC00, 0xFB00, 0xFA00]);
}

#[test]
fn io_goes_below_0xc000_only_when_needed() {
    let mut sim = Sim::new();
    // 20 bridges with an I/O BAR behind each: 80 KiB of 4 KiB windows do not all fit.
    for device in 0..20 {
        let (_, bus) = sim.add_bridge(ROOT, device, 0, BridgeCaps::FULL, &[]);
        sim.add_endpoint(bus, 0, 0, &[SimBar::Io(0x10)], 0, 0);
    }
    let (topology, plan) = run(&mut sim, &apertures(false));
    let io_windows: Vec<u64> =
        plan.functions.iter().filter_map(|f| f.windows.io.map(|w| w.base)).collect();
    // 0x1000..0x10000 minus 0xA000..0xB000 and 0xB000.. hit by the reserved ports: 13 fit.
    assert_eq!(io_windows.len(), 13);
    assert!(
        io_windows
            .iter()
            .all(|&b| b >= 0x1000 && b % 0x1000 == 0 && !(0xA000..0xC000).contains(&b))
    );
    assert_eq!(plan.unplaced.len(), 7);
    assert!(
        plan.unplaced.iter().all(|u| u.reason == UnplacedReason::NoSpace && u.kind == BarKind::Io)
    );
    assert_eq!(plan.io_used.unwrap().end, 0x1_0000);
    // A bridge whose only child got no I/O decodes nothing.
    let starved = topology.functions.iter().position(|f| f.bdf == plan.unplaced[0].bdf).unwrap();
    let bridge = topology.functions[starved].upstream.unwrap();
    assert_eq!(plan.functions[bridge].windows, BridgeWindows::default());
    let id = sim.locate(topology.functions[bridge].bdf).unwrap();
    assert_eq!(sim.peek16(id, reg::COMMAND) & 7, 0);
}

#[test]
fn large_64_bit_bars_go_high_and_the_window_is_unused_otherwise() {
    let mut sim = Sim::new();
    sim.add_endpoint(ROOT, 1, 0, &[mem64(0x4000_0000, true), mem32(0x1000)], 0, 0);
    let (_, plan) = run(&mut sim, &apertures(true));
    assert_eq!(plan.functions[0].bars, [Some(0x1_0000_0000), Some(0xFBFF_F000)]);
    assert_eq!(plan.high_mem_used, Some(0x1_0000_0000..0x1_4000_0000));
    assert_eq!(sim.peek32(0, 0x14), 1);

    let mut sim = Sim::new();
    sim.add_endpoint(ROOT, 1, 0, &[mem64(0x1000_0000, true)], 0, 0);
    let (_, plan) = run(&mut sim, &apertures(true));
    assert_eq!(plan.high_mem_used, None);
}

#[test]
fn wide_bars_move_up_when_the_hole_is_too_small() {
    let mut sim = Sim::new();
    for device in 1..=4 {
        sim.add_endpoint(ROOT, device, 0, &[mem64(0x1000_0000, false), mem32(0x1000)], 0, 0);
    }
    let small =
        Apertures { low_mem: 0xF000_0000..0xFC00_0000, low_mem_reserved: &[], ..apertures(true) };
    let (_, plan) = run(&mut sim, &small);
    assert!(plan.unplaced.is_empty());
    assert_eq!(plan.high_mem_used, Some(0x1_0000_0000..0x1_4000_0000));
    for f in &plan.functions {
        assert!(f.bars[0].unwrap() >= 0x1_0000_0000);
        assert!(f.bars[1].unwrap() >= 0xFBFF_C000);
    }
    // Without a 64-bit window, what does not fit is left out and reported.
    let (topology, plan) = run(&mut sim, &Apertures { high_mem: None, ..small });
    assert_eq!(plan.unplaced.len(), 4);
    for u in &plan.unplaced {
        assert_eq!(u.size, 0x1000_0000);
        let (i, _) = function_at(&topology, u.bdf);
        // Its memory BAR is 0 and memory decoding is off.
        assert_eq!(sim.peek32(i, 0x10), 4);
        assert_eq!(sim.peek16(i, reg::COMMAND) & command::MEMORY, 0);
    }
}

#[test]
fn prefetchable_window_goes_high_for_a_large_child() {
    let mut sim = Sim::new();
    let (bridge, bus) = sim.add_bridge(ROOT, 1, 0, BridgeCaps::FULL, &[]);
    sim.add_endpoint(
        bus,
        0,
        0,
        &[mem64(0x8000_0000, true), SimBar::Mem32 { size: 0x1000, prefetchable: true }],
        0,
        1,
    );
    let (_, plan) = run(&mut sim, &apertures(true));
    let windows = plan.functions[0].windows;
    assert_eq!(windows.prefetchable, Some(Resource { base: 0x1_0000_0000, size: 0x8000_0000 }));
    // The 32-bit prefetchable BAR went to the memory window, below 4 GiB.
    let mem = windows.mem.unwrap();
    assert_eq!(mem.size, 0x10_0000);
    assert_eq!(plan.functions[1].bars, [Some(0x1_0000_0000), Some(mem.base)]);
    // Registers: prefetchable base/limit with upper halves.
    assert_eq!(sim.peek16(bridge, 0x24) & 0xFFF0, 0);
    assert_eq!(sim.peek16(bridge, 0x26) & 0xFFF0, 0x7FF0);
    assert_eq!(sim.peek32(bridge, 0x28), 1);
    assert_eq!(sim.peek32(bridge, 0x2C), 1);
    assert_eq!(sim.peek16(bridge, reg::COMMAND) & 7, 6);
    // The I/O window is closed: base above limit.
    assert_eq!((sim.peek8(bridge, 0x1C), sim.peek8(bridge, 0x1D)), (0xF1, 0x01));
}

#[test]
fn io_behind_a_bridge_without_io_window_is_reported() {
    let mut sim = Sim::new();
    let caps = BridgeCaps { io: None, prefetchable: None };
    let (_, bus) = sim.add_bridge(ROOT, 1, 0, caps, &[]);
    let (_, bus2) = sim.add_bridge(bus, 0, 0, BridgeCaps::FULL, &[]);
    sim.add_endpoint(bus2, 0, 0, &[SimBar::Io(0x10), mem64(0x1000, true)], 0, 0);
    let (topology, plan) = run(&mut sim, &apertures(true));
    assert_eq!(topology.functions[0].bridge.unwrap().io, IoDecode::Absent);
    assert_eq!(
        plan.unplaced,
        [Unplaced {
            bdf: bdf(2, 0, 0),
            bar: BarRegister(0x10),
            kind: BarKind::Io,
            size: 0x10,
            reason: UnplacedReason::NoIoWindow { bridge: bdf(0, 1, 0) },
        }]
    );
    // The prefetchable BAR went through the inner bridge's prefetchable window, which
    // sits in the outer bridge's memory window.
    let outer = plan.functions[0].windows;
    let inner = plan.functions[1].windows;
    assert_eq!(outer.prefetchable, None);
    assert_eq!(outer.mem, inner.prefetchable);
}

#[test]
fn invalid_apertures_are_errors() {
    let topology = Topology::default();
    let bad = [
        Apertures { io: 0x100..0x1_0000, ..apertures(false) },
        Apertures { io: 0xC000..0x2_0000, ..apertures(false) },
        Apertures { low_mem: 0xF000_0000..0x1_1000_0000, ..apertures(false) },
        Apertures { high_mem: Some(0xF000_0000..0x2_0000_0000), ..apertures(false) },
        Apertures { low_mem: 0xF000_0000..0xF000_0000, ..apertures(false) },
    ];
    for apertures in bad {
        let err = plan(&topology, &apertures).unwrap_err();
        assert!(matches!(err, PlanError::InvalidRange { .. }));
    }
}

#[test]
fn a_plan_for_another_topology_is_refused() {
    let (mut sim, _) = two_level_tree();
    let topology = enumerate(&mut sim, 0).unwrap();
    let mut other = plan(&topology, &apertures(false)).unwrap();
    other.functions.pop();
    assert!(matches!(program(&mut sim, &topology, &other), Err(PlanError::PlanMismatch { .. })));
}

// ---- hot-plug reservations ----

const ROOT_PORT: SimCap = SimCap::Pcie { port_type: 4, slot: Some(true) };
const MIB: u64 = 1 << 20;

/// A QEMU `pcie-root-port` as seen by the firmware: full windows, a hot-plug capable slot.
fn root_port(sim: &mut Sim, device: u8, extra: &[SimCap]) -> (FnId, BusId) {
    let (id, bus) = sim.add_bridge(ROOT, device, 0, BridgeCaps::FULL, &[]);
    sim.poke(id, reg::DEVICE_ID, &0x000Cu16.to_le_bytes());
    sim.add_capability(id, &ROOT_PORT);
    for cap in extra {
        sim.add_capability(id, cap);
    }
    (id, bus)
}

fn windows_of(topology: &Topology, plan: &Plan, bdf: Bdf) -> BridgeWindows {
    plan.functions[function_at(topology, bdf).0].windows
}

fn sizes(w: BridgeWindows) -> [Option<u64>; 3] {
    [w.io, w.mem, w.prefetchable].map(|w| w.map(|w| w.size))
}

#[test]
fn hotplug_capable_bridges_get_linux_default_reservations() {
    let mut sim = Sim::new();
    // 00:01: empty hot-plug slot; 00:02: slot with a small device; 00:03: a slot without
    // hot-plug; 00:04: an SHPC bridge; 00:05: an upstream port claiming a slot (ignored, as
    // Linux ignores Slot Capabilities there).
    root_port(&mut sim, 1, &[]);
    let (_, bus) = root_port(&mut sim, 2, &[]);
    sim.add_endpoint(bus, 0, 0, &[mem32(0x1000), mem64(0x4000, true)], 0, 1);
    let (plain, bus) = sim.add_bridge(ROOT, 3, 0, BridgeCaps::FULL, &[]);
    sim.add_capability(plain, &SimCap::Pcie { port_type: 4, slot: Some(false) });
    sim.add_endpoint(bus, 0, 0, &[mem32(0x1000)], 0, 1);
    let (shpc, _) = sim.add_bridge(ROOT, 4, 0, BridgeCaps::FULL, &[mem64(0x100, false)]);
    sim.add_capability(shpc, &SimCap::Shpc);
    let (upstream, _) = sim.add_bridge(ROOT, 5, 0, BridgeCaps::FULL, &[]);
    sim.add_capability(upstream, &SimCap::Pcie { port_type: 5, slot: Some(true) });
    let (topology, plan) = run(&mut sim, &apertures(true));
    check_run(&mut sim, &topology, &plan, &apertures(true));

    let reservation = |d| function_at(&topology, bdf(0, d, 0)).1.bridge.unwrap().reservation;
    assert_eq!(reservation(1).hotplug, Some(HotplugSlot::Pcie));
    assert_eq!(reservation(4).hotplug, Some(HotplugSlot::Shpc));
    assert!(!reservation(3).any() && !reservation(5).any());
    let full = [Some(0x1000), Some(2 * MIB), Some(2 * MIB)];
    for d in [1, 2, 4] {
        let w = windows_of(&topology, &plan, bdf(0, d, 0));
        assert_eq!(sizes(w), full, "00:{d:02x}.0");
        // Aligned to the reserved size, so a hot-plugged 2 MiB BAR fits.
        assert_eq!(w.mem.unwrap().base % (2 * MIB), 0);
        assert_eq!(w.prefetchable.unwrap().base % (2 * MIB), 0);
    }
    // The device in the slot sits in the reserved windows.
    let (_, dev) = function_at(&topology, bdf(2, 0, 0));
    assert_eq!(dev.bars.len(), 2);
    // Without hot-plug: only what the devices need, nothing for the empty upstream port.
    assert_eq!(sizes(windows_of(&topology, &plan, bdf(0, 3, 0))), [None, Some(MIB), None]);
    assert_eq!(windows_of(&topology, &plan, bdf(0, 5, 0)), BridgeWindows::default());
    assert!(plan.dropped_reservations.is_empty());
    // Registers: the empty slot's windows are open and programmed.
    let id = sim.locate(bdf(0, 1, 0)).unwrap();
    assert_eq!(sim.peek16(id, reg::COMMAND) & 7, 7);
}

#[test]
fn no_reservation_for_windows_the_bridge_does_not_have() {
    let mut sim = Sim::new();
    let caps = BridgeCaps { io: None, prefetchable: None };
    let (outer, bus) = sim.add_bridge(ROOT, 1, 0, caps, &[]);
    sim.add_capability(outer, &ROOT_PORT);
    // Behind a bridge without I/O window, an inner I/O reservation is unreachable.
    let (inner, _) = sim.add_bridge(bus, 0, 0, BridgeCaps::FULL, &[]);
    sim.add_capability(inner, &SimCap::Pcie { port_type: 6, slot: Some(true) });
    let (topology, plan) = run(&mut sim, &apertures(true));
    check_run(&mut sim, &topology, &plan, &apertures(true));
    let r = topology.functions[0].bridge.unwrap().reservation;
    assert_eq!((r.io, r.mem, r.prefetchable), (0, 2 * MIB, 0));
    // The inner port's windows (2 MiB memory, 2 MiB prefetchable through the outer
    // memory window) fill the outer memory window, which needs no more for itself.
    assert_eq!(sizes(windows_of(&topology, &plan, bdf(0, 1, 0))), [None, Some(4 * MIB), None]);
    assert_eq!(
        sizes(windows_of(&topology, &plan, bdf(1, 0, 0))),
        [None, Some(2 * MIB), Some(2 * MIB)]
    );
}

#[test]
fn qemu_resource_reserve_capability_overrides_the_defaults() {
    let mut sim = Sim::new();
    let wish = QemuReserve { bus: 3, io: 0, mem: 8 << 20, pref64: 1 << 30, ..QemuReserve::NONE };
    root_port(&mut sim, 1, &[SimCap::QemuReserve(wish)]);
    // The capability counts even without a hot-plug slot; pref32 keeps the window low.
    let (plain, _) = sim.add_bridge(ROOT, 2, 0, BridgeCaps::FULL, &[]);
    sim.poke(plain, reg::DEVICE_ID, &0x000Cu16.to_le_bytes());
    let pref32 = QemuReserve { pref32: 4 << 20, ..QemuReserve::NONE };
    sim.add_capability(plain, &SimCap::QemuReserve(pref32));
    // Another vendor's vendor-specific capability with the same bytes means nothing.
    let (other, _) = sim.add_bridge(ROOT, 3, 0, BridgeCaps::FULL, &[]);
    sim.poke(other, reg::VENDOR_ID, &0x8086u16.to_le_bytes());
    sim.add_capability(other, &SimCap::QemuReserve(wish));
    // A Red Hat vendor capability of another type is not a reservation either.
    let (typed, _) = sim.add_bridge(ROOT, 4, 0, BridgeCaps::FULL, &[]);
    sim.add_capability(typed, &SimCap::Vendor([32, 2].into_iter().chain([0; 28]).collect()));
    let (topology, plan) = run(&mut sim, &apertures(true));
    check_run(&mut sim, &topology, &plan, &apertures(true));

    let rp = function_at(&topology, bdf(0, 1, 0)).1.bridge.unwrap();
    assert!(rp.reservation.qemu_hint);
    // Bus 1 and 3 more for bridges hot-plugged behind it; the next bridge gets bus 5.
    assert_eq!((rp.secondary_bus, rp.subordinate_bus), (1, 4));
    assert_eq!(function_at(&topology, bdf(0, 2, 0)).1.bridge.unwrap().secondary_bus, 5);
    assert_eq!(topology.last_bus, 7);
    let w = windows_of(&topology, &plan, bdf(0, 1, 0));
    assert_eq!(sizes(w), [None, Some(8 * MIB), Some(1 << 30)]);
    // 1 GiB of 64-bit prefetchable room goes above 4 GiB, like a 1 GiB BAR would.
    assert_eq!(w.prefetchable.unwrap().base, HIGH.start);
    let w = windows_of(&topology, &plan, bdf(0, 2, 0));
    assert_eq!(sizes(w), [None, None, Some(4 * MIB)]);
    assert!(w.prefetchable.unwrap().end() <= 1 << 32);
    assert_eq!(windows_of(&topology, &plan, bdf(0, 3, 0)), BridgeWindows::default());
    assert_eq!(windows_of(&topology, &plan, bdf(0, 4, 0)), BridgeWindows::default());
}

#[test]
fn bus_reservations_stop_at_bus_255() {
    let mut sim = Sim::new();
    let wish = QemuReserve { bus: 1000, ..QemuReserve::NONE };
    root_port(&mut sim, 1, &[SimCap::QemuReserve(wish)]);
    let (_, bus) = root_port(&mut sim, 2, &[]);
    sim.add_endpoint(bus, 0, 0, &[mem32(0x1000)], 0, 1);
    let topology = enumerate(&mut sim, 0).unwrap();
    let rp = topology.functions[0].bridge.unwrap();
    assert_eq!((rp.secondary_bus, rp.subordinate_bus), (1, 255));
    // Nothing is left for the second port: reported, its device not enumerated.
    assert_eq!(topology.problems, [PciProblem::OutOfBusNumbers { bridge: bdf(0, 2, 0) }]);
}

#[test]
fn reservations_give_way_to_devices_and_are_reported() {
    // 16 MiB of hole: an 8 MiB BAR on bus 0 and four hot-plug ports with a 1 MiB device
    // each need 12 MiB; their reservations would need 16 MiB more.
    let mut sim = Sim::new();
    sim.add_endpoint(ROOT, 0, 0, &[mem32(8 << 20)], 0, 0);
    for device in 1..=4 {
        let (_, bus) = root_port(&mut sim, device, &[]);
        sim.add_endpoint(bus, 0, 0, &[mem32(1 << 20), SimBar::Io(0x10)], 0, 1);
    }
    let small = Apertures {
        low_mem: 0xFB00_0000..0xFC00_0000,
        low_mem_reserved: &[],
        high_mem: None,
        ..apertures(false)
    };
    let (topology, plan) = run(&mut sim, &small);
    check_run(&mut sim, &topology, &plan, &small);
    assert!(plan.unplaced.is_empty(), "{:?}", plan.unplaced);
    assert!(!plan.dropped_reservations.is_empty());
    // Each bridge kept its reservations or reported them; I/O, which had room, kept them all.
    for d in &plan.dropped_reservations {
        assert_eq!(d.io, 0);
    }
    for device in 1..=4 {
        let w = windows_of(&topology, &plan, bdf(0, device, 0));
        assert_eq!(w.io.unwrap().size, 0x1000);
    }
    // What is kept is used: the hole is full but for less than one reservation.
    let used = plan.low_mem_used.clone().unwrap();
    assert!(used.end - used.start > 14 << 20, "{used:x?}");
    let line = alloc::format!("{}", plan.dropped_reservations[0]);
    assert!(line.contains("no room for the hot-plug reservation of"), "{line}");
}

#[test]
fn io_reservations_give_way_to_io_bars() {
    // 20 hot-plug ports: 80 KiB of I/O reservations cannot fit in the I/O space, and the
    // I/O BARs on bus 0 must be placed all the same.
    let mut sim = Sim::new();
    sim.add_endpoint(ROOT, 0, 0, &[SimBar::Io(0x100); 6], 0, 0);
    for device in 1..=20 {
        root_port(&mut sim, device, &[]);
    }
    let (topology, plan) = run(&mut sim, &apertures(true));
    check_run(&mut sim, &topology, &plan, &apertures(true));
    assert!(plan.unplaced.is_empty(), "{:?}", plan.unplaced);
    let kept = plan.functions.iter().filter(|f| f.windows.io.is_some()).count();
    assert_eq!(kept + plan.dropped_reservations.len(), 20);
    // Every free 4 KiB block of 0x1000..0x10000: 0x1000-0x9FFF and 0xC000-0xFFFF; the BARs
    // went between the reserved ports, where no window fits.
    assert_eq!(kept, 13);
    assert!(plan.functions[0].bars.iter().all(|b| (0xA000..0xC000).contains(&b.unwrap())));
    assert!(plan.dropped_reservations.iter().all(|d| d.io == 0x1000 && d.mem == 0));
}

// ---- interrupts ----

#[test]
fn intx_is_swizzled_through_each_bridge() {
    let (mut sim, _) = two_level_tree();
    let (topology, _) = run(&mut sim, &apertures(false));
    let routes = route_intx(
        &topology,
        |d, p: IntxPin| IntxWiring::Xen.bus0_link(d, p) as u8,
        |e, p| IntxWiring::Xen.expander_input(e, p),
    );
    let route = |b: Bdf| *routes.iter().find(|r| r.bdf == b).unwrap();
    // 02:05.0 INTA -> (B at 01:00) INTB -> (A at 00:01) INTB, device 1: link (1 + 1) & 3.
    let deep = route(bdf(2, 5, 0));
    assert_eq!((deep.root_device, deep.root_pin, deep.link), (1, IntxPin::B, 2));
    // 03:00.0 INTB -> (C at 00:02) INTB: link (1 + 2) & 3.
    let shallow = route(bdf(3, 0, 0));
    assert_eq!((shallow.root_device, shallow.root_pin, shallow.link), (2, IntxPin::B, 3));
    // Bridges A and C themselves raise INTA: links 1 and 2.
    assert_eq!(route(bdf(0, 1, 0)).link, 1);
    // Interrupt lines written from the link table.
    let line = |sim: &mut Sim, b: Bdf| {
        let id = sim.locate(b).unwrap();
        sim.peek8(id, reg::INTERRUPT_LINE)
    };
    assert_eq!(line(&mut sim, bdf(2, 5, 0)), LINK_IRQS[2]);
    assert_eq!(line(&mut sim, bdf(3, 0, 0)), LINK_IRQS[3]);
    // A chipset rule given as a closure (here: everything on link 7, not in the table).
    let routes = route_intx(&topology, |_, _| 7, |e, p| (e, p));
    assert!(routes.iter().all(|r| r.link == 7));
    program_interrupt_lines(&mut sim, &routes, &LINK_IRQS);
    assert_eq!(line(&mut sim, bdf(2, 5, 0)), 0xFF);
}

// ---- SR-IOV ----

#[test]
fn vf_bars_are_sized_for_every_vf_and_placed_in_the_bridge_windows() {
    let mut sim = Sim::new();
    sim.add_endpoint(ROOT, 0, 0, &[], 0, 0);
    let (_, bus) = root_port(&mut sim, 1, &[]);
    let pf = sim.add_endpoint(bus, 0, 0, &[mem64(0x4000, false)], 0, 1);
    let cap = sim.add_sriov(pf, 3, &[mem64(0x4000, false), mem64(0x10_0000, true)]);
    // What an earlier run (or firmware) left: VFs enabled.
    sim.write_masked(pf, cap + 0x08, &0x0009u16.to_le_bytes());
    sim.write_masked(pf, cap + 0x10, &3u16.to_le_bytes());

    let (topology, plan) = run(&mut sim, &apertures(false));
    check_run(&mut sim, &topology, &plan, &apertures(false));
    let (index, function) = function_at(&topology, bdf(1, 0, 0));
    let vf: Vec<&Bar> = function.bars.iter().filter(|b| b.is_vf()).collect();
    assert_eq!(vf.len(), 2);
    // Room for all three VFs, aligned to one VF's BAR.
    assert_eq!(
        (vf[0].register.0, vf[0].size, vf[0].align(), vf[0].vfs),
        (0x124, 0xC000, 0x4000, 3)
    );
    assert_eq!((vf[1].register.0, vf[1].size, vf[1].align()), (0x12C, 0x30_0000, 0x10_0000));
    assert_eq!(vf[1].kind, BarKind::Mem64 { prefetchable: true });
    let windows = windows_of(&topology, &plan, bdf(0, 1, 0));
    for (bar, placed) in function.bars.iter().zip(&plan.functions[index].bars) {
        let r = Resource { base: placed.expect("placed"), size: bar.size };
        assert!(inside(windows.mem, r) || inside(windows.prefetchable, r), "{r} {windows:?}");
    }
    // VFs left disabled, NumVFs 0; the PF decodes its own BAR.
    assert_eq!(sim.peek16(pf, cap + 0x08) & 0x000B, 0);
    assert_eq!(sim.peek16(pf, cap + 0x10), 0);
    assert_ne!(sim.peek16(pf, reg::COMMAND) & command::MEMORY, 0);
}

#[test]
fn vf_bars_that_are_not_memory_or_too_large_are_reported() {
    let mut sim = Sim::new();
    sim.add_endpoint(ROOT, 0, 0, &[], 0, 0);
    let pf = sim.add_endpoint(ROOT, 2, 0, &[mem32(0x1000)], 0, 0);
    sim.add_sriov(
        pf,
        0x8000,
        &[SimBar::Io(0x100), SimBar::Mem32 { size: 1 << 20, prefetchable: false }],
    );
    let (topology, _) = run(&mut sim, &apertures(false));
    let b = bdf(0, 2, 0);
    assert_eq!(
        topology.problems,
        [
            PciProblem::VfBarNotMemory { bdf: b, bar: BarRegister(0x124) },
            PciProblem::VfBarsTooLarge {
                bdf: b,
                bar: BarRegister(0x128),
                size: 1 << 20,
                total: 0x8000
            },
        ]
    );
    assert!(topology.functions[1].bars.iter().all(|bar| !bar.is_vf()));
    // A conventional function's extended space reads all ones: no capability, no VF BARs.
    let mut plain = Sim::new();
    plain.add_endpoint(ROOT, 0, 0, &[mem32(0x1000)], 0, 0);
    let (topology, _) = run(&mut plain, &apertures(false));
    assert_eq!(topology.functions[0].bars.len(), 1);
}

// ---- properties over random topologies ----

#[derive(Clone, Debug)]
struct SimFunctionSpec {
    bars: Vec<SimBar>,
    rom: u32,
    pin: u8,
    /// An SR-IOV capability: TotalVFs and the VF BARs.
    sriov: Option<(u16, Vec<SimBar>)>,
}

#[derive(Clone, Debug)]
enum Node {
    /// A device with functions 0, 2, 4... (a gap tests that multi-function scanning goes on).
    Device(Vec<SimFunctionSpec>),
    /// A bridge, its capabilities (hot-plug, QEMU's hints) and what is behind it.
    Bridge(BridgeCaps, Vec<SimCap>, Vec<Node>),
}

fn bar_strategy() -> impl Strategy<Value = SimBar> {
    prop_oneof![
        1 => (2u32..=8).prop_map(|s| SimBar::Io(1 << s)),
        4 => (4u32..=24, any::<bool>()).prop_map(|(s, prefetchable)| SimBar::Mem32 {
            size: 1 << s,
            prefetchable
        }),
        1 => (20u32..=30, any::<bool>()).prop_map(|(s, prefetchable)| SimBar::Mem32 {
            size: 1 << s,
            prefetchable
        }),
        4 => (4u32..=24, any::<bool>()).prop_map(|(s, p)| mem64(1 << s, p)),
        1 => (24u32..=36, any::<bool>()).prop_map(|(s, p)| mem64(1 << s, p)),
    ]
}

/// VF BARs: memory only, the sizes SR-IOV devices have (a page up to a few MiB, 64-bit
/// prefetchable ones larger).
fn vf_bar_strategy() -> impl Strategy<Value = SimBar> {
    prop_oneof![
        1 => (12u32..=20, any::<bool>()).prop_map(|(s, prefetchable)| SimBar::Mem32 {
            size: 1 << s,
            prefetchable
        }),
        2 => (12u32..=28, any::<bool>()).prop_map(|(s, p)| mem64(1 << s, p)),
    ]
}

fn function_strategy() -> impl Strategy<Value = SimFunctionSpec> {
    let sriov = (1u16..=7, prop::collection::vec(vf_bar_strategy(), 1..=2));
    (
        prop::collection::vec(bar_strategy(), 0..=3),
        prop_oneof![3 => Just(0), 1 => (11u32..=17).prop_map(|s| 1 << s)],
        0u8..=4,
        prop::option::weighted(0.15, sriov),
    )
        .prop_map(|(bars, rom, pin, sriov)| SimFunctionSpec { bars, rom, pin, sriov })
}

fn caps_strategy() -> impl Strategy<Value = BridgeCaps> {
    let io = prop_oneof![1 => Just(None), 1 => Just(Some(false)), 4 => Just(Some(true))];
    let pref = prop_oneof![1 => Just(None), 1 => Just(Some(false)), 4 => Just(Some(true))];
    (io, pref).prop_map(|(io, prefetchable)| BridgeCaps { io, prefetchable })
}

/// A field of QEMU's capability: mostly "no wish", sometimes 0 or a power of two.
fn wish<T: From<u32> + Copy + core::fmt::Debug + 'static>(
    none: T,
    max_shift: u32,
) -> impl Strategy<Value = T> {
    prop_oneof![
        3 => Just(none),
        1 => Just(T::from(0)),
        2 => (0..=max_shift).prop_map(|s| T::from(1u32 << s)),
    ]
}

fn hotplug_strategy() -> impl Strategy<Value = Vec<SimCap>> {
    let slot = prop_oneof![
        3 => Just(Vec::new()),
        3 => (prop_oneof![Just(4u8), Just(6), Just(5), Just(0)], any::<Option<bool>>())
            .prop_map(|(port_type, slot)| [SimCap::Pcie { port_type, slot }].to_vec()),
        1 => Just([SimCap::Shpc].to_vec()),
    ];
    let reserve = (
        wish(u32::MAX, 2),
        wish(u64::MAX, 16),
        wish(u32::MAX, 26),
        wish(u32::MAX, 24),
        wish(u64::MAX, 31),
    )
        .prop_map(|(bus, io, mem, pref32, pref64)| {
            // QEMU refuses both prefetchable wishes at once.
            let pref64 = if pref32 == u32::MAX { pref64 } else { u64::MAX };
            SimCap::QemuReserve(QemuReserve { bus, io, mem, pref32, pref64 })
        });
    (slot, prop::option::weighted(0.3, reserve)).prop_map(|(mut caps, reserve)| {
        caps.extend(reserve);
        caps
    })
}

fn tree_strategy() -> impl Strategy<Value = Vec<Node>> {
    let leaf = prop::collection::vec(function_strategy(), 1..=3).prop_map(Node::Device);
    let node = leaf.prop_recursive(3, 24, 4, |inner| {
        (caps_strategy(), hotplug_strategy(), prop::collection::vec(inner, 0..=4))
            .prop_map(|(c, h, n)| Node::Bridge(c, h, n))
    });
    prop::collection::vec(node, 1..=5)
}

fn build(sim: &mut Sim, bus: BusId, nodes: &[Node], first_device: u8) {
    for (i, node) in nodes.iter().enumerate() {
        let device = first_device + 5 * i as u8;
        match node {
            Node::Device(functions) => {
                for (f, spec) in functions.iter().enumerate() {
                    let id =
                        sim.add_endpoint(bus, device, 2 * f as u8, &spec.bars, spec.rom, spec.pin);
                    if let Some((total, vf_bars)) = &spec.sriov {
                        sim.add_sriov(id, *total, vf_bars);
                    }
                }
            }
            Node::Bridge(caps, hotplug, children) => {
                let (id, child) = sim.add_bridge(bus, device, 0, *caps, &[]);
                for cap in hotplug {
                    sim.add_capability(id, cap);
                }
                build(sim, child, children, 0);
            }
        }
    }
}

/// Bus numbers of the expanders' root buses in the random machines: above anything bus 0's
/// trees number, with room between them.
const EXPANDER_BUSES: [u8; 2] = [0x60, 0xA0];

/// Bus 0 with `nodes`, and one expander (slots 30 and 31) per entry of `expanders`, each
/// with that tree on its root bus.
fn build_sim_with_expanders(nodes: &[Node], expanders: &[Vec<Node>]) -> Sim {
    let mut sim = Sim::new();
    sim.add_endpoint(ROOT, 0, 0, &[], 0, 0);
    build(&mut sim, ROOT, nodes, 1);
    for (i, tree) in expanders.iter().enumerate() {
        let (_, bus) = sim.add_expander(30 + i as u8, EXPANDER_BUSES[i]);
        build(&mut sim, bus, tree, 0);
    }
    sim
}

/// A window as its registers describe it, `None` when closed.
fn window(base: u64, limit: u64) -> Option<Resource> {
    (base <= limit).then(|| Resource { base, size: limit - base + 1 })
}

/// A bridge's windows read back from its registers.
fn windows_from_registers(sim: &Sim, id: FnId, info: &BridgeInfo) -> BridgeWindows {
    let mut windows = BridgeWindows::default();
    if info.io != IoDecode::Absent {
        let upper =
            |o| if info.io == IoDecode::Bits32 { u64::from(sim.peek16(id, o)) << 16 } else { 0 };
        let base = u64::from(sim.peek8(id, 0x1C) & 0xF0) << 8 | upper(0x30);
        let limit = u64::from(sim.peek8(id, 0x1D) & 0xF0) << 8 | 0xFFF | upper(0x32);
        windows.io = window(base, limit);
    }
    let base = u64::from(sim.peek16(id, 0x20) & 0xFFF0) << 16;
    let limit = u64::from(sim.peek16(id, 0x22) & 0xFFF0) << 16 | 0xF_FFFF;
    windows.mem = window(base, limit);
    if info.prefetchable != PrefDecode::Absent {
        let wide = info.prefetchable == PrefDecode::Bits64;
        let upper = |o| if wide { u64::from(sim.peek32(id, o)) << 32 } else { 0 };
        let base = u64::from(sim.peek16(id, 0x24) & 0xFFF0) << 16 | upper(0x28);
        let limit = u64::from(sim.peek16(id, 0x26) & 0xFFF0) << 16 | 0xF_FFFF | upper(0x2C);
        windows.prefetchable = window(base, limit);
    }
    windows
}

/// The address a BAR's registers hold.
fn bar_from_registers(sim: &Sim, id: FnId, bar: &Bar) -> u64 {
    let offset = bar.register.0;
    let low = sim.peek32(id, offset);
    match bar.kind {
        BarKind::Io => u64::from(low & !3),
        BarKind::Rom => u64::from(low & !0x7FF),
        BarKind::Mem32 { .. } => u64::from(low & !0xF),
        BarKind::Mem64 { .. } => {
            u64::from(low & !0xF) | u64::from(sim.peek32(id, offset + 4)) << 32
        }
    }
}

fn inside(outer: Option<Resource>, inner: Resource) -> bool {
    outer.is_some_and(|o| o.base <= inner.base && inner.end() <= o.end())
}

fn overlaps(a: Resource, b: Resource) -> bool {
    a.base < b.end() && b.base < a.end()
}

fn in_aperture(range: &Range<u64>, reserved: &[Range<u64>], r: Resource) -> bool {
    range.start <= r.base
        && r.end() <= range.end
        && reserved.iter().all(|x| r.end() <= x.start || x.end <= r.base)
}

/// A resource on a bus: a BAR of a function on it or a window of a bridge on it.
#[derive(Clone, Copy, Debug)]
struct OnBus {
    io: bool,
    resource: Resource,
    /// Must be below 4 GiB.
    is_32bit: bool,
    /// For a BAR: prefetchable memory; it may sit in the prefetchable window.
    prefetchable: bool,
    /// A bridge window, not a BAR.
    window: bool,
}

/// Every BAR and window on the bus behind `upstream` (`None`: bus 0), from the registers.
fn resources_on_bus(
    sim: &Sim,
    topology: &Topology,
    plan: &Plan,
    ids: &[FnId],
    upstream: Option<usize>,
) -> Vec<OnBus> {
    let mut out = Vec::new();
    for (i, f) in topology.functions.iter().enumerate() {
        if f.upstream != upstream {
            continue;
        }
        for (bar, placed) in f.bars.iter().zip(&plan.functions[i].bars) {
            if placed.is_some() {
                out.push(OnBus {
                    io: bar.kind.is_io(),
                    resource: Resource {
                        base: bar_from_registers(sim, ids[i], bar),
                        size: bar.size,
                    },
                    is_32bit: !bar.kind.is_64bit(),
                    prefetchable: bar.kind.is_prefetchable(),
                    window: false,
                });
            }
        }
        if let Some(info) = &f.bridge {
            // An expander's windows are in the plan only (and the ACPI tables).
            let w = if info.expander {
                plan.functions[i].windows
            } else {
                windows_from_registers(sim, ids[i], info)
            };
            for (resource, io, is_32bit, prefetchable) in [
                (w.io, true, true, false),
                (w.mem, false, true, false),
                (w.prefetchable, false, info.prefetchable != PrefDecode::Bits64, true),
            ] {
                if let Some(resource) = resource {
                    out.push(OnBus { io, resource, is_32bit, prefetchable, window: true });
                }
            }
        }
    }
    out
}

/// Upper bound of the room a bus's resources need, for the "everything fits" property:
/// a BAR with its alignment padding needs at most twice its size; a window at most twice
/// its contents plus its granule (padding before it is below its alignment, which is at most
/// granule plus contents). Returns (I/O, memory).
fn demand_bound(topology: &Topology, upstream: Option<usize>) -> (u128, u128) {
    let (mut io, mut mem) = (0u128, 0u128);
    for (i, f) in topology.functions.iter().enumerate() {
        if f.upstream != upstream {
            continue;
        }
        for bar in &f.bars {
            let need = 2 * u128::from(bar.size);
            if bar.kind.is_io() { io += need } else { mem += need }
        }
        if let Some(info) = &f.bridge {
            // A reservation at most adds its size, and its alignment is at most its size.
            let r = &info.reservation;
            let (child_io, child_mem) = demand_bound(topology, Some(i));
            io += 2 * (child_io + 0x1000 + u128::from(r.io));
            mem += 2 * (child_mem + 2 * 0x10_0000 + u128::from(r.mem) + u128::from(r.prefetchable));
        }
    }
    (io, mem)
}

fn largest_free(range: &Range<u64>, reserved: &[Range<u64>]) -> u128 {
    super::freelist::FreeList::new(range, reserved).largest()
}

/// Every property of one run, checked on the simulated registers.
fn check_run(sim: &mut Sim, topology: &Topology, plan: &Plan, apertures: &Apertures) {
    assert_eq!(sim.routing_conflicts, 0);
    assert!(topology.problems.is_empty(), "{:?}", topology.problems);
    // Every simulated function was found, each once.
    let ids: Vec<FnId> = topology.functions.iter().map(|f| sim.locate(f.bdf).unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), sim.functions.len());

    // Bus numbers: every function sits on its bridge's secondary bus; subordinate is the
    // highest bus below; the registers say so.
    for (i, f) in topology.functions.iter().enumerate() {
        let bus = f.upstream.map_or(0, |up| topology.functions[up].bridge.unwrap().secondary_bus);
        assert_eq!(f.bdf.bus(), bus);
        if let Some(info) = &f.bridge {
            assert!(info.secondary_bus > f.bdf.bus());
            // The highest bus below: a function's bus, or an empty bus behind a bridge.
            let below = topology
                .functions
                .iter()
                .filter(|g| (info.secondary_bus..=info.subordinate_bus).contains(&g.bdf.bus()))
                .flat_map(|g| [Some(g.bdf.bus()), g.bridge.map(|b| b.subordinate_bus)])
                .flatten()
                .max()
                .unwrap_or(info.secondary_bus);
            // Or more, for the bus numbers it reserves, up to the next root bus.
            let limit = topology
                .functions
                .iter()
                .filter_map(|g| g.bridge.filter(|b| b.expander))
                .map(|b| u16::from(b.secondary_bus) - 1)
                .filter(|&l| l >= u16::from(info.secondary_bus))
                .min()
                .unwrap_or(0xFF);
            let reserved = (u16::from(info.secondary_bus) + u16::from(info.reservation.buses))
                .min(limit) as u8;
            assert_eq!(info.subordinate_bus, below.max(reserved));
            if !info.expander {
                assert_eq!(
                    bus_numbers(sim, ids[i]),
                    [f.bdf.bus(), info.secondary_bus, info.subordinate_bus]
                );
            }
            if let Some(up) = f.upstream {
                let parent = topology.functions[up].bridge.unwrap();
                assert!(parent.secondary_bus < info.secondary_bus);
                assert!(info.subordinate_bus <= parent.subordinate_bus);
            }
        }
    }

    // The registers hold the plan; unplaced BARs are 0 and reported.
    let mut unreported = Vec::new();
    for (i, f) in topology.functions.iter().enumerate() {
        let mut mem_missing = false;
        let mut io_missing = false;
        for (bar, placed) in f.bars.iter().zip(&plan.functions[i].bars) {
            let address = bar_from_registers(sim, ids[i], bar);
            assert_eq!(address, placed.unwrap_or(0), "{} {}", f.bdf, bar.register);
            if let Some(base) = placed {
                assert_eq!(base % bar.align(), 0, "{} {} misaligned", f.bdf, bar.register);
            } else {
                unreported.push((f.bdf, bar.register));
                match bar.kind {
                    _ if bar.is_vf() => {}
                    BarKind::Io => io_missing = true,
                    BarKind::Rom => {}
                    _ => mem_missing = true,
                }
            }
            if bar.kind == BarKind::Rom {
                assert_eq!(sim.peek32(ids[i], bar.register.0) & 1, u32::from(placed.is_some()));
            }
        }
        let command = sim.peek16(ids[i], reg::COMMAND);
        if mem_missing {
            assert_eq!(command & command::MEMORY, 0);
        }
        if io_missing {
            assert_eq!(command & command::IO, 0);
        }
        if let Some(info) = f.bridge.as_ref().filter(|b| !b.expander) {
            assert_eq!(windows_from_registers(sim, ids[i], info), plan.functions[i].windows);
        }
    }
    let mut reported: Vec<_> = plan.unplaced.iter().map(|u| (u.bdf, u.bar)).collect();
    reported.sort();
    unreported.sort();
    assert_eq!(reported, unreported);

    check_reservations(topology, plan);

    // Containment and no overlap, bus by bus: siblings are disjoint, each inside the
    // matching window of the bridge above, bus 0's inside the apertures.
    let buses = core::iter::once(None).chain(
        (0..topology.functions.len()).filter(|&i| topology.functions[i].bridge.is_some()).map(Some),
    );
    for upstream in buses {
        let on_bus = resources_on_bus(sim, topology, plan, &ids, upstream);
        for (a, x) in on_bus.iter().enumerate() {
            for y in &on_bus[a + 1..] {
                assert!(x.io != y.io || !overlaps(x.resource, y.resource), "{x:?} overlaps {y:?}");
            }
            if x.is_32bit && !x.io {
                assert!(x.resource.end() <= 1 << 32, "{x:?} above 4 GiB");
            }
            match upstream {
                None if x.io => {
                    assert!(in_aperture(&apertures.io, apertures.io_reserved, x.resource), "{x:?}")
                }
                None => assert!(
                    in_aperture(&apertures.low_mem, apertures.low_mem_reserved, x.resource)
                        || apertures.high_mem.as_ref().is_some_and(|h| in_aperture(
                            h,
                            &[],
                            x.resource
                        )),
                    "{x:?} outside the apertures"
                ),
                Some(up) => {
                    let w = plan.functions[up].windows;
                    let ok = if x.io {
                        inside(w.io, x.resource)
                    } else {
                        inside(w.mem, x.resource)
                            || x.prefetchable && inside(w.prefetchable, x.resource)
                    };
                    assert!(
                        ok,
                        "{x:?} outside the windows {w:?} of {}",
                        topology.functions[up].bdf
                    );
                }
            }
            if x.window {
                assert!(x.resource.size > 0);
            }
        }
    }

    // Everything fits when the demand is small; only unreachable I/O is left out then.
    let (io_bound, mem_bound) = demand_bound(topology, None);
    if io_bound <= largest_free(&apertures.io, apertures.io_reserved)
        && mem_bound <= largest_free(&apertures.low_mem, apertures.low_mem_reserved)
    {
        for u in &plan.unplaced {
            assert!(matches!(u.reason, UnplacedReason::NoIoWindow { .. }), "{u}");
        }
        assert!(plan.dropped_reservations.is_empty(), "{:?}", plan.dropped_reservations);
    }
    for u in &plan.unplaced {
        if let UnplacedReason::NoIoWindow { bridge } = u.reason {
            let (_, b) = function_at(topology, bridge);
            assert_eq!(b.bridge.unwrap().io, IoDecode::Absent);
        }
    }
}

/// Every hot-plug reservation is kept (the window is at least the reserved size, rounded up
/// to its granule) or reported given up, with the size asked for, in one entry per bridge.
/// (That they overlap nothing and still contain the children is checked with all windows.)
fn check_reservations(topology: &Topology, plan: &Plan) {
    let mut bridges: Vec<Bdf> = plan.dropped_reservations.iter().map(|d| d.bridge).collect();
    let entries = bridges.len();
    bridges.dedup();
    assert_eq!(bridges.len(), entries, "one entry per bridge: {:?}", plan.dropped_reservations);
    for d in &plan.dropped_reservations {
        assert!(d.io != 0 || d.mem != 0 || d.prefetchable != 0, "{d:?}");
        // The line the firmware logs names the bridge.
        assert!(alloc::format!("{d}").starts_with(&alloc::format!("{}: ", d.bridge)));
    }
    let functions = &topology.functions;
    for (i, f) in functions.iter().enumerate() {
        let Some(info) = &f.bridge else {
            continue;
        };
        let r = &info.reservation;
        // No I/O is reserved behind a bridge without an I/O window.
        let io_reachable = core::iter::successors(Some(i), |&j| functions[j].upstream)
            .all(|j| functions[j].bridge.unwrap().io != IoDecode::Absent);
        let dropped = plan.dropped_reservations.iter().find(|d| d.bridge == f.bdf);
        let w = plan.functions[i].windows;
        for (name, reserve, window, granule, given_up) in [
            ("io", if io_reachable { r.io } else { 0 }, w.io, 0x1000, dropped.map(|d| d.io)),
            ("mem", r.mem, w.mem, 0x10_0000, dropped.map(|d| d.mem)),
            ("pref", r.prefetchable, w.prefetchable, 0x10_0000, dropped.map(|d| d.prefetchable)),
        ] {
            match given_up {
                Some(size) if size != 0 => assert_eq!(size, reserve, "{} {name}", f.bdf),
                _ => {
                    let size = window.map_or(0, |w| u128::from(w.size));
                    let wanted = u128::from(reserve).next_multiple_of(granule);
                    assert!(
                        size >= wanted,
                        "{} {name} window {window:?} below {reserve:#x}",
                        f.bdf
                    );
                }
            }
        }
    }
}

/// Writes garbage into every writable register, as a previous firmware might leave it
/// (interrupt lines of functions without a pin are not ours to set, so they are spared).
fn scribble(sim: &mut Sim, garbage: &[u8]) {
    for (k, f) in sim.functions.iter_mut().enumerate() {
        let pinless = f.config[usize::from(reg::INTERRUPT_PIN)] == 0;
        let size = if f.extended { f.config.len() } else { 256 };
        for o in 0..size {
            if pinless && o == usize::from(reg::INTERRUPT_LINE) {
                continue;
            }
            let byte = garbage[(o + 31 * k) % garbage.len()];
            f.config[o] = f.config[o] & !f.wmask[o] | byte & f.wmask[o];
        }
    }
}

fn registers(sim: &Sim) -> Vec<Vec<u8>> {
    sim.functions.iter().map(|f| f.config.clone()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_topologies_are_placed_soundly_and_idempotently(
        tree in tree_strategy(),
        expanders in prop::collection::vec(tree_strategy(), 0..=2),
        high in any::<bool>(),
        garbage in prop::collection::vec(any::<u8>(), 1..64),
    ) {
        let apertures = apertures(high);
        let pristine = build_sim_with_expanders(&tree, &expanders);

        let mut sim = pristine.clone();
        let first = run(&mut sim, &apertures);
        check_run(&mut sim, &first.0, &first.1, &apertures);
        let after_first = registers(&sim);

        // Twice: the same.
        let second = run(&mut sim, &apertures);
        prop_assert_eq!(&first, &second);
        prop_assert_eq!(&after_first, &registers(&sim));

        // From whatever a previous firmware left: the same.
        let mut dirty = pristine.clone();
        scribble(&mut dirty, &garbage);
        // Except bus numbers below an expander's root bus on bridges behind it: no firmware
        // numbers so, and such a bridge would answer for a root bus (see `enumerate`).
        for &(number, bus) in &pristine.extra_roots {
            for &id in dirty.buses[bus].slots.values() {
                if dirty.functions[id].child.is_some() && dirty.functions[id].config[0x19] < number {
                    dirty.functions[id].config[0x19..0x1B].fill(0);
                }
            }
        }
        let third = run(&mut dirty, &apertures);
        prop_assert_eq!(&first, &third);
        prop_assert_eq!(&after_first, &registers(&dirty));
    }
}

/// A q35 machine as issue 19 has it: a root port with a device on bus 0, and a `pxb-pcie`
/// with bus_nr 128 holding a root port with an NVMe-like device.
#[test]
fn expander_root_bus_is_found_numbered_and_given_its_own_windows() {
    let mut sim = Sim::new();
    sim.add_endpoint(ROOT, 0, 0, &[], 0, 0);
    let (port0, bus1) = sim.add_bridge(ROOT, 2, 0, BridgeCaps::FULL, &[]);
    sim.add_endpoint(bus1, 0, 0, &[mem64(0x4000, false), SimBar::Io(0x20)], 0, 1);
    let (pxb, root) = sim.add_expander(3, 128);
    let (port9, bus_behind) = sim.add_bridge(root, 0, 0, BridgeCaps::FULL, &[]);
    let nvme = sim.add_endpoint(bus_behind, 0, 0, &[mem64(0x4000, false)], 0, 1);
    // What SeaBIOS leaves: the expander's port numbered, the device's BAR placed.
    sim.poke(port9, 0x18, &[128, 129, 129]);
    sim.poke(nvme, 0x10, &0xFEA0_0004u32.to_le_bytes());

    let apertures = apertures(true);
    let (topology, plan) = run(&mut sim, &apertures);
    check_run(&mut sim, &topology, &plan, &apertures);
    assert_eq!(bus_numbers(&sim, port0), [0, 1, 1]);
    assert_eq!(bus_numbers(&sim, port9), [128, 129, 129]);
    assert_eq!((topology.last_bus0_bus, topology.last_bus), (1, 129));
    let (pxb_index, pxb_fn) = function_at(&topology, bdf(0, 3, 0));
    assert_eq!(sim.locate(pxb_fn.bdf), Some(pxb));
    let info = pxb_fn.bridge.expect("the expander opens a root bus");
    assert!(info.expander);
    assert_eq!((info.secondary_bus, info.subordinate_bus), (128, 129));
    let (nvme_index, nvme_fn) = function_at(&topology, bdf(129, 0, 0));
    assert_eq!(sim.locate(nvme_fn.bdf), Some(nvme));
    let windows = plan.functions[pxb_index].windows;
    let bar = Resource { base: plan.functions[nvme_index].bars[0].unwrap(), size: 0x4000 };
    assert!(inside(windows.mem, bar), "{bar:?} outside {windows:?}");
    // Nothing was written to the expander's own registers.
    assert_eq!(sim.peek32(pxb, 0x18), 0);
    assert_eq!(sim.peek32(pxb, 0x20), 0);

    // Bus 0's bridges run out of bus numbers at the root bus: a problem, not an overlap.
    let mut crowded = Sim::new();
    let (_, mut bus) = crowded.add_bridge(ROOT, 1, 0, BridgeCaps::FULL, &[]);
    for _ in 0..3 {
        bus = crowded.add_bridge(bus, 0, 0, BridgeCaps::FULL, &[]).1;
    }
    let (_, root) = crowded.add_expander(2, 3);
    crowded.add_endpoint(root, 0, 0, &[], 0, 1);
    let topology = enumerate(&mut crowded, 1).unwrap();
    assert_eq!(crowded.routing_conflicts, 0);
    assert!(matches!(topology.problems[..], [PciProblem::OutOfBusNumbers { .. }]));
    assert_eq!(topology.last_bus0_bus, 2);

    // The count QEMU gives must match the expanders found.
    // An expander with nothing behind it is a problem, not a stop.
    let mut sim = Sim::new();
    sim.add_expander(3, 0x40);
    let topology = enumerate(&mut sim, 1).unwrap();
    assert_eq!(
        topology.problems,
        [PciProblem::ExpanderWithoutBus { expander: bdf(0, 3, 0), found: 0 }]
    );
    assert_eq!(topology.last_bus, 0);
    assert_eq!(enumerate(&mut sim, 2), Err(ExpanderError::Count { roots: 2, expanders: 1 }));
}

#[test]
fn demand_bound_is_an_upper_bound_of_what_plan_uses() {
    // Sanity of the property test's own yardstick on a fixed tree.
    let (mut sim, _) = two_level_tree();
    let (topology, plan) = run(&mut sim, &apertures(false));
    let (io, mem) = demand_bound(&topology, None);
    let used = |r: &Option<Range<u64>>| r.as_ref().map_or(0, |r| u128::from(r.end - r.start));
    assert!(used(&plan.io_used) <= io);
    assert!(used(&plan.low_mem_used) <= mem);
}
