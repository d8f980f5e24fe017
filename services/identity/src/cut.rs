//! Closing a revoked key's live connections on every server, through the system account:
//! each server lists the connections under the holder's name (`$SYS.REQ.SERVER.PING.CONNZ`
//! filtered by user), then is asked to close each by its client id (`…SERVER.<id>.KICK`).
//! The callout refuses the key's reconnect, so the connection stays closed.

use posfee_authz::ACCOUNT;
use serde::Deserialize;
use std::time::Duration;

/// How long to wait for more servers' lists after the last one came.
const QUIET_MS: u64 = 100;
/// How long to wait for the first server's list.
const FIRST_MS: u64 = 2_000;
/// Connections one holder may have that one revocation closes.
const MAX_CONNECTIONS: usize = 1024;

#[derive(Debug, Deserialize)]
struct ServerAnswer {
    server: ServerInfo,
    #[serde(default)]
    data: Option<Connz>,
}

#[derive(Debug, Deserialize)]
struct ServerInfo {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Connz {
    #[serde(default)]
    connections: Option<Vec<Conn>>,
}

#[derive(Debug, Deserialize)]
struct Conn {
    cid: u64,
}

#[derive(Clone)]
pub struct Cutter {
    /// A connection in the system account.
    pub sys: async_nats::Client,
}

impl Cutter {
    /// Closes every live connection listed under `name`; returns how many were closed.
    pub async fn cut(&self, name: &str) -> anyhow::Result<u32> {
        let mut closed = 0;
        for (server, cid) in self.list(name).await? {
            let subject = format!("$SYS.REQ.SERVER.{server}.KICK");
            let body = serde_json::json!({ "cid": cid }).to_string();
            match self.sys.request(subject, body.into()).await {
                Ok(_) => closed += 1,
                Err(e) => tracing::warn!(error = %e, cid, "closing a connection"),
            }
        }
        Ok(closed)
    }

    /// Every live connection listed under `name`, by server id and client id, as the servers
    /// that answered list them.
    pub async fn list(&self, name: &str) -> anyhow::Result<Vec<(String, u64)>> {
        use futures::StreamExt;
        let inbox = self.sys.new_inbox();
        let mut answers = self.sys.subscribe(inbox.clone()).await?;
        let filter = serde_json::json!({ "user": name, "acc": ACCOUNT, "limit": MAX_CONNECTIONS });
        self.sys
            .publish_with_reply(
                "$SYS.REQ.SERVER.PING.CONNZ",
                inbox,
                filter.to_string().into(),
            )
            .await?;
        let mut listed = Vec::new();
        let mut wait = Duration::from_millis(FIRST_MS);
        while let Ok(Some(msg)) = tokio::time::timeout(wait, answers.next()).await {
            wait = Duration::from_millis(QUIET_MS);
            let answer: ServerAnswer = match serde_json::from_slice(&msg.payload) {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable connection list");
                    continue;
                }
            };
            let conns = answer.data.and_then(|d| d.connections).unwrap_or_default();
            listed.extend(conns.into_iter().map(|c| (answer.server.id.clone(), c.cid)));
        }
        Ok(listed)
    }
}

/// Revocations older than this, met while a view is rebuilt from the journal, are history:
/// their connections were closed when they happened, so nothing is cut for them again.
pub const RECENT_REVOCATION_SECS: i64 = 600;

/// Closes the connections of every key this instance's view revokes as it applies the
/// journal, until the channel closes with the view's feed. The instance that took a
/// revocation closes them at once; this is every other instance's share: one that admitted
/// the key while its view was behind closes that connection as soon as its view catches up.
pub async fn as_applied(
    mut revoked: tokio::sync::mpsc::UnboundedReceiver<crate::journal::Revoked>,
    cutter: Cutter,
    clock: std::sync::Arc<dyn posfee_client::Clock>,
) {
    while let Some((holder, at)) = revoked.recv().await {
        if (clock.now() - at).num_seconds() > RECENT_REVOCATION_SECS {
            continue;
        }
        match cutter.cut(&holder.connection_name()).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(%holder, closed = n, "a revoked key's connections closed as its revocation was applied")
            }
            Err(e) => tracing::warn!(error = %e, %holder, "closing a revoked key's connections"),
        }
    }
}
