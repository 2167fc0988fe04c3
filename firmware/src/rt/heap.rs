//! The global heap: a fixed arena in bss managed by talc (maintained; linked_list_allocator
//! is in maintenance mode). Firmware allocations are small and short-lived (device lists,
//! table staging); guest-visible data (ACPI, SMBIOS, E820) is placed in reserved RAM instead.

use talc::TalcLock;
use talc::source::Claim;

const HEAP_SIZE: usize = 1024 * 1024;

static mut ARENA: [u8; HEAP_SIZE] = [0; HEAP_SIZE];

#[global_allocator]
static HEAP: TalcLock<spin::mutex::SpinMutex<()>, Claim> =
    // SAFETY: `ARENA` is used by nothing but this allocator, lives for the whole run and is
    // valid for reads and writes.
    TalcLock::new(unsafe { Claim::array(&raw mut ARENA) });

/// Size of the arena, for the boot summary.
pub const fn size() -> usize {
    HEAP_SIZE
}
