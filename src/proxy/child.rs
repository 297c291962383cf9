//! `gauntlet proxy POLICY -- CMD ARGS…`: the upstream is a child process
//! speaking MCP over its stdin/stdout, the way MCP clients launch Intercept.
//!
//! Two reader threads (our stdin, the child's stdout) feed one locked
//! [`SharedPump`]; the main thread waits for the child. SIGINT and SIGTERM
//! are forwarded to the child, EOF on our stdin closes the child's stdin,
//! and our exit status is the child's (128 + signal when it was killed).
//! The child's stderr is inherited untouched. The command comes from our own
//! command line only, never from a message.

use std::io::{self, BufWriter, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};

use crate::engine::CallContext;

use super::auditlog::AuditLog;
use super::core::ProxyCore;
use super::stdio::{write_message, SharedPump, UpstreamSink};

/// The child to forward signals to (0: none). A static because a signal
/// handler can reach nothing else.
static CHILD_PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward_signal(sig: libc::c_int) {
    let pid = CHILD_PID.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe; pid is our own child.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

fn forward_signals_to(pid: u32) {
    CHILD_PID.store(i32::try_from(pid).unwrap_or(0), Ordering::SeqCst);
    let handler = forward_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: installing a handler that only performs an async-signal-safe call.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
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
}

/// Spawns the upstream; returns it with the shared pump already wired to it.
pub fn spawn(config: &ChildConfig, core: ProxyCore, audit: AuditLog) -> io::Result<(Child, SharedPump)> {
    let (program, args) = config
        .command
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no upstream command after `--`"))?;
    if super::log::enabled(super::log::Level::Info) {
        eprintln!("gauntlet proxy: starting upstream `{}`", config.command.join(" "));
    }
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot start upstream `{program}`: {e}")))?;
    forward_signals_to(child.id());
    let stdin = child.stdin.take().map(|s| BufWriter::with_capacity(1 << 16, s));
    let agent = BufWriter::with_capacity(1 << 16, io::stdout());
    let pump = SharedPump::new(core, audit, Box::new(agent), Box::new(ChildInput(stdin)));
    Ok((child, pump))
}

/// Serves a spawned child until it exits; returns the exit code to use.
pub fn serve(mut child: Child, pump: SharedPump, config: &ChildConfig) -> io::Result<i32> {
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| io::Error::other("the upstream's stdout was not captured"))?;

    let upstream_pump = pump.clone();
    let upstream_ctx = config.ctx.clone();
    let upstream = std::thread::spawn(move || {
        upstream_pump.run_upstream_side(stdout, &upstream_ctx);
    });

    let agent_ctx = config.ctx.clone();
    let max_line = config.max_line;
    // Not joined: it may sit in a read of our stdin after the child is gone.
    std::thread::spawn(move || {
        pump.run_agent_side(io::stdin(), max_line, &agent_ctx);
    });

    let status = child.wait()?;
    CHILD_PID.store(0, Ordering::SeqCst);
    // The child's last lines are still in the pipe: deliver them before exiting.
    let _ = upstream.join();
    Ok(exit_code(status))
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
