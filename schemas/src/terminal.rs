//! What a terminal records about itself in the `POSFEE_TERMINALS` bucket.

use crate::events::EventBody;
use crate::ids::{EventId, TerminalId};
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

/// `posfee.terminal.report.<terminal>`: a kiosk's own event (a pairing joined, expired or
/// cancelled; online, offline), recorded in the event stream by the query service on the
/// kiosk's behalf. Kiosks cannot write into the stream themselves, so none can touch another's
/// events or the money events' de-duplication; the service stores the event under an id it
/// derives from the kiosk's id and `report_id`, so a retried report is stored once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalReport {
    /// The kiosk's own id for this report, the same on every retry.
    pub report_id: EventId,
    pub at: DateTime<Utc>,
    /// A pairing or terminal event whose terminal is the reporting kiosk.
    pub body: EventBody,
}
