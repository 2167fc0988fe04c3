//! Coming back after a reset, under QEMU: a reboot must run the BIOS, our firmware and the
//! payload again, whatever the previous run left behind.
//!
//! On a reset QEMU restarts the CPU at the BIOS ROM's reset vector (0xFFFFFFF0), a far jump
//! into the F-segment (SeaBIOS: F000:E05B). Below 1 MiB the F-segment is shadow RAM behind
//! the chipset's PAM registers, which QEMU does not reset as a real chipset would: the jump
//! lands in whatever the shadow holds. SeaBIOS copes with that by keeping its own code in
//! the shadow and restoring itself on a reboot; after a direct Linux boot the shadow holds
//! what the SeaBIOS that loaded us left there, with our tables written over it, and that
//! path no longer works (the machine hangs in real mode).
//!
//! So before a direct Linux boot the firmware puts a small real-mode program at the reset
//! jump's target. It does what the chipset's reset would have done to the BIOS area: it
//! copies its second part to conventional memory (which nobody needs any more), and from
//! there sets every PAM register to 0 (BIOS area from ROM again), clears the CMOS shutdown
//! status byte (so a BIOS takes the reset for a cold boot), and jumps to the reset vector
//! once more. That time the jump runs the BIOS ROM from the start, as at power-on: SeaBIOS
//! POSTs, QEMU has restored our image (ELF segments are ROM blobs it rewrites on reset) and
//! the PVH option ROM starts us again.
//!
//! Everything else a reset leaves is redone by each run anyway: PCIEXBAR (QEMU resets it,
//! SeaBIOS and then we reprogram it), BARs and bus numbers, the ACPI PM block, our tables.
//!
//! [`ResetPath::new`] is pure (host-tested); [`install`] writes it. Under Xen nothing is
//! needed: a guest reboot makes the toolstack build a new domain.

use alloc::boxed::Box;
use alloc::vec::Vec;

use log::{info, warn};

use super::{HandoffError, window};
use crate::arch::PhysMemoryMut;
use crate::bootinfo::PhysRange;
use crate::chipset::Chipset;
use crate::chipset::pm::BiosArea;
use crate::pci::ConfigSpace;

/// The CPU's first instruction after a reset: 16 bytes below 4 GiB, always the BIOS ROM.
pub const ROM_RESET_VECTOR: PhysRange = PhysRange { start: 0xFFFF_FFF0, end: 0x1_0000_0000 };
/// The F-segment, where PAM0 decides between shadow RAM and ROM.
const F_SEGMENT: PhysRange = PhysRange { start: 0xF_0000, end: 0x10_0000 };
/// Conventional memory the program's second part runs from after a reset (the OS that used
/// it is gone; the BIOS initialises it again).
const LOW_CODE: u16 = 0x0500;
/// CMOS index register and the shutdown status byte.
const CMOS_INDEX: u8 = 0x70;
const CMOS_DATA: u8 = 0x71;
const CMOS_SHUTDOWN_STATUS: u8 = 0x0F;
/// Opcode of `jmp ptr16:16`.
const JMP_FAR: u8 = 0xEA;

/// The real-mode program and where it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResetPath {
    /// Physical address of the reset jump's target in the F-segment.
    pub target: u64,
    pub code: Vec<u8>,
}

/// Why no reset path can be installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetPathError {
    /// The ROM's reset vector is not a far jump (no BIOS ROM there, as under Xen).
    NoFarJump([u8; 5]),
    /// The far jump leaves the F-segment, or too close to its end for the program.
    TargetOutsideFSegment { segment: u16, offset: u16 },
}

impl core::fmt::Display for ResetPathError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ResetPathError::NoFarJump(bytes) => {
                write!(f, "the ROM's reset vector is not a far jump ({bytes:02x?})")
            }
            ResetPathError::TargetOutsideFSegment { segment, offset } => write!(
                f,
                "the ROM's reset vector jumps to {segment:04x}:{offset:04x}, outside the \
                 F-segment or too near its end"
            ),
        }
    }
}

impl ResetPath {
    /// The program for `chipset`, placed at the target of the far jump in `rom_vector` (the
    /// ROM's 16 bytes at [`ROM_RESET_VECTOR`]).
    pub fn new(chipset: Chipset, rom_vector: &[u8; 16]) -> Result<Self, ResetPathError> {
        let jump: [u8; 5] = rom_vector[..5].try_into().expect("16 bytes");
        if jump[0] != JMP_FAR {
            return Err(ResetPathError::NoFarJump(jump));
        }
        let offset = u16::from_le_bytes([jump[1], jump[2]]);
        let segment = u16::from_le_bytes([jump[3], jump[4]]);
        let target = u64::from(segment) * 16 + u64::from(offset);

        let low_part = low_part(chipset);
        let mut code = copy_part(offset, low_part.len() as u16);
        code.extend_from_slice(&low_part);
        let fits = F_SEGMENT.start <= target && target + code.len() as u64 <= ROM_SPARE_END;
        if !fits {
            return Err(ResetPathError::TargetOutsideFSegment { segment, offset });
        }
        Ok(ResetPath { target, code })
    }

    pub fn range(&self) -> PhysRange {
        PhysRange { start: self.target, end: self.target + self.code.len() as u64 }
    }
}

/// The program must end before the reset vector's own copy in the F-segment.
const ROM_SPARE_END: u64 = F_SEGMENT.end - 16;

/// Length of [`copy_part`]'s code.
const COPY_PART_LEN: u16 = 24;

/// First part, run in place at `offset` in the F-segment (CS as the ROM's jump set it; only
/// offsets are used): copy the `len` bytes that follow it to 0000:[`LOW_CODE`] and jump
/// there.
fn copy_part(offset: u16, len: u16) -> Vec<u8> {
    let [src_lo, src_hi] = offset.wrapping_add(COPY_PART_LEN).to_le_bytes();
    let [low_lo, low_hi] = LOW_CODE.to_le_bytes();
    let [len_lo, len_hi] = len.to_le_bytes();
    let code = alloc::vec![
        0xFA, // cli
        0xFC, // cld
        0x0E, // push cs
        0x1F, // pop ds
        0x31, 0xC0, // xor ax, ax
        0x8E, 0xC0, // mov es, ax
        0xBE, src_lo, src_hi, // mov si, offset + COPY_PART_LEN
        0xBF, low_lo, low_hi, // mov di, LOW_CODE
        0xB9, len_lo, len_hi, // mov cx, len
        0xF3, 0xA4, // rep movsb
        JMP_FAR, low_lo, low_hi, 0x00, 0x00, // jmp 0000:LOW_CODE
    ];
    debug_assert_eq!(code.len(), usize::from(COPY_PART_LEN));
    code
}

/// Second part, run from conventional memory: every PAM register of `chipset` to 0 (the
/// BIOS area decodes to ROM, as after a chipset reset), CMOS shutdown status 0 (a cold
/// boot), then the reset vector again.
fn low_part(chipset: Chipset) -> Vec<u8> {
    let mut code = Vec::new();
    for register in chipset.pam_registers() {
        // Configuration mechanism #1: dword address to 0xCF8, the byte at 0xCFC + (reg & 3).
        let address = 0x8000_0000u32 | u32::from(register & 0xFC);
        code.extend_from_slice(&[0x66, 0xB8]); // mov eax, address
        code.extend_from_slice(&address.to_le_bytes());
        code.extend_from_slice(&[0xBA, 0xF8, 0x0C]); // mov dx, 0xCF8
        code.extend_from_slice(&[0x66, 0xEF]); // out dx, eax
        let data = 0x0CFCu16 + (register & 3);
        code.push(0xBA); // mov dx, data
        code.extend_from_slice(&data.to_le_bytes());
        code.extend_from_slice(&[0x30, 0xC0]); // xor al, al
        code.push(0xEE); // out dx, al
    }
    code.extend_from_slice(&[
        0xB0,
        CMOS_SHUTDOWN_STATUS, // mov al, 0x0F
        0xE6,
        CMOS_INDEX, // out 0x70, al
        0x30,
        0xC0, // xor al, al
        0xE6,
        CMOS_DATA, // out 0x71, al
        JMP_FAR,
        0xF0,
        0xFF,
        0x00,
        0xF0, // jmp F000:FFF0
    ]);
    code
}

/// Reads the ROM's reset vector and writes the reset path for `chipset` into the
/// F-segment's shadow RAM (unlocked for the write, read-only again afterwards). A ROM
/// without a usable far jump gets a warning: a reset then runs whatever the shadow holds.
pub fn install(
    chipset: Chipset,
    cfg: &mut impl ConfigSpace,
    memory: &mut impl PhysMemoryMut,
) -> Result<(), Box<HandoffError>> {
    let mut rom_vector = [0u8; 16];
    rom_vector.copy_from_slice(window(memory, "ROM reset vector", ROM_RESET_VECTOR)?);
    let path = match ResetPath::new(chipset, &rom_vector) {
        Ok(path) => path,
        Err(e) => {
            warn!("reset: {e}; a reboot will run whatever the BIOS area holds");
            return Ok(());
        }
    };
    chipset.set_bios_area(cfg, BiosArea::ReadWrite).map_err(HandoffError::Pam)?;
    window(memory, "reset path", path.range())?.copy_from_slice(&path.code);
    chipset.set_bios_area(cfg, BiosArea::ReadOnly).map_err(HandoffError::Pam)?;
    info!(
        "reset: the ROM's reset jump lands at {:#x}, where {} bytes now reset the PAM \
         registers and restart the ROM",
        path.target,
        path.code.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seabios_vector() -> [u8; 16] {
        let mut v = [0u8; 16];
        v[..5].copy_from_slice(&[0xEA, 0x5B, 0xE0, 0x00, 0xF0]);
        v
    }

    #[test]
    fn lands_at_seabios_post_entry() {
        let path = ResetPath::new(Chipset::I440fx, &seabios_vector()).unwrap();
        assert_eq!(path.target, 0xF_E05B);
        assert!(path.range().end <= ROM_SPARE_END);
    }

    #[test]
    fn first_part_copies_the_second_and_jumps_to_it() {
        let path = ResetPath::new(Chipset::Q35, &seabios_vector()).unwrap();
        let code = &path.code;
        let copy_len = usize::from(COPY_PART_LEN);
        let low = &code[copy_len..];
        // mov si: the second part's offset in the segment.
        assert_eq!(code[8], 0xBE);
        assert_eq!(u16::from_le_bytes([code[9], code[10]]), 0xE05B + COPY_PART_LEN);
        // mov cx: its length.
        assert_eq!(code[14], 0xB9);
        assert_eq!(usize::from(u16::from_le_bytes([code[15], code[16]])), low.len());
        // jmp 0000:0500 ends the first part.
        assert_eq!(code[copy_len - 5..copy_len], [0xEA, 0x00, 0x05, 0x00, 0x00]);
        // The second part ends with the jump to the reset vector.
        assert_eq!(low[low.len() - 5..], [0xEA, 0xF0, 0xFF, 0x00, 0xF0]);
    }

    #[test]
    fn second_part_clears_every_pam_register_of_the_chipset() {
        for (chipset, registers) in [
            (Chipset::I440fx, [0x59u16, 0x5A, 0x5B, 0x5C, 0x5D, 0x5E, 0x5F]),
            (Chipset::Q35, [0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96]),
        ] {
            let low = low_part(chipset);
            // mov eax, address; mov dx, 0xCF8; out dx, eax; mov dx, data; xor al, al;
            // out dx, al: 17 bytes per register.
            let writes: Vec<(u32, u16)> = low
                .chunks(17)
                .take(7)
                .map(|w| {
                    assert_eq!(w[..2], [0x66, 0xB8], "{chipset}: mov eax");
                    assert_eq!(w[6..11], [0xBA, 0xF8, 0x0C, 0x66, 0xEF], "{chipset}: to 0xCF8");
                    assert_eq!(w[11], 0xBA, "{chipset}: mov dx");
                    assert_eq!(w[14..17], [0x30, 0xC0, 0xEE], "{chipset}: xor al, al; out dx, al");
                    let address = u32::from_le_bytes(w[2..6].try_into().unwrap());
                    (address, u16::from_le_bytes([w[12], w[13]]))
                })
                .collect();
            let expected: Vec<(u32, u16)> = registers
                .iter()
                .map(|&r| (0x8000_0000 | u32::from(r & 0xFC), 0xCFC + (r & 3)))
                .collect();
            assert_eq!(writes, expected, "{chipset}");
            // CMOS 0x0F = 0.
            assert_eq!(low[7 * 17..7 * 17 + 8], [0xB0, 0x0F, 0xE6, 0x70, 0x30, 0xC0, 0xE6, 0x71]);
        }
    }

    #[test]
    fn no_rom_or_a_jump_elsewhere_is_refused() {
        assert!(matches!(
            ResetPath::new(Chipset::I440fx, &[0xFF; 16]),
            Err(ResetPathError::NoFarJump(_))
        ));
        let mut into_e_segment = seabios_vector();
        into_e_segment[3..5].copy_from_slice(&0xE000u16.to_le_bytes());
        assert_eq!(
            ResetPath::new(Chipset::I440fx, &into_e_segment),
            Err(ResetPathError::TargetOutsideFSegment { segment: 0xE000, offset: 0xE05B })
        );
        let mut at_the_end = seabios_vector();
        at_the_end[1..3].copy_from_slice(&0xFFE0u16.to_le_bytes());
        assert!(ResetPath::new(Chipset::I440fx, &at_the_end).is_err());
    }
}
