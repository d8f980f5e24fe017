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
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
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

/// The longest version string a kiosk may report.
pub const MAX_VERSION_CHARS: usize = 64;
/// How far a kiosk's clock may be from the service's before the service warns about it.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;
/// The longest heartbeat interval a kiosk may announce.
pub const MAX_HEARTBEAT_SECS: u32 = 3_600;

/// A kiosk's version string as it may be recorded: short and printable.
pub fn check_version(version: &str) -> Result<(), crate::WireError> {
    if version.chars().count() > MAX_VERSION_CHARS || version.chars().any(char::is_control) {
        return Err(crate::WireError::field(
            "version",
            format!("at most {MAX_VERSION_CHARS} printable characters"),
        ));
    }
    Ok(())
}

impl TerminalSeen {
    /// A heartbeat as it may be recorded: an interval of 1 to [`MAX_HEARTBEAT_SECS`] seconds
    /// and a short printable version. Its time is not checked here: the recording service
    /// replaces it with its own clock's (see [`TerminalSeen::received`]).
    pub fn check(&self) -> Result<(), crate::WireError> {
        if !(1..=MAX_HEARTBEAT_SECS).contains(&self.heartbeat_secs) {
            return Err(crate::WireError::field(
                "heartbeat_secs",
                format!("must be 1 to {MAX_HEARTBEAT_SECS}"),
            ));
        }
        check_version(&self.version)
    }

    /// The heartbeat as recorded at `now`: `last_seen` is when the service heard it, never
    /// the time a kiosk claims, so a kiosk cannot stay "online" by dating its beat ahead and
    /// a kiosk with a wrong clock is still seen. Returns how far the kiosk's clock was off.
    pub fn received(self, now: DateTime<Utc>) -> (TerminalSeen, chrono::Duration) {
        let skew = self.last_seen - now;
        (
            TerminalSeen {
                last_seen: now,
                ..self
            },
            skew,
        )
    }
}
