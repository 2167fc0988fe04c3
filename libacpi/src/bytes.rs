//! A bounds-checked little-endian writer over a caller-provided buffer.

use crate::Error;

/// Writes little-endian values into a `&mut [u8]`. A write that does not fit is dropped, and
/// every one after it: [`ByteWriter::finish`] then fails with [`Error::BufferTooSmall`] for
/// the first. One check per table rather than a `?` at each of its fields (1.7 KB of the
/// image).
pub(crate) struct ByteWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
    /// The end the first write that did not fit needed.
    overflow: Option<usize>,
}

impl<'a> ByteWriter<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0, overflow: None }
    }

    /// Bytes written, or the error for the first write that did not fit.
    pub(crate) fn finish(&self) -> Result<usize, Error> {
        match self.overflow {
            None => Ok(self.pos),
            Some(needed) => Err(Error::BufferTooSmall { needed, available: self.buf.len() }),
        }
    }

    /// The bytes written so far.
    pub(crate) fn written_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..self.pos]
    }

    pub(crate) fn bytes(&mut self, data: &[u8]) {
        if let Some(dst) = self.slot(data.len()) {
            dst.copy_from_slice(data);
        }
    }

    /// The next `len` bytes, for the caller to fill, or `None` (and the overflow recorded)
    /// when they do not fit.
    pub(crate) fn slot(&mut self, len: usize) -> Option<&mut [u8]> {
        if self.overflow.is_some() {
            return None;
        }
        // An end past `usize::MAX` is reported as that: no buffer is that large.
        let end = self.pos.saturating_add(len);
        match self.buf.get_mut(self.pos..end) {
            Some(slot) => {
                self.pos = end;
                Some(slot)
            }
            None => {
                self.overflow = Some(end);
                None
            }
        }
    }

    pub(crate) fn zeros(&mut self, count: usize) {
        for _ in 0..count {
            self.u8(0);
        }
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.bytes(&[v])
    }

    pub(crate) fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes())
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes())
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes())
    }
}

/// Copies `N` bytes starting at `offset` out of `bytes`, if present.
pub(crate) fn array_at<const N: usize>(bytes: &[u8], offset: usize) -> Option<[u8; N]> {
    bytes.get(offset..offset.checked_add(N)?)?.try_into().ok()
}

/// Overwrites `value.len()` bytes at `offset`; returns `false` if out of range.
pub(crate) fn put_at(bytes: &mut [u8], offset: usize, value: &[u8]) -> bool {
    match offset.checked_add(value.len()).and_then(|end| bytes.get_mut(offset..end)) {
        Some(dst) => {
            dst.copy_from_slice(value);
            true
        }
        None => false,
    }
}
