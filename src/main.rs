//! The `protmask` binary: parse the command line, run, map errors to exit codes
//! (0 success, also when stdout is closed early; 1 runtime error; 2 usage, from clap).
//!
//! Everything that only the command line needs lives in the binary's own modules: the
//! clap definitions (`cli`), one module per subcommand (`commands`), schedule plots
//! (`plot`), progress bars (`progress`) and the signal handling (`signals`). The library (`protmask::*`) does the work.

mod cli;
mod commands;
mod plot;
mod progress;
mod signals;

use clap::Parser;
use cli::{Cli, Command};

fn main() {
    // SIGINT, SIGTERM, SIGHUP: remove what the run would leave, exit 128 + the signal.
    signals::install();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Mask(args) => commands::mask::execute(*args),
        Command::Schedule(args) => commands::schedule::execute(args),
        Command::Scan(args) => commands::scan::execute(*args),
        Command::Verify(args) => commands::verify::execute(args),
        Command::Regenerate(args) => commands::regenerate::execute(args),
        Command::Completions { shell } => commands::meta::completions(shell),
        Command::Man => commands::meta::man(),
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
