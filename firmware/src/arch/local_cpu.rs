//! The registers of the CPU the code runs on: MTRRs, the APIC base MSR. Every CPU, BSP or
//! AP, reaches them through its own [`LocalCpu`].

use core::arch::asm;
use core::marker::PhantomData;

use x86_64::registers::control::{Cr0, Cr0Flags, Cr3};

use super::lapic::LocalApic;
use super::msr;

/// Variable-range pairs a [`MtrrRegisters`] image can hold. Real CPUs have 8 to 10, QEMU
/// and Xen 8; pairs beyond this (up to VCNT) are still written, as invalid.
pub(crate) const MAX_VARIABLE_MTRRS: usize = 16;

/// The raw contents of every MTRR, as written by [`LocalCpu::write_mtrrs`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MtrrRegisters {
    /// IA32_MTRR_DEF_TYPE.
    pub def_type: u64,
    /// The eleven fixed-range registers, or `None` when the CPU has none.
    pub fixed: Option<[u64; 11]>,
    /// (PHYSBASE, PHYSMASK) pairs; unused ones are (0, 0), i.e. invalid.
    pub variable: [(u64, u64); MAX_VARIABLE_MTRRS],
    /// VCNT: how many pairs exist and are written.
    pub variable_slots: u8,
}

/// IA32_APIC_BASE bits.
const APIC_GLOBAL_ENABLE: u64 = 1 << 11;
const APIC_X2APIC_MODE: u64 = 1 << 10;
const APIC_BASE_MASK: u64 = 0x000F_FFFF_FFFF_F000;

/// CPUID.1:EDX bits.
const CPUID1_EDX_MTRR: u32 = 1 << 12;

/// This CPU's MTRRs and local APIC. Not `Send`: the registers belong to the CPU that made it.
#[derive(Debug)]
pub(crate) struct LocalCpu {
    _not_send: PhantomData<*mut ()>,
}

impl LocalCpu {
    /// # Safety
    /// Firmware code on this CPU with interrupts off, and no other code changes this CPU's
    /// caching (CR0, MTRRs) or local APIC while the value lives; at most one per CPU.
    pub(super) unsafe fn new() -> Self {
        LocalCpu { _not_send: PhantomData }
    }

    /// MTRRcap, or `None` when CPUID says the CPU has no MTRRs.
    pub fn mtrr_capabilities(&self) -> Option<u64> {
        if super::cpuid(1, 0).edx & CPUID1_EDX_MTRR == 0 {
            return None;
        }
        // SAFETY: MTRRcap exists when CPUID reports MTRRs; reading it has no side effect.
        Some(unsafe { msr::read(msr::IA32_MTRRCAP) })
    }

    /// Programs every MTRR with the SDM's update sequence (Vol. 3A 11.11.7.2, minus the
    /// cross-CPU rendezvous, which only matters when CPUs already run with other MTRRs in
    /// parallel; here each CPU programs its own before doing anything else): caches off,
    /// flush, MTRRs off, write, MTRRs on, flush, caches on. The CPU must have MTRRs and
    /// `regs.variable_slots` must be its VCNT.
    pub fn write_mtrrs(&mut self, regs: &MtrrRegisters) {
        let cr0 = Cr0::read();
        // SAFETY: interrupts are off (constructor contract). CD=1/NW=0 is the no-fill cache
        // mode the SDM prescribes for changing memory types; wbinvd writes back dirty lines
        // cached under the old types; reloading CR3 flushes the TLB (the firmware uses no
        // global pages). The MSRs written exist on a CPU with MTRRs; while DEF_TYPE.E is 0
        // all memory is UC, which is always safe, just slow.
        unsafe {
            Cr0::write((cr0 | Cr0Flags::CACHE_DISABLE) - Cr0Flags::NOT_WRITE_THROUGH);
            asm!("wbinvd", options(nostack, preserves_flags));
            let (frame, flags) = Cr3::read();
            Cr3::write(frame, flags);
            msr::write(msr::IA32_MTRR_DEF_TYPE, 0);
            if let Some(fixed) = regs.fixed {
                for (&index, value) in msr::IA32_MTRR_FIXED.iter().zip(fixed) {
                    msr::write(index, value);
                }
            }
            for slot in 0..u32::from(regs.variable_slots) {
                let (base, mask) = regs.variable.get(slot as usize).copied().unwrap_or((0, 0));
                // Mask first: clearing its valid bit before moving the base means no
                // half-written pair is ever valid.
                msr::write(msr::IA32_MTRR_PHYSBASE0 + 2 * slot + 1, 0);
                msr::write(msr::IA32_MTRR_PHYSBASE0 + 2 * slot, base);
                msr::write(msr::IA32_MTRR_PHYSBASE0 + 2 * slot + 1, mask);
            }
            msr::write(msr::IA32_MTRR_DEF_TYPE, regs.def_type);
            asm!("wbinvd", options(nostack, preserves_flags));
            Cr3::write(frame, flags);
            Cr0::write(cr0 - Cr0Flags::CACHE_DISABLE - Cr0Flags::NOT_WRITE_THROUGH);
        }
    }

    /// Reads the MTRRs back in the shape `expected` has (same fixed-range presence, same
    /// number of pairs), for comparing with what was written.
    pub fn read_mtrrs(&self, expected: &MtrrRegisters) -> MtrrRegisters {
        // SAFETY: only registers that `write_mtrrs` wrote for this shape are read; MTRR reads
        // have no side effects.
        unsafe {
            let mut variable = [(0, 0); MAX_VARIABLE_MTRRS];
            for (slot, pair) in (0u32..).zip(variable.iter_mut()) {
                if slot < u32::from(expected.variable_slots) {
                    *pair = (
                        msr::read(msr::IA32_MTRR_PHYSBASE0 + 2 * slot),
                        msr::read(msr::IA32_MTRR_PHYSBASE0 + 2 * slot + 1),
                    );
                }
            }
            MtrrRegisters {
                def_type: msr::read(msr::IA32_MTRR_DEF_TYPE),
                fixed: expected.fixed.map(|_| msr::IA32_MTRR_FIXED.map(|index| msr::read(index))),
                variable,
                variable_slots: expected.variable_slots,
            }
        }
    }

    fn apic_base_msr(&self) -> u64 {
        // SAFETY: IA32_APIC_BASE exists on every CPU with a local APIC (all x86-64 CPUs).
        unsafe { msr::read(msr::IA32_APIC_BASE) }
    }

    /// Whether this CPU's local APIC runs in x2APIC mode.
    pub fn x2apic_mode(&self) -> bool {
        let base = self.apic_base_msr();
        base & APIC_GLOBAL_ENABLE != 0 && base & APIC_X2APIC_MODE != 0
    }

    /// Switches the local APIC to x2APIC mode (globally enabling it first if needed). The
    /// CPU must support it ([`Self::x2apic_supported`]).
    pub fn enable_x2apic(&mut self) {
        let base = self.apic_base_msr();
        if base & APIC_X2APIC_MODE != 0 {
            return;
        }
        // SAFETY: xAPIC -> x2APIC is a legal transition (EN then EN|EXTD); interrupts are off
        // and the firmware has no APIC state it relies on across the switch.
        unsafe {
            msr::write(msr::IA32_APIC_BASE, base | APIC_GLOBAL_ENABLE);
            msr::write(msr::IA32_APIC_BASE, base | APIC_GLOBAL_ENABLE | APIC_X2APIC_MODE);
        }
    }

    /// This CPU's local APIC, globally enabled (IA32_APIC_BASE.EN) if it was not, in the
    /// mode (xAPIC or x2APIC) the CPU is in.
    pub fn local_apic(&mut self) -> LocalApic<'_> {
        let mut base = self.apic_base_msr();
        if base & APIC_GLOBAL_ENABLE == 0 {
            base |= APIC_GLOBAL_ENABLE;
            // SAFETY: enabling a globally disabled APIC in xAPIC mode is always legal; it
            // comes up software-disabled (SVR bit 8 clear) and delivers nothing yet.
            unsafe { msr::write(msr::IA32_APIC_BASE, base) };
        }
        if base & APIC_X2APIC_MODE != 0 {
            LocalApic::x2apic(self)
        } else {
            // SAFETY: with EN set and EXTD clear the APIC's registers are at this page;
            // the identity map covers it (it lies below 4 GiB at 0xFEE00000 unless moved,
            // and is only used through this borrow of the CPU's `LocalCpu`).
            unsafe { LocalApic::xapic(self, base & APIC_BASE_MASK) }
        }
    }
}
