//! Helpers shared by the proxy test binaries that run `gauntlet` as processes.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gauntlet::proxy::core::Output;

pub const WAIT: Duration = Duration::from_secs(10);

/// The repository's root (tests run from it, and `.peers/` sits there).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A peer the test needs is missing: a notice and `None` (skip), or a
/// failure when GAUNTLET_REQUIRE_PEERS=1 (`scripts/test.sh` installs them all).
pub fn missing_peer<T>(msg: &str) -> Option<T> {
    if std::env::var("GAUNTLET_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("{msg}");
    }
    eprintln!("skipping: {msg}");
    None
}

/// Whether Debian's `redis-server` is here; when not, the same notice or failure as [`missing_peer`].
pub fn redis_server_installed() -> bool {
    let found = Command::new("redis-server").arg("--version").output().is_ok_and(|o| o.status.success());
    found || missing_peer::<()>("redis-server is not installed (scripts/install-peers.sh installs Debian's redis-server)").is_some()
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Kills a background process when the test ends, however it ends.
pub struct Background(pub Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a proxy core's outputs send to the agent, as text.
pub fn to_agent(out: &[Output]) -> Vec<String> {
    sent(out, true)
}

/// What a proxy core's outputs forward to the upstream server, as text.
pub fn to_upstream(out: &[Output]) -> Vec<String> {
    sent(out, false)
}

fn sent(out: &[Output], agent: bool) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::ToAgent(b) if agent => Some(String::from_utf8_lossy(b).into_owned()),
            Output::ToUpstream(b) if !agent => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
        .collect()
}

/// The bundled payments mock server.
pub fn payments() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("mock-servers/payments.yaml")
}

/// A server whose `slow` tool answers after 300 ms, while unknown methods are answered at once.
pub fn slow_server() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/slow-server.yaml")
}

/// A policy that lets `slow` (of [`slow_server`]) run three times an hour.
pub const THREE_AN_HOUR: &str = r#"version: "1"
tools:
  slow:
    rules:
      - name: three an hour
        rate_limit: 3/hour
"#;

/// A child process that is killed when the test lets go of it (even on panic),
/// with its stderr collected as it arrives.
pub struct Proc {
    pub child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Proc {
    pub fn spawn(cmd: &mut Command) -> Proc {
        let mut child = cmd.stderr(Stdio::piped()).spawn().expect("gauntlet starts");
        let pipe = child.stderr.take().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Proc { child, stderr }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stderr contains `needle`; returns all of stderr.
    pub fn wait_stderr(&self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = self.stderr();
            if text.contains(needle) {
                return text;
            }
            assert!(Instant::now() < deadline, "stderr never said `{needle}`; it said:\n{text}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The `host:port` printed on stderr after `prefix` (up to `/mcp`).
    pub fn address_after(&self, prefix: &str) -> String {
        let text = self.wait_stderr(prefix);
        let rest = &text[text.find(prefix).unwrap() + prefix.len()..];
        rest.split("/mcp").next().unwrap().to_string()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

