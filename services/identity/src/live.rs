//! How many connections each kiosk, phone and clerk has right now, and each server holds for
//! them, from the server's own connect and disconnect events (`$SYS.ACCOUNT.POSFEE.CONNECT` /
//! `.DISCONNECT`, read by this service's system-account user). The callout admits a connection
//! through [`Live::admit`], which counts it at once (as pending until the server's connect
//! event confirms it), so a burst of connects cannot pass a limit before the events arrive:
//!
//! - one holder at most [`MAX_PER_HOLDER`] connections, a key nobody enrolled
//!   [`MAX_UNENROLLED`], a refused key (asking why) one;
//! - on one server, keys nobody enrolled at most [`MAX_UNENROLLED_PER_SERVER`] together, and
//!   kiosks, phones and clerks at most [`MAX_EDGES_PER_SERVER`] together, which leaves
//!   [`RESERVED_FOR_SERVICES`] of the server's `max_connections` to the services and tools, so
//!   a crowd of keys can never keep the ledger or the operator out.
//!
//! Connections are told apart by server and client id; role users (the services) are not
//! counted. A fresh instance starts from zero and learns as connections come and go, so right
//! after a restart a key may briefly hold more than its limit; the callout's per-key admission
//! rate bounds that too.

use futures::StreamExt;
use posfee_client::Shutdown;
use serde::Deserialize;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Live connections one kiosk, phone or clerk may hold (a kiosk's screen and a one-off
/// query, a phone's app in two tabs, reconnects overlapping the old connection's close).
pub const MAX_PER_HOLDER: usize = 5;
/// Live connections one key nobody enrolled yet may hold: it only enrols.
pub const MAX_UNENROLLED: usize = 2;
/// Live connections of one refused key, asking why (the client that was cut, reconnecting,
/// and one started again).
pub const MAX_EXPLAINING: usize = 2;
/// The server's `max_connections` (`nats.conf`; a test keeps them equal).
pub const SERVER_MAX_CONNECTIONS: usize = 10_000;
/// Connections of each server that kiosks, phones and clerks can never take.
pub const RESERVED_FOR_SERVICES: usize = 500;
/// Kiosks', phones' and clerks' connections on one server, together.
pub const MAX_EDGES_PER_SERVER: usize = SERVER_MAX_CONNECTIONS - RESERVED_FOR_SERVICES;
/// Connections of keys nobody enrolled, together on one server: new phones enrolling.
pub const MAX_UNENROLLED_PER_SERVER: usize = 1_000;
/// How long an admitted connection counts before the server's connect event confirms it:
/// the time a client has to finish connecting, and some.
const PENDING: Duration = Duration::from_secs(posfee_authz::AUTH_TIMEOUT_SECS as u64 + 3);

/// What kind of connection an admission is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Holder,
    Unenrolled,
    Explaining,
}

impl Kind {
    fn max(self) -> usize {
        match self {
            Kind::Holder => MAX_PER_HOLDER,
            Kind::Unenrolled => MAX_UNENROLLED,
            Kind::Explaining => MAX_EXPLAINING,
        }
    }

    /// The kind of a connection named by the callout.
    fn of(name: &str) -> Option<Kind> {
        match name.split_once('/')?.0 {
            "unenrolled" => Some(Kind::Unenrolled),
            "refused" => Some(Kind::Explaining),
            _ => Some(Kind::Holder),
        }
    }
}

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

/// One name's connections: confirmed by the server, and admitted but not confirmed yet.
#[derive(Default)]
struct Conns {
    live: HashSet<(String, u64)>,
    pending: VecDeque<(String, Instant)>,
}

impl Conns {
    fn len(&self) -> usize {
        self.live.len() + self.pending.len()
    }
}

/// Counts on one server.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
struct Totals {
    edges: usize,
    unenrolled: usize,
}

#[derive(Default)]
struct Inner {
    by_name: HashMap<String, Conns>,
    by_server: HashMap<String, Totals>,
}

impl Inner {
    fn add(&mut self, server: &str, kind: Kind, delta: isize) {
        let t = self.by_server.entry(server.to_string()).or_default();
        t.edges = t.edges.saturating_add_signed(delta);
        if kind == Kind::Unenrolled {
            t.unenrolled = t.unenrolled.saturating_add_signed(delta);
        }
    }

    /// Drops `name`'s admissions that were never confirmed in time.
    fn expire(&mut self, name: &str, now: Instant) {
        let Some(kind) = Kind::of(name) else { return };
        let Some(c) = self.by_name.get_mut(name) else {
            return;
        };
        let mut gone = Vec::new();
        while c
            .pending
            .front()
            .is_some_and(|(_, at)| now.duration_since(*at) > PENDING)
        {
            if let Some((server, _)) = c.pending.pop_front() {
                gone.push(server);
            }
        }
        if c.len() == 0 {
            self.by_name.remove(name);
        }
        for server in gone {
            self.add(&server, kind, -1);
        }
    }
}

/// Live connections by the name the callout gave them, and per server.
#[derive(Default)]
pub struct Live {
    inner: Mutex<Inner>,
}

impl Live {
    /// The connections `name` holds or was admitted to.
    pub fn count(&self, name: &str) -> usize {
        let mut inner = self.lock();
        inner.expire(name, Instant::now());
        inner.by_name.get(name).map_or(0, Conns::len)
    }

    /// Admits one more connection of `name` on `server` and counts it from now, or says why
    /// not.
    pub fn admit(&self, server: &str, name: &str) -> Result<(), String> {
        let Some(kind) = Kind::of(name) else {
            return Err(format!("{name} is not a kiosk, phone or clerk"));
        };
        let mut inner = self.lock();
        inner.expire(name, Instant::now());
        let held = inner.by_name.get(name).map_or(0, Conns::len);
        if held >= kind.max() {
            return Err(match kind {
                Kind::Unenrolled => "this key is already connected to enrol".to_string(),
                Kind::Explaining => "this key is already connected to ask why".to_string(),
                Kind::Holder => {
                    format!("{name} already has {held} connections (at most {MAX_PER_HOLDER})")
                }
            });
        }
        let totals = inner.by_server.get(server).copied().unwrap_or_default();
        if totals.edges >= MAX_EDGES_PER_SERVER {
            return Err(
                "this server holds all the kiosk and phone connections it may; try another or again shortly"
                    .into(),
            );
        }
        if kind == Kind::Unenrolled && totals.unenrolled >= MAX_UNENROLLED_PER_SERVER {
            return Err(
                "too many new phones are enrolling right now; try again in a minute".into(),
            );
        }
        inner
            .by_name
            .entry(name.to_string())
            .or_default()
            .pending
            .push_back((server.to_string(), Instant::now()));
        inner.add(server, kind, 1);
        Ok(())
    }

    fn connected(&self, e: Event) {
        let Some(kind) = Kind::of(&e.client.user) else {
            return;
        };
        let mut inner = self.lock();
        let c = inner.by_name.entry(e.client.user.clone()).or_default();
        if !c.live.insert((e.server.id.clone(), e.client.id)) {
            return;
        }
        // The admission this confirms is counted already.
        let admitted = c.pending.iter().position(|(s, _)| *s == e.server.id);
        match admitted {
            Some(i) => {
                c.pending.remove(i);
            }
            None => inner.add(&e.server.id, kind, 1),
        }
    }

    fn disconnected(&self, e: Event) {
        let Some(kind) = Kind::of(&e.client.user) else {
            return;
        };
        let mut inner = self.lock();
        let Some(c) = inner.by_name.get_mut(&e.client.user) else {
            return;
        };
        if !c.live.remove(&(e.server.id.clone(), e.client.id)) {
            return;
        }
        if c.len() == 0 {
            inner.by_name.remove(&e.client.user);
        }
        inner.add(&e.server.id, kind, -1);
    }

    /// Drops every admission the server never confirmed in time.
    fn expire_all(&self) {
        let mut inner = self.lock();
        let now = Instant::now();
        let names: Vec<String> = inner
            .by_name
            .iter()
            .filter(|(_, c)| !c.pending.is_empty())
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            inner.expire(&name, now);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Forgets every connection of a server that shut down (it sends no disconnect events
    /// for the connections it closes on the way).
    fn server_gone(&self, server: &str) {
        let mut inner = self.lock();
        inner.by_server.remove(server);
        inner.by_name.retain(|_, c| {
            c.live.retain(|(s, _)| s != server);
            c.len() > 0
        });
    }

    /// The names holding as many connections as they may: those a lost disconnect event (a
    /// server that died, or events missed while this service's own connection was away)
    /// could keep out for good. At most `n` of them.
    fn full(&self, n: usize) -> Vec<String> {
        let inner = self.lock();
        inner
            .by_name
            .iter()
            .filter(|(name, c)| Kind::of(name).is_some_and(|k| c.live.len() >= k.max()))
            .map(|(name, _)| name.clone())
            .take(n)
            .collect()
    }

    /// Keeps of `name`'s connections only those the servers list now (`listed`): a
    /// connection's end that was never reported ends here.
    fn confirm(&self, name: &str, listed: &HashSet<(String, u64)>) {
        let Some(kind) = Kind::of(name) else { return };
        let mut inner = self.lock();
        let Some(c) = inner.by_name.get_mut(name) else {
            return;
        };
        let gone: Vec<(String, u64)> = c.live.difference(listed).cloned().collect();
        for g in &gone {
            c.live.remove(g);
        }
        if c.len() == 0 {
            inner.by_name.remove(name);
        }
        for (server, _) in gone {
            inner.add(&server, kind, -1);
        }
    }

    /// Checks the full names against the servers' own lists.
    async fn check_full(&self, cutter: &crate::cut::Cutter) {
        for name in self.full(MAX_CHECKED) {
            match cutter.list(&name).await {
                Ok(listed) => self.confirm(&name, &listed.into_iter().collect()),
                Err(e) => tracing::warn!(error = %e, %name, "listing a holder's connections"),
            }
        }
    }

    fn event(&self, subject: &str, payload: &[u8]) {
        let kind = subject.rsplit('.').next().unwrap_or_default();
        let e = match serde_json::from_slice::<Event>(payload) {
            Ok(e) => e,
            Err(e) => return tracing::debug!(error = %e, %subject, "unreadable connection event"),
        };
        match kind {
            "CONNECT" => self.connected(e),
            "DISCONNECT" => self.disconnected(e),
            _ => {}
        }
    }

    /// Follows the server's connect and disconnect events until shutdown, and now and then
    /// checks the names at their limit against the servers' lists (through `cutter`).
    pub async fn follow(
        &self,
        sys: async_nats::Client,
        account: &str,
        cutter: crate::cut::Cutter,
        shutdown: Shutdown,
    ) -> anyhow::Result<()> {
        // One subscription for both kinds: a connection's connect and disconnect come from
        // one server and so arrive in the order they happened.
        let mut events = sys.subscribe(format!("$SYS.ACCOUNT.{account}.*")).await?;
        let mut shutdowns = sys.subscribe("$SYS.SERVER.*.SHUTDOWN").await?;
        let mut sweep = tokio::time::interval(PENDING);
        let mut check = tokio::time::interval(Duration::from_secs(CHECK_FULL_SECS));
        loop {
            tokio::select! {
                _ = shutdown.wait() => return Ok(()),
                _ = sweep.tick() => self.expire_all(),
                _ = check.tick() => self.check_full(&cutter).await,
                m = events.next() => match m {
                    Some(m) => self.event(&m.subject, &m.payload),
                    None => return Ok(()),
                },
                m = shutdowns.next() => match m {
                    Some(m) => {
                        if let Some(server) = m.subject.split('.').nth(2) {
                            tracing::info!(%server, "a server shut down; its connections are gone");
                            self.server_gone(server);
                        }
                    }
                    None => return Ok(()),
                },
            }
        }
    }
}

/// How often the names at their limit are checked against the servers' lists, and how many
/// at most each time.
const CHECK_FULL_SECS: u64 = 30;
const MAX_CHECKED: usize = 100;

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

    fn totals(live: &Live, server: &str) -> Totals {
        live.lock()
            .by_server
            .get(server)
            .copied()
            .unwrap_or_default()
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
        assert_eq!(totals(&live, "A").edges, 1);
        live.disconnected(event("terminal/kiosk-07", "A", 1));
        assert_eq!(live.count("terminal/kiosk-07"), 1);
        assert_eq!(totals(&live, "A").edges, 0);
    }

    #[test]
    fn an_admission_counts_at_once_and_once_when_the_server_confirms_it() {
        let live = Live::default();
        for _ in 0..MAX_PER_HOLDER {
            live.admit("A", "device/phabcd2345").unwrap();
        }
        // A burst past the limit is refused before any connect event arrived.
        assert!(live.admit("A", "device/phabcd2345").is_err());
        live.connected(event("device/phabcd2345", "A", 9));
        assert_eq!(live.count("device/phabcd2345"), MAX_PER_HOLDER);
        assert_eq!(totals(&live, "A").edges, MAX_PER_HOLDER);
        live.disconnected(event("device/phabcd2345", "A", 9));
        assert_eq!(totals(&live, "A").edges, MAX_PER_HOLDER - 1);
        live.admit("A", "device/phabcd2345").unwrap();
    }

    #[test]
    fn new_keys_fill_only_their_share_of_a_server_and_phones_never_its_services_share() {
        let live = Live::default();
        for i in 0..MAX_UNENROLLED_PER_SERVER {
            live.admit("A", &format!("unenrolled/ph{i:08}")).unwrap();
        }
        let refused = live.admit("A", "unenrolled/phzzzzzzzz").unwrap_err();
        assert!(refused.contains("enrolling"), "{refused}");
        // Another server, and enrolled phones on this one, still get in.
        live.admit("B", "unenrolled/phzzzzzzzz").unwrap();
        live.admit("A", "device/phabcd2345").unwrap();
        for i in totals(&live, "A").edges..MAX_EDGES_PER_SERVER {
            live.admit("A", &format!("device/p{i:09}")).unwrap();
        }
        let refused = live.admit("A", "terminal/kiosk-01").unwrap_err();
        assert!(refused.contains("this server holds"), "{refused}");
        assert_eq!(
            SERVER_MAX_CONNECTIONS - totals(&live, "A").edges,
            RESERVED_FOR_SERVICES
        );
    }

    #[test]
    fn the_server_s_connection_limit_is_the_one_counted_against() {
        let conf = include_str!("../../../nats.conf");
        let line = conf
            .lines()
            .find(|l| l.starts_with("max_connections:"))
            .unwrap();
        let n: usize = line.split(':').nth(1).unwrap().trim().parse().unwrap();
        assert_eq!(n, SERVER_MAX_CONNECTIONS);
        let production = include_str!("../../../deploy/production/nats/nats.conf");
        assert!(production.contains(&format!("max_connections: {n}")));
    }

    #[test]
    fn connections_of_a_server_that_shut_down_or_ended_unreported_stop_counting() {
        let live = Live::default();
        for id in 0..MAX_PER_HOLDER as u64 {
            live.connected(event("terminal/kiosk-07", &format!("S{}", id % 2), id));
        }
        assert!(live.admit("S9", "terminal/kiosk-07").is_err());
        assert_eq!(live.full(10), vec!["terminal/kiosk-07".to_string()]);
        // Server S0 shut down: its connections are gone.
        live.server_gone("S0");
        assert_eq!(live.count("terminal/kiosk-07"), 2);
        assert_eq!(totals(&live, "S0"), Totals::default());
        // S1 died without a word; its list says only connection 1 is still there.
        live.confirm("terminal/kiosk-07", &[("S1".to_string(), 1)].into());
        assert_eq!(live.count("terminal/kiosk-07"), 1);
        assert_eq!(totals(&live, "S1").edges, 1);
        live.admit("S9", "terminal/kiosk-07").unwrap();
    }

    #[test]
    fn events_are_told_apart_by_their_subject() {
        let live = Live::default();
        let body = |id: u64| {
            serde_json::json!({"server": {"id": "A"}, "client": {"id": id, "user": "device/phabcd2345"}})
                .to_string()
        };
        live.event("$SYS.ACCOUNT.POSFEE.CONNECT", body(1).as_bytes());
        live.event("$SYS.ACCOUNT.POSFEE.CONNECT", body(2).as_bytes());
        live.event("$SYS.ACCOUNT.POSFEE.DISCONNECT", body(1).as_bytes());
        live.event("$SYS.ACCOUNT.POSFEE.CONNS", body(2).as_bytes());
        assert_eq!(live.count("device/phabcd2345"), 1);
    }
}
