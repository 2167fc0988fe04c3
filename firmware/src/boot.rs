//! The boot sequence: from the loader's start info to the end of the firmware's run.
//!
//! [`main`] sets up the console, runs [`run`] and turns its outcome into the firmware's exit:
//! a summary line and the success code, or one line naming the fatal error and the failure
//! code. Every fatal condition is a [`Fatal`] value; nothing below stops the machine itself.

use alloc::string::ToString;
use alloc::vec::Vec;
use core::fmt;

use log::{debug, info};

mod cpus;
mod pci;
mod tables;

use crate::acpi::numa::NumaTables;
use crate::acpi::ssdt::SleepStates;
use crate::arch::{HwPorts, IdentityMapped, Pit, rdtsc};
use crate::bootinfo::{BootInfo, BootInfoError, PhysRange};
use crate::chipset::isa::LegacyDevices;
use crate::chipset::pm::{BiosAreaGate, PmBlocks};
use crate::chipset::{Chipset, ChipsetError};
use crate::cmdline::Options;
use crate::console::{self, ConsoleChoice};
use crate::cpu::ApStartup;
use crate::e820::{ClaimKind, E820Builder, E820Map};
use crate::pci::Cf8;
use crate::platform::xen::{XenSetup, cmdline_key};
use crate::platform::{self, Platform};
use crate::smbios::{BiosStrings, CpuTopology};
use crate::time::{self, RateSource, TscRate};
use libacpi::tables::{MadtProcessor, ProcessorState};
use log::LevelFilter;

/// Where the firmware image lies, from the linker script.
#[derive(Clone, Copy, Debug)]
pub struct ImageLayout {
    pub image: PhysRange,
    pub heap_size: usize,
}

/// A condition the firmware cannot continue from.
#[derive(Debug)]
pub enum Fatal {
    BootInfo(BootInfoError),
    Cmdline(alloc::string::String),
    Chipset(ChipsetError),
    Layout(crate::layout::LayoutError),
    Pci(crate::pci::PlanError),
    Expander(crate::pci::ExpanderError),
    /// fw_cfg could not be read for something the machine's description needs.
    FwCfg(crate::platform::fw_cfg::FwCfgError),
    EcamNotDecoded(crate::chipset::q35::EcamArea),
    EcamSelfCheck(crate::pci::EcamMismatch),
    MemoryMap(crate::e820::E820Error),
    Cpu(crate::cpu::CpuError),
    CpuCountUnknown,
    /// Neither Xen's CPUID nor the PIT gave the TSC's rate, which every wait runs on.
    TscRate,
    Pm(crate::chipset::pm::MissingPmFunction),
    Pam(crate::chipset::pm::PamLocked),
    Acpi(libacpi::Error),
    Passthrough(tables::PassthroughError),
    AcpiSelfTest(crate::acpi::selftest::SelfTestError),
    Smbios(crate::smbios::SmbiosError),
    /// QEMU's SMBIOS structures (fw_cfg `etc/smbios/smbios-tables`) are malformed.
    QemuSmbios(crate::smbios::SmbiosBlobError),
    Numa(crate::acpi::numa::NumaError),
    QemuNuma(crate::acpi::qemu_numa::QemuNumaError),
    MpTable(crate::legacy::MpError),
    Pir(crate::legacy::PirError),
    Handoff(crate::handoff::HandoffError),
    Xen(crate::platform::xen::XenError),
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
        }
    }
}

impl From<BootInfoError> for Fatal {
    fn from(e: BootInfoError) -> Self {
        Fatal::BootInfo(e)
    }
}

impl From<crate::layout::LayoutError> for Fatal {
    fn from(e: crate::layout::LayoutError) -> Self {
        Fatal::Layout(e)
    }
}

impl From<ChipsetError> for Fatal {
    fn from(e: ChipsetError) -> Self {
        Fatal::Chipset(e)
    }
}

/// What a completed run found, for the closing summary line.
#[derive(Debug)]
pub struct Summary {
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
pub fn main(start_info_paddr: u32, layout: ImageLayout) -> ! {
    let platform = Platform::detect();
    let console = console::init(matches!(platform, Platform::Xen(_)));
    info!(
        "hvmloader-rs {} of {} (no_std Rust), image {}, heap {} KiB",
        env!("CARGO_PKG_VERSION"),
        crate::smbios::FIRMWARE_RELEASE_DATE,
        layout.image,
        layout.heap_size >> 10
    );
    info!("platform {platform}; console: {console}");
    match run(platform, start_info_paddr, layout) {
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

fn run(platform: Platform, start_info_paddr: u32, layout: ImageLayout) -> Result<Summary, Fatal> {
    // SAFETY: the entry code identity-maps the first 4 GiB and we are still on its tables.
    let memory = unsafe { IdentityMapped::new() };
    let mut boot = BootInfo::parse(&memory, u64::from(start_info_paddr), layout.image)?;
    // The command line is the start info's and, under Xen, the xenstore key's. It is parsed
    // as soon as it is known, so that the console follows it from there on; a bad option is
    // reported once the platform can end the domain cleanly (under Xen, through the
    // hypercall page).
    let mut cmdline = boot.cmdline.clone();
    let settle = |cmdline: &str| {
        let given = Options::parse(cmdline).unwrap_or_default();
        settle_console(given.console, given.log_level);
    };
    if let Platform::Xen(leaves) = platform
        && let Some(khz) = leaves.tsc_khz()
    {
        time::set_tsc_rate(TscRate { khz: khz.into(), source: RateSource::XenCpuid });
    }
    // Xen: hypercall page, the console keys, hvm_info_table, XENMEM_memory_map (+ reserved
    // device memory), xenstore configuration. Xen's start info for HVM firmware carries no
    // memory map: the rest of the boot uses Xen's.
    let mut xen = match platform {
        Platform::Xen(leaves) => {
            let from_key = |key: Option<alloc::string::String>| {
                cmdline = cmdline_key::combine(&boot.cmdline, key.as_deref());
                settle(&cmdline);
            };
            let setup = XenSetup::start(leaves, from_key).map_err(Fatal::Xen)?;
            boot.memory_map = setup.memory_map.clone();
            Some(setup)
        }
        Platform::Qemu => {
            settle(&cmdline);
            None
        }
    };
    let options = Options::parse(&cmdline).map_err(|e| Fatal::Cmdline(e.to_string()))?;
    log_boot_info(&boot, &cmdline, &options);
    if let Some(fault) = options.fault {
        log::warn!("failing on purpose: fault={fault:?}");
        crate::arch::provoke(fault);
    }

    // SAFETY: the firmware owns the machine's devices while it runs.
    let mut cfg = Cf8::new(unsafe { HwPorts::new() });
    let (chipset, vendor, device) = Chipset::detect(&mut cfg)?;
    info!("host bridge {vendor:04x}:{device:04x} at 00:00.0: {chipset}");
    let hole = match &xen {
        Some(x) => x.low_hole().map_err(Fatal::Xen)?,
        None => crate::layout::low_hole(&boot.memory_map)?,
    };
    // Under Xen the hole may grow over RAM moved above 4 GiB, as hvmloader grows it.
    let wiring = crate::chipset::IntxWiring::new(chipset, xen.is_some());
    let extra_roots = match &xen {
        Some(_) => 0,
        None => qemu_extra_pci_roots()?,
    };
    let qemu = match &xen {
        Some(_) => QemuTopology::default(),
        None => qemu_topology()?,
    };
    let pci = pci::bring_up(
        chipset,
        wiring,
        &mut boot,
        hole,
        xen.as_mut(),
        extra_roots,
        options.self_checks,
    )?;
    let hole = pci.hole.clone();
    let expected = match &xen {
        Some(x) => x.expected_cpus(),
        None => cpus::expected_cpus()?,
    };
    // Under Xen the vCPUs are started as hvmloader starts them, through VCPUOP.
    let startup = match xen.as_mut() {
        Some(x) => ApStartup::Hypervisor(x),
        None => ApStartup::InitSipi,
    };
    let (cpus, ioapic) = cpus::bring_up(&boot, &pci, hole, startup, expected)?;
    // SAFETY: the probe touches only the legacy devices' registers, which nothing else in
    // the firmware uses but COM1's scratch register, which the console leaves alone.
    let legacy = LegacyDevices::probe(&mut unsafe { HwPorts::new() });
    info!("{legacy}");

    let acpi = if xen.as_ref().is_none_or(|x| x.config.acpi) {
        Some(acpi_mode(chipset, &mut cfg, &pci.topology, xen.as_mut())?)
    } else {
        // The device model then has no ACPI PM function either.
        info!("ACPI: off, as the platform asks (platform/acpi=0)");
        None
    };
    let madt_cpus = madt_processors(&cpus.cpus, xen.as_ref());
    let cpu_hotplug = match &xen {
        Some(x) if acpi.is_some() => {
            let online = &x.hvm_info.vcpu_online;
            crate::acpi::cpu_hotplug::for_xen(&madt_cpus, online)
                .inspect_err(|e| log::warn!("vCPU hot-add: none, {e}"))
                .ok()
        }
        _ => None,
    };
    let mut avoid: Vec<PhysRange> = boot.modules.iter().map(|m| m.range).collect();
    avoid.extend([boot.start_info, layout.image]);
    let area = crate::layout::carve_persistent(&boot.memory_map, &avoid, tables::AREA_SIZE)?;
    let smbios = match &xen {
        Some(x) => {
            SmbiosSource { strings: x.config.bios_strings.clone(), uuid: x.uuid, qemu_table: None }
        }
        None => qemu_smbios(chipset),
    };
    let sleep_states = match &xen {
        Some(x) => x.sleep_states(),
        None => qemu_sleep_states(),
    };
    let numa = match xen.as_ref().and_then(|x| x.vnuma.as_ref()) {
        Some(v) => {
            let topology = crate::acpi::numa::NumaTopology {
                nodes: v.nr_vnodes,
                distances: v.distance.clone(),
                vcpu_node: v.vcpu_to_vnode.clone(),
                memory: v.memory.iter().map(|r| (r.start, r.end, r.nid)).collect(),
            };
            // Xen numbers vCPU n with APIC ID 2n.
            let tables = NumaTables::from_topology(&topology, &madt_cpus, |c| c.apic_id / 2)
                .map_err(Fatal::Numa)?;
            Some(tables)
        }
        None => qemu
            .numa
            .as_ref()
            .map(|topology| {
                // QEMU's item gives each APIC ID's node directly.
                NumaTables::from_topology(topology, &madt_cpus, |c| c.apic_id).map_err(Fatal::Numa)
            })
            .transpose()?,
    };
    let described = tables::Platform {
        acpi,
        chipset,
        bios_area: match xen {
            Some(_) => BiosAreaGate::AlwaysRam,
            None => BiosAreaGate::Pam(chipset),
        },
        pci: &pci,
        cpus: &madt_cpus,
        topology: smbios_topology(&cpus.cpus),
        ioapic_id: ioapic.id,
        ioapic_inputs: ioapic.inputs,
        uuid: smbios.uuid,
        sleep_states,
        numa: numa.as_ref(),
        expander_nodes: &qemu.expander_nodes,
        generation_id: xen.as_ref().and_then(|x| x.config.generation_id),
        cpu_hotplug,
        legacy,
        strings: &smbios.strings,
        qemu_smbios: smbios.qemu_table.as_deref(),
        requests: xen
            .as_ref()
            .map(|x| tables::TableRequests::from_xen(&x.config))
            .unwrap_or_default(),
    };
    let installed = tables::install(&described, &boot, area, options.self_checks)?;
    let e820 = memory_map(&boot, &pci, &installed)?;
    // What the firmware's own work cost, before a payload is loaded (`cargo xtask bench`).
    let mut summary = crate::stats::Summary::take();
    // Measured now if no wait needed it: after the snapshot, so the measurement's own time
    // and port accesses are not in it.
    summary.tsc_rate = tsc_rate().ok();
    info!("accesses: {summary}");
    match xen {
        Some(x) => match xen_hand_off(x, &boot, &e820, layout, &installed)? {},
        None => hand_off(chipset, &boot, &e820, layout, &installed).map_err(Fatal::Handoff)?,
    }

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

/// The Xen platform as the firmware drives it: through the real hypercall page.
type HwXen = XenSetup<crate::arch::HypercallPage>;

/// Applies the console choice and log level of the command line (or the platform's
/// defaults) and says where the log goes now.
fn settle_console(choice: Option<ConsoleChoice>, level: Option<LevelFilter>) {
    let status = console::configure(choice);
    log::set_max_level(level.unwrap_or(LevelFilter::Info));
    info!("console: {status}, log level {}", log::max_level());
}

/// The TSC's rate, which every wait runs on ([`crate::time`]): Xen's CPUID time leaf, read
/// at the start, or else measured against the PIT the first time it is needed (about 1 ms,
/// which a boot with one vCPU never spends before its closing summary).
pub(crate) fn tsc_rate() -> Result<TscRate, Fatal> {
    let measure = || {
        // SAFETY: the firmware owns the machine's devices while it runs; PIT channel 2 and
        // port 0x61 serve only this measurement.
        let mut ports = unsafe { HwPorts::new() };
        let khz = Pit::new(&mut ports).measure_tsc_khz(&mut rdtsc)?;
        Some(TscRate { khz, source: RateSource::Pit })
    };
    let rate = time::tsc_rate_or(measure).ok_or(Fatal::TscRate)?;
    debug!("time: {rate}");
    Ok(rate)
}

/// Puts the chipset in ACPI mode (under Xen, where Xen emulates the PM block), and finds
/// out whether the OS may take native PCIe hot-plug control. Returns the PM blocks for the
/// FADT and that answer.
fn acpi_mode(
    chipset: Chipset,
    cfg: &mut Cf8<HwPorts>,
    topology: &crate::pci::Topology,
    xen: Option<&mut HwXen>,
) -> Result<tables::AcpiMode, Fatal> {
    // SAFETY: the firmware owns the machine's devices while it runs.
    let mut ports = unsafe { HwPorts::new() };
    let ids_at =
        |bdf| topology.functions.iter().find(|f| f.bdf == bdf).map(|f| (f.vendor_id, f.device_id));
    let mut pm = chipset.enable_acpi(cfg, &mut ports, ids_at).map_err(Fatal::Pm)?;
    if let Some(x) = xen {
        // As hvmloader: once ACPI is on, Xen emulates PM1a status/enable at 0xb000 and the
        // PM timer at 0xb008 itself. PM1a control and GPE0 stay the device model's chipset:
        // PIIX4's GPE0 is at 0xafe0 (Xen's convention), ICH9's at PMBASE + 0x20, where
        // nothing of Xen's is.
        let xen_pm = x.use_acpi_ports().map_err(Fatal::Xen)?;
        if (pm.pm1a_event, pm.pm_timer) != (xen_pm.pm1a_event, xen_pm.pm_timer) {
            log::warn!(
                "chipset PM1a at {:#x}, timer at {:#x}: Xen emulates them at {:#x} and {:#x}, \
                 which the FADT names",
                pm.pm1a_event,
                pm.pm_timer,
                xen_pm.pm1a_event,
                xen_pm.pm_timer
            );
        }
        pm = PmBlocks { pm1a_event: xen_pm.pm1a_event, pm_timer: xen_pm.pm_timer, ..pm };
    }
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

/// The MADT's view of the CPUs: UIDs in bring-up order (boot CPU first), which under Xen is
/// vCPU order (vCPU n has APIC ID 2n, and the hot-add SSDT names processors by vCPU), and
/// vCPUs not online at boot are present but not enabled.
fn madt_processors(cpus: &crate::cpu::CpuList, xen: Option<&HwXen>) -> Vec<MadtProcessor> {
    let mut cpus: Vec<&crate::cpu::Cpu> = cpus.iter().collect();
    if xen.is_some() {
        cpus.sort_by_key(|cpu| cpu.apic_id);
    }
    cpus.into_iter()
        .enumerate()
        .map(|(uid, cpu)| MadtProcessor {
            uid: uid as u32,
            apic_id: cpu.apic_id,
            state: match xen {
                Some(x) if !x.vcpu_enabled(cpu.apic_id / 2) => ProcessorState::OnlineCapable,
                _ => ProcessorState::Enabled,
            },
        })
        .collect()
}

/// Under Xen: hand off as hvmloader does, to the BIOS `hvmloader/bios` names, which libxl
/// passes as the start info's "firmware" module.
fn xen_hand_off(
    mut xen: HwXen,
    boot: &BootInfo,
    e820: &E820Map,
    layout: ImageLayout,
    installed: &tables::Installed,
) -> Result<core::convert::Infallible, Fatal> {
    use crate::handoff::BiosPayload;
    use crate::handoff::ovmf::OvmfPayload;
    use crate::handoff::seabios::SeabiosPayload;
    use crate::platform::xen::BiosImage;

    // SAFETY: the firmware owns the chipset while it runs.
    let mut cfg = Cf8::new(unsafe { HwPorts::new() });
    // SAFETY: the boot page tables identity-map 4 GiB; the hand-off writes only the BIOS
    // area and its low pages, and for OVMF the flash range below 4 GiB it first backs with
    // RAM.
    let mut memory = unsafe { crate::arch::IdentityWindow::new() };
    let bios = match xen.bios_image(boot).map_err(Fatal::Xen)? {
        BiosImage::Seabios(module) => BiosPayload::Seabios(
            SeabiosPayload::from_module(
                module.range,
                // SAFETY: as `memory`; the module lies outside the BIOS area it is copied to.
                &unsafe { IdentityMapped::new() },
                &mut cfg,
                BiosAreaGate::AlwaysRam,
                &mut memory,
            )
            .map_err(Fatal::Handoff)?,
        ),
        BiosImage::Ovmf(module) => {
            // Pages behind the flash may be taken from free RAM, never from these.
            let mut in_use: Vec<PhysRange> = boot.modules.iter().map(|m| m.range).collect();
            in_use.extend([boot.start_info, layout.image]);
            let ovmf = OvmfPayload::from_xen_module(
                module.range,
                &mut xen.xen,
                e820,
                &in_use,
                &mut cfg,
                BiosAreaGate::AlwaysRam,
                &mut memory,
            );
            BiosPayload::Ovmf(ovmf.map_err(Fatal::Handoff)?)
        }
    };
    if let Some(page) = installed.generation_id {
        xen.publish_generation_id(page.start).map_err(Fatal::Xen)?;
    }
    xen.finish_on_hardware().map_err(Fatal::Xen)?;
    bios.boot(e820, &installed.bios_tables(), &mut memory).map_err(Fatal::Handoff)
}

/// Where the SMBIOS identity comes from.
struct SmbiosSource {
    /// Strings over the builder's defaults (Xen's `bios-strings/*`).
    strings: BiosStrings,
    uuid: Option<[u8; 16]>,
    /// QEMU's own structure table, which the tables take as it is.
    qemu_table: Option<Vec<u8>>,
}

/// SMBIOS under QEMU: the structures QEMU builds for the machine (fw_cfg
/// `etc/smbios/smbios-tables`, with whatever `-smbios type=N,...` set), as QEMU's own
/// firmware takes them. Without them (QEMU's legacy SMBIOS interface), QEMU's identity for
/// the firmware's own structures: manufacturer QEMU, the machine's description, `-uuid`.
fn qemu_smbios(chipset: Chipset) -> SmbiosSource {
    use crate::platform::fw_cfg::{self, FwCfg};
    use crate::smbios::qemu::TABLES_FILE;
    /// FW_CFG_UUID.
    const UUID_ITEM: u16 = 0x02;
    let identity = BiosStrings {
        system_manufacturer: Some("QEMU".into()),
        system_product_name: Some(chipset.qemu_description().into()),
        enclosure_manufacturer: Some("QEMU".into()),
        ..BiosStrings::default()
    };
    // SAFETY: the firmware owns the machine's devices while it runs.
    let Some(mut fw_cfg) = FwCfg::detect(unsafe { HwPorts::new() }, fw_cfg::IdentityMapped) else {
        return SmbiosSource { strings: identity, uuid: None, qemu_table: None };
    };
    let mut uuid = [0u8; 16];
    fw_cfg.read_item(UUID_ITEM, &mut uuid);
    let uuid = (uuid != [0; 16]).then_some(uuid);
    let table = fw_cfg.find_file(TABLES_FILE).and_then(|file| {
        let Some(file) = file else { return Ok(None) };
        let mut bytes = alloc::vec![0u8; file.size as usize];
        fw_cfg.read_file(&file, &mut bytes)?;
        Ok(Some(bytes))
    });
    let qemu_table = table.unwrap_or_else(|e: crate::platform::fw_cfg::FwCfgError| {
        log::warn!("SMBIOS: fw_cfg {TABLES_FILE}: {e}; the firmware's own structures instead");
        None
    });
    if qemu_table.is_none() {
        info!(
            "SMBIOS: QEMU gives no {TABLES_FILE}; the firmware's own structures, QEMU's identity"
        );
    }
    SmbiosSource { strings: identity, uuid, qemu_table }
}

/// What QEMU says about the machine's NUMA topology.
#[derive(Default)]
struct QemuTopology {
    /// From `-numa`; `None` without.
    numa: Option<crate::acpi::numa::NumaTopology>,
    /// The node of each expander bridge's root bus that has one: (bus, node).
    expander_nodes: Vec<(u8, u32)>,
}

/// QEMU's NUMA topology (see [`crate::acpi::qemu_numa`]): the legacy fw_cfg item, RAM as
/// fw_cfg `etc/e820` lays it out, distances and expanders' nodes from QEMU's own tables.
fn qemu_topology() -> Result<QemuTopology, Fatal> {
    use crate::acpi::qemu_numa::{self, QemuRam};
    use crate::platform::fw_cfg::{self, FwCfg};
    const NUMA_ITEM: u16 = 0x0D;
    const MAX_CPUS_ITEM: u16 = 0x0F;
    const E820_ENTRY: usize = 20;
    const E820_RAM: u32 = 1;
    const FOUR_GIB: u64 = 1 << 32;
    // SAFETY: the firmware owns the machine's devices while it runs.
    let Some(mut fw_cfg) = FwCfg::detect(unsafe { HwPorts::new() }, fw_cfg::IdentityMapped) else {
        return Ok(QemuTopology::default());
    };
    let mut read_file = |name: &str| -> Result<Option<Vec<u8>>, Fatal> {
        let Some(file) = fw_cfg.find_file(name).map_err(Fatal::FwCfg)? else { return Ok(None) };
        let mut bytes = alloc::vec![0u8; file.size as usize];
        fw_cfg.read_file(&file, &mut bytes).map_err(Fatal::FwCfg)?;
        Ok(Some(bytes))
    };
    let tables = read_file("etc/acpi/tables")?.unwrap_or_default();
    let e820 = read_file("etc/e820")?.unwrap_or_default();
    let expander_nodes =
        qemu_numa::find_table(&tables, b"DSDT").map(qemu_numa::expander_nodes).unwrap_or_default();
    let mut first = [0u8; 8];
    fw_cfg.read_item(NUMA_ITEM, &mut first);
    let nodes = qemu_numa::node_count(first);
    if nodes == 0 {
        return Ok(QemuTopology { numa: None, expander_nodes });
    }
    let mut max_cpus = [0u8; 2];
    fw_cfg.read_item(MAX_CPUS_ITEM, &mut max_cpus);
    let max_cpus = u16::from_le_bytes(max_cpus);
    let len = 8 * (1 + usize::from(max_cpus) + nodes.min(256) as usize);
    let mut item = alloc::vec![0u8; len];
    fw_cfg.read_item(NUMA_ITEM, &mut item);
    let mut ram = QemuRam { below_4g: 0, above_4g_start: FOUR_GIB, above_4g: 0 };
    for entry in e820.chunks_exact(E820_ENTRY) {
        let word = |at: usize| u64::from_le_bytes(entry[at..at + 8].try_into().expect("8"));
        let (start, length) = (word(0), word(8));
        if u32::from_le_bytes(entry[16..20].try_into().expect("4")) != E820_RAM {
            continue;
        }
        if start == 0 {
            ram.below_4g = length;
        } else if start >= FOUR_GIB {
            (ram.above_4g_start, ram.above_4g) = (start, length);
        }
    }
    let slit = qemu_numa::find_table(&tables, b"SLIT");
    let topology = qemu_numa::topology(&item, max_cpus, ram, slit).map_err(Fatal::QemuNuma)?;
    log::info!(
        "NUMA: {} node(s) from QEMU, distances {}",
        topology.nodes,
        if slit.is_some() { "from QEMU's SLIT" } else { "10 local, 20 remote" }
    );
    Ok(QemuTopology { numa: Some(topology), expander_nodes })
}

/// How many extra PCI root buses QEMU's expander bridges open (fw_cfg
/// `etc/extra-pci-roots`); 0 without fw_cfg.
fn qemu_extra_pci_roots() -> Result<u8, Fatal> {
    use crate::platform::fw_cfg::{self, FwCfg};
    // SAFETY: the firmware owns the machine's devices while it runs.
    let Some(mut fw_cfg) = FwCfg::detect(unsafe { HwPorts::new() }, fw_cfg::IdentityMapped) else {
        return Ok(0);
    };
    fw_cfg.extra_pci_roots().map_err(Fatal::FwCfg)
}

/// The sleep states to advertise under QEMU besides S5: S4 as fw_cfg `etc/system-states`
/// enables it. Never S3: QEMU wakes through the SeaBIOS that started us, which looks for
/// the waking vector in its own FACS, not in ours.
fn qemu_sleep_states() -> SleepStates {
    use crate::platform::fw_cfg::{self, FwCfg};
    // SAFETY: the firmware owns the machine's devices while it runs.
    let Some(mut fw_cfg) = FwCfg::detect(unsafe { HwPorts::new() }, fw_cfg::IdentityMapped) else {
        return SleepStates::NONE;
    };
    match fw_cfg.sleep_states() {
        Ok(Some(states)) => SleepStates { s3: None, s4: states.s4 },
        Ok(None) => SleepStates::NONE,
        Err(e) => {
            log::warn!("fw_cfg {}: {e}; advertising no S4", fw_cfg::SYSTEM_STATES_FILE);
            SleepStates::NONE
        }
    }
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

/// Hands the machine to the payload QEMU passed in fw_cfg (a Linux kernel, or a SeaBIOS or
/// OVMF image the Xen way). Returns only when there is none.
fn hand_off(
    chipset: Chipset,
    boot: &BootInfo,
    e820: &E820Map,
    layout: ImageLayout,
    tables: &tables::Installed,
) -> Result<(), crate::handoff::HandoffError> {
    use crate::handoff::{BiosPayload, linux::LinuxPayload};
    use crate::platform::fw_cfg::{self, FwCfg};

    // SAFETY: the firmware owns the machine's devices while it runs.
    let Some(mut fw_cfg) = FwCfg::detect(unsafe { HwPorts::new() }, fw_cfg::IdentityMapped) else {
        return Ok(());
    };
    // SAFETY: the boot page tables identity-map 4 GiB; the hand-off writes only ranges it
    // placed in free RAM outside `in_use`, or the BIOS area and its low pages.
    let mut memory = unsafe { crate::arch::IdentityWindow::new() };
    let mut in_use = alloc::vec![layout.image, boot.start_info];
    in_use.extend(boot.modules.iter().map(|m| m.range));
    // SAFETY: the firmware owns the chipset while it runs.
    let mut cfg = Cf8::new(unsafe { HwPorts::new() });
    if let Some(linux) = LinuxPayload::load(&mut fw_cfg, e820, &in_use, &mut memory)? {
        // A BIOS payload owns the BIOS area and its own reboot; a kernel does neither.
        crate::handoff::reset::install(chipset, &mut cfg, &mut memory)?;
        match linux.boot(e820, tables.rsdp(), &mut memory)? {}
    }
    if let Some(bios) =
        BiosPayload::load(&mut fw_cfg, &mut cfg, BiosAreaGate::Pam(chipset), &mut memory)?
    {
        match bios.boot(e820, &tables.bios_tables(), &mut memory)? {}
    }
    Ok(())
}

/// The memory map handed on: the loader's map plus what the firmware reserved (legacy BIOS
/// area, ECAM, IOAPIC) and where it left the ACPI and SMBIOS tables.
fn memory_map(
    boot: &BootInfo,
    pci: &pci::PciSetup,
    tables: &tables::Installed,
) -> Result<E820Map, Fatal> {
    let mut e820 = E820Builder::new(&boot.memory_map).map_err(Fatal::MemoryMap)?;
    let mut reserve = |start: u64, end: u64, owner| {
        e820.claim(ClaimKind::Reserved, PhysRange { start, end }, owner).map_err(Fatal::MemoryMap)
    };
    reserve(0xA_0000, 0x10_0000, "legacy VGA window and BIOS area")?;
    if let Some(area) = pci.ecam {
        // Linux uses MMCONFIG only if the MCFG range is reserved (E820 or ACPI resources).
        reserve(area.base, area.end(), "PCIe ECAM (MMCONFIG)")?;
    }
    reserve(IOAPIC.start, IOAPIC.end, "IOAPIC")?;
    reserve(tables.smbios_table.start, tables.smbios_table.end, "SMBIOS tables")?;
    if let Some(page) = tables.generation_id {
        reserve(page.start, page.end, "VM generation ID")?;
    }
    if let Some(legacy) = &tables.legacy {
        reserve(legacy.area.start, legacy.area.end, "MP table and $PIR")?;
    }
    if let Some(acpi) = &tables.acpi {
        e820.claim(ClaimKind::AcpiNvs, acpi.facs, "ACPI FACS").map_err(Fatal::MemoryMap)?;
        e820.claim(ClaimKind::AcpiTables, acpi.tables, "ACPI tables").map_err(Fatal::MemoryMap)?;
    }
    let map = e820.build().map_err(Fatal::MemoryMap)?;
    for entry in map.entries() {
        debug!("e820: {} {}", entry.range, entry.kind);
    }
    Ok(map)
}

/// The IOAPIC's register page, which no RAM or BAR may cover.
const IOAPIC: core::ops::Range<u64> = 0xFEC0_0000..0xFEC0_1000;

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
