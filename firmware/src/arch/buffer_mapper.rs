//! The `acpi` crate's parser over host buffers standing for physical memory, for host tests
//! of the ACPI self-test (and of the whole boot on a simulated machine): the `unsafe` the
//! parser's mapping needs stays in arch/ with the hardware's.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::marker::PhantomData;
use core::ptr::NonNull;

use acpi::{Handler, RawPhysicalMapping};

use super::acpi_handler::NO_AML;

use super::PhysicalMapper;

/// Read-only views of buffers at physical addresses, borrowed for `'a` (or owned).
#[derive(Clone, Debug)]
pub(crate) struct BufferMapper<'a> {
    /// (physical base, start, length) of each buffer.
    ranges: alloc::rc::Rc<[(usize, NonNull<u8>, usize)]>,
    /// The buffers of [`BufferMapper::owning`], kept alive as long as any clone lives.
    _owned: Option<alloc::rc::Rc<[Box<[u8]>]>>,
    _buffers: PhantomData<&'a [u8]>,
}

impl<'a> BufferMapper<'a> {
    /// The parser's view of `buffers`, each `(physical address, bytes)`.
    pub fn new(buffers: &[(u64, &'a [u8])]) -> Self {
        let ranges = buffers
            .iter()
            .map(|&(base, bytes)| (base as usize, NonNull::from(bytes).cast::<u8>(), bytes.len()))
            .collect();
        BufferMapper { ranges, _owned: None, _buffers: PhantomData }
    }

    /// The parser's view of `buffers`, each `(physical address, bytes)`, which it keeps: a
    /// snapshot of a simulated machine's memory, for a handler that borrows nothing.
    pub fn owning(buffers: Vec<(u64, Box<[u8]>)>) -> BufferMapper<'static> {
        let (bases, owned): (Vec<u64>, Vec<Box<[u8]>>) = buffers.into_iter().unzip();
        let owned: alloc::rc::Rc<[Box<[u8]>]> = owned.into();
        // The boxes' bytes stay where they are while the `Rc` holds them.
        let ranges = bases
            .iter()
            .zip(owned.iter())
            .map(|(&base, bytes)| {
                (base as usize, NonNull::from(&**bytes).cast::<u8>(), bytes.len())
            })
            .collect();
        BufferMapper { ranges, _owned: Some(owned), _buffers: PhantomData }
    }

    /// The buffer holding `[phys, phys + size)`, and the offset of `phys` in it.
    fn locate(&self, phys: usize, size: usize) -> (NonNull<u8>, usize) {
        self.ranges
            .iter()
            .find(|&&(base, _, len)| {
                phys >= base && phys.checked_add(size).is_some_and(|e| e <= base + len)
            })
            .map(|&(base, start, _)| (start, phys - base))
            .unwrap_or_else(|| panic!("parser reached {phys:#x}+{size} outside the buffers"))
    }
}

// SAFETY: every mapping points into a buffer borrowed (shared, so unchanged) for 'a or owned
// by the mapper (never written, freed only with its last clone), at the offset of the
// physical address asked for, and refuses anything outside the buffers.
unsafe impl PhysicalMapper for BufferMapper<'_> {}

impl Handler for BufferMapper<'_> {
    unsafe fn map_physical_region<T>(&self, phys: usize, size: usize) -> RawPhysicalMapping<T> {
        let (start, offset) = self.locate(phys, size);
        // SAFETY: `offset + size` lies inside the buffer (checked by `locate`).
        let virt = unsafe { start.add(offset) }.cast::<T>();
        // SAFETY: the mapping describes exactly that part of a live, borrowed buffer.
        unsafe { RawPhysicalMapping::new(phys, virt, size, size) }
    }
    unsafe fn unmap_physical_region<T>(&self, _: RawPhysicalMapping<T>) {}
    fn read_u8(&self, address: usize) -> u8 {
        let (start, offset) = self.locate(address, 1);
        // SAFETY: inside a live, borrowed buffer (checked by `locate`).
        unsafe { start.add(offset).read() }
    }
    fn read_u16(&self, a: usize) -> u16 {
        u16::from_le_bytes([self.read_u8(a), self.read_u8(a + 1)])
    }
    fn read_u32(&self, a: usize) -> u32 {
        u32::from(self.read_u16(a)) | u32::from(self.read_u16(a + 2)) << 16
    }
    fn read_u64(&self, a: usize) -> u64 {
        u64::from(self.read_u32(a)) | u64::from(self.read_u32(a + 4)) << 32
    }
    // Unreachable like the firmware's handler's: table parsing needs nothing but memory.
    super::acpi_handler::tables_only!();
}
