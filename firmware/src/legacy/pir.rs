//! The PCI IRQ routing table (`$PIR`, version 1.0 of Microsoft's "PCI IRQ Routing Table
//! Specification"): how a pre-ACPI OS in PIC mode learns which PIRQ link each PCI interrupt
//! pin is wired to, and which ISA IRQs the interrupt router can steer each link to.
//!
//! [`write_pir`] writes the 32-byte header and one 16-byte slot entry per device on bus 0.
//! A slot entry gives, for INTA# to INTD#, the link value (for Intel routers, the PIRQ route
//! control register's config offset; pins with the same value are wired together) and the
//! bitmap of ISA IRQs the link may be routed to.
//!
//! Placement: an OS finds the table by scanning 0xF0000-0xFFFFF for `$PIR` on 16-byte
//! boundaries, so the caller must place it at a [`PIR_ALIGN`]-aligned address there (or list
//! it for a SeaBIOS, which copies it there itself). The table holds no address of its own.

use core::fmt;

// The MP floating pointer, the MP configuration table and `$PIR` share ACPI's rule: the
// bytes, checksum included, sum to zero modulo 256.
use crate::pci::{Bdf, IntxPin};
use libacpi::checksum::compute as checksum;

/// Table version 1.0, as the version word stores it (major in the high byte).
pub const PIR_VERSION: u16 = 0x0100;
pub const PIR_HEADER_LEN: usize = 32;
pub const PIR_SLOT_LEN: usize = 16;
/// The alignment the table must be placed at.
pub const PIR_ALIGN: u64 = 16;

/// 82371FB PIIX PCI-ISA bridge (8086:122E): the compatible router for PIIX3/PIIX4, whose PIRQ
/// route control registers (0x60-0x63) it shares. An OS that knows no better drives the
/// router as this device.
pub const PIIX_COMPATIBLE_ROUTER: (u16, u16) = (0x8086, 0x122E);

/// Slot number of a device soldered to the board ("embedded"): every device of a VM.
const SLOT_EMBEDDED: u8 = 0;

/// Everything the table says besides the link of each pin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PirInput {
    /// The function holding the PIRQ route control registers (PIIX: 00:01.0).
    pub router: Bdf,
    /// Vendor and device ID of a router the OS may drive it as ([`PIIX_COMPATIBLE_ROUTER`]),
    /// or (0, 0) for none.
    pub compatible_router: (u16, u16),
    /// Bitmap of ISA IRQs reserved for PCI (bit n = IRQ n); 0 lets the OS share them with ISA.
    pub exclusive_irqs: u16,
    /// Bit `d` set for each device `d` on bus 0 that gets a slot entry
    /// ([`Bus0Pins::devices`](super::Bus0Pins::devices)).
    pub devices: u32,
    /// Bitmap of ISA IRQs every link may be routed to (the PIRQ link IRQs).
    pub irq_bitmap: u16,
}

/// Why the table cannot be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PirError {
    /// Devices to describe, but no IRQ their links could be routed to.
    EmptyIrqBitmap,
    /// An IRQ reserved for PCI that no link can be routed to.
    ExclusiveIrqsNotRoutable {
        exclusive: u16,
        bitmap: u16,
    },
    BufferTooSmall {
        needed: usize,
        available: usize,
    },
}

impl fmt::Display for PirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PirError::EmptyIrqBitmap => {
                f.write_str("$PIR: PCI devices to describe but no IRQ a link may use")
            }
            PirError::ExclusiveIrqsNotRoutable { exclusive, bitmap } => write!(
                f,
                "$PIR: PCI-exclusive IRQs {exclusive:#06x} are not all in the link IRQs \
                 {bitmap:#06x}"
            ),
            PirError::BufferTooSmall { needed, available } => {
                write!(f, "$PIR: table needs {needed} bytes, the buffer has {available}")
            }
        }
    }
}

/// Bytes [`write_pir`] writes for the devices in bitmap `devices`: 32 + 16 per device.
pub const fn pir_len(devices: u32) -> usize {
    PIR_HEADER_LEN + devices.count_ones() as usize * PIR_SLOT_LEN
}

/// Checks `input` and writes the table to the start of `buf`; returns its length.
///
/// `link_value(device, pin)` is the link that pin `pin` of bus-0 device `device` drives, as
/// the router names it (PIIX: PIRQA-D = 0x60-0x63), or 0 if the pin is not connected. It must
/// follow the platform's wiring, the same rule the INTx routing and the DSDT's `_PRT` use.
pub fn write_pir(
    input: &PirInput,
    link_value: impl Fn(u8, IntxPin) -> u8,
    buf: &mut [u8],
) -> Result<usize, PirError> {
    if input.devices != 0 && input.irq_bitmap == 0 {
        return Err(PirError::EmptyIrqBitmap);
    }
    if input.exclusive_irqs & !input.irq_bitmap != 0 {
        return Err(PirError::ExclusiveIrqsNotRoutable {
            exclusive: input.exclusive_irqs,
            bitmap: input.irq_bitmap,
        });
    }
    let len = pir_len(input.devices);
    let available = buf.len();
    let out = buf.get_mut(..len).ok_or(PirError::BufferTooSmall { needed: len, available })?;
    out.fill(0);
    let (header, slots) = out.split_at_mut(PIR_HEADER_LEN);

    let devices = (0..32u8).filter(|&d| input.devices & (1 << d) != 0);
    for (slot, device) in slots.chunks_exact_mut(PIR_SLOT_LEN).zip(devices) {
        slot[0] = 0;
        slot[1] = device << 3;
        for (pin, field) in [IntxPin::A, IntxPin::B, IntxPin::C, IntxPin::D]
            .into_iter()
            .zip(slot[2..14].chunks_exact_mut(3))
        {
            let link = link_value(device, pin);
            // An unconnected pin can be routed nowhere.
            let irqs = if link == 0 { 0 } else { input.irq_bitmap };
            field[0] = link;
            field[1..3].copy_from_slice(&irqs.to_le_bytes());
        }
        slot[14] = SLOT_EMBEDDED;
    }

    let router = input.router;
    header[0..4].copy_from_slice(b"$PIR");
    header[4..6].copy_from_slice(&PIR_VERSION.to_le_bytes());
    // At most 32 devices: 544 bytes.
    header[6..8].copy_from_slice(&(len as u16).to_le_bytes());
    header[8] = router.bus();
    header[9] = (router.device() << 3) | router.function();
    header[10..12].copy_from_slice(&input.exclusive_irqs.to_le_bytes());
    header[12..14].copy_from_slice(&input.compatible_router.0.to_le_bytes());
    header[14..16].copy_from_slice(&input.compatible_router.1.to_le_bytes());
    // 16..20: miniport data 0; 20..31: reserved.
    out[31] = checksum(out);
    Ok(len)
}
