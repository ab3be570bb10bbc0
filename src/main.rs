//! The `protmask` binary: parse the command line, run, map errors to exit codes
//! (0 success, also when stdout is closed early; 1 runtime error; 2 usage, from clap).

use clap::Parser;
use protmask::cli::{Cli, Command};

fn main() {
    protmask::cleanup::install_signal_handler();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Mask(args) => protmask::commands::mask::execute(*args),
        Command::Schedule(args) => protmask::commands::schedule::execute(args),
        Command::Verify(args) => protmask::commands::verify::execute(args),
        Command::Completions { shell } => protmask::commands::meta::completions(shell),
        Command::Man => protmask::commands::meta::man(),
    };
    if let Err(err) = result {
        if protmask::is_broken_pipe(&err) {
            std::process::exit(0);
        }
        if let Some(usage) = err.downcast_ref::<protmask::UsageError>() {
            eprintln!("error: {usage}\n\nFor more information, try '--help'.");
            std::process::exit(2);
        }
        eprintln!("protmask: error: {}", protmask::one_line(&err));
        std::process::exit(1);
    }
}
