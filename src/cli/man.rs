//! `gauntlet man`: manual pages in roff, generated from the command-line
//! definitions: `gauntlet.1` on stdout, or with `--dir` one page per command
//! (`gauntlet-verify.1`, `gauntlet-scenario-new.1`, …) written there.

use std::path::PathBuf;

use clap::CommandFactory;

use super::Exit;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Write every page (gauntlet.1 and one per subcommand) into this directory
    /// instead of printing gauntlet.1, e.g. `--dir ~/.local/share/man/man1`.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn run(args: Args) -> Exit {
    let cmd = super::Cli::command();
    let written = match &args.dir {
        None => clap_mangen::Man::new(cmd).render(&mut std::io::stdout()).map(|()| None),
        Some(dir) => std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(cmd, dir)).map(|()| Some(dir)),
    };
    match written {
        Ok(None) => Exit::Ok,
        Ok(Some(dir)) => {
            eprintln!("gauntlet man: wrote the pages to {} (read one with `man {}/gauntlet-verify.1`)", dir.display(), dir.display());
            Exit::Ok
        }
        Err(e) => {
            let to = args.dir.as_ref().map_or("stdout".to_string(), |d| d.display().to_string());
            eprintln!("error: {to}: cannot write the manual pages: {e}");
            Exit::CouldNotRun
        }
    }
}
