//! Resource templates (ACPI 6.5 section 6.4, "Resource Data Types for ACPI").

use super::data::encode_integer;
use super::{Aml, AmlWriter, opcode};
use crate::Error;

const SMALL_IRQ_NO_FLAGS: u8 = 0x22; // IRQ descriptor, 2 data bytes (6.4.2.1).
const SMALL_IO: u8 = 0x47; // I/O port descriptor, 7 data bytes (6.4.2.5).
const SMALL_END_TAG: u8 = 0x79; // End tag, 1 data byte (6.4.2.9).
const LARGE_DWORD_ADDRESS: u8 = 0x87;
const LARGE_WORD_ADDRESS: u8 = 0x88;
const LARGE_EXTENDED_INTERRUPT: u8 = 0x89;
const LARGE_QWORD_ADDRESS: u8 = 0x8a;

/// One resource descriptor inside a [`ResourceTemplate`].
pub trait Resource {
    /// Encoded length in bytes, including the descriptor's tag.
    fn length(&self) -> usize;
    /// Appends the descriptor.
    fn write(&self, w: &mut AmlWriter<'_>);
}

/// `ResourceTemplate () { descriptors }`: a buffer holding the descriptors and
/// an End Tag whose checksum byte is 0 ("treat as if the checksum is valid",
/// which is what `iasl` emits).
#[derive(Clone, Copy)]
pub struct ResourceTemplate<'a>(pub &'a [&'a dyn Resource]);

impl Aml for ResourceTemplate<'_> {
    fn to_aml(&self, w: &mut AmlWriter<'_>) {
        let size: usize = self.0.iter().map(|r| r.length()).sum::<usize>() + 2;
        w.byte(opcode::BUFFER);
        w.with_pkg_length(|w| {
            encode_integer(w, size as u64);
            let start = w.len();
            for r in self.0 {
                r.write(w);
            }
            if w.len() - start != size - 2 {
                return w.fail(Error::InvalidAmlOperand("resource descriptor length mismatch"));
            }
            w.bytes(&[SMALL_END_TAG, 0])
        })
    }
}

/// `IO (Decode16/Decode10, min, max, alignment, length)` (6.4.2.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Io {
    /// Decodes 16 address bits (else 10).
    pub decode16: bool,
    /// Minimum base address.
    pub min: u16,
    /// Maximum base address.
    pub max: u16,
    /// Base alignment.
    pub alignment: u8,
    /// Number of ports.
    pub length: u8,
}

impl Io {
    /// A fixed 16-bit decoded range of `length` ports at `port`, alignment 1.
    pub const fn fixed(port: u16, length: u8) -> Self {
        Self { decode16: true, min: port, max: port, alignment: 1, length }
    }
}

impl Resource for Io {
    fn length(&self) -> usize {
        8
    }

    fn write(&self, w: &mut AmlWriter<'_>) {
        w.bytes(&[SMALL_IO, u8::from(self.decode16)]);
        w.bytes(&self.min.to_le_bytes());
        w.bytes(&self.max.to_le_bytes());
        w.bytes(&[self.alignment, self.length])
    }
}

/// `IRQNoFlags () { irqs }`: ISA IRQs, edge triggered, active high (6.4.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqNoFlags {
    /// Bit N set = IRQ N.
    pub mask: u16,
}

impl IrqNoFlags {
    /// The descriptor for `irqs`, each in 0..=15.
    pub fn new(irqs: &[u8]) -> Result<Self, Error> {
        let mut mask = 0u16;
        for &irq in irqs {
            if irq > 15 {
                return Err(Error::InvalidAmlOperand("ISA IRQ above 15"));
            }
            mask |= 1 << irq;
        }
        Ok(Self { mask })
    }
}

impl Resource for IrqNoFlags {
    fn length(&self) -> usize {
        3
    }

    fn write(&self, w: &mut AmlWriter<'_>) {
        w.byte(SMALL_IRQ_NO_FLAGS);
        w.bytes(&self.mask.to_le_bytes())
    }
}

/// Whether a device consumes a resource or produces it for its children
/// (general flags bit 0 of address space and interrupt descriptors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceUsage {
    /// `ResourceProducer`.
    Producer,
    /// `ResourceConsumer`.
    Consumer,
}

/// Interrupt trigger mode of an extended interrupt descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterruptTrigger {
    /// `Level`.
    Level,
    /// `Edge`.
    Edge,
}

/// Interrupt polarity of an extended interrupt descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterruptPolarity {
    /// `ActiveHigh`.
    ActiveHigh,
    /// `ActiveLow`.
    ActiveLow,
}

/// `Interrupt (usage, trigger, polarity, Exclusive/Shared, , , ) { gsis }`:
/// the Extended Interrupt descriptor (6.4.3.6) without a resource source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interrupt<'a> {
    /// Consumer or producer.
    pub usage: ResourceUsage,
    /// Trigger mode.
    pub trigger: InterruptTrigger,
    /// Polarity.
    pub polarity: InterruptPolarity,
    /// Shared with other devices.
    pub shared: bool,
    /// Interrupt numbers (1 to 255 of them).
    pub interrupts: &'a [u32],
}

impl Resource for Interrupt<'_> {
    fn length(&self) -> usize {
        5 + 4 * self.interrupts.len()
    }

    fn write(&self, w: &mut AmlWriter<'_>) {
        let Some(count) = u8::try_from(self.interrupts.len()).ok().filter(|&n| n > 0) else {
            return w.fail(Error::InvalidAmlOperand("Interrupt needs 1 to 255 interrupt numbers"));
        };
        let flags = u8::from(self.usage == ResourceUsage::Consumer)
            | (u8::from(self.trigger == InterruptTrigger::Edge) << 1)
            | (u8::from(self.polarity == InterruptPolarity::ActiveLow) << 2)
            | (u8::from(self.shared) << 3);
        w.byte(LARGE_EXTENDED_INTERRUPT);
        w.bytes(&(2 + 4 * u16::from(count)).to_le_bytes());
        w.bytes(&[flags, count]);
        for &i in self.interrupts {
            w.bytes(&i.to_le_bytes());
        }
    }
}

/// Width of an address space descriptor (6.4.3.5.1-6.4.3.5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressWidth {
    /// 16-bit fields (`WordIO`, `WordBusNumber`, ...).
    Word,
    /// 32-bit fields (`DWordMemory`, ...).
    DWord,
    /// 64-bit fields (`QWordMemory`, ...).
    QWord,
}

impl AddressWidth {
    const fn bytes(self) -> usize {
        match self {
            Self::Word => 2,
            Self::DWord => 4,
            Self::QWord => 8,
        }
    }

    const fn tag(self) -> u8 {
        match self {
            Self::Word => LARGE_WORD_ADDRESS,
            Self::DWord => LARGE_DWORD_ADDRESS,
            Self::QWord => LARGE_QWORD_ADDRESS,
        }
    }
}

/// Memory cacheability (`_MEM`, memory type-specific flags bits 2:1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cacheability {
    /// `NonCacheable`.
    NonCacheable = 0,
    /// `Cacheable`.
    Cacheable = 1,
    /// `WriteCombining`.
    WriteCombining = 2,
    /// `Prefetchable`.
    Prefetchable = 3,
}

/// I/O ranges decoded (`_RNG`, I/O type-specific flags bits 1:0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoRange {
    /// `NonISAOnlyRanges`.
    NonIsaOnly = 1,
    /// `ISAOnlyRanges`.
    IsaOnly = 2,
    /// `EntireRange`.
    Entire = 3,
}

/// The resource type of an address space descriptor and its type-specific flags
/// (6.4.3.5.4, Table 6.50).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressKind {
    /// Memory range.
    Memory {
        /// Cacheability.
        cacheability: Cacheability,
        /// `ReadWrite` (else `ReadOnly`).
        writable: bool,
    },
    /// I/O range.
    Io {
        /// Which ranges are decoded.
        range: IoRange,
    },
    /// Bus number range.
    BusNumber,
}

/// A Word, DWord or QWord address space descriptor (6.4.3.5) without a
/// resource source, such as `WordBusNumber`, `WordIO`, `DWordMemory` or
/// `QWordMemory`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressSpace {
    /// Field width.
    pub width: AddressWidth,
    /// Resource type and its flags.
    pub kind: AddressKind,
    /// Producer or consumer.
    pub usage: ResourceUsage,
    /// `SubDecode` (else `PosDecode`).
    pub subtractive_decode: bool,
    /// `MinFixed`.
    pub min_fixed: bool,
    /// `MaxFixed`.
    pub max_fixed: bool,
    /// `_GRA`: address granularity.
    pub granularity: u64,
    /// `_MIN`.
    pub min: u64,
    /// `_MAX`.
    pub max: u64,
    /// `_TRA`: translation offset.
    pub translation: u64,
    /// `_LEN`.
    pub length: u64,
}

impl AddressSpace {
    const fn fixed_range(width: AddressWidth, kind: AddressKind, min: u64, max: u64) -> Self {
        Self {
            width,
            kind,
            usage: ResourceUsage::Producer,
            subtractive_decode: false,
            min_fixed: true,
            max_fixed: true,
            granularity: 0,
            min,
            max,
            translation: 0,
            length: max.wrapping_sub(min).wrapping_add(1),
        }
    }

    /// `WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, min, max, 0, len)`.
    pub const fn word_bus_number(min: u16, max: u16) -> Self {
        Self::fixed_range(AddressWidth::Word, AddressKind::BusNumber, min as u64, max as u64)
    }

    /// `WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, min, max, 0, len)`.
    pub const fn word_io(min: u16, max: u16) -> Self {
        let kind = AddressKind::Io { range: IoRange::Entire };
        Self::fixed_range(AddressWidth::Word, kind, min as u64, max as u64)
    }

    /// `DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, cacheability, ReadWrite, 0, min, max, 0, len)`.
    pub const fn dword_memory(min: u32, max: u32, cacheability: Cacheability) -> Self {
        let kind = AddressKind::Memory { cacheability, writable: true };
        Self::fixed_range(AddressWidth::DWord, kind, min as u64, max as u64)
    }

    /// `QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, cacheability, ReadWrite, 0, min, max, 0, len)`.
    pub const fn qword_memory(min: u64, max: u64, cacheability: Cacheability) -> Self {
        let kind = AddressKind::Memory { cacheability, writable: true };
        Self::fixed_range(AddressWidth::QWord, kind, min, max)
    }

    fn type_and_flags(&self) -> (u8, u8) {
        match self.kind {
            AddressKind::Memory { cacheability, writable } => {
                (0, ((cacheability as u8) << 1) | u8::from(writable))
            }
            AddressKind::Io { range } => (1, range as u8),
            AddressKind::BusNumber => (2, 0),
        }
    }
}

impl Resource for AddressSpace {
    fn length(&self) -> usize {
        3 + 3 + 5 * self.width.bytes()
    }

    fn write(&self, w: &mut AmlWriter<'_>) {
        let width = self.width.bytes();
        let fields = [self.granularity, self.min, self.max, self.translation, self.length];
        if width < 8 && fields.iter().any(|&v| v >> (8 * width) != 0) {
            return w.fail(Error::InvalidAmlOperand(
                "address space value does not fit the descriptor width",
            ));
        }
        let (resource_type, type_flags) = self.type_and_flags();
        let general_flags = u8::from(self.usage == ResourceUsage::Consumer)
            | (u8::from(self.subtractive_decode) << 1)
            | (u8::from(self.min_fixed) << 2)
            | (u8::from(self.max_fixed) << 3);
        w.byte(self.width.tag());
        w.bytes(&((3 + 5 * width) as u16).to_le_bytes());
        w.bytes(&[resource_type, general_flags, type_flags]);
        for v in fields {
            w.bytes(&v.to_le_bytes()[..width]);
        }
    }
}
