//! Looking at the machine from outside the firmware: QEMU's QMP monitor, asked after the
//! firmware has finished (it halts instead of exiting when no isa-debug-exit device exists).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A QEMU whose firmware has run to its end, with QMP on stdio.
pub struct Inspected {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    /// The firmware's serial log, CRs removed.
    pub serial: String,
}

impl Inspected {
    /// Boots `kernel` with `extra` arguments and waits for the firmware's last line
    /// (`boot: done:` or `fatal:`), at most `timeout`.
    pub fn boot(
        kernel: &Path,
        machine: &str,
        extra: &[&str],
        scratch: &Path,
        timeout: Duration,
    ) -> Self {
        let serial_path = scratch.join("serial.log");
        let _ = std::fs::remove_file(&serial_path);
        let mut child = Command::new("qemu-system-x86_64")
            .args(["-accel", "tcg", "-machine", machine, "-display", "none", "-no-reboot"])
            .arg("-serial")
            .arg(format!("file:{}", serial_path.display()))
            .args(["-qmp", "stdio", "-kernel"])
            .arg(kernel)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("qemu-system-x86_64 must be installed");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let started = Instant::now();
        let serial = loop {
            let log = std::fs::read_to_string(&serial_path).unwrap_or_default().replace('\r', "");
            if log.contains("boot: done:") || log.contains("fatal:") {
                break log;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("QEMU exited ({status}) before the firmware finished:\n{log}");
            }
            if started.elapsed() > timeout {
                let _ = child.kill();
                panic!("firmware did not finish within {timeout:?}:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut inspected = Inspected { child, stdin, lines, serial };
        inspected.execute("qmp_capabilities", json!({}));
        inspected
    }

    /// Runs one QMP command and returns its `return` value.
    pub fn execute(&mut self, command: &str, arguments: Value) -> Value {
        let request = json!({ "execute": command, "arguments": arguments });
        writeln!(self.stdin, "{request}").expect("write to QMP");
        loop {
            let line = self.lines.recv_timeout(Duration::from_secs(30)).expect("QMP answer");
            let value: Value = serde_json::from_str(&line).expect("QMP speaks JSON");
            if let Some(ret) = value.get("return") {
                return ret.clone();
            }
            if let Some(err) = value.get("error") {
                panic!("QMP {command} failed: {err}");
            }
            // Greeting and asynchronous events: not an answer.
        }
    }

    /// An HMP command through QMP, for what QMP has no query for (`info mtree`).
    pub fn hmp(&mut self, command_line: &str) -> String {
        let out = self.execute("human-monitor-command", json!({ "command-line": command_line }));
        out.as_str().unwrap_or_default().replace('\r', "")
    }
}

impl Drop for Inspected {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "{}", json!({ "execute": "quit" }));
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
