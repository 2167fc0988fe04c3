//! What the firmware runs on, and how it stops.
//!
//! Two platforms share every other room: Xen (the product's home, where this image replaces
//! hvmloader) and plain QEMU started with `-kernel` (CI and demos). They differ in where
//! machine facts come from and in how the firmware ends.

pub(crate) mod fw_cfg;
pub(crate) mod xen;

use core::fmt;

use crate::arch::halt_forever;

/// The hypervisor under us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Platform {
    /// Xen, found through its CPUID leaves.
    Xen(xen::XenCpuid),
    /// No Xen: QEMU (or another PVH loader) started us.
    Qemu,
}

impl Platform {
    pub fn detect() -> Self {
        match xen::XenCpuid::detect() {
            Some(leaves) => Platform::Xen(leaves),
            None => Platform::Qemu,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Platform::Xen(x) => write!(f, "Xen {}.{}", x.version_major, x.version_minor),
            Platform::Qemu => f.write_str("QEMU"),
        }
    }
}

/// Written on a normal end with nothing to hand off to: QEMU exits with status 33.
pub(crate) const EXIT_SUCCESS: u8 = 0x10;
/// Written on any fatal error: QEMU exits with status 35.
pub(crate) const EXIT_FAILURE: u8 = 0x11;

fn stop(code: u8) -> ! {
    // Under Xen (once the hypercall page is in): end the domain the way the toolstack
    // understands; returns if there is no page yet or Xen refused.
    xen::shutdown(if code == EXIT_SUCCESS {
        xen::ShutdownReason::Poweroff
    } else {
        xen::ShutdownReason::Crash
    });
    crate::arch::debug_exit(code);
    halt_forever()
}

/// Normal end when there is nothing to hand off to.
pub(crate) fn success_stop() -> ! {
    stop(EXIT_SUCCESS)
}

/// End after a fatal error has been reported.
pub fn fail_stop() -> ! {
    stop(EXIT_FAILURE)
}
