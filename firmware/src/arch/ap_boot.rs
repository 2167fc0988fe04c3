//! Where application processors start: a STARTUP IPI points a CPU at a 4 KiB page below
//! 1 MiB, in real mode. The code below is assembled for [`AP_BOOT_PAGE`] (every address in
//! it is `{base} + offset`, so it carries no relocations and links into host tests too),
//! kept in .rodata and copied to the page by [`ApTrampoline::install`].
//!
//! An AP started by a STARTUP IPI goes:
//!
//! 1. real mode: load the page's GDT, set CR0.PE, far jump to 32-bit code;
//! 2. 32-bit: flat segments; CR4 = PAE | OSFXSR | OSXMMEXCPT (SSE, as the BSP entry: the
//!    precompiled `core` uses it); CR3 = the BSP's page tables (the identity map of the low
//!    4 GiB); EFER.LME; CR0 = PG | WP | ET | MP | PE, which also clears the CD and NW bits
//!    that INIT left set; far jump to 64-bit code;
//! 3. 64-bit: load the page's IDT (every exception records itself in the page and parks
//!    the AP, so a firmware bug on an AP is reported by the BSP instead of resetting the
//!    machine with a triple fault); take the single AP stack under a spinlock; call the
//!    registered handler; release the stack; `cli; hlt` forever.
//!
//! A hypervisor can also start a vCPU directly in flat 32-bit protected mode (Xen's
//! VCPUOP_initialise): [`ApTrampoline::flat32_entry`] loads the page's GDT, far jumps into
//! step 2 and goes on from there, so both ways end in the same code.
//!
//! APs run one at a time on one stack: their work is a few MSR writes, so parallelism would
//! buy nothing and per-AP stacks would cost memory proportional to the vCPU count. After they
//! check in, the BSP sends INIT, which puts them in wait-for-SIPI: from then on they touch
//! no memory at all, and neither this page nor the stack needs to stay reserved.

use core::arch::global_asm;
use core::ptr::{addr_of, addr_of_mut, read_volatile, write_volatile};

use x86_64::registers::control::Cr3;

use super::local_cpu::LocalCpu;

/// The start-up page. Below the EBDA and Xen's hvm_info_table (0x9F800), above the real-mode
/// IVT/BDA and the area loaders use for the start info, memory map and command line
/// (QEMU's PVH loader puts them between 0x1000 and 0x7000), and clear of the hand-off
/// trampoline at 0x2000. It is used only while CPUs are brought up; the caller checks it
/// against the boot information before claiming it.
pub(crate) const AP_BOOT_PAGE: u64 = 0x8000;

// Offsets in the page, fixed by `.org` in the assembly below.
const PARAM_CR3: u64 = 0x08;
const PARAM_STACK_TOP: u64 = 0x10;
const PARAM_ENTRY: u64 = 0x18;
const PARAM_LOCK: u64 = 0x20;
const PARAM_FAULT_VECTOR: u64 = 0x28;
const PARAM_FAULT_RIP: u64 = 0x30;
const FLAT32_ENTRY: u64 = 0x40;
const FAULT_STUBS: u64 = 0x200;
const FAULT_STUB_SIZE: u64 = 16;
const IDT: u64 = 0x400;
const IDT_ENTRIES: u64 = 32;
const CODE_SIZE: u64 = 0x600;
/// The 64-bit code selector of the page's GDT.
const CODE64_SELECTOR: u16 = 0x18;
/// `PARAM_FAULT_VECTOR` while no AP has faulted.
const NO_FAULT: u64 = u64::MAX;

global_asm!(
    r#"
    .section .rodata.ap_boot, "a"
    .balign 16
    .global hvmrs_ap_boot_start
    .global hvmrs_ap_boot_end
hvmrs_ap_boot_start:
    .code16
    jmp ap_real_mode

    .org hvmrs_ap_boot_start + 0x08
    .quad 0                     /* 0x08 CR3 */
    .quad 0                     /* 0x10 stack top */
    .quad 0                     /* 0x18 64-bit entry point */
    .quad 0                     /* 0x20 stack lock */
    .quad 0                     /* 0x28 fault vector */
    .quad 0                     /* 0x30 fault RIP */

    .org hvmrs_ap_boot_start + {flat32_entry}
    .code32
    /* Entered in flat 32-bit protected mode: segment bases 0 and limits 4 GiB, but no
       GDT this code knows; take ours before any selector is loaded. */
    cli
    cld
    lgdtl {base} + ap_gdtr - hvmrs_ap_boot_start
    ljmpl $0x08, ${base} + ap_protected - hvmrs_ap_boot_start

    .balign 8
ap_gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF    /* 0x08: 32-bit code, flat */
    .quad 0x00CF92000000FFFF    /* 0x10: data, flat */
    .quad 0x00AF9A000000FFFF    /* 0x18: 64-bit code */
ap_gdt_end:
    .balign 8
ap_gdtr:
    .word ap_gdt_end - ap_gdt - 1
    .long {base} + ap_gdt - hvmrs_ap_boot_start
    .balign 8
ap_idtr:
    .word {idt_entries} * 16 - 1
    .quad {base} + {idt}

    .code16
ap_real_mode:
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    lgdtl ap_gdtr - hvmrs_ap_boot_start
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $0x08, ${base} + ap_protected - hvmrs_ap_boot_start

    .code32
ap_protected:
    movl $0x10, %eax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl $((1 << 5) | (1 << 9) | (1 << 10)), %eax
    movl %eax, %cr4
    movl {base} + {cr3}, %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx
    rdmsr
    orl $(1 << 8), %eax
    wrmsr
    movl $((1 << 31) | (1 << 16) | (1 << 4) | (1 << 1) | 1), %eax
    movl %eax, %cr0
    ljmp $0x18, ${base} + ap_long - hvmrs_ap_boot_start

    .code64
ap_long:
    movl $0x10, %eax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    lidt {base} + ap_idtr - hvmrs_ap_boot_start
1:
    lock btsq $0, {base} + {lock}
    jnc 2f
    pause
    jmp 1b
2:
    movq {base} + {stack_top}, %rsp
    callq *({base} + {entry})
    /* Off the stack: let the next AP have it. */
    movq $0, {base} + {lock}
ap_park:
    cli
    hlt
    jmp ap_park

ap_fault:
    popq %rax
    movq %rax, {base} + {fault_vector}
    /* Past the error code: the RIP the CPU pushed. */
    movq 8(%rsp), %rax
    movq %rax, {base} + {fault_rip}
    jmp ap_park

    .org hvmrs_ap_boot_start + {fault_stubs}
ap_fault_stubs:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .org ap_fault_stubs + \n * {fault_stub_size}
    /* Vectors without an error code get a zero, so the frame is uniform. */
    .if (\n != 8) && (\n < 10 || \n > 14) && (\n != 17) && (\n != 21) && (\n != 29) && (\n != 30)
    pushq $0
    .endif
    pushq $\n
    jmp ap_fault
    .endr

    .org hvmrs_ap_boot_start + {idt}
    .skip {idt_entries} * 16
hvmrs_ap_boot_end:
    .text
    "#,
    base = const AP_BOOT_PAGE,
    cr3 = const PARAM_CR3,
    stack_top = const PARAM_STACK_TOP,
    entry = const PARAM_ENTRY,
    lock = const PARAM_LOCK,
    fault_vector = const PARAM_FAULT_VECTOR,
    fault_rip = const PARAM_FAULT_RIP,
    flat32_entry = const FLAT32_ENTRY,
    fault_stubs = const FAULT_STUBS,
    fault_stub_size = const FAULT_STUB_SIZE,
    idt = const IDT,
    idt_entries = const IDT_ENTRIES,
    options(att_syntax)
);

unsafe extern "C" {
    static hvmrs_ap_boot_start: u8;
    static hvmrs_ap_boot_end: u8;
}

/// The deepest use measured (the untouched zeroes left below it) is 1.5 KiB, with 8 vCPUs
/// on pc and q35: an AP checks its MTRRs and reports; a fault goes to the exception stack.
/// This is twice that.
const AP_STACK_SIZE: usize = 3 * 1024;

#[repr(C, align(16))]
struct ApStack([u8; AP_STACK_SIZE]);

/// The one stack APs take turns on (the start-up code's lock serialises them).
static mut AP_STACK: ApStack = ApStack([0; AP_STACK_SIZE]);

/// What each AP runs, set by [`ApTrampoline::install`].
static AP_HANDLER: spin::Mutex<Option<fn(LocalCpu)>> = spin::Mutex::new(None);

/// Called by the start-up code on the AP stack, with the stack lock held.
extern "C" fn ap_rust_entry() {
    let handler = AP_HANDLER.lock().expect("the AP handler is installed before any STARTUP IPI");
    // SAFETY: this is an AP fresh out of the start-up code: interrupts off, nothing else
    // runs on this CPU, and this is the only `LocalCpu` it will ever make.
    handler(unsafe { LocalCpu::new() });
}

/// An exception an AP took, as recorded in the start-up page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ApFault {
    pub vector: u8,
    pub rip: u64,
}

/// The start-up page, claimed while APs are brought up.
#[derive(Debug)]
pub(crate) struct ApTrampoline(());

impl ApTrampoline {
    /// # Safety
    /// [`AP_BOOT_PAGE`] must be identity-mapped RAM that nothing else uses until every AP
    /// started from it has been sent INIT again; the entry code's page tables must still be
    /// current (APs load the BSP's CR3).
    pub(super) unsafe fn new() -> Self {
        ApTrampoline(())
    }

    fn page_ptr(&self, offset: u64) -> *mut u8 {
        (AP_BOOT_PAGE + offset) as usize as *mut u8
    }

    fn write_u64(&mut self, offset: u64, value: u64) {
        // SAFETY: in the claimed page (every offset used is below CODE_SIZE <= 4 KiB), 8-byte
        // aligned; volatile because APs, not Rust, read it.
        unsafe { write_volatile(self.page_ptr(offset).cast::<u64>(), value) }
    }

    fn read_u64(&self, offset: u64) -> u64 {
        // SAFETY: as in `write_u64`; APs write the fault record concurrently, hence volatile.
        unsafe { read_volatile(self.page_ptr(offset).cast::<u64>()) }
    }

    /// Copies the start-up code into the page and sets it up so that every AP started from
    /// it runs `handler` (one at a time) and then parks.
    pub fn install(&mut self, handler: fn(LocalCpu)) {
        *AP_HANDLER.lock() = Some(handler);
        // SAFETY: the symbols delimit the assembled block above, in .rodata.
        let code = unsafe {
            let start = addr_of!(hvmrs_ap_boot_start);
            let len = addr_of!(hvmrs_ap_boot_end) as usize - start as usize;
            core::slice::from_raw_parts(start, len)
        };
        assert_eq!(code.len() as u64, CODE_SIZE, "AP start-up code layout changed");
        for (i, &byte) in code.iter().enumerate() {
            // SAFETY: within the claimed page (CODE_SIZE < 4 KiB).
            unsafe { write_volatile(self.page_ptr(i as u64), byte) };
        }
        let (frame, _) = Cr3::read();
        let stack_top = addr_of_mut!(AP_STACK) as u64 + AP_STACK_SIZE as u64;
        self.write_u64(PARAM_CR3, frame.start_address().as_u64());
        self.write_u64(PARAM_STACK_TOP, stack_top);
        self.write_u64(PARAM_ENTRY, ap_rust_entry as extern "C" fn() as usize as u64);
        self.write_u64(PARAM_LOCK, 0);
        self.write_u64(PARAM_FAULT_VECTOR, NO_FAULT);
        self.write_u64(PARAM_FAULT_RIP, 0);
        for vector in 0..IDT_ENTRIES {
            let handler = AP_BOOT_PAGE + FAULT_STUBS + vector * FAULT_STUB_SIZE;
            let (low, high) = interrupt_gate(handler);
            self.write_u64(IDT + vector * 16, low);
            self.write_u64(IDT + vector * 16 + 8, high);
        }
        assert!(
            stack_top <= 1 << 32 && frame.start_address().as_u64() < 1 << 32,
            "APs load CR3 in 32-bit mode: page tables and stack must be below 4 GiB"
        );
    }

    /// The STARTUP IPI vector: the page number.
    pub fn startup_vector(&self) -> u8 {
        (AP_BOOT_PAGE >> 12) as u8
    }

    /// Where a vCPU started in flat 32-bit protected mode (CS/DS/ES/SS base 0, limit
    /// 4 GiB, paging and interrupts off) enters the start-up code.
    pub fn flat32_entry(&self) -> u32 {
        (AP_BOOT_PAGE + FLAT32_ENTRY) as u32
    }

    /// An AP is on the AP stack (or has faulted while on it).
    pub fn stack_busy(&self) -> bool {
        self.read_u64(PARAM_LOCK) != 0
    }

    /// An exception an AP took, if any did (with several, the last one recorded).
    pub fn fault(&self) -> Option<ApFault> {
        let vector = self.read_u64(PARAM_FAULT_VECTOR);
        (vector != NO_FAULT)
            .then(|| ApFault { vector: vector as u8, rip: self.read_u64(PARAM_FAULT_RIP) })
    }
}

/// A 64-bit interrupt gate (present, DPL 0, no IST: faults run on the AP stack) for the
/// page's 64-bit code segment, as two quadwords.
fn interrupt_gate(handler: u64) -> (u64, u64) {
    let low = (handler & 0xFFFF)
        | (u64::from(CODE64_SELECTOR) << 16)
        | (0x8E << 40)
        | (((handler >> 16) & 0xFFFF) << 48);
    (low, handler >> 32)
}
