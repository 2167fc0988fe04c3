//! A QEMU guest driven over QMP on stdio: commands and their answers, events, COM1 in a
//! file, and reading guest physical memory. The one QMP client of the workspace: `cargo
//! xtask acpi-dump` and `bench` use it, and so do the integration tests.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::Result;

/// QEMU options for a guest nobody looks at: TCG, no display, and a reset ends QEMU.
pub const HEADLESS_TCG: [&str; 5] = ["-accel", "tcg", "-display", "none", "-no-reboot"];

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
    /// QMP events seen so far, oldest first.
    pub events: Vec<Value>,
}

impl Vm {
    /// Starts `qemu-system-x86_64` with `args` (accelerator, machine, devices, -kernel...)
    /// plus QMP on stdio and COM1 into `work_dir/serial.log`.
    pub fn start<S: AsRef<OsStr>>(args: &[S], work_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(work_dir).map_err(|e| format!("{}: {e}", work_dir.display()))?;
        let serial_path = work_dir.join("serial.log");
        let _ = std::fs::remove_file(&serial_path);
        let mut child = Command::new("qemu-system-x86_64")
            .args(["-qmp", "stdio"])
            .arg("-serial")
            .arg(format!("file:{}", serial_path.display()))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start qemu-system-x86_64 (.ci/run installs it): {e}"))?;
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
        let scratch = work_dir.join(".pmemsave.bin");
        let mut vm = Vm { child, stdin, answers, serial_path, scratch, events: Vec::new() };
        vm.execute("qmp_capabilities", json!({}))?;
        Ok(vm)
    }

    /// Everything the guest wrote to COM1 so far, CRs removed.
    pub fn serial(&self) -> String {
        std::fs::read_to_string(&self.serial_path).unwrap_or_default().replace('\r', "")
    }

    /// Waits until the serial log holds one of `markers`; returns the log.
    pub fn wait_for_serial(&mut self, markers: &[&str], timeout: Duration) -> Result<String> {
        let what = format!("any of {markers:?} on the serial console");
        self.wait_until(&what, timeout, |log| markers.iter().any(|m| log.contains(m)))
    }

    /// Waits until `ready` holds for the serial log, at most `timeout`, and returns the log;
    /// the error names `what` and shows the log's tail if time runs out or QEMU exits.
    pub fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        ready: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let started = Instant::now();
        loop {
            let log = self.serial();
            if ready(&log) {
                return Ok(log);
            }
            self.check_running(&log).map_err(|e| format!("waiting for {what}: {e}"))?;
            if started.elapsed() > timeout {
                return Err(format!(
                    "no {what} within {timeout:?}; serial log (last 80 lines):\n{}",
                    tail(&log, 80)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// An error with `log` if QEMU has exited.
    pub fn check_running(&mut self, log: &str) -> Result<()> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(format!("QEMU exited ({status}); serial log:\n{log}")),
            _ => Ok(()),
        }
    }

    /// Pauses the vCPUs, so that what is read next is one consistent snapshot.
    pub fn stop(&mut self) -> Result<()> {
        self.execute("stop", json!({})).map(drop)
    }

    /// Runs one QMP command (`arguments` is a JSON object) and returns its `return` value;
    /// events that come meanwhile are kept in [`Vm::events`].
    pub fn execute(&mut self, command: &str, arguments: Value) -> Result<Value> {
        let request = json!({ "execute": command, "arguments": arguments });
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
            match Answer::parse(&line) {
                Answer::Return(value) => return Ok(value),
                Answer::Error(error) => return Err(format!("QMP {command} failed: {error}")),
                Answer::Event(event) => self.events.push(event),
                Answer::Other => {}
            }
        }
    }

    /// An HMP command through QMP, for what QMP has no query for (`info mtree`).
    pub fn hmp(&mut self, command_line: &str) -> Result<String> {
        let out = self.execute("human-monitor-command", json!({ "command-line": command_line }))?;
        Ok(out.as_str().unwrap_or_default().replace('\r', ""))
    }

    /// Waits for a QMP event `wanted` accepts (or returns it if it already came), at most
    /// `timeout`.
    pub fn wait_for_event(
        &mut self,
        timeout: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(event) = self.events.iter().find(|e| wanted(e)) {
                return Some(event.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.answers.recv_timeout(left) {
                Ok(line) => {
                    if let Answer::Event(event) = Answer::parse(&line) {
                        self.events.push(event);
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Waits for QEMU to exit by itself, at most `timeout`: its exit status, or `None` if it
    /// was still running (it is then killed).
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<i32> {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }

    /// Asks QEMU to quit and waits for it to exit (its trace file is then complete).
    pub fn quit(mut self, timeout: Duration) {
        let _ = writeln!(self.stdin, "{}", json!({ "execute": "quit" }));
        self.wait_for_exit(timeout);
    }
}

impl GuestMemory for Vm {
    fn read(&mut self, address: u64, length: usize) -> Result<Vec<u8>> {
        let _ = std::fs::remove_file(&self.scratch);
        let filename = self.scratch.to_string_lossy().into_owned();
        self.execute("pmemsave", json!({ "val": address, "size": length, "filename": filename }))?;
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
        if let Ok(None) = self.child.try_wait() {
            let _ = writeln!(self.stdin, "{}", json!({ "execute": "quit" }));
            self.wait_for_exit(Duration::from_secs(5));
        }
    }
}

/// One line QEMU's QMP sends.
#[derive(Debug, PartialEq)]
enum Answer {
    Return(Value),
    Error(Value),
    Event(Value),
    /// The greeting, or a line that is not JSON.
    Other,
}

impl Answer {
    fn parse(line: &str) -> Answer {
        let Ok(mut value) = serde_json::from_str::<Value>(line) else { return Answer::Other };
        if let Some(ret) = value.get_mut("return") {
            Answer::Return(ret.take())
        } else if let Some(error) = value.get_mut("error") {
            Answer::Error(error.take())
        } else if value.get("event").is_some() {
            Answer::Event(value)
        } else {
            Answer::Other
        }
    }
}

/// The last `lines` lines of `text`, for failure messages.
pub fn tail(text: &str, lines: usize) -> &str {
    let mut start = text.len();
    for _ in 0..lines {
        match text[..start].rfind('\n') {
            Some(at) => start = at,
            None => return text,
        }
    }
    &text[start + 1..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_events_and_greetings_are_told_apart() {
        assert_eq!(Answer::parse(r#"{"return": {"a": 1}}"#), Answer::Return(json!({"a": 1})));
        let error = Answer::parse(r#"{"error": {"class": "GenericError", "desc": "x"}}"#);
        assert_eq!(error, Answer::Error(json!({"class": "GenericError", "desc": "x"})));
        let event = r#"{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}}"#;
        assert!(matches!(Answer::parse(event), Answer::Event(e) if e["event"] == "STOP"));
        assert_eq!(Answer::parse(r#"{"QMP": {"version": {}}}"#), Answer::Other);
        assert_eq!(Answer::parse("garbage"), Answer::Other);
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\nd", 2), "c\nd");
        assert_eq!(tail("a\nb", 5), "a\nb");
    }
}
