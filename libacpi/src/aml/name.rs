//! Name strings (ACPI 6.5 section 20.2.2, "Name Objects Encoding").

use super::{Aml, AmlWriter, opcode};
use crate::Error;

/// An ASL name path such as `_HID`, `\_SB.PCI0`, `^^PCI0.LPC` or `\`.
///
/// Segments are one to four characters: an upper-case letter or `_` followed
/// by upper-case letters, digits or `_`; shorter segments are padded with
/// `_` as `iasl` does. Validation happens when the path is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Path<'a>(pub &'a str);

fn encode_segment(segment: &[u8]) -> Result<[u8; 4], Error> {
    let valid_lead = |c: u8| c.is_ascii_uppercase() || c == b'_';
    let valid = |c: u8| valid_lead(c) || c.is_ascii_digit();
    match segment {
        [first, rest @ ..]
            if segment.len() <= 4 && valid_lead(*first) && rest.iter().all(|&c| valid(c)) =>
        {
            let mut out = [b'_'; 4];
            out[..segment.len()].copy_from_slice(segment);
            Ok(out)
        }
        _ => Err(Error::InvalidName),
    }
}

impl Aml for Path<'_> {
    fn to_aml(&self, w: &mut AmlWriter<'_>) {
        let mut rest = self.0.as_bytes();
        if let [opcode::ROOT_CHAR, tail @ ..] = rest {
            w.byte(opcode::ROOT_CHAR);
            rest = tail;
        } else {
            while let [opcode::PARENT_PREFIX_CHAR, tail @ ..] = rest {
                w.byte(opcode::PARENT_PREFIX_CHAR);
                rest = tail;
            }
        }
        if rest.is_empty() {
            // `\` alone is the root; a bare prefix or an empty path is NullName.
            return if self.0.is_empty() || self.0.ends_with('^') {
                w.fail(Error::InvalidName)
            } else {
                w.byte(0x00)
            };
        }
        let count = rest.split(|&c| c == b'.').count();
        match count {
            1 => {}
            2 => w.byte(opcode::DUAL_NAME_PREFIX),
            _ => match u8::try_from(count) {
                Ok(count) => w.bytes(&[opcode::MULTI_NAME_PREFIX, count]),
                Err(_) => return w.fail(Error::InvalidName),
            },
        }
        for segment in rest.split(|&c| c == b'.') {
            match encode_segment(segment) {
                Ok(encoded) => w.bytes(&encoded),
                Err(e) => return w.fail(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(path: &str) -> Result<([u8; 32], usize), Error> {
        let mut buf = [0u8; 32];
        let mut w = AmlWriter::new(&mut buf);
        Path(path).to_aml(&mut w);
        let n = w.finish()?;
        Ok((buf, n))
    }

    fn bytes(path: &str) -> std::vec::Vec<u8> {
        let (buf, n) = encode(path).unwrap();
        buf[..n].to_vec()
    }

    extern crate std;

    #[test]
    fn forms() {
        assert_eq!(bytes("_HID"), b"_HID");
        assert_eq!(bytes("A"), b"A___");
        assert_eq!(bytes("\\"), b"\\\0");
        assert_eq!(bytes("\\_SB"), b"\\_SB_");
        assert_eq!(bytes("^^PCI0"), b"^^PCI0");
        assert_eq!(bytes("\\_SB.PCI0"), b"\\\x2e_SB_PCI0");
        assert_eq!(bytes("_SB.PCI0.LPC"), b"\x2f\x03_SB_PCI0LPC_");
    }

    #[test]
    fn invalid_names() {
        for bad in ["", "^", "TOOLONG", "1ABC", "ab", "A..B", "A.", "\\^A", "A-B"] {
            assert_eq!(encode(bad).map(|_| ()), Err(Error::InvalidName), "{bad}");
        }
    }
}
