//! A QEMU guest driven over QMP on stdio, and reading its physical memory.
//!
//! Std only: the few QMP commands used here (`qmp_capabilities`, `stop`, `pmemsave`, `quit`)
//! all answer `{"return": {}}` or `{"error": {...}}`, so the answer is classified by its first
//! key instead of parsing JSON.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use crate::Result;

/// How long one QMP command may take (pmemsave of a table is instant; this only catches a
/// QEMU that stopped answering).
const QMP_ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// Physical memory of a guest, however it is read.
pub trait GuestMemory {
    fn read(&mut self, address: u64, length: usize) -> Result<Vec<u8>>;
}

/// A running QEMU with QMP on stdio and COM1 going to a file.
pub struct Vm {
    child: Child,
    stdin: ChildStdin,
    answers: Receiver<String>,
    serial_path: PathBuf,
    /// Scratch file for pmemsave (QMP can only dump memory into a file).
    scratch: PathBuf,
}

impl Vm {
    /// Starts `qemu-system-x86_64` with `args` (machine, memory, devices, -kernel...) plus
    /// what this module needs: no display, no reboot, QMP on stdio, serial into `work_dir`.
    pub fn start(args: &[String], work_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(work_dir).map_err(|e| format!("{}: {e}", work_dir.display()))?;
        let serial_path = work_dir.join("serial.log");
        let _ = std::fs::remove_file(&serial_path);
        let mut child = Command::new("qemu-system-x86_64")
            .args(["-accel", "tcg", "-display", "none", "-no-reboot", "-qmp", "stdio"])
            .arg("-serial")
            .arg(format!("file:{}", serial_path.display()))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start qemu-system-x86_64: {e}"))?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, answers) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(std::result::Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut vm =
            Vm { child, stdin, answers, serial_path, scratch: work_dir.join(".pmemsave.bin") };
        vm.execute("qmp_capabilities", "{}")?;
        Ok(vm)
    }

    /// Everything the guest wrote to COM1 so far, CRs removed.
    pub fn serial(&self) -> String {
        std::fs::read_to_string(&self.serial_path).unwrap_or_default().replace('\r', "")
    }

    /// Waits until the serial log holds one of `markers`; returns the log.
    pub fn wait_for_serial(&mut self, markers: &[&str], timeout: Duration) -> Result<String> {
        let started = Instant::now();
        loop {
            let log = self.serial();
            if markers.iter().any(|m| log.contains(m)) {
                return Ok(log);
            }
            self.check_running(&log)?;
            if started.elapsed() > timeout {
                return Err(format!(
                    "none of {markers:?} on the serial console within {timeout:?}:\n{log}"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn check_running(&mut self, log: &str) -> Result<()> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(format!("QEMU exited ({status}); serial log:\n{log}")),
            _ => Ok(()),
        }
    }

    /// Pauses the vCPUs, so that what is read next is one consistent snapshot.
    pub fn stop(&mut self) -> Result<()> {
        self.execute("stop", "{}")
    }

    /// Runs one QMP command (`arguments` is a JSON object) and waits for its answer.
    fn execute(&mut self, command: &str, arguments: &str) -> Result<()> {
        let request = format!(r#"{{"execute": "{command}", "arguments": {arguments}}}"#);
        writeln!(self.stdin, "{request}").map_err(|e| format!("QMP {command}: {e}"))?;
        let deadline = Instant::now() + QMP_ANSWER_TIMEOUT;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            let line = match self.answers.recv_timeout(wait) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("QMP {command}: no answer within {QMP_ANSWER_TIMEOUT:?}"));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("QMP {command}: QEMU closed its QMP stream"));
                }
            };
            match first_key(&line) {
                Some("return") => return Ok(()),
                Some("error") => return Err(format!("QMP {command} failed: {line}")),
                // The greeting and asynchronous events (STOP, RESUME...) are not answers.
                _ => continue,
            }
        }
    }
}

impl GuestMemory for Vm {
    fn read(&mut self, address: u64, length: usize) -> Result<Vec<u8>> {
        let _ = std::fs::remove_file(&self.scratch);
        let arguments = format!(
            r#"{{"val": {address}, "size": {length}, "filename": {}}}"#,
            json_string(&self.scratch.to_string_lossy())
        );
        self.execute("pmemsave", &arguments)?;
        let bytes = std::fs::read(&self.scratch)
            .map_err(|e| format!("pmemsave {address:#x}+{length:#x}: {e}"))?;
        let _ = std::fs::remove_file(&self.scratch);
        if bytes.len() != length {
            return Err(format!(
                "pmemsave {address:#x}: {} bytes instead of {length}",
                bytes.len()
            ));
        }
        Ok(bytes)
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.execute("quit", "{}");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first key of a one-line JSON object: `{"return": {}}` -> `return`.
fn first_key(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix('{')?.trim_start().strip_prefix('"')?;
    rest.split('"').next()
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_by_their_first_key() {
        assert_eq!(first_key(r#"{"return": {}}"#), Some("return"));
        assert_eq!(first_key(r#"{"error": {"class": "GenericError"}}"#), Some("error"));
        assert_eq!(first_key(r#"{"QMP": {"version": {}}}"#), Some("QMP"));
        assert_eq!(first_key("garbage"), None);
    }

    #[test]
    fn paths_are_escaped_for_json() {
        assert_eq!(json_string(r#"/tmp/a "b"\c"#), r#""/tmp/a \"b\"\\c""#);
    }
}
