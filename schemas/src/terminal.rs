//! What a terminal records about itself in the `POSFEE_TERMINALS` bucket.

use crate::ids::TerminalId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TerminalState {
    Online,
    Offline,
}

/// The value under the terminal's key: its last heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalSeen {
    pub terminal: TerminalId,
    pub state: TerminalState,
    pub last_seen: DateTime<Utc>,
    /// Seconds between heartbeats, so a reader can tell a silent terminal from a live one.
    pub heartbeat_secs: u32,
    #[serde(default)]
    pub version: String,
}
