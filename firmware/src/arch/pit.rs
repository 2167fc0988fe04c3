//! The 8254 PIT's channel 2 (the "speaker" channel, gated through port 0x61): the one clock
//! of known rate every PC, QEMU machine and Xen HVM guest has. The firmware reads it only to
//! measure the TSC's rate where nothing else tells it ([`crate::time`]); waiting on it would
//! cost a device access per poll (an exit to the hypervisor, an I/O exit under TCG).

use super::port::PortIo;

/// The PIT's input clock.
pub(crate) const PIT_HZ: u64 = 1_193_182;
const CHANNEL2_DATA: u16 = 0x42;
const COMMAND: u16 = 0x43;
const SPEAKER_CONTROL: u16 = 0x61;
/// Port 0x61: bit 0 gates channel 2, bit 1 connects it to the speaker, bit 5 reads OUT2.
const GATE2: u8 = 1 << 0;
const SPEAKER: u8 = 1 << 1;
const OUT2: u8 = 1 << 5;
/// Channel 2, low byte then high byte, mode 0 (interrupt on terminal count), binary.
const CHANNEL2_ONE_SHOT: u8 = 0b1011_0000;
/// Channel 2, counter latch: the next two data reads return the count at this moment.
const CHANNEL2_LATCH: u8 = 0b1000_0000;
/// The longest count: 65535 ticks, 54.9 ms.
const FULL_COUNT: u16 = 0xFFFF;
/// TSC ticks between the two readings of a first attempt: 0.35 ms at 3 GHz, 1.05 ms under
/// QEMU's `-icount shift=0` (1 GHz). One PIT tick (838 ns) in that is the error, 0.24% at
/// 3 GHz: plenty for timeouts and time reports. A TSC below 19 MHz wraps the count and
/// retries with an eighth of the span.
const FIRST_SPAN_TICKS: u64 = 1 << 20;
const ATTEMPTS: u32 = 4;
/// Fewer PIT ticks than this between the readings: the PIT does not count (or the TSC
/// runs absurdly fast), and there is no rate to give.
const MIN_PIT_TICKS: u64 = 64;

/// PIT channel 2. The speaker stays disconnected.
#[derive(Debug)]
pub(crate) struct Pit<'p, P: PortIo> {
    ports: &'p mut P,
}

impl<'p, P: PortIo> Pit<'p, P> {
    pub fn new(ports: &'p mut P) -> Self {
        Pit { ports }
    }

    /// Measures the TSC's rate in kHz: the PIT's count and `tsc` read at two moments about a
    /// millisecond apart. The wait in between spins on `tsc` alone, so the whole
    /// measurement is about a dozen port accesses. `None` if the PIT does not count.
    pub fn measure_tsc_khz(&mut self, tsc: &mut dyn FnMut() -> u64) -> Option<u64> {
        let mut span = FIRST_SPAN_TICKS;
        for _ in 0..ATTEMPTS {
            let control = self.start_full_count();
            let (tsc0, count0) = self.latch(tsc);
            while tsc().wrapping_sub(tsc0) < span {
                core::hint::spin_loop();
            }
            let (tsc1, count1) = self.latch(tsc);
            let wrapped = self.ports.read8(SPEAKER_CONTROL) & OUT2 != 0;
            self.ports.write8(SPEAKER_CONTROL, control);
            if wrapped {
                // The count reached 0 (and went on from 0xFFFF): the span was longer than
                // the PIT's 54.9 ms. A slower TSC: try a shorter span.
                span /= 8;
                continue;
            }
            let pit_ticks = u64::from(count0.wrapping_sub(count1));
            if pit_ticks < MIN_PIT_TICKS {
                return None;
            }
            let tsc_ticks = u128::from(tsc1.wrapping_sub(tsc0));
            let khz = tsc_ticks * u128::from(PIT_HZ) / (u128::from(pit_ticks) * 1000);
            return u64::try_from(khz).ok().filter(|&khz| khz > 0);
        }
        None
    }

    /// Starts a one-shot of the full count with the gate low while programming, so counting
    /// starts only once the count is complete. Returns port 0x61 as it was, gate and speaker
    /// off, for the caller to restore.
    fn start_full_count(&mut self) -> u8 {
        let control = self.ports.read8(SPEAKER_CONTROL) & !(SPEAKER | GATE2);
        self.ports.write8(SPEAKER_CONTROL, control);
        self.ports.write8(COMMAND, CHANNEL2_ONE_SHOT);
        self.ports.write8(CHANNEL2_DATA, FULL_COUNT as u8);
        self.ports.write8(CHANNEL2_DATA, (FULL_COUNT >> 8) as u8);
        self.ports.write8(SPEAKER_CONTROL, control | GATE2);
        control
    }

    /// Latches channel 2's count and returns it with the TSC at the latch (the midpoint of
    /// readings just before and after the latch command).
    fn latch(&mut self, tsc: &mut dyn FnMut() -> u64) -> (u64, u16) {
        let before = tsc();
        self.ports.write8(COMMAND, CHANNEL2_LATCH);
        let after = tsc();
        let low = self.ports.read8(CHANNEL2_DATA);
        let high = self.ports.read8(CHANNEL2_DATA);
        (before + after.wrapping_sub(before) / 2, u16::from_le_bytes([low, high]))
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;
    use core::cell::Cell;

    use super::*;

    /// Channel 2 in mode 0 on a clock shared with a simulated TSC of `tsc_hz`: every TSC
    /// read advances time by `step_ns`.
    struct SimPit<'t> {
        now_ns: &'t Cell<u64>,
        loaded_at_ns: Option<u64>,
        count: u16,
        /// The low byte of a count being written.
        low: Option<u8>,
        latched: Vec<u8>,
        gate: u8,
        accesses: u32,
    }

    impl SimPit<'_> {
        fn ticks_since_load(&self) -> u64 {
            self.loaded_at_ns.map_or(0, |t| (self.now_ns.get() - t) * PIT_HZ / 1_000_000_000)
        }
    }

    impl PortIo for SimPit<'_> {
        fn read8(&mut self, port: u16) -> u8 {
            self.accesses += 1;
            match port {
                SPEAKER_CONTROL => {
                    let out = self.ticks_since_load() >= u64::from(self.count);
                    self.gate | if out { OUT2 } else { 0 }
                }
                CHANNEL2_DATA => self.latched.remove(0),
                _ => panic!("read of port {port:#x}"),
            }
        }
        fn read16(&mut self, _: u16) -> u16 {
            unreachable!()
        }
        fn read32(&mut self, _: u16) -> u32 {
            unreachable!()
        }
        fn write8(&mut self, port: u16, value: u8) {
            self.accesses += 1;
            match (port, value) {
                (SPEAKER_CONTROL, v) => {
                    if v & GATE2 != 0 && self.gate & GATE2 == 0 {
                        self.loaded_at_ns = Some(self.now_ns.get());
                    }
                    // Only the gate and speaker bits are writable.
                    self.gate = v & (GATE2 | SPEAKER);
                }
                (COMMAND, CHANNEL2_ONE_SHOT) => self.low = None,
                (COMMAND, CHANNEL2_LATCH) => {
                    let count = (u64::from(self.count) + 0x1_0000
                        - self.ticks_since_load() % 0x1_0000)
                        as u16;
                    self.latched = count.to_le_bytes().to_vec();
                }
                (CHANNEL2_DATA, v) => match self.low.take() {
                    None => self.low = Some(v),
                    Some(low) => self.count = u16::from_le_bytes([low, v]),
                },
                _ => panic!("write {value:#x} to port {port:#x}"),
            }
        }
        fn write16(&mut self, _: u16, _: u16) {
            unreachable!()
        }
        fn write32(&mut self, _: u16, _: u32) {
            unreachable!()
        }
    }

    fn measure(tsc_hz: u64, step_ns: u64) -> (Option<u64>, u32) {
        let now = Cell::new(1_000_000);
        let mut pit = SimPit {
            now_ns: &now,
            loaded_at_ns: None,
            count: 0,
            low: None,
            latched: Vec::new(),
            gate: 0,
            accesses: 0,
        };
        let mut tsc = || {
            now.set(now.get() + step_ns);
            (u128::from(now.get()) * u128::from(tsc_hz) / 1_000_000_000) as u64
        };
        let khz = Pit::new(&mut pit).measure_tsc_khz(&mut tsc);
        (khz, pit.accesses)
    }

    #[test]
    fn measures_the_tsc_rate_in_a_dozen_port_accesses() {
        let (khz, accesses) = measure(2_500_000_000, 20);
        let khz = khz.expect("a rate");
        // Within one PIT tick over the span: 0.3%.
        assert!(khz.abs_diff(2_500_000) <= 7_500, "{khz} kHz");
        assert_eq!(accesses, 14);
    }

    #[test]
    fn a_slow_tsc_that_wraps_the_count_is_measured_on_a_shorter_span() {
        // 10 MHz: the first span (4M ticks) is 419 ms, longer than the PIT's 54.9 ms.
        let (khz, accesses) = measure(10_000_000, 200);
        let khz = khz.expect("a rate");
        assert!(khz.abs_diff(10_000) <= 10, "{khz} kHz");
        assert_eq!(accesses, 28, "one retry");
    }

    #[test]
    fn a_pit_that_does_not_count_gives_no_rate() {
        // A TSC so fast that the whole span passes within a few PIT ticks.
        let (khz, _) = measure(1_000_000_000_000_000, 1);
        assert_eq!(khz, None);
    }
}
