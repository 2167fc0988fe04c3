//! Time from the 8254 PIT's channel 2 (the "speaker" channel, gated through port 0x61), the
//! one clock every PC, QEMU machine and Xen HVM guest has at a known rate. Used for the
//! INIT/SIPI delays and for bounding the wait for APs; it needs no calibration and, unlike
//! a spin loop, runs at wall-clock speed under TCG too.

use super::port::PortIo;

const PIT_HZ: u64 = 1_193_182;
const CHANNEL2_DATA: u16 = 0x42;
const COMMAND: u16 = 0x43;
const SPEAKER_CONTROL: u16 = 0x61;
/// Port 0x61: bit 0 gates channel 2, bit 1 connects it to the speaker, bit 5 reads OUT2.
const GATE2: u8 = 1 << 0;
const SPEAKER: u8 = 1 << 1;
const OUT2: u8 = 1 << 5;
/// Channel 2, low byte then high byte, mode 0 (interrupt on terminal count), binary.
const CHANNEL2_ONE_SHOT: u8 = 0b1011_0000;
/// Longest one-shot: 65535 ticks is 54.9 ms; 50 ms chunks keep the arithmetic round.
const MAX_CHUNK_US: u64 = 50_000;

/// PIT channel 2 as a stopwatch. The speaker stays disconnected.
#[derive(Debug)]
pub struct Pit<'p, P: PortIo> {
    ports: &'p mut P,
}

impl<'p, P: PortIo> Pit<'p, P> {
    pub fn new(ports: &'p mut P) -> Self {
        Pit { ports }
    }

    /// Starts a one-shot of `us` microseconds (at most [`MAX_CHUNK_US`]).
    fn start(&mut self, us: u64) {
        let ticks = (us.min(MAX_CHUNK_US) * PIT_HZ).div_ceil(1_000_000).max(1) as u16;
        let control = self.ports.read8(SPEAKER_CONTROL) & !(SPEAKER | GATE2);
        // Gate low while programming, so counting starts only once the count is complete.
        self.ports.write8(SPEAKER_CONTROL, control);
        self.ports.write8(COMMAND, CHANNEL2_ONE_SHOT);
        self.ports.write8(CHANNEL2_DATA, ticks as u8);
        self.ports.write8(CHANNEL2_DATA, (ticks >> 8) as u8);
        self.ports.write8(SPEAKER_CONTROL, control | GATE2);
    }

    fn expired(&mut self) -> bool {
        self.ports.read8(SPEAKER_CONTROL) & OUT2 != 0
    }

    /// Busy-waits `us` microseconds.
    pub fn delay_us(&mut self, us: u64) {
        self.wait_until(us, || false);
    }

    /// Polls `done` until it returns true or `timeout_us` have passed. Returns the time
    /// waited in microseconds (rounded up to 1 ms) when `done` came true, `None` on timeout.
    pub fn wait_until(&mut self, timeout_us: u64, mut done: impl FnMut() -> bool) -> Option<u64> {
        // 1 ms chunks: fine enough to measure bring-up, coarse enough that reprogramming
        // the PIT costs nothing.
        const CHUNK_US: u64 = 1_000;
        let mut waited = 0;
        while waited < timeout_us {
            let chunk = CHUNK_US.min(timeout_us - waited);
            self.start(chunk);
            loop {
                if done() {
                    return Some(waited + chunk);
                }
                if self.expired() {
                    break;
                }
                core::hint::spin_loop();
            }
            waited += chunk;
        }
        done().then_some(waited)
    }
}
