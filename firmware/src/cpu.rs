//! Processors: find and start every vCPU, learn its APIC ID, give every CPU the same MTRRs,
//! and leave the local APICs and the I/O APIC as an OS expects them.
//!
//! [`bring_up`] runs on the BSP:
//!
//! 1. plan the MTRR layout from the MMIO ranges ([`MtrrLayout::plan`]) and program it;
//! 2. INIT and STARTUP to all CPUs but itself (so APIC IDs need not be known, and gaps in
//!    them do not matter), with the start-up code in [`crate::arch::AP_BOOT_PAGE`]; a second
//!    STARTUP only if CPUs are still missing after [`SECOND_STARTUP_AFTER_US`];
//! 3. each AP, one at a time, reports its initial APIC ID, programs the same MTRRs, reads
//!    them back and checks in ([`ap_main`]);
//! 4. wait (bounded, on the TSC: [`crate::time`]) until the expected number checked in, then
//!    INIT every AP
//!    again: they sit in wait-for-SIPI, where the OS's own INIT-SIPI-SIPI finds them, and
//!    touch no memory (the MTRRs survive INIT);
//!
//! A CPU may start twice: QEMU keeps a STARTUP that reaches a running CPU pending, and an
//! INIT that finds one pending is followed by a fresh start. So check-ins are counted per
//! APIC ID, and after the final INIT the BSP waits for late restarts and sends INIT again
//! until none comes.
//! 5. put the BSP's local APIC in virtual-wire mode.
//!
//! Under a hypervisor that can start vCPUs itself ([`ApStartup::Hypervisor`], Xen's
//! VCPUOP_initialise/up), steps 2-4 become: start each vCPU in turn at the start-up code's
//! 32-bit entry, wait for its check-in, and take it offline again (VCPUOP_down), which is
//! how hvmloader does it; an OS's INIT-SIPI-SIPI later restarts the vCPU as on hardware.
//!
//! [`init_ioapic`] then gives the I/O APIC an ID no CPU has and masks every input.

mod list;
mod mtrr;
mod topology;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use log::{debug, info, warn};

pub use list::{Cpu, CpuList, CpuListError};
pub use mtrr::{MtrrCaps, MtrrError, MtrrLayout, MtrrRequest};
#[cfg(test)]
pub use topology::TopologySource;
pub use topology::{Topology, initial_apic_id};

use crate::arch::{
    AP_BOOT_PAGE, ApFault, ApTrampoline, Destination, IOAPIC_ID_MASK, IcrStuck, IoApic, Ipi,
    LocalApic, LocalCpu, MtrrRegisters, cpuid,
};
use crate::bootinfo::{BootInfo, MemoryKind, PhysRange};
use crate::time::Clock;

/// Spurious-interrupt vector of the BSP's local APIC (low nibble all ones, which P6-era
/// APICs require and every OS accepts).
pub const SPURIOUS_VECTOR: u8 = 0xFF;
/// How long the BSP waits for every AP to check in. Under TCG four APs need about a
/// millisecond; the bound only has to be far above that and short enough to report a lost
/// CPU before a test gives up.
pub const AP_CHECKIN_TIMEOUT_US: u64 = 5_000_000;
/// INIT-to-STARTUP delay of the SDM's start-up algorithm.
const INIT_DELAY_US: u64 = 10_000;
/// When CPUs still missing get a second STARTUP. The SDM sends it unconditionally after
/// 200 us, for APICs that could miss the first; every APIC this firmware meets takes the
/// first, and an unneeded second one is what makes QEMU start a CPU twice (see above).
pub const SECOND_STARTUP_AFTER_US: u64 = 100_000;
/// How often the BSP re-sends the final INIT to catch CPUs restarted by a stale STARTUP.
const FINAL_INIT_ROUNDS: u32 = 4;
/// The most CPUs brought up (QEMU's q35 allows 1024 vCPUs with x2APIC, Xen 128).
pub const MAX_CPUS: usize = 1024;

/// What [`bring_up`] found and did.
#[derive(Debug)]
pub struct CpuSetup {
    pub cpus: CpuList,
}

/// The I/O APIC as [`init_ioapic`] left it, for the MADT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoApicSetup {
    pub base: u64,
    pub id: u8,
    /// Redirection entries: GSIs 0..inputs.
    pub inputs: u16,
}

#[derive(Debug)]
pub(crate) enum CpuError {
    /// The caller expects no CPU at all, or more than [`MAX_CPUS`].
    Count {
        expected: u32,
    },
    BootPageBusy(String),
    Mtrr(MtrrError),
    /// A CPU's MTRRs do not read back as written.
    MtrrReadBack {
        apic_id: u32,
    },
    Ipi(IcrStuck),
    /// Fewer CPUs checked in than expected within the timeout.
    Missing {
        checked_in: u32,
        expected: u32,
        fault: Option<ApFault>,
    },
    /// More CPUs started than expected.
    Unexpected {
        checked_in: u32,
        expected: u32,
    },
    /// CPUs kept restarting after the final INIT.
    NotParked {
        restarts: u32,
    },
    List(CpuListError),
    /// The hypervisor refused to start or stop a vCPU.
    Hypervisor {
        vcpu: u32,
        why: String,
    },
    /// APs are expected but there is no clock to wait for them with.
    NoClock {
        expected: u32,
    },
}

impl fmt::Display for CpuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CpuError::Count { expected } => {
                write!(f, "CPU bring-up: {expected} CPUs expected, not 1 to {MAX_CPUS}")
            }
            CpuError::BootPageBusy(why) => {
                write!(f, "AP start-up page {AP_BOOT_PAGE:#x}: {why}")
            }
            CpuError::Mtrr(e) => e.fmt(f),
            CpuError::MtrrReadBack { apic_id } => {
                write!(f, "MTRRs of the CPU with APIC ID {apic_id} do not read back as written")
            }
            CpuError::Ipi(e) => e.fmt(f),
            CpuError::Missing { checked_in, expected, fault } => {
                write!(
                    f,
                    "{checked_in} of {expected} CPUs checked in within {} s",
                    AP_CHECKIN_TIMEOUT_US / 1_000_000
                )?;
                if let Some(fault) = fault {
                    write!(f, " (an AP took exception {} at rip {:#x})", fault.vector, fault.rip)?;
                }
                Ok(())
            }
            CpuError::Unexpected { checked_in, expected } => {
                write!(f, "{checked_in} CPUs checked in, {expected} expected")
            }
            CpuError::NotParked { restarts } => write!(
                f,
                "APs restarted {restarts} times after {FINAL_INIT_ROUNDS} final INITs; \
                 they cannot be left in wait-for-SIPI"
            ),
            CpuError::List(e) => e.fmt(f),
            CpuError::Hypervisor { vcpu, why } => write!(f, "vCPU {vcpu}: {why}"),
            CpuError::NoClock { expected } => {
                write!(f, "{expected} CPUs expected, but no clock to wait for the APs with")
            }
        }
    }
}

impl From<MtrrError> for Box<CpuError> {
    fn from(e: MtrrError) -> Self {
        Box::new(CpuError::Mtrr(e))
    }
}

impl From<IcrStuck> for Box<CpuError> {
    fn from(e: IcrStuck) -> Self {
        Box::new(CpuError::Ipi(e))
    }
}

impl From<CpuListError> for Box<CpuError> {
    fn from(e: CpuListError) -> Self {
        Box::new(CpuError::List(e))
    }
}

/// Checks that [`AP_BOOT_PAGE`] is RAM and holds nothing the boot information still points
/// at (start info, modules), before it is claimed with [`ApTrampoline::new`].
pub fn check_boot_page(boot: &BootInfo) -> Result<(), Box<CpuError>> {
    let page = PhysRange { start: AP_BOOT_PAGE, end: AP_BOOT_PAGE + 0x1000 };
    let busy = |what: &str, range: &PhysRange| {
        CpuError::BootPageBusy(alloc::format!("overlaps the {what} at {range}"))
    };
    if !boot.memory_map.iter().any(|r| r.kind == MemoryKind::Ram && r.range.contains_range(&page)) {
        return Err(Box::new(CpuError::BootPageBusy("is not RAM in the memory map".into())));
    }
    if boot.start_info.overlaps(&page) {
        return Err(Box::new(busy("start info", &boot.start_info)));
    }
    if let Some(module) = boot.modules.iter().find(|m| m.range.overlaps(&page)) {
        return Err(Box::new(busy("module", &module.range)));
    }
    Ok(())
}

/// How the BSP gets the other CPUs to run the start-up code.
pub enum ApStartup<'a> {
    /// INIT and STARTUP IPIs from the BSP's local APIC, to all CPUs but itself.
    InitSipi,
    /// The hypervisor starts vCPUs 1..n one by one and takes each offline after it
    /// checked in.
    Hypervisor(&'a mut dyn VcpuControl),
}

impl fmt::Debug for ApStartup<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ApStartup::InitSipi => "InitSipi",
            ApStartup::Hypervisor(_) => "Hypervisor",
        })
    }
}

/// A hypervisor's control over its vCPUs, numbered from 0 (the BSP).
pub trait VcpuControl {
    /// Starts vCPU `vcpu` in flat 32-bit protected mode (segment bases 0, limits 4 GiB,
    /// paging and interrupts off) at `eip`.
    fn start_at(&mut self, vcpu: u32, eip: u32) -> Result<(), String>;
    /// Takes vCPU `vcpu` offline, so that an INIT-SIPI-SIPI starts it afresh.
    fn stop(&mut self, vcpu: u32) -> Result<(), String>;
}

/// What every AP is told to do, published before the first STARTUP IPI.
#[derive(Clone, Copy)]
struct ApPlan {
    mtrrs: Option<MtrrRegisters>,
    x2apic: bool,
}

/// One AP's check-in.
struct ApReport {
    apic_id: AtomicU32,
    mtrrs_ok: AtomicBool,
}

static AP_PLAN: spin::Mutex<ApPlan> = spin::Mutex::new(ApPlan { mtrrs: None, x2apic: false });
/// One record per AP expected, allocated by [`prepare_check_ins`] before any AP starts and
/// never freed: an AP a stale STARTUP restarts may still read the records after the BSP is
/// done with them. Only the first [`AP_ARRIVED`] are ever read, each written by its AP
/// first.
static AP_REPORTS: spin::Once<&'static [ApReport]> = spin::Once::new();
/// Distinct APs that took a report slot (they run one at a time, so slot order is check-in
/// order).
static AP_ARRIVED: AtomicU32 = AtomicU32::new(0);
/// Distinct APs whose report is complete; published with Release after the report is
/// written.
static AP_CHECKED_IN: AtomicU32 = AtomicU32::new(0);
/// Starts of APs that had already checked in (see the module documentation).
static AP_RESTARTS: AtomicU32 = AtomicU32::new(0);

/// What an AP runs once in long mode (see `arch::ap_boot`): its APIC mode and MTRRs as
/// the BSP's, then its report. No logging: the console belongs to the BSP.
fn ap_main(mut cpu: LocalCpu) {
    let plan = *AP_PLAN.lock();
    if plan.x2apic {
        cpu.enable_x2apic();
    }
    let apic_id = initial_apic_id(cpuid);
    let mtrrs_ok = match plan.mtrrs {
        Some(regs) => {
            cpu.write_mtrrs(&regs);
            cpu.read_mtrrs(&regs) == regs
        }
        None => true,
    };
    // APs run one at a time (the start-up code's lock), so nothing changes the reports
    // between this scan and the store below.
    let reports = check_in_records();
    let arrived = AP_ARRIVED.load(Ordering::Relaxed) as usize;
    let seen = reports[..arrived.min(reports.len())]
        .iter()
        .any(|report| report.apic_id.load(Ordering::Relaxed) == apic_id);
    if seen {
        AP_RESTARTS.fetch_add(1, Ordering::Release);
        return;
    }
    AP_ARRIVED.store(arrived as u32 + 1, Ordering::Relaxed);
    if let Some(report) = reports.get(arrived) {
        report.apic_id.store(apic_id, Ordering::Relaxed);
        report.mtrrs_ok.store(mtrrs_ok, Ordering::Relaxed);
    }
    AP_CHECKED_IN.fetch_add(1, Ordering::Release);
}

/// Physical address width, from CPUID 0x80000008 (36 bits when the leaf is missing).
fn phys_bits() -> u8 {
    if cpuid(0x8000_0000, 0).eax >= 0x8000_0008 { cpuid(0x8000_0008, 0).eax as u8 } else { 36 }
}

/// Brings up every CPU; see the module documentation. `expected_cpus` counts the BSP
/// (QEMU: fw_cfg FW_CFG_NB_CPUS; Xen: hvm_info_table nr_vcpus). Every delay and wait runs
/// on `clock`, which only a machine with APs needs.
pub fn bring_up(
    bsp: &mut LocalCpu,
    boot_page: &mut ApTrampoline,
    clock: Option<impl Clock>,
    startup: ApStartup<'_>,
    expected_cpus: u32,
    mmio: &MtrrRequest,
) -> Result<CpuSetup, Box<CpuError>> {
    if !(1..=MAX_CPUS).contains(&(expected_cpus as usize)) {
        return Err(Box::new(CpuError::Count { expected: expected_cpus }));
    }
    let topology = Topology::from_cpuid(cpuid);
    let bsp_id = initial_apic_id(cpuid);
    debug!("topology: {topology}");

    let mtrr = match bsp.mtrr_capabilities() {
        Some(cap) => Some(MtrrLayout::plan(mmio, MtrrCaps::from_msr(cap), phys_bits())?),
        None => {
            warn!("the CPU has no MTRRs; memory types stay as they are");
            None
        }
    };
    let regs = mtrr.as_ref().map(MtrrLayout::registers);
    if let Some(regs) = &regs {
        bsp.write_mtrrs(regs);
        if bsp.read_mtrrs(regs) != *regs {
            return Err(Box::new(CpuError::MtrrReadBack { apic_id: bsp_id }));
        }
    }
    if let Some(layout) = &mtrr {
        debug!("MTRRs: {layout}");
    }

    let x2apic_mode = bsp.x2apic_mode();
    let plan = ApPlan { mtrrs: regs, x2apic: x2apic_mode };
    let started_by = match startup {
        ApStartup::InitSipi => "INIT-SIPI",
        ApStartup::Hypervisor(_) => "the hypervisor",
    };
    let (aps, ap_startup_us) = match (startup, clock) {
        _ if expected_cpus == 1 => (Vec::new(), 0),
        (_, None) => return Err(Box::new(CpuError::NoClock { expected: expected_cpus })),
        (ApStartup::InitSipi, Some(mut clock)) => {
            start_aps(bsp, boot_page, &mut clock, expected_cpus, plan)?
        }
        (ApStartup::Hypervisor(vcpus), Some(mut clock)) => {
            start_vcpus(vcpus, boot_page, &mut clock, expected_cpus, plan)?
        }
    };
    bsp.local_apic().set_virtual_wire(SPURIOUS_VECTOR);

    let cpus = CpuList::new(bsp_id, &aps, topology)?;
    for (index, cpu) in cpus.iter().enumerate() {
        info!(
            "CPU {index}: APIC ID {}, package {} core {} thread {}{}",
            cpu.apic_id,
            cpu.package,
            cpu.core,
            cpu.thread,
            if index == 0 { " (BSP)" } else { "" }
        );
    }
    info!(
        "{} CPU(s) as expected, {} socket(s), {} mode, APs started by {started_by} in {} ms, \
         MTRRs {}",
        cpus.len(),
        cpus.sockets().len(),
        if x2apic_mode { "x2APIC" } else { "xAPIC" },
        ap_startup_us / 1000,
        if mtrr.is_some() { "identical on every CPU" } else { "not supported" }
    );
    Ok(CpuSetup { cpus })
}

/// The check-in records (none before [`prepare_check_ins`]).
fn check_in_records() -> &'static [ApReport] {
    AP_REPORTS.get().copied().unwrap_or_default()
}

/// Makes a check-in record for each of `aps` APs, clears the counts and installs
/// [`ap_main`] in the start-up page.
fn prepare_check_ins(boot_page: &mut ApTrampoline, plan: ApPlan, aps: u32) {
    AP_REPORTS.call_once(|| {
        let blank = || ApReport { apic_id: AtomicU32::new(0), mtrrs_ok: AtomicBool::new(false) };
        Box::leak(core::iter::repeat_with(blank).take(aps as usize).collect())
    });
    *AP_PLAN.lock() = plan;
    AP_ARRIVED.store(0, Ordering::Relaxed);
    AP_RESTARTS.store(0, Ordering::Relaxed);
    AP_CHECKED_IN.store(0, Ordering::Release);
    boot_page.install(ap_main);
}

/// The APIC IDs the APs reported, in check-in order, once each checked its MTRRs.
fn checked_in_apic_ids(count: u32) -> Result<Vec<u32>, Box<CpuError>> {
    let mut aps = Vec::with_capacity(count as usize);
    for report in &check_in_records()[..count as usize] {
        let apic_id = report.apic_id.load(Ordering::Relaxed);
        if !report.mtrrs_ok.load(Ordering::Relaxed) {
            return Err(Box::new(CpuError::MtrrReadBack { apic_id }));
        }
        aps.push(apic_id);
    }
    Ok(aps)
}

/// Starts vCPUs 1..`expected_cpus` one at a time through the hypervisor: each checks in,
/// leaves the AP stack, and is taken offline before the next starts.
fn start_vcpus(
    vcpus: &mut dyn VcpuControl,
    boot_page: &mut ApTrampoline,
    clock: &mut impl Clock,
    expected_cpus: u32,
    plan: ApPlan,
) -> Result<(Vec<u32>, u64), Box<CpuError>> {
    prepare_check_ins(boot_page, plan, expected_cpus - 1);
    let entry = boot_page.flat32_entry();
    let started = clock.now_us();
    for vcpu in 1..expected_cpus {
        vcpus.start_at(vcpu, entry).map_err(|why| CpuError::Hypervisor { vcpu, why })?;
        let mut done = || AP_CHECKED_IN.load(Ordering::Acquire) >= vcpu && !boot_page.stack_busy();
        let checked_in = clock.poll_until(AP_CHECKIN_TIMEOUT_US, &mut done);
        // Offline again whatever happened: a vCPU that never checked in must not run on.
        vcpus.stop(vcpu).map_err(|why| CpuError::Hypervisor { vcpu, why })?;
        if !checked_in {
            return Err(Box::new(CpuError::Missing {
                checked_in: AP_CHECKED_IN.load(Ordering::Acquire) + 1,
                expected: expected_cpus,
                fault: boot_page.fault(),
            }));
        }
        // A vCPU that reported an APIC ID already seen was counted as a restart instead.
        if AP_RESTARTS.load(Ordering::Acquire) != 0 {
            return Err(Box::new(CpuError::Unexpected {
                checked_in: vcpu,
                expected: expected_cpus,
            }));
        }
    }
    Ok((checked_in_apic_ids(expected_cpus - 1)?, clock.now_us() - started))
}

/// INIT-SIPI-SIPI to all but the BSP, wait for the check-ins, INIT again. Returns the APs'
/// APIC IDs and the time they took.
fn start_aps(
    bsp: &mut LocalCpu,
    boot_page: &mut ApTrampoline,
    clock: &mut impl Clock,
    expected_cpus: u32,
    plan: ApPlan,
) -> Result<(Vec<u32>, u64), Box<CpuError>> {
    prepare_check_ins(boot_page, plan, expected_cpus - 1);
    let vector = boot_page.startup_vector();

    let mut apic = bsp.local_apic();
    let expected_aps = expected_cpus - 1;
    let mut all_in = || AP_CHECKED_IN.load(Ordering::Acquire) >= expected_aps;
    let started = clock.now_us();
    apic.send(Ipi::Init, Destination::AllButSelf)?;
    clock.delay_us(INIT_DELAY_US);
    apic.send(Ipi::Startup(vector), Destination::AllButSelf)?;
    let mut checked_in = clock.poll_until(SECOND_STARTUP_AFTER_US, &mut all_in);
    if !checked_in {
        debug!("CPUs missing after the first STARTUP; sending a second one");
        apic.send(Ipi::Startup(vector), Destination::AllButSelf)?;
        checked_in = clock.poll_until(AP_CHECKIN_TIMEOUT_US - SECOND_STARTUP_AFTER_US, &mut all_in);
    }
    let waited = clock.now_us() - started;
    // Whatever happened, every AP goes back to wait-for-SIPI before anything else runs.
    park_aps(&mut apic, clock, boot_page)?;

    let arrived = AP_ARRIVED.load(Ordering::Relaxed);
    if !checked_in {
        return Err(Box::new(CpuError::Missing {
            checked_in: AP_CHECKED_IN.load(Ordering::Acquire) + 1,
            expected: expected_cpus,
            fault: boot_page.fault(),
        }));
    }
    let checked_in = AP_CHECKED_IN.load(Ordering::Acquire);
    if arrived > expected_aps {
        return Err(Box::new(CpuError::Unexpected {
            checked_in: arrived + 1,
            expected: expected_cpus,
        }));
    }
    Ok((checked_in_apic_ids(checked_in)?, waited))
}

/// Sends the final INIT, then waits for CPUs that a STARTUP still pending in the emulator
/// restarts right after it (they run the start-up code once more and are counted in
/// `AP_RESTARTS`); each such round ends with another INIT, which finds no STARTUP pending.
fn park_aps(
    apic: &mut LocalApic<'_>,
    clock: &mut impl Clock,
    boot_page: &ApTrampoline,
) -> Result<(), Box<CpuError>> {
    let mut restarts = AP_RESTARTS.load(Ordering::Acquire);
    for _ in 0..FINAL_INIT_ROUNDS {
        apic.send(Ipi::Init, Destination::AllButSelf)?;
        // A restart happens as soon as the CPU takes the INIT; the INIT delay is ample for
        // it to reach its check-in.
        let before = restarts;
        let mut restarted = || AP_RESTARTS.load(Ordering::Acquire) != before;
        if !clock.poll_until(INIT_DELAY_US, &mut restarted) {
            return Ok(());
        }
        // Let the restarted CPUs finish (they take turns on one stack) until a whole INIT
        // delay passes with the stack free and no new start; then INIT again.
        for _ in 0..AP_CHECKIN_TIMEOUT_US / INIT_DELAY_US {
            let seen = AP_RESTARTS.load(Ordering::Acquire);
            clock.delay_us(INIT_DELAY_US);
            if !boot_page.stack_busy() && AP_RESTARTS.load(Ordering::Acquire) == seen {
                break;
            }
        }
        restarts = AP_RESTARTS.load(Ordering::Acquire);
        debug!("{} AP start(s) after the final INIT; sending it again", restarts - before);
    }
    Err(Box::new(CpuError::NotParked { restarts }))
}

/// The I/O APIC ID: the lowest 4-bit value no CPU uses as APIC ID, so that even an OS that
/// treats APIC IDs as one name space (as the P6-era serial APIC bus did) sees no clash.
/// With every 4-bit value taken (16 or more CPUs) there is no such value; modern xAPIC and
/// x2APIC systems keep the name spaces apart, and 0 is used.
pub fn ioapic_id_for(cpus: &CpuList) -> u8 {
    (0..=IOAPIC_ID_MASK).find(|&id| cpus.iter().all(|c| c.apic_id != u32::from(id))).unwrap_or(0)
}

/// Sets the I/O APIC's ID (see [`ioapic_id_for`]) and masks every redirection entry not
/// masked already: the OS routes interrupts itself, and until then none may reach a CPU.
pub fn init_ioapic(ioapic: &mut IoApic<impl crate::arch::Mmio>, cpus: &CpuList) -> IoApicSetup {
    let wanted = ioapic_id_for(cpus);
    ioapic.set_id(wanted);
    let id = ioapic.id();
    if id != wanted {
        warn!("IOAPIC keeps ID {id}, {wanted} was written");
    }
    let inputs = ioapic.inputs();
    // Only entries found unmasked are rewritten (and read back): every register access is
    // an exit, and Xen's 48 inputs start out masked.
    let mut unmasked = 0;
    for input in 0..inputs {
        if !ioapic.is_masked(input) {
            ioapic.mask(input);
            unmasked += usize::from(!ioapic.is_masked(input));
        }
    }
    if unmasked != 0 {
        warn!("IOAPIC: {unmasked} entries do not read back masked");
    }
    info!("IOAPIC at {:#x}: ID {id}, {inputs} inputs, all masked", ioapic.base());
    IoApicSetup { base: ioapic.base(), id, inputs }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;
    use crate::bootinfo::{MemoryRegion, Module};

    fn list(ids: &[u32]) -> CpuList {
        let topology =
            Topology { thread_bits: 0, package_shift: 2, source: TopologySource::Leaf0B };
        CpuList::new(ids[0], &ids[1..], topology).unwrap()
    }

    #[test]
    fn ioapic_id_avoids_cpu_ids() {
        assert_eq!(ioapic_id_for(&list(&[0])), 1);
        assert_eq!(ioapic_id_for(&list(&[0, 1, 2, 3])), 4);
        assert_eq!(ioapic_id_for(&list(&[0, 1, 2, 4, 5, 6])), 3);
        let all: Vec<u32> = (0..16).collect();
        assert_eq!(ioapic_id_for(&list(&all)), 0);
    }

    fn boot_info(map: Vec<MemoryRegion>, modules: Vec<Module>) -> BootInfo {
        BootInfo {
            start_info: PhysRange { start: 0x21e0, end: 0x2218 },
            version: 1,
            flags: 0,
            cmdline: String::new(),
            modules,
            rsdp: None,
            memory_map: map,
        }
    }

    #[test]
    fn boot_page_must_be_free_ram() {
        let ram =
            |start, end| MemoryRegion { range: PhysRange { start, end }, kind: MemoryKind::Ram };
        assert!(check_boot_page(&boot_info(vec![ram(0, 0x9_FC00)], vec![])).is_ok());
        let err =
            check_boot_page(&boot_info(vec![ram(0x10_0000, 0x200_0000)], vec![])).unwrap_err();
        assert!(alloc::format!("{err}").contains("is not RAM"), "{err}");
        let module =
            Module { range: PhysRange { start: 0x8800, end: 0x9000 }, cmdline: "x".into() };
        let err = check_boot_page(&boot_info(vec![ram(0, 0x9_FC00)], vec![module])).unwrap_err();
        assert!(alloc::format!("{err}").contains("overlaps the module"), "{err}");
    }

    #[test]
    fn missing_cpus_error_names_counts() {
        let e = CpuError::Missing { checked_in: 3, expected: 4, fault: None };
        assert_eq!(alloc::format!("{e}"), "3 of 4 CPUs checked in within 5 s");
        let fault = Some(ApFault { vector: 13, rip: 0x8123 });
        let e = CpuError::Missing { checked_in: 1, expected: 2, fault };
        assert!(alloc::format!("{e}").ends_with("(an AP took exception 13 at rip 0x8123)"));
    }
}
