//! Who holds which physical range: the bookkeeping behind [`super::Machine`]'s handles.
//!
//! Every handle onto memory or device registers the machine gives out (a RAM region, an
//! MMIO window, the AP start-up page, the hand-off's loading window) claims its range first
//! and releases it when dropped. A claim that overlaps a live one is refused, so no two
//! handles reach the same bytes and none reaches the running firmware image, which is
//! claimed for good when the machine is taken. Pure bookkeeping, tested on the host.

use alloc::boxed::Box;
use core::fmt;

use crate::addr::PhysRange;

/// How many ranges can be held at once: the image, the tables' regions, a few device
/// windows. More is a firmware bug, reported like an overlap.
const SLOTS: usize = 16;

/// A claim that cannot be granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClaimError {
    /// `wanted` overlaps `held`, which a live handle (or the firmware image) has.
    Overlap { wanted: PhysRange, held: PhysRange },
    /// `wanted` is empty, wraps, or lies (partly) at or above 4 GiB or in page 0.
    Unmapped { wanted: PhysRange },
    /// The hand-off's window over all free memory is out: nothing new can be claimed.
    WindowOut { wanted: PhysRange },
    /// A second hand-off window was asked for while the first is out.
    SecondWindow,
    /// Every slot is in use.
    Full { wanted: PhysRange },
}

impl fmt::Display for ClaimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClaimError::Overlap { wanted, held } => {
                write!(f, "{wanted} overlaps {held}, which the firmware holds")
            }
            ClaimError::Unmapped { wanted } => {
                write!(f, "{wanted} is outside the identity-mapped first 4 GiB")
            }
            ClaimError::WindowOut { wanted } => {
                write!(f, "{wanted} claimed while the hand-off's window is out")
            }
            ClaimError::Full { wanted } => write!(f, "{wanted}: more than {SLOTS} claims at once"),
            ClaimError::SecondWindow => f.write_str("a second hand-off window while one is out"),
        }
    }
}

/// One live claim, by slot; released with [`ClaimSet::release`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ClaimId(usize);

/// The ranges held now.
#[derive(Debug, Default)]
pub(crate) struct ClaimSet {
    held: [Option<PhysRange>; SLOTS],
    window_out: bool,
}

impl ClaimSet {
    /// Claims `wanted` if it is identity-mapped (page 0 excluded) and overlaps nothing held.
    pub fn claim(&mut self, wanted: PhysRange) -> Result<ClaimId, Box<ClaimError>> {
        if wanted.start < crate::addr::PAGE_SIZE
            || wanted.end > crate::addr::FOUR_GIB
            || wanted.start >= wanted.end
        {
            return Err(Box::new(ClaimError::Unmapped { wanted }));
        }
        if self.window_out {
            return Err(Box::new(ClaimError::WindowOut { wanted }));
        }
        self.check_free(wanted)?;
        let slot = self.held.iter().position(Option::is_none).ok_or(ClaimError::Full { wanted })?;
        self.held[slot] = Some(wanted);
        Ok(ClaimId(slot))
    }

    /// Gives `id`'s range back.
    pub fn release(&mut self, id: ClaimId) {
        self.held[id.0] = None;
    }

    /// Whether `wanted` overlaps nothing held (the hand-off window's check for each range
    /// it lends).
    pub fn check_free(&self, wanted: PhysRange) -> Result<(), Box<ClaimError>> {
        match self.held.iter().flatten().find(|held| held.overlaps(&wanted)) {
            Some(&held) => Err(Box::new(ClaimError::Overlap { wanted, held })),
            None => Ok(()),
        }
    }

    /// Takes the hand-off's window: refused while it is out already.
    pub fn take_window(&mut self) -> bool {
        !core::mem::replace(&mut self.window_out, true)
    }

    pub fn return_window(&mut self) {
        self.window_out = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: u64, end: u64) -> PhysRange {
        PhysRange { start, end }
    }

    #[test]
    fn overlapping_claims_are_refused_until_released() {
        let mut set = ClaimSet::default();
        let image = set.claim(range(0x10_0000, 0x20_0000)).unwrap();
        let tables = set.claim(range(0x7F0_0000, 0x800_0000)).unwrap();
        assert_eq!(
            set.claim(range(0x1F_F000, 0x20_1000)),
            Err(Box::new(ClaimError::Overlap {
                wanted: range(0x1F_F000, 0x20_1000),
                held: range(0x10_0000, 0x20_0000)
            }))
        );
        // Adjacent is not overlapping.
        let next = set.claim(range(0x20_0000, 0x20_1000)).unwrap();
        set.release(tables);
        set.claim(range(0x7F0_0000, 0x7F0_1000)).unwrap();
        set.release(next);
        set.release(image);
        set.claim(range(0x1F_F000, 0x20_1000)).unwrap();
    }

    #[test]
    fn page_zero_high_memory_and_empty_ranges_cannot_be_claimed() {
        let mut set = ClaimSet::default();
        for wanted in [range(0, 0x1000), range(0xFFFF_F000, 0x1_0000_1000), range(0x5000, 0x5000)] {
            assert_eq!(set.claim(wanted), Err(Box::new(ClaimError::Unmapped { wanted })));
        }
    }

    #[test]
    fn nothing_is_claimed_while_the_window_is_out() {
        let mut set = ClaimSet::default();
        set.claim(range(0x10_0000, 0x20_0000)).unwrap();
        assert!(set.take_window());
        assert!(!set.take_window(), "one window at a time");
        let wanted = range(0x30_0000, 0x31_0000);
        assert_eq!(set.claim(wanted), Err(Box::new(ClaimError::WindowOut { wanted })));
        assert!(set.check_free(wanted).is_ok());
        assert!(set.check_free(range(0x1F_0000, 0x21_0000)).is_err());
        set.return_window();
        set.claim(wanted).unwrap();
    }

    #[test]
    fn a_full_set_says_so() {
        let mut set = ClaimSet::default();
        for i in 0..SLOTS as u64 {
            set.claim(range((i + 1) << 20, ((i + 1) << 20) + 0x1000)).unwrap();
        }
        let wanted = range(0x4000_0000, 0x4000_1000);
        assert_eq!(set.claim(wanted), Err(Box::new(ClaimError::Full { wanted })));
    }
}
