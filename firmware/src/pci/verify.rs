//! Self-checks of a newly enabled ECAM window against the legacy mechanism.

use core::fmt;

use super::{Bdf, ConfigSpace, caps};

/// First extended capability header, right after the legacy 256 bytes.
const EXTENDED_CAPS: u16 = 0x100;

/// Where the two mechanisms disagree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EcamMismatch {
    Differs { bdf: Bdf, offset: u16, cf8: u32, ecam: u32 },
    ExtendedSpaceUnreadable { bdf: Bdf },
}

impl fmt::Display for EcamMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EcamMismatch::Differs { bdf, offset, cf8, ecam } => write!(
                f,
                "ECAM self-check: {bdf} offset {offset:#05x} reads {ecam:#010x} through ECAM \
                 but {cf8:#010x} through CF8"
            ),
            EcamMismatch::ExtendedSpaceUnreadable { bdf } => write!(
                f,
                "ECAM self-check: {bdf} is PCI Express but its extended configuration space \
                 at 0x100 reads all ones"
            ),
        }
    }
}

/// Whether `bdf` has a PCI Express capability (walks the legacy capability list, bounded).
pub fn is_pcie(cfg: &mut impl ConfigSpace, bdf: Bdf) -> bool {
    caps::find(cfg, bdf, caps::CAP_ID_PCIE).is_some()
}

/// Compares the first 256 bytes of every function in `functions` through both mechanisms,
/// dword by dword, and checks that PCIe functions' extended space answers.
pub fn compare_ecam_with_cf8(
    cf8: &mut impl ConfigSpace,
    ecam: &mut impl ConfigSpace,
    functions: impl IntoIterator<Item = Bdf>,
) -> Result<usize, EcamMismatch> {
    let mut checked = 0;
    for bdf in functions {
        for offset in (0..0x100).step_by(4) {
            let (a, b) = (cf8.read32(bdf, offset), ecam.read32(bdf, offset));
            if a != b {
                return Err(EcamMismatch::Differs { bdf, offset, cf8: a, ecam: b });
            }
        }
        if is_pcie(ecam, bdf) && ecam.read32(bdf, EXTENDED_CAPS) == u32::MAX {
            return Err(EcamMismatch::ExtendedSpaceUnreadable { bdf });
        }
        checked += 1;
    }
    Ok(checked)
}
