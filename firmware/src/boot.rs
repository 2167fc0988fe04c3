//! The boot sequence: from the loader's start info to the end of the firmware's run.
//!
//! [`main`] sets up the console, runs [`run`] and turns its outcome into the firmware's exit:
//! a summary line and the success code, or one line naming the fatal error and the failure
//! code. Every fatal condition is a [`Fatal`] value; nothing below stops the machine itself.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use log::{debug, info};

mod board;
mod cpus;
mod hardware;
mod pci;
#[cfg(test)]
mod sim;
mod tables;
#[cfg(test)]
mod tests;

use board::Board;
pub(crate) use hardware::Hardware;

use crate::acpi::numa::NumaTables;
use crate::arch::{ClaimError, Machine, Pit, rdtsc};
use crate::bootinfo::{BootInfo, BootInfoError, PhysRange};
use crate::chipset::isa::LegacyDevices;
use crate::chipset::{Chipset, ChipsetError};
use crate::cmdline::Options;
use crate::console;
use crate::e820::{ClaimKind, E820Builder, E820Map};
use crate::pci::Cf8;
use crate::platform::{self, Platform};
use crate::smbios::CpuTopology;
use crate::time::{self, RateSource, TscRate};
use log::LevelFilter;

/// Where the firmware image lies, from the linker script.
#[derive(Clone, Copy, Debug)]
pub struct ImageLayout {
    pub image: PhysRange,
    pub heap_size: usize,
    /// What the boot code's unpacking did; `None` when the image ran as linked.
    pub unpacked: Option<Unpacked>,
}

/// The boot code's unpacking of the payload (rt/unpack.rs), for the log.
#[derive(Clone, Copy, Debug)]
pub struct Unpacked {
    pub packed_bytes: u32,
    pub payload_bytes: u32,
    /// The TSC when the unpacking began: the firmware's time starts there.
    pub started_tsc: u64,
    pub tsc_ticks: u64,
}

/// A condition the firmware cannot continue from.
#[derive(Debug)]
pub(crate) enum Fatal {
    BootInfo(Box<BootInfoError>),
    /// Boxed like the others, so that the enum stays two words.
    #[allow(clippy::box_collection)]
    Cmdline(Box<alloc::string::String>),
    Chipset(ChipsetError),
    Layout(Box<crate::layout::LayoutError>),
    Pci(Box<crate::pci::PlanError>),
    Expander(Box<crate::pci::ExpanderError>),
    /// fw_cfg could not be read for something the machine's description needs.
    FwCfg(Box<crate::platform::fw_cfg::FwCfgError>),
    EcamNotDecoded(Box<crate::chipset::q35::EcamArea>),
    EcamSelfCheck(Box<crate::pci::EcamMismatch>),
    MemoryMap(Box<crate::e820::E820Error>),
    Cpu(Box<crate::cpu::CpuError>),
    CpuCountUnknown,
    /// Neither Xen's CPUID nor the PIT gave the TSC's rate, which every wait runs on.
    TscRate,
    Pm(crate::chipset::pm::MissingPmFunction),
    Pam(crate::chipset::pm::PamLocked),
    Acpi(Box<libacpi::Error>),
    Passthrough(Box<tables::PassthroughError>),
    AcpiSelfTest(Box<crate::acpi::selftest::SelfTestError>),
    Smbios(Box<crate::smbios::SmbiosError>),
    /// QEMU's SMBIOS structures (fw_cfg `etc/smbios/smbios-tables`) are malformed.
    QemuSmbios(Box<crate::smbios::SmbiosBlobError>),
    Numa(Box<crate::acpi::numa::NumaError>),
    QemuNuma(Box<crate::acpi::qemu_numa::QemuNumaError>),
    MpTable(Box<crate::legacy::MpError>),
    Pir(Box<crate::legacy::PirError>),
    Handoff(Box<crate::handoff::HandoffError>),
    Xen(Box<crate::platform::xen::XenError>),
    /// A handle onto memory or device registers the machine would not grant.
    Claim(Box<ClaimError>),
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fatal::BootInfo(e) => e.fmt(f),
            Fatal::Cmdline(e) => write!(f, "command line: {e}"),
            Fatal::Chipset(e) => e.fmt(f),
            Fatal::Layout(e) => e.fmt(f),
            Fatal::Pci(e) => write!(f, "PCI: {e}"),
            Fatal::Expander(e) => e.fmt(f),
            Fatal::FwCfg(e) => e.fmt(f),
            Fatal::EcamNotDecoded(area) => {
                write!(f, "PCIEXBAR does not read back as programmed for ECAM at {area}")
            }
            Fatal::EcamSelfCheck(e) => e.fmt(f),
            Fatal::MemoryMap(e) => write!(f, "memory map: {e}"),
            Fatal::Cpu(e) => write!(f, "CPUs: {e}"),
            Fatal::CpuCountUnknown => {
                f.write_str("CPUs: no fw_cfg interface, so the number of vCPUs is unknown")
            }
            Fatal::TscRate => f.write_str(
                "time: no TSC rate (no Xen CPUID time leaf, and PIT channel 2 does not count)",
            ),
            Fatal::Pm(e) => e.fmt(f),
            Fatal::Pam(e) => e.fmt(f),
            Fatal::Acpi(e) => write!(f, "ACPI tables: {e}"),
            Fatal::Passthrough(e) => e.fmt(f),
            Fatal::AcpiSelfTest(e) => e.fmt(f),
            Fatal::Smbios(e) => write!(f, "SMBIOS: {e}"),
            Fatal::QemuSmbios(e) => {
                write!(f, "SMBIOS: QEMU's table (fw_cfg {}): {e}", crate::smbios::qemu::TABLES_FILE)
            }
            Fatal::Numa(e) => e.fmt(f),
            Fatal::QemuNuma(e) => e.fmt(f),
            Fatal::MpTable(e) => e.fmt(f),
            Fatal::Pir(e) => e.fmt(f),
            Fatal::Handoff(e) => write!(f, "hand-off: {e}"),
            Fatal::Xen(e) => write!(f, "Xen: {e}"),
            Fatal::Claim(e) => write!(f, "memory: {e}"),
        }
    }
}

/// Every error but the smallest is boxed: a `Result` of the boot sequence is then two
/// registers wide, which `?` moves without copying an error through memory. The rooms whose
/// errors are moved through many `?` box them where they are made and hand the box over.
macro_rules! fatal_from {
    (
        boxed here: $($variant:ident($error:ty)),* $(,)?;
        boxed already: $($boxed_variant:ident($boxed_error:ty)),* $(,)?
    ) => {
        $(impl From<$error> for Fatal {
            fn from(e: $error) -> Self {
                Fatal::$variant(Box::new(e))
            }
        })*
        $(impl From<Box<$boxed_error>> for Fatal {
            fn from(e: Box<$boxed_error>) -> Self {
                Fatal::$boxed_variant(e)
            }
        })*
    };
}

fatal_from!(
    boxed here:
        BootInfo(BootInfoError),
        Layout(crate::layout::LayoutError),
        Pci(crate::pci::PlanError),
        Expander(crate::pci::ExpanderError),
        EcamSelfCheck(crate::pci::EcamMismatch),
        Acpi(libacpi::Error),
        Passthrough(tables::PassthroughError),
        AcpiSelfTest(crate::acpi::selftest::SelfTestError),
        QemuSmbios(crate::smbios::SmbiosBlobError),
        Numa(crate::acpi::numa::NumaError),
        QemuNuma(crate::acpi::qemu_numa::QemuNumaError),
        MpTable(crate::legacy::MpError),
        Pir(crate::legacy::PirError);
    boxed already:
        Handoff(crate::handoff::HandoffError),
        Xen(crate::platform::xen::XenError),
        MemoryMap(crate::e820::E820Error),
        Smbios(crate::smbios::SmbiosError),
        FwCfg(crate::platform::fw_cfg::FwCfgError),
        Cpu(crate::cpu::CpuError),
        Claim(ClaimError),
);

impl From<ChipsetError> for Fatal {
    fn from(e: ChipsetError) -> Self {
        Fatal::Chipset(e)
    }
}

/// What a completed run found, for the closing summary line.
#[derive(Debug)]
pub(crate) struct Summary {
    pub platform: Platform,
    pub chipset: Chipset,
    pub ram_bytes: u64,
    pub modules: usize,
    pub cpus: usize,
    pub pci_functions: usize,
    pub unplaced_bars: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "platform {}, chipset {}, {} vCPU(s), {} MiB RAM, {} module(s), {} PCI functions, {} BAR(s) unplaced",
            self.platform,
            self.chipset,
            self.cpus,
            self.ram_bytes >> 20,
            self.modules,
            self.pci_functions,
            self.unplaced_bars
        )
    }
}

/// The firmware's main program, entered once from the runtime with the start info address.
pub fn main(machine: Machine, start_info_paddr: u32, layout: ImageLayout) -> ! {
    let platform = Platform::detect();
    let console = console::init(&machine, matches!(platform, Platform::Xen(_)));
    info!(
        "hvmloader-rs {} of {} (no_std Rust), image {}, heap {} KiB",
        env!("CARGO_PKG_VERSION"),
        crate::smbios::FIRMWARE_RELEASE_DATE,
        layout.image,
        layout.heap_size >> 10
    );
    if let Some(unpacked) = layout.unpacked {
        info!(
            "image: payload unpacked from {} to {} bytes in {} TSC ticks, counted in the time below",
            unpacked.packed_bytes, unpacked.payload_bytes, unpacked.tsc_ticks
        );
    }
    info!("platform {platform}; console: {console}");
    // The one place the platform is chosen: the boot sequence asks its board the rest.
    let outcome = match platform {
        Platform::Xen(leaves) => {
            run(&machine, platform, start_info_paddr, layout, &mut |boot, cmdline| {
                Ok(Box::new(board::xen::start(&machine, leaves, boot, cmdline)?))
            })
        }
        Platform::Qemu => run(&machine, platform, start_info_paddr, layout, &mut |_, cmdline| {
            Ok(Box::new(board::qemu::Qemu::<Machine>::start(&machine, cmdline)?))
        }),
    };
    match outcome {
        Ok(summary) => {
            info!("heap: {}", crate::stats::HEAP);
            info!("done: {summary}; nothing to hand off to, stopping");
            platform::success_stop()
        }
        Err(fatal) => {
            log::error!("fatal: {fatal}");
            platform::fail_stop()
        }
    }
}

/// Sets up the platform's board, given the start info and the command line it may extend
/// (under Xen with the xenstore key); the console follows the command line from there on.
type StartBoard<'a, H> =
    dyn FnMut(&mut BootInfo, &mut String) -> Result<Box<dyn Board<H>>, Fatal> + 'a;

/// The boot sequence on `platform`, whose board `start` sets up (and lets the console follow
/// the command line as soon as it is known).
fn run<H: Hardware>(
    machine: &H,
    platform: Platform,
    start_info_paddr: u32,
    layout: ImageLayout,
    start: &mut StartBoard<'_, H>,
) -> Result<Summary, Fatal> {
    let mut boot = BootInfo::parse(&machine.memory(), u64::from(start_info_paddr), layout.image)?;
    // The command line is the start info's and, under Xen, the xenstore key's. It is parsed
    // as soon as it is known, so that the console follows it from there on; a bad option is
    // reported once the platform can end the domain cleanly (under Xen, through the
    // hypercall page).
    let mut cmdline = boot.cmdline.clone();
    let mut board = start(&mut boot, &mut cmdline)?;
    let options = Options::parse(&cmdline).map_err(|e| Fatal::Cmdline(Box::new(e.to_string())))?;
    log_boot_info(&boot, &cmdline, &options);
    if let Some(fault) = options.fault {
        log::warn!("failing on purpose: fault={fault:?}");
        crate::arch::provoke(fault);
    }

    let mut cfg = Cf8::new(machine.ports());
    let (chipset, vendor, device) = Chipset::detect(&mut cfg)?;
    info!("host bridge {vendor:04x}:{device:04x} at 00:00.0: {chipset}");
    let hole = board.low_hole(&boot)?;
    let extra_roots = board.extra_pci_roots()?;
    let topology = board.topology(extra_roots)?;
    let pci = pci::bring_up(
        machine,
        chipset,
        &mut boot,
        hole,
        board.as_mut(),
        extra_roots,
        options.self_checks,
    )?;
    let hole = pci.hole.clone();
    let expected = board.expected_cpus()?;
    let (cpus, ioapic) = cpus::bring_up(machine, &boot, &pci, hole, board.ap_startup(), expected)?;
    // The probe touches only the legacy devices' registers, which nothing else in the
    // firmware uses but COM1's scratch register, which the console leaves alone.
    let legacy = LegacyDevices::probe(&mut machine.ports());
    info!("{legacy}");

    let acpi = if board.acpi_enabled() {
        Some(acpi_mode(machine, chipset, &mut cfg, &pci.topology, board.as_mut())?)
    } else {
        // The device model then has no ACPI PM function either.
        info!("ACPI: off, as the platform asks (platform/acpi=0)");
        None
    };
    let madt_cpus = board.madt_processors(&cpus.cpus);
    let cpu_hotplug = acpi.and_then(|_| board.cpu_hotplug(&madt_cpus));
    let requests = board.table_requests();
    let mut avoid: Vec<PhysRange> = boot.modules.iter().map(|m| m.range).collect();
    avoid.extend([boot.start_info, layout.image]);
    // The blobs passed through are read where they lie, while the tables are built.
    avoid.extend(requests.acpi_passthrough.into_iter().chain(requests.smbios_passthrough));
    let smbios = board.smbios(chipset);
    // The platform's own SMBIOS structures (QEMU's may be 64 KiB) are read into RAM carved
    // below the tables' rather than into the heap; it stays RAM afterwards.
    let scratch =
        smbios.qemu_table_len.map_or(0, |len| len as u64).next_multiple_of(crate::addr::PAGE_SIZE);
    let carved =
        crate::layout::carve_persistent(&boot.memory_map, &avoid, tables::AREA_SIZE + scratch)?;
    let area = PhysRange { start: carved.start + scratch, end: carved.end };
    let qemu_smbios = match smbios.qemu_table_len {
        Some(len) => {
            let mut ram =
                machine.ram(PhysRange { start: carved.start, end: carved.start + len as u64 })?;
            board.read_smbios_table(&mut ram).then_some(ram)
        }
        None => None,
    };
    let sleep_states = board.sleep_states();
    let numa = topology
        .numa
        .as_ref()
        .map(|n| NumaTables::from_topology(&n.topology, &madt_cpus, n.vcpu_of))
        .transpose()?;
    let described = tables::Platform {
        acpi,
        chipset,
        bios_area: board.bios_area(chipset),
        pci: &pci,
        cpus: &madt_cpus,
        topology: smbios_topology(&cpus.cpus),
        ioapic_id: ioapic.id,
        ioapic_inputs: ioapic.inputs,
        uuid: smbios.uuid,
        sleep_states,
        numa: numa.as_ref(),
        expander_nodes: &topology.expander_nodes,
        generation_id: board.generation_id(),
        cpu_hotplug,
        legacy,
        strings: &smbios.strings,
        qemu_smbios: qemu_smbios.as_deref(),
        requests,
    };
    let installed = tables::install(machine, &described, &boot, area, options.self_checks)?;
    let e820 = memory_map(&boot, &pci, &installed)?;
    // What the firmware's own work cost, before a payload is loaded (`cargo xtask bench`).
    let mut summary = crate::stats::Summary::take();
    // Measured now if no wait needed it: after the snapshot, so the measurement's own time
    // and port accesses are not in it.
    summary.tsc_rate = tsc_rate(machine).ok();
    info!("accesses: {summary}");
    board.hand_off(machine, chipset, &boot, &e820, layout, &installed)?;

    let ram_bytes = e820.ram_bytes();
    Ok(Summary {
        platform,
        chipset,
        ram_bytes,
        modules: boot.modules.len(),
        cpus: cpus.cpus.len(),
        pci_functions: pci.topology.functions.len(),
        unplaced_bars: pci.unplaced,
    })
}

/// Applies the console choice and log level of `cmdline` (or the platform's defaults, for
/// what it does not give or cannot be parsed) and says where the log goes now.
fn settle_console(cmdline: &str) {
    let given = Options::parse(cmdline).unwrap_or_default();
    let status = console::configure(given.console);
    log::set_max_level(given.log_level.unwrap_or(LevelFilter::Info));
    info!("console: {status}, log level {}", log::max_level());
}

/// The TSC's rate, which every wait runs on ([`crate::time`]): Xen's CPUID time leaf, read
/// at the start, or else measured against the PIT the first time it is needed (about 1 ms,
/// which a boot with one vCPU never spends before its closing summary).
pub(crate) fn tsc_rate(machine: &impl Hardware) -> Result<TscRate, Fatal> {
    let measure = || {
        // PIT channel 2 and port 0x61 serve only this measurement.
        let mut ports = machine.ports();
        let khz = Pit::new(&mut ports).measure_tsc_khz(&mut rdtsc)?;
        Some(TscRate { khz, source: RateSource::Pit })
    };
    let rate = time::tsc_rate_or(measure).ok_or(Fatal::TscRate)?;
    debug!("time: {rate}");
    Ok(rate)
}

/// Puts the chipset in ACPI mode (with the PM blocks the platform emulates itself), and finds
/// out whether the OS may take native PCIe hot-plug control. Returns the PM blocks for the
/// FADT and that answer.
fn acpi_mode<H: Hardware>(
    machine: &H,
    chipset: Chipset,
    cfg: &mut Cf8<H::Ports>,
    topology: &crate::pci::Topology,
    board: &mut dyn Board<H>,
) -> Result<tables::AcpiMode, Fatal> {
    let mut ports = machine.ports();
    let ids_at =
        |bdf| topology.functions.iter().find(|f| f.bdf == bdf).map(|f| (f.vendor_id, f.device_id));
    let pm = chipset.enable_acpi(cfg, &mut ports, ids_at).map_err(Fatal::Pm)?;
    let pm = board.acpi_pm_blocks(pm)?;
    info!(
        "ACPI mode on: PM block at {:#x}, GPE0 at {:#x} ({} bytes), SCI IRQ {}",
        pm.pm1a_event, pm.gpe0, pm.gpe0_len, pm.sci_irq
    );
    let withheld = chipset.device_model_acpi_hotplug(&mut ports);
    if chipset == Chipset::Q35 {
        info!(
            "PCIe hot-plug: {}",
            if withheld {
                "the device model runs ACPI hot-plug, so native control is not offered"
            } else {
                "native, offered to the OS through _OSC"
            }
        );
    }
    Ok(tables::AcpiMode { pm, native_pcie_hotplug: !withheld })
}

/// SMBIOS's view of the topology: sockets of equal size, as QEMU's `-smp` builds them.
fn smbios_topology(cpus: &crate::cpu::CpuList) -> CpuTopology {
    let sockets = cpus.sockets();
    let cores = sockets.iter().map(|s| s.cores).max().unwrap_or(1).max(1);
    let threads = sockets.iter().map(|s| s.threads).max().unwrap_or(1).max(1);
    CpuTopology {
        sockets: sockets.len().max(1) as u16,
        cores_per_socket: cores as u16,
        threads_per_core: (threads / cores).max(1) as u16,
    }
}

/// The memory map handed on: the loader's map plus what the firmware reserved (legacy BIOS
/// area, ECAM, IOAPIC) and where it left the ACPI and SMBIOS tables.
fn memory_map(
    boot: &BootInfo,
    pci: &pci::PciSetup,
    tables: &tables::Installed,
) -> Result<E820Map, Fatal> {
    let mut e820 = E820Builder::new(&boot.memory_map)?;
    let mut reserve = |start: u64, end: u64, owner| {
        e820.claim(ClaimKind::Reserved, PhysRange { start, end }, owner).map_err(Fatal::from)
    };
    reserve(0xA_0000, 0x10_0000, "legacy VGA window and BIOS area")?;
    if let Some(area) = pci.ecam {
        // Linux uses MMCONFIG only if the MCFG range is reserved (E820 or ACPI resources).
        reserve(area.base, area.end(), "PCIe ECAM (MMCONFIG)")?;
    }
    // The IOAPIC's register page, which no RAM or BAR may cover.
    let ioapic = crate::arch::IOAPIC_BASE;
    reserve(ioapic, ioapic + crate::addr::PAGE_SIZE, "IOAPIC")?;
    reserve(tables.smbios_table.start, tables.smbios_table.end, "SMBIOS tables")?;
    if let Some(page) = tables.generation_id {
        reserve(page.start, page.end, "VM generation ID")?;
    }
    if let Some(legacy) = &tables.legacy {
        reserve(legacy.area.start, legacy.area.end, "MP table and $PIR")?;
    }
    if let Some(acpi) = &tables.acpi {
        e820.claim(ClaimKind::AcpiNvs, acpi.facs, "ACPI FACS")?;
        e820.claim(ClaimKind::AcpiTables, acpi.tables, "ACPI tables")?;
    }
    let map = e820.build()?;
    for entry in map.entries() {
        debug!("e820: {} {}", entry.range, entry.kind);
    }
    Ok(map)
}

fn log_boot_info(boot: &BootInfo, cmdline: &str, options: &Options) {
    info!(
        "start info at {}: version {}, flags {:#x}, {} module(s), {} memory map entries, rsdp {}",
        boot.start_info,
        boot.version,
        boot.flags,
        boot.modules.len(),
        boot.memory_map.len(),
        match boot.rsdp {
            Some(a) => alloc::format!("{a:#x}"),
            None => alloc::string::String::from("none"),
        }
    );
    info!("command line: \"{cmdline}\"");
    debug!("options: {options:?}");
    for region in &boot.memory_map {
        info!("memory map: {} {}", region.range, region.kind);
    }
    for (i, module) in boot.modules.iter().enumerate() {
        info!("module {i}: {} \"{}\"", module.range, module.cmdline);
    }
}
