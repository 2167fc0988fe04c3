//! Fixed ACPI Description Table, revision 6 (ACPI 6.5 section 5.2.9, Table 5.9).
//!
//! The table is always emitted in the 276-byte ACPI 6.x layout. Every
//! fixed-hardware register block is described twice, by the legacy 32-bit
//! address and length fields and by the `X_` Generic Address Structures; the
//! builder derives both from one [`PmRegisterBlocks`] so they cannot disagree.

use super::Table;
use crate::bytes::put_at;
use crate::gas::{AccessSize, GenericAddress};
use crate::header::{CHECKSUM_OFFSET, write_table};
use crate::{Error, OemIds, Signature, checksum};

const REVISION: u8 = 6;
const LENGTH: usize = 276;
pub(crate) const FIRMWARE_CTRL_OFFSET: usize = 36;
pub(crate) const DSDT_OFFSET: usize = 40;
pub(crate) const X_FIRMWARE_CTRL_OFFSET: usize = 132;
pub(crate) const X_DSDT_OFFSET: usize = 140;

/// Fixed lengths of the PM1 event, PM1 control and PM timer blocks
/// (ACPI 6.5 sections 4.8.3.1 to 4.8.3.3).
const PM1_EVT_LEN: u8 = 4;
const PM1_CNT_LEN: u8 = 2;
const PM_TMR_LEN: u8 = 4;

/// `Preferred_PM_Profile` values (ACPI 6.5 Table 5.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PmProfile {
    /// Unspecified.
    Unspecified = 0,
    /// Desktop.
    Desktop = 1,
    /// Mobile.
    Mobile = 2,
    /// Workstation.
    Workstation = 3,
    /// Enterprise server.
    EnterpriseServer = 4,
    /// SOHO server.
    SohoServer = 5,
    /// Appliance PC.
    AppliancePc = 6,
    /// Performance server.
    PerformanceServer = 7,
    /// Tablet.
    Tablet = 8,
}

/// The fixed-feature `Flags` field (ACPI 6.5 Table 5.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FadtFlags(pub u32);

impl FadtFlags {
    /// `WBINVD`: the WBINVD instruction works.
    pub const WBINVD: Self = Self(1 << 0);
    /// `WBINVD_FLUSH`: WBINVD flushes and invalidates all caches.
    pub const WBINVD_FLUSH: Self = Self(1 << 1);
    /// `PROC_C1`: C1 is supported on all processors.
    pub const PROC_C1: Self = Self(1 << 2);
    /// `P_LVL2_UP`: C2 works on multiprocessor systems.
    pub const P_LVL2_UP: Self = Self(1 << 3);
    /// `PWR_BUTTON`: the power button is a control-method device (or absent).
    pub const PWR_BUTTON: Self = Self(1 << 4);
    /// `SLP_BUTTON`: the sleep button is a control-method device (or absent).
    pub const SLP_BUTTON: Self = Self(1 << 5);
    /// `FIX_RTC`: RTC wake status is not in the fixed register space.
    pub const FIX_RTC: Self = Self(1 << 6);
    /// `RTC_S4`: the RTC alarm can wake the system from S4.
    pub const RTC_S4: Self = Self(1 << 7);
    /// `TMR_VAL_EXT`: the PM timer is 32 bits wide (24 if clear).
    pub const TMR_VAL_EXT: Self = Self(1 << 8);
    /// `DCK_CAP`: the system supports docking.
    pub const DCK_CAP: Self = Self(1 << 9);
    /// `RESET_REG_SUP`: `RESET_REG` is valid. The builder sets or clears it
    /// from [`Fadt::reset`]; setting it by hand has no effect.
    pub const RESET_REG_SUP: Self = Self(1 << 10);
    /// `SEALED_CASE`: no expansion capabilities.
    pub const SEALED_CASE: Self = Self(1 << 11);
    /// `HEADLESS`: no local video or input devices.
    pub const HEADLESS: Self = Self(1 << 12);
    /// `CPU_SW_SLP`: a native instruction must follow the SLP_TYPx write.
    pub const CPU_SW_SLP: Self = Self(1 << 13);
    /// `PCI_EXP_WAK`: PCIEXP_WAKE_STS/EN bits are supported.
    pub const PCI_EXP_WAK: Self = Self(1 << 14);
    /// `USE_PLATFORM_CLOCK`: OSPM should use a platform clock (PM timer or HPET).
    pub const USE_PLATFORM_CLOCK: Self = Self(1 << 15);
    /// `S4_RTC_STS_VALID`: RTC_STS is valid after waking from S4.
    pub const S4_RTC_STS_VALID: Self = Self(1 << 16);
    /// `REMOTE_POWER_ON_CAPABLE`.
    pub const REMOTE_POWER_ON_CAPABLE: Self = Self(1 << 17);
    /// `FORCE_APIC_CLUSTER_MODEL`.
    pub const FORCE_APIC_CLUSTER_MODEL: Self = Self(1 << 18);
    /// `FORCE_APIC_PHYSICAL_DESTINATION_MODE`.
    pub const FORCE_APIC_PHYSICAL_DESTINATION_MODE: Self = Self(1 << 19);
    /// `HW_REDUCED_ACPI`.
    pub const HW_REDUCED_ACPI: Self = Self(1 << 20);
    /// `LOW_POWER_S0_IDLE_CAPABLE`.
    pub const LOW_POWER_S0_IDLE_CAPABLE: Self = Self(1 << 21);

    /// The union of two flag sets.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether every flag in `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for FadtFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

/// `IAPC_BOOT_ARCH` flags (ACPI 6.5 section 5.2.9.3, Table 5.11).
///
/// These differ between chipsets: an i440FX/PIIX3 guest has ISA legacy
/// devices and an 8042, a Q35/ICH9 guest typically has an 8042 behind the LPC
/// bridge. The caller chooses; see [`IapcBootArch::I440FX`] and
/// [`IapcBootArch::Q35`] for the usual choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IapcBootArch(pub u16);

impl IapcBootArch {
    /// `LEGACY_DEVICES`: the motherboard has user-visible ISA/LPC devices.
    pub const LEGACY_DEVICES: Self = Self(1 << 0);
    /// `8042`: an 8042 keyboard controller is present at ports 0x60/0x64.
    pub const I8042: Self = Self(1 << 1);
    /// `VGA Not Present`: do not probe VGA hardware.
    pub const VGA_NOT_PRESENT: Self = Self(1 << 2);
    /// `MSI Not Supported`: do not enable MSI.
    pub const MSI_NOT_SUPPORTED: Self = Self(1 << 3);
    /// `PCIe ASPM Controls`: do not enable PCIe ASPM.
    pub const PCIE_ASPM_CONTROLS: Self = Self(1 << 4);
    /// `CMOS RTC Not Present`.
    pub const CMOS_RTC_NOT_PRESENT: Self = Self(1 << 5);

    /// i440FX/PIIX3: ISA legacy devices and an 8042.
    pub const I440FX: Self = Self(Self::LEGACY_DEVICES.0 | Self::I8042.0);
    /// Q35/ICH9: an 8042 behind the LPC bridge, legacy devices described in AML.
    pub const Q35: Self = Self::I8042;
}

impl core::ops::BitOr for IapcBootArch {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// The fixed-hardware register blocks, all in system I/O space
/// (ACPI 6.5 section 4.8.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PmRegisterBlocks {
    /// `PM1a_EVT_BLK`: PM1 status and enable registers (4 bytes).
    pub pm1a_event: u16,
    /// `PM1a_CNT_BLK`: PM1 control register (2 bytes).
    pub pm1a_control: u16,
    /// `PM_TMR_BLK`: the 32-bit power management timer (4 bytes).
    pub pm_timer: u16,
    /// `GPE0_BLK`: general-purpose event block 0.
    pub gpe0: u16,
    /// `GPE0_BLK_LEN`: must be a multiple of 2; 0 means no GPE0 block.
    pub gpe0_length: u8,
}

impl PmRegisterBlocks {
    /// The blocks Xen emulates with `HVM_PARAM_ACPI_IOPORTS_LOCATION` = 1.
    pub const XEN: Self = Self {
        pm1a_event: 0xb000,
        pm1a_control: 0xb004,
        pm_timer: 0xb008,
        gpe0: 0xafe0,
        gpe0_length: 4,
    };

    /// ICH9 LPC power management I/O blocks relative to `PMBASE`.
    pub const fn ich9(pmbase: u16) -> Self {
        Self {
            pm1a_event: pmbase,
            pm1a_control: pmbase.wrapping_add(0x04),
            pm_timer: pmbase.wrapping_add(0x08),
            gpe0: pmbase.wrapping_add(0x20),
            gpe0_length: 16,
        }
    }
}

/// The SMI command port and the values that hand ACPI ownership to the OS
/// (`SMI_CMD`, `ACPI_ENABLE`, `ACPI_DISABLE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SmiCommand {
    /// I/O port; 0 means no SMM, the hardware is already in ACPI mode.
    pub port: u32,
    /// Value written to `port` to enable ACPI mode.
    pub acpi_enable: u8,
    /// Value written to `port` to leave ACPI mode.
    pub acpi_disable: u8,
}

impl SmiCommand {
    /// No SMI command port: ACPI mode is already enabled (SCI_EN set).
    pub const NONE: Self = Self { port: 0, acpi_enable: 0, acpi_disable: 0 };
}

/// The reset register and value (`RESET_REG`, `RESET_VALUE`; ACPI 6.5
/// section 4.8.4.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResetRegister {
    /// Where to write.
    pub register: GenericAddress,
    /// What to write.
    pub value: u8,
}

impl ResetRegister {
    /// The PCI Reset Control register at I/O 0xCF9, value 0x06 (full reset).
    pub const PCI_RESET_CONTROL: Self =
        Self { register: GenericAddress::io(0xcf9, 1, AccessSize::Byte), value: 0x06 };
}

/// A revision 6 FADT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fadt {
    /// Physical address of the FACS, 0 if none. Written to `X_FIRMWARE_CTRL`
    /// and, when below 4 GiB, to `FIRMWARE_CTRL`. The installer fills it in.
    pub facs_address: u64,
    /// Physical address of the DSDT, written to `X_DSDT` and, when below
    /// 4 GiB, to `DSDT`. The installer fills it in.
    pub dsdt_address: u64,
    /// `Preferred_PM_Profile`.
    pub pm_profile: PmProfile,
    /// `SCI_INT`: the SCI's 8259 IRQ / I/O APIC GSI.
    pub sci_interrupt: u16,
    /// `SMI_CMD`, `ACPI_ENABLE`, `ACPI_DISABLE`.
    pub smi_command: SmiCommand,
    /// The fixed-hardware register blocks.
    pub pm_blocks: PmRegisterBlocks,
    /// `P_LVL2_LAT` in microseconds; above 100 means C2 is not supported.
    pub c2_latency: u16,
    /// `P_LVL3_LAT` in microseconds; above 1000 means C3 is not supported.
    pub c3_latency: u16,
    /// `DAY_ALRM`: CMOS index of the day-of-month alarm, 0 if none.
    pub rtc_day_alarm: u8,
    /// `MON_ALRM`: CMOS index of the month alarm, 0 if none.
    pub rtc_month_alarm: u8,
    /// `CENTURY`: CMOS index of the century byte, 0 if none.
    pub rtc_century: u8,
    /// `IAPC_BOOT_ARCH`.
    pub boot_arch: IapcBootArch,
    /// `Flags`, except `RESET_REG_SUP` which follows [`Fadt::reset`].
    pub flags: FadtFlags,
    /// `RESET_REG` and `RESET_VALUE`; `None` leaves them zero.
    pub reset: Option<ResetRegister>,
    /// `FADT Minor Version`.
    pub minor_version: u8,
    /// `Hypervisor Vendor Identity`.
    pub hypervisor_vendor: [u8; 8],
}

impl Fadt {
    /// Xen's hypervisor identity, the first half of its CPUID signature.
    pub const XEN_HYPERVISOR_VENDOR: [u8; 8] = *b"XenVMM\0\0";

    /// A FADT for a PC-compatible HVM guest: the given register blocks and
    /// SCI, no SMI port, C2/C3 unsupported, reset through 0xCF9, and the flags
    /// WBINVD, PROC_C1, FIX_RTC, TMR_VAL_EXT and USE_PLATFORM_CLOCK.
    pub const fn new(
        pm_blocks: PmRegisterBlocks,
        sci_interrupt: u16,
        boot_arch: IapcBootArch,
    ) -> Self {
        Self {
            facs_address: 0,
            dsdt_address: 0,
            pm_profile: PmProfile::Unspecified,
            sci_interrupt,
            smi_command: SmiCommand::NONE,
            pm_blocks,
            c2_latency: 0x0fff,
            c3_latency: 0x0fff,
            rtc_day_alarm: 0,
            rtc_month_alarm: 0,
            rtc_century: 0x32,
            boot_arch,
            flags: FadtFlags(
                FadtFlags::WBINVD.0
                    | FadtFlags::PROC_C1.0
                    | FadtFlags::FIX_RTC.0
                    | FadtFlags::TMR_VAL_EXT.0
                    | FadtFlags::USE_PLATFORM_CLOCK.0,
            ),
            reset: Some(ResetRegister::PCI_RESET_CONTROL),
            minor_version: 0,
            hypervisor_vendor: Self::XEN_HYPERVISOR_VENDOR,
        }
    }

    fn validate(&self) -> Result<(), Error> {
        let invalid = |reason| Err(Error::InvalidField { signature: Signature::FADT, reason });
        if !self.pm_blocks.gpe0_length.is_multiple_of(2) {
            return invalid("GPE0_BLK_LEN must be a multiple of 2");
        }
        if self.pm_blocks.gpe0_length > 0 && self.pm_blocks.gpe0 == 0 {
            return invalid("GPE0_BLK_LEN without a GPE0 block address");
        }
        if self.smi_command.port == 0
            && (self.smi_command.acpi_enable != 0 || self.smi_command.acpi_disable != 0)
        {
            return invalid("ACPI_ENABLE/ACPI_DISABLE set without an SMI command port");
        }
        if self.pm_blocks.pm1a_event == 0 || self.pm_blocks.pm1a_control == 0 {
            return invalid("PM1a event and control blocks are mandatory");
        }
        Ok(())
    }
}

/// The 32-bit copy of a 64-bit address, or 0 when it does not fit.
fn legacy_address(address: u64) -> u32 {
    u32::try_from(address).unwrap_or(0)
}

impl Table for Fadt {
    fn signature(&self) -> Signature {
        Signature::FADT
    }

    fn length(&self) -> usize {
        LENGTH
    }

    fn write(&self, ids: &OemIds, out: &mut [u8]) -> Result<usize, Error> {
        self.validate()?;
        let blocks = &self.pm_blocks;
        // The PM1 blocks hold 16-bit registers, the timer one 32-bit register,
        // GPE registers are byte-wide (ACPI 6.5 sections 4.8.3.1-4.8.3.3, 4.8.4.1).
        let pm1a_event = GenericAddress::io(blocks.pm1a_event, PM1_EVT_LEN, AccessSize::Word);
        let pm1a_control = GenericAddress::io(blocks.pm1a_control, PM1_CNT_LEN, AccessSize::Word);
        let pm_timer = if blocks.pm_timer != 0 {
            GenericAddress::io(blocks.pm_timer, PM_TMR_LEN, AccessSize::Dword)
        } else {
            GenericAddress::NONE
        };
        let gpe0 = if blocks.gpe0_length != 0 {
            GenericAddress::io(blocks.gpe0, blocks.gpe0_length, AccessSize::Byte)
        } else {
            GenericAddress::NONE
        };
        let mut flags = FadtFlags(self.flags.0 & !FadtFlags::RESET_REG_SUP.0);
        if self.reset.is_some() {
            flags = flags | FadtFlags::RESET_REG_SUP;
        }
        let reset =
            self.reset.unwrap_or(ResetRegister { register: GenericAddress::NONE, value: 0 });

        write_table(out, Signature::FADT, REVISION, ids, |w| {
            w.u32(legacy_address(self.facs_address));
            w.u32(legacy_address(self.dsdt_address));
            w.u8(0); // Reserved (ACPI 1.0 INT_MODEL).
            w.u8(self.pm_profile as u8);
            w.u16(self.sci_interrupt);
            w.u32(self.smi_command.port);
            w.u8(self.smi_command.acpi_enable);
            w.u8(self.smi_command.acpi_disable);
            w.u8(0); // S4BIOS_REQ: not supported.
            w.u8(0); // PSTATE_CNT: no OS control of performance states.
            w.u32(blocks.pm1a_event.into());
            w.u32(0); // PM1b_EVT_BLK
            w.u32(blocks.pm1a_control.into());
            w.u32(0); // PM1b_CNT_BLK
            w.u32(0); // PM2_CNT_BLK
            w.u32(blocks.pm_timer.into());
            w.u32(if blocks.gpe0_length != 0 { blocks.gpe0.into() } else { 0 });
            w.u32(0); // GPE1_BLK
            w.u8(PM1_EVT_LEN);
            w.u8(PM1_CNT_LEN);
            w.u8(0); // PM2_CNT_LEN
            w.u8(if blocks.pm_timer != 0 { PM_TMR_LEN } else { 0 });
            w.u8(blocks.gpe0_length);
            w.u8(0); // GPE1_BLK_LEN
            w.u8(0); // GPE1_BASE
            w.u8(0); // CST_CNT: no _CST change notification.
            w.u16(self.c2_latency);
            w.u16(self.c3_latency);
            w.u16(0); // FLUSH_SIZE
            w.u16(0); // FLUSH_STRIDE
            w.u8(0); // DUTY_OFFSET
            w.u8(0); // DUTY_WIDTH
            w.u8(self.rtc_day_alarm);
            w.u8(self.rtc_month_alarm);
            w.u8(self.rtc_century);
            w.u16(self.boot_arch.0);
            w.u8(0); // Reserved
            w.u32(flags.0);
            w.bytes(&reset.register.to_bytes());
            w.u8(reset.value);
            w.u16(0); // ARM_BOOT_ARCH
            w.u8(self.minor_version);
            w.u64(self.facs_address);
            w.u64(self.dsdt_address);
            w.bytes(&pm1a_event.to_bytes());
            w.bytes(&GenericAddress::NONE.to_bytes()); // X_PM1b_EVT_BLK
            w.bytes(&pm1a_control.to_bytes());
            w.bytes(&GenericAddress::NONE.to_bytes()); // X_PM1b_CNT_BLK
            w.bytes(&GenericAddress::NONE.to_bytes()); // X_PM2_CNT_BLK
            w.bytes(&pm_timer.to_bytes());
            w.bytes(&gpe0.to_bytes());
            w.bytes(&GenericAddress::NONE.to_bytes()); // X_GPE1_BLK
            w.bytes(&GenericAddress::NONE.to_bytes()); // SLEEP_CONTROL_REG (HW-reduced only)
            w.bytes(&GenericAddress::NONE.to_bytes()); // SLEEP_STATUS_REG (HW-reduced only)
            w.bytes(&self.hypervisor_vendor);
            Ok(())
        })
    }
}

/// Points an already serialised FADT at its FACS and DSDT, in the 32-bit
/// fields when the address fits and always in the `X_` fields, then fixes the
/// checksum.
pub(crate) fn link(fadt: &mut [u8], facs: Option<u64>, dsdt: u64) -> Result<(), Error> {
    let facs = facs.unwrap_or(0);
    let ok = put_at(fadt, FIRMWARE_CTRL_OFFSET, &legacy_address(facs).to_le_bytes())
        && put_at(fadt, DSDT_OFFSET, &legacy_address(dsdt).to_le_bytes())
        && put_at(fadt, X_FIRMWARE_CTRL_OFFSET, &facs.to_le_bytes())
        && put_at(fadt, X_DSDT_OFFSET, &dsdt.to_le_bytes());
    if !ok {
        return Err(Error::InvalidTable { signature: Signature::FADT, reason: "FADT too short" });
    }
    checksum::fix(fadt, CHECKSUM_OFFSET);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(fadt: &Fadt) -> [u8; LENGTH] {
        let mut buf = [0u8; LENGTH];
        assert_eq!(fadt.write(&OemIds::xen(), &mut buf), Ok(LENGTH));
        buf
    }

    #[test]
    fn legacy_and_extended_blocks_agree() {
        let buf = build(&Fadt::new(PmRegisterBlocks::ich9(0x600), 9, IapcBootArch::Q35));
        assert_eq!(buf[56..60], 0x600u32.to_le_bytes());
        assert_eq!(buf[88], 4);
        assert_eq!(&buf[148..160], &[1, 32, 0, 2, 0x00, 0x06, 0, 0, 0, 0, 0, 0]);
        assert_eq!(buf[64..68], 0x604u32.to_le_bytes());
        assert_eq!(buf[89], 2);
        assert_eq!(&buf[172..184], &[1, 16, 0, 2, 0x04, 0x06, 0, 0, 0, 0, 0, 0]);
        assert_eq!(buf[76..80], 0x608u32.to_le_bytes());
        assert_eq!(buf[91], 4);
        assert_eq!(&buf[208..220], &[1, 32, 0, 3, 0x08, 0x06, 0, 0, 0, 0, 0, 0]);
        assert_eq!(buf[80..84], 0x620u32.to_le_bytes());
        assert_eq!(buf[92], 16);
        assert_eq!(&buf[220..232], &[1, 128, 0, 1, 0x20, 0x06, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn reset_register_sets_its_flag() {
        let mut fadt = Fadt::new(PmRegisterBlocks::XEN, 9, IapcBootArch::I440FX);
        let buf = build(&fadt);
        let flags = u32::from_le_bytes(buf[112..116].try_into().unwrap());
        assert!(FadtFlags(flags).contains(FadtFlags::RESET_REG_SUP));
        assert_eq!(&buf[116..128], &[1, 8, 0, 1, 0xf9, 0x0c, 0, 0, 0, 0, 0, 0]);
        assert_eq!(buf[128], 6);

        fadt.reset = None;
        fadt.flags = fadt.flags | FadtFlags::RESET_REG_SUP;
        let buf = build(&fadt);
        let flags = u32::from_le_bytes(buf[112..116].try_into().unwrap());
        assert!(!FadtFlags(flags).contains(FadtFlags::RESET_REG_SUP));
    }

    #[test]
    fn high_addresses_only_in_extended_fields() {
        let mut fadt = Fadt::new(PmRegisterBlocks::XEN, 9, IapcBootArch::I440FX);
        fadt.facs_address = 0x1_0000_0000;
        fadt.dsdt_address = 0xfc00_1040;
        let buf = build(&fadt);
        assert_eq!(buf[36..40], [0; 4]);
        assert_eq!(buf[40..44], 0xfc00_1040u32.to_le_bytes());
        assert_eq!(buf[132..140], 0x1_0000_0000u64.to_le_bytes());
        assert_eq!(buf[140..148], 0xfc00_1040u64.to_le_bytes());
    }

    #[test]
    fn inconsistent_fields_are_errors() {
        let mut buf = [0u8; LENGTH];
        let mut fadt = Fadt::new(PmRegisterBlocks::XEN, 9, IapcBootArch::I440FX);
        fadt.pm_blocks.gpe0_length = 3;
        assert!(matches!(fadt.write(&OemIds::xen(), &mut buf), Err(Error::InvalidField { .. })));
        let mut fadt = Fadt::new(PmRegisterBlocks::XEN, 9, IapcBootArch::I440FX);
        fadt.smi_command.acpi_enable = 0xf1;
        assert!(matches!(fadt.write(&OemIds::xen(), &mut buf), Err(Error::InvalidField { .. })));
    }

    #[test]
    fn link_patches_both_fields_and_checksum() {
        let mut buf = build(&Fadt::new(PmRegisterBlocks::XEN, 9, IapcBootArch::I440FX));
        link(&mut buf, Some(0x1000), 0x2000).unwrap();
        assert_eq!(buf[36..40], 0x1000u32.to_le_bytes());
        assert_eq!(buf[140..148], 0x2000u64.to_le_bytes());
        assert_eq!(checksum::sum(&buf), 0);
    }
}
