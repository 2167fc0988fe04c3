//! An encoder for ACPI Machine Language (ACPI 6.5 chapter 20, "ACPI Machine
//! Language (AML) Specification").
//!
//! [`AmlWriter`] is the sink: it writes into a caller-provided buffer and
//! opens nested objects (`Scope`, `Device`, `Method`, `If`, `Else`) with
//! closures. A nested object's body is written first and then moved up by the
//! size of its PkgLength, which is encoded in as few bytes as possible, so no
//! length has to be computed in advance and nothing is allocated.
//!
//! Data objects and expressions implement [`Aml`] and can be nested freely:
//!
//! ```
//! use libacpi::aml::{AmlWriter, EisaId, Package, Str};
//! let mut buf = [0u8; 128];
//! let mut w = AmlWriter::new(&mut buf);
//! w.scope("\\_SB", |w| {
//!     w.device("PCI0", |w| {
//!         w.name("_HID", &EisaId("PNP0A03"));
//!         w.name("_UID", &0u8);
//!         w.method("_STA", 0, false, |w| w.return_value(&0x0fu8))
//!     })
//! });
//! w.name("_S5", &Package(&[&5u8, &5u8, &Str("x")]));
//! w.finish()?;
//! assert_eq!(&w.as_bytes()[..2], &[0x10, 0x27]);
//! # Ok::<(), libacpi::Error>(())
//! ```
//!
//! Integers use the smallest encoding (`Zero`, `One`, `Ones`, then byte, word,
//! dword or qword prefix), as `iasl` does for revision 2 definition blocks.

mod data;
mod expression;
mod name;
mod processor;
mod resource;
mod writer;

pub use data::{Buffer, EisaId, Ones, Package, Str};
pub use expression::{
    Add, And, Arg, Call, DerefOf, Index, LAnd, LEqual, LGreater, LLess, LNot, LOr, Local, Or,
    SizeOf, Subtract,
};
pub use name::Path;
pub use processor::ProcessorDevice;
pub use resource::{
    AddressKind, AddressSpace, AddressWidth, Cacheability, Interrupt, InterruptPolarity,
    InterruptTrigger, Io, IoRange, IrqNoFlags, Resource, ResourceTemplate, ResourceUsage,
};
pub use writer::AmlWriter;

/// Something that encodes as AML: a data object, a name, an expression.
pub trait Aml {
    /// Appends the encoding to `w`.
    fn to_aml(&self, w: &mut AmlWriter<'_>);
}

/// Opcodes (ACPI 6.5 section 20.3, Table 20.5).
pub(crate) mod opcode {
    pub const ZERO: u8 = 0x00;
    pub const ONE: u8 = 0x01;
    pub const NAME: u8 = 0x08;
    pub const BYTE_PREFIX: u8 = 0x0a;
    pub const WORD_PREFIX: u8 = 0x0b;
    pub const DWORD_PREFIX: u8 = 0x0c;
    pub const STRING_PREFIX: u8 = 0x0d;
    pub const QWORD_PREFIX: u8 = 0x0e;
    pub const SCOPE: u8 = 0x10;
    pub const BUFFER: u8 = 0x11;
    pub const PACKAGE: u8 = 0x12;
    pub const VAR_PACKAGE: u8 = 0x13;
    pub const METHOD: u8 = 0x14;
    pub const DUAL_NAME_PREFIX: u8 = 0x2e;
    pub const MULTI_NAME_PREFIX: u8 = 0x2f;
    pub const EXT_PREFIX: u8 = 0x5b;
    pub const ROOT_CHAR: u8 = b'\\';
    pub const PARENT_PREFIX_CHAR: u8 = b'^';
    pub const LOCAL0: u8 = 0x60;
    pub const ARG0: u8 = 0x68;
    pub const STORE: u8 = 0x70;
    pub const ADD: u8 = 0x72;
    pub const SUBTRACT: u8 = 0x74;
    pub const AND: u8 = 0x7b;
    pub const OR: u8 = 0x7d;
    pub const DEREF_OF: u8 = 0x83;
    pub const NOTIFY: u8 = 0x86;
    pub const SIZE_OF: u8 = 0x87;
    pub const INDEX: u8 = 0x88;
    pub const LAND: u8 = 0x90;
    pub const LOR: u8 = 0x91;
    pub const LNOT: u8 = 0x92;
    pub const LEQUAL: u8 = 0x93;
    pub const LGREATER: u8 = 0x94;
    pub const LLESS: u8 = 0x95;
    pub const IF: u8 = 0xa0;
    pub const ELSE: u8 = 0xa1;
    pub const RETURN: u8 = 0xa4;
    pub const ONES: u8 = 0xff;
    /// Second byte after [`EXT_PREFIX`].
    pub const EXT_DEVICE: u8 = 0x82;
}
