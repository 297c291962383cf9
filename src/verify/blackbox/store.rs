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

pub struct Store {
    child: Option<Child>,
    port: u16,
    dsn: String,
    dir: PathBuf,
    hung: bool,
}

impl Store {
    /// Starts a fresh store keeping its files in `dir`.
    pub fn start(dir: &Path, port: u16) -> Result<Store, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut store = Store { child: None, port, dsn: format!("redis://127.0.0.1:{port}/0"), dir: dir.to_path_buf(), hung: false };
        store.spawn()?;
        Ok(store)
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
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if self.command(b"*1\r\n$4\r\nPING\r\n").is_ok_and(|r| r.starts_with("+PONG")) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(format!("redis-server did not answer on port {} within {}s", self.port, WAIT.as_secs()))
    }

    /// One RESP command; the first line of its answer.
    fn command(&self, resp: &[u8]) -> std::io::Result<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        s.write_all(resp)?;
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// The store fails: it saves what it holds and exits; connections are refused.
    pub fn fail(&mut self) -> Result<(), String> {
        // The server closes the connection without answering when it shuts down.
        let _ = self.command(b"*2\r\n$8\r\nSHUTDOWN\r\n$4\r\nSAVE\r\n");
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
