//! The way back from long mode to real mode, to start a BIOS at its reset vector the way
//! Xen's hvmloader starts SeaBIOS.
//!
//! Leaving long mode must run from identity-mapped code (paging goes off under it), and the
//! last steps run as 16-bit code whose instruction pointer is 16 bits wide, so the code is
//! copied to [`TRAMPOLINE_BASE`], in the first 64 KiB, and runs from there:
//!
//! 1. 64-bit: load the trampoline's GDT, far-return into its 32-bit code segment
//!    (compatibility mode).
//! 2. 32-bit: flat data segments; clear CR0.PG (the CPU leaves long mode), then EFER.LME;
//!    clear CR4 and CR3; far jump to a 16-bit code segment with base 0 and a 64 KiB limit.
//! 3. 16-bit protected mode: load 16-bit data segments (their 64 KiB limits are what real
//!    mode expects to find cached), then clear CR0.PE (CR0 = ET only: caches on, no FPU
//!    emulation flags, write-protect off, as after reset).
//! 4. Real mode: segments 0, the real-mode IVT at 0 (limit 0x3FF), far jump to F000:FFF0.

use core::arch::{asm, global_asm};

/// Where the trampoline runs: below 64 KiB, above the BIOS info tables at 0x1000 (see
/// `handoff::seabios`) and clear of the real-mode IVT and BIOS data area in page 0.
pub(crate) const TRAMPOLINE_BASE: u64 = 0x2000;
/// The trampoline and its stack stay within this page.
pub(crate) const TRAMPOLINE_PAGE: u64 = 0x1000;

global_asm!(
    r#"
    .section .rodata.realmode_trampoline, "a"
    .balign 16
    .global realmode_trampoline_start
    .global realmode_trampoline_end
realmode_trampoline_start:
    .code64
    lgdt ({base} + rm_gdtr - realmode_trampoline_start)
    pushq $0x08
    pushq ${base} + rm_compat32 - realmode_trampoline_start
    lretq

    .code32
rm_compat32:
    movl $0x10, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
    /* Paging off: this page is identity-mapped, so execution continues in place. */
    movl %cr0, %eax
    andl $0x7FFFFFFF, %eax
    movl %eax, %cr0
    /* EFER.LME off: plain 32-bit protected mode now. */
    movl $0xC0000080, %ecx
    rdmsr
    andl $0xFFFFFEFF, %eax
    wrmsr
    xorl %eax, %eax
    movl %eax, %cr4
    movl %eax, %cr3
    ljmp $0x18, ${base} + rm_protected16 - realmode_trampoline_start

    .code16
rm_protected16:
    movw $0x20, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movl $0x10, %eax
    movl %eax, %cr0
    ljmp $0, ${base} + rm_real16 - realmode_trampoline_start

rm_real16:
    xorw %ax, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movw ${base} + {page}, %sp
    lidt ({base} + rm_idtr - realmode_trampoline_start)
    ljmp $0xF000, $0xFFF0

    .balign 8
rm_gdt:
    .quad 0
    .quad 0x00CF9B000000FFFF    /* 0x08: 32-bit code, flat */
    .quad 0x00CF93000000FFFF    /* 0x10: 32-bit data, flat */
    .quad 0x00009B000000FFFF    /* 0x18: 16-bit code, base 0, limit 64 KiB */
    .quad 0x000093000000FFFF    /* 0x20: 16-bit data, base 0, limit 64 KiB */
rm_gdt_end:
rm_gdtr:
    .word rm_gdt_end - rm_gdt - 1
    .quad {base} + rm_gdt - realmode_trampoline_start
rm_idtr:
    .word 0x3FF
    .long 0
realmode_trampoline_end:
    .code64
    .text
    "#,
    base = const TRAMPOLINE_BASE,
    page = const TRAMPOLINE_PAGE,
    options(att_syntax)
);

unsafe extern "C" {
    // Bounds of the trampoline above (only their addresses are used).
    static realmode_trampoline_start: u8;
    static realmode_trampoline_end: u8;
}

/// Size of the trampoline's code and tables.
pub(crate) fn trampoline_len() -> usize {
    core::ptr::addr_of!(realmode_trampoline_end) as usize
        - core::ptr::addr_of!(realmode_trampoline_start) as usize
}

/// Leaves long mode for real mode and jumps to the BIOS reset vector F000:FFF0, with
/// interrupts off.
///
/// # Safety
/// A BIOS image must be in place to end at 0x100000 (readable and writable there, as its
/// POST expects), [`TRAMPOLINE_BASE`]..+[`TRAMPOLINE_PAGE`] must be RAM nothing needs any
/// more, and the boot page tables must still identity-map it. Nothing of the firmware runs
/// afterwards.
pub(super) unsafe fn enter_bios_reset_vector() -> ! {
    x86_64::instructions::interrupts::disable();
    let len = trampoline_len();
    assert!(len as u64 <= TRAMPOLINE_PAGE - 0x100, "trampoline of {len} bytes leaves no stack");
    // SAFETY: the source is the trampoline in the image's rodata; the destination is the
    // identity-mapped page the caller gives up, which cannot overlap the image (it lies at
    // 1 MiB). Byte copy of plain data.
    unsafe {
        core::ptr::copy_nonoverlapping(
            core::ptr::addr_of!(realmode_trampoline_start),
            TRAMPOLINE_BASE as usize as *mut u8,
            len,
        );
    }
    // SAFETY: the trampoline was just copied to the address it was assembled for; it
    // never returns (see the module documentation for what it does).
    unsafe { asm!("jmp {target}", target = in(reg) TRAMPOLINE_BASE, options(noreturn)) }
}
