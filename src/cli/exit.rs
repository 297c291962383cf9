//! The exit-code contract every command keeps: 0 ok, 1 a check failed, 2 could not run.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Everything checked held.
    Ok = 0,
    /// The command ran and a check failed (invalid policy, failed vector, policy finding).
    CheckFailed = 1,
    /// The command could not run (unreadable file, bad flags, I/O failure).
    CouldNotRun = 2,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
}
