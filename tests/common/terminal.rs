//! A command driven the way a person at a terminal drives it: `cargo xtask ...` started as
//! typed, lines sent to its stdin once the expected output came, its output read back.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One running command. Dropping it kills its whole process group (cargo, xtask, QEMU).
pub struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// Where in stdout the next [`Session::wait_for`] starts looking.
    seen: usize,
    started: Instant,
}

impl Session {
    /// `cargo xtask <args>` in the workspace, stdin and stdout piped, in a process group of
    /// its own.
    pub fn xtask(args: &[&str]) -> Session {
        let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cmd.arg("xtask").args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
        Session::start(cmd)
    }

    pub fn start(mut cmd: Command) -> Session {
        let mut child = cmd
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let collect = |mut from: Box<dyn Read + Send>| {
            let into = Arc::new(Mutex::new(Vec::new()));
            let sink = Arc::clone(&into);
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n @ 1..) = from.read(&mut chunk) {
                    sink.lock().unwrap().extend_from_slice(&chunk[..n]);
                }
            });
            into
        };
        let stdout = collect(Box::new(child.stdout.take().expect("piped")));
        let stderr = collect(Box::new(child.stderr.take().expect("piped")));
        let stdin = child.stdin.take();
        Session { child, stdin, stdout, stderr, seen: 0, started: Instant::now() }
    }

    /// Everything on stdout so far, CRs removed.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).replace('\r', "")
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).replace('\r', "")
    }

    /// Waits until `needle` appears on stdout (CRs removed) after what earlier waits
    /// consumed; returns the output from there to the end of the needle. Panics, with both
    /// outputs, on a timeout or when the command ends first.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.stdout();
            let fresh = text.get(self.seen..).unwrap_or_default();
            if let Some(at) = fresh.find(needle) {
                let through = at + needle.len();
                self.seen += through;
                return fresh[..through].to_string();
            }
            let ended = self.child.try_wait().expect("wait for the command").is_some();
            if ended || Instant::now() > deadline {
                panic!(
                    "`{needle}` {} after {:?}\n--- stdout ---\n{text}\n--- stderr ---\n{}",
                    if ended { "never came: the command ended" } else { "did not come" },
                    self.started.elapsed(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `line` and a newline, as typed.
    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(format!("{line}\n").as_bytes()).expect("write to the command");
        stdin.flush().expect("flush the command's stdin");
    }

    /// Waits for the command to exit (stdin closed first), at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        drop(self.stdin.take());
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the command") {
                // Let the readers take the last bytes.
                std::thread::sleep(Duration::from_millis(100));
                return status;
            }
            if Instant::now() > deadline {
                panic!(
                    "the command did not exit within {timeout:?}\n--- stdout ---\n{}\n--- stderr \
                     ---\n{}",
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            // The whole group: cargo, xtask and the QEMU it started.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .status();
            let _ = self.child.wait();
        }
    }
}
