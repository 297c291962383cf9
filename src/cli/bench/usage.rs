//! Resource use as the kernel counts it: CPU seconds of this process (all
//! threads), and peak memory of a child process. CPU time is what stays
//! comparable when other work shares the machine; wall time is what users feel.

use std::process::Child;

/// User + system CPU seconds this process has used so far.
pub fn cpu_secs() -> f64 {
    rusage_secs(libc::RUSAGE_SELF)
}

/// User + system CPU seconds the calling thread has used so far (one core's work).
pub fn thread_cpu_secs() -> f64 {
    rusage_secs(libc::RUSAGE_THREAD)
}

fn rusage_secs(who: libc::c_int) -> f64 {
    // SAFETY: getrusage fills the struct it is given and touches nothing else.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut u) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

/// What a finished child used.
#[derive(Clone, Copy, Debug)]
pub struct ChildUsage {
    pub success: bool,
    /// Peak resident set size, bytes.
    pub peak_rss: u64,
    pub cpu_secs: f64,
}

/// Waits for `child` and returns its own resource use (not that of other children).
pub fn wait(mut child: Child) -> Result<ChildUsage, String> {
    let pid = child.id() as libc::pid_t;
    // Closed after the child is reaped (`Child` would close them on drop, but it is forgotten).
    let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let mut status = 0;
    // SAFETY: wait4 reaps exactly this child (which `Child` no longer waits for: it is
    // consumed here) and fills the two out-parameters.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut u) };
    std::mem::forget(child);
    drop(pipes);
    if r != pid {
        return Err(format!("cannot wait for process {pid}: {}", std::io::Error::last_os_error()));
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(ChildUsage {
        success: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        // Linux reports ru_maxrss in kilobytes.
        peak_rss: u.ru_maxrss.max(0) as u64 * 1024,
        cpu_secs: secs(u.ru_utime) + secs(u.ru_stime),
    })
}
