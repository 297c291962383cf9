//! `gauntlet proxy POLICY -- CMD ARGS…`: the upstream is a child process
//! speaking MCP over its stdin/stdout, the way MCP clients launch Intercept.
//!
//! Two reader threads (our stdin, the child's stdout) feed one locked
//! [`SharedPump`]; the main thread waits for the child. The child leads its
//! own process group: SIGINT and SIGTERM are forwarded to that whole group,
//! and [`GRACE`] later whatever is left of it is killed, so the proxy exits
//! within seconds of a signal whatever its children do, and leaves no
//! orphan behind. EOF on our stdin closes the child's stdin (and a child
//! still running [`GRACE`] later is stopped), and our exit status is the
//! child's (128 + signal when it was killed). A child that closes its stdout
//! while it runs gets every request answered with an error. When the child
//! exits, its group gets [`GRACE`] to close its stdout before it is killed
//! too (a `sleep 30 &` left behind would otherwise keep us waiting), and
//! every request still waiting is answered with a JSON-RPC error. The
//! child's stderr is inherited untouched. The command comes from our own
//! command line only, never from a message.

use std::io::{self, BufWriter, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::caller::CallContext;

use super::auditlog::AuditLog;
use super::core::ProxyCore;
use super::decider::StoreCalls;
use super::stdio::{write_message, SharedPump, UpstreamSink};

/// How long the upstream's process group gets after a signal, or after the
/// child itself exited, before what is left of it is killed.
pub const GRACE: Duration = Duration::from_secs(2);

/// How long after its stdout closed a child still running counts as running on without it.
const EXIT_AFTER_EOF: Duration = Duration::from_millis(200);

/// The child's process group to forward signals to (0: none). A static
/// because a signal handler can reach nothing else.
static CHILD_PGID: AtomicI32 = AtomicI32::new(0);
/// The first SIGINT/SIGTERM received (0: none).
static SIGNALLED: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward_signal(sig: libc::c_int) {
    let _ = SIGNALLED.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    signal_group(sig);
}

/// Sends `sig` to the child's whole process group.
fn signal_group(sig: libc::c_int) {
    let pgid = CHILD_PGID.load(Ordering::SeqCst);
    if pgid > 0 {
        // SAFETY: kill(2) is async-signal-safe; -pgid is the group our child leads.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }
}

/// Catches SIGINT and SIGTERM from before the child exists: a signal that
/// arrived between spawning it and installing the handler would otherwise
/// kill the proxy and leave the child's group running.
fn catch_signals() {
    let handler = forward_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: installing a handler that only performs async-signal-safe calls.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

/// From now on signals go to the child's group; one already caught is passed on.
fn forward_signals_to(pid: u32) {
    CHILD_PGID.store(i32::try_from(pid).unwrap_or(0), Ordering::SeqCst);
    let early = SIGNALLED.load(Ordering::SeqCst);
    if early != 0 {
        signal_group(early);
    }
}

/// The child's stdin as an upstream sink.
struct ChildInput(Option<BufWriter<ChildStdin>>);

impl UpstreamSink for ChildInput {
    fn send(&mut self, bytes: Vec<u8>) {
        if let Some(w) = self.0.as_mut() {
            // A dead child shows up as EOF on its stdout; the write error adds nothing.
            if write_message(w, &bytes).is_err() {
                self.0 = None;
            }
        }
    }

    fn flush(&mut self) {
        if let Some(w) = self.0.as_mut() {
            if w.flush().is_err() {
                self.0 = None;
            }
        }
    }

    fn close(&mut self) {
        if let Some(mut w) = self.0.take() {
            let _ = w.flush();
        }
    }
}

/// The exit code a shell would report for this status.
pub fn exit_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 1,
    }
}

pub struct ChildConfig {
    pub command: Vec<String>,
    pub ctx: CallContext,
    pub max_line: usize,
    /// Requests the upstream has not answered after this long get an error (`--call-timeout`).
    pub call_timeout: Option<Duration>,
}

/// Spawns the upstream; returns it with the shared pump already wired to it.
pub fn spawn(config: &ChildConfig, core: ProxyCore, audit: AuditLog, calls: StoreCalls) -> io::Result<(Child, SharedPump)> {
    let (program, args) = config
        .command
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no upstream command after `--`"))?;
    if super::log::enabled(super::log::Level::Info) {
        eprintln!("gauntlet proxy: starting upstream `{}`", config.command.join(" "));
    }
    catch_signals();
    let mut child = Command::new(program)
        .args(args)
        // Its own group, so a signal reaches its children too and none outlives us.
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot start upstream `{program}`: {e}")))?;
    forward_signals_to(child.id());
    let stdin = child.stdin.take().map(|s| BufWriter::with_capacity(1 << 16, s));
    let agent = BufWriter::with_capacity(1 << 16, io::stdout());
    let pump = SharedPump::new(core, audit, Box::new(agent), Box::new(ChildInput(stdin)), calls);
    Ok((child, pump))
}

/// What the serving loop waits on.
enum Happened {
    /// The child's stdout reached EOF (every line it wrote has been handled).
    UpstreamEof,
    /// Our stdin reached EOF: the agent hung up.
    AgentEof,
    Exited(io::Result<ExitStatus>),
}

/// Serves a spawned child until it exits; returns the exit code to use.
///
/// A child that closes its stdout but keeps running is noticed: every
/// request waiting, and every one forwarded after, is answered with an error.
/// When the agent hangs up, the child's stdin is closed and, as the MCP
/// stdio transport's shutdown goes, the child gets [`GRACE`] to exit before
/// its group is sent SIGTERM, and SIGKILL [`GRACE`] after that.
pub fn serve(mut child: Child, pump: SharedPump, config: &ChildConfig) -> io::Result<i32> {
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| io::Error::other("the upstream's stdout was not captured"))?;
    let (tx, happened) = mpsc::channel::<Happened>();

    let upstream_pump = pump.clone();
    let upstream_ctx = config.ctx.clone();
    let upstream_done = tx.clone();
    std::thread::spawn(move || {
        upstream_pump.run_upstream_side(stdout, &upstream_ctx);
        let _ = upstream_done.send(Happened::UpstreamEof);
    });
    std::thread::spawn(kill_group_after_signal);
    if let Some(timeout) = config.call_timeout {
        pump.expire_calls_every(timeout);
    }

    let agent_ctx = config.ctx.clone();
    let max_line = config.max_line;
    // Not joined: it may sit in a read of our stdin after the child is gone.
    let agent_pump = pump.clone();
    let agent_done = tx.clone();
    std::thread::spawn(move || {
        agent_pump.run_agent_side(io::stdin(), max_line, &agent_ctx);
        let _ = agent_done.send(Happened::AgentEof);
    });
    std::thread::spawn(move || {
        let _ = tx.send(Happened::Exited(child.wait()));
    });

    let mut upstream_eof = false;
    // After its stdout closed: when the child counts as running on without it.
    let mut silent_at: Option<Instant> = None;
    // Once the agent hung up: when to signal the child's group next, and with what.
    let mut stop: Option<(Instant, libc::c_int)> = None;
    let status = loop {
        let wake = [silent_at, stop.map(|(at, _)| at)].into_iter().flatten().min();
        let next = match wake {
            Some(at) => happened.recv_timeout(at.saturating_duration_since(Instant::now())),
            None => happened.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        match next {
            Ok(Happened::Exited(status)) => break status?,
            // A child exiting closes its stdout a moment before it is reaped.
            Ok(Happened::UpstreamEof) => (upstream_eof, silent_at) = (true, Some(Instant::now() + EXIT_AFTER_EOF)),
            Ok(Happened::AgentEof) => stop = Some((Instant::now() + GRACE, libc::SIGTERM)),
            Err(mpsc::RecvTimeoutError::Timeout) if silent_at.is_some_and(|at| at <= Instant::now()) => {
                silent_at = None;
                if super::log::enabled(super::log::Level::Warn) {
                    eprintln!("gauntlet proxy: the upstream closed its stdout but is still running: requests are answered with errors from now on");
                }
                pump.upstream_silent();
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Some((_, sig)) = stop {
                    if super::log::enabled(super::log::Level::Warn) {
                        let name = if sig == libc::SIGTERM { "SIGTERM" } else { "SIGKILL" };
                        eprintln!("gauntlet proxy: the agent hung up and the upstream is still running {} s later: sending it {name}", GRACE.as_secs());
                    }
                    signal_group(sig);
                    stop = (sig == libc::SIGTERM).then(|| (Instant::now() + GRACE, libc::SIGKILL));
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err(io::Error::other("lost track of the upstream")),
        }
    };
    // The child's last lines are still in the pipe: deliver them before
    // exiting, but do not wait on what it left running to close the pipe.
    let mut closed = |wait: Duration| {
        let deadline = Instant::now() + wait;
        while !upstream_eof {
            match happened.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(h) => upstream_eof = matches!(h, Happened::UpstreamEof),
                Err(_) => break,
            }
        }
        upstream_eof
    };
    if !closed(GRACE) {
        signal_group(libc::SIGTERM);
        if !closed(GRACE / 2) {
            signal_group(libc::SIGKILL);
            let _ = closed(GRACE / 4);
        }
    }
    CHILD_PGID.store(0, Ordering::SeqCst);
    // Calls still being decided are forwarded (into the closed pipe) first, so they are answered below.
    pump.drain_decisions();
    pump.upstream_gone();
    Ok(exit_code(status))
}

/// After the first SIGINT/SIGTERM, gives the group [`GRACE`] to exit, then kills it.
fn kill_group_after_signal() {
    while SIGNALLED.load(Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline {
        if CHILD_PGID.load(Ordering::SeqCst) == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_group(libc::SIGKILL);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        let ok = Command::new("sh").args(["-c", "exit 3"]).status().unwrap();
        assert_eq!(exit_code(ok), 3);
        let killed = Command::new("sh").args(["-c", "kill -TERM $$"]).status().unwrap();
        assert_eq!(exit_code(killed), 128 + libc::SIGTERM);
    }
}
