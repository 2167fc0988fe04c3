//! Model-specific registers. Kept private to `arch`: callers get typed, safe operations
//! ([`super::LocalCpu`], [`super::LocalApic`]) instead of raw MSR numbers.

use x86_64::registers::model_specific::Msr;

/// IA32_APIC_BASE: the local APIC's base address, global enable and x2APIC mode.
pub(crate) const IA32_APIC_BASE: u32 = 0x1B;
/// MTRRcap: VCNT, fixed-range and WC support.
pub(crate) const IA32_MTRRCAP: u32 = 0xFE;
/// First variable-range pair; pair `n` is PHYSBASE `0x200 + 2n`, PHYSMASK `0x201 + 2n`.
pub(crate) const IA32_MTRR_PHYSBASE0: u32 = 0x200;
/// The fixed-range registers in the order of [`crate::arch::MtrrRegisters::fixed`].
pub(crate) const IA32_MTRR_FIXED: [u32; 11] =
    [0x250, 0x258, 0x259, 0x268, 0x269, 0x26A, 0x26B, 0x26C, 0x26D, 0x26E, 0x26F];
pub(crate) const IA32_MTRR_DEF_TYPE: u32 = 0x2FF;
/// x2APIC registers are MSRs from here, at the xAPIC MMIO offset divided by 16.
pub(crate) const X2APIC_BASE: u32 = 0x800;

/// # Safety
/// `msr` must exist on this CPU (or the read faults), and reading it must have no side
/// effect the caller has not accounted for.
pub(crate) unsafe fn read(msr: u32) -> u64 {
    // SAFETY: forwarded contract.
    unsafe { Msr::new(msr).read() }
}

/// # Safety
/// `msr` must exist and `value` must be valid for it; the caller answers for what the
/// write changes (caching, interrupt delivery, ...).
pub(crate) unsafe fn write(msr: u32, value: u64) {
    // SAFETY: forwarded contract.
    unsafe { Msr::new(msr).write(value) }
}
