//! The CPU as the rest of the firmware sees it. The `unsafe` needed to touch hardware lives
//! here (and in the binary's runtime, and Xen's shared pages in [`crate::platform::xen`]);
//! everything else goes through these traits. Ports, memory, device registers and the
//! hand-off's jump come from the one [`Machine`] the runtime takes at entry, whose handles
//! own the ranges they reach ([`claims`]). The floor of the crate: it uses nothing of it
//! but the address types of [`crate::addr`].

mod acpi_handler;
mod ap_boot;
#[cfg(test)]
mod buffer_mapper;
mod claims;
mod handoff;
mod hypercall;
mod ioapic;
mod lapic;
mod local_cpu;
mod machine;
mod memory;
mod mmio;
mod msr;
mod paging;
mod pit;
mod port;
pub(crate) mod realmode;
mod tsc;

pub(crate) use acpi_handler::{IdentityAcpiHandler, PhysicalMapper, parse_acpi_tables};
pub(crate) use ap_boot::{AP_BOOT_PAGE, ApFault, ApTrampoline};
#[cfg(test)]
pub(crate) use buffer_mapper::BufferMapper;
pub(crate) use claims::ClaimError;
#[cfg(test)]
pub(crate) use claims::{ClaimId, ClaimSet};
pub(crate) use handoff::PhysMemoryMut;
pub(crate) use hypercall::HypercallPage;
pub(crate) use ioapic::{IOAPIC_BASE, IOAPIC_ID_MASK, IOAPIC_WINDOW, IoApic};
pub(crate) use lapic::{Destination, IcrStuck, Ipi, LocalApic};
pub(crate) use local_cpu::{LocalCpu, MAX_VARIABLE_MTRRS, MtrrRegisters};
pub use machine::Machine;
pub(crate) use machine::{DebugPort, Jump, LoadWindow, RamRegion, debug_exit};
pub(crate) use memory::{
    IdentityMapped, PhysMemory, PhysReadError, read_volatile, write_read_volatile,
};
pub(crate) use mmio::{Mmio, MmioRegion};
pub(crate) use pit::Pit;
pub(crate) use port::{HwPorts, PortIo};
pub(crate) use tsc::rdtsc;

/// Result of `CPUID` for one leaf/subleaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuidResult {
    pub eax: u32,
    pub ebx: u32,
    pub ecx: u32,
    pub edx: u32,
}

/// Executes `CPUID`.
pub(crate) fn cpuid(leaf: u32, subleaf: u32) -> CpuidResult {
    let r = core::arch::x86_64::__cpuid_count(leaf, subleaf);
    CpuidResult { eax: r.eax, ebx: r.ebx, ecx: r.ecx, edx: r.edx }
}

/// A deliberate failure (command line `fault=`), for testing the fatal paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeliberateFault {
    PageFault,
    InvalidOpcode,
    StackOverflow,
    Panic,
}

/// Fails on purpose, to prove the fatal paths report their cause.
pub(crate) fn provoke(fault: DeliberateFault) -> ! {
    match fault {
        DeliberateFault::PageFault => {
            // SAFETY: none needed for correctness: page 0 is unmapped, so this read faults
            // before it returns, which is the point.
            let value = unsafe { core::ptr::read_volatile(core::ptr::null::<u64>()) };
            panic!("reading address 0 returned {value:#x} instead of faulting")
        }
        DeliberateFault::InvalidOpcode => {
            // SAFETY: `ud2` raises #UD and never returns.
            unsafe { core::arch::asm!("ud2", options(noreturn)) }
        }
        DeliberateFault::StackOverflow => {
            #[allow(unconditional_recursion)] // the guard page ends it
            fn recurse(depth: u64) -> u64 {
                let frame = core::hint::black_box([depth; 64]);
                recurse(depth + 1) + frame[0]
            }
            panic!("recursion ended at {}", recurse(0))
        }
        DeliberateFault::Panic => panic!("deliberate panic (fault=panic)"),
    }
}

/// Stops this CPU for good: interrupts off, halt forever.
pub(crate) fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}

/// The architectural name of an exception vector, for fault reports.
pub fn exception_name(vector: u64) -> &'static str {
    match vector {
        0 => "#DE divide error",
        1 => "#DB debug",
        2 => "NMI",
        3 => "#BP breakpoint",
        4 => "#OF overflow",
        5 => "#BR bound range",
        6 => "#UD invalid opcode",
        7 => "#NM device not available",
        8 => "#DF double fault",
        10 => "#TS invalid TSS",
        11 => "#NP segment not present",
        12 => "#SS stack fault",
        13 => "#GP general protection",
        14 => "#PF page fault",
        16 => "#MF x87 floating point",
        17 => "#AC alignment check",
        18 => "#MC machine check",
        19 => "#XM SIMD floating point",
        20 => "#VE virtualization",
        21 => "#CP control protection",
        _ => "reserved",
    }
}
