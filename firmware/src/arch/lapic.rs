//! The local APIC of the current CPU, in xAPIC (MMIO page) or x2APIC (MSR) mode, with what
//! the firmware needs: its ID, inter-processor interrupts, and the virtual-wire setup.

use core::fmt;
use core::marker::PhantomData;

use super::local_cpu::LocalCpu;
use super::machine::Held;
use super::mmio::{Mmio, MmioRegion};
use super::msr;
use crate::addr::PhysRange;

/// Register offsets in the xAPIC page; the x2APIC MSR is `0x800 + offset / 16`.
const VERSION: u64 = 0x30;
const TPR: u64 = 0x80;
const SVR: u64 = 0xF0;
const ESR: u64 = 0x280;
const ICR_LOW: u64 = 0x300;
const ICR_HIGH: u64 = 0x310;
const LVT_TIMER: u64 = 0x320;
const LVT_THERMAL: u64 = 0x330;
const LVT_PERF: u64 = 0x340;
const LVT_LINT0: u64 = 0x350;
const LVT_LINT1: u64 = 0x360;
const LVT_ERROR: u64 = 0x370;

const SVR_APIC_ENABLE: u32 = 1 << 8;
const LVT_MASKED: u32 = 1 << 16;
const DELIVERY_NMI: u32 = 0b100 << 8;
const DELIVERY_INIT: u32 = 0b101 << 8;
const DELIVERY_STARTUP: u32 = 0b110 << 8;
const DELIVERY_EXTINT: u32 = 0b111 << 8;
const ICR_DELIVERY_PENDING: u32 = 1 << 12;
const ICR_LEVEL_ASSERT: u32 = 1 << 14;
const ICR_ALL_EXCLUDING_SELF: u32 = 0b11 << 18;

/// How long to wait for the xAPIC's ICR to accept an IPI, in polls. Hardware and emulators
/// take well under a microsecond per poll; this bound only turns a dead APIC into an error.
const ICR_POLLS: u32 = 1_000_000;

/// An inter-processor interrupt the firmware sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ipi {
    /// INIT (level assert): the target resets into wait-for-SIPI.
    Init,
    /// STARTUP with the vector = page number of the real-mode entry (below 1 MiB).
    Startup(u8),
}

/// Who receives an IPI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Destination {
    /// Every CPU but the sender, whatever their APIC IDs: how CPUs with unknown IDs start
    /// (the only way the firmware addresses IPIs).
    AllButSelf,
}

/// The xAPIC never took an IPI off the ICR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IcrStuck {
    pub ipi: Ipi,
}

impl fmt::Display for IcrStuck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the local APIC did not deliver the {:?} IPI", self.ipi)
    }
}

#[derive(Debug)]
enum Access {
    Xapic(MmioRegion<'static>),
    X2apic,
}

/// The local APIC of the CPU that owns the borrowed [`LocalCpu`].
#[derive(Debug)]
pub(crate) struct LocalApic<'cpu> {
    access: Access,
    _cpu: PhantomData<&'cpu mut LocalCpu>,
}

impl<'cpu> LocalApic<'cpu> {
    /// # Safety
    /// The APIC is globally enabled in xAPIC mode with its registers at `base`.
    pub(super) unsafe fn xapic(_cpu: &'cpu mut LocalCpu, base: u64) -> Self {
        assert!(base < 1 << 32, "local APIC at {base:#x} is outside the identity map");
        // The caller vouches for the register page; 0x400 bytes cover every register used
        // here; the page is identity-mapped (checked above) and only reached through this
        // value, which borrows the CPU's `LocalCpu`.
        let regs = MmioRegion::new(Held::vouched(PhysRange { start: base, end: base + 0x400 }));
        LocalApic { access: Access::Xapic(regs), _cpu: PhantomData }
    }

    pub(super) fn x2apic(_cpu: &'cpu mut LocalCpu) -> Self {
        LocalApic { access: Access::X2apic, _cpu: PhantomData }
    }

    fn read(&self, offset: u64) -> u32 {
        match &self.access {
            Access::Xapic(regs) => regs.read32(offset),
            // SAFETY: the APIC is in x2APIC mode and every offset used in this file has an
            // x2APIC MSR (ICR_HIGH is never read); reads have no side effects.
            Access::X2apic => unsafe { msr::read(msr::X2APIC_BASE + (offset >> 4) as u32) as u32 },
        }
    }

    fn write(&mut self, offset: u64, value: u32) {
        match &mut self.access {
            Access::Xapic(regs) => regs.write32(offset, value),
            // SAFETY: as in `read`; the values written are valid register contents.
            Access::X2apic => unsafe {
                msr::write(msr::X2APIC_BASE + (offset >> 4) as u32, u64::from(value))
            },
        }
    }

    /// Index of the last LVT entry (Version register bits 23:16).
    fn max_lvt(&self) -> u32 {
        (self.read(VERSION) >> 16) & 0xFF
    }

    /// Sends `ipi` and, in xAPIC mode, waits until the APIC has taken it off the ICR
    /// (x2APIC has no delivery status: the write itself is the hand-over).
    pub fn send(&mut self, ipi: Ipi, to: Destination) -> Result<(), IcrStuck> {
        let (mut low, dest) = match to {
            Destination::AllButSelf => (ICR_ALL_EXCLUDING_SELF, 0u32),
        };
        low |= match ipi {
            Ipi::Init => DELIVERY_INIT | ICR_LEVEL_ASSERT,
            Ipi::Startup(vector) => DELIVERY_STARTUP | ICR_LEVEL_ASSERT | u32::from(vector),
        };
        match &mut self.access {
            Access::Xapic(regs) => {
                regs.write32(ICR_HIGH, dest << 24);
                regs.write32(ICR_LOW, low);
                for _ in 0..ICR_POLLS {
                    if regs.read32(ICR_LOW) & ICR_DELIVERY_PENDING == 0 {
                        return Ok(());
                    }
                    core::hint::spin_loop();
                }
                Err(IcrStuck { ipi })
            }
            Access::X2apic => {
                // SAFETY: x2APIC mode; the ICR MSR (0x830) takes destination and command in
                // one 64-bit write.
                unsafe {
                    msr::write(
                        msr::X2APIC_BASE + (ICR_LOW >> 4) as u32,
                        (u64::from(dest) << 32) | u64::from(low),
                    )
                };
                Ok(())
            }
        }
    }

    /// Puts the APIC in the virtual-wire mode the MP specification and OSes expect of the
    /// BSP at hand-off: software-enabled with `spurious_vector`, TPR 0, LINT0 as ExtINT (the
    /// 8259 PIC's interrupts pass through), LINT1 as NMI, every other LVT entry masked, ESR
    /// cleared.
    pub fn set_virtual_wire(&mut self, spurious_vector: u8) {
        self.write(SVR, SVR_APIC_ENABLE | u32::from(spurious_vector));
        self.write(TPR, 0);
        self.mask_internal_lvts();
        self.write(LVT_LINT0, DELIVERY_EXTINT);
        self.write(LVT_LINT1, DELIVERY_NMI);
        self.clear_errors();
    }

    /// The LVT entries of the APIC's own sources (timer, thermal, perf counters, errors).
    fn mask_internal_lvts(&mut self) {
        let max_lvt = self.max_lvt();
        self.write(LVT_TIMER, LVT_MASKED);
        // Thermal and perf entries exist only when the Version register counts them.
        if max_lvt >= 4 {
            self.write(LVT_PERF, LVT_MASKED);
        }
        if max_lvt >= 5 {
            self.write(LVT_THERMAL, LVT_MASKED);
        }
        self.write(LVT_ERROR, LVT_MASKED);
    }

    /// The ESR latches on a write; two writes clear it (the first may latch old errors).
    fn clear_errors(&mut self) {
        self.write(ESR, 0);
        self.write(ESR, 0);
    }
}
