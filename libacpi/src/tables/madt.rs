//! Multiple APIC Description Table (ACPI 6.5 section 5.2.12, Table 5.19).

use super::Table;
use crate::bytes::ByteWriter;
use crate::header::{HEADER_LENGTH, write_table};
use crate::{Error, OemIds, Signature};

/// MADT revision 5 (ACPI 6.3 and later), which defines the Online Capable
/// processor flag.
const REVISION: u8 = 5;
/// APIC IDs from this value up must be described by x2APIC structures
/// (ACPI 6.5 section 5.2.12.12).
pub(crate) const FIRST_X2APIC_ID: u32 = 255;
/// The 8-bit ACPI Processor UID that means "all processors" in a Local APIC
/// NMI structure; also unusable as a processor UID in a Local APIC structure.
const ALL_PROCESSORS_UID8: u8 = 0xff;
/// The x2APIC equivalent.
const ALL_PROCESSORS_UID32: u32 = 0xffff_ffff;

const LOCAL_APIC: u8 = 0;
const IO_APIC: u8 = 1;
const INTERRUPT_SOURCE_OVERRIDE: u8 = 2;
const LOCAL_APIC_NMI: u8 = 4;
const LOCAL_X2APIC: u8 = 9;
const LOCAL_X2APIC_NMI: u8 = 10;

/// Whether a processor can be used (Local APIC Flags, ACPI 6.5 Table 5.23).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessorState {
    /// `Enabled`: the processor is ready for use.
    Enabled,
    /// `Online Capable`: present but disabled; the OS may bring it online
    /// later (CPU hot-add).
    OnlineCapable,
    /// Neither flag: the processor cannot be used.
    Disabled,
}

impl ProcessorState {
    const fn flags(self) -> u32 {
        match self {
            Self::Enabled => 1,
            Self::OnlineCapable => 2,
            Self::Disabled => 0,
        }
    }
}

/// A processor, emitted as a Processor Local APIC structure (5.2.12.2) when its
/// APIC ID is below 255 and as a Processor Local x2APIC structure (5.2.12.12)
/// otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MadtProcessor {
    /// ACPI Processor UID: matches the `_UID` of the processor device.
    pub uid: u32,
    /// The processor's local (x2)APIC ID.
    pub apic_id: u32,
    /// Usability.
    pub state: ProcessorState,
}

impl MadtProcessor {
    /// Largest encoded structure (x2APIC).
    pub const MAX_ENCODED_LENGTH: usize = 16;

    /// Whether the x2APIC structure is required.
    pub const fn needs_x2apic(&self) -> bool {
        self.apic_id >= FIRST_X2APIC_ID
    }

    /// Encoded length of this processor's structure.
    pub const fn encoded_length(&self) -> usize {
        if self.needs_x2apic() { 16 } else { 8 }
    }

    /// Encodes the structure into `out` (also used for `_MAT`); returns its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        let mut w = ByteWriter::new(out);
        if self.needs_x2apic() {
            w.u8(LOCAL_X2APIC);
            w.u8(16);
            w.u16(0); // Reserved.
            w.u32(self.apic_id);
            w.u32(self.state.flags());
            w.u32(self.uid);
        } else {
            let uid = u8::try_from(self.uid).ok().filter(|&uid| uid != ALL_PROCESSORS_UID8).ok_or(
                Error::InvalidField {
                    signature: Signature::MADT,
                    reason: "a processor with an APIC ID below 255 needs a UID below 255",
                },
            )?;
            w.u8(LOCAL_APIC);
            w.u8(8);
            w.u8(uid);
            w.u8(self.apic_id as u8); // < 255, checked by needs_x2apic().
            w.u32(self.state.flags());
        }
        w.finish()
    }
}

/// An I/O APIC structure (5.2.12.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoApic {
    /// The I/O APIC's ID.
    pub id: u8,
    /// Physical address of its registers.
    pub address: u32,
    /// First Global System Interrupt it handles.
    pub gsi_base: u32,
}

/// Interrupt polarity (MPS INTI flags bits 1:0, ACPI 6.5 Table 5.26).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polarity {
    /// Conforms to the bus specification.
    BusDefault = 0,
    /// Active high.
    ActiveHigh = 1,
    /// Active low.
    ActiveLow = 3,
}

/// Interrupt trigger mode (MPS INTI flags bits 3:2, ACPI 6.5 Table 5.26).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TriggerMode {
    /// Conforms to the bus specification.
    BusDefault = 0,
    /// Edge triggered.
    Edge = 1,
    /// Level triggered.
    Level = 3,
}

const fn inti_flags(polarity: Polarity, trigger: TriggerMode) -> u16 {
    (polarity as u16) | ((trigger as u16) << 2)
}

/// An Interrupt Source Override structure (5.2.12.5) for an ISA IRQ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterruptSourceOverride {
    /// The ISA IRQ.
    pub irq: u8,
    /// The Global System Interrupt it is wired to.
    pub gsi: u32,
    /// Polarity.
    pub polarity: Polarity,
    /// Trigger mode.
    pub trigger: TriggerMode,
}

impl InterruptSourceOverride {
    /// The PIT's IRQ 0 arrives on I/O APIC pin 2; bus-default (edge, high).
    pub const fn timer_irq0_to_gsi2() -> Self {
        Self { irq: 0, gsi: 2, polarity: Polarity::BusDefault, trigger: TriggerMode::BusDefault }
    }

    /// The SCI: level triggered, active high, identity mapped.
    pub const fn sci(irq: u8) -> Self {
        Self { irq, gsi: irq as u32, polarity: Polarity::ActiveHigh, trigger: TriggerMode::Level }
    }

    /// An ISA IRQ shared with PCI INTx: level triggered, identity mapped, with the polarity
    /// the platform wires PCI interrupts with (active low on real hardware and Xen, active
    /// high on QEMU's PIIX and ICH9).
    pub const fn pci_irq(irq: u8, polarity: Polarity) -> Self {
        Self { irq, gsi: irq as u32, polarity, trigger: TriggerMode::Level }
    }
}

/// The LINT pin that carries NMI on every processor; emitted as one Local
/// APIC NMI structure (5.2.12.7) for the xAPIC processors and one Local x2APIC
/// NMI structure (5.2.12.13) for the x2APIC processors, each with the
/// "all processors" UID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalApicNmi {
    /// Local APIC interrupt input, LINT0 or LINT1.
    pub lint: u8,
    /// Polarity.
    pub polarity: Polarity,
    /// Trigger mode.
    pub trigger: TriggerMode,
}

impl LocalApicNmi {
    /// NMI on LINT1, bus-default polarity and trigger: the PC convention.
    pub const LINT1: Self =
        Self { lint: 1, polarity: Polarity::BusDefault, trigger: TriggerMode::BusDefault };
}

/// The MADT.
#[derive(Clone, Copy, Debug)]
pub struct Madt<'a> {
    /// `Local Interrupt Controller Address`: 32-bit local APIC base.
    pub local_apic_address: u32,
    /// `PCAT_COMPAT`: the system also has dual 8259 PICs.
    pub pcat_compat: bool,
    /// Processors, in the order the OS should enumerate them (boot processor first).
    pub processors: &'a [MadtProcessor],
    /// I/O APICs.
    pub io_apics: &'a [IoApic],
    /// Interrupt source overrides.
    pub overrides: &'a [InterruptSourceOverride],
    /// NMI wiring shared by all processors, if any.
    pub nmi: Option<LocalApicNmi>,
}

impl Madt<'_> {
    /// The architectural local APIC base.
    pub const DEFAULT_LOCAL_APIC_ADDRESS: u32 = 0xfee0_0000;

    fn has_xapic(&self) -> bool {
        self.processors.iter().any(|p| !p.needs_x2apic())
    }

    fn has_x2apic(&self) -> bool {
        self.processors.iter().any(|p| p.needs_x2apic())
    }
}

impl Table for Madt<'_> {
    fn signature(&self) -> Signature {
        Signature::MADT
    }

    fn length(&self) -> usize {
        let processors: usize = self.processors.iter().map(|p| p.encoded_length()).sum();
        let nmis = match self.nmi {
            Some(_) => 6 * usize::from(self.has_xapic()) + 12 * usize::from(self.has_x2apic()),
            None => 0,
        };
        HEADER_LENGTH + 8 + processors + 12 * self.io_apics.len() + 10 * self.overrides.len() + nmis
    }

    fn write(&self, ids: &OemIds, out: &mut [u8]) -> Result<usize, Error> {
        write_table(out, Signature::MADT, REVISION, ids, |w| {
            w.u32(self.local_apic_address);
            w.u32(u32::from(self.pcat_compat));
            for p in self.processors {
                let mut entry = [0u8; MadtProcessor::MAX_ENCODED_LENGTH];
                let n = p.encode(&mut entry)?;
                w.bytes(&entry[..n]);
            }
            for io in self.io_apics {
                w.u8(IO_APIC);
                w.u8(12);
                w.u8(io.id);
                w.u8(0); // Reserved.
                w.u32(io.address);
                w.u32(io.gsi_base);
            }
            for iso in self.overrides {
                w.u8(INTERRUPT_SOURCE_OVERRIDE);
                w.u8(10);
                w.u8(0); // Bus: ISA.
                w.u8(iso.irq);
                w.u32(iso.gsi);
                w.u16(inti_flags(iso.polarity, iso.trigger));
            }
            if let Some(nmi) = self.nmi {
                let flags = inti_flags(nmi.polarity, nmi.trigger);
                if self.has_xapic() {
                    w.u8(LOCAL_APIC_NMI);
                    w.u8(6);
                    w.u8(ALL_PROCESSORS_UID8);
                    w.u16(flags);
                    w.u8(nmi.lint);
                }
                if self.has_x2apic() {
                    w.u8(LOCAL_X2APIC_NMI);
                    w.u8(12);
                    w.u16(flags);
                    w.u32(ALL_PROCESSORS_UID32);
                    w.u8(nmi.lint);
                    w.bytes(&[0; 3]); // Reserved.
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x2apic_rule_follows_apic_id() {
        let mut buf = [0u8; 16];
        let p = MadtProcessor { uid: 3, apic_id: 254, state: ProcessorState::Enabled };
        assert_eq!(p.encode(&mut buf), Ok(8));
        assert_eq!(&buf[..8], &[0, 8, 3, 254, 1, 0, 0, 0]);
        let p = MadtProcessor { uid: 300, apic_id: 255, state: ProcessorState::OnlineCapable };
        assert_eq!(p.encode(&mut buf), Ok(16));
        assert_eq!(&buf, &[9, 16, 0, 0, 255, 0, 0, 0, 2, 0, 0, 0, 44, 1, 0, 0]);
    }

    #[test]
    fn xapic_processor_needs_8_bit_uid() {
        let mut buf = [0u8; 16];
        for uid in [255, 256] {
            let p = MadtProcessor { uid, apic_id: 2, state: ProcessorState::Enabled };
            assert!(matches!(p.encode(&mut buf), Err(Error::InvalidField { .. })));
        }
    }

    #[test]
    fn override_flags() {
        assert_eq!(inti_flags(Polarity::ActiveLow, TriggerMode::Level), 0x000f);
        assert_eq!(inti_flags(Polarity::ActiveHigh, TriggerMode::Level), 0x000d);
        assert_eq!(inti_flags(Polarity::BusDefault, TriggerMode::BusDefault), 0);
    }
}
