//! The QEMU runs of the benchmark: the firmware alone under a fixed instruction count (its
//! log, QEMU's trace of config accesses, QEMU's `query-pci`), and Linux boots timed on the
//! wall clock.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
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

/// The cached Linux guest of the tests (tests/common/linux.rs): a kernel and an initramfs
/// whose /init prints a report and powers off.
pub struct LinuxGuest {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
}

/// Finds the guest the Linux tests cached in `cache` (`target/linux-cache`), or fetches and
/// builds it there the same way.
pub fn linux_guest(cache: &Path, init: &str) -> Result<LinuxGuest> {
    let find = |prefix: &str, file: &str| -> Option<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(cache)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix)))
            .map(|p| p.join(file))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        found.pop()
    };
    if let (Some(kernel), Some(initrd)) =
        (find("linux-image-", "vmlinuz"), find("busybox-static_", "initramfs.cpio"))
    {
        return Ok(LinuxGuest { kernel, initrd });
    }
    eprintln!("bench: no cached Linux guest in {}: fetching it", cache.display());
    let depends =
        command_output(Command::new("apt-cache").args(["depends", "linux-image-cloud-amd64"]))?;
    let kernel_package = depends
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|d| d.starts_with("linux-image-"))
        .ok_or("linux-image-cloud-amd64 depends on no linux-image package")?
        .to_string();
    let kernel_dir = fetch_deb(cache, &kernel_package, |extracted, out| {
        let boot = extracted.join("boot");
        let vmlinuz = std::fs::read_dir(&boot)
            .map_err(|e| format!("{}: {e}", boot.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-")))
            .ok_or("no boot/vmlinuz-*")?;
        copy(&vmlinuz, &out.join("vmlinuz"))
    })?;
    let busybox_dir = fetch_deb(cache, "busybox-static", |extracted, out| {
        copy(&extracted.join("bin/busybox"), &out.join("busybox"))
    })?;
    let initrd = busybox_dir.join("initramfs.cpio");
    let busybox = std::fs::read(busybox_dir.join("busybox")).map_err(|e| e.to_string())?;
    let partial = initrd.with_extension("partial");
    std::fs::write(&partial, initramfs(&busybox, init)).map_err(|e| e.to_string())?;
    std::fs::rename(&partial, &initrd).map_err(|e| e.to_string())?;
    Ok(LinuxGuest { kernel: kernel_dir.join("vmlinuz"), initrd })
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to).map(|_| ()).map_err(|e| format!("{}: {e}", from.display()))
}

/// `cache/<package>_<candidate version>/`, made by `apt-get download` and `dpkg-deb -x`
/// with `keep` choosing what stays; nothing is fetched when it exists.
pub fn fetch_deb(
    cache: &Path,
    package: &str,
    keep: impl FnOnce(&Path, &Path) -> Result<()>,
) -> Result<PathBuf> {
    let policy = command_output(Command::new("apt-cache").args(["policy", package]))?;
    let version = policy
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Candidate: "))
        .find(|v| *v != "(none)")
        .ok_or_else(|| format!("no candidate version of {package} (has `apt-get update` run?)"))?
        .to_string();
    let dir = cache.join(format!("{package}_{}", version.replace(':', "%3a")));
    if dir.is_dir() {
        return Ok(dir);
    }
    let work = cache.join(format!(".{package}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let out = work.join("out");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    command_output(
        Command::new("apt-get")
            .args(["download", "-q", &format!("{package}={version}")])
            .current_dir(&work),
    )?;
    let deb = std::fs::read_dir(&work)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or_else(|| format!("apt-get download {package} left no .deb"))?;
    let extracted = work.join("extracted");
    command_output(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&extracted))?;
    keep(&extracted, &out)?;
    std::fs::rename(&out, &dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(dir)
}

/// Stdout of a command that must succeed (in the C locale: APT's output is parsed).
pub fn command_output(cmd: &mut Command) -> Result<String> {
    let out = cmd.env("LC_ALL", "C").output().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A newc cpio archive with busybox and `init` as /init (as tests/common/linux.rs builds).
fn initramfs(busybox: &[u8], init: &str) -> Vec<u8> {
    const DIR: u32 = 0o040755;
    const EXEC: u32 = 0o100755;
    const CONSOLE: u32 = 0o020600;
    let mut out = Vec::new();
    let mut inode = 0;
    let mut entry = |name: &str, mode: u32, rdev: (u32, u32), data: &[u8]| {
        inode += 1;
        let nlink = if mode == DIR { 2 } else { 1 };
        let fields = [
            inode,
            mode,
            0,
            0,
            nlink,
            0,
            data.len() as u32,
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0,
        ];
        out.extend_from_slice(b"070701");
        for field in fields {
            out.extend_from_slice(format!("{field:08x}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.resize(out.len().next_multiple_of(4), 0);
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(4), 0);
    };
    for dir in ["bin", "dev", "proc", "sys", "sbin", "usr", "usr/bin", "usr/sbin"] {
        entry(dir, DIR, (0, 0), &[]);
    }
    entry("dev/console", CONSOLE, (5, 1), &[]);
    entry("bin/busybox", EXEC, (0, 0), busybox);
    entry("init", EXEC, (0, 0), init.as_bytes());
    entry("TRAILER!!!", 0, (0, 0), &[]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_initramfs_is_newc_padded_to_four() {
        let archive = initramfs(b"ELF", "#!/bin/sh\n");
        assert!(archive.starts_with(b"070701"));
        assert_eq!(archive.len() % 4, 0);
        assert!(archive.windows(10).any(|w| w == b"TRAILER!!!"));
        // The first entry's name size field (13th field) counts the NUL: "bin" -> 4.
        assert_eq!(&archive[6 + 11 * 8..6 + 12 * 8], b"00000004");
    }
}
