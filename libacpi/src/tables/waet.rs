//! Windows ACPI Emulated Devices Table (Microsoft WAET specification 1.0).

use super::Table;
use crate::header::{HEADER_LENGTH, write_table};
use crate::{Error, OemIds, Signature};

/// The WAET: tells the guest OS which emulated devices are well-behaved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waet {
    /// `RTC_GOOD`: the RTC needs no status-register read after an interrupt.
    pub rtc_good: bool,
    /// `ACPI_PM_TIMER_GOOD`: a single read of the PM timer is reliable.
    pub pm_timer_good: bool,
}

impl Table for Waet {
    fn signature(&self) -> Signature {
        Signature::WAET
    }

    fn length(&self) -> usize {
        HEADER_LENGTH + 4
    }

    fn write(&self, ids: &OemIds, out: &mut [u8]) -> Result<usize, Error> {
        let flags = u32::from(self.rtc_good) | (u32::from(self.pm_timer_good) << 1);
        write_table(out, Signature::WAET, 1, ids, |w| {
            w.u32(flags);
            Ok(())
        })
    }
}
