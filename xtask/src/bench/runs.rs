//! The QEMU runs of the benchmark: the firmware alone under a fixed instruction count (its
//! log, QEMU's trace of config accesses, QEMU's `query-pci`), and Linux boots timed on the
//! wall clock.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::Result;
use xtask::qmp::Vm;

/// `-icount shift=0`: one instruction is one nanosecond of virtual time and the guest's TSC
/// and PIT run on that clock, so the firmware's time and its polling loops (hence every
/// count) are the same on every run, whatever the host's load.
pub const ICOUNT: [&str; 2] = ["-icount", "shift=0"];

/// The firmware's run, even with 16 vCPUs, is a fraction of this under TCG.
const FIRMWARE_TIMEOUT: Duration = Duration::from_secs(180);
/// Linux to power-off takes a few seconds under TCG.
const LINUX_TIMEOUT: Duration = Duration::from_secs(300);

/// The serial log lines after which the firmware has nothing more to do.
const FIRMWARE_END: &[&str] = &["boot: done:", "hvmrs ERROR"];

/// One machine configuration.
#[derive(Clone, Debug)]
pub struct Machine {
    /// `pc` or `q35`.
    pub qemu_name: &'static str,
    pub smp: u32,
    pub mem: &'static str,
    /// Devices and their back-ends.
    pub devices: Vec<String>,
}

impl Machine {
    fn args(&self) -> Vec<String> {
        let mut args: Vec<String> =
            ["-accel", "tcg", "-machine", self.qemu_name].iter().map(|s| s.to_string()).collect();
        args.extend(["-smp".into(), self.smp.to_string(), "-m".into(), self.mem.into()]);
        args.extend(["-display", "none", "-monitor", "none", "-no-reboot"].map(String::from));
        args.extend(self.devices.iter().cloned());
        args
    }
}

/// What one firmware run left.
pub struct FirmwareRun {
    pub serial: String,
    /// QEMU's trace log (empty unless tracing was asked for).
    pub trace: String,
    /// `query-pci`'s answer once the firmware had finished.
    pub query_pci: Value,
}

/// Boots `image` on `machine` under [`ICOUNT`] with `append` as its command line, until it
/// finishes; with `trace`, QEMU logs every memory-region access (port I/O included).
pub fn firmware(
    image: &Path,
    machine: &Machine,
    append: &str,
    trace: bool,
    work: &Path,
) -> Result<FirmwareRun> {
    let trace_path = work.join("trace.log");
    let _ = std::fs::remove_file(&trace_path);
    let mut args: Vec<OsString> = machine.args().into_iter().map(OsString::from).collect();
    args.extend(ICOUNT.map(OsString::from));
    args.extend(["-kernel".into(), image.into(), "-append".into(), append.into()]);
    if trace {
        args.extend(
            ["-trace", "memory_region_ops_read", "-trace", "memory_region_ops_write", "-D"]
                .map(OsString::from),
        );
        args.push(trace_path.clone().into());
    }
    let mut vm = Vm::start(&args, work)?;
    let serial = vm.wait_for_serial(FIRMWARE_END, FIRMWARE_TIMEOUT)?;
    let query_pci = vm.execute("query-pci", json!({}))?;
    // Only once QEMU has exited is its trace file complete.
    vm.quit(Duration::from_secs(30));
    let trace = if trace {
        std::fs::read_to_string(&trace_path)
            .map_err(|e| format!("{}: {e}", trace_path.display()))?
    } else {
        String::new()
    };
    // The traces are large (a PIT poll is a line); the counts are what is kept.
    let _ = std::fs::remove_file(&trace_path);
    Ok(FirmwareRun { serial, trace, query_pci })
}

/// A Linux boot to power-off: how long QEMU ran, on the wall clock.
pub fn linux(
    machine: &Machine,
    boot_args: &[String],
    report_end: &str,
    work: &Path,
) -> Result<Duration> {
    std::fs::create_dir_all(work).map_err(|e| format!("{}: {e}", work.display()))?;
    let serial_path = work.join("serial.log");
    let _ = std::fs::remove_file(&serial_path);
    let mut child = Command::new("qemu-system-x86_64")
        .args(machine.args())
        .arg("-serial")
        .arg(format!("file:{}", serial_path.display()))
        .args(boot_args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start qemu-system-x86_64: {e}"))?;
    let started = Instant::now();
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if started.elapsed() > LINUX_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("Linux did not power off within {LINUX_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.elapsed();
    let serial = read_serial(&serial_path);
    if !serial.contains(report_end) {
        return Err(format!("Linux powered off without its report ({})", serial_path.display()));
    }
    Ok(elapsed)
}

fn read_serial(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default().replace('\r', "")
}
