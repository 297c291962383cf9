//! `gauntlet completions SHELL`: the shell completion script, generated from
//! the command-line definitions, on stdout.

use clap::CommandFactory;

use super::Exit;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The shell to complete for. E.g. bash: `gauntlet completions bash >
    /// ~/.local/share/bash-completion/completions/gauntlet`; zsh: into a
    /// directory on `$fpath` as `_gauntlet`; fish: `~/.config/fish/completions/gauntlet.fish`.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args) -> Exit {
    let mut cmd = super::Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "gauntlet", &mut std::io::stdout());
    Exit::Ok
}
