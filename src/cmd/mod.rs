//! One file per operator command.

pub mod status;
pub mod up;
