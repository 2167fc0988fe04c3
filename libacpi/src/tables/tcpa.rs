//! Trusted Computing Platform Alliance table, client format (TCG ACPI Specification,
//! "TCPA ACPI Table for Client Platforms"): where a TPM 1.2 platform keeps the event log
//! its firmware measures the boot into.

use super::Table;
use crate::header::{HEADER_LENGTH, write_table};
use crate::{Error, OemIds, Signature};

/// `Platform Class` of a client platform (PCs); servers use 1 and a longer layout.
const PLATFORM_CLASS_CLIENT: u16 = 0;
/// Revision 2: the client layout with a 64-bit log address.
const REVISION: u8 = 2;

/// The client TCPA: the log area the firmware reserved for the TPM 1.2 event log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tcpa {
    /// `LAML`: bytes of the log area.
    pub log_area_length: u32,
    /// `LASA`: physical address of the log area, memory the memory map reserves.
    pub log_area_start: u64,
}

impl Tcpa {
    /// Length of the client table: header, class, LAML, LASA.
    pub const LENGTH: usize = HEADER_LENGTH + 2 + 4 + 8;

    /// A client table for the log area at `start` of `length` bytes.
    pub const fn client(start: u64, length: u32) -> Self {
        Self { log_area_length: length, log_area_start: start }
    }
}

impl Table for Tcpa {
    fn signature(&self) -> Signature {
        Signature::TCPA
    }

    fn length(&self) -> usize {
        Self::LENGTH
    }

    fn write(&self, ids: &OemIds, out: &mut [u8]) -> Result<usize, Error> {
        let invalid = |reason| Err(Error::InvalidField { signature: Signature::TCPA, reason });
        if self.log_area_length == 0 || self.log_area_start == 0 {
            return invalid("the log area is empty or at address 0");
        }
        if self.log_area_start.checked_add(u64::from(self.log_area_length)).is_none() {
            return invalid("the log area wraps");
        }
        write_table(out, Signature::TCPA, REVISION, ids, |w| {
            w.u16(PLATFORM_CLASS_CLIENT);
            w.u32(self.log_area_length);
            w.u64(self.log_area_start);
            Ok(())
        })
    }
}
