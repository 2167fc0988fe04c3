//! Data objects (ACPI 6.5 section 20.2.3, "Data Objects Encoding").

use super::{Aml, AmlWriter, opcode};
use crate::Error;

/// Encodes `value` in the smallest form: `Zero`, `One`, `Ones`, or a byte,
/// word, dword or qword constant (ComputationalData).
pub(crate) fn encode_integer(w: &mut AmlWriter<'_>, value: u64) {
    match value {
        0 => w.byte(opcode::ZERO),
        1 => w.byte(opcode::ONE),
        u64::MAX => w.byte(opcode::ONES),
        v if v <= 0xff => w.bytes(&[opcode::BYTE_PREFIX, v as u8]),
        v if v <= 0xffff => {
            w.byte(opcode::WORD_PREFIX);
            w.bytes(&(v as u16).to_le_bytes())
        }
        v if v <= 0xffff_ffff => {
            w.byte(opcode::DWORD_PREFIX);
            w.bytes(&(v as u32).to_le_bytes())
        }
        v => {
            w.byte(opcode::QWORD_PREFIX);
            w.bytes(&v.to_le_bytes())
        }
    }
}

macro_rules! integer_aml {
    ($($t:ty),*) => {$(
        impl Aml for $t {
            fn to_aml(&self, w: &mut AmlWriter<'_>) {
                encode_integer(w, u64::from(*self))
            }
        }
    )*};
}
integer_aml!(u8, u16, u32, u64);

/// `Ones`: the all-ones integer (OnesOp).
#[derive(Clone, Copy, Debug)]
pub struct Ones;

impl Aml for Ones {
    fn to_aml(&self, w: &mut AmlWriter<'_>) {
        w.byte(opcode::ONES)
    }
}

/// A string constant; ASCII characters 0x01-0x7F only.
#[derive(Clone, Copy, Debug)]
pub struct Str<'a>(pub &'a str);

impl Aml for Str<'_> {
    fn to_aml(&self, w: &mut AmlWriter<'_>) {
        if !self.0.bytes().all(|b| (0x01..=0x7f).contains(&b)) {
            return w.fail(Error::InvalidString);
        }
        w.byte(opcode::STRING_PREFIX);
        w.bytes(self.0.as_bytes());
        w.byte(0x00)
    }
}

/// `EisaId ("PNP0A03")`: a compressed EISA ID (ACPI 6.5 section 19.6.35),
/// emitted as an integer like `iasl` does.
#[derive(Clone, Copy, Debug)]
pub struct EisaId<'a>(pub &'a str);

impl EisaId<'_> {
    /// The 32-bit value: three 5-bit letters and four hex digits, stored
    /// big-endian in the integer's bytes.
    pub fn value(&self) -> Result<u32, Error> {
        let invalid =
            Error::InvalidAmlOperand("EISA ID must be 3 upper-case letters and 4 hex digits");
        let b = self.0.as_bytes();
        if b.len() != 7 || !b[..3].iter().all(u8::is_ascii_uppercase) {
            return Err(invalid);
        }
        let mut hex = 0u32;
        for &c in &b[3..] {
            let digit = match c {
                b'0'..=b'9' => c - b'0',
                b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(invalid),
            };
            hex = (hex << 4) | u32::from(digit);
        }
        let letters = b[..3].iter().fold(0u32, |acc, &c| (acc << 5) | u32::from(c - b'@'));
        Ok(((letters << 16) | hex).swap_bytes())
    }
}

impl Aml for EisaId<'_> {
    fn to_aml(&self, w: &mut AmlWriter<'_>) {
        match self.value() {
            Ok(value) => encode_integer(w, u64::from(value)),
            Err(e) => w.fail(e),
        }
    }
}

/// `Buffer () { bytes }`: DefBuffer with the size of its initialiser.
#[derive(Clone, Copy, Debug)]
pub struct Buffer<'a>(pub &'a [u8]);

impl Aml for Buffer<'_> {
    fn to_aml(&self, w: &mut AmlWriter<'_>) {
        w.byte(opcode::BUFFER);
        w.with_pkg_length(|w| {
            encode_integer(w, self.0.len() as u64);
            w.bytes(self.0)
        })
    }
}

/// `Package () { elements }`: DefPackage, or DefVarPackage when there are
/// more than 255 elements (as `iasl` emits).
#[derive(Clone, Copy)]
pub struct Package<'a>(pub &'a [&'a dyn Aml]);

impl Aml for Package<'_> {
    fn to_aml(&self, w: &mut AmlWriter<'_>) {
        let count = self.0.len();
        match u8::try_from(count) {
            Ok(n) => {
                w.byte(opcode::PACKAGE);
                w.with_pkg_length(|w| {
                    w.byte(n);
                    self.0.iter().for_each(|e| e.to_aml(w))
                })
            }
            Err(_) => {
                w.byte(opcode::VAR_PACKAGE);
                w.with_pkg_length(|w| {
                    encode_integer(w, count as u64);
                    self.0.iter().for_each(|e| e.to_aml(w))
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eisa_id_value() {
        assert_eq!(EisaId("PNP0A03").value(), Ok(0x030a_d041));
        assert!(EisaId("pnp0a03").value().is_err());
        assert!(EisaId("PNP0A0G").value().is_err());
        assert!(EisaId("PNP0A0").value().is_err());
    }

    #[test]
    fn string_rejects_non_ascii() {
        let mut buf = [0u8; 8];
        let mut w = AmlWriter::new(&mut buf);
        Str("\u{e9}").to_aml(&mut w);
        assert_eq!(w.finish(), Err(Error::InvalidString));
        let mut w = AmlWriter::new(&mut buf);
        Str("a\0").to_aml(&mut w);
        assert_eq!(w.finish(), Err(Error::InvalidString));
    }
}
