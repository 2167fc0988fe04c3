//! The AML output sink and the statements that open nested objects.

use super::name::Path;
use super::{Aml, opcode};
use crate::Error;

/// Largest value a 4-byte PkgLength can hold (ACPI 6.5 section 20.2.4).
const MAX_PKG_LENGTH: usize = (1 << 28) - 1;

/// Writes AML into a caller-provided buffer.
///
/// The first error (running out of buffer, [`Error::BufferTooSmall`], or an operand
/// that cannot be encoded) is remembered and everything written after it is dropped;
/// [`AmlWriter::finish`] reports it. The statements and the [`super::Aml`] encoders
/// therefore return nothing: one check at the end rather than a `?` at each step, which
/// took 7 KB of the firmware image.
///
/// A [measuring](AmlWriter::measuring) writer has no buffer and writes nothing: it counts
/// the bytes, so that a caller without a fixed bound can size its buffer exactly.
#[derive(Debug)]
pub struct AmlWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
    error: Option<Error>,
    measuring: bool,
}

impl<'a> AmlWriter<'a> {
    /// A writer that fills `buf` from its start.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0, error: None, measuring: false }
    }

    /// A writer that only counts: [`AmlWriter::finish`] gives the length the same
    /// statements need in a buffer, or the first operand that cannot be encoded.
    pub fn measuring() -> AmlWriter<'static> {
        AmlWriter { buf: &mut [], pos: 0, error: None, measuring: true }
    }

    /// The number of bytes written, or the first error.
    pub fn finish(&self) -> Result<usize, Error> {
        match self.error {
            None => Ok(self.pos),
            Some(e) => Err(e),
        }
    }

    /// Records `error` unless an earlier one is: from here on nothing is written.
    pub fn fail(&mut self, error: Error) {
        self.error.get_or_insert(error);
    }

    /// The AML written so far (nothing, when measuring).
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.pos).unwrap_or_default()
    }

    /// Number of bytes written so far.
    pub fn len(&self) -> usize {
        self.pos
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    pub(crate) fn byte(&mut self, b: u8) {
        self.bytes(&[b])
    }

    pub(crate) fn bytes(&mut self, data: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if self.measuring {
            self.pos = self.pos.saturating_add(data.len());
            return;
        }
        let available = self.buf.len();
        // An end past `usize::MAX` is reported as that: no buffer is that large.
        let end = self.pos.saturating_add(data.len());
        match self.buf.get_mut(self.pos..end) {
            Some(dst) => {
                dst.copy_from_slice(data);
                self.pos = end;
            }
            None => self.fail(Error::BufferTooSmall { needed: end, available }),
        }
    }

    /// Writes `body`, then inserts the PkgLength that covers it (and itself)
    /// in front of it (ACPI 6.5 section 20.2.4).
    pub(crate) fn with_pkg_length(&mut self, body: impl FnOnce(&mut Self)) {
        let start = self.pos;
        body(self);
        self.insert_pkg_length(start)
    }

    /// Inserts the PkgLength of what was written since `start` in front of it: the part of
    /// [`AmlWriter::with_pkg_length`] that is the same for every body, so not generic.
    fn insert_pkg_length(&mut self, start: usize) {
        if self.error.is_some() {
            return;
        }
        let body_len = self.pos - start;
        let (encoding, size) = match encode_pkg_length(body_len) {
            Ok(encoded) => encoded,
            Err(e) => return self.fail(e),
        };
        if self.measuring {
            self.pos += size;
            return;
        }
        let available = self.buf.len();
        let end = self.pos + size;
        if end > available {
            return self.fail(Error::BufferTooSmall { needed: end, available });
        }
        self.buf.copy_within(start..self.pos, start + size);
        self.buf[start..start + size].copy_from_slice(&encoding[..size]);
        self.pos = end;
    }

    /// Appends any AML object or expression.
    pub fn emit(&mut self, term: &dyn Aml) {
        term.to_aml(self)
    }

    /// `Name (name, value)`: DefName (ACPI 6.5 section 20.2.5.1).
    pub fn name(&mut self, name: &str, value: &dyn Aml) {
        self.byte(opcode::NAME);
        Path(name).to_aml(self);
        value.to_aml(self)
    }

    /// `Scope (path) { body }`: DefScope (section 20.2.5.1).
    pub fn scope(&mut self, path: &str, body: impl FnOnce(&mut Self)) {
        self.byte(opcode::SCOPE);
        self.with_pkg_length(|w| {
            Path(path).to_aml(w);
            body(w)
        })
    }

    /// `Device (name) { body }`: DefDevice (section 20.2.5.2).
    pub fn device(&mut self, name: &str, body: impl FnOnce(&mut Self)) {
        self.bytes(&[opcode::EXT_PREFIX, opcode::EXT_DEVICE]);
        self.with_pkg_length(|w| {
            Path(name).to_aml(w);
            body(w)
        })
    }

    /// `Method (name, arg_count, Serialized/NotSerialized) { body }` with sync
    /// level 0: DefMethod (section 20.2.5.2, MethodFlags).
    pub fn method(
        &mut self,
        name: &str,
        arg_count: u8,
        serialized: bool,
        body: impl FnOnce(&mut Self),
    ) {
        if arg_count > 7 {
            return self.fail(Error::InvalidAmlOperand("a method takes at most 7 arguments"));
        }
        let flags = arg_count | (u8::from(serialized) << 3);
        self.byte(opcode::METHOD);
        self.with_pkg_length(|w| {
            Path(name).to_aml(w);
            w.byte(flags);
            body(w)
        })
    }

    /// `If (predicate) { body }`: DefIfElse (section 20.2.5.3).
    pub fn if_then(&mut self, predicate: &dyn Aml, body: impl FnOnce(&mut Self)) {
        self.byte(opcode::IF);
        self.with_pkg_length(|w| {
            predicate.to_aml(w);
            body(w)
        })
    }

    /// `Else { body }`; must directly follow [`AmlWriter::if_then`].
    pub fn else_then(&mut self, body: impl FnOnce(&mut Self)) {
        self.byte(opcode::ELSE);
        self.with_pkg_length(body)
    }

    /// `Return (value)`: DefReturn (section 20.2.5.3).
    pub fn return_value(&mut self, value: &dyn Aml) {
        self.byte(opcode::RETURN);
        value.to_aml(self)
    }

    /// `Notify (object, value)`: DefNotify (section 20.2.5.3).
    pub fn notify(&mut self, object: &dyn Aml, value: &dyn Aml) {
        self.byte(opcode::NOTIFY);
        object.to_aml(self);
        value.to_aml(self)
    }

    /// `Store (value, target)`: DefStore (section 20.2.5.4).
    pub fn store(&mut self, value: &dyn Aml, target: &dyn Aml) {
        self.byte(opcode::STORE);
        value.to_aml(self);
        target.to_aml(self)
    }
}

/// The PkgLength encoding of a package whose contents after the PkgLength are
/// `body_len` bytes: up to 4 bytes, the smallest that fits.
pub(crate) fn encode_pkg_length(body_len: usize) -> Result<([u8; 4], usize), Error> {
    // One byte holds lengths up to 63 in bits 5:0; n extra bytes hold
    // 4 + 8n bits, the low nibble in the lead byte.
    let size = if body_len < 63 {
        1
    } else if body_len + 2 <= 0xfff {
        2
    } else if body_len + 3 <= 0xf_ffff {
        3
    } else if body_len + 4 <= MAX_PKG_LENGTH {
        4
    } else {
        return Err(Error::PkgLengthTooLarge);
    };
    let total = body_len + size;
    let mut out = [0u8; 4];
    if size == 1 {
        out[0] = total as u8;
    } else {
        out[0] = (((size - 1) as u8) << 6) | (total & 0x0f) as u8;
        for (i, byte) in out.iter_mut().enumerate().take(size).skip(1) {
            *byte = (total >> (4 + 8 * (i - 1))) as u8;
        }
    }
    Ok((out, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkg_length_boundaries() {
        assert_eq!(encode_pkg_length(0).unwrap(), ([1, 0, 0, 0], 1));
        assert_eq!(encode_pkg_length(62).unwrap(), ([63, 0, 0, 0], 1));
        // 63 bytes of body need 2 length bytes: total 65 = 0x41.
        assert_eq!(encode_pkg_length(63).unwrap(), ([0x41, 0x04, 0, 0], 2));
        assert_eq!(encode_pkg_length(0xffd).unwrap(), ([0x4f, 0xff, 0, 0], 2));
        assert_eq!(encode_pkg_length(0xffe).unwrap(), ([0x81, 0x00, 0x01, 0], 3));
        assert_eq!(encode_pkg_length(0xf_fffc).unwrap(), ([0x8f, 0xff, 0xff, 0], 3));
        assert_eq!(encode_pkg_length(0xf_fffd).unwrap(), ([0xc1, 0x00, 0x00, 0x01], 4));
        assert_eq!(encode_pkg_length(MAX_PKG_LENGTH - 4).unwrap().1, 4);
        assert_eq!(encode_pkg_length(MAX_PKG_LENGTH - 3), Err(Error::PkgLengthTooLarge));
    }

    #[test]
    fn nested_packages_shift_correctly() {
        let mut buf = [0u8; 16];
        let mut w = AmlWriter::new(&mut buf);
        w.scope("\\", |w| w.scope("A", |_| ()));
        assert_eq!(w.finish(), Ok(10));
        assert_eq!(w.as_bytes(), &[0x10, 0x09, b'\\', 0x00, 0x10, 0x05, b'A', b'_', b'_', b'_']);
    }

    #[test]
    fn running_out_of_buffer_is_an_error() {
        let mut buf = [0u8; 4];
        let mut w = AmlWriter::new(&mut buf);
        // The name does not fit.
        w.scope("ABCD", |_| ());
        assert!(matches!(w.finish(), Err(Error::BufferTooSmall { .. })));
        let mut buf = [0u8; 5];
        let mut w = AmlWriter::new(&mut buf);
        // Body fits, PkgLength does not.
        w.scope("ABCD", |_| ());
        assert!(matches!(w.finish(), Err(Error::BufferTooSmall { .. })));
    }

    #[test]
    fn measuring_counts_what_writing_writes() {
        // Nested lengths across the 1- and 2-byte PkgLength boundary, and a resource
        // template (which checks its own length as it goes).
        let statements = |w: &mut AmlWriter<'_>| {
            w.scope("\\_SB", |w| {
                w.device("DEV0", |w| {
                    w.name(
                        "_CRS",
                        &crate::aml::ResourceTemplate(&[&crate::aml::Io {
                            decode16: true,
                            min: 0x60,
                            max: 0x60,
                            alignment: 1,
                            length: 1,
                        }]),
                    );
                    for _ in 0..12 {
                        w.name("FILL", &0x1234_5678u32);
                    }
                })
            })
        };
        let mut measure = AmlWriter::measuring();
        statements(&mut measure);
        let needed = measure.finish().unwrap();
        assert_eq!(measure.as_bytes(), &[] as &[u8]);

        let mut buf = [0u8; 256];
        let mut w = AmlWriter::new(&mut buf);
        statements(&mut w);
        assert_eq!(w.finish(), Ok(needed));
        assert!(needed > 64, "the device's PkgLength takes two bytes");
        let mut exact = [0u8; 256];
        let mut w = AmlWriter::new(&mut exact[..needed]);
        statements(&mut w);
        assert_eq!(w.finish(), Ok(needed));
        assert_eq!(buf[..needed], exact[..needed]);
    }

    #[test]
    fn measuring_reports_operands_that_cannot_be_encoded() {
        let mut w = AmlWriter::measuring();
        w.method("M", 8, false, |_| ());
        assert!(matches!(w.finish(), Err(Error::InvalidAmlOperand(_))));
    }
}
