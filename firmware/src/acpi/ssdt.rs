//! The runtime SSDT: the objects that depend on what the firmware found and decided, next
//! to the static DSDT of the chipset (asl/, [`super::dsdt`]).
//!
//! ```text
//! Scope (\_SB.PCI0) {
//!     Name (_CRS, ResourceTemplate () {
//!         WordBusNumber   the root bus range
//!         IO              0xCF8-0xCFF, the configuration ports the host bridge consumes
//!         WordIO          0x0000-0x0CF7 and 0x0D00-0xFFFF: all I/O around them
//!         DWordMemory     0xA0000-0xBFFFF, the legacy VGA window
//!         DWordMemory     each low PCI window (below 4 GiB)
//!         QWordMemory     the 64-bit window, when there is one
//!     })
//!     Device (ECAM) { PNP0C02 reserving the ECAM area (Q35) }
//! }
//! Scope (\_SB) {
//!     Device (PC80) { one per QEMU expander bridge, named by its root bus: _HID PNP0A08
//!         and _CID PNP0A03 (PCIe; PNP0A03 alone for conventional PCI), _UID and _BBN the
//!         bus, _PXM its NUMA node, _CRS its bus range and windows (carved out of PCI0's),
//!         _PRT through \_SB.PRTX, _OSC (PCIe) through \_SB.PCI0._OSC }
//! }
//! Scope (\_SB) {
//!     Device (C000) { ACPI0007: _HID, _UID, _STA, _MAT } ...one per processor
//! }
//! Scope (\_SB) {                                    with vCPU hot-add (Xen)
//!     Name (NCPU, <processors>)
//!     Name (CPON, Buffer (0x20) { <the vCPUs online at boot> })
//!     Method (CNOT, 2) { If (Arg0 == 0) { Notify (C000, Arg1) } ... }
//! }
//! (the processors' _STA and _MAT then call CSTA and CMAT of the hot-plug SSDT,
//! asl/cpu_hotplug.asi)
//! Name (\_S3, Package (4) { SLP_TYP, SLP_TYP, 0, 0 })   when S3 is advertised
//! Name (\_S4, Package (4) { SLP_TYP, SLP_TYP, 0, 0 })   when S4 is advertised
//! Scope (\_SB) {
//!     Device (VGEN) { the VM generation ID: _HID, _CID, _DDN, ADDR }   when there is one
//! }
//! ```
//!
//! [`build_ssdt`] is pure: it writes the AML body into the caller's buffer
//! ([`ssdt_body_len`] measures it first), and the firmware has libacpi's installer call it
//! on the table's place (`AmlBody::WrittenInPlace`).

use alloc::vec::Vec;
use core::ops::{Range, RangeInclusive};

use libacpi::Error;
use libacpi::aml::{
    AddressSpace, AmlWriter, Arg, Buffer, Cacheability, Call, EisaId, Io, LEqual, Package, Path,
    ProcessorDevice, Resource, ResourceTemplate, ResourceUsage, Str,
};
use libacpi::tables::{MadtProcessor, ProcessorState};

use crate::addr::FOUR_GIB;
use crate::chipset::q35::EcamArea;

/// What the SSDT describes.
#[derive(Clone, Debug)]
pub struct SsdtInput<'a> {
    /// Every processor, as the MADT lists them: each gets a processor device whose `_UID`
    /// and `_MAT` are this entry, so the MADT must be built from the same slice. APIC IDs
    /// and UIDs are taken as given (gaps are fine).
    pub cpus: &'a [MadtProcessor],
    /// Buses the root bridge decodes: 0 up to the highest bus a hot-added bridge may get
    /// (on Q35 at most the last bus of the ECAM area).
    pub bus_range: RangeInclusive<u8>,
    /// The low PCI windows, below 4 GiB (pieces of one window when the ECAM area splits it).
    pub low_windows: &'a [Range<u64>],
    /// The 64-bit PCI window above RAM.
    pub high_window: Option<Range<u64>>,
    /// The ECAM area (Q35): reserved as a motherboard resource, since Linux uses an MCFG
    /// range only when the memory map or such a resource reserves it.
    pub ecam: Option<EcamArea>,
    /// The sleep states to advertise besides S5 (which the DSDT has), with the SLP_TYP
    /// values the device model's PM1a_CNT implements.
    pub sleep_states: SleepStates,
    /// QEMU's expander bridges' root buses: each gets its own root bridge device, and its
    /// bus range and windows are left out of PCI0's.
    pub expanders: &'a [ExpanderRoot],
    /// vCPU hot-add (Xen): the processors follow the device model's presence bitmap, read
    /// by the hot-plug SSDT (asl/cpu_hotplug.asi). `cpus` are then one per possible
    /// vCPU, in vCPU order: processor `n` is vCPU `n`, bit `n` of the bitmap.
    pub cpu_hotplug: Option<CpuHotplug>,
    /// Guest-physical address of the 16-byte VM generation ID ([`generation_id_bytes`]):
    /// describes it with the `VGEN` device. It must be [`GENERATION_ID_ALIGN`]-aligned (so
    /// it stays within one page) in memory the memory map reserves (not RAM, not ACPI
    /// reclaimable).
    pub generation_id: Option<u64>,
}

/// The root bus of one QEMU expander bridge, as its root bridge device describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpanderRoot {
    pub bus_range: RangeInclusive<u8>,
    /// PCI Express (`pxb-pcie`: PNP0A08 with `_OSC`) or conventional (`pxb`: PNP0A03).
    pub pcie: bool,
    /// The windows its devices were placed in (I/O, then memory below and above 4 GiB).
    pub io: Option<Range<u64>>,
    pub mem: Vec<Range<u64>>,
    /// The NUMA node (proximity domain) QEMU gave the expander, if any.
    pub proximity: Option<u32>,
    /// For each entry slot * 4 + pin (0 = INTA) of the root bus, the bus-0 slot and pin
    /// whose interrupt rule applies (see `IntxWiring::expander_input`).
    pub intx: [[u8; 2]; 128],
}

/// What the runtime SSDT gives the hot-plug SSDT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuHotplug {
    /// The vCPUs online at boot, bit `n` = vCPU `n`: what the OS is told first.
    pub online: [u8; CPU_PRESENCE_BYTES],
}

/// The size of the device model's vCPU presence bitmap: 256 vCPUs.
pub const CPU_PRESENCE_BYTES: usize = 32;

/// SLP_TYP values for `\_S3` and `\_S4` (ACPI 6.5, 7.4.2): the value the OS writes to
/// PM1a_CNT.SLP_TYP (and PM1b, which these chipsets lack) to enter the state. `None`: the
/// state is not advertised and the OS will not use it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SleepStates {
    /// Suspend to RAM.
    pub s3: Option<u8>,
    /// Suspend to disk (hibernation): for the device model, a soft off the OS chose.
    pub s4: Option<u8>,
}

/// SLP_TYP for S3 on QEMU's PIIX4 and ICH9 PM (hw/acpi/core.c: 1 requests a suspend),
/// which qemu-xen runs for Xen guests too; hvmloader advertises the same value.
pub const S3_SLP_TYP: u8 = 1;
/// SLP_TYP for S4 on Xen as hvmloader advertises it: 0, the value of S5 (soft off), which
/// every Xen device model powers off on.
pub const XEN_S4_SLP_TYP: u8 = 0;
/// SLP_TYP for S4 on QEMU: its PM devices' `s4_val` property, 2 unless changed (QEMU
/// reports the configured value in fw_cfg `etc/system-states`).
#[cfg(test)]
pub const QEMU_DEFAULT_S4_SLP_TYP: u8 = 2;
/// PM1_CNT.SLP_TYP is a 3-bit field.
const MAX_SLP_TYP: u8 = 7;

impl SleepStates {
    /// Neither S3 nor S4.
    pub const NONE: SleepStates = SleepStates { s3: None, s4: None };

    /// What hvmloader advertises under Xen for `platform/acpi_s3` and `platform/acpi_s4`:
    /// S3 with SLP_TYP 1, S4 with SLP_TYP 0.
    pub fn xen(acpi_s3: bool, acpi_s4: bool) -> Self {
        SleepStates { s3: acpi_s3.then_some(S3_SLP_TYP), s4: acpi_s4.then_some(XEN_S4_SLP_TYP) }
    }
}

/// Size of the VM generation ID in guest memory.
pub const GENERATION_ID_SIZE: usize = 16;
/// Alignment of the VM generation ID's address: the specification asks for 8 bytes; 16 also
/// keeps the 16 bytes within one 4 KiB page, which Xen's toolstack relies on (libxl maps
/// only the page of HVM_PARAM_VM_GENERATION_ID_ADDR to write a new ID on restore).
pub const GENERATION_ID_ALIGN: u64 = 16;

/// The VM generation ID as it lies in memory: the low 64 bits, then the high 64 bits, each
/// little-endian (the layout Xen's toolstack writes on restore, and Windows' VM_GENCOUNTER).
pub fn generation_id_bytes(id: [u64; 2]) -> [u8; GENERATION_ID_SIZE] {
    let mut bytes = [0u8; GENERATION_ID_SIZE];
    bytes[..8].copy_from_slice(&id[0].to_le_bytes());
    bytes[8..].copy_from_slice(&id[1].to_le_bytes());
    bytes
}

/// `_HID` of the generation ID device: the ID Xen's hvmloader gives it, so a Windows guest
/// moved between the two firmwares keeps the same device. OSes bind to the `_CID`.
const GENERATION_ID_HID: &str = "XEN0000";
/// `_CID` and `_DDN` the Microsoft specification requires.
const GENERATION_ID_CID: &str = "VM_Gen_Counter";

/// The legacy VGA frame buffer window, which the host bridge forwards to the bus.
const VGA_WINDOW: RangeInclusive<u32> = 0xA_0000..=0xB_FFFF;
/// The PCI configuration ports (CONFIG_ADDRESS and CONFIG_DATA), decoded by the host bridge
/// itself; all other I/O goes to the bus on both chipsets.
const CONFIG_PORTS: Io = Io::fixed(0xCF8, 8);

/// `_STA` of a processor device (ACPI 6.5, 6.3.7): present, enabled, shown, functioning.
const STA_ENABLED: u8 = 0x0F;
/// Present, shown and functioning but not enabled: the OS may bring it online later.
const STA_ONLINE_CAPABLE: u8 = 0x0D;
/// Not present: the MADT marks the processor unusable and the OS ignores it.
const STA_ABSENT: u8 = 0x00;
/// Processor devices are named `C000`, `C001`...: three hex digits of their index.
const MAX_CPUS: usize = 0x1000;

/// The length of the SSDT body for `input` (the same statements as [`build_ssdt`], only
/// counted), so that the body can be written straight into the installed table: at 255
/// vCPUs it is 15 KB, which a buffer would hold on the heap.
pub fn ssdt_body_len(input: &SsdtInput) -> Result<usize, Error> {
    let mut measure = AmlWriter::measuring();
    write_ssdt(input, &mut measure)?;
    measure.finish()
}

/// Writes the SSDT body for `input` into `out`; returns its length.
pub fn build_ssdt(input: &SsdtInput, out: &mut [u8]) -> Result<usize, Error> {
    let mut w = AmlWriter::new(out);
    write_ssdt(input, &mut w)?;
    w.finish()
}

/// Writes the SSDT body for `input` with `w`; an input the tables cannot describe is the
/// error, the writer's own (the buffer, an operand) is left in `w`.
fn write_ssdt(input: &SsdtInput, w: &mut AmlWriter<'_>) -> Result<(), Error> {
    validate(input)?;
    // PCI0 forwards what the expanders' root buses do not.
    let expander_io: Vec<Range<u64>> =
        input.expanders.iter().filter_map(|e| e.io.clone()).collect();
    let expander_mem: Vec<Range<u64>> =
        input.expanders.iter().flat_map(|e| e.mem.iter().cloned()).collect();
    // All I/O around the configuration ports.
    let io_ranges = subtract(&[0..0xCF8, 0xD00..0x1_0000], &expander_io);
    let low = subtract(input.low_windows, &expander_mem);
    let high = subtract(input.high_window.as_slice(), &expander_mem);
    let io_descriptors: Vec<AddressSpace> = io_ranges
        .iter()
        .map(|r| AddressSpace::word_io(r.start as u16, (r.end - 1) as u16))
        .collect();
    let io_refs: Vec<&dyn Resource> = io_descriptors.iter().map(|d| d as &dyn Resource).collect();
    w.scope("\\_SB.PCI0", |w| {
        let windows = PciWindows { low: &low, high: &high };
        let bus_numbers = AddressSpace::word_bus_number(
            u16::from(*input.bus_range.start()),
            u16::from(*input.bus_range.end()),
        );
        let vga = AddressSpace::dword_memory(
            *VGA_WINDOW.start(),
            *VGA_WINDOW.end(),
            Cacheability::Cacheable,
        );
        w.name(
            "_CRS",
            &ResourceTemplate(
                &[&bus_numbers as &dyn Resource, &CONFIG_PORTS]
                    .into_iter()
                    .chain(io_refs.iter().copied())
                    .chain([&vga as &dyn Resource, &windows])
                    .collect::<Vec<_>>(),
            ),
        );
        if let Some(ecam) = input.ecam {
            w.device("ECAM", |w| {
                w.name("_HID", &EisaId("PNP0C02"));
                // _UID 1 is the DSDT's motherboard resource device.
                w.name("_UID", &2u8);
                let range = memory_range(ecam.base..ecam.end(), ResourceUsage::Consumer);
                w.name("_CRS", &ResourceTemplate(&[&range]))
            });
        }
    });
    if !input.expanders.is_empty() {
        w.scope("\\_SB", |w| input.expanders.iter().for_each(|e| expander_device(w, e)));
    }
    w.scope("\\_SB", |w| {
        for (index, cpu) in input.cpus.iter().enumerate() {
            let name = processor_name(index);
            let name = ascii(&name);
            if input.cpu_hotplug.is_some() {
                hot_pluggable_processor(w, name, index, cpu);
                continue;
            }
            let status = match cpu.state {
                ProcessorState::Enabled => STA_ENABLED,
                ProcessorState::OnlineCapable => STA_ONLINE_CAPABLE,
                ProcessorState::Disabled => STA_ABSENT,
            };
            w.emit(&ProcessorDevice { name, madt_entry: *cpu, status });
        }
        if let Some(hotplug) = &input.cpu_hotplug {
            w.name("NCPU", &(input.cpus.len() as u32));
            w.name("CPON", &Buffer(&hotplug.online));
            w.method("CNOT", 2, false, |w| {
                for index in 0..input.cpus.len() {
                    let name = processor_name(index);
                    let index = index as u32;
                    w.if_then(&LEqual(&Arg(0), &index), |w| w.notify(&Path(ascii(&name)), &Arg(1)));
                }
            });
        }
    });
    for (name, slp_typ) in [("\\_S3", input.sleep_states.s3), ("\\_S4", input.sleep_states.s4)] {
        if let Some(t) = slp_typ {
            // PM1a_CNT.SLP_TYP, PM1b_CNT.SLP_TYP, reserved, reserved.
            w.name(name, &Package(&[&t, &t, &0u8, &0u8]));
        }
    }
    if let Some(address) = input.generation_id {
        w.scope("\\_SB", |w| {
            w.device("VGEN", |w| {
                w.name("_HID", &EisaId(GENERATION_ID_HID));
                w.name("_CID", &Str(GENERATION_ID_CID));
                w.name("_DDN", &Str(GENERATION_ID_CID));
                // The ID's physical address as two DWORDs, low first.
                let (low, high) = (address as u32, (address >> 32) as u32);
                w.method("ADDR", 0, false, |w| w.return_value(&Package(&[&low, &high])))
            })
        });
    }
    Ok(())
}

/// `\_SB.PCxx` for the root bus of one expander bridge.
fn expander_device(w: &mut AmlWriter<'_>, e: &ExpanderRoot) {
    let bus = *e.bus_range.start();
    let hex = |n: u8| b"0123456789ABCDEF"[usize::from(n)];
    let name = [b'P', b'C', hex(bus >> 4), hex(bus & 0xF)];
    w.device(ascii(&name), |w| {
        if e.pcie {
            w.name("_HID", &EisaId("PNP0A08"));
            w.name("_CID", &EisaId("PNP0A03"));
        } else {
            w.name("_HID", &EisaId("PNP0A03"));
        }
        w.name("_UID", &bus);
        w.name("_BBN", &bus);
        if let Some(node) = e.proximity {
            w.name("_PXM", &node);
        }
        let bus_numbers =
            AddressSpace::word_bus_number(u16::from(bus), u16::from(*e.bus_range.end()));
        let io = e.io.as_ref().map(|r| AddressSpace::word_io(r.start as u16, (r.end - 1) as u16));
        let (low, high): (Vec<Range<u64>>, Vec<Range<u64>>) =
            e.mem.iter().cloned().partition(|r| r.end <= FOUR_GIB);
        let windows = PciWindows { low: &low, high: &high };
        let mut crs: Vec<&dyn Resource> = Vec::from([&bus_numbers as &dyn Resource]);
        crs.extend(io.as_ref().map(|d| d as &dyn Resource));
        crs.push(&windows);
        w.name("_CRS", &ResourceTemplate(&crs));
        let table: Vec<u8> = e.intx.iter().flatten().copied().collect();
        w.name("XRTB", &Buffer(&table));
        w.method("_PRT", 0, false, |w| {
            w.return_value(&Call { method: "\\_SB.PRTX", args: &[&libacpi::aml::Path("XRTB")] })
        });
        if e.pcie {
            // The same grants as for PCI0: the machine's policy, not the bus's.
            w.method("_OSC", 4, false, |w| {
                w.return_value(&Call {
                    method: "\\_SB.PCI0._OSC",
                    args: &[&Arg(0), &Arg(1), &Arg(2), &Arg(3)],
                })
            });
        }
    })
}

/// `ranges` without the parts `holes` cover, in order.
fn subtract(ranges: &[Range<u64>], holes: &[Range<u64>]) -> Vec<Range<u64>> {
    let mut pieces: Vec<Range<u64>> = ranges.to_vec();
    for hole in holes.iter().filter(|h| !h.is_empty()) {
        pieces = pieces
            .into_iter()
            .flat_map(|r| {
                [
                    r.start..hole.start.min(r.end).max(r.start),
                    hole.end.max(r.start).min(r.end)..r.end,
                ]
            })
            .filter(|r| !r.is_empty())
            .collect();
    }
    pieces
}

/// A processor that follows the vCPU presence bitmap: the device of [`ProcessorDevice`],
/// with `_STA` and `_MAT` computed by the hot-plug SSDT from bit `index`.
fn hot_pluggable_processor(w: &mut AmlWriter<'_>, name: &str, index: usize, cpu: &MadtProcessor) {
    let mut entry = [0u8; MadtProcessor::MAX_ENCODED_LENGTH];
    let entry_len = match cpu.encode(&mut entry) {
        Ok(len) => len,
        Err(e) => return w.fail(e),
    };
    let bit = index as u32;
    w.device(name, |w| {
        w.name("_HID", &Str("ACPI0007"));
        w.name("_UID", &cpu.uid);
        w.method("_STA", 0, false, |w| {
            w.return_value(&Call { method: "\\_SB.CSTA", args: &[&bit] })
        });
        w.method("_MAT", 0, false, |w| {
            let mat = Buffer(&entry[..entry_len]);
            w.return_value(&Call { method: "\\_SB.CMAT", args: &[&bit, &mat] })
        })
    })
}

/// Rejects inputs the encoders would accept but that describe an impossible machine.
fn validate(input: &SsdtInput) -> Result<(), Error> {
    if input.bus_range.is_empty() {
        return Err(Error::InvalidAmlOperand("empty root bus range"));
    }
    if let Some(ecam) = input.ecam {
        if ecam.buses == 0 || ecam.base.checked_add(ecam.size()).is_none() {
            return Err(Error::InvalidAmlOperand("ECAM area is empty or wraps"));
        }
        if u16::from(*input.bus_range.end()) >= ecam.buses {
            return Err(Error::InvalidAmlOperand("root bus range reaches beyond the ECAM area"));
        }
    }
    for window in input.low_windows {
        if window.is_empty() {
            return Err(Error::InvalidAmlOperand("empty low PCI window"));
        }
        if window.end > FOUR_GIB {
            return Err(Error::InvalidAmlOperand("low PCI window reaches above 4 GiB"));
        }
    }
    if input.high_window.as_ref().is_some_and(Range::is_empty) {
        return Err(Error::InvalidAmlOperand("empty 64-bit PCI window"));
    }
    if input.cpus.len() > MAX_CPUS {
        return Err(Error::InvalidAmlOperand("more processors than C000-CFFF can name"));
    }
    if input.cpu_hotplug.is_some() && input.cpus.len() > CPU_PRESENCE_BYTES * 8 {
        return Err(Error::InvalidAmlOperand("more hot-pluggable vCPUs than the bitmap holds"));
    }
    let SleepStates { s3, s4 } = input.sleep_states;
    if s3.into_iter().chain(s4).any(|t| t > MAX_SLP_TYP) {
        return Err(Error::InvalidAmlOperand("SLP_TYP is a 3-bit field"));
    }
    if input.generation_id.is_some_and(|a| a == 0 || a % GENERATION_ID_ALIGN != 0) {
        return Err(Error::InvalidAmlOperand(
            "VM generation ID address is 0 or not 16-byte aligned",
        ));
    }
    Ok(())
}

/// `name` as the `&str` the AML writer takes. Its bytes are ASCII by construction; were
/// they not, the empty name would fail as [`Error::InvalidName`] when written.
fn ascii(name: &[u8; 4]) -> &str {
    core::str::from_utf8(name).unwrap_or_default()
}

/// `C` and three upper-case hex digits of `index` (below [`MAX_CPUS`]).
fn processor_name(index: usize) -> [u8; 4] {
    let hex = |shift: usize| b"0123456789ABCDEF"[(index >> shift) & 0xF];
    [b'C', hex(8), hex(4), hex(0)]
}

/// A non-cacheable, read-write memory range as `DWordMemory` when it lies below 4 GiB,
/// `QWordMemory` otherwise. `range` is not empty and does not wrap (checked by
/// [`validate`]).
fn memory_range(range: Range<u64>, usage: ResourceUsage) -> AddressSpace {
    let last = range.end - 1;
    let mut space = match (u32::try_from(range.start), u32::try_from(last)) {
        (Ok(start), Ok(last)) => {
            AddressSpace::dword_memory(start, last, Cacheability::NonCacheable)
        }
        _ => AddressSpace::qword_memory(range.start, last, Cacheability::NonCacheable),
    };
    space.usage = usage;
    space
}

/// The root bridge's memory windows as one run of descriptors: each low window as
/// `DWordMemory`, then the 64-bit window as `QWordMemory`. Non-cacheable rather than
/// prefetchable: the OS must be free to put non-prefetchable BARs in any of them (the
/// firmware itself moves 64-bit non-prefetchable BARs up when the low hole is small).
struct PciWindows<'a> {
    low: &'a [Range<u64>],
    high: &'a [Range<u64>],
}

impl PciWindows<'_> {
    fn high_descriptor(range: &Range<u64>) -> AddressSpace {
        AddressSpace::qword_memory(range.start, range.end - 1, Cacheability::NonCacheable)
    }
}

impl Resource for PciWindows<'_> {
    fn length(&self) -> usize {
        let low: usize = self
            .low
            .iter()
            .map(|r| memory_range(r.clone(), ResourceUsage::Producer).length())
            .sum();
        low + self.high.iter().map(|r| Self::high_descriptor(r).length()).sum::<usize>()
    }

    fn write(&self, w: &mut AmlWriter<'_>) {
        for window in self.low {
            memory_range(window.clone(), ResourceUsage::Producer).write(w);
        }
        for high in self.high {
            Self::high_descriptor(high).write(w);
        }
    }
}

#[cfg(test)]
mod tests;
