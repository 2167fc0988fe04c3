//! The Xen platform: what hvmloader gets from Xen, got the same way.
//!
//! | module        | what                                                               |
//! |---------------|--------------------------------------------------------------------|
//! | [`cpuid`]     | finding Xen (CPUID 0x40000x00) and its hypercall-page MSR          |
//! | [`abi`]       | numbers and `#[repr(C)]` structures of Xen's public headers         |
//! | [`hypercall`] | typed hypercalls over a raw interface ([`Hypercall`])               |
//! | [`hvm_info`]  | the `hvm_info_table` at 0x9F800: vCPUs, online map, RAM layout      |
//! | [`memmap`]    | XENMEM_memory_map, reserved device memory, `mmio_hole_size`         |
//! | [`shared_info`] | the shared info page: event channels' pending bits, Xen's time    |
//! | [`events`]    | waiting for xenstored on its event channel (SCHEDOP_poll)           |
//! | [`xenstore`]  | the xenstore ring client, with bounded waits                        |
//! | [`config`]    | the xenstore keys hvmloader reads, typed, with hvmloader's defaults |
//! | [`cmdline_key`] | the firmware's command line: `hvmloader/cmdline`                  |
//!
//! [`XenSetup::gather`] runs the whole input side over any [`Hypercall`] (host tests use a
//! fake hypervisor and a simulated xenstored); [`XenSetup::start`] is the firmware's entry,
//! on the real hypercall page. The hooks the boot sequence calls are methods of
//! [`XenSetup`]; [`stop`] ends the domain through SCHEDOP_shutdown.

pub(crate) mod abi;
pub(crate) mod cmdline_key;
pub(crate) mod config;
pub(crate) mod cpuid;
pub(crate) mod events;
pub(crate) mod hvm_info;
pub(crate) mod hypercall;
pub(crate) mod memmap;
pub(crate) mod shared_info;
pub(crate) mod xenstore;

#[cfg(test)]
pub(crate) mod tests;

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use log::{info, warn};

pub(crate) use abi::ShutdownReason;
pub(crate) use config::{BiosKind, XenConfig};
#[cfg(test)]
pub(crate) use cpuid::HypercallLeaf;
pub(crate) use cpuid::XenCpuid;
pub(crate) use hvm_info::{HvmInfo, HvmInfoError};
pub(crate) use hypercall::{Hypercall, Xen};
pub(crate) use xenstore::{XenStore, XsError};

use crate::acpi::ssdt::SleepStates;
use crate::arch::{HypercallPage, IdentityMapped, PhysMemory, rdtsc};
use crate::bootinfo::{BootInfo, MemoryKind, MemoryRegion, Module, PhysRange};
use crate::chipset::pm::{PM_BASE, PmBlocks};
#[cfg(test)]
use crate::chipset::wiring::xen_intx_gsi;
#[cfg(test)]
use crate::pci::{Bdf, IntxPin, Topology};
use crate::time::Clock;
use events::EventChannelClock;
use shared_info::{SHARED_INFO_GPFN, SharedInfo};

/// Where Xen emulates the ACPI PM registers once HVM_PARAM_ACPI_IOPORTS_LOCATION is 1
/// (public/hvm/ioreq.h: ACPI_PM1A_EVT_BLK_ADDRESS_V1 0xb000, PM1a_CNT +4, PM_TMR +8,
/// ACPI_GPE0_BLK_ADDRESS_V1 0xafe0, 4 bytes): the chipset's PM base, which the firmware
/// puts there on every platform. SCI on IRQ 9, as on the PIIX4 it stands for.
pub(crate) const XEN_PM_BLOCKS: PmBlocks = PmBlocks {
    pm1a_event: PM_BASE,
    pm1a_control: PM_BASE + 4,
    pm_timer: PM_BASE + 8,
    gpe0: 0xAFE0,
    gpe0_len: 4,
    sci_irq: 9,
};

/// The Xen platform PCI device (vendor XenSource, device "platform").
#[cfg(test)]
pub(crate) const PLATFORM_PCI_ID: (u16, u16) = (0x5853, 0x0001);

/// Why the Xen platform layer cannot go on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum XenError {
    HypercallLeaf { pages: u32, msr: u32 },
    Hypercall { what: &'static str, errno: i64 },
    TooManyEntries { what: &'static str, count: usize },
    Populate { requested: usize, done: usize },
    VnumaCounts { nodes: u32, vcpus: u32, ranges: u32 },
    VnumaNode { node: u32, nodes: u32 },
    BadMemoryEntry { index: usize, start: u64, size: u64 },
    MemoryEntriesOverlap { first: PhysRange, second: PhysRange },
    BadRdm { start_pfn: u64, nr_pages: u64 },
    Layout(crate::layout::LayoutError),
    MmioHoleSize { size: u64 },
    MmioHoleOverRam { hole_start: u64, ram_end: u64 },
    NoStore { pfn: u64, port: u64 },
    StoreAbove4G { paddr: u64 },
    Store(Box<XsError>),
    HvmInfo(HvmInfoError),
    Config(Box<config::ConfigError>),
    UnsupportedBios(BiosKind),
    NoFirmwareModule { bios: BiosKind },
    ModuleOutsideRam { range: PhysRange },
    Hole(memmap::HoleError),
}

impl fmt::Display for XenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use XenError::*;
        match self {
            HypercallLeaf { pages, msr } => write!(
                f,
                "Xen CPUID leaf base+2 reports {pages} hypercall page(s) at MSR {msr:#x}: \
                 not a usable hypercall interface"
            ),
            Hypercall { what, errno } => write!(f, "{what} failed: Xen errno {errno}"),
            TooManyEntries { what, count } => write!(f, "{what}: {count} entries is too many"),
            Populate { requested, done } => {
                write!(f, "XENMEM_populate_physmap populated {done} of {requested} pages")
            }
            VnumaCounts { nodes, vcpus, ranges } => write!(
                f,
                "XENMEM_get_vnumainfo: implausible counts ({nodes} nodes, {vcpus} vCPUs, \
                 {ranges} ranges)"
            ),
            VnumaNode { node, nodes } => {
                write!(f, "XENMEM_get_vnumainfo: vCPU on node {node} of {nodes}")
            }
            BadMemoryEntry { index, start, size } => write!(
                f,
                "XENMEM_memory_map entry {index} at {start:#x} size {size:#x} is empty or wraps"
            ),
            MemoryEntriesOverlap { first, second } => {
                write!(f, "XENMEM_memory_map entries {first} and {second} overlap")
            }
            BadRdm { start_pfn, nr_pages } => write!(
                f,
                "reserved device memory at pfn {start_pfn:#x}, {nr_pages} pages, is empty or wraps"
            ),
            Layout(e) => e.fmt(f),
            MmioHoleSize { size } => {
                write!(f, "platform/mmio_hole_size {size:#x} is not between 0 and 4 GiB")
            }
            MmioHoleOverRam { hole_start, ram_end } => write!(
                f,
                "platform/mmio_hole_size puts the MMIO hole at {hole_start:#x}, but RAM below \
                 4 GiB reaches {ram_end:#x}"
            ),
            NoStore { pfn, port } => {
                write!(f, "no xenstore: HVM_PARAM_STORE_PFN {pfn:#x}, STORE_EVTCHN {port}")
            }
            StoreAbove4G { paddr } => {
                write!(f, "xenstore ring at {paddr:#x} is above the 4 GiB the firmware maps")
            }
            Store(e) => e.fmt(f),
            HvmInfo(e) => e.fmt(f),
            Config(e) => e.fmt(f),
            UnsupportedBios(b) => {
                write!(f, "hvmloader/bios = {b:?}: this firmware hands off to SeaBIOS or OVMF only")
            }
            NoFirmwareModule { bios } => {
                write!(f, "hvmloader/bios = {bios:?} but the start info has no \"firmware\" module")
            }
            ModuleOutsideRam { range } => {
                write!(f, "the \"firmware\" module at {range} is not in RAM of Xen's memory map")
            }
            Hole(e) => e.fmt(f),
        }
    }
}

impl From<Box<XsError>> for Box<XenError> {
    fn from(e: Box<XsError>) -> Self {
        Box::new(XenError::Store(e))
    }
}

impl From<Box<config::ConfigError>> for Box<XenError> {
    fn from(e: Box<config::ConfigError>) -> Self {
        Box::new(XenError::Config(e))
    }
}

/// HVM_PARAM_CALLBACK_IRQ's value for delivery through `gsi` (type 0 in bits 63:56).
#[cfg(test)]
pub(crate) fn callback_irq_gsi(gsi: u32) -> u64 {
    (abi::param::CALLBACK_TYPE_GSI << abi::param::CALLBACK_TYPE_SHIFT) | u64::from(gsi)
}

/// The Xen platform PCI device on bus 0 and its interrupt pin, if there is one.
#[cfg(test)]
pub(crate) fn platform_device(topology: &Topology) -> Option<(Bdf, Option<IntxPin>)> {
    topology
        .functions
        .iter()
        .find(|f| (f.vendor_id, f.device_id) == PLATFORM_PCI_ID && f.bdf.bus() == 0)
        .map(|f| (f.bdf, f.interrupt_pin))
}

/// The BIOS image to hand off to: the start info's "firmware" module, as `hvmloader/bios`
/// says how to start it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BiosImage<'b> {
    Seabios(&'b Module),
    Ovmf(&'b Module),
}

/// Everything the Xen platform gave, validated, and the hypercalls to act on it.
#[derive(Debug)]
pub(crate) struct XenSetup<H: Hypercall> {
    pub xen: Xen<H>,
    /// Xen's version and extra version (logged; the tests check them).
    #[cfg(test)]
    pub version: (u16, u16),
    #[cfg(test)]
    pub extraversion: String,
    pub hvm_info: HvmInfo,
    /// The memory map to use instead of the start info's: XENMEM_memory_map (or, if Xen
    /// has none, the one `hvm_info` implies), RDM regions reserved.
    pub memory_map: Vec<MemoryRegion>,
    /// Reserved device memory regions (already in `memory_map`; the tests check them).
    #[cfg(test)]
    pub rdm: Vec<PhysRange>,
    pub config: XenConfig,
    /// The virtual NUMA topology, when the guest has one (XENMEM_get_vnumainfo).
    pub vnuma: Option<hypercall::Vnuma>,
    /// The domain's UUID (XENVER_guest_handle), for SMBIOS; `None` when Xen gives none or
    /// all zeroes.
    pub uuid: Option<[u8; 16]>,
    /// The store stays connected until [`XenSetup::finish`] hands it back.
    store: Option<XenStore>,
    /// The shared info page, mapped by [`XenSetup::start`] for the xenstore waits and
    /// unmapped by [`XenSetup::finish_and_unmap`].
    shared_info: Option<SharedInfo>,
}

impl XenSetup<HypercallPage> {
    /// The firmware's entry into Xen: installs the hypercall page, maps the shared info
    /// page, connects to xenstore and reads the firmware's command line key first
    /// (`cmdline` takes it, so that every later line follows it), then
    /// [`XenSetup::gather`], every wait for xenstored blocking on the store's event channel.
    pub fn start(
        cpuid: XenCpuid,
        memory: &IdentityMapped,
        cmdline: impl FnOnce(Option<String>),
    ) -> Result<Self, Box<XenError>> {
        let leaf = cpuid.hypercall_leaf()?;
        // SAFETY: we run on Xen (its CPUID signature was found) and `leaf.msr` is the MSR
        // Xen's own leaf names for the hypercall page; the image is identity-mapped.
        let page = unsafe { HypercallPage::install(leaf.msr) };
        let mut xen = Xen::new(page);
        // SAFETY: SHARED_INFO_GPFN is a frame that holds nothing (see its documentation),
        // below 4 GiB, so identity-mapped; only this mapping uses it.
        let shared = unsafe { SharedInfo::map(&mut xen, SHARED_INFO_GPFN) }?;
        let mut store = XenStore::connect_identity(&mut xen)?;
        let mut clock = EventChannelClock::new(Xen::new(page), &shared, store.port(), rdtsc);
        let key = {
            let mut session =
                config::StoreSession { store: &mut store, xen: &mut xen, clock: &mut clock };
            cmdline_key::read(&mut session)?
        };
        cmdline(key);
        let mut setup = Self::gather(xen, memory, store, &mut clock)?;
        setup.shared_info = Some(shared);
        Ok(setup)
    }
}

impl<H: Hypercall + Copy> XenSetup<H> {
    /// [`XenSetup::finish`], its waits on the store's event channel, then the shared info
    /// page unmapped: the last Xen calls before the hand-off.
    pub fn finish_and_unmap(mut self) -> Result<(), Box<XenError>> {
        let shared = self.shared_info.take().expect("XenSetup::start maps the shared info page");
        let page = *self.xen.raw();
        let port = self.store.as_ref().map_or(0, XenStore::port);
        self.finish(&mut EventChannelClock::new(Xen::new(page), &shared, port, rdtsc))?;
        shared.unmap(&mut Xen::new(page))
    }
}

impl<H: Hypercall> XenSetup<H> {
    /// Reads and checks every input: version, `hvm_info_table`, memory map, reserved
    /// device memory, the xenstore keys.
    pub fn gather(
        mut xen: Xen<H>,
        memory: &impl PhysMemory,
        mut store: XenStore,
        clock: &mut impl Clock,
    ) -> Result<Self, Box<XenError>> {
        let version = xen.version()?;
        let extraversion = xen.extraversion().unwrap_or_default();
        let uuid = match xen.guest_handle() {
            Ok(handle) => (handle != [0; 16]).then_some(handle),
            Err(e) => {
                warn!("no domain UUID for SMBIOS: {e}");
                None
            }
        };
        let hvm_info = HvmInfo::read(memory).map_err(XenError::HvmInfo)?;
        info!(
            "Xen {}.{}{extraversion}: {} vCPU(s) ({} online), APIC mode {}, low RAM to \
             {:#x}, high RAM to {:#x}",
            version.0,
            version.1,
            hvm_info.nr_vcpus,
            hvm_info.online_count(),
            if hvm_info.apic_mode { "on" } else { "off" },
            u64::from(hvm_info.low_mem_pgend) << 12,
            u64::from(hvm_info.high_mem_pgend) << 12,
        );
        let map = match xen.memory_map() {
            Ok(raw) if !raw.is_empty() => memmap::with_low_memory(memmap::from_e820(&raw)?),
            Err(e) if !matches!(*e, XenError::Hypercall { .. }) => return Err(e),
            _ => {
                warn!("XENMEM_memory_map gave nothing: using the hvm_info_table's layout");
                hvm_info.memory_map()
            }
        };
        let rdm = memmap::rdm_ranges(&xen.reserved_device_memory()?)?;
        let vnuma = xen.vnuma()?;
        if let Some(v) = &vnuma {
            info!("vNUMA: {} nodes, {} memory ranges", v.nr_vnodes, v.memory.len());
        }
        let (memory_map, lost) = memmap::reserve_rdm(&map, &rdm);
        for r in &rdm {
            info!("reserved device memory {r}");
        }
        for r in &lost {
            warn!("RAM {r} overlaps reserved device memory: no longer RAM");
        }
        let config = {
            let mut session = config::StoreSession { store: &mut store, xen: &mut xen, clock };
            XenConfig::read(&mut session)?
        };
        info!(
            "xenstore: bios {:?}, acpi {}, S3 {}, S4 {}, mmio_hole_size {}, tpm {:?}",
            config.bios,
            config.acpi,
            config.acpi_s3,
            config.acpi_s4,
            config.mmio_hole_size.map_or("default".into(), |s| alloc::format!("{s:#x}")),
            config.tpm_version
        );
        Ok(XenSetup {
            xen,
            #[cfg(test)]
            version,
            #[cfg(test)]
            extraversion,
            hvm_info,
            memory_map,
            #[cfg(test)]
            rdm,
            config,
            uuid,
            vnuma,
            store: Some(store),
            shared_info: None,
        })
    }

    /// The number of vCPUs to bring up: all `nr_vcpus` (hvmloader starts every one; the
    /// ones not online at boot are described as present but disabled, see
    /// [`XenSetup::vcpu_enabled`]).
    pub fn expected_cpus(&self) -> u32 {
        self.hvm_info.nr_vcpus
    }

    /// Whether vCPU `n` is marked enabled in the MADT (online at boot).
    pub fn vcpu_enabled(&self, n: u32) -> bool {
        self.hvm_info.is_online(n)
    }

    /// The low MMIO hole, honouring `platform/mmio_hole_size`.
    pub fn low_hole(&self) -> Result<Range<u64>, Box<XenError>> {
        memmap::low_hole(&self.memory_map, self.config.mmio_hole_size)
    }

    /// Switches Xen's ACPI PM emulation to the 0xb000 block (HVM_PARAM_ACPI_IOPORTS_LOCATION
    /// = 1, as hvmloader does when ACPI is on) and returns the blocks for the FADT.
    pub fn use_acpi_ports(&mut self) -> Result<PmBlocks, Box<XenError>> {
        self.xen.set_param(abi::param::ACPI_IOPORTS_LOCATION, 1)?;
        Ok(XEN_PM_BLOCKS)
    }

    /// The sleep states to advertise, as hvmloader does: S3 (SLP_TYP 1) unless
    /// `platform/acpi_s3` says no, S4 (SLP_TYP 0, S5's soft off) unless `platform/acpi_s4`
    /// says no.
    pub fn sleep_states(&self) -> SleepStates {
        SleepStates::xen(self.config.acpi_s3, self.config.acpi_s4)
    }

    /// Tells the toolstack where the VM generation ID lies: HVM_PARAM_VM_GENERATION_ID_ADDR,
    /// which libxl reads to write a new ID into that page when it restores the domain
    /// (hvmloader has set this parameter since Xen 4.5; the older xenstore key
    /// `hvmloader/generation-id-address` is read by no toolstack since). `address` is where
    /// the boot code wrote [`crate::acpi::ssdt::generation_id_bytes`] of
    /// `config.generation_id`, the address the SSDT's `VGEN` device gives.
    pub fn publish_generation_id(&mut self, address: u64) -> Result<(), Box<XenError>> {
        self.xen.set_param(abi::param::VM_GENERATION_ID_ADDR, address)?;
        info!("VM generation ID at {address:#x}");
        Ok(())
    }

    /// Writes `value` to the xenstore key `path` (relative paths are under the domain's
    /// home, /local/domain/<domid>/), waiting at most the store's timeout for each step.
    #[cfg(test)]
    pub fn write_key(
        &mut self,
        clock: &mut impl Clock,
        path: &str,
        value: &str,
    ) -> Result<(), Box<XenError>> {
        let store = self.store.as_mut().ok_or(XenError::NoStore { pfn: 0, port: 0 })?;
        store.write(&mut self.xen, clock, path, value)?;
        Ok(())
    }

    /// Points HVM_PARAM_CALLBACK_IRQ at the platform device's INTx GSI. Returns the GSI,
    /// or `None` without a platform device (or one without an interrupt pin).
    #[cfg(test)]
    pub fn set_callback_irq(&mut self, topology: &Topology) -> Result<Option<u32>, Box<XenError>> {
        let Some((bdf, Some(pin))) = platform_device(topology) else { return Ok(None) };
        let gsi = xen_intx_gsi(bdf.device(), pin);
        self.xen.set_param(abi::param::CALLBACK_IRQ, callback_irq_gsi(gsi))?;
        info!("Xen platform device at {bdf} {pin}: event callback on GSI {gsi}");
        Ok(Some(gsi))
    }

    /// The BIOS to hand off to: the "firmware" module, started as `hvmloader/bios` says.
    /// It must lie in RAM of Xen's memory map (the start info had no map to check it
    /// against).
    pub fn bios_image<'b>(&self, boot: &'b BootInfo) -> Result<BiosImage<'b>, Box<XenError>> {
        let bios = &self.config.bios;
        if !matches!(bios, BiosKind::Seabios | BiosKind::Ovmf) {
            return Err(Box::new(XenError::UnsupportedBios(bios.clone())));
        }
        let module =
            boot.module("firmware").ok_or(XenError::NoFirmwareModule { bios: bios.clone() })?;
        let in_ram = self
            .memory_map
            .iter()
            .any(|r| r.kind == MemoryKind::Ram && r.range.contains_range(&module.range));
        if !in_ram {
            return Err(Box::new(XenError::ModuleOutsideRam { range: module.range }));
        }
        Ok(match bios {
            BiosKind::Seabios => BiosImage::Seabios(module),
            _ => BiosImage::Ovmf(module),
        })
    }

    /// Hands the xenstore ring back clean; the last Xen call before the hand-off.
    pub fn finish(mut self, clock: &mut impl Clock) -> Result<(), Box<XenError>> {
        if let Some(store) = self.store.take() {
            store.hand_back(&mut self.xen, clock)?;
        }
        Ok(())
    }
}

/// Ends the domain with SCHEDOP_shutdown(`reason`) once the hypercall page is installed;
/// returns (for the caller's fallback) if it is not, or if Xen refused.
pub(crate) fn shutdown(reason: ShutdownReason) {
    if let Some(page) = HypercallPage::installed() {
        let err = Xen::new(page).shutdown(reason);
        crate::console::emergency(format_args!("SCHEDOP_shutdown({reason:?}): {err}"));
    }
}

/// The registers of a vCPU started in flat 32-bit protected mode at `eip`: CR0.PE only,
/// code/data segments with base 0, limit 4 GiB, and a busy 32-bit TSS (VMX refuses a
/// vCPU without a usable TR); no stack, since the start-up code sets its own.
pub(crate) fn flat32_vcpu_context(eip: u32) -> abi::VcpuHvmContext {
    // Attribute bits: type 0xB (execute/read, accessed) or 0x3 (read/write, accessed), S, P,
    // D/B and G; the TSS is type 0xB (32-bit busy), P.
    const CODE: u16 = 0xC9B;
    const DATA: u16 = 0xC93;
    const TSS: u16 = 0x08B;
    abi::VcpuHvmContext {
        mode: abi::VcpuHvmContext::MODE_32B,
        pad: 0,
        regs: abi::VcpuHvmX86_32 {
            eip,
            eflags: 1 << 1, // the always-one bit; IF clear
            cr0: 1,
            cs_limit: u32::MAX,
            ds_limit: u32::MAX,
            ss_limit: u32::MAX,
            es_limit: u32::MAX,
            tr_limit: 0x67,
            cs_ar: CODE,
            ds_ar: DATA,
            ss_ar: DATA,
            es_ar: DATA,
            tr_ar: TSS,
            ..Default::default()
        },
    }
}

/// vCPUs started and stopped as hvmloader does: VCPUOP_initialise with
/// [`flat32_vcpu_context`], VCPUOP_up, and VCPUOP_down once the vCPU checked in.
impl<H: Hypercall> crate::cpu::VcpuControl for XenSetup<H> {
    fn start_at(&mut self, vcpu: u32, eip: u32) -> Result<(), String> {
        let context = flat32_vcpu_context(eip);
        self.xen
            .vcpu_initialise(vcpu, &context)
            .and_then(|()| self.xen.vcpu_up(vcpu))
            .map_err(|e| e.to_string())
    }

    fn stop(&mut self, vcpu: u32) -> Result<(), String> {
        self.xen.vcpu_down(vcpu).map_err(|e| e.to_string())
    }
}
