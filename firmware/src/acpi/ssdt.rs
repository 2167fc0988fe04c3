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
//!     Device (C000) { ACPI0007: _HID, _UID, _STA, _MAT } ...one per processor
//! }
//! ```
//!
//! [`build_ssdt`] is pure and heap-free: it writes the AML body into the caller's buffer
//! and the firmware wraps it with libacpi's `AmlTable::ssdt`.

use core::ops::{Range, RangeInclusive};

use libacpi::Error;
use libacpi::aml::{
    AddressSpace, AmlWriter, Cacheability, EisaId, Io, ProcessorDevice, Resource, ResourceTemplate,
    ResourceUsage,
};
use libacpi::tables::{MadtProcessor, ProcessorState};

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
    /// Whether the OS may take native PCIe hot-plug control through `_OSC` (Q35). Not when
    /// the device model runs its own ACPI hot-plug for the root ports (QEMU's default on
    /// q35): the ports then report no presence in their slot status, and pciehp would
    /// power off every populated slot.
    pub native_pcie_hotplug: bool,
}

/// The legacy VGA frame buffer window, which the host bridge forwards to the bus.
const VGA_WINDOW: RangeInclusive<u32> = 0xA_0000..=0xB_FFFF;
/// The PCI configuration ports (CONFIG_ADDRESS and CONFIG_DATA), decoded by the host bridge
/// itself; all other I/O goes to the bus on both chipsets.
const CONFIG_PORTS: Io = Io::fixed(0xCF8, 8);
const IO_BELOW_CONFIG_PORTS: AddressSpace = AddressSpace::word_io(0x0000, 0x0CF7);
const IO_ABOVE_CONFIG_PORTS: AddressSpace = AddressSpace::word_io(0x0D00, 0xFFFF);
const FOUR_GIB: u64 = 1 << 32;

/// `_STA` of a processor device (ACPI 6.5, 6.3.7): present, enabled, shown, functioning.
const STA_ENABLED: u8 = 0x0F;
/// Present, shown and functioning but not enabled: the OS may bring it online later.
const STA_ONLINE_CAPABLE: u8 = 0x0D;
/// Not present: the MADT marks the processor unusable and the OS ignores it.
const STA_ABSENT: u8 = 0x00;
/// Processor devices are named `C000`, `C001`...: three hex digits of their index.
const MAX_CPUS: usize = 0x1000;

/// Writes the SSDT body for `input` into `out`; returns its length.
pub fn build_ssdt(input: &SsdtInput, out: &mut [u8]) -> Result<usize, Error> {
    validate(input)?;
    let mut w = AmlWriter::new(out);
    w.scope("\\_SB.PCI0", |w| {
        let windows = PciWindows { low: input.low_windows, high: input.high_window.as_ref() };
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
            &ResourceTemplate(&[
                &bus_numbers,
                &CONFIG_PORTS,
                &IO_BELOW_CONFIG_PORTS,
                &IO_ABOVE_CONFIG_PORTS,
                &vga,
                &windows,
            ]),
        )?;
        if let Some(ecam) = input.ecam {
            // Read by the Q35 DSDT's _OSC.
            w.name("NHPG", &u8::from(input.native_pcie_hotplug))?;
            w.device("ECAM", |w| {
                w.name("_HID", &EisaId("PNP0C02"))?;
                // _UID 1 is the DSDT's motherboard resource device.
                w.name("_UID", &2u8)?;
                let range = memory_range(ecam.base..ecam.end(), ResourceUsage::Consumer);
                w.name("_CRS", &ResourceTemplate(&[&range]))
            })?;
        }
        Ok(())
    })?;
    w.scope("\\_SB", |w| {
        for (index, cpu) in input.cpus.iter().enumerate() {
            let name = processor_name(index);
            let status = match cpu.state {
                ProcessorState::Enabled => STA_ENABLED,
                ProcessorState::OnlineCapable => STA_ONLINE_CAPABLE,
                ProcessorState::Disabled => STA_ABSENT,
            };
            let name = core::str::from_utf8(&name).map_err(|_| Error::InvalidName)?;
            w.emit(&ProcessorDevice { name, madt_entry: *cpu, status })?;
        }
        Ok(())
    })?;
    Ok(w.len())
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
    Ok(())
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
    high: Option<&'a Range<u64>>,
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
        low + self.high.map_or(0, |r| Self::high_descriptor(r).length())
    }

    fn write(&self, w: &mut AmlWriter<'_>) -> Result<(), Error> {
        for window in self.low {
            memory_range(window.clone(), ResourceUsage::Producer).write(w)?;
        }
        if let Some(high) = self.high {
            Self::high_descriptor(high).write(w)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
