//! The page tables the entry code built (see the binary's `rt/entry.rs`): identity map of
//! the first 4 GiB, 4 KiB pages in the first 2 MiB with page 0 left out to catch null
//! pointers.
//!
//! Loaders do put data in page 0 (QEMU's PVH start info and memory map live at a few hundred
//! bytes), so [`with_page_zero`] maps it for the duration of one access.

use x86_64::registers::control::Cr3;

const PRESENT_WRITABLE: u64 = 0x3;
const PAGE_SIZE_BIT: u64 = 1 << 7;
const ADDRESS_MASK: u64 = 0x000F_FFFF_FFFF_F000;

/// The page-table entry mapping page 0, found by walking from CR3.
fn page_zero_entry() -> *mut u64 {
    let (pml4, _) = Cr3::read();
    let mut table = pml4.start_address().as_u64();
    // PML4[0] -> PDPT[0] -> PD[0] -> PT[0]; the tables themselves are identity-mapped.
    for _level in 0..3 {
        // SAFETY: `table` is a live page table of the identity-mapped boot tables (entry
        // zero of each level is present: the entry code built it so).
        let entry = unsafe { core::ptr::read_volatile(table as *const u64) };
        assert!(entry & 1 != 0 && entry & PAGE_SIZE_BIT == 0, "boot page tables changed");
        table = entry & ADDRESS_MASK;
    }
    table as *mut u64
}

/// Runs `f` with page 0 mapped, and unmaps it again.
pub(crate) fn with_page_zero<R>(f: impl FnOnce() -> R) -> R {
    let entry = page_zero_entry();
    // SAFETY: `entry` is page 0's PTE; mapping it identity (present, writable) exposes
    // physical page 0 at address 0 and nothing else. The TLB entry is flushed both ways.
    unsafe {
        core::ptr::write_volatile(entry, PRESENT_WRITABLE);
        x86_64::instructions::tlb::flush(x86_64::VirtAddr::new(0));
    }
    let result = f();
    // SAFETY: as above, back to not present.
    unsafe {
        core::ptr::write_volatile(entry, 0);
        x86_64::instructions::tlb::flush(x86_64::VirtAddr::new(0));
    }
    result
}
