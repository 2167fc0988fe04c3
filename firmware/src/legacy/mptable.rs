//! The Intel MultiProcessor table (MP Specification 1.4): how a pre-ACPI OS finds the
//! application processors, the I/O APIC and which I/O APIC input each ISA IRQ and PCI
//! interrupt pin drives.
//!
//! [`write_mp_table`] writes the MP floating pointer structure (`_MP_`, section 4.1) and right
//! after it the MP configuration table (`PCMP`, sections 4.2-4.3) that it points to. The
//! configuration table holds, in the order section 4.3 asks (sorted by entry type):
//!
//! - one processor entry per CPU, the boot CPU first and flagged as such;
//! - two bus entries: PCI bus 0 (bus ID 0: a PCI bus's ID is its bus number, appendix D.2)
//!   and the ISA bus, whose ID the caller picks among those no PCI bus has;
//! - one I/O APIC entry;
//! - I/O interrupt entries: ISA IRQs 0-15 to the same I/O APIC inputs, except IRQ 0 on input 2
//!   (the timer override every PC chipset has) and IRQ 2 (the 8259 cascade, not an interrupt);
//!   then one per PCI interrupt pin on bus 0;
//! - local interrupt entries: ExtINT on LINT0 (virtual wire mode for the 8259) and NMI on
//!   LINT1, to every local APIC.
//!
//! There is no default configuration (feature byte 1 is 0) and no extended table, and the
//! IMCR bit is clear: the platform starts in virtual wire mode, as Xen and QEMU do.
//!
//! Placement (section 4): the floating pointer must lie on a 16-byte boundary in the first KiB
//! of the EBDA, the last KiB of base memory or 0xF0000-0xFFFFF for an OS to find it; the
//! configuration table may be anywhere below 4 GiB. A SeaBIOS started from the firmware's
//! table list copies both into its F-segment itself.

use core::fmt;

// The MP floating pointer, the MP configuration table and `$PIR` share ACPI's rule: the
// bytes, checksum included, sum to zero modulo 256.
use crate::pci::IntxPin;
use libacpi::checksum::compute as checksum;

/// Length of the MP floating pointer structure (section 4.1): one 16-byte paragraph.
pub const FLOATING_POINTER_LEN: usize = 16;
/// Length of the configuration table header (section 4.2).
pub const CONFIG_HEADER_LEN: usize = 44;
/// Length of a processor entry (section 4.3.1); every other base entry is 8 bytes.
pub const PROCESSOR_ENTRY_LEN: usize = 20;
pub const ENTRY_LEN: usize = 8;

/// Entries besides the processors and PCI interrupts: 2 buses, 1 I/O APIC, 15 ISA IRQs
/// (0-15 without 2), 2 local interrupts.
const FIXED_ENTRIES: usize = 2 + 1 + 15 + 2;

/// The specification revision, 1.4, in the floating pointer and the configuration table.
pub const SPEC_REV: u8 = 4;
/// OEM ID and product ID of the configuration table header, space-padded: the OEM as Xen's
/// ACPI tables name it, the product as this firmware.
pub const OEM_ID: [u8; 8] = *b"Xen     ";
pub const PRODUCT_ID: [u8; 12] = *b"hvmloader-rs";

/// Where every processor sees its local APIC, and the first I/O APIC, on every PC (and on
/// Xen and QEMU).
pub const LOCAL_APIC_ADDRESS: u32 = 0xFEE0_0000;
pub const IOAPIC_ADDRESS: u32 = crate::arch::IOAPIC_BASE as u32;
/// The local APIC version Xen's and QEMU's virtual local APICs report: an integrated APIC
/// (0x1X, not an 82489DX), which is all an OS reads this field for.
pub const LOCAL_APIC_VERSION: u8 = 0x14;
/// The I/O APIC version Xen's virtual I/O APIC reports (82093AA-style).
pub const IOAPIC_VERSION: u8 = 0x11;

/// Bus ID of PCI bus 0 (appendix D.2: a PCI bus's ID is its bus number).
pub const PCI_BUS_ID: u8 = 0;

/// Most CPUs: one per 8-bit APIC ID below the broadcast ID 0xFF.
pub const MAX_CPUS: usize = 255;
/// Highest APIC ID a processor entry can carry (0xFF is the broadcast ID).
pub const MAX_APIC_ID: u32 = 254;

/// Entry types (section 4.3).
mod entry {
    pub const PROCESSOR: u8 = 0;
    pub const BUS: u8 = 1;
    pub const IOAPIC: u8 = 2;
    pub const IO_INTERRUPT: u8 = 3;
    pub const LOCAL_INTERRUPT: u8 = 4;
}

/// Interrupt types of I/O and local interrupt entries (section 4.3.4, table 4-8).
mod int_type {
    pub const INT: u8 = 0;
    pub const NMI: u8 = 1;
    pub const EXTINT: u8 = 3;
}

/// Processor entry CPU flags (section 4.3.1).
const CPU_ENABLED: u8 = 1 << 0;
const CPU_BOOT_PROCESSOR: u8 = 1 << 1;
/// I/O APIC entry flag (section 4.3.3).
const IOAPIC_ENABLED: u8 = 1 << 0;

/// Interrupt flags (section 4.3.4): polarity in bits 1:0, trigger mode in bits 3:2.
/// "Conforms to the bus": edge and active high for ISA.
pub const FLAGS_CONFORMING: u16 = 0x0;
/// Level-triggered, active low: PCI INTx, and ISA IRQs shared with PCI through a PIRQ link
/// (the same flags as the MADT's overrides for those IRQs).
pub const FLAGS_LEVEL_ACTIVE_LOW: u16 = 0x3 | (0x3 << 2);
/// Destination local APIC ID meaning "every local APIC" (section 4.3.5).
const ALL_LOCAL_APICS: u8 = 0xFF;

/// ISA IRQ `irq`'s I/O APIC input: IRQ 0 (the PIT) is wired to input 2, the others to their
/// own number.
pub const fn isa_irq_input(irq: u8) -> u8 {
    if irq == 0 { 2 } else { irq }
}

/// One processor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MpCpu {
    /// The local APIC ID; at most [`MAX_APIC_ID`].
    pub apic_id: u32,
    /// Usable by the OS. A CPU that is present but not online at boot is listed disabled.
    pub enabled: bool,
}

/// One interrupt pin of a bus-0 PCI device and the I/O APIC input it drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciIntx {
    /// Device number on bus 0, 0-31.
    pub device: u8,
    pub pin: IntxPin,
    /// I/O APIC input. Below 16 it is an ISA IRQ as well and must be one of
    /// [`MpInput::pci_link_irqs`], so that both entries for that input agree on the trigger.
    pub gsi: u8,
}

/// Everything the MP table says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MpInput<'a> {
    /// Every CPU, the boot CPU first; 1 to [`MAX_CPUS`], distinct APIC IDs.
    pub cpus: &'a [MpCpu],
    /// CPUID leaf 1 EAX (family, model, stepping) and EDX (feature flags), shared by all
    /// processor entries: virtual CPUs are alike.
    pub cpu_signature: u32,
    pub cpu_features: u32,
    /// The ISA bus's ID: one no PCI bus has (appendix D.2), the highest PCI bus number + 1
    /// (1 when bus 0 is the only one). Entries for PCI buses behind bridges are not written
    /// (an OS swizzles up to bus 0 itself), but their numbers stay reserved for them.
    pub isa_bus_id: u8,
    /// The I/O APIC's ID and how many inputs it has (at least 16, for the ISA IRQs).
    pub ioapic_id: u8,
    pub ioapic_inputs: u16,
    /// Bitmap of the ISA IRQs the PIRQ links are routed to (bit n = IRQ n). The ELCR makes
    /// them level-triggered and PCI drives them active low, so their ISA entries say so
    /// instead of conforming to ISA (edge, active high).
    pub pci_link_irqs: u16,
    /// The bus-0 PCI interrupt pins, each (device, pin) at most once.
    pub pci_intx: &'a [PciIntx],
}

/// Where the tables went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MpWritten {
    /// Physical address of the floating pointer (the start of the buffer): the address a
    /// BIOS table list names.
    pub floating_pointer: u64,
    /// Physical address and length of the configuration table, right after the floating
    /// pointer.
    pub config_table: u64,
    pub config_len: usize,
    /// Entries in the configuration table.
    pub entry_count: u16,
    /// Bytes written from the start of the buffer: [`FLOATING_POINTER_LEN`] + `config_len`.
    pub len: usize,
}

/// Why the MP table cannot be built or placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MpError {
    NoCpus,
    TooManyCpus {
        count: usize,
    },
    ApicIdTooLarge {
        apic_id: u32,
    },
    DuplicateApicId {
        apic_id: u32,
    },
    /// The first CPU, the boot processor, is listed as disabled.
    BootCpuDisabled {
        apic_id: u32,
    },
    /// The ISA bus cannot have PCI bus 0's ID.
    IsaBusIdIsPci,
    TooFewIoApicInputs {
        inputs: u16,
    },
    BadPciDevice {
        device: u8,
    },
    DuplicatePciPin {
        device: u8,
        pin: IntxPin,
    },
    GsiBeyondIoApic {
        device: u8,
        pin: IntxPin,
        gsi: u8,
        inputs: u16,
    },
    /// A PCI pin on an ISA IRQ whose ISA entry is edge-triggered (not a PIRQ link IRQ).
    PciPinOnIsaIrq {
        device: u8,
        pin: IntxPin,
        irq: u8,
    },
    /// The floating pointer must start on a 16-byte boundary.
    Misaligned {
        paddr: u64,
    },
    /// The floating pointer holds a 32-bit address.
    Above4GiB {
        paddr: u64,
        len: usize,
    },
    BufferTooSmall {
        needed: usize,
        available: usize,
    },
}

impl fmt::Display for MpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use MpError::*;
        match self {
            NoCpus => f.write_str("mptable: no CPU to describe"),
            TooManyCpus { count } => {
                write!(f, "mptable: {count} CPUs (at most {MAX_CPUS} can be described)")
            }
            ApicIdTooLarge { apic_id } => {
                write!(f, "mptable: APIC ID {apic_id} does not fit (at most {MAX_APIC_ID})")
            }
            DuplicateApicId { apic_id } => write!(f, "mptable: two CPUs have APIC ID {apic_id}"),
            BootCpuDisabled { apic_id } => {
                write!(f, "mptable: the boot CPU (APIC ID {apic_id}) is listed as disabled")
            }
            IsaBusIdIsPci => {
                write!(f, "mptable: the ISA bus cannot have bus ID {PCI_BUS_ID}, PCI bus 0's")
            }
            TooFewIoApicInputs { inputs } => {
                write!(f, "mptable: the I/O APIC has {inputs} inputs, the ISA IRQs need 16")
            }
            BadPciDevice { device } => write!(f, "mptable: PCI device number {device} above 31"),
            DuplicatePciPin { device, pin } => {
                write!(f, "mptable: PCI device {device:02x} {pin} is listed twice")
            }
            GsiBeyondIoApic { device, pin, gsi, inputs } => write!(
                f,
                "mptable: PCI device {device:02x} {pin} on I/O APIC input {gsi}, which has \
                 only {inputs} inputs"
            ),
            PciPinOnIsaIrq { device, pin, irq } => write!(
                f,
                "mptable: PCI device {device:02x} {pin} on ISA IRQ {irq}, which is not a PIRQ \
                 link IRQ"
            ),
            Misaligned { paddr } => {
                write!(f, "mptable: floating pointer at {paddr:#x} is not 16-byte aligned")
            }
            Above4GiB { paddr, len } => {
                write!(f, "mptable: tables at {paddr:#x} ({len} bytes) do not end below 4 GiB")
            }
            BufferTooSmall { needed, available } => {
                write!(f, "mptable: tables need {needed} bytes, the buffer has {available}")
            }
        }
    }
}

/// Bytes [`write_mp_table`] writes for `cpus` CPUs and `pci_intx` PCI interrupt pins:
/// 220 + 20 per CPU + 8 per pin.
#[cfg(test)]
pub const fn mp_table_len(cpus: usize, pci_intx: usize) -> usize {
    FLOATING_POINTER_LEN + config_len(cpus, pci_intx)
}

const fn config_len(cpus: usize, pci_intx: usize) -> usize {
    CONFIG_HEADER_LEN + cpus * PROCESSOR_ENTRY_LEN + (FIXED_ENTRIES + pci_intx) * ENTRY_LEN
}

/// Checks `input` and writes the floating pointer to the start of `buf`, which lies at
/// physical address `paddr` (16-byte aligned, below 4 GiB), and the configuration table
/// right after it.
pub fn write_mp_table(
    input: &MpInput<'_>,
    buf: &mut [u8],
    paddr: u64,
) -> Result<MpWritten, MpError> {
    check(input)?;
    let config_len = config_len(input.cpus.len(), input.pci_intx.len());
    let len = FLOATING_POINTER_LEN + config_len;
    if !paddr.is_multiple_of(16) {
        return Err(MpError::Misaligned { paddr });
    }
    if paddr.checked_add(len as u64).is_none_or(|end| end > 1 << 32) {
        return Err(MpError::Above4GiB { paddr, len });
    }
    let config_table = paddr + FLOATING_POINTER_LEN as u64;
    let available = buf.len();
    let out = buf.get_mut(..len).ok_or(MpError::BufferTooSmall { needed: len, available })?;
    let (floating, config) = out.split_at_mut(FLOATING_POINTER_LEN);

    let entry_count = write_config(input, config);
    // Below 4 GiB: checked above.
    write_floating_pointer(floating, config_table as u32);
    Ok(MpWritten { floating_pointer: paddr, config_table, config_len, entry_count, len })
}

fn check(input: &MpInput<'_>) -> Result<(), MpError> {
    let Some(bsp) = input.cpus.first() else { return Err(MpError::NoCpus) };
    if input.cpus.len() > MAX_CPUS {
        return Err(MpError::TooManyCpus { count: input.cpus.len() });
    }
    let mut seen = [0u128; 2];
    for cpu in input.cpus {
        if cpu.apic_id > MAX_APIC_ID {
            return Err(MpError::ApicIdTooLarge { apic_id: cpu.apic_id });
        }
        let (word, bit) = ((cpu.apic_id / 128) as usize, cpu.apic_id % 128);
        if seen[word] & (1 << bit) != 0 {
            return Err(MpError::DuplicateApicId { apic_id: cpu.apic_id });
        }
        seen[word] |= 1 << bit;
    }
    if !bsp.enabled {
        return Err(MpError::BootCpuDisabled { apic_id: bsp.apic_id });
    }
    if input.isa_bus_id == PCI_BUS_ID {
        return Err(MpError::IsaBusIdIsPci);
    }
    let inputs = input.ioapic_inputs;
    if inputs < 16 {
        return Err(MpError::TooFewIoApicInputs { inputs });
    }
    let mut pins = super::Bus0Pins::default();
    for &PciIntx { device, pin, gsi } in input.pci_intx {
        if device > 31 {
            return Err(MpError::BadPciDevice { device });
        }
        if pins.contains(device, pin) {
            return Err(MpError::DuplicatePciPin { device, pin });
        }
        pins.insert(device, pin);
        if u16::from(gsi) >= inputs {
            return Err(MpError::GsiBeyondIoApic { device, pin, gsi, inputs });
        }
        if gsi < 16 && input.pci_link_irqs & (1 << gsi) == 0 {
            return Err(MpError::PciPinOnIsaIrq { device, pin, irq: gsi });
        }
    }
    Ok(())
}

/// Section 4.1: signature, configuration table address, length in paragraphs, revision,
/// checksum, feature bytes 1-5 all zero (a configuration table is present; virtual wire mode).
fn write_floating_pointer(out: &mut [u8], config_table: u32) {
    out.fill(0);
    out[0..4].copy_from_slice(b"_MP_");
    out[4..8].copy_from_slice(&config_table.to_le_bytes());
    out[8] = (FLOATING_POINTER_LEN / 16) as u8;
    out[9] = SPEC_REV;
    out[10] = checksum(out);
}

/// Writes the configuration table into `out` (exactly its length) and returns the entry count.
fn write_config(input: &MpInput<'_>, out: &mut [u8]) -> u16 {
    out.fill(0);
    let (header, entries) = out.split_at_mut(CONFIG_HEADER_LEN);
    let mut w = Writer { out: entries, pos: 0, count: 0 };

    for (index, cpu) in input.cpus.iter().enumerate() {
        let mut flags = if cpu.enabled { CPU_ENABLED } else { 0 };
        if index == 0 {
            flags |= CPU_BOOT_PROCESSOR;
        }
        // Checked against MAX_APIC_ID.
        let apic_id = cpu.apic_id as u8;
        let mut e = [0u8; PROCESSOR_ENTRY_LEN];
        e[..4].copy_from_slice(&[entry::PROCESSOR, apic_id, LOCAL_APIC_VERSION, flags]);
        e[4..8].copy_from_slice(&input.cpu_signature.to_le_bytes());
        e[8..12].copy_from_slice(&input.cpu_features.to_le_bytes());
        w.entry(&e);
    }

    // Ascending bus IDs (appendix D.2); PCI bus 0 has the lowest.
    for (id, name) in [(PCI_BUS_ID, b"PCI   "), (input.isa_bus_id, b"ISA   ")] {
        let mut e = [entry::BUS, id, 0, 0, 0, 0, 0, 0];
        e[2..].copy_from_slice(name);
        w.entry(&e);
    }

    let mut e = [entry::IOAPIC, input.ioapic_id, IOAPIC_VERSION, IOAPIC_ENABLED, 0, 0, 0, 0];
    e[4..].copy_from_slice(&IOAPIC_ADDRESS.to_le_bytes());
    w.entry(&e);

    for irq in (0..16u8).filter(|&irq| irq != 2) {
        let flags = if input.pci_link_irqs & (1 << irq) != 0 {
            FLAGS_LEVEL_ACTIVE_LOW
        } else {
            FLAGS_CONFORMING
        };
        let (bus, apic, pin) = (input.isa_bus_id, input.ioapic_id, isa_irq_input(irq));
        w.interrupt(entry::IO_INTERRUPT, int_type::INT, flags, bus, irq, apic, pin);
    }
    for intx in input.pci_intx {
        // Appendix D.3: bits 1:0 the pin (0 = INTA#), bits 6:2 the device number.
        let source = (intx.device << 2) | intx.pin.index();
        w.interrupt(
            entry::IO_INTERRUPT,
            int_type::INT,
            FLAGS_LEVEL_ACTIVE_LOW,
            PCI_BUS_ID,
            source,
            input.ioapic_id,
            intx.gsi,
        );
    }

    // The 8259's output and NMI come from the ISA side (source IRQ 0: not an ISA IRQ line).
    for (kind, lint) in [(int_type::EXTINT, 0), (int_type::NMI, 1)] {
        let (flags, bus) = (FLAGS_CONFORMING, input.isa_bus_id);
        w.interrupt(entry::LOCAL_INTERRUPT, kind, flags, bus, 0, ALL_LOCAL_APICS, lint);
    }
    let count = w.count;

    let len = CONFIG_HEADER_LEN + w.pos;
    header[0..4].copy_from_slice(b"PCMP");
    // `check` allows at most 255 CPUs and 128 distinct pins: at most 6328 bytes.
    header[4..6].copy_from_slice(&(len as u16).to_le_bytes());
    header[6] = SPEC_REV;
    header[8..16].copy_from_slice(&OEM_ID);
    header[16..28].copy_from_slice(&PRODUCT_ID);
    // 28..34: no OEM table.
    header[34..36].copy_from_slice(&count.to_le_bytes());
    header[36..40].copy_from_slice(&LOCAL_APIC_ADDRESS.to_le_bytes());
    // 40..44: no extended table (length and checksum 0), reserved.
    out[7] = checksum(out);
    count
}

/// Appends entries to a buffer sized for them beforehand.
struct Writer<'a> {
    out: &'a mut [u8],
    pos: usize,
    count: u16,
}

impl Writer<'_> {
    fn entry(&mut self, bytes: &[u8]) {
        self.out[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
        self.pos += bytes.len();
        self.count += 1;
    }

    /// An I/O (section 4.3.4) or local (section 4.3.5) interrupt entry: they share a layout.
    #[allow(clippy::too_many_arguments)]
    fn interrupt(
        &mut self,
        kind: u8,
        int_type: u8,
        flags: u16,
        source_bus: u8,
        source_irq: u8,
        dest_apic: u8,
        dest_input: u8,
    ) {
        let [f0, f1] = flags.to_le_bytes();
        self.entry(&[kind, int_type, f0, f1, source_bus, source_irq, dest_apic, dest_input]);
    }
}
