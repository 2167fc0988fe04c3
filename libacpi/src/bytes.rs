//! A bounds-checked little-endian writer over a caller-provided buffer.

use crate::Error;

/// Writes little-endian values into a `&mut [u8]`, failing with
/// [`Error::BufferTooSmall`] instead of panicking when the buffer is full.
pub(crate) struct ByteWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> ByteWriter<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes written so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// The bytes written so far.
    pub(crate) fn written_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..self.pos]
    }

    pub(crate) fn bytes(&mut self, data: &[u8]) -> Result<(), Error> {
        let end = self
            .pos
            .checked_add(data.len())
            .ok_or(Error::BufferTooSmall { needed: usize::MAX, available: self.buf.len() })?;
        let available = self.buf.len();
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(Error::BufferTooSmall { needed: end, available })?;
        dst.copy_from_slice(data);
        self.pos = end;
        Ok(())
    }

    pub(crate) fn zeros(&mut self, count: usize) -> Result<(), Error> {
        for _ in 0..count {
            self.u8(0)?;
        }
        Ok(())
    }

    pub(crate) fn u8(&mut self, v: u8) -> Result<(), Error> {
        self.bytes(&[v])
    }

    pub(crate) fn u16(&mut self, v: u16) -> Result<(), Error> {
        self.bytes(&v.to_le_bytes())
    }

    pub(crate) fn u32(&mut self, v: u32) -> Result<(), Error> {
        self.bytes(&v.to_le_bytes())
    }

    pub(crate) fn u64(&mut self, v: u64) -> Result<(), Error> {
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
