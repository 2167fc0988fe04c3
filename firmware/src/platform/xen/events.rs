//! Waiting for xenstored as hvmloader does: the vCPU blocks in SCHEDOP_poll on the store's
//! event channel until the daemon signals it, instead of spinning on a clock. Unlike
//! hvmloader, every wait has a deadline, in Xen's system time (the shared info page's
//! `vcpu_time_info`), which Xen's poll timer enforces.

use super::hypercall::{Hypercall, Xen};
use super::shared_info::SharedInfo;
use crate::time::Clock;

/// The boot vCPU, whose time record the clock reads.
const BOOT_VCPU: usize = 0;

/// A [`Clock`] whose waits block on one event channel.
#[derive(Debug)]
pub(crate) struct EventChannelClock<'s, H: Hypercall> {
    xen: Xen<H>,
    shared: &'s SharedInfo,
    port: u32,
    tsc: fn() -> u64,
}

impl<'s, H: Hypercall> EventChannelClock<'s, H> {
    /// Waits on `port` through `xen`; `tsc` reads the vCPU's TSC (for Xen's system time).
    pub fn new(xen: Xen<H>, shared: &'s SharedInfo, port: u32, tsc: fn() -> u64) -> Self {
        EventChannelClock { xen, shared, port, tsc }
    }

    fn now_ns(&self) -> u64 {
        self.shared.vcpu_time(BOOT_VCPU).system_time_at((self.tsc)())
    }
}

impl<H: Hypercall> Clock for EventChannelClock<'_, H> {
    fn now_us(&mut self) -> u64 {
        self.now_ns() / 1000
    }

    /// Clears the port's pending bit before each check of `done`, so a signal that comes
    /// after the check leaves the bit set and the next poll returns at once: no wake-up is
    /// lost. Should Xen refuse the poll, the wait goes on by spinning to the same deadline.
    fn poll_until(&mut self, timeout_us: u64, done: &mut dyn FnMut() -> bool) -> bool {
        let deadline = self.now_ns().saturating_add(timeout_us.saturating_mul(1000));
        loop {
            self.shared.take_pending(self.port);
            if done() {
                return true;
            }
            if self.now_ns() >= deadline {
                return done();
            }
            if self.xen.poll(self.port, deadline).is_err() {
                core::hint::spin_loop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::boxed::Box;
    use core::cell::Cell;
    use core::ptr::NonNull;

    use super::*;
    use crate::platform::xen::abi::{self, SchedPoll, errno, schedop, shared_info as layout};

    const PORT: u32 = 3;

    /// Xen for SCHEDOP_poll alone: each poll moves the system time in the shared page on by
    /// `step_ns` (or to the deadline, if that comes first) and, on the poll numbered
    /// `signal_on`, sets the port pending and the condition the waiter checks.
    struct PollingXen<'t> {
        words: *mut u64,
        step_ns: u64,
        signal_on: Option<u32>,
        signalled: &'t Cell<bool>,
        polls: u32,
        deadlines: alloc::vec::Vec<u64>,
    }

    impl Hypercall for PollingXen<'_> {
        unsafe fn call(&mut self, op: u32, args: [u64; 5]) -> i64 {
            assert_eq!((op, args[0]), (abi::hypercall::SCHED_OP, schedop::POLL));
            // SAFETY: the wrapper passes a live `sched_poll` with one port.
            let poll = unsafe { *(args[1] as *const SchedPoll) };
            assert_eq!(poll.nr_ports, 1);
            // SAFETY: as above; `ports` points to one port.
            assert_eq!(unsafe { *(poll.ports as *const u32) }, PORT);
            self.polls += 1;
            self.deadlines.push(poll.timeout);
            // SAFETY: the time record's system_time word in the test's page.
            unsafe {
                let time = self.words.add(layout::VCPU_TIME / 8 + 2);
                *time = (*time + self.step_ns).min(poll.timeout);
            }
            if self.signal_on == Some(self.polls) {
                self.signalled.set(true);
                // SAFETY: the pending bitmap's first word in the test's page.
                unsafe { *self.words.add(layout::EVTCHN_PENDING / 8) |= 1 << PORT };
            }
            0
        }
    }

    fn page() -> *mut u64 {
        let raw = Box::into_raw(Box::new([0u64; 512])).cast::<u64>();
        // SAFETY: the time record of vCPU 0: version 0, TSC stamp 0, 1 s, multiplier 1.
        unsafe {
            *raw.add(layout::VCPU_TIME / 8 + 2) = 1_000_000_000;
            *raw.add(layout::VCPU_TIME / 8 + 3) = 1 << 31;
        }
        raw
    }

    fn free(raw: *mut u64) {
        // SAFETY: made by `page`, no longer used.
        drop(unsafe { Box::from_raw(raw.cast::<[u64; 512]>()) });
    }

    #[test]
    fn a_wait_blocks_until_the_daemon_signals() {
        let raw = page();
        let signalled = Cell::new(false);
        let xen = Xen::new(PollingXen {
            words: raw,
            step_ns: 1_000_000,
            signal_on: Some(3),
            signalled: &signalled,
            polls: 0,
            deadlines: alloc::vec::Vec::new(),
        });
        // SAFETY: `raw` is a live 4 KiB page until `free`.
        let shared = unsafe { SharedInfo::at(NonNull::new(raw.cast()).unwrap(), 0xFDFFF) };
        let mut clock = EventChannelClock::new(xen, &shared, PORT, || 0);
        assert!(clock.poll_until(5_000_000, &mut || signalled.get()));
        assert_eq!(clock.xen.raw().polls, 3);
        // One deadline for the whole wait: 5 s after it began.
        assert!(clock.xen.raw().deadlines.iter().all(|&d| d == 6_000_000_000));
        assert!(!shared.take_pending(PORT), "the waiter took the signal");
        free(raw);
    }

    #[test]
    fn a_wait_ends_at_its_deadline_in_xen_time() {
        let raw = page();
        let signalled = Cell::new(false);
        let xen = Xen::new(PollingXen {
            words: raw,
            step_ns: 40_000_000,
            signal_on: None,
            signalled: &signalled,
            polls: 0,
            deadlines: alloc::vec::Vec::new(),
        });
        // SAFETY: as above.
        let shared = unsafe { SharedInfo::at(NonNull::new(raw.cast()).unwrap(), 0xFDFFF) };
        let mut clock = EventChannelClock::new(xen, &shared, PORT, || 0);
        let start = clock.now_us();
        assert!(!clock.poll_until(100_000, &mut || false));
        assert_eq!(clock.now_us() - start, 100_000);
        assert_eq!(clock.xen.raw().polls, 3, "40 + 40 + 20 ms");
        free(raw);
    }

    #[test]
    fn a_refused_poll_still_ends_at_the_deadline() {
        struct Refusing(*mut u64);
        impl Hypercall for Refusing {
            unsafe fn call(&mut self, _: u32, _: [u64; 5]) -> i64 {
                // SAFETY: the test page's system_time word: time passes while spinning.
                unsafe { *self.0.add(layout::VCPU_TIME / 8 + 2) += 1_000 };
                -errno::ENOSYS
            }
        }
        let raw = page();
        // SAFETY: as above.
        let shared = unsafe { SharedInfo::at(NonNull::new(raw.cast()).unwrap(), 0xFDFFF) };
        let mut clock = EventChannelClock::new(Xen::new(Refusing(raw)), &shared, PORT, || 0);
        assert!(!clock.poll_until(10, &mut || false));
        free(raw);
    }
}
