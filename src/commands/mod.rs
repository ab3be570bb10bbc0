//! One module per subcommand: each turns its parsed arguments into library calls and
//! prints what the user sees. No masking logic lives here.

pub mod mask;
pub mod meta;
pub mod regenerate;
pub mod scan;
pub mod schedule;
pub mod verify;
