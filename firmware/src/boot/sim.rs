//! A simulated machine for host tests of the whole boot ([`super::run`]): the [`Hardware`]
//! the boot sequence runs on, built from the simulators the rooms already have.
//!
//! - Memory is sparse 4 KiB pages that read as zeros until written. RAM regions and the
//!   hand-off's window are owned buffers copied in when taken and written back when given
//!   back (or, for the window, when the next range is lent): safe Rust, no aliasing to
//!   reason about. Every handle claims its range in an [`arch::ClaimSet`] as the hardware's
//!   do, so a boot that takes overlapping handles fails here as it would on the machine.
//! - Ports: PCI configuration mechanism #1 (0xCF8/0xCFC) in front of a [`pci::sim::Sim`]
//!   that holds the chipset's functions, fw_cfg ([`SimFwCfg`], with or without DMA), the
//!   chipset's ACPI PM block where its PM function says it decodes, and a few latches
//!   (the ELCR, COM1's scratch register). Other ports read all ones and ignore writes, as
//!   nothing decoding them does.
//! - Device registers: the IOAPIC (index and data window, 24 inputs), Q35's ECAM window
//!   where the MCH's PCIEXBAR decodes it (read on every access, as the MCH does); anything
//!   else (HPET, TPM) reads all ones: absent.
//! - One CPU (the boot CPU, APIC ID 0): AP start-up needs a clock the host cannot give.
//!   The MTRR request is planned as on the hardware and kept for the tests.
//! - Jumps are recorded and return.
//!
//! [`arch::ClaimSet`]: crate::arch::ClaimSet
//! [`pci::sim::Sim`]: crate::pci::sim::Sim

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::ops::{Deref, DerefMut, Range};

use super::hardware::HandedOff;
use super::{Fatal, Hardware};
use crate::addr::{FOUR_GIB, PAGE_SIZE, PhysRange};
use crate::arch::{
    BufferMapper, ClaimError, ClaimId, ClaimSet, IOAPIC_BASE, Jump, Mmio, PhysMemory,
    PhysMemoryMut, PhysReadError, PortIo,
};
use crate::chipset::{Chipset, q35};
use crate::cpu::{
    ApStartup, CpuError, CpuList, CpuSetup, MtrrCaps, MtrrLayout, MtrrRequest, Topology,
    TopologySource,
};
use crate::pci::sim::Sim as PciSim;
use crate::pci::{Bdf, ConfigSpace};
use crate::platform::fw_cfg::sim::{HostAddressing, SimFwCfg};
use crate::platform::fw_cfg::{DMA_PORT_LOW, SELECTOR_PORT};
use crate::time::TscClock;

const PAGE: usize = PAGE_SIZE as usize;

/// Simulated physical memory: 4 KiB pages that exist once written.
#[derive(Clone, Debug, Default)]
pub struct SimMemory(Rc<RefCell<BTreeMap<u64, Box<[u8; PAGE]>>>>);

impl SimMemory {
    /// Writes `bytes` at `paddr` (a loader's or a device's write).
    pub fn write(&self, paddr: u64, bytes: &[u8]) {
        let mut pages = self.0.borrow_mut();
        for (i, &byte) in bytes.iter().enumerate() {
            let at = paddr + i as u64;
            let page = pages.entry(at / PAGE_SIZE).or_insert_with(|| Box::new([0; PAGE]));
            page[(at % PAGE_SIZE) as usize] = byte;
        }
    }

    /// The `len` bytes at `paddr`.
    pub fn bytes(&self, paddr: u64, len: usize) -> Vec<u8> {
        let pages = self.0.borrow();
        (paddr..paddr + len as u64)
            .map(|at| {
                pages.get(&(at / PAGE_SIZE)).map_or(0, |page| page[(at % PAGE_SIZE) as usize])
            })
            .collect()
    }

    /// Every run of consecutive written pages, as (address, bytes): what the ACPI parser
    /// may reach of memory.
    fn snapshot(&self) -> Vec<(u64, Box<[u8]>)> {
        let pages = self.0.borrow();
        let mut runs: Vec<(u64, Vec<u8>)> = Vec::new();
        for (&number, page) in pages.iter() {
            match runs.last_mut() {
                Some((start, bytes)) if *start + bytes.len() as u64 == number * PAGE_SIZE => {
                    bytes.extend_from_slice(&page[..]);
                }
                _ => runs.push((number * PAGE_SIZE, page.to_vec())),
            }
        }
        runs.into_iter().map(|(start, bytes)| (start, bytes.into_boxed_slice())).collect()
    }
}

/// Reads as the hardware's identity map serves them: anything below 4 GiB.
impl PhysMemory for SimMemory {
    fn read(&self, paddr: u64, buf: &mut [u8]) -> Result<(), PhysReadError> {
        let err = PhysReadError { paddr, len: buf.len() };
        if paddr.checked_add(buf.len() as u64).is_none_or(|end| end > FOUR_GIB) {
            return Err(err);
        }
        buf.copy_from_slice(&self.bytes(paddr, buf.len()));
        Ok(())
    }
}

/// The devices behind the I/O ports.
struct PortDevices {
    chipset: Chipset,
    pci: Rc<RefCell<PciSim>>,
    /// What port 0xCF8 holds.
    cf8: u32,
    fw_cfg: Option<SimFwCfg>,
    /// The ACPI PM block's registers by offset, where the chipset decodes it.
    pm: BTreeMap<u16, u8>,
    /// Registers that keep what is written (ELCR, COM1's scratch register).
    latches: BTreeMap<u16, u8>,
}

impl core::fmt::Debug for PortDevices {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PortDevices")
            .field("chipset", &self.chipset)
            .field("cf8", &self.cf8)
            .field("fw_cfg", &self.fw_cfg.is_some())
            .field("pm", &self.pm)
            .field("latches", &self.latches)
            .finish_non_exhaustive()
    }
}

/// The 8259s' edge/level control registers.
pub const ELCR: [u16; 2] = [0x4D0, 0x4D1];
/// COM1's 16550 scratch register: a UART answers here.
const COM1_SCRATCH: u16 = 0x3FF;
const CONFIG_ADDRESS: u16 = 0xCF8;
const CONFIG_DATA: Range<u16> = 0xCFC..0xD00;
const FW_CFG_PORTS: Range<u16> = SELECTOR_PORT..DMA_PORT_LOW + 4;
/// Bytes of the ACPI PM I/O block (PIIX4: 64; ICH9: 128, of which the firmware uses less).
const PM_BLOCK_LEN: u16 = 0x40;

impl PortDevices {
    /// The PM block's base, when the chipset's PM function decodes it: PIIX4 function 3's
    /// PMBA with PMREGMISC's PMIOSE, or ICH9 LPC's PMBASE with ACPI_CNTL's ACPI_EN.
    fn pm_base(&self) -> Option<u16> {
        let mut pci = self.pci.borrow_mut();
        let (bdf, base_mask, enable) = match self.chipset {
            Chipset::I440fx => {
                let bdf = Bdf::new(0, 1, 3);
                (bdf, 0xFFC0, pci.read8(bdf, 0x80) & 1 != 0)
            }
            Chipset::Q35 => {
                let bdf = Bdf::new(0, 0x1F, 0);
                (bdf, 0xFF80, pci.read8(bdf, 0x44) & 0x80 != 0)
            }
        };
        let base = pci.read32(bdf, 0x40) as u16 & base_mask;
        (enable && base != 0).then_some(base)
    }

    /// The config-space access port `port` makes through 0xCF8, if enabled.
    fn config_target(&self, port: u16) -> Option<(Bdf, u16)> {
        let address = self.cf8;
        if address & 1 << 31 == 0 {
            return None;
        }
        let bdf =
            Bdf::new((address >> 16) as u8, (address >> 11 & 0x1F) as u8, (address >> 8 & 7) as u8);
        Some((bdf, (address & 0xFC) as u16 + (port - CONFIG_DATA.start)))
    }

    /// A read of `width` bytes at `port`: configuration space through 0xCF8/0xCFC, the PM
    /// block, a latch, or nothing (all ones).
    fn read(&mut self, port: u16, width: u16) -> u32 {
        if port == CONFIG_ADDRESS && width == 4 {
            return self.cf8;
        }
        if CONFIG_DATA.contains(&port) {
            let Some((bdf, offset)) = self.config_target(port) else { return u32::MAX };
            let mut pci = self.pci.borrow_mut();
            return match width {
                1 => pci.read8(bdf, offset).into(),
                2 => pci.read16(bdf, offset).into(),
                _ => pci.read32(bdf, offset),
            };
        }
        let pm = self.pm_base().filter(|base| (*base..*base + PM_BLOCK_LEN).contains(&port));
        let byte = |devices: &Self, at: u16| match pm {
            Some(base) => devices.pm.get(&(at - base)).copied().unwrap_or(0),
            None => devices.latches.get(&at).copied().unwrap_or(0xFF),
        };
        if pm.is_none() && !self.latches.contains_key(&port) {
            return u32::MAX >> (32 - 8 * u32::from(width));
        }
        (0..width).rev().fold(0, |value, i| value << 8 | u32::from(byte(self, port + i)))
    }

    /// A write of `width` bytes at `port`, to what [`Self::read`] reads.
    fn write(&mut self, port: u16, width: u16, value: u32) {
        if port == CONFIG_ADDRESS && width == 4 {
            self.cf8 = value;
            return;
        }
        if CONFIG_DATA.contains(&port) {
            let Some((bdf, offset)) = self.config_target(port) else { return };
            let mut pci = self.pci.borrow_mut();
            match width {
                1 => pci.write8(bdf, offset, value as u8),
                2 => pci.write16(bdf, offset, value as u16),
                _ => pci.write32(bdf, offset, value),
            }
            return;
        }
        let pm = self.pm_base().filter(|base| (*base..*base + PM_BLOCK_LEN).contains(&port));
        for i in 0..width {
            let byte = (value >> (8 * i)) as u8;
            match pm {
                Some(base) => {
                    self.pm.insert(port + i - base, byte);
                }
                None => {
                    if let Some(latch) = self.latches.get_mut(&(port + i)) {
                        *latch = byte;
                    }
                }
            }
        }
    }

    /// fw_cfg, when `port` is one of its registers and the machine has it.
    fn fw_cfg_at(&mut self, port: u16) -> Option<&mut SimFwCfg> {
        self.fw_cfg.as_mut().filter(|_| FW_CFG_PORTS.contains(&port))
    }
}

/// The machine's I/O ports (handles share the devices).
#[derive(Clone, Debug)]
pub struct SimPorts(Rc<RefCell<PortDevices>>);

impl PortIo for SimPorts {
    fn read8(&mut self, port: u16) -> u8 {
        let mut devices = self.0.borrow_mut();
        if let Some(fw_cfg) = devices.fw_cfg_at(port) {
            return fw_cfg.read8(port);
        }
        devices.read(port, 1) as u8
    }
    fn read16(&mut self, port: u16) -> u16 {
        let mut devices = self.0.borrow_mut();
        if let Some(fw_cfg) = devices.fw_cfg_at(port) {
            return fw_cfg.read16(port);
        }
        devices.read(port, 2) as u16
    }
    fn read32(&mut self, port: u16) -> u32 {
        let mut devices = self.0.borrow_mut();
        if let Some(fw_cfg) = devices.fw_cfg_at(port) {
            return fw_cfg.read32(port);
        }
        devices.read(port, 4)
    }
    fn write8(&mut self, port: u16, value: u8) {
        let mut devices = self.0.borrow_mut();
        match devices.fw_cfg_at(port) {
            Some(fw_cfg) => fw_cfg.write8(port, value),
            None => devices.write(port, 1, value.into()),
        }
    }
    fn write16(&mut self, port: u16, value: u16) {
        let mut devices = self.0.borrow_mut();
        match devices.fw_cfg_at(port) {
            Some(fw_cfg) => fw_cfg.write16(port, value),
            None => devices.write(port, 2, value.into()),
        }
    }
    fn write32(&mut self, port: u16, value: u32) {
        let mut devices = self.0.borrow_mut();
        match devices.fw_cfg_at(port) {
            Some(fw_cfg) => fw_cfg.write32(port, value),
            None => devices.write(port, 4, value),
        }
    }
}

/// The IOAPIC: IOREGSEL at 0x00, IOWIN at 0x10, 24 redirection entries.
#[derive(Debug)]
pub struct SimIoApic {
    select: u32,
    /// The ID register (ID in bits 27:24).
    pub id: u32,
    pub entries: Vec<u64>,
}

/// QEMU's IOAPIC: version 0x20, 24 inputs.
const IOAPIC_VERSION: u32 = 0x0017_0020;
const IOAPIC_INPUTS: usize = 24;
const ENTRY_MASKED: u64 = 1 << 16;

impl SimIoApic {
    fn register(&self, index: u32) -> u32 {
        match index {
            0x00 => self.id,
            0x01 => IOAPIC_VERSION,
            0x10..0x40 => {
                let entry = self.entries[(index as usize - 0x10) / 2];
                if index.is_multiple_of(2) { entry as u32 } else { (entry >> 32) as u32 }
            }
            _ => 0,
        }
    }

    fn set_register(&mut self, index: u32, value: u32) {
        match index {
            0x00 => self.id = value & 0x0F00_0000,
            0x10..0x40 => {
                let entry = &mut self.entries[(index as usize - 0x10) / 2];
                *entry = if index.is_multiple_of(2) {
                    *entry & !0xFFFF_FFFF | u64::from(value)
                } else {
                    *entry & 0xFFFF_FFFF | u64::from(value) << 32
                };
            }
            _ => {}
        }
    }
}

/// One device's register window, claimed while it lives. What answers an access is
/// decided at the access, as on the bus: the IOAPIC, the ECAM window where PCIEXBAR puts it
/// now, or nothing (all ones).
#[derive(Debug)]
pub struct SimRegisters<'m> {
    machine: &'m SimMachine,
    range: PhysRange,
    claim: Option<ClaimId>,
}

impl SimRegisters<'_> {
    fn at(&self, offset: u64, size: u64) -> u64 {
        assert!(
            offset.is_multiple_of(size) && offset + size <= self.range.len(),
            "MMIO access at {offset:#x} outside a region of {:#x} bytes",
            self.range.len()
        );
        self.range.start + offset
    }

    /// The function and register ECAM decodes at `address`, if it does.
    fn ecam_target(&self, address: u64) -> Option<(Bdf, u16)> {
        if self.machine.chipset != Chipset::Q35 {
            return None;
        }
        let area = q35::pciexbar(&mut *self.machine.pci.borrow_mut())?;
        let offset = address.checked_sub(area.base).filter(|&o| o < area.size())?;
        let bdf =
            Bdf::new((offset >> 20) as u8, (offset >> 15 & 0x1F) as u8, (offset >> 12 & 7) as u8);
        Some((bdf, (offset & 0xFFF) as u16))
    }

    fn read(&self, offset: u64, size: u64) -> u32 {
        let address = self.at(offset, size);
        if (IOAPIC_BASE..IOAPIC_BASE + 0x20).contains(&address) && size == 4 {
            let ioapic = self.machine.ioapic.borrow();
            return match address - IOAPIC_BASE {
                0x00 => ioapic.select,
                0x10 => ioapic.register(ioapic.select),
                _ => 0,
            };
        }
        if let Some((bdf, register)) = self.ecam_target(address) {
            let mut pci = self.machine.pci.borrow_mut();
            return match size {
                1 => pci.read8(bdf, register).into(),
                2 => pci.read16(bdf, register).into(),
                _ => pci.read32(bdf, register),
            };
        }
        u32::MAX >> (32 - 8 * size)
    }

    fn write(&mut self, offset: u64, size: u64, value: u32) {
        let address = self.at(offset, size);
        if (IOAPIC_BASE..IOAPIC_BASE + 0x20).contains(&address) && size == 4 {
            let mut ioapic = self.machine.ioapic.borrow_mut();
            match address - IOAPIC_BASE {
                0x00 => ioapic.select = value,
                0x10 => {
                    let select = ioapic.select;
                    ioapic.set_register(select, value);
                }
                _ => {}
            }
            return;
        }
        if let Some((bdf, register)) = self.ecam_target(address) {
            let mut pci = self.machine.pci.borrow_mut();
            match size {
                1 => pci.write8(bdf, register, value as u8),
                2 => pci.write16(bdf, register, value as u16),
                _ => pci.write32(bdf, register, value),
            }
        }
    }
}

impl Mmio for SimRegisters<'_> {
    fn base(&self) -> u64 {
        self.range.start
    }
    fn read8(&self, offset: u64) -> u8 {
        self.read(offset, 1) as u8
    }
    fn read16(&self, offset: u64) -> u16 {
        self.read(offset, 2) as u16
    }
    fn read32(&self, offset: u64) -> u32 {
        self.read(offset, 4)
    }
    fn write8(&mut self, offset: u64, value: u8) {
        self.write(offset, 1, value.into());
    }
    fn write16(&mut self, offset: u64, value: u16) {
        self.write(offset, 2, value.into());
    }
    fn write32(&mut self, offset: u64, value: u32) {
        self.write(offset, 4, value);
    }
}

impl Drop for SimRegisters<'_> {
    fn drop(&mut self) {
        self.machine.release(self.claim.take());
    }
}

/// RAM the firmware set aside: its bytes, copied in when taken and written back when given
/// back.
#[derive(Debug)]
pub struct SimRam<'m> {
    machine: &'m SimMachine,
    range: PhysRange,
    bytes: Vec<u8>,
    claim: Option<ClaimId>,
}

impl Deref for SimRam<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl DerefMut for SimRam<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }
}

impl Drop for SimRam<'_> {
    fn drop(&mut self) {
        self.machine.memory.write(self.range.start, &self.bytes);
        self.machine.release(self.claim.take());
    }
}

/// The hand-off's window over every range nothing holds: one range lent at a time, written
/// back when the next is lent or the window is given back.
#[derive(Debug)]
pub struct SimLoadWindow<'m> {
    machine: &'m SimMachine,
    lent: Option<(u64, Vec<u8>)>,
}

impl SimLoadWindow<'_> {
    fn write_back(&mut self) {
        if let Some((start, bytes)) = self.lent.take() {
            self.machine.memory.write(start, &bytes);
        }
    }
}

impl PhysMemoryMut for SimLoadWindow<'_> {
    /// As the hardware's window: nothing in page 0, above 4 GiB, or held by a handle.
    fn window(&mut self, range: PhysRange) -> Result<&mut [u8], PhysReadError> {
        let unreachable = PhysReadError {
            paddr: range.start,
            len: range.end.saturating_sub(range.start) as usize,
        };
        if range.start < PAGE_SIZE || range.end > FOUR_GIB || range.end < range.start {
            return Err(unreachable);
        }
        self.machine.claims.borrow().check_free(range).map_err(|_| unreachable)?;
        self.write_back();
        let bytes = self.machine.memory.bytes(range.start, range.len() as usize);
        Ok(&mut self.lent.insert((range.start, bytes)).1)
    }
}

impl Drop for SimLoadWindow<'_> {
    fn drop(&mut self) {
        self.write_back();
        self.machine.claims.borrow_mut().return_window();
    }
}

/// The simulated machine.
#[derive(Debug)]
pub struct SimMachine {
    chipset: Chipset,
    pub memory: SimMemory,
    pub pci: Rc<RefCell<PciSim>>,
    ports: SimPorts,
    pub ioapic: RefCell<SimIoApic>,
    claims: RefCell<ClaimSet>,
    /// What each bring-up asked the MTRRs to make uncacheable.
    pub uncacheable: RefCell<Vec<Vec<Range<u64>>>>,
    /// Every jump the hand-off took.
    pub jumps: RefCell<Vec<Jump>>,
}

/// The MTRRs the simulated CPU has: 8 variable ranges, fixed ranges, write-combining
/// (QEMU's and Xen's MTRRcap).
const MTRR_CAP: u64 = 0x508;
/// The simulated CPU's physical address width (QEMU's default).
const PHYS_BITS: u8 = 40;

impl SimMachine {
    /// A machine with `chipset`'s functions in `pci`, fw_cfg if given, and the firmware's
    /// own `image` held for good (as [`crate::arch::Machine::take`] holds it).
    pub fn new(chipset: Chipset, pci: PciSim, fw_cfg: Option<SimFwCfg>, image: PhysRange) -> Self {
        let pci = Rc::new(RefCell::new(pci));
        let latches = [ELCR[0], ELCR[1], COM1_SCRATCH].into_iter().map(|port| (port, 0)).collect();
        let ports =
            PortDevices { chipset, pci: pci.clone(), cf8: 0, fw_cfg, pm: BTreeMap::new(), latches };
        let mut claims = ClaimSet::default();
        claims.claim(image).expect("the image lies in claimable memory");
        // As QEMU resets it, but for one entry an earlier firmware left unmasked.
        let mut entries = vec![ENTRY_MASKED; IOAPIC_INPUTS];
        entries[2] = 0;
        SimMachine {
            chipset,
            memory: SimMemory::default(),
            pci,
            ports: SimPorts(Rc::new(RefCell::new(ports))),
            ioapic: RefCell::new(SimIoApic { select: 0, id: 0, entries }),
            claims: RefCell::new(claims),
            uncacheable: RefCell::new(Vec::new()),
            jumps: RefCell::new(Vec::new()),
        }
    }

    fn hold(&self, range: PhysRange) -> Result<Option<ClaimId>, Box<ClaimError>> {
        self.claims.borrow_mut().claim(range).map(Some)
    }

    fn release(&self, claim: Option<ClaimId>) {
        if let Some(id) = claim {
            self.claims.borrow_mut().release(id);
        }
    }

    /// The value the register-file port `port` holds (ELCR, COM1's scratch register).
    pub fn latch(&self, port: u16) -> Option<u8> {
        self.ports.0.borrow().latches.get(&port).copied()
    }

    /// How fw_cfg was read: (bytes through the data port, DMA transfers).
    pub fn fw_cfg_reads(&self) -> Option<(usize, usize)> {
        let devices = self.ports.0.borrow();
        devices.fw_cfg.as_ref().map(|fw_cfg| (fw_cfg.data_reads, fw_cfg.dma_transfers))
    }

    /// The PM block's register at `offset`, and the base the chipset decodes it at.
    pub fn pm_register(&self, offset: u16) -> (Option<u16>, u8) {
        let devices = self.ports.0.borrow();
        (devices.pm_base(), devices.pm.get(&offset).copied().unwrap_or(0))
    }

    /// Whether every handle was given back: nothing is held but the firmware image, and
    /// the hand-off's window is in.
    pub fn holds_only(&self, image: PhysRange) -> bool {
        let mut claims = self.claims.borrow_mut();
        let window_in = claims.take_window();
        if window_in {
            claims.return_window();
        }
        let free = |range: PhysRange| range.is_empty() || claims.check_free(range).is_ok();
        let below = PhysRange { start: PAGE_SIZE, end: image.start };
        let above = PhysRange { start: image.end, end: FOUR_GIB };
        window_in && free(below) && free(above) && claims.check_free(image).is_err()
    }
}

impl Hardware for SimMachine {
    type Ports = SimPorts;
    type Memory = SimMemory;
    type Registers<'m> = SimRegisters<'m>;
    type Ram<'m> = SimRam<'m>;
    type Window<'m> = SimLoadWindow<'m>;
    type AcpiHandler = BufferMapper<'static>;
    type Dma = HostAddressing;

    fn ports(&self) -> SimPorts {
        self.ports.clone()
    }

    fn memory(&self) -> SimMemory {
        self.memory.clone()
    }

    fn fw_cfg_dma(&self) -> HostAddressing {
        HostAddressing
    }

    /// The parser reads a snapshot of memory as it is now: the tables' regions have been
    /// given back (written) by then.
    fn acpi_handler(&self) -> BufferMapper<'static> {
        BufferMapper::owning(self.memory.snapshot())
    }

    fn device_registers(&self, range: PhysRange) -> Result<SimRegisters<'_>, Box<ClaimError>> {
        Ok(SimRegisters { machine: self, range, claim: self.hold(range)? })
    }

    fn ram(&self, range: PhysRange) -> Result<SimRam<'_>, Box<ClaimError>> {
        let claim = self.hold(range)?;
        let bytes = self.memory.bytes(range.start, range.len() as usize);
        Ok(SimRam { machine: self, range, bytes, claim })
    }

    fn load_window(&self) -> Result<SimLoadWindow<'_>, Box<ClaimError>> {
        if !self.claims.borrow_mut().take_window() {
            return Err(Box::new(ClaimError::SecondWindow));
        }
        Ok(SimLoadWindow { machine: self, lent: None })
    }

    /// The boot CPU alone, once the MTRR layout for `request` plans as the hardware's
    /// bring-up plans it.
    fn bring_up_cpus(
        &self,
        _clock: Option<TscClock>,
        _startup: ApStartup<'_>,
        expected: u32,
        request: &MtrrRequest,
    ) -> Result<CpuSetup, Fatal> {
        self.uncacheable.borrow_mut().push(request.uncacheable.clone());
        if expected != 1 {
            return Err(Fatal::from(Box::new(CpuError::Missing {
                checked_in: 1,
                expected,
                fault: None,
            })));
        }
        MtrrLayout::plan(request, MtrrCaps::from_msr(MTRR_CAP), PHYS_BITS)
            .map_err(|e| Fatal::from(Box::new(CpuError::Mtrr(e))))?;
        let topology =
            Topology { thread_bits: 0, package_shift: 0, source: TopologySource::Leaf0B };
        let cpus =
            CpuList::new(0, &[], topology).map_err(|e| Fatal::from(Box::new(CpuError::List(e))))?;
        Ok(CpuSetup { cpus })
    }

    fn jump(&self, to: Jump) -> HandedOff {
        self.jumps.borrow_mut().push(to);
        HandedOff
    }
}
