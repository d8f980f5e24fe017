//! Presence: the terminal announces itself (event `terminal.online`), keeps its record in the
//! `POSFEE_TERMINALS` bucket fresh every heartbeat, and says goodbye (record `offline`, event
//! `terminal.offline`) when it stops. `posfee status` reads the bucket. The kiosk has no
//! JetStream rights: the query service writes its record on its behalf
//! (`posfee.terminal.seen.<terminal>`).

use crate::{events, Agent};
use posfee_client::Shutdown;
use posfee_schemas::events::{EventBody, TerminalEvent};
use posfee_schemas::subjects;
use posfee_schemas::terminal::{TerminalSeen, TerminalState};
use std::time::Duration;

/// How long one bucket write may take before the heartbeat gives up on it (and tries again
/// at the next beat).
pub const PUT_TIMEOUT_MS: u64 = 2_000;
/// How long the `terminal.online` event is asked again for, at least.
const ANNOUNCE_WINDOW: Duration = Duration::from_secs(30);

pub struct Presence {
    agent: Agent,
}

impl Presence {
    /// Publishes `terminal.online` (in the background) and writes the first record. A kiosk
    /// whose presence cannot be recorded now still takes payments: the heartbeat records it
    /// once the query service answers.
    pub async fn announce(agent: &Agent) -> Presence {
        let p = Presence {
            agent: agent.clone(),
        };
        let online = EventBody::TerminalOnline(p.event());
        agent
            .reports
            .send(agent, online, agent.settings.heartbeat.max(ANNOUNCE_WINDOW));
        if let Err(e) = p.put(TerminalState::Online).await {
            tracing::warn!(error = %e, "presence not recorded yet; the heartbeat will");
        }
        p
    }

    /// Refreshes the record every heartbeat until `shutdown`. A failed beat is logged and
    /// retried at the next one: a flaky link must not stop the kiosk.
    pub async fn heartbeat(&self, shutdown: Shutdown) {
        let mut tick = tokio::time::interval(self.agent.settings.heartbeat);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = shutdown.wait() => break,
                _ = tick.tick() => {
                    if let Err(e) = self.put(TerminalState::Online).await {
                        tracing::warn!(error = %e, "heartbeat not recorded");
                    }
                }
            }
        }
    }

    /// Records the terminal offline and publishes `terminal.offline`.
    pub async fn offline(&self) -> crate::Result<()> {
        self.put(TerminalState::Offline).await?;
        events::publish(&self.agent, EventBody::TerminalOffline(self.event())).await?;
        Ok(())
    }

    fn event(&self) -> TerminalEvent {
        TerminalEvent {
            terminal: self.agent.terminal().clone(),
            version: crate::VERSION.to_string(),
        }
    }

    async fn put(&self, state: TerminalState) -> crate::Result<()> {
        let heartbeat_secs =
            u32::try_from(self.agent.settings.heartbeat.as_secs()).unwrap_or(u32::MAX);
        let seen = TerminalSeen {
            terminal: self.agent.terminal().clone(),
            state,
            last_seen: self.agent.clock.now(),
            heartbeat_secs,
            version: crate::VERSION.to_string(),
        };
        let recorded: Result<TerminalSeen, _> = posfee_client::call(
            &self.agent.client,
            subjects::terminal_seen(self.agent.terminal()),
            &seen,
            Some(Duration::from_millis(PUT_TIMEOUT_MS)),
        )
        .await;
        recorded
            .map(|_| ())
            .map_err(|e| crate::unavailable("recording presence", e))
    }
}
