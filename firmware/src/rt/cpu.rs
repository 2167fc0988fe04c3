//! The runtime descriptor tables: a GDT with a TSS (for the exception stack) and an IDT
//! whose 32 exception gates point at the stubs in [`super::exceptions`].
//!
//! The boot GDT in [`super::entry`] only exists to reach long mode; this one replaces it
//! with the same code and data selectors plus the TSS.

use core::mem::size_of;
use core::ptr::addr_of;

use x86_64::VirtAddr;
use x86_64::instructions::tables::{lgdt, lidt, load_tss};
use x86_64::registers::segmentation::SegmentSelector;
use x86_64::structures::DescriptorTablePointer;
use x86_64::structures::tss::TaskStateSegment;

use super::exceptions::exception_stub_table;

/// Selector of the 64-bit code segment, identical to the boot GDT's.
const KERNEL_CODE64: u16 = 0x18;
/// Selector of the TSS descriptor (it takes two GDT slots).
const TSS_SELECTOR: u16 = 0x20;
/// Interrupt stack table slot (1-based in the gate) that every exception uses.
const EXCEPTION_IST: u8 = 1;
/// The deepest use measured (the untouched zeroes left below it) is 1.3 KiB: the handler
/// formats one line (`fault=page-fault`, `stack-overflow`, `invalid-opcode`); this is more
/// than twice that.
const EXCEPTION_STACK_SIZE: usize = 3 * 1024;

#[repr(C, align(16))]
struct ExceptionStack([u8; EXCEPTION_STACK_SIZE]);

static mut EXCEPTION_STACK: ExceptionStack = ExceptionStack([0; EXCEPTION_STACK_SIZE]);
static mut TSS: TaskStateSegment = TaskStateSegment::new();
static mut GDT: [u64; 6] = [
    0,
    0x00CF_9A00_0000_FFFF, // 0x08: 32-bit code
    0x00CF_9200_0000_FFFF, // 0x10: data
    0x00AF_9A00_0000_FFFF, // 0x18: 64-bit code
    0,                     // 0x20: TSS, low half (filled in by `init`)
    0,                     // 0x28: TSS, high half
];

#[derive(Clone, Copy)]
#[repr(C)]
struct IdtGate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

impl IdtGate {
    const MISSING: Self = Self {
        offset_low: 0,
        selector: 0,
        ist: 0,
        type_attr: 0,
        offset_mid: 0,
        offset_high: 0,
        reserved: 0,
    };

    fn interrupt_gate(handler: u64) -> Self {
        Self {
            offset_low: handler as u16,
            selector: KERNEL_CODE64,
            ist: EXCEPTION_IST,
            // Present, DPL 0, 64-bit interrupt gate (IF stays clear in the handler).
            type_attr: 0x8E,
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

static mut IDT: [IdtGate; 32] = [IdtGate::MISSING; 32];

/// Encodes the 16-byte system-segment descriptor of a 64-bit available TSS.
fn tss_descriptor(base: u64, limit: u32) -> (u64, u64) {
    let mut low = u64::from(limit & 0xFFFF);
    low |= (base & 0xFF_FFFF) << 16;
    low |= 0x89 << 40; // present, type 9 (available 64-bit TSS)
    low |= u64::from((limit >> 16) & 0xF) << 48;
    low |= ((base >> 24) & 0xFF) << 56;
    (low, base >> 32)
}

/// Loads the runtime GDT, TSS and IDT. Called once, first thing after the entry code.
pub fn init() {
    // SAFETY: single-threaded, runs once before anything else touches these statics; the
    // tables are 'static so the CPU may keep pointing at them. The selectors written into the
    // gates and loaded below exist in the GDT being loaded.
    unsafe {
        let stack_top = addr_of!(EXCEPTION_STACK) as u64 + EXCEPTION_STACK_SIZE as u64;
        let tss = &mut *core::ptr::addr_of_mut!(TSS);
        tss.interrupt_stack_table[usize::from(EXCEPTION_IST - 1)] = VirtAddr::new(stack_top);

        let gdt = &mut *core::ptr::addr_of_mut!(GDT);
        let (low, high) =
            tss_descriptor(addr_of!(TSS) as u64, (size_of::<TaskStateSegment>() - 1) as u32);
        gdt[4] = low;
        gdt[5] = high;
        lgdt(&DescriptorTablePointer {
            limit: (size_of::<[u64; 6]>() - 1) as u16,
            base: VirtAddr::new(addr_of!(GDT) as u64),
        });
        load_tss(SegmentSelector(TSS_SELECTOR));

        let idt = &mut *core::ptr::addr_of_mut!(IDT);
        for (gate, &stub) in idt.iter_mut().zip(exception_stub_table.iter()) {
            *gate = IdtGate::interrupt_gate(stub);
        }
        lidt(&DescriptorTablePointer {
            limit: (size_of::<[IdtGate; 32]>() - 1) as u16,
            base: VirtAddr::new(addr_of!(IDT) as u64),
        });
    }
}
