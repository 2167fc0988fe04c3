//! The TPM's tables, for the TPM a Xen toolstack gives the guest (`platform/tpm_version`,
//! emulated by the device model at the TCG's fixed address): Xen 4.17's hvmloader describes
//! a TPM 1.2 on the TIS interface; 4.18 added the key and a TPM 2.0 on the CRB interface
//! (tools/firmware/hvmloader/util.c, tools/libacpi/build.c).
//!
//! The TPM is looked for only through the interface the key names, and described only when
//! it answers there: a TIS answers with a vendor and a device ID at 0xFED40F00, a CRB with a
//! vendor ID in its interface identifier (0xFED40030, bits 47:32). A register block with
//! nothing behind it reads all ones (or zeroes) and gets no table. Then the firmware adds:
//!
//! - TPM 1.2: the TCPA table and an SSDT with `\_SB.TPM` (PNP0C31, the five localities'
//!   registers 0xFED40000-0xFED44FFF);
//! - TPM 2.0: the TPM2 table (CRB start method, the control area at 0xFED40040) and an
//!   SSDT with `\_SB.TPM` (MSFT0101, locality 0's page at 0xFED40000);
//!
//! and in both cases a zeroed 64 KiB event log (the table's LAML/LASA), which the BIOS
//! fills with its measurements and the OS reads. hvmloader takes the 1.2 log from its ACPI
//! memory and puts the 2.0 log at 0xFED50000, RAM it populates in the MMIO hole; here both
//! lie in the RAM the firmware carved for its tables, which the memory map marks ACPI NVS.

use libacpi::tables::{RawTable, Tcpa, Tpm2};
use libacpi::{Error, OemIds, Signature, Table};

use crate::arch::Mmio;

/// The TPM's register space: locality 0 at the address the TCG's PC Client specifications
/// fix for both interfaces.
pub const REGISTERS: u64 = 0xFED4_0000;
/// One locality's registers: everything the probe reads lies in locality 0.
pub const LOCALITY_SIZE: u64 = 0x1000;
/// TIS `TPM_DID_VID_0`: the vendor ID in the low 16 bits, the device ID in the high 16.
const TIS_VENDOR_ID: u64 = 0xF00;
const TIS_DEVICE_ID: u64 = 0xF02;
/// CRB `TPM_CRB_INTF_ID_0` (offset 0x30, 64 bits): the vendor ID is bits 47:32.
const CRB_VENDOR_ID: u64 = 0x34;
/// CRB `TPM_CRB_CTRL_REQ_0`: the control area the TPM2 table points the OS at.
pub const CRB_CONTROL_AREA: u64 = REGISTERS + 0x40;
/// Bytes of the event log, hvmloader's size for both versions.
pub const LOG_AREA_SIZE: u32 = 64 * 1024;

/// The SSDTs with the TPM device, compiled from asl/ by build.rs.
static SSDT_TPM12: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ssdt_tpm12.aml"));
static SSDT_TPM20: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ssdt_tpm20.aml"));

/// Reads of the TPM's registers: the hardware's MMIO, or a simulated block in tests.
pub trait TpmRegisters {
    /// The 16-bit register at `offset` from [`REGISTERS`] (below [`LOCALITY_SIZE`]).
    fn read16(&self, offset: u64) -> u16;
}

impl<R: Mmio> TpmRegisters for R {
    fn read16(&self, offset: u64) -> u16 {
        Mmio::read16(self, offset)
    }
}

/// The interface a TPM version uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TpmInterface {
    /// TPM 1.2 on the TPM Interface Specification (FIFO) registers.
    Tis,
    /// TPM 2.0 on the Command Response Buffer.
    Crb,
}

impl TpmInterface {
    /// Whether a TPM answers on this interface: its vendor ID (and for TIS its device ID)
    /// reads as neither 0 nor 0xFFFF, hvmloader's test.
    pub fn answers(self, registers: &impl TpmRegisters) -> bool {
        let is_id = |value: u16| value != 0 && value != u16::MAX;
        match self {
            TpmInterface::Tis => {
                is_id(registers.read16(TIS_VENDOR_ID)) && is_id(registers.read16(TIS_DEVICE_ID))
            }
            TpmInterface::Crb => is_id(registers.read16(CRB_VENDOR_ID)),
        }
    }

    /// "TPM 1.2 (TIS)" or "TPM 2.0 (CRB)", for the log.
    pub fn name(self) -> &'static str {
        match self {
            TpmInterface::Tis => "TPM 1.2 (TIS)",
            TpmInterface::Crb => "TPM 2.0 (CRB)",
        }
    }
}

/// A TPM that answered, with the event log the firmware set aside for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TpmTables {
    pub interface: TpmInterface,
    /// Physical address of the zeroed [`LOG_AREA_SIZE`] bytes of event log.
    pub log_area: u64,
}

impl TpmTables {
    /// The SSDT with the TPM's device.
    pub fn device_ssdt(&self) -> Result<RawTable<'static>, Error> {
        RawTable::new(match self.interface {
            TpmInterface::Tis => SSDT_TPM12,
            TpmInterface::Crb => SSDT_TPM20,
        })
    }

    /// The TCPA (1.2) or TPM2 (2.0) table.
    pub fn interface_table(&self) -> TpmTable {
        match self.interface {
            TpmInterface::Tis => TpmTable::Tcpa(Tcpa::client(self.log_area, LOG_AREA_SIZE)),
            TpmInterface::Crb => {
                TpmTable::Tpm2(Tpm2::crb(CRB_CONTROL_AREA, self.log_area, LOG_AREA_SIZE))
            }
        }
    }
}

/// The table telling the OS about the TPM and its event log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TpmTable {
    Tcpa(Tcpa),
    Tpm2(Tpm2),
}

impl Table for TpmTable {
    fn signature(&self) -> Signature {
        match self {
            TpmTable::Tcpa(t) => t.signature(),
            TpmTable::Tpm2(t) => t.signature(),
        }
    }

    fn length(&self) -> usize {
        match self {
            TpmTable::Tcpa(t) => t.length(),
            TpmTable::Tpm2(t) => t.length(),
        }
    }

    fn write(&self, ids: &OemIds, out: &mut [u8]) -> Result<usize, Error> {
        match self {
            TpmTable::Tcpa(t) => t.write(ids, out),
            TpmTable::Tpm2(t) => t.write(ids, out),
        }
    }
}

#[cfg(test)]
mod tests;
