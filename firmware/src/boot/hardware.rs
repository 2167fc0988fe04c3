//! What the boot sequence needs of the machine, as one trait: the hardware
//! ([`crate::arch::Machine`], taken once by the runtime) implements it for the firmware, a
//! simulated machine for the host tests of the whole boot. Every handle onto memory or
//! device registers is an owned value that holds its range while it lives. The machine's
//! ports and registers are handed out counted ([`crate::stats`]), and its ports skip
//! rewrites of the configuration address ([`Cf8Latched`]).

use alloc::boxed::Box;
use core::ops::DerefMut;

use super::Fatal;
use crate::addr::PhysRange;
use crate::arch::{
    ClaimError, HwPorts, IdentityAcpiHandler, IdentityMapped, Jump, LoadWindow, Machine, Mmio,
    MmioRegion, PhysMemory, PhysMemoryMut, PhysicalMapper, PortIo, RamRegion,
};
use crate::cpu::{self, ApStartup, CpuSetup, MtrrRequest};
use crate::pci::Cf8Latched;
use crate::platform::fw_cfg::{self, DmaAddressing};
use crate::stats::Counted;
use crate::time::TscClock;

/// The machine under the boot sequence.
pub(crate) trait Hardware {
    /// The I/O ports (handles are cheap and may be taken again).
    type Ports: PortIo + Clone;
    /// Physical memory, for reading what the loader handed over.
    type Memory: PhysMemory;
    /// A device's register window.
    type Registers<'m>: Mmio
    where
        Self: 'm;
    /// RAM set aside for the firmware's tables.
    type Ram<'m>: DerefMut<Target = [u8]>
    where
        Self: 'm;
    /// The hand-off's window onto free memory, to load a payload into.
    type Window<'m>: PhysMemoryMut
    where
        Self: 'm;
    /// The `acpi` crate's view of memory, for the self-test's parse of the tables.
    type AcpiHandler: PhysicalMapper;
    /// How fw_cfg's DMA interface names the firmware's buffers.
    type Dma: DmaAddressing + Clone;

    fn ports(&self) -> Self::Ports;
    fn memory(&self) -> Self::Memory;
    fn fw_cfg_dma(&self) -> Self::Dma;
    /// The parser's view of memory.
    fn acpi_handler(&self) -> Self::AcpiHandler;
    /// The registers of the device at `range`, held while the value lives.
    fn device_registers(&self, range: PhysRange) -> Result<Self::Registers<'_>, Box<ClaimError>>;
    /// RAM at `range`, held while it lives: what the caller carved out of the memory map, or
    /// a blob the platform's owner placed there (read where it lies).
    fn ram(&self, range: PhysRange) -> Result<Self::Ram<'_>, Box<ClaimError>>;
    /// The hand-off's window; nothing new is held while it is out.
    fn load_window(&self) -> Result<Self::Window<'_>, Box<ClaimError>>;
    /// Brings up every CPU ([`cpu::bring_up`]): MTRRs per `request`, `expected` vCPUs
    /// started the `startup` way, every wait on `clock`.
    fn bring_up_cpus(
        &self,
        clock: Option<TscClock>,
        startup: ApStartup<'_>,
        expected: u32,
        request: &MtrrRequest,
    ) -> Result<CpuSetup, Fatal>;
    /// Leaves the firmware for `to`: on the hardware this never returns; a simulated
    /// machine records the jump and returns.
    fn jump(&self, to: Jump) -> HandedOff;
}

/// What a jump returns where it returns at all (a simulated machine).
#[derive(Debug)]
pub(crate) struct HandedOff;

impl Hardware for Machine {
    type Ports = Cf8Latched<Counted<HwPorts>>;
    type Memory = IdentityMapped;
    type Registers<'m> = Counted<MmioRegion<'m>>;
    type Ram<'m> = RamRegion<'m>;
    type Window<'m> = LoadWindow<'m>;
    type AcpiHandler = IdentityAcpiHandler;
    type Dma = fw_cfg::IdentityMapped;

    fn ports(&self) -> Self::Ports {
        Cf8Latched(Counted(Machine::ports(self)))
    }

    fn memory(&self) -> Self::Memory {
        Machine::memory(self)
    }

    fn fw_cfg_dma(&self) -> Self::Dma {
        fw_cfg::IdentityMapped
    }

    fn acpi_handler(&self) -> IdentityAcpiHandler {
        Machine::acpi_handler(self)
    }

    fn device_registers(&self, range: PhysRange) -> Result<Self::Registers<'_>, Box<ClaimError>> {
        Machine::device_registers(self, range).map(Counted)
    }

    fn ram(&self, range: PhysRange) -> Result<RamRegion<'_>, Box<ClaimError>> {
        Machine::ram(self, range)
    }

    fn load_window(&self) -> Result<LoadWindow<'_>, Box<ClaimError>> {
        Machine::load_window(self)
    }

    fn bring_up_cpus(
        &self,
        clock: Option<TscClock>,
        startup: ApStartup<'_>,
        expected: u32,
        request: &MtrrRequest,
    ) -> Result<CpuSetup, Fatal> {
        let mut bsp = self.boot_cpu()?;
        let mut start_page = self.ap_start_page()?;
        cpu::bring_up(&mut bsp, &mut start_page, clock, startup, expected, request)
            .map_err(Fatal::from)
    }

    fn jump(&self, to: Jump) -> HandedOff {
        Machine::jump(self, to)
    }
}
