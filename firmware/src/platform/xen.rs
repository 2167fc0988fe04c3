//! Finding Xen through its CPUID leaves.

use crate::arch::cpuid;

/// Where Xen's CPUID leaves are and what they say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XenCpuid {
    /// First leaf of Xen's range (0x40000000, or 0x40000100 when Viridian comes first).
    pub base: u32,
    pub version_major: u16,
    pub version_minor: u16,
}

const SIGNATURE: &[u8; 12] = b"XenVMMXenVMM";

impl XenCpuid {
    /// Scans the hypervisor leaves 0x40000000..0x4000FF00 in steps of 0x100.
    pub fn detect() -> Option<Self> {
        (0x4000_0000u32..0x4001_0000).step_by(0x100).find_map(|base| {
            let r = cpuid(base, 0);
            let mut sig = [0u8; 12];
            sig[0..4].copy_from_slice(&r.ebx.to_le_bytes());
            sig[4..8].copy_from_slice(&r.ecx.to_le_bytes());
            sig[8..12].copy_from_slice(&r.edx.to_le_bytes());
            // EAX is the highest leaf of the range; Xen has at least base+2 (hypercall page).
            (&sig == SIGNATURE && r.eax >= base + 2).then(|| {
                let version = cpuid(base + 1, 0).eax;
                XenCpuid {
                    base,
                    version_major: (version >> 16) as u16,
                    version_minor: version as u16,
                }
            })
        })
    }
}
