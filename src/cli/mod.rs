//! The command line: one file per subcommand; `main.rs` only dispatches here.

pub mod bench;
pub mod completions;
pub mod conformance;
pub mod convert;
pub mod diff;
pub mod exit;
pub mod league;
pub mod load;
pub mod man;
pub mod fuzz;
pub mod harden;
pub mod init;
pub mod mock;
pub mod prove;
pub mod proxy;
pub mod replay;
pub mod scenario;
pub mod validate;
pub mod verify;
pub mod watch;

use clap::{Parser, Subcommand};

pub use exit::Exit;

#[derive(Parser, Debug)]
#[command(name = "gauntlet", version, about = "Attack-pattern testbench and policy verifier for MCP policy proxies")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check a policy file; Intercept's exact messages for Intercept files.
    Validate(validate::Args),
    /// Rewrite a policy in another dialect (or say what cannot be expressed).
    Convert(convert::Args),
    /// Run a conformance vector file against the engine and proxy core.
    Conformance(conformance::Args),
    /// Replay a recorded trace of calls through a policy: one JSON decision per line.
    Replay(replay::Args),
    /// Serve a declarative mock MCP server over stdio or Streamable HTTP.
    Mock(mock::Args),
    /// Run the enforcing proxy in front of a real MCP server.
    Proxy(Box<proxy::Args>),
    /// Run the attack database against a policy and report verdicts.
    Verify(verify::Args),
    /// Write a policy that meets the requirements, proven before it is written.
    Harden(harden::Args),
    /// Prove the requirements for every call (or refute them with a replayed counterexample).
    Prove(prove::Args),
    /// What two versions of a policy admit differently, per tool and rule, with witnesses.
    Diff(diff::Args),
    /// Set up a repository: a commented gauntlet.yaml and a CI job.
    Init(init::Args),
    /// Author, lint and list attack scenarios.
    Scenario(scenario::Args),
    /// Benchmarks that print JSON figures.
    Bench(bench::Args),
    /// Run the attack database through several proxies and print a league table.
    League(league::Args),
    /// Seeded mutation fuzzing of the loaders and the proxy core (for developers).
    Fuzz(fuzz::Args),
    /// Print the shell completion script for bash, zsh, fish, elvish or PowerShell.
    Completions(completions::Args),
    /// Print the manual page (or write one per command with --dir).
    Man(man::Args),
}

/// Parses the command line and runs it; returns the process exit code.
pub fn main() -> i32 {
    if let Some(argv0) = std::env::args_os().next() {
        crate::invocation::set_program(&argv0.to_string_lossy());
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { Exit::CouldNotRun.code() } else { Exit::Ok.code() };
            let _ = e.print();
            return code;
        }
    };
    let exit = match cli.command {
        Command::Validate(a) => validate::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Conformance(a) => conformance::run(a),
        Command::Replay(a) => replay::run(a),
        Command::Mock(a) => mock::run(a),
        Command::Proxy(a) => proxy::run(*a),
        Command::Verify(a) => verify::run(a),
        Command::Harden(a) => harden::run(a),
        Command::Prove(a) => prove::run(a),
        Command::Diff(a) => diff::run(a),
        Command::Init(a) => init::run(a),
        Command::Scenario(a) => scenario::run(a),
        Command::Bench(a) => bench::run(a),
        Command::League(a) => league::run(a),
        Command::Fuzz(a) => fuzz::run(a),
        Command::Completions(a) => completions::run(a),
        Command::Man(a) => man::run(a),
    };
    exit.code()
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every subcommand, with its path (`gauntlet scenario new`).
    fn walk(cmd: &clap::Command, path: String, out: &mut Vec<(String, clap::Command)>) {
        out.push((path.clone(), cmd.clone()));
        for sub in cmd.get_subcommands() {
            walk(sub, format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_command_and_argument_says_what_it_is() {
        let mut all = Vec::new();
        walk(&super::Cli::command(), "gauntlet".into(), &mut all);
        let mut missing = Vec::new();
        for (path, cmd) in &all {
            if path != "gauntlet" && cmd.get_about().is_none() {
                missing.push(format!("{path}: no description"));
            }
            for arg in cmd.get_arguments().filter(|a| !matches!(a.get_id().as_str(), "help" | "version")) {
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {}: no help text", arg.get_id()));
                }
                // `-o` is `--output` everywhere.
                if arg.get_short() == Some('o') && arg.get_long() != Some("output") {
                    missing.push(format!("{path}: -o is --{}, not --output", arg.get_long().unwrap_or("?")));
                }
            }
        }
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }

    #[test]
    fn profile_flags_list_their_values() {
        let mut all = Vec::new();
        walk(&super::Cli::command(), "gauntlet".into(), &mut all);
        let mut seen = 0;
        for (path, cmd) in &all {
            for arg in cmd.get_arguments().filter(|a| a.get_long() == Some("profile")) {
                let values: Vec<String> = arg.get_possible_values().iter().map(|v| v.get_name().to_string()).collect();
                assert_eq!(values, ["intercept", "strict"], "{path} --profile");
                seen += 1;
            }
        }
        assert!(seen >= 3, "verify, proxy and harden take --profile: {seen}");
    }

    #[test]
    fn help_and_readme_name_the_same_commands() {
        let cmd = super::Cli::command();
        let help = cmd.clone().render_long_help().to_string();
        let readme = include_str!("../../README.md");
        let mut wrong = Vec::new();
        for sub in cmd.get_subcommands() {
            let name = sub.get_name();
            if !readme.contains(&format!("`gauntlet {name}")) {
                wrong.push(format!("README never shows `gauntlet {name}`"));
            }
            if !help.contains(&format!("\n  {name} ")) {
                wrong.push(format!("`gauntlet --help` does not list {name}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn completions_and_man_pages_come_from_the_same_definitions() {
        let mut cmd = super::Cli::command();
        let mut bash = Vec::new();
        clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, "gauntlet", &mut bash);
        let bash = String::from_utf8(bash).unwrap();
        for word in ["verify", "scenario", "--scenarios", "--fail-on-proxy-findings", "intercept strict"] {
            assert!(bash.contains(word), "bash completion lacks `{word}`");
        }
        let mut page = Vec::new();
        clap_mangen::Man::new(super::Cli::command()).render(&mut page).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.starts_with(".ie \\n(.g .ds Aq \\(aq") || page.contains(".TH gauntlet 1"), "{page}");
        assert!(page.contains("gauntlet\\-verify(1)") || page.contains("verify"), "{page}");
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(super::man::run(super::man::Args { dir: Some(dir.path().to_path_buf()) }), super::Exit::Ok);
        let verify = std::fs::read_to_string(dir.path().join("gauntlet-verify.1")).unwrap();
        assert!(verify.contains("fail\\-on\\-proxy\\-findings"), "{verify}");
        assert!(dir.path().join("gauntlet-scenario-new.1").exists());
    }
}
