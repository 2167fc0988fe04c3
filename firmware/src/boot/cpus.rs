//! Bringing up every vCPU once PCI is placed (the MTRRs describe the PCI layout), and
//! setting up the I/O APIC for the MADT.

use log::info;

use super::Fatal;
use super::pci::PciSetup;
use crate::arch::{
    ApTrampoline, IOAPIC_BASE, IOAPIC_WINDOW, IoApic, LocalCpu, Machine, MmioRegion,
};
use crate::bootinfo::BootInfo;
use crate::cpu::{self, ApStartup, CpuSetup, IoApicSetup, MtrrRequest};
use crate::time::TscClock;

pub fn bring_up(
    machine: &Machine,
    boot: &BootInfo,
    pci: &PciSetup,
    hole: core::ops::Range<u64>,
    startup: ApStartup<'_>,
    expected: u32,
) -> Result<(CpuSetup, IoApicSetup), Fatal> {
    // The whole hole up to 4 GiB (PCI windows, ECAM, chipset and APIC ranges) and the part
    // of the 64-bit window BARs occupy are uncacheable.
    let mut uncacheable = alloc::vec![hole.start..1 << 32];
    uncacheable.extend(pci.high_used.clone());
    let request = MtrrRequest { uncacheable };
    cpu::check_boot_page(boot).map_err(Fatal::Cpu)?;
    // SAFETY: firmware code on the BSP, interrupts off; nothing else touches its MTRRs/APIC.
    let mut bsp = unsafe { LocalCpu::new() };
    // SAFETY: the AP start-up page was just checked to be RAM holding nothing we still need;
    // the entry code's page tables are current.
    let mut boot_page = unsafe { ApTrampoline::new() };
    // Only APs are waited for: one vCPU needs no clock (nor the TSC rate's measurement).
    let clock = if expected > 1 { Some(TscClock::new(super::tsc_rate(machine)?)) } else { None };
    let setup = cpu::bring_up(&mut bsp, &mut boot_page, clock, startup, expected, &request)
        .map_err(Fatal::Cpu)?;
    // SAFETY: the IOAPIC's register window, identity-mapped, used only here.
    let registers = unsafe { MmioRegion::new(IOAPIC_BASE, IOAPIC_WINDOW) };
    let ioapic = cpu::init_ioapic(&mut IoApic::new(registers), &setup.cpus);
    info!("{} vCPU(s) up, IOAPIC ID {}", setup.cpus.len(), ioapic.id);
    Ok((setup, ioapic))
}
