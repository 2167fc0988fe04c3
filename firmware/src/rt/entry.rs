//! The 32-bit entry point shared by Xen's hvmloader loader and QEMU's PVH loader.
//!
//! Both start us in flat 32-bit protected mode with paging off, interrupts off, EBX holding
//! the physical address of `struct hvm_start_info`, and nothing else we may rely on: no
//! stack, no usable GDT or IDT, bss not necessarily zeroed. This code gives itself a GDT and
//! a stack, identity-maps the first 4 GiB, enables SSE (the precompiled `core` uses it) and
//! enters long mode; then it unpacks the rest of the image ([`super::unpack`]), zeroes bss
//! and calls [`crate::firmware_main`] with the start info address. Everything else happens
//! in Rust. Until the unpacking is done only the boot part of the image (linker.ld) exists.
//!
//! Page tables: the first 2 MiB use 4 KiB pages so that page 0 (null pointers) and the page
//! under the boot stack (overflow) are not mapped and fault instead of corrupting memory;
//! the rest of the first 4 GiB uses 2 MiB pages. Memory above 4 GiB is mapped on demand by
//! `hvmloader::arch::paging`.

use core::arch::global_asm;

// Selectors of the boot GDT below; `hvmloader::arch::gdt` owns the runtime GDT and uses the
// same layout for its first entries.
global_asm!(
    r#"
    .section .note.Xen, "a", @note
    .balign 4
    .long 4                     /* name size: "Xen\0" */
    .long 8                     /* descriptor size: QEMU reads 8 bytes for ELF64 */
    .long 18                    /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .quad hvm_entry32
    .balign 4

    .section .text.entry, "ax"
    .code32
    .global hvm_entry32
hvm_entry32:
    cli
    cld
    /* EBX (start info) stays untouched until the call into Rust (`unpack_image` keeps it,
     * RBX being callee-saved). */
    lgdt boot_gdt_descriptor
    ljmp $0x08, $1f
1:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movl $__boot_stack_top, %esp

    /* Zero the boot stack and page tables: the loaders zero them, but nothing in the ABI
     * promises it. */
    movl $__boot_bss_start, %edi
    movl $__boot_bss_end, %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb

    /* PML4[0] -> PDPT; PDPT[0..4] -> the four page directories. */
    movl $boot_pdpt, %eax
    orl $0x3, %eax
    movl %eax, boot_pml4
    movl $boot_pd, %eax
    orl $0x3, %eax
    movl $boot_pdpt, %edi
    movl $4, %ecx
2:
    movl %eax, (%edi)
    addl $0x1000, %eax
    addl $8, %edi
    loop 2b

    /* 2048 page-directory entries of 2 MiB: present, writable, page size. */
    movl $boot_pd, %edi
    movl $0x83, %eax
    xorl %edx, %edx
    movl $2048, %ecx
3:
    movl %eax, (%edi)
    movl %edx, 4(%edi)
    addl $0x200000, %eax
    adcl $0, %edx
    addl $8, %edi
    loop 3b

    /* The first 2 MiB through 4 KiB pages, leaving out page 0 and the stack guard page. */
    movl $boot_pt_low, %edi
    movl $0x3, %eax
    movl $512, %ecx
4:
    movl %eax, (%edi)
    addl $0x1000, %eax
    addl $8, %edi
    loop 4b
    movl $0, boot_pt_low
    movl $__boot_stack_guard, %eax
    shrl $12, %eax
    movl $0, boot_pt_low(,%eax,8)
    movl $boot_pt_low, %eax
    orl $0x3, %eax
    movl %eax, boot_pd

    /* CR4: PAE, OSFXSR, OSXMMEXCPT. */
    movl %cr4, %eax
    orl $((1 << 5) | (1 << 9) | (1 << 10)), %eax
    movl %eax, %cr4
    movl $boot_pml4, %eax
    movl %eax, %cr3
    /* EFER.LME */
    movl $0xC0000080, %ecx
    rdmsr
    orl $(1 << 8), %eax
    wrmsr
    /* CR0: paging, write protect, monitor coprocessor; no FPU emulation, no task switched. */
    movl %cr0, %eax
    orl $((1 << 31) | (1 << 16) | (1 << 1)), %eax
    andl $~((1 << 2) | (1 << 3)), %eax
    movl %eax, %cr0
    ljmp $0x18, $5f

    .code64
5:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    movl $__boot_stack_top, %esp
    call unpack_image
    /* bss only now: the packed payload may reach into it. */
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb
    movl %ebx, %edi
    call firmware_main
6:
    hlt
    jmp 6b

    .section .data.boot.gdt, "aw"
    .balign 16
boot_gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF    /* 0x08: 32-bit code, flat */
    .quad 0x00CF92000000FFFF    /* 0x10: data, flat */
    .quad 0x00AF9A000000FFFF    /* 0x18: 64-bit code */
boot_gdt_end:
boot_gdt_descriptor:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt

    .section .bss.boot_page_tables, "aw", @nobits
    .balign 4096
    .global boot_pml4
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4096 * 4
boot_pt_low:
    .skip 4096
    "#,
    options(att_syntax)
);
