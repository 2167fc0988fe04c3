//! The global heap: a fixed arena in bss managed by talc (maintained; linked_list_allocator
//! is in maintenance mode). Firmware allocations are small and short-lived (device and CPU
//! lists, the AP check-in records); guest-visible data (ACPI, SMBIOS, E820) is built in the
//! RAM where it stays, and what the platform passes in large (QEMU's SMBIOS structures,
//! Xen's pass-through blobs) is read in RAM, not here.
//!
//! Every allocation is counted ([`hvmloader::stats::HEAP`]): the firmware logs its
//! high-water mark, and the arena is sized from it (see [`HEAP_SIZE`]). Running out is a
//! fatal error with one line that says so, never a hang.

use core::alloc::{GlobalAlloc, Layout};

use hvmloader::stats::HEAP as HEAP_USE;
use talc::TalcLock;
use talc::source::Claim;

/// The arena. What a boot uses at most (the `heap:` line) is 6-12 KiB with 1 to 64 vCPUs,
/// on both machines, with NUMA nodes and expanders and 60 KiB of QEMU's own SMBIOS
/// structures, into Linux, SeaBIOS or stopping; 4-11 KiB under Xen; 15-16 KiB with 255
/// vCPUs, the most QEMU starts under TCG (the CPU lists and APIC entries grow with them);
/// 17 KiB with `selfcheck` (the acpi crate parses the tables) and 17 PCI functions. Nothing
/// large is held here: the runtime SSDT is written where it is installed, QEMU's
/// `etc/acpi/tables` is read a table at a time (its DSDT, large with many vCPUs, only when
/// there are expanders), QEMU's SMBIOS structures go to RAM carved for them and the table is
/// built where it stays, blobs passed through under Xen are read where they lie, a Linux
/// kernel's setup part is skipped but for its header, and OVMF is copied a page at a time.
/// 36 KiB is twice the most.
const HEAP_SIZE: usize = 36 * 1024;

static mut ARENA: [u8; HEAP_SIZE] = [0; HEAP_SIZE];

/// talc, with every byte counted.
struct CountingHeap(TalcLock<spin::mutex::SpinMutex<()>, Claim>);

#[global_allocator]
static HEAP: CountingHeap =
    // SAFETY: `ARENA` is used by nothing but this allocator, lives for the whole run and is
    // valid for reads and writes.
    CountingHeap(TalcLock::new(unsafe { Claim::array(&raw mut ARENA) }));

// SAFETY: every call is forwarded to talc with the caller's arguments; the counting only reads
// the layouts.
unsafe impl GlobalAlloc for CountingHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let ptr = unsafe { self.0.alloc(layout) };
        counted(ptr, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let ptr = unsafe { self.0.alloc_zeroed(layout) };
        counted(ptr, layout.size())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { self.0.dealloc(ptr, layout) };
        HEAP_USE.shrink(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded contract.
        let new = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            HEAP_USE.shrink(layout.size());
        }
        counted(new, new_size)
    }
}

/// Counts a successful allocation of `size` bytes; stops the firmware on a failed one with a
/// line naming the heap, rather than a generic panic.
fn counted(ptr: *mut u8, size: usize) -> *mut u8 {
    if ptr.is_null() {
        hvmloader::console::emergency(format_args!(
            "fatal: heap exhausted: {size} bytes asked for with {} of {} KiB in use",
            HEAP_USE.in_use(),
            HEAP_SIZE >> 10
        ));
        hvmloader::platform::fail_stop()
    }
    HEAP_USE.grow(size);
    ptr
}

/// Size of the arena, for the boot summary.
pub const fn size() -> usize {
    HEAP_SIZE
}
