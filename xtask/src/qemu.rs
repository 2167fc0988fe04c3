//! `cargo xtask run`: the firmware in QEMU (TCG) with the serial console on the terminal,
//! booting by default the project's Linux guest to a shell.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus};

use xtask::guest::{SERIAL_CONSOLE_APPEND, kernel_and_initrd};
use xtask::host;

use crate::Result;

/// Exit statuses of QEMU's isa-debug-exit device for the firmware's two exit codes.
const QEMU_EXIT_SUCCESS: i32 = 33;
const QEMU_EXIT_FAILURE: i32 = 35;

/// What the firmware hands off to.
#[derive(Debug, PartialEq, Eq)]
enum Payload {
    /// Nothing: the firmware sets the machine up, prints its summary and stops.
    FirmwareOnly,
    /// A Linux kernel, booted directly (fw_cfg `opt/hvmloader/kernel`).
    Linux,
    /// SeaBIOS, started as under Xen (fw_cfg `opt/hvmloader/firmware`). Under QEMU its
    /// first boot entry is QEMU's `-kernel`, this firmware again, so the run stops there.
    SeaBios,
}

#[derive(Debug)]
pub struct RunOptions {
    /// i440 (QEMU `pc`) or q35, the names of the seed's device_model_machine.
    machine: &'static str,
    smp: String,
    mem: String,
    /// The firmware's own command line.
    cmdline: Option<String>,
    payload: Payload,
    /// The guest's kernel, initramfs and command line, when not the project's guest's.
    kernel: Option<PathBuf>,
    initrd: Option<PathBuf>,
    append: Option<String>,
}

impl RunOptions {
    /// Parses `run`'s options; what follows `--` goes to QEMU unchanged.
    pub fn parse(args: &[String]) -> Result<(Self, Vec<String>)> {
        let mut options = RunOptions {
            machine: "pc",
            smp: "1".into(),
            mem: "512M".into(),
            cmdline: None,
            payload: Payload::Linux,
            kernel: None,
            initrd: None,
            append: None,
        };
        let mut extra = Vec::new();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value =
                |name: &str| it.next().cloned().ok_or_else(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--machine" => options.machine = machine(&value("--machine")?)?,
                "--smp" => options.smp = value("--smp")?,
                "--mem" => options.mem = value("--mem")?,
                "--cmdline" => options.cmdline = Some(value("--cmdline")?),
                "--kernel" => options.kernel = Some(value("--kernel")?.into()),
                "--initrd" => options.initrd = Some(value("--initrd")?.into()),
                "--append" => options.append = Some(value("--append")?),
                "--firmware-only" => options.payload = Payload::FirmwareOnly,
                "--bios" => match value("--bios")?.as_str() {
                    "seabios" => options.payload = Payload::SeaBios,
                    other => return Err(format!("unknown --bios `{other}` (seabios)")),
                },
                "--" => {
                    extra = it.cloned().collect();
                    break;
                }
                other => return Err(format!("unknown run option `{other}`")),
            }
        }
        let guest_options =
            options.kernel.is_some() || options.initrd.is_some() || options.append.is_some();
        if options.payload != Payload::Linux && guest_options {
            return Err("--kernel, --initrd and --append are for the Linux guest, which \
                        --firmware-only and --bios seabios do not boot"
                .into());
        }
        Ok((options, extra))
    }

    /// The QEMU command for the firmware `image` (the payload's arguments come from
    /// [`Self::payload_args`]).
    pub fn command(&self, image: &Path) -> Command {
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-accel", "tcg", "-machine", self.machine, "-smp", &self.smp, "-m", &self.mem])
            // One console multiplexed on stdio: the serial port and QEMU's monitor (Ctrl-A X
            // ends QEMU, Ctrl-A C switches to the monitor), Ctrl-C goes to the guest.
            .args(["-chardev", "stdio,id=console,mux=on,signal=off"])
            .args(["-serial", "chardev:console", "-mon", "chardev=console"])
            .args(["-display", "none", "-monitor", "none", "-no-reboot"])
            .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
            .arg("-kernel")
            .arg(image);
        if let Some(cmdline) = &self.cmdline {
            cmd.args(["-append", cmdline]);
        }
        cmd
    }

    /// The QEMU arguments that give the firmware its payload, fetching and building the
    /// guest's files first (in `cache`).
    pub fn payload_args(&self, cache: &Path) -> Result<Vec<String>> {
        let fw_cfg = |name: &str, path: &Path| {
            vec![
                "-fw_cfg".to_string(),
                format!("name=opt/hvmloader/{name},file={}", path.display()),
            ]
        };
        let mut args = Vec::new();
        match self.payload {
            Payload::FirmwareOnly => {}
            Payload::Linux => {
                let (kernel, initrd) = kernel_and_initrd(
                    self.kernel.as_deref(),
                    self.initrd.as_deref(),
                    cache,
                    &|line| eprintln!("{line}"),
                )?;
                let append = self.append.as_deref().unwrap_or(SERIAL_CONSOLE_APPEND);
                args.extend(fw_cfg("kernel", &kernel));
                args.extend(fw_cfg("initrd", &initrd));
                // fw_cfg's option parser splits at commas; QEMU's doubled comma escapes.
                args.push("-fw_cfg".into());
                args.push(format!(
                    "name=opt/hvmloader/cmdline,string={}",
                    append.replace(',', ",,")
                ));
            }
            Payload::SeaBios => {
                host::require(&[host::SEABIOS])?;
                args.extend(fw_cfg("firmware", Path::new(host::SEABIOS)));
                // SeaBIOS's log (port 0x402) on the terminal, between the firmware's lines.
                args.extend(["-device".into(), "isa-debugcon,iobase=0x402,chardev=console".into()]);
            }
        }
        Ok(args)
    }

    /// Whether the run stops once SeaBIOS boots again (see [`Payload::SeaBios`]).
    pub fn stops_at_seabios_boot(&self) -> bool {
        self.payload == Payload::SeaBios
    }
}

/// What SeaBIOS prints on its debug port when it boots an option ROM: under QEMU with
/// `-kernel`, the boot entry that starts this firmware.
const SEABIOS_BOOTS_KERNEL: &str = "Booting from ROM...";

/// Runs `cmd` (its console on stdio, SeaBIOS's debug port among it) until SeaBIOS boots
/// QEMU's `-kernel` entry the second time: once to start this firmware as QEMU's own BIOS,
/// once after the firmware's hand-off. That jumps into the firmware again without loading
/// it again, which it refuses with its failure code: the run stops before, at SeaBIOS.
pub fn run_until_seabios_boots_again(cmd: &mut Command) -> Result<ExitCode> {
    eprintln!(
        "xtask: QEMU's own SeaBIOS starts first and boots the firmware (-kernel); the firmware \
         hands off to SeaBIOS as under Xen. Both SeaBIOS runs log on this console."
    );
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start QEMU: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("QEMU's stdout is not piped")?;
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut boots = 0;
    while let Ok(n @ 1..) = std::io::Read::read(&mut stdout, &mut chunk) {
        xtask::write_to_terminal(&chunk[..n]);
        seen.extend_from_slice(&chunk[..n]);
        boots = String::from_utf8_lossy(&seen).matches(SEABIOS_BOOTS_KERNEL).count();
        if boots >= 2 {
            let _ = child.kill();
            break;
        }
    }
    let status = child.wait().map_err(|e| format!("waiting for QEMU: {e}"))?;
    if boots >= 2 {
        eprintln!(
            "\r\nxtask: SeaBIOS took over from the firmware and booted its first boot entry, \
             QEMU's -kernel, which is this firmware again: stopped there"
        );
        return Ok(ExitCode::SUCCESS);
    }
    Ok(report_exit(status))
}

/// QEMU's machine type for a `--machine` name.
pub fn machine(name: &str) -> Result<&'static str> {
    match name {
        "i440" | "i440fx" | "pc" => Ok("pc"),
        "q35" => Ok("q35"),
        other => Err(format!("unknown machine `{other}` (i440 or q35)")),
    }
}

/// Maps QEMU's exit status back to what ended the run.
pub fn report_exit(status: ExitStatus) -> ExitCode {
    match status.code() {
        Some(0) => {
            eprintln!("xtask: QEMU exited: the guest powered off");
            ExitCode::SUCCESS
        }
        Some(QEMU_EXIT_SUCCESS) => {
            eprintln!("xtask: firmware finished (success code)");
            ExitCode::SUCCESS
        }
        Some(QEMU_EXIT_FAILURE) => {
            eprintln!("xtask: firmware stopped with its failure code");
            ExitCode::FAILURE
        }
        _ => {
            eprintln!("xtask: QEMU ended with {status}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<(RunOptions, Vec<String>)> {
        RunOptions::parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn run_boots_the_linux_guest_by_default() {
        let (options, extra) = parse(&["--machine", "q35", "--", "-smp", "2"]).unwrap();
        assert_eq!((options.machine, options.payload), ("q35", Payload::Linux));
        assert_eq!(extra, ["-smp", "2"]);
        let (options, _) = parse(&["--firmware-only", "--cmdline", "loglevel=debug"]).unwrap();
        assert_eq!(options.payload, Payload::FirmwareOnly);
        assert_eq!(parse(&["--bios", "seabios"]).unwrap().0.payload, Payload::SeaBios);
    }

    #[test]
    fn run_refuses_guest_options_without_a_guest_and_unknown_values() {
        let error = parse(&["--firmware-only", "--kernel", "bzImage"]).unwrap_err();
        assert!(error.starts_with("--kernel, --initrd and --append are for"), "{error}");
        assert!(parse(&["--bios", "seabios", "--append", "quiet"]).is_err());
        assert_eq!(parse(&["--bios", "ovmf"]).unwrap_err(), "unknown --bios `ovmf` (seabios)");
        assert_eq!(
            parse(&["--machine", "isa"]).unwrap_err(),
            "unknown machine `isa` (i440 or q35)"
        );
        assert_eq!(parse(&["--append"]).unwrap_err(), "--append needs a value");
    }
}
