//! The state store a black-box run hands its proxy as `{state_dsn}`: a
//! `redis-server` of the run's own on a free loopback port. Fault runs make
//! it fail (shut down with its data saved, so the counters outlive the
//! outage as a real store's do, and started again from them) or hang
//! (SIGSTOP: connections are accepted and nothing is answered), and bring
//! it back, on the scenario's schedule.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the store may take to start or to save and exit.
const WAIT: Duration = Duration::from_secs(10);

/// Ports a store is tried on before its start is an error.
const PORT_TRIES: usize = 5;

pub struct Store {
    child: Option<Child>,
    port: u16,
    dsn: String,
    dir: PathBuf,
    hung: bool,
}

impl Store {
    /// Starts a fresh store keeping its files in `dir`, on a port from
    /// `free_port`. A port found free can be taken again before the store
    /// binds it (by another run's store, in this process or another), so a
    /// store that finds its port taken is started again on another one.
    pub fn start(dir: &Path, mut free_port: impl FnMut() -> Result<u16, String>) -> Result<Store, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut last = String::new();
        for _ in 0..PORT_TRIES {
            let port = free_port()?;
            let mut store = Store { child: None, port, dsn: format!("redis://127.0.0.1:{port}/0"), dir: dir.to_path_buf(), hung: false };
            match store.spawn() {
                Ok(()) => return Ok(store),
                Err(why) => last = why,
            }
        }
        Err(last)
    }

    /// The DSN the proxy is given.
    pub fn dsn(&self) -> &str {
        &self.dsn
    }

    fn spawn(&mut self) -> Result<(), String> {
        let log = std::fs::File::create(self.dir.join("redis.log")).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--save", "", "--appendonly", "no", "--dbfilename", "dump.rdb"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{{state_dsn}} needs redis-server on PATH (scripts/install-peers.sh installs it): {e}"))?;
        let pid = child.id();
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            // Whoever answers must be this store: another's on the same port
            // would share counters with this run, and not fail on its cue.
            match self.answering_pid() {
                Some(answering) if answering == pid => return Ok(()),
                Some(_) => return Err(self.abandon(format!("port {} is another redis-server's", self.port))),
                None => {}
            }
            if self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()).is_some() {
                return Err(self.abandon(format!("redis-server exited at start on port {} (see {})", self.port, self.dir.join("redis.log").display())));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(self.abandon(format!("redis-server did not answer on port {} within {}s", self.port, WAIT.as_secs())))
    }

    /// Ends a store that did not start as this run's, and says why.
    fn abandon(&mut self, why: String) -> String {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        why
    }

    /// The process id of the redis-server answering on the store's port.
    fn answering_pid(&self) -> Option<u32> {
        self.command(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n", process_id)
    }

    /// One RESP command; its answer read until `whole` finds what it needs
    /// in it (an `INFO` answer is a kilobyte or two), or the server closes
    /// the connection.
    fn command<T>(&self, resp: &[u8], whole: impl Fn(&str) -> Option<T>) -> Option<T> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        s.write_all(resp).ok()?;
        let mut text = Vec::new();
        let mut buf = [0u8; 4096];
        while text.len() < 64 * 1024 {
            let n = s.read(&mut buf).ok().filter(|&n| n > 0)?;
            text.extend_from_slice(&buf[..n]);
            if let Some(found) = whole(&String::from_utf8_lossy(&text)) {
                return Some(found);
            }
        }
        None
    }

    /// The store fails: it saves what it holds and exits; connections are refused.
    pub fn fail(&mut self) -> Result<(), String> {
        // The server closes the connection without answering when it shuts down.
        self.command(b"*2\r\n$8\r\nSHUTDOWN\r\n$4\r\nSAVE\r\n", |_| Some(()));
        let Some(mut child) = self.child.take() else { return Ok(()) };
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if child.try_wait().ok().flatten().is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err("redis-server did not save and exit when told to fail".into())
    }

    /// The store hangs: it accepts connections and answers nothing.
    pub fn hang(&mut self) {
        self.signal(libc::SIGSTOP);
        self.hung = true;
    }

    /// The store is back: a hung one resumes, a failed one starts from its saved data.
    pub fn recover(&mut self) -> Result<(), String> {
        if self.hung {
            self.signal(libc::SIGCONT);
            self.hung = false;
        }
        match self.child {
            Some(_) => Ok(()),
            None => self.spawn(),
        }
    }

    fn signal(&self, sig: libc::c_int) {
        if let Some(child) = &self.child {
            // SAFETY: signalling the child we started; no memory is touched.
            unsafe {
                libc::kill(child.id() as libc::pid_t, sig);
            }
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if self.hung {
            self.signal(libc::SIGCONT);
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `process_id` of an `INFO server` answer, once its line is complete.
fn process_id(info: &str) -> Option<u32> {
    let rest = info.split("\r\nprocess_id:").nth(1)?;
    let (id, _) = rest.split_once("\r\n")?;
    id.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redis_server() -> bool {
        let found = Command::new("redis-server").arg("--version").output().is_ok_and(|o| o.status.success());
        assert!(found || std::env::var_os("GAUNTLET_REQUIRE_PEERS").is_none(), "redis-server is not installed (scripts/install-peers.sh)");
        found
    }

    fn free_port() -> Result<u16, String> {
        Ok(std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port())
    }

    #[test]
    fn a_store_whose_port_was_taken_meanwhile_starts_on_another_and_is_its_own() {
        if !redis_server() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let first = Store::start(&dir.path().join("a"), free_port).unwrap();
        // The second is offered the first's port before a free one, as a racing run may be.
        let mut offers = vec![free_port().unwrap(), first.port];
        let second = Store::start(&dir.path().join("b"), || offers.pop().ok_or("no port".to_string())).unwrap();
        assert_ne!(second.port, first.port);
        assert_eq!(second.answering_pid(), second.child.as_ref().map(Child::id));
        assert_eq!(first.answering_pid(), first.child.as_ref().map(Child::id));
        assert_eq!(process_id("$20\r\n# Server\r\nprocess_id:42\r\n"), Some(42));
        assert_eq!(process_id("$20\r\n# Server\r\nprocess_id:4"), None, "a line cut off by the read is not a pid yet");
    }
}
