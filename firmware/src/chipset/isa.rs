//! Legacy ISA devices a device model may or may not have: the serial ports, the parallel
//! port and the floppy controller at their fixed ports. QEMU's `pc` and `q35` have COM1, a
//! parallel port and (`pc`) a floppy controller unless started with `-nodefaults`; libxl
//! starts Xen's device model with `-nodefaults` and adds a serial port per xl.cfg `serial`
//! entry. The DSDT declares each one present only when it answers here (hvmloader probes
//! the same way), so an OS does not bind drivers to ports nothing decodes.
//!
//! Every probe leaves the device as it found it. A port nothing decodes reads all ones.

use core::fmt;

use crate::arch::PortIo;

/// Which of the legacy devices answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LegacyDevices {
    pub com1: bool,
    pub com2: bool,
    pub lpt1: bool,
    pub floppy: bool,
}

const COM1: u16 = 0x3F8;
const COM2: u16 = 0x2F8;
const LPT1: u16 = 0x378;
const FDC: u16 = 0x3F0;
/// The 16550's scratch register: any value written reads back (UART 8250s have none, and
/// no PC device model emulates those).
const UART_SCRATCH: u16 = 7;
/// The floppy controller's main status register and its "ready for a command" bit.
const FDC_MSR: u16 = 4;
const FDC_MSR_RQM: u8 = 0x80;
/// Written and read back: two patterns, so that a bus holding its last value does not pass.
const PATTERNS: [u8; 2] = [0x5A, 0xA5];

impl LegacyDevices {
    /// Probes each device at its port.
    pub fn probe(ports: &mut impl PortIo) -> Self {
        LegacyDevices {
            com1: keeps_patterns(ports, COM1 + UART_SCRATCH),
            com2: keeps_patterns(ports, COM2 + UART_SCRATCH),
            // The data register latches what is written (the printer has no say in it).
            lpt1: keeps_patterns(ports, LPT1),
            floppy: floppy_ready(ports),
        }
    }
}

impl fmt::Display for LegacyDevices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes = |present: bool| if present { "yes" } else { "no" };
        write!(
            f,
            "legacy devices: COM1 {}, COM2 {}, LPT1 {}, floppy controller {}",
            yes(self.com1),
            yes(self.com2),
            yes(self.lpt1),
            yes(self.floppy)
        )
    }
}

/// Whether the register at `port` reads back what is written; its value is put back.
fn keeps_patterns(ports: &mut impl PortIo, port: u16) -> bool {
    let saved = ports.read8(port);
    let kept = PATTERNS.iter().all(|&pattern| {
        ports.write8(port, pattern);
        ports.read8(port) == pattern
    });
    ports.write8(port, saved);
    kept
}

/// Whether a floppy controller's main status register says it waits for a command (read
/// only: writing to a controller could start one).
fn floppy_ready(ports: &mut impl PortIo) -> bool {
    let msr = ports.read8(FDC + FDC_MSR);
    msr != 0xFF && msr & FDC_MSR_RQM != 0
}

#[cfg(test)]
mod tests {
    use alloc::collections::BTreeMap;
    use alloc::vec::Vec;

    use super::*;

    /// Ports that keep what is written where a device decodes, and read all ones elsewhere.
    #[derive(Default)]
    struct Bus {
        registers: BTreeMap<u16, u8>,
        written: Vec<u16>,
    }

    impl PortIo for Bus {
        fn read8(&mut self, port: u16) -> u8 {
            self.registers.get(&port).copied().unwrap_or(0xFF)
        }
        fn read16(&mut self, _: u16) -> u16 {
            unreachable!()
        }
        fn read32(&mut self, _: u16) -> u32 {
            unreachable!()
        }
        fn write8(&mut self, port: u16, value: u8) {
            self.written.push(port);
            if let Some(register) = self.registers.get_mut(&port) {
                *register = value;
            }
        }
        fn write16(&mut self, _: u16, _: u16) {
            unreachable!()
        }
        fn write32(&mut self, _: u16, _: u32) {
            unreachable!()
        }
    }

    #[test]
    fn nothing_decoded_nothing_present() {
        let mut bus = Bus::default();
        assert_eq!(LegacyDevices::probe(&mut bus), LegacyDevices::default());
    }

    #[test]
    fn devices_answer_at_their_ports_and_keep_their_values() {
        let mut bus = Bus::default();
        bus.registers.insert(COM1 + UART_SCRATCH, 0x12);
        bus.registers.insert(LPT1, 0x34);
        bus.registers.insert(FDC + FDC_MSR, FDC_MSR_RQM);
        let found = LegacyDevices::probe(&mut bus);
        assert_eq!(found, LegacyDevices { com1: true, com2: false, lpt1: true, floppy: true });
        assert_eq!(bus.registers[&(COM1 + UART_SCRATCH)], 0x12, "scratch value put back");
        assert_eq!(bus.registers[&LPT1], 0x34, "data latch put back");
    }

    #[test]
    fn a_busy_or_absent_floppy_controller_is_not_taken() {
        let mut bus = Bus::default();
        bus.registers.insert(FDC + FDC_MSR, 0x10); // a command in progress, not ready
        assert!(!LegacyDevices::probe(&mut bus).floppy);
        bus.registers.insert(FDC + FDC_MSR, FDC_MSR_RQM);
        assert!(LegacyDevices::probe(&mut bus).floppy);
        // Writing could start a command: the controller's ports are only read.
        let fdc = FDC..FDC + 8;
        assert!(!bus.written.iter().any(|port| fdc.contains(port)), "{:x?}", bus.written);
    }
}
