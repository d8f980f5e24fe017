//! How many connections each kiosk, phone and clerk has right now, from the server's own
//! connect and disconnect events (`$SYS.ACCOUNT.POSFEE.CONNECT` / `.DISCONNECT`, read by this
//! service's system-account user): the callout refuses one more past [`MAX_PER_HOLDER`], so
//! no key can hold the server's shared connection budget. Connections are told apart by
//! server and client id; role users (the services) are not counted.
//!
//! A fresh instance starts from zero and learns as connections come and go, so right after a
//! restart a key may briefly hold more than the limit; the callout's per-key admission rate
//! ([`crate::callout`]) bounds that too.

use futures::StreamExt;
use posfee_client::Shutdown;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// Live connections one kiosk, phone or clerk may hold (a kiosk's screen and a one-off
/// query, a phone's app in two tabs, reconnects overlapping the old connection's close).
pub const MAX_PER_HOLDER: usize = 5;
/// Live connections one key nobody enrolled yet may hold: it only enrols.
pub const MAX_UNENROLLED: usize = 2;

#[derive(Debug, Deserialize)]
struct Event {
    server: Server,
    client: Client,
}

#[derive(Debug, Deserialize)]
struct Server {
    #[serde(default)]
    id: String,
}

#[derive(Debug, Deserialize)]
struct Client {
    #[serde(default)]
    id: u64,
    /// The name the callout gave the connection (`terminal/kiosk-07` …).
    #[serde(default)]
    user: String,
}

/// Live connections by the name the callout gave them.
#[derive(Default)]
pub struct Live {
    by_name: Mutex<HashMap<String, HashSet<(String, u64)>>>,
}

impl Live {
    pub fn count(&self, name: &str) -> usize {
        self.lock().get(name).map_or(0, HashSet::len)
    }

    fn connected(&self, e: Event) {
        if !e.client.user.contains('/') {
            return;
        }
        self.lock()
            .entry(e.client.user)
            .or_default()
            .insert((e.server.id, e.client.id));
    }

    fn disconnected(&self, e: Event) {
        let mut by_name = self.lock();
        if let Some(set) = by_name.get_mut(&e.client.user) {
            set.remove(&(e.server.id, e.client.id));
            if set.is_empty() {
                by_name.remove(&e.client.user);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashSet<(String, u64)>>> {
        match self.by_name.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Follows the server's connect and disconnect events until shutdown.
    pub async fn follow(
        &self,
        sys: async_nats::Client,
        account: &str,
        shutdown: Shutdown,
    ) -> anyhow::Result<()> {
        let mut connects = sys
            .subscribe(format!("$SYS.ACCOUNT.{account}.CONNECT"))
            .await?;
        let mut disconnects = sys
            .subscribe(format!("$SYS.ACCOUNT.{account}.DISCONNECT"))
            .await?;
        loop {
            tokio::select! {
                _ = shutdown.wait() => return Ok(()),
                m = connects.next() => match m.map(|m| serde_json::from_slice::<Event>(&m.payload)) {
                    Some(Ok(e)) => self.connected(e),
                    Some(Err(e)) => tracing::debug!(error = %e, "unreadable connect event"),
                    None => return Ok(()),
                },
                m = disconnects.next() => match m.map(|m| serde_json::from_slice::<Event>(&m.payload)) {
                    Some(Ok(e)) => self.disconnected(e),
                    Some(Err(e)) => tracing::debug!(error = %e, "unreadable disconnect event"),
                    None => return Ok(()),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn event(user: &str, server: &str, id: u64) -> Event {
        serde_json::from_value(serde_json::json!({
            "server": {"id": server}, "client": {"id": id, "user": user}
        }))
        .unwrap()
    }

    #[test]
    fn connections_are_counted_per_holder_and_server_and_roles_are_not() {
        let live = Live::default();
        live.connected(event("terminal/kiosk-07", "A", 1));
        live.connected(event("terminal/kiosk-07", "B", 1));
        live.connected(event("terminal/kiosk-07", "A", 1));
        live.connected(event("UABCROLEKEY", "A", 2));
        assert_eq!(live.count("terminal/kiosk-07"), 2);
        assert_eq!(live.count("UABCROLEKEY"), 0);
        live.disconnected(event("terminal/kiosk-07", "A", 1));
        assert_eq!(live.count("terminal/kiosk-07"), 1);
    }
}
