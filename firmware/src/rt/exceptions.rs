//! CPU exception entry: 32 assembly stubs that normalise the stack frame and call
//! [`exception_entry`], which reports the fault and stops the firmware with the failure code.
//!
//! Every exception is fatal in a firmware that never enables interrupts, so the stubs do not
//! return. They run on the TSS's first interrupt stack (see [`super::cpu`]) so that a stack
//! overflow into the guard page is reported instead of turning into a triple fault.

use core::arch::global_asm;

global_asm!(
    r#"
    .section .text.exceptions, "ax"
    .code64
    /* Vectors for which the CPU pushes no error code get a zero, so the frame is uniform. */
    .irp n, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31
exception_stub_\n:
    pushq $0
    pushq $\n
    jmp exception_common
    .endr
    .irp n, 8,10,11,12,13,14,17,21,29,30
exception_stub_\n:
    pushq $\n
    jmp exception_common
    .endr

exception_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi
    andq $-16, %rsp
    call exception_entry
    ud2

    .section .rodata.exception_stubs, "a"
    .balign 8
    .global exception_stub_table
exception_stub_table:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad exception_stub_\n
    .endr
    "#,
    options(att_syntax)
);

unsafe extern "C" {
    /// Addresses of the 32 stubs above, indexed by vector.
    pub static exception_stub_table: [u64; 32];
}

/// The stack as `exception_common` leaves it: general registers (last pushed first), the
/// vector and error code pushed by the stub, then the frame the CPU pushed.
#[repr(C)]
pub struct ExceptionFrame {
    r15: u64,
    r14: u64,
    r13: u64,
    r12: u64,
    r11: u64,
    r10: u64,
    r9: u64,
    r8: u64,
    rbp: u64,
    rdi: u64,
    rsi: u64,
    rdx: u64,
    rcx: u64,
    rbx: u64,
    rax: u64,
    vector: u64,
    error_code: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    ss: u64,
}

#[unsafe(no_mangle)]
extern "C" fn exception_entry(frame: &ExceptionFrame) -> ! {
    let cr2 = x86_64::registers::control::Cr2::read_raw();
    hvmloader::console::emergency(format_args!(
        "fatal: CPU exception {} (vector {}) error code {:#x} at rip {:#x} (cr2 {:#x}, rsp {:#x}, rflags {:#x}, rax {:#x} rbx {:#x} rcx {:#x} rdx {:#x} rsi {:#x} rdi {:#x} rbp {:#x})",
        hvmloader::arch::exception_name(frame.vector),
        frame.vector,
        frame.error_code,
        frame.rip,
        cr2,
        frame.rsp,
        frame.rflags,
        frame.rax,
        frame.rbx,
        frame.rcx,
        frame.rdx,
        frame.rsi,
        frame.rdi,
        frame.rbp,
    ));
    let _ = (frame.r8, frame.r9, frame.r10, frame.r11, frame.r12, frame.r13, frame.r14, frame.r15);
    let _ = (frame.cs, frame.ss);
    hvmloader::platform::fail_stop()
}
