//! `cargo xtask xen-run`: one HVM guest under a real Xen, with the firmware in place of
//! hvmloader and the guest's serial console on the terminal. The tests' Xen harness
//! (`xtask::xen`): Xen 4.17 and a Debian dom0 in QEMU, the dom0 image built once and cached;
//! the guest boots the project's Linux guest from a CD through SeaBIOS.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use xtask::guest::{IsoTools, SERIAL_CONSOLE_APPEND, kernel_and_initrd};
use xtask::xen::{ConsoleGuest, Dom0, FIRMWARE_CMDLINE_KEY, GuestExtras, TEST_MOUNT};
use xtask::{host, xen_dm};

use crate::{Result, qemu};

#[derive(Debug, PartialEq, Eq)]
enum Machine {
    /// Debian's device model, `xenfv` (i440FX/PIIX3).
    I440,
    /// The project's Q35 device model (`cargo xtask xen-dm`).
    Q35,
}

/// Whose firmware the guest runs.
#[derive(Debug, PartialEq, Eq)]
enum Firmware {
    /// This project's, `target/hvmloader`, built first.
    Ours,
    /// Xen's own hvmloader, as the dom0's Xen installs it.
    Xens,
    /// Any other image.
    File(PathBuf),
}

#[derive(Debug)]
pub struct XenRunOptions {
    machine: Machine,
    vcpus: u32,
    memory_mib: u32,
    firmware: Firmware,
    kernel: Option<PathBuf>,
    initrd: Option<PathBuf>,
    append: Option<String>,
    /// xenstore entries to write while the guest is paused (`--cmdline` among them).
    xenstore: Vec<(String, String)>,
    /// Lines appended to the guest's xl.cfg.
    config: Vec<String>,
}

impl XenRunOptions {
    /// Parses `xen-run`'s options; what follows `--` are xl.cfg lines.
    pub fn parse(args: &[String]) -> Result<Self> {
        let mut options = XenRunOptions {
            machine: Machine::I440,
            vcpus: 1,
            // Linux with its initramfs needs more than xl's 128 MiB default.
            memory_mib: 512,
            firmware: Firmware::Ours,
            kernel: None,
            initrd: None,
            append: None,
            xenstore: Vec::new(),
            config: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value =
                |name: &str| it.next().cloned().ok_or_else(|| format!("{name} needs a value"));
            let number = |name: &str, text: String| {
                text.parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{name} takes a positive number, not `{text}`"))
            };
            match arg.as_str() {
                "--machine" => {
                    options.machine = match qemu::machine(&value("--machine")?)? {
                        "q35" => Machine::Q35,
                        _ => Machine::I440,
                    }
                }
                "--vcpus" => options.vcpus = number("--vcpus", value("--vcpus")?)?,
                "--memory" => options.memory_mib = number("--memory", value("--memory")?)?,
                "--firmware" => {
                    options.firmware = match value("--firmware")?.as_str() {
                        "xen" => Firmware::Xens,
                        path => Firmware::File(path.into()),
                    }
                }
                "--kernel" => options.kernel = Some(value("--kernel")?.into()),
                "--initrd" => options.initrd = Some(value("--initrd")?.into()),
                "--append" => options.append = Some(value("--append")?),
                "--cmdline" => {
                    options.xenstore.push((FIRMWARE_CMDLINE_KEY.into(), value("--cmdline")?))
                }
                "--xenstore" => {
                    let entry = value("--xenstore")?;
                    let (key, value) = entry
                        .split_once('=')
                        .filter(|(key, _)| !key.is_empty() && !key.starts_with('/'))
                        .ok_or_else(|| {
                            format!("--xenstore takes KEY=VALUE, KEY relative to the domain, not `{entry}`")
                        })?;
                    options.xenstore.push((key.into(), value.into()));
                }
                "--" => {
                    options.config = it.cloned().collect();
                    break;
                }
                other => return Err(format!("unknown xen-run option `{other}`")),
            }
        }
        Ok(options)
    }
}

/// Runs it; `build` builds the firmware images and returns the Xen one's path.
pub fn main(
    options: &XenRunOptions,
    root: &Path,
    build: impl FnOnce() -> Result<PathBuf>,
) -> Result<ExitCode> {
    let progress = |line: &str| eprintln!("{line}");
    host::require(&["qemu-system-x86_64"])?;
    let firmware_override = match &options.firmware {
        Firmware::Ours => Some(read(&build()?)?),
        Firmware::Xens => None,
        Firmware::File(path) => Some(read(path)?),
    };
    let target = root.join("target");
    let work = target.join("xen-run");
    std::fs::create_dir_all(&work).map_err(|e| format!("create {}: {e}", work.display()))?;

    // The guest: the project's Linux (or the user's files) on an ISOLINUX CD.
    let linux_cache = target.join("linux-cache");
    let (kernel, initrd) = kernel_and_initrd(
        options.kernel.as_deref(),
        options.initrd.as_deref(),
        &linux_cache,
        &progress,
    )?;
    let iso = work.join("linux.iso");
    let append = options.append.as_deref().unwrap_or(SERIAL_CONSOLE_APPEND);
    IsoTools::fetch(&linux_cache, &progress)?.boot_iso(&kernel, &initrd, append, &work, &iso)?;

    let dom0 =
        Dom0::build_or_reuse(&target.join("xen-cache"), &progress).map_err(|e| e.to_string())?;
    let mut extras = GuestExtras {
        files: vec![("linux.iso".into(), iso)],
        config: vec![
            format!(
                "disk = ['format=raw,vdev=hdc,access=ro,devtype=cdrom,target={TEST_MOUNT}/linux.iso']"
            ),
            r#"boot = "d""#.into(),
        ],
    };
    if options.machine == Machine::Q35 {
        xen_dm::prerequisites()?;
        let entry = xen_dm::build_or_reuse(root, &progress)?;
        extras.use_q35_device_model(&entry, &[]);
    }
    extras.config.extend(options.config.iter().cloned());
    let guest = ConsoleGuest {
        firmware_override,
        memory_mib: options.memory_mib,
        vcpus: options.vcpus,
        extras,
        xenstore: options.xenstore.clone(),
    };
    let run = xtask::xen::run_on_terminal(&dom0, &guest, &work, &progress)?;
    eprintln!(
        "xen-run: Xen powered off after {:.0} s (dom0 up after {}); the whole console is in {}",
        run.elapsed.as_secs_f64(),
        run.dom0_ready.map_or("never".into(), |t| format!("{:.0} s", t.as_secs_f64())),
        work.join("console.log").display()
    );
    match run.guest_ended.as_deref() {
        Some(how) if how == "crash" || how == "not created" => {
            Err(format!("the guest ended: {how}"))
        }
        Some(_) => Ok(ExitCode::SUCCESS),
        None => Err("the dom0 never said how the guest ended (see the console log)".into()),
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<XenRunOptions> {
        XenRunOptions::parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn options_and_xl_cfg_lines() {
        let options = parse(&[
            "--machine",
            "q35",
            "--vcpus",
            "2",
            "--memory",
            "1024",
            "--firmware",
            "xen",
            "--cmdline",
            "loglevel=debug",
            "--xenstore",
            "platform/x=1",
            "--",
            "mmio_hole = 3584",
        ])
        .unwrap();
        assert_eq!((options.machine, options.vcpus, options.memory_mib), (Machine::Q35, 2, 1024));
        assert_eq!(options.firmware, Firmware::Xens);
        assert_eq!(
            options.xenstore,
            [
                (FIRMWARE_CMDLINE_KEY.into(), "loglevel=debug".into()),
                ("platform/x".into(), "1".into())
            ]
        );
        assert_eq!(options.config, ["mmio_hole = 3584"]);
        assert_eq!(
            parse(&["--firmware", "/x/hvmloader"]).unwrap().firmware,
            Firmware::File("/x/hvmloader".into())
        );
    }

    #[test]
    fn bad_values_are_named() {
        assert_eq!(
            parse(&["--vcpus", "0"]).unwrap_err(),
            "--vcpus takes a positive number, not `0`"
        );
        assert!(
            parse(&["--xenstore", "/local/domain/1/x=1"])
                .unwrap_err()
                .starts_with("--xenstore takes KEY=VALUE")
        );
        assert_eq!(parse(&["--bogus"]).unwrap_err(), "unknown xen-run option `--bogus`");
    }
}
