//! A simulated configuration space for tests: functions as 256-byte register files with
//! per-bit write masks (as QEMU models them), so BAR sizing, read-only type bits and
//! unimplemented registers behave as on hardware; and bridges that route configuration
//! cycles by their secondary and subordinate bus registers, so numbering mistakes show up as
//! devices not found. Two bridges claiming the same bus is counted as a routing conflict.
//! Capabilities ([`SimCap`]: PCI Express with slot registers, SHPC, QEMU's resource-reserve
//! hint) are chained into the capability list as the hardware presents them. Functions may
//! have PCI Express's 4 KiB of configuration space, with an SR-IOV extended capability
//! ([`Sim::add_sriov`]); reads beyond 256 bytes of the others give all ones, as through
//! ECAM.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::{Bdf, ConfigSpace, reg};

/// Index of a bus in [`Sim::buses`]; the root bus (bus 0) is [`ROOT`].
pub type BusId = usize;
/// Index of a function in [`Sim::functions`].
pub type FnId = usize;
pub const ROOT: BusId = 0;

/// A BAR as built into a simulated function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimBar {
    Io(u32),
    Mem32 { size: u32, prefetchable: bool },
    Mem64 { size: u64, prefetchable: bool },
}

/// The optional windows of a simulated bridge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BridgeCaps {
    /// `None`: no I/O window; `Some(true)`: 32-bit I/O.
    pub io: Option<bool>,
    /// `None`: no prefetchable window; `Some(true)`: 64-bit.
    pub prefetchable: Option<bool>,
}

impl BridgeCaps {
    pub const FULL: BridgeCaps = BridgeCaps { io: Some(true), prefetchable: Some(true) };
}

/// QEMU's resource-reserve capability as QEMU fills it: all ones in a field means "no wish".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QemuReserve {
    pub bus: u32,
    pub io: u64,
    pub mem: u32,
    pub pref32: u32,
    pub pref64: u64,
}

impl QemuReserve {
    pub const NONE: QemuReserve = QemuReserve {
        bus: u32::MAX,
        io: u64::MAX,
        mem: u32::MAX,
        pref32: u32::MAX,
        pref64: u64::MAX,
    };
}

/// A capability in a simulated function's list (read-only, as the ones the core reads are).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimCap {
    /// PCI Express capability (version 2, 0x3C bytes) of device/port type `port_type`;
    /// `slot`: a slot is implemented, `Some(true)` with Hot-Plug Capable set.
    Pcie { port_type: u8, slot: Option<bool> },
    /// Standard Hot-Plug Controller capability (8 bytes).
    Shpc,
    /// QEMU's Red Hat vendor-specific capability, type 1 (resource reserve), 32 bytes.
    QemuReserve(QemuReserve),
    /// Any vendor-specific capability: the bytes after ID and next pointer.
    Vendor(Vec<u8>),
}

impl SimCap {
    /// The capability's bytes, ID and (empty) next pointer included.
    fn bytes(&self) -> Vec<u8> {
        let mut b = Vec::new();
        match self {
            SimCap::Pcie { port_type, slot } => {
                b.resize(0x3C, 0);
                b[0] = 0x10;
                let flags = 2 | u16::from(*port_type) << 4 | u16::from(slot.is_some()) << 8;
                b[2..4].copy_from_slice(&flags.to_le_bytes());
                // Slot Capabilities: attention button, power controller, ... and bit 6.
                let slot_caps: u32 = match slot {
                    Some(true) => 0x7F,
                    Some(false) => 0x1F,
                    None => 0,
                };
                b[0x14..0x18].copy_from_slice(&slot_caps.to_le_bytes());
            }
            SimCap::Shpc => b.extend_from_slice(&[0x0C, 0, 0, 0, 0, 0, 0, 0]),
            SimCap::QemuReserve(r) => {
                b.extend_from_slice(&[0x09, 0, 32, 1]);
                b.extend_from_slice(&r.bus.to_le_bytes());
                b.extend_from_slice(&r.io.to_le_bytes());
                b.extend_from_slice(&r.mem.to_le_bytes());
                b.extend_from_slice(&r.pref32.to_le_bytes());
                b.extend_from_slice(&r.pref64.to_le_bytes());
            }
            SimCap::Vendor(body) => {
                b.extend_from_slice(&[0x09, 0]);
                b.extend_from_slice(body);
            }
        }
        b
    }
}

/// Bytes of configuration space: PCI Express's extended size; conventional functions use the
/// first 256.
const CONFIG_SIZE: usize = 0x1000;
const CONVENTIONAL_SIZE: u16 = 0x100;

#[derive(Clone, Debug)]
pub struct SimFunction {
    pub config: Vec<u8>,
    pub wmask: Vec<u8>,
    /// Whether the function has extended configuration space (offsets 0x100-0xFFF).
    pub extended: bool,
    /// For a bridge: the bus on its secondary side.
    pub child: Option<BusId>,
    /// Where the next capability goes, and the last one's offset (to chain it).
    next_cap: u16,
    last_cap: Option<u16>,
}

#[derive(Clone, Debug, Default)]
pub struct SimBus {
    /// (device, function) -> function.
    pub slots: BTreeMap<(u8, u8), FnId>,
}

#[derive(Clone, Debug)]
pub struct Sim {
    pub functions: Vec<SimFunction>,
    pub buses: Vec<SimBus>,
    /// Configuration cycles that more than one bridge claimed.
    pub routing_conflicts: usize,
    /// Root buses of expander bridges: (fixed bus number, bus).
    pub extra_roots: Vec<(u8, BusId)>,
}

impl Default for Sim {
    fn default() -> Self {
        Sim {
            functions: Vec::new(),
            buses: Vec::from([SimBus::default()]),
            routing_conflicts: 0,
            extra_roots: Vec::new(),
        }
    }
}

impl SimFunction {
    fn new(vendor: u16, device: u16, class: u32, header_type: u8) -> Self {
        let mut f = SimFunction {
            config: alloc::vec![0; CONFIG_SIZE],
            wmask: alloc::vec![0; CONFIG_SIZE],
            extended: false,
            child: None,
            next_cap: 0x40,
            last_cap: None,
        };
        f.set(reg::VENDOR_ID, &vendor.to_le_bytes());
        f.set(reg::DEVICE_ID, &device.to_le_bytes());
        f.set(reg::REVISION, &(class << 8 | 1).to_le_bytes());
        f.config[usize::from(reg::HEADER_TYPE)] = header_type;
        f.set_wmask(reg::COMMAND, &0x0007u16.to_le_bytes());
        f.wmask[usize::from(reg::INTERRUPT_LINE)] = 0xFF;
        f
    }
    fn set(&mut self, offset: u16, bytes: &[u8]) {
        let o = usize::from(offset);
        self.config[o..o + bytes.len()].copy_from_slice(bytes);
    }
    fn set_wmask(&mut self, offset: u16, bytes: &[u8]) {
        let o = usize::from(offset);
        self.wmask[o..o + bytes.len()].copy_from_slice(bytes);
    }
    pub fn read(&self, offset: u16, len: usize) -> u32 {
        if offset >= CONVENTIONAL_SIZE && !self.extended {
            return u32::MAX;
        }
        let o = usize::from(offset);
        let mut bytes = [0; 4];
        bytes[..len].copy_from_slice(&self.config[o..o + len]);
        u32::from_le_bytes(bytes)
    }
    fn write(&mut self, offset: u16, len: usize, value: u32) {
        if offset >= CONVENTIONAL_SIZE && !self.extended {
            return;
        }
        let o = usize::from(offset);
        for (i, byte) in value.to_le_bytes()[..len].iter().enumerate() {
            let mask = self.wmask[o + i];
            self.config[o + i] = self.config[o + i] & !mask | byte & mask;
        }
    }
    /// Installs BARs from `first` on (`slots` registers), 64-bit ones taking two slots.
    fn install_bars(&mut self, first: u16, bars: &[SimBar], slots: u16) {
        let mut offset = first;
        for bar in bars {
            assert!(offset < first + 4 * slots, "too many BARs for the registers");
            let (low, wmask) = match *bar {
                SimBar::Io(size) => (1, !(size - 1) & !3),
                SimBar::Mem32 { size, prefetchable } => {
                    (u32::from(prefetchable) << 3, !(size - 1) & !0xF)
                }
                SimBar::Mem64 { size, prefetchable } => {
                    let mask = !(size - 1);
                    self.set_wmask(offset + 4, &((mask >> 32) as u32).to_le_bytes());
                    (4 | u32::from(prefetchable) << 3, mask as u32 & !0xF)
                }
            };
            self.set(offset, &low.to_le_bytes());
            self.set_wmask(offset, &wmask.to_le_bytes());
            offset += if matches!(bar, SimBar::Mem64 { .. }) { 8 } else { 4 };
        }
    }
    /// A ROM BAR of `size` bytes (0: none) at `offset`.
    fn install_rom(&mut self, offset: u16, size: u32) {
        if size != 0 {
            self.set_wmask(offset, &(!(size - 1) & !0x7FF | 1).to_le_bytes());
        }
    }
}

impl Sim {
    pub fn new() -> Self {
        Self::default()
    }

    fn plug(&mut self, bus: BusId, device: u8, function: u8, mut f: SimFunction) -> FnId {
        let id = self.functions.len();
        let slots = &mut self.buses[bus].slots;
        // Function 0 tells whether the others exist.
        if function != 0 {
            if let Some(&f0) = slots.get(&(device, 0)) {
                self.functions[f0].config[usize::from(reg::HEADER_TYPE)] |= 0x80;
            }
        } else if slots.keys().any(|&(d, f)| d == device && f != 0) {
            f.config[usize::from(reg::HEADER_TYPE)] |= 0x80;
        }
        let slots = &mut self.buses[bus].slots;
        assert!(slots.insert((device, function), id).is_none(), "slot taken");
        self.functions.push(f);
        id
    }

    /// A type 0 function with `bars`, a ROM of `rom` bytes (0: none) and interrupt pin `pin`.
    pub fn add_endpoint(
        &mut self,
        bus: BusId,
        device: u8,
        function: u8,
        bars: &[SimBar],
        rom: u32,
        pin: u8,
    ) -> FnId {
        let mut f = SimFunction::new(0x1AF4, 0x1000 + u16::from(device), 0x02_00_00, 0);
        f.install_bars(reg::BAR0, bars, 6);
        f.install_rom(reg::ROM_TYPE0, rom);
        f.config[usize::from(reg::INTERRUPT_PIN)] = pin;
        self.plug(bus, device, function, f)
    }

    /// A PCI-PCI bridge; returns its function and its secondary bus.
    pub fn add_bridge(
        &mut self,
        bus: BusId,
        device: u8,
        function: u8,
        caps: BridgeCaps,
        bars: &[SimBar],
    ) -> (FnId, BusId) {
        let mut f = SimFunction::new(0x1B36, 0x0001, 0x06_04_00, 1);
        f.install_bars(reg::BAR0, bars, 2);
        f.config[usize::from(reg::INTERRUPT_PIN)] = 1;
        f.set_wmask(reg::PRIMARY_BUS, &[0xFF; 3]);
        if let Some(wide) = caps.io {
            f.set(reg::IO_BASE, &[u8::from(wide); 2]);
            f.set_wmask(reg::IO_BASE, &[0xF0; 2]);
            if wide {
                f.set_wmask(reg::IO_BASE_UPPER, &[0xFF; 4]);
            }
        }
        f.set_wmask(reg::MEMORY_BASE, &[0xF0, 0xFF, 0xF0, 0xFF]);
        if let Some(wide) = caps.prefetchable {
            f.set(reg::PREF_BASE, &[u8::from(wide), 0, u8::from(wide), 0]);
            f.set_wmask(reg::PREF_BASE, &[0xF0, 0xFF, 0xF0, 0xFF]);
            if wide {
                f.set_wmask(reg::PREF_BASE_UPPER, &[0xFF; 8]);
            }
        }
        f.install_rom(reg::ROM_TYPE1, 0);
        let child = self.buses.len();
        self.buses.push(SimBus::default());
        f.child = Some(child);
        (self.plug(bus, device, function, f), child)
    }

    /// A QEMU `pxb-pcie` in slot `device` of bus 0 (a type 0 host bridge function, no BARs)
    /// and its root bus, numbered `bus_number` whatever is written anywhere.
    pub fn add_expander(&mut self, device: u8, bus_number: u8) -> (FnId, BusId) {
        let f = SimFunction::new(0x1B36, 0x000B, 0x06_00_00, 0);
        let child = self.buses.len();
        self.buses.push(SimBus::default());
        self.extra_roots.push((bus_number, child));
        (self.plug(ROOT, device, 0, f), child)
    }

    /// The count QEMU puts in fw_cfg `etc/extra-pci-roots`.
    pub fn extra_roots(&self) -> u8 {
        self.extra_roots.len() as u8
    }

    /// A function with arbitrary contents: every byte `fill`, read-only, but for the IDs.
    pub fn add_raw(&mut self, bus: BusId, device: u8, function: u8, fill: u8) -> FnId {
        let mut f = SimFunction::new(0x8086, 0xBEEF, 0, 0);
        f.config[4..usize::from(CONVENTIONAL_SIZE)].fill(fill);
        f.wmask.fill(0);
        self.plug(bus, device, function, f)
    }

    /// Appends a capability to the function's list; returns its offset.
    pub fn add_capability(&mut self, function: FnId, cap: &SimCap) -> u16 {
        let f = &mut self.functions[function];
        let bytes = cap.bytes();
        let offset = f.next_cap;
        assert!(usize::from(offset) + bytes.len() <= 256, "capabilities do not fit");
        f.set(offset, &bytes);
        match f.last_cap {
            // Status: capability list; capabilities pointer.
            None => {
                f.config[0x06] |= 1 << 4;
                f.config[0x34] = offset as u8;
            }
            Some(last) => f.config[usize::from(last) + 1] = offset as u8,
        }
        f.last_cap = Some(offset);
        f.next_cap = (offset + bytes.len() as u16).next_multiple_of(4);
        offset
    }

    /// Gives `function` PCI Express's extended configuration space with an SR-IOV capability
    /// at 0x100 (the only extended capability): `total_vfs` VFs, each with `vf_bars`.
    /// Returns the capability's offset.
    pub fn add_sriov(&mut self, function: FnId, total_vfs: u16, vf_bars: &[SimBar]) -> u16 {
        const CAP: u16 = 0x100;
        let f = &mut self.functions[function];
        f.extended = true;
        // Header: ID 0x0010, version 1, no next capability.
        f.set(CAP, &0x0001_0010u32.to_le_bytes());
        // Control: VF Enable, VF Migration Enable, VF MSE.
        f.set_wmask(CAP + 0x08, &0x000Bu16.to_le_bytes());
        f.set(CAP + 0x0C, &total_vfs.to_le_bytes()); // InitialVFs
        f.set(CAP + 0x0E, &total_vfs.to_le_bytes()); // TotalVFs
        f.set_wmask(CAP + 0x10, &0xFFFFu16.to_le_bytes()); // NumVFs
        f.set(CAP + 0x14, &[1, 0, 1, 0]); // First VF offset 1, VF stride 1
        f.set(CAP + 0x1C, &0x553u32.to_le_bytes()); // Supported page sizes
        f.set(CAP + 0x20, &1u32.to_le_bytes()); // System page size: 4 KiB
        f.install_bars(CAP + 0x24, vf_bars, 6);
        CAP
    }

    /// Sets a register, bypassing the write mask (a device's own state, or a test's setup).
    pub fn poke(&mut self, function: FnId, offset: u16, bytes: &[u8]) {
        self.functions[function].set(offset, bytes);
    }
    /// Writes a register as software would (read-only bits unchanged).
    pub fn write_masked(&mut self, function: FnId, offset: u16, bytes: &[u8]) {
        let mut value = [0; 4];
        value[..bytes.len()].copy_from_slice(bytes);
        self.functions[function].write(offset, bytes.len(), u32::from_le_bytes(value));
    }
    pub fn set_wmask(&mut self, function: FnId, offset: u16, bytes: &[u8]) {
        self.functions[function].set_wmask(offset, bytes);
    }
    pub fn peek32(&self, function: FnId, offset: u16) -> u32 {
        self.functions[function].read(offset, 4)
    }
    pub fn peek16(&self, function: FnId, offset: u16) -> u16 {
        self.functions[function].read(offset, 2) as u16
    }
    pub fn peek8(&self, function: FnId, offset: u16) -> u8 {
        self.functions[function].read(offset, 1) as u8
    }

    /// The bus a configuration cycle for bus number `number` reaches: an expander's root
    /// bus by its fixed number, else following bridges from bus 0 and from every expander
    /// root bus, as QEMU does (a number two root buses' bridges claim is a conflict).
    fn route(&mut self, number: u8) -> Option<BusId> {
        if let Some(&(_, bus)) = self.extra_roots.iter().find(|&&(n, _)| n == number) {
            return Some(bus);
        }
        let starts: Vec<(BusId, u8)> = core::iter::once((ROOT, 0))
            .chain(self.extra_roots.iter().map(|&(n, b)| (b, n)))
            .collect();
        let mut found = Vec::new();
        // Buses below a root bus's own number are never behind it.
        for (bus, bus_number) in starts.into_iter().filter(|&(_, n)| n <= number) {
            if let Some(reached) = self.route_from(bus, bus_number, number) {
                found.push(reached);
            }
        }
        match found.as_slice() {
            [bus] => Some(*bus),
            [] => None,
            _ => {
                self.routing_conflicts += 1;
                None
            }
        }
    }

    /// The bus a cycle for bus number `number` reaches below root bus `bus`, numbered
    /// `bus_number`.
    fn route_from(&mut self, mut bus: BusId, mut bus_number: u8, number: u8) -> Option<BusId> {
        // A bridge forwards only to higher numbers than its own bus in a sane setup; the
        // bound stops a looped simulation.
        for _ in 0..=256 {
            if number == bus_number {
                return Some(bus);
            }
            let claims: Vec<&SimFunction> = self.buses[bus]
                .slots
                .values()
                .map(|&id| &self.functions[id])
                .filter(|f| {
                    let (secondary, subordinate) = (f.config[0x19], f.config[0x1A]);
                    f.child.is_some() && secondary <= number && number <= subordinate
                })
                .collect();
            match claims.as_slice() {
                [bridge] => (bus, bus_number) = (bridge.child?, bridge.config[0x19]),
                [] => return None,
                _ => {
                    self.routing_conflicts += 1;
                    return None;
                }
            }
        }
        None
    }

    /// The function a configuration cycle to `bdf` reaches.
    pub fn locate(&mut self, bdf: Bdf) -> Option<FnId> {
        let bus = self.route(bdf.bus())?;
        self.buses[bus].slots.get(&(bdf.device(), bdf.function())).copied()
    }

    fn read(&mut self, bdf: Bdf, offset: u16, len: usize) -> u32 {
        assert_eq!(usize::from(offset) % len, 0, "unaligned access");
        match self.locate(bdf) {
            Some(id) => self.functions[id].read(offset, len),
            None => u32::MAX,
        }
    }
    fn write(&mut self, bdf: Bdf, offset: u16, len: usize, value: u32) {
        assert_eq!(usize::from(offset) % len, 0, "unaligned access");
        if let Some(id) = self.locate(bdf) {
            self.functions[id].write(offset, len, value);
        }
    }
}

impl ConfigSpace for Sim {
    fn read8(&mut self, bdf: Bdf, offset: u16) -> u8 {
        self.read(bdf, offset, 1) as u8
    }
    fn read16(&mut self, bdf: Bdf, offset: u16) -> u16 {
        self.read(bdf, offset, 2) as u16
    }
    fn read32(&mut self, bdf: Bdf, offset: u16) -> u32 {
        self.read(bdf, offset, 4)
    }
    fn write8(&mut self, bdf: Bdf, offset: u16, value: u8) {
        self.write(bdf, offset, 1, value.into());
    }
    fn write16(&mut self, bdf: Bdf, offset: u16, value: u16) {
        self.write(bdf, offset, 2, value.into());
    }
    fn write32(&mut self, bdf: Bdf, offset: u16, value: u32) {
        self.write(bdf, offset, 4, value);
    }
}
