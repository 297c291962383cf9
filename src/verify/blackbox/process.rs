//! One proxy process the agent talks to over stdio: spawned in its own process
//! group (so its children go when it goes), stdout read by a thread into a
//! shared inbox, stderr kept in a file whose tail explains a failure.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// What the reader threads of one run share with the driver.
#[derive(Default)]
pub struct Inbox {
    state: Mutex<InboxState>,
    changed: Condvar,
}

#[derive(Default)]
struct InboxState {
    messages: Vec<Vec<u8>>,
    /// Request ids (as JSON text) sent and not yet answered.
    pending: HashSet<String>,
    /// Lines on stdout that were not JSON: a proxy that logs to stdout corrupts the stream.
    noise: usize,
    /// Stdout closed: nothing more will arrive.
    eof: bool,
}

impl Inbox {
    pub fn take(&self) -> Vec<Vec<u8>> {
        self.state.lock().map(|mut s| std::mem::take(&mut s.messages)).unwrap_or_default()
    }

    pub fn pending(&self) -> usize {
        self.state.lock().map(|s| s.pending.len()).unwrap_or(0)
    }

    pub fn noise(&self) -> usize {
        self.state.lock().map(|s| s.noise).unwrap_or(0)
    }

    pub(super) fn expect(&self, ids: impl IntoIterator<Item = String>) {
        if let Ok(mut s) = self.state.lock() {
            s.pending.extend(ids);
        }
    }

    pub(super) fn deliver(&self, line: Vec<u8>) {
        let Ok(mut s) = self.state.lock() else { return };
        match serde_json::from_slice::<Value>(&line) {
            Ok(v) => {
                for m in messages(&v) {
                    if m.get("result").is_some() || m.get("error").is_some() {
                        if let Some(id) = m.get("id") {
                            s.pending.remove(&id.to_string());
                        }
                    }
                }
                s.messages.push(line);
            }
            Err(_) => s.noise += 1,
        }
        self.changed.notify_all();
    }

    /// Waits until `done` holds, stdout closes or `deadline` passes; true when it held.
    pub fn wait_until(&self, deadline: Instant, done: impl Fn(&HashSet<String>) -> bool) -> bool {
        let Ok(mut s) = self.state.lock() else { return false };
        loop {
            if done(&s.pending) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline || s.eof {
                return false;
            }
            s = match self.changed.wait_timeout(s, deadline - now) {
                Ok((g, _)) => g,
                Err(_) => return false,
            };
        }
    }

    pub(super) fn closed(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.eof = true;
        }
        self.changed.notify_all();
    }
}

/// The requests (with ids) in one line the agent sends: one object or a batch.
pub fn request_ids(line: &[u8]) -> Vec<String> {
    serde_json::from_slice::<Value>(line).map(|v| ids_in(&v)).unwrap_or_default()
}

/// The request ids (as JSON text) in one parsed line: one object or a batch.
pub fn ids_in(v: &Value) -> Vec<String> {
    messages(v)
        .filter(|m| m.get("method").is_some())
        .filter_map(|m| m.get("id").filter(|id| !id.is_null()).map(Value::to_string))
        .collect()
}

fn messages(v: &Value) -> impl Iterator<Item = &Value> {
    match v {
        Value::Array(items) => items.iter().collect::<Vec<_>>().into_iter(),
        other => vec![other].into_iter(),
    }
}

/// How many proxies may be starting (spawned, `initialize` not yet answered)
/// at once in this process: a few dozen interpreters starting together on a
/// small machine starve each other past any start-up timeout.
pub struct StartSlots {
    free: Mutex<usize>,
    released: Condvar,
}

/// Held while one proxy starts; dropping it frees the slot.
pub struct StartSlot<'a>(&'a StartSlots);

impl StartSlots {
    pub const fn new(n: usize) -> StartSlots {
        StartSlots { free: Mutex::new(n), released: Condvar::new() }
    }

    pub fn take(&self) -> StartSlot<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.released.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        StartSlot(self)
    }
}

impl Drop for StartSlot<'_> {
    fn drop(&mut self) {
        let mut free = self.0.free.lock().unwrap_or_else(|e| e.into_inner());
        *free += 1;
        self.0.released.notify_one();
    }
}

/// The process-wide start slots of black-box runs.
pub static STARTING: StartSlots = StartSlots::new(4);

/// A running proxy process.
pub struct ProxyProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stderr: PathBuf,
    inbox: Arc<Inbox>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl ProxyProcess {
    /// Starts `argv` (in the current directory, where the user wrote the
    /// command's relative paths) with `HOME` set to `home`; stderr goes to `stderr`.
    pub fn spawn(argv: &[String], home: &Path, stderr: &Path, inbox: Arc<Inbox>) -> Result<ProxyProcess, String> {
        Self::spawn_with(argv, home, &[], stderr, inbox)
    }

    /// [`ProxyProcess::spawn`] with more environment variables (a fake clock's).
    pub fn spawn_with(argv: &[String], home: &Path, env: &[(String, String)], stderr: &Path, inbox: Arc<Inbox>) -> Result<ProxyProcess, String> {
        let (program, args) = argv.split_first().ok_or("the proxy command is empty")?;
        let err = std::fs::File::create(stderr).map_err(|e| format!("{}: {e}", stderr.display()))?;
        let mut child = Command::new(program)
            .args(args)
            .env("HOME", home)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start the proxy `{program}`: {e}"))?;
        let stdout = child.stdout.take().ok_or("the proxy has no stdout")?;
        let sink = inbox.clone();
        let reader = std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout);
            let mut buf = Vec::new();
            while lines.read_until(b'\n', &mut buf).is_ok_and(|n| n > 0) {
                let line = buf.trim_ascii().to_vec();
                if !line.is_empty() {
                    sink.deliver(line);
                }
                buf.clear();
            }
            sink.closed();
        });
        Ok(ProxyProcess { stdin: child.stdin.take(), child, stderr: stderr.to_path_buf(), inbox, reader: Some(reader) })
    }

    /// Writes one line; its request ids are awaited from then on.
    pub fn send(&mut self, line: &[u8]) -> Result<(), String> {
        self.inbox.expect(request_ids(line));
        let stdin = self.stdin.as_mut().ok_or("the proxy's stdin is closed")?;
        stdin
            .write_all(line)
            .and_then(|_| stdin.write_all(b"\n"))
            .and_then(|_| stdin.flush())
            .map_err(|e| format!("the proxy stopped reading its stdin: {e}"))
    }

    /// Whether the process has exited (and how).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Closes stdin, gives the process `grace` to exit, then ends its whole group.
    pub fn stop(&mut self, grace: Duration) {
        self.stdin = None;
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.exited().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let pgid = self.child.id() as libc::pid_t;
        // SAFETY: signalling a process group we created; no memory is touched.
        unsafe {
            libc::killpg(pgid, libc::SIGTERM);
        }
        let term_deadline = Instant::now() + Duration::from_millis(500);
        while Instant::now() < term_deadline && self.exited().is_none() {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill();
    }

    /// Ends its whole group at once (SIGKILL), as a crash or an OOM kill does.
    pub fn kill(&mut self) {
        self.stdin = None;
        // SAFETY: signalling a process group we created; it may already be
        // gone, which killpg reports harmlessly.
        unsafe {
            libc::killpg(self.child.id() as libc::pid_t, libc::SIGKILL);
        }
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }

    /// The last lines the proxy wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        tail(&self.stderr, 12)
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        if self.reader.is_some() {
            self.stop(Duration::ZERO);
        }
    }
}

/// Waits until something accepts TCP connections at `addr` (`host:port`).
pub fn wait_listening(addr: &str, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        match std::net::TcpStream::connect(addr) {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(format!("nothing listens at {addr} after {}s ({e})", timeout.as_secs())),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// The last `n` lines of a file, for error messages.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return "(nothing on stderr)".into();
    }
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_of_objects_and_batches() {
        assert_eq!(request_ids(br#"{"jsonrpc":"2.0","id":7,"method":"tools/call"}"#), vec!["7"]);
        assert_eq!(request_ids(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#), Vec::<String>::new());
        assert_eq!(request_ids(br#"[{"id":"a","method":"x"},{"id":2,"method":"y"}]"#), vec!["\"a\"", "2"]);
        assert!(request_ids(b"not json").is_empty());
    }

    #[test]
    fn an_answer_clears_its_pending_id_and_noise_is_counted() {
        let inbox = Inbox::default();
        inbox.expect(["7".to_string()]);
        inbox.deliver(b"log line on stdout".to_vec());
        assert_eq!((inbox.pending(), inbox.noise()), (1, 1));
        inbox.deliver(br#"{"jsonrpc":"2.0","id":7,"result":{}}"#.to_vec());
        assert_eq!(inbox.pending(), 0);
        assert_eq!(inbox.take().len(), 1);
    }

    #[test]
    fn a_process_group_is_ended_even_when_the_child_ignores_stdin_closing() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = Arc::new(Inbox::default());
        let argv: Vec<String> = ["sh", "-c", "trap '' TERM; sleep 30 & wait"].map(String::from).to_vec();
        let mut p = ProxyProcess::spawn(&argv, dir.path(), &dir.path().join("err"), inbox).unwrap();
        let t = Instant::now();
        p.stop(Duration::from_millis(100));
        assert!(p.exited().is_some());
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
