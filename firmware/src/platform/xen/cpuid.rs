//! Finding Xen through its CPUID leaves, and where its hypercall page MSR is.

use crate::arch::{CpuidResult, cpuid};
use alloc::boxed::Box;

/// Where Xen's CPUID leaves are and what they say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct XenCpuid {
    /// First leaf of Xen's range (0x40000000, or 0x40000100 when Viridian comes first).
    pub base: u32,
    pub version_major: u16,
    pub version_minor: u16,
}

const SIGNATURE: &[u8; 12] = b"XenVMMXenVMM";

/// Leaf `base + 2`: EAX = number of hypercall pages, EBX = the MSR that installs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HypercallLeaf {
    pub pages: u32,
    pub msr: u32,
}

impl XenCpuid {
    /// Scans the hypervisor leaves 0x40000000..0x4000FF00 in steps of 0x100.
    pub fn detect() -> Option<Self> {
        Self::detect_with(|leaf| cpuid(leaf, 0))
    }

    /// [`Self::detect`] over any CPUID source (host tests feed recorded leaves).
    pub fn detect_with(mut cpuid: impl FnMut(u32) -> CpuidResult) -> Option<Self> {
        (0x4000_0000u32..0x4001_0000).step_by(0x100).find_map(|base| {
            let r = cpuid(base);
            let mut sig = [0u8; 12];
            sig[0..4].copy_from_slice(&r.ebx.to_le_bytes());
            sig[4..8].copy_from_slice(&r.ecx.to_le_bytes());
            sig[8..12].copy_from_slice(&r.edx.to_le_bytes());
            // EAX is the highest leaf of the range; Xen has at least base+2 (hypercall page).
            (&sig == SIGNATURE && r.eax >= base + 2).then(|| {
                let version = cpuid(base + 1).eax;
                XenCpuid {
                    base,
                    version_major: (version >> 16) as u16,
                    version_minor: version as u16,
                }
            })
        })
    }

    /// The guest's TSC rate in kHz from Xen's time leaf (`base + 3`, subleaf 0, ECX), if
    /// Xen has the leaf and fills it.
    pub fn tsc_khz(&self) -> Option<u32> {
        let highest = cpuid(self.base, 0).eax;
        (highest >= self.base + 3).then(|| cpuid(self.base + 3, 0).ecx).filter(|&khz| khz != 0)
    }

    /// Leaf `base + 2` on this CPU.
    pub fn hypercall_leaf(&self) -> Result<HypercallLeaf, Box<super::XenError>> {
        HypercallLeaf::from_cpuid(cpuid(self.base + 2, 0))
    }
}

impl HypercallLeaf {
    /// Checks the leaf: at least one page, and an MSR in the range Xen uses for it
    /// (0x40000000 on current Xen; 0x40000200 once Viridian is enabled). An MSR number of 0
    /// or in the architectural low range would be a write to a real CPU register.
    pub fn from_cpuid(r: CpuidResult) -> Result<Self, Box<super::XenError>> {
        let leaf = HypercallLeaf { pages: r.eax, msr: r.ebx };
        if leaf.pages == 0 || !(0x4000_0000..0x4001_0000).contains(&leaf.msr) {
            return Err(Box::new(super::XenError::HypercallLeaf {
                pages: leaf.pages,
                msr: leaf.msr,
            }));
        }
        Ok(leaf)
    }
}
