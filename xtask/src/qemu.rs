//! How the firmware is started in QEMU for `cargo xtask run`.

use std::path::Path;
use std::process::{Command, ExitCode, ExitStatus};

use crate::Result;

/// Exit statuses of QEMU's isa-debug-exit device for the firmware's two exit codes.
const QEMU_EXIT_SUCCESS: i32 = 33;
const QEMU_EXIT_FAILURE: i32 = 35;

pub struct RunOptions {
    /// i440 (QEMU `pc`) or q35, the names of the seed's device_model_machine.
    machine: &'static str,
    smp: String,
    mem: String,
    cmdline: Option<String>,
}

impl RunOptions {
    /// Parses `run`'s options; what follows `--` goes to QEMU unchanged.
    pub fn parse(args: &[String]) -> Result<(Self, Vec<String>)> {
        let mut options =
            RunOptions { machine: "pc", smp: "1".into(), mem: "512M".into(), cmdline: None };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value =
                |name: &str| it.next().cloned().ok_or_else(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--machine" => {
                    options.machine = match value("--machine")?.as_str() {
                        "i440" | "i440fx" | "pc" => "pc",
                        "q35" => "q35",
                        other => return Err(format!("unknown machine `{other}` (i440 or q35)")),
                    }
                }
                "--smp" => options.smp = value("--smp")?,
                "--mem" => options.mem = value("--mem")?,
                "--cmdline" => options.cmdline = Some(value("--cmdline")?),
                "--" => return Ok((options, it.cloned().collect())),
                other => return Err(format!("unknown run option `{other}`")),
            }
        }
        Ok((options, Vec::new()))
    }

    pub fn command(&self, image: &Path) -> Command {
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-accel", "tcg", "-machine", self.machine, "-smp", &self.smp, "-m", &self.mem])
            .args(["-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot"])
            .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
            .arg("-kernel")
            .arg(image);
        if let Some(cmdline) = &self.cmdline {
            cmd.args(["-append", cmdline]);
        }
        cmd
    }
}

/// Maps QEMU's exit status back to the firmware's verdict.
pub fn report_exit(status: ExitStatus) -> ExitCode {
    match status.code() {
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
