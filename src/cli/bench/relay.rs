//! `gauntlet bench relay -- CMD [ARGS…]` (hidden; `bench proxy` starts it):
//! a bare stdio relay in front of CMD. Two threads copy lines, agent to
//! server and back, flushing once their input is drained as the proxy's
//! stdio front does, and do nothing else: no parsing, no policy, no state.
//! Measured in the same run as the proxy, it is what the extra hop itself
//! costs (any stdio proxy pays it), so what the proxy adds on top of it is
//! the proxy's own cost.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::process::{Command, Stdio};

use crate::cli::Exit;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The server to relay to, and its arguments.
    #[arg(last = true, required = true, value_name = "CMD ARGS")]
    pub command: Vec<OsString>,
}

pub fn run(args: Args) -> Exit {
    let Some((program, rest)) = args.command.split_first() else {
        eprintln!("error: no server command after `--`");
        return Exit::CouldNotRun;
    };
    let mut child = match Command::new(program).args(rest).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("error: cannot start {}: {e}", program.to_string_lossy());
            return Exit::CouldNotRun;
        }
    };
    let (Some(to_server), Some(from_server)) = (child.stdin.take(), child.stdout.take()) else {
        eprintln!("error: the server's pipes were not opened");
        return Exit::CouldNotRun;
    };
    let back = std::thread::spawn(move || copy_lines(from_server, std::io::stdout().lock()));
    // Returning drops the server's stdin, which is how it learns the agent hung up.
    let _ = copy_lines(std::io::stdin().lock(), to_server);
    let _ = back.join();
    let _ = child.wait();
    Exit::Ok
}

/// Copies `input` to `output` line by line, flushing once no more input is buffered.
fn copy_lines(input: impl Read, output: impl Write) -> std::io::Result<()> {
    let mut input = BufReader::with_capacity(1 << 16, input);
    let mut output = BufWriter::with_capacity(1 << 16, output);
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return output.flush();
        }
        output.write_all(&line)?;
        if input.buffer().is_empty() {
            output.flush()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_pass_through_unchanged_and_a_last_line_without_newline_too() {
        let mut out = Vec::new();
        copy_lines(&b"{\"id\":1}\n\n{\"id\":2}"[..], &mut out).unwrap();
        assert_eq!(out, b"{\"id\":1}\n\n{\"id\":2}");
    }
}
