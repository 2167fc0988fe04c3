//! Bringing up every vCPU once PCI is placed (the MTRRs describe the PCI layout), and
//! setting up the I/O APIC for the MADT.

use log::info;

use super::pci::PciSetup;
use super::{Fatal, Hardware};
use crate::addr::PhysRange;
use crate::arch::{IOAPIC_BASE, IOAPIC_WINDOW, IoApic};
use crate::bootinfo::BootInfo;
use crate::cpu::{self, ApStartup, CpuSetup, IoApicSetup, MtrrRequest};
use crate::time::TscClock;

pub(crate) fn bring_up(
    machine: &impl Hardware,
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
    // The AP start-up page must be RAM holding nothing the firmware still needs.
    cpu::check_boot_page(boot)?;
    // Only APs are waited for: one vCPU needs no clock (nor the TSC rate's measurement).
    let clock = if expected > 1 { Some(TscClock::new(super::tsc_rate(machine)?)) } else { None };
    let setup = machine.bring_up_cpus(clock, startup, expected, &request)?;
    let registers = machine
        .device_registers(PhysRange { start: IOAPIC_BASE, end: IOAPIC_BASE + IOAPIC_WINDOW })?;
    let ioapic = cpu::init_ioapic(&mut IoApic::new(registers), &setup.cpus);
    info!("{} vCPU(s) up, IOAPIC ID {}", setup.cpus.len(), ioapic.id);
    Ok((setup, ioapic))
}
