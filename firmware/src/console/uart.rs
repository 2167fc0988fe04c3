//! A 16550A UART for output, driven so that an emulated one costs few exits: the status
//! register is read once per FIFO-full of bytes, and the bytes go out as one string write.
//!
//! Under Xen, COM1 is QEMU's 16550 in dom0: every register access is a round trip to the
//! device model. A driver that reads the line status before every byte pays two per byte;
//! here, once the transmitter FIFO is seen empty (THRE, which in FIFO mode means the whole
//! 16-byte FIFO is empty), up to 16 bytes are written without looking, with one `rep
//! outsb` (one exit). A UART without a working FIFO (an 8250/16450) gets one byte per
//! status read, as it needs.

use crate::arch::PortIo;

/// Register offsets from the base port.
const THR: u16 = 0;
const IER: u16 = 1;
const DLL: u16 = 0;
const DLM: u16 = 1;
const FCR: u16 = 2;
const IIR: u16 = 2;
const LCR: u16 = 3;
const MCR: u16 = 4;
const LSR: u16 = 5;
const SCR: u16 = 7;

const LCR_DLAB: u8 = 0x80;
/// 8 data bits, no parity, 1 stop bit.
const LCR_8N1: u8 = 0x03;
/// FIFOs on and both cleared.
const FCR_ENABLE_AND_CLEAR: u8 = 0x07;
/// IIR bits 7:6 read 11 once the FIFOs work (16550A and later).
const IIR_FIFOS_ENABLED: u8 = 0xC0;
/// DTR and RTS; OUT2 (the interrupt gate) stays off: no interrupts are used.
const MCR_DTR_RTS: u8 = 0x03;
/// Transmitter holding register empty; in FIFO mode: the transmitter FIFO is empty.
const LSR_THRE: u8 = 1 << 5;
/// Divisor for 115200 baud from the 1.8432 MHz clock.
const DIVISOR_115200: u16 = 1;
/// The 16550A's transmitter FIFO.
const FIFO_DEPTH: usize = 16;
/// Written to the scratch register and read back to find a UART: unclaimed ports read all
/// ones (and 0x5A is neither all ones nor all zeros).
const SCRATCH_PATTERN: u8 = 0x5A;
/// How many status reads a full FIFO may take to drain before the UART counts as stuck:
/// 16 bytes at 115200 baud take 1.4 ms, a status read on real hardware about 1 us.
const MAX_STATUS_READS: u32 = 1 << 16;

/// The transmitter never reported empty: the UART is gone or wedged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TransmitterStuck {
    pub base: u16,
}

/// A 16550-compatible UART at `base`, set to 115200 8N1, FIFOs on, no interrupts.
#[derive(Debug)]
pub(crate) struct Uart<P: PortIo> {
    ports: P,
    base: u16,
    /// Bytes the transmitter takes after it was last seen empty: 16 with a FIFO, else 1.
    burst: usize,
    /// Bytes that may still be written before the status must be read again.
    room: usize,
}

impl<P: PortIo> Uart<P> {
    /// Finds the UART at `base` (by its scratch register) and sets it up; `None` when
    /// nothing answers there.
    pub fn init(mut ports: P, base: u16) -> Option<Self> {
        ports.write8(base + SCR, SCRATCH_PATTERN);
        if ports.read8(base + SCR) != SCRATCH_PATTERN {
            return None;
        }
        ports.write8(base + IER, 0);
        ports.write8(base + LCR, LCR_DLAB);
        let [low, high] = DIVISOR_115200.to_le_bytes();
        ports.write8(base + DLL, low);
        ports.write8(base + DLM, high);
        ports.write8(base + LCR, LCR_8N1);
        ports.write8(base + FCR, FCR_ENABLE_AND_CLEAR);
        ports.write8(base + MCR, MCR_DTR_RTS);
        let fifo = ports.read8(base + IIR) & IIR_FIFOS_ENABLED == IIR_FIFOS_ENABLED;
        let burst = if fifo { FIFO_DEPTH } else { 1 };
        Some(Uart { ports, base, burst, room: 0 })
    }

    /// Whether the transmitter FIFO is in use.
    pub fn has_fifo(&self) -> bool {
        self.burst > 1
    }

    /// Sends `bytes` as they are (no line-ending translation).
    pub fn write(&mut self, mut bytes: &[u8]) -> Result<(), TransmitterStuck> {
        while !bytes.is_empty() {
            if self.room == 0 {
                self.wait_until_empty()?;
                self.room = self.burst;
            }
            let n = self.room.min(bytes.len());
            self.ports.write_bytes(self.base + THR, &bytes[..n]);
            self.room -= n;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    fn wait_until_empty(&mut self) -> Result<(), TransmitterStuck> {
        for _ in 0..MAX_STATUS_READS {
            if self.ports.read8(self.base + LSR) & LSR_THRE != 0 {
                return Ok(());
            }
            core::hint::spin_loop();
        }
        Err(TransmitterStuck { base: self.base })
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;

    const BASE: u16 = 0x3F8;

    /// A 16550: FIFO or not, and how many status reads a non-empty transmitter takes to
    /// drain (`None`: never).
    struct Sim16550 {
        fifo: bool,
        fifo_enabled: bool,
        /// The divisor latch is selected: offsets 0 and 1 are DLL and DLM.
        dlab: bool,
        scratch: u8,
        /// Bytes in the transmitter; more than it holds is an overrun.
        queued: usize,
        drain_after_reads: Option<u32>,
        reads_while_busy: u32,
        sent: Vec<u8>,
        overruns: u32,
        status_reads: u32,
        string_writes: u32,
    }

    impl Sim16550 {
        fn new(fifo: bool) -> Self {
            Sim16550 {
                fifo,
                fifo_enabled: false,
                dlab: false,
                scratch: 0,
                queued: 0,
                drain_after_reads: Some(2),
                reads_while_busy: 0,
                sent: Vec::new(),
                overruns: 0,
                status_reads: 0,
                string_writes: 0,
            }
        }

        fn capacity(&self) -> usize {
            if self.fifo && self.fifo_enabled { 16 } else { 1 }
        }
    }

    impl PortIo for Sim16550 {
        fn read8(&mut self, port: u16) -> u8 {
            match port - BASE {
                SCR => self.scratch,
                IIR => {
                    if self.fifo && self.fifo_enabled {
                        0xC1
                    } else {
                        0x01
                    }
                }
                LSR => {
                    self.status_reads += 1;
                    if self.queued > 0 {
                        self.reads_while_busy += 1;
                        if self.drain_after_reads.is_some_and(|n| self.reads_while_busy >= n) {
                            self.queued = 0;
                            self.reads_while_busy = 0;
                        }
                    }
                    if self.queued == 0 { LSR_THRE } else { 0 }
                }
                other => panic!("read of register {other}"),
            }
        }
        fn read16(&mut self, _: u16) -> u16 {
            unreachable!()
        }
        fn read32(&mut self, _: u16) -> u32 {
            unreachable!()
        }
        fn write8(&mut self, port: u16, value: u8) {
            match port - BASE {
                DLL | DLM if self.dlab => {}
                THR => {
                    if self.queued == self.capacity() {
                        self.overruns += 1;
                    }
                    self.queued = (self.queued + 1).min(self.capacity());
                    self.sent.push(value);
                }
                SCR => self.scratch = value,
                FCR => self.fifo_enabled = value & 1 != 0,
                LCR => self.dlab = value & LCR_DLAB != 0,
                IER | MCR => {}
                other => panic!("write of register {other}"),
            }
        }
        fn write16(&mut self, _: u16, _: u16) {
            unreachable!()
        }
        fn write32(&mut self, _: u16, _: u32) {
            unreachable!()
        }
        fn write_bytes(&mut self, port: u16, bytes: &[u8]) {
            self.string_writes += 1;
            for &b in bytes {
                self.write8(port, b);
            }
        }
    }

    #[test]
    fn one_status_read_and_one_string_write_per_16_bytes() {
        let mut uart = Uart::init(Sim16550::new(true), BASE).expect("a UART");
        assert!(uart.has_fifo());
        let text: Vec<u8> = (0..100u8).collect();
        uart.write(&text[..30]).unwrap();
        uart.write(&text[30..]).unwrap();
        let sim = &uart.ports;
        assert_eq!(sim.sent, text);
        assert_eq!(sim.overruns, 0);
        // 100 bytes are 7 bursts; each first waits for an empty FIFO (two reads when it
        // still drains); writes that continue a burst need no read.
        assert_eq!(sim.string_writes, 8, "7 bursts, one split between the two writes");
        assert!(sim.status_reads <= 7 * 2, "{} status reads", sim.status_reads);
    }

    #[test]
    fn without_a_fifo_every_byte_waits_for_the_transmitter() {
        let mut uart = Uart::init(Sim16550::new(false), BASE).expect("a UART");
        assert!(!uart.has_fifo());
        uart.write(b"hello").unwrap();
        assert_eq!(uart.ports.sent, b"hello");
        assert_eq!(uart.ports.overruns, 0);
        assert_eq!(uart.ports.string_writes, 5);
    }

    #[test]
    fn no_uart_and_a_stuck_one_are_told_apart() {
        struct Nothing;
        impl PortIo for Nothing {
            fn read8(&mut self, _: u16) -> u8 {
                0xFF
            }
            fn read16(&mut self, _: u16) -> u16 {
                0xFFFF
            }
            fn read32(&mut self, _: u16) -> u32 {
                u32::MAX
            }
            fn write8(&mut self, _: u16, _: u8) {}
            fn write16(&mut self, _: u16, _: u16) {}
            fn write32(&mut self, _: u16, _: u32) {}
        }
        assert!(Uart::init(Nothing, BASE).is_none());

        let mut sim = Sim16550::new(true);
        sim.drain_after_reads = None;
        let mut uart = Uart::init(sim, BASE).expect("a UART");
        uart.write(&[b'x'; 16]).unwrap();
        assert_eq!(uart.write(b"y"), Err(TransmitterStuck { base: BASE }));
        assert_eq!(uart.ports.status_reads, 1 + MAX_STATUS_READS);
    }
}
