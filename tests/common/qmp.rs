//! Looking at the machine from outside the firmware: QEMU's QMP monitor (xtask's client),
//! asked after the firmware has finished (it halts instead of exiting when no
//! isa-debug-exit device exists).

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use xtask::qmp::{HEADLESS_TCG, Vm};

/// A QEMU whose firmware has run to its end, with QMP on stdio. Every failure panics: these
/// are tests.
pub struct Inspected {
    pub vm: Vm,
    /// The firmware's serial log, CRs removed.
    pub serial: String,
}

impl Inspected {
    /// Boots `kernel` on `machine` with `extra` arguments and waits for the firmware's last
    /// line (`boot: done:` or `fatal:`), at most `timeout`.
    pub fn boot(
        kernel: &Path,
        machine: &str,
        extra: &[&str],
        scratch: &Path,
        timeout: Duration,
    ) -> Self {
        let mut args: Vec<&str> = HEADLESS_TCG.to_vec();
        let kernel = kernel.to_str().expect("a UTF-8 image path");
        args.extend(["-machine", machine, "-kernel", kernel]);
        args.extend(extra);
        let mut vm = Vm::start(&args, scratch).unwrap_or_else(|e| panic!("{e}"));
        let serial = vm
            .wait_for_serial(&["boot: done:", "fatal:"], timeout)
            .unwrap_or_else(|e| panic!("the firmware did not finish: {e}"));
        Inspected { vm, serial }
    }

    /// Runs one QMP command and returns its `return` value.
    pub fn execute(&mut self, command: &str, arguments: Value) -> Value {
        self.vm.execute(command, arguments).unwrap_or_else(|e| panic!("{e}"))
    }

    /// An HMP command through QMP, for what QMP has no query for (`info mtree`).
    pub fn hmp(&mut self, command_line: &str) -> String {
        self.vm.hmp(command_line).unwrap_or_else(|e| panic!("{e}"))
    }
}
