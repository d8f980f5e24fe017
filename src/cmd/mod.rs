//! One file per operator command.

pub mod rules;
pub mod status;
pub mod up;
