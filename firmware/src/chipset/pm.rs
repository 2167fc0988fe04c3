//! The chipsets' ACPI power-management functions, and the BIOS area's shadow RAM (PAM).
//!
//! Both chipsets get their PM block at [`PM_BASE`]: that is where Xen emulates it (with
//! HVM_PARAM_ACPI_IOPORTS_LOCATION = 1), so one FADT layout serves Xen and QEMU. The SCI is
//! IRQ 9 on both. The firmware leaves the machine in ACPI mode (SCI_EN set) and the FADT
//! says so with a zero SMI command port, as Xen's own tables do: no SMM transition exists
//! in a guest anyway.

use core::fmt;

use super::{Chipset, SCI_IRQ};
use crate::arch::PortIo;
use crate::pci::{Bdf, ConfigSpace};

/// I/O base of the ACPI PM registers (PM1a event at +0, PM1a control at +4, timer at +8).
pub const PM_BASE: u16 = 0xB000;
/// PM1 control: SCI_EN, ACPI mode.
const PM1_CNT_SCI_EN: u16 = 1 << 0;

/// PIIX4's power-management function and its registers (PIIX4 datasheet, function 3).
const PIIX4_PM: Bdf = Bdf::new(0, 1, 3);
const PIIX4_PM_ID: (u16, u16) = (0x8086, 0x7113);
const PIIX4_PMBA: u16 = 0x40;
const PIIX4_PMREGMISC: u16 = 0x80;
const PIIX4_PMIOSE: u8 = 1 << 0;
/// QEMU and Xen fix PIIX4's GPE0 block here; it is not programmable.
const PIIX4_GPE0: u16 = 0xAFE0;
const PIIX4_GPE0_LEN: u8 = 4;

/// ICH9's LPC bridge carries the PM base and ACPI control (ICH9 datasheet 13.8.1).
const ICH9_LPC: Bdf = Bdf::new(0, 0x1F, 0);
const ICH9_LPC_ID: (u16, u16) = (0x8086, 0x2918);
const ICH9_PMBASE: u16 = 0x40;
const ICH9_ACPI_CNTL: u16 = 0x44;
/// ACPI_EN, and SCI IRQ select 0 = IRQ 9.
const ICH9_ACPI_CNTL_VALUE: u8 = 0x80;
const ICH9_GPE0_OFFSET: u16 = 0x20;
const ICH9_GPE0_LEN: u8 = 16;

/// Where the PM registers ended up, for the FADT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PmBlocks {
    pub pm1a_event: u16,
    pub pm1a_control: u16,
    pub pm_timer: u16,
    pub gpe0: u16,
    pub gpe0_len: u8,
    pub sci_irq: u8,
}

/// The chipset's PM function is not where it must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MissingPmFunction {
    pub bdf: Bdf,
    pub expected: (u16, u16),
    pub found: Option<(u16, u16)>,
}

impl fmt::Display for MissingPmFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (v, d) = self.expected;
        write!(f, "no ACPI power-management function {v:04x}:{d:04x} at {}", self.bdf)?;
        match self.found {
            Some((fv, fd)) => write!(f, " (found {fv:04x}:{fd:04x})"),
            None => f.write_str(" (nothing answers there)"),
        }
    }
}

fn expect_function(
    ids_at: impl Fn(Bdf) -> Option<(u16, u16)>,
    bdf: Bdf,
    expected: (u16, u16),
) -> Result<(), MissingPmFunction> {
    match ids_at(bdf) {
        Some(ids) if ids == expected => Ok(()),
        found => Err(MissingPmFunction { bdf, expected, found }),
    }
}

/// A PAM register did not take the value written: the BIOS area keeps its old mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PamLocked {
    pub register: u16,
    pub wrote: u8,
    pub read: u8,
}

impl fmt::Display for PamLocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PAM register {:#x} reads {:#04x} after {:#04x} was written: the BIOS area keeps its \
             old access mode",
            self.register, self.read, self.wrote
        )
    }
}

/// QEMU's ACPI PCI hot-plug registers on ICH9 (docs/specs/acpi_pci_hotplug.rst): when the
/// device model runs its own ACPI hot-plug for the root ports, the register block answers
/// here; the bus selector (offset 0x10) reads back what was written.
const ICH9_ACPI_HOTPLUG_BASE: u16 = 0x0CC4;
const ACPI_HOTPLUG_BUS_SELECT: u16 = 0x10;

/// Access to the 0xC0000-0xFFFFF shadow RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BiosArea {
    /// Reads and writes go to RAM (to place the RSDP, SMBIOS entry, a BIOS image).
    ReadWrite,
    /// Reads from RAM, writes discarded: what an OS expects of a BIOS area.
    ReadOnly,
}

/// What decides how the BIOS area 0xC0000-0xFFFFF is accessed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BiosAreaGate {
    /// The chipset's PAM registers (under QEMU): unlocked for writing, locked read-only
    /// again after.
    Pam(Chipset),
    /// Nothing: under Xen the area is RAM in the guest's physical map whatever the device
    /// model's PAM registers say (Xen's p2m, not the device model, maps guest memory).
    /// hvmloader never writes them, and each write would be a round trip to the device
    /// model.
    AlwaysRam,
}

impl BiosAreaGate {
    /// Sets the access mode, where something decides it.
    pub fn set(self, cfg: &mut impl ConfigSpace, access: BiosArea) -> Result<(), PamLocked> {
        match self {
            BiosAreaGate::Pam(chipset) => chipset.set_bios_area(cfg, access),
            BiosAreaGate::AlwaysRam => Ok(()),
        }
    }
}

/// The naturally aligned accesses (offset, bytes) that cover `range` exactly, each as wide
/// as alignment and the range's end allow: 0x59..0x60 is a byte, a word and a dword.
fn aligned_accesses(range: core::ops::Range<u16>) -> impl Iterator<Item = (u16, u16)> {
    let mut at = range.start;
    core::iter::from_fn(move || {
        let width =
            [4u16, 2, 1].into_iter().find(|&w| at.is_multiple_of(w) && at + w <= range.end)?;
        let access = (at, width);
        at += width;
        Some(access)
    })
}

impl Chipset {
    /// Moves the PM block to [`PM_BASE`], turns on its decoding and the SCI (IRQ 9), and
    /// puts the machine in ACPI mode. Idempotent: whatever a BIOS chose (SeaBIOS: 0x600)
    /// is overwritten. `ids_at` gives the vendor and device ID enumeration found at a
    /// function (they are not read again).
    pub fn enable_acpi(
        self,
        cfg: &mut impl ConfigSpace,
        ports: &mut impl PortIo,
        ids_at: impl Fn(Bdf) -> Option<(u16, u16)>,
    ) -> Result<PmBlocks, MissingPmFunction> {
        let (gpe0, gpe0_len) = match self {
            Chipset::I440fx => {
                expect_function(ids_at, PIIX4_PM, PIIX4_PM_ID)?;
                // Decoding off while the base moves, so the block never appears twice.
                // PMIOSE is the register's only bit (the others are reserved, 0).
                cfg.write8(PIIX4_PM, PIIX4_PMREGMISC, 0);
                cfg.write32(PIIX4_PM, PIIX4_PMBA, u32::from(PM_BASE) | 1);
                cfg.write8(PIIX4_PM, PIIX4_PMREGMISC, PIIX4_PMIOSE);
                (PIIX4_GPE0, PIIX4_GPE0_LEN)
            }
            Chipset::Q35 => {
                expect_function(ids_at, ICH9_LPC, ICH9_LPC_ID)?;
                cfg.write8(ICH9_LPC, ICH9_ACPI_CNTL, 0);
                cfg.write32(ICH9_LPC, ICH9_PMBASE, u32::from(PM_BASE) | 1);
                cfg.write8(ICH9_LPC, ICH9_ACPI_CNTL, ICH9_ACPI_CNTL_VALUE);
                (PM_BASE + ICH9_GPE0_OFFSET, ICH9_GPE0_LEN)
            }
        };
        let blocks = PmBlocks {
            pm1a_event: PM_BASE,
            pm1a_control: PM_BASE + 4,
            pm_timer: PM_BASE + 8,
            gpe0,
            gpe0_len,
            sci_irq: SCI_IRQ,
        };
        // GPEs start disabled (the enable half of the block is its second half); the OS
        // enables the ones its AML handles.
        for offset in u16::from(gpe0_len / 2)..u16::from(gpe0_len) {
            ports.write8(gpe0 + offset, 0);
        }
        let control = ports.read16(blocks.pm1a_control);
        ports.write16(blocks.pm1a_control, control | PM1_CNT_SCI_EN);
        Ok(blocks)
    }

    /// Whether the device model runs ACPI PCI hot-plug for the root bus and its ports
    /// (QEMU's default on q35), in which case native PCIe hot-plug must not be granted.
    /// Always false on i440FX, whose hot-plug the DSDT itself implements.
    pub fn device_model_acpi_hotplug(self, ports: &mut impl PortIo) -> bool {
        match self {
            Chipset::I440fx => false,
            Chipset::Q35 => {
                let select = ICH9_ACPI_HOTPLUG_BASE + ACPI_HOTPLUG_BUS_SELECT;
                // Unclaimed ports read all ones; the selector holds bus numbers (0 here).
                ports.write32(select, 0);
                ports.read32(select) == 0
            }
        }
    }

    /// The PAM registers covering 0xC0000-0xFFFFF: PAM0 (F-segment in its high nibble)
    /// then PAM1-6 (two 16 KiB halves each).
    pub fn pam_registers(self) -> core::ops::Range<u16> {
        match self {
            Chipset::I440fx => 0x59..0x60,
            Chipset::Q35 => 0x90..0x97,
        }
    }

    /// Sets the access mode of the whole BIOS area's shadow RAM and checks that every PAM
    /// register took it. The seven registers are written, and read back, in three accesses
    /// that cover exactly them.
    pub fn set_bios_area(
        self,
        cfg: &mut impl ConfigSpace,
        access: BiosArea,
    ) -> Result<(), PamLocked> {
        // Per nibble: bit 0 read enable (reads from RAM), bit 1 write enable.
        let nibble = match access {
            BiosArea::ReadWrite => 0x3,
            BiosArea::ReadOnly => 0x1,
        };
        let registers = self.pam_registers();
        // PAM0's low nibble is reserved.
        let value = |register: u16| {
            if register == registers.start { nibble << 4 } else { nibble << 4 | nibble }
        };
        let bytes = |at: u16| [value(at), value(at + 1), value(at + 2), value(at + 3)];
        for (at, width) in aligned_accesses(registers.clone()) {
            let b = bytes(at);
            match width {
                1 => cfg.write8(super::HOST_BRIDGE, at, b[0]),
                2 => cfg.write16(super::HOST_BRIDGE, at, u16::from_le_bytes([b[0], b[1]])),
                _ => cfg.write32(super::HOST_BRIDGE, at, u32::from_le_bytes(b)),
            }
        }
        for (at, width) in aligned_accesses(registers.clone()) {
            let read = match width {
                1 => u32::from(cfg.read8(super::HOST_BRIDGE, at)),
                2 => u32::from(cfg.read16(super::HOST_BRIDGE, at)),
                _ => cfg.read32(super::HOST_BRIDGE, at),
            }
            .to_le_bytes();
            let wrote = bytes(at);
            if let Some(i) = (0..usize::from(width)).find(|&i| read[i] != wrote[i]) {
                return Err(PamLocked { register: at + i as u16, wrote: wrote[i], read: read[i] });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;

    #[test]
    fn pam_registers_take_three_accesses_each_way() {
        let i440: Vec<_> = aligned_accesses(Chipset::I440fx.pam_registers()).collect();
        assert_eq!(i440, [(0x59, 1), (0x5A, 2), (0x5C, 4)]);
        let q35: Vec<_> = aligned_accesses(Chipset::Q35.pam_registers()).collect();
        assert_eq!(q35, [(0x90, 4), (0x94, 2), (0x96, 1)]);
        assert_eq!(aligned_accesses(0x40..0x40).count(), 0);
    }
}
