//! The bare-metal runtime of the firmware binary: entry, descriptor tables, exception
//! stubs, the C memory primitives, the heap and the panic handler. This and
//! `hvmloader::arch` are the only places with `unsafe` code.

mod entry;
mod exceptions;
mod mem;
mod unpack;

pub mod cpu;
pub mod heap;

use hvmloader::addr::PhysRange;
use hvmloader::boot::ImageLayout;

unsafe extern "C" {
    // Bounds of the loaded image, from linker.ld (only their addresses are used).
    static __image_start: u8;
    static __image_end: u8;
}

/// The image's place in memory, for the checks that keep inputs from overlapping it.
pub fn image_layout() -> ImageLayout {
    ImageLayout {
        image: PhysRange {
            start: core::ptr::addr_of!(__image_start) as u64,
            end: core::ptr::addr_of!(__image_end) as u64,
        },
        heap_size: heap::size(),
        unpacked: unpack::report(),
    }
}
