//! TPM 2.0 table (TCG ACPI Specification, "ACPI Table for TPM 2.0", table revision 4):
//! how the OS reaches a TPM 2.0 and where the firmware's event log lies.

use super::Table;
use crate::header::{HEADER_LENGTH, write_table};
use crate::{Error, OemIds, Signature};

/// Revision 4: the layout with the log area fields (LAML, LASA) after the start method
/// parameters.
const REVISION: u8 = 4;
/// `Platform Class` of a client platform (PCs); 1 is a server.
const PLATFORM_CLASS_CLIENT: u16 = 0;
/// Bytes of `Start Method Specific Parameters` in this layout: the 12 the ARM SMC start
/// method needs, zero for every other method. Linux and SeaBIOS read the log fields only
/// when the table is long enough to hold them at this offset (76 bytes in all).
const START_METHOD_PARAMETERS_LENGTH: usize = 12;

/// How the OS starts a command (the table's `Start Method` values used on PCs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Tpm2StartMethod {
    /// The ACPI start method (a `_DSM` on the TPM device).
    Acpi = 2,
    /// The FIFO (TIS) interface: the OS writes the registers itself.
    Fifo = 6,
    /// The Command Response Buffer interface: the OS sets the start register of the
    /// control area.
    Crb = 7,
    /// CRB with the ACPI start method.
    CrbWithAcpi = 8,
}

/// The TPM2 table of a client platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tpm2 {
    /// `Address of CRB Control Area`: the CRB's control area (locality 0); 0 for FIFO.
    pub control_area: u64,
    /// `Start Method`: how the OS hands the TPM a command.
    pub start_method: Tpm2StartMethod,
    /// `Log Area Minimum Length` (LAML): bytes of the log area.
    pub log_area_length: u32,
    /// `Log Area Start Address` (LASA): memory the memory map reserves.
    pub log_area_start: u64,
}

impl Tpm2 {
    /// Length with the log area fields.
    pub const LENGTH: usize =
        HEADER_LENGTH + 2 + 2 + 8 + 4 + START_METHOD_PARAMETERS_LENGTH + 4 + 8;

    /// A CRB TPM with its control area at `control_area` and the log area at `log_start`
    /// of `log_length` bytes.
    pub const fn crb(control_area: u64, log_start: u64, log_length: u32) -> Self {
        Self {
            control_area,
            start_method: Tpm2StartMethod::Crb,
            log_area_length: log_length,
            log_area_start: log_start,
        }
    }
}

impl Table for Tpm2 {
    fn signature(&self) -> Signature {
        Signature::TPM2
    }

    fn length(&self) -> usize {
        Self::LENGTH
    }

    fn write(&self, ids: &OemIds, out: &mut [u8]) -> Result<usize, Error> {
        let invalid = |reason| Err(Error::InvalidField { signature: Signature::TPM2, reason });
        let crb = matches!(self.start_method, Tpm2StartMethod::Crb | Tpm2StartMethod::CrbWithAcpi);
        if crb && self.control_area == 0 {
            return invalid("a CRB start method needs the control area's address");
        }
        if self.log_area_length == 0 || self.log_area_start == 0 {
            return invalid("the log area is empty or at address 0");
        }
        if self.log_area_start.checked_add(u64::from(self.log_area_length)).is_none() {
            return invalid("the log area wraps");
        }
        write_table(out, Signature::TPM2, REVISION, ids, |w| {
            w.u16(PLATFORM_CLASS_CLIENT);
            w.u16(0); // Reserved.
            w.u64(self.control_area);
            w.u32(self.start_method as u32);
            w.zeros(START_METHOD_PARAMETERS_LENGTH);
            w.u32(self.log_area_length);
            w.u64(self.log_area_start);
            Ok(())
        })
    }
}
