//! `posfee status`: every running service from `$SRV.INFO`/`$SRV.STATS`, and the terminals
//! seen online, as a table or as JSON.

use crate::up::connect_operator;
use async_nats::service::{endpoint, Info, Stats};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use posfee_client::screen::local_time;
use posfee_deploy::layout::DataDir;
use posfee_runtime::serve::AnswerCounts;
use posfee_schemas::subjects;
use posfee_schemas::terminal::{TerminalSeen, TerminalState};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// How long status listens for services to answer discovery. Every instance answers, so we
/// collect for a fixed window rather than stopping at the first reply.
pub const DISCOVERY_WINDOW_MS: u64 = 500;
/// A terminal is online while its last heartbeat is younger than this many heartbeat periods.
pub const MISSED_HEARTBEATS_OFFLINE: i64 = 3;

#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// The data dir of the running system (as given to `posfee up`).
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Serialize)]
pub struct Status {
    pub url: String,
    pub services: Vec<ServiceStatus>,
    pub terminals: Vec<TerminalStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    pub name: String,
    pub id: String,
    pub version: String,
    pub description: String,
    /// When this instance started (RFC 3339).
    pub started: Option<DateTime<Utc>>,
    pub endpoints: Vec<EndpointStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EndpointStatus {
    pub name: String,
    pub subject: String,
    pub queue_group: String,
    pub requests: usize,
    /// Every answer that was not a success, as the micro service counts it.
    pub errors: usize,
    /// Of those: ordinary outcomes (nothing owed, declined …), refusals (4xx) and failures
    /// (5xx), as the service counts them.
    #[serde(flatten)]
    pub answers: AnswerCounts,
    pub average_processing_us: u128,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TerminalStatus {
    pub terminal: String,
    pub online: bool,
    /// Its key was revoked: it cannot connect until it is given a new one.
    pub revoked: bool,
    pub last_seen: DateTime<Utc>,
    pub version: String,
}

pub async fn run(args: StatusArgs, json: bool) -> anyhow::Result<()> {
    let data = DataDir::new(&args.data_dir);
    let client = connect_operator(&data).await?;
    let url = crate::up::running_url(&data)?;
    let status = collect(&client, url, Utc::now()).await?;
    if json {
        println!("{}", serde_json::to_string(&status)?);
    } else {
        print!("{}", render(&status));
    }
    Ok(())
}

/// Asks every service for its info and stats and reads the terminals bucket.
pub async fn collect(
    client: &async_nats::Client,
    url: String,
    now: DateTime<Utc>,
) -> anyhow::Result<Status> {
    let infos: Vec<Info> = gather(client, subjects::srv::info()).await?;
    let stats: Vec<Stats> = gather(client, subjects::srv::stats()).await?;
    let stats_by_id: BTreeMap<String, Stats> =
        stats.into_iter().map(|s| (s.id.clone(), s)).collect();
    let mut services: Vec<ServiceStatus> = infos
        .into_iter()
        .map(|info| {
            let st = stats_by_id.get(&info.id);
            let ep_stats = |subject: &str| -> Option<&endpoint::Stats> {
                st.and_then(|s| s.endpoints.iter().find(|e| e.subject == subject))
            };
            ServiceStatus {
                endpoints: info
                    .endpoints
                    .iter()
                    .map(|e| {
                        let s = ep_stats(&e.subject);
                        EndpointStatus {
                            name: e.name.clone(),
                            subject: e.subject.clone(),
                            queue_group: e.queue_group.clone(),
                            requests: s.map(|s| s.requests).unwrap_or(0),
                            errors: s.map(|s| s.errors).unwrap_or(0),
                            answers: s
                                .and_then(|s| s.data.clone())
                                .and_then(|d| serde_json::from_value(d).ok())
                                .unwrap_or_default(),
                            average_processing_us: s
                                .map(|s| s.average_processing_time.as_micros())
                                .unwrap_or(0),
                            last_error: s
                                .and_then(|s| s.last_error.as_ref())
                                .map(|e| e.status.clone()),
                        }
                    })
                    .collect(),
                started: st.and_then(|s| {
                    DateTime::<Utc>::from_timestamp(
                        s.started.unix_timestamp(),
                        s.started.nanosecond(),
                    )
                }),
                name: info.name,
                id: info.id,
                version: info.version,
                description: info.description,
            }
        })
        .collect();
    services.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    Ok(Status {
        url,
        services,
        terminals: kiosks(client, now).await?,
    })
}

/// Every terminal seen or revoked: online, offline or revoked, and when it was last seen.
pub async fn kiosks(
    client: &async_nats::Client,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<TerminalStatus>> {
    let mut terminals = terminals(client, now).await?;
    mark_revoked(client, &mut terminals).await;
    Ok(terminals)
}

/// Marks the terminals whose key is revoked (and lists revoked ones never seen), from the
/// identity service; without its answer the table says only online and offline.
async fn mark_revoked(client: &async_nats::Client, terminals: &mut Vec<TerminalStatus>) {
    use posfee_schemas::identity::Holder;
    let keys = match posfee_deploy::identities::list(client, 0).await {
        Ok(l) => l.keys,
        Err(e) => return tracing::warn!(error = %e, "the identity service did not list the keys"),
    };
    for k in keys {
        let (Holder::Terminal(t), Some(_)) = (&k.holder, k.revoked_at) else {
            continue;
        };
        match terminals.iter_mut().find(|s| s.terminal == t.as_str()) {
            Some(s) => {
                s.revoked = true;
                s.online = false;
            }
            None => terminals.push(TerminalStatus {
                terminal: t.to_string(),
                online: false,
                revoked: true,
                last_seen: k.issued_at,
                version: String::new(),
            }),
        }
    }
    terminals.sort_by(|a, b| a.terminal.cmp(&b.terminal));
}

/// Sends one discovery request and collects every answer that arrives within the window.
async fn gather<T: serde::de::DeserializeOwned>(
    client: &async_nats::Client,
    subject: String,
) -> anyhow::Result<Vec<T>> {
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(inbox.clone()).await?;
    client
        .publish_with_reply(subject.clone(), inbox, bytes::Bytes::new())
        .await?;
    client.flush().await?;
    let mut out = Vec::new();
    let window = tokio::time::sleep(Duration::from_millis(DISCOVERY_WINDOW_MS));
    tokio::pin!(window);
    loop {
        tokio::select! {
            _ = &mut window => break,
            m = sub.next() => match m {
                Some(m) => match serde_json::from_slice::<T>(&m.payload) {
                    Ok(v) => out.push(v),
                    Err(e) => tracing::warn!(%subject, error = %e, "undecodable discovery answer"),
                },
                None => break,
            }
        }
    }
    Ok(out)
}

async fn terminals(
    client: &async_nats::Client,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<TerminalStatus>> {
    let js = async_nats::jetstream::new(client.clone());
    let Ok(kv) = js.get_key_value(subjects::TERMINALS_BUCKET).await else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut keys = match kv.keys().await {
        Ok(k) => k.boxed(),
        Err(_) => return Ok(out),
    };
    while let Some(key) = keys.next().await {
        let Ok(key) = key else { continue };
        let Ok(Some(value)) = kv.get(&key).await else {
            continue;
        };
        let Ok(seen) = posfee_schemas::decode::<TerminalSeen>(&value) else {
            continue;
        };
        let stale_after =
            chrono::Duration::seconds(i64::from(seen.heartbeat_secs) * MISSED_HEARTBEATS_OFFLINE);
        out.push(TerminalStatus {
            revoked: false,
            online: seen.state == TerminalState::Online && now - seen.last_seen < stale_after,
            terminal: seen.terminal.to_string(),
            last_seen: seen.last_seen,
            version: seen.version,
        });
    }
    out.sort_by(|a, b| a.terminal.cmp(&b.terminal));
    Ok(out)
}

/// The human tables, at most [`crate::events::WIDTH`] columns wide: the services, their
/// endpoints, the terminals. Times are local with their UTC offset, as on receipts.
pub fn render(s: &Status) -> String {
    use crate::events::fit;
    let mut out = format!("posfee at {}\n\n", s.url);
    out.push_str(&format!(
        "{:<20} {:<8} {:<24} {}\n",
        "SERVICE", "VERSION", "INSTANCE", "STARTED"
    ));
    if s.services.is_empty() {
        out.push_str("(no service answered)\n");
    }
    for svc in &s.services {
        out.push_str(&format!(
            "{:<20} {:<8} {:<24} {}\n",
            fit(&svc.name, 20),
            fit(&svc.version, 8),
            fit(&svc.id, 24),
            svc.started.map(local_time).unwrap_or_else(|| "-".into())
        ));
    }
    out.push_str(&format!(
        "\n{:<18} {:<36} {:>9} {:>8} {:>7} {:>6} {:>8}\n",
        "SERVICE", "ENDPOINT", "REQUESTS", "OUTCOMES", "REFUSED", "FAILED", "AVG µs"
    ));
    for svc in &s.services {
        for e in &svc.endpoints {
            out.push_str(&format!(
                "{:<18} {:<36} {:>9} {:>8} {:>7} {:>6} {:>8}\n",
                fit(&svc.name, 18),
                fit(&e.subject, 36),
                e.requests,
                e.answers.outcomes,
                e.answers.refused,
                e.answers.failed,
                e.average_processing_us
            ));
        }
    }
    out.push_str(
        "OUTCOMES: results payers see (nothing owed, declined …)  REFUSED: 4xx  FAILED: 5xx\n",
    );
    out.push_str(&format!(
        "\n{:<20} {:<8} {}\n",
        "TERMINAL", "STATE", "LAST SEEN"
    ));
    if s.terminals.is_empty() {
        out.push_str("(no terminal has reported)\n");
    }
    for t in &s.terminals {
        out.push_str(&format!(
            "{:<20} {:<8} {}\n",
            fit(&t.terminal, 20),
            match (t.revoked, t.online) {
                (true, _) => "revoked",
                (false, true) => "online",
                (false, false) => "offline",
            },
            local_time(t.last_seen)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_tables_fit_100_columns_and_show_local_times() {
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 25, 2, 0, 0).unwrap();
        let endpoint = |subject: &str| EndpointStatus {
            name: "x".into(),
            subject: subject.into(),
            queue_group: "q".into(),
            requests: 123_456_789,
            errors: 1_234_567,
            answers: AnswerCounts {
                outcomes: 1_234_560,
                refused: 5,
                failed: 2,
            },
            average_processing_us: 123_456_789,
            last_error: None,
        };
        let s = Status {
            url: "nats://127.0.0.1:4222".into(),
            services: vec![ServiceStatus {
                name: "posfee-fee-engine".into(),
                id: "Xb0Dd8X6jVtHgkyN9bqd2c".into(),
                version: "0.1.0".into(),
                description: String::new(),
                started: Some(at),
                endpoints: vec![
                    endpoint("posfee.bill.issue.*"),
                    endpoint("posfee.a.subject.far.longer.than.any.the.services.serve.today"),
                ],
            }],
            terminals: vec![
                TerminalStatus {
                    terminal: "kiosk-01".into(),
                    online: true,
                    revoked: false,
                    last_seen: at,
                    version: "0.1.0".into(),
                },
                TerminalStatus {
                    terminal: "kiosk-02".into(),
                    online: false,
                    revoked: true,
                    last_seen: at,
                    version: "0.1.0".into(),
                },
            ],
        };
        let table = render(&s);
        for line in table.lines() {
            assert!(
                line.chars().count() <= 100,
                "{} columns: {line}",
                line.chars().count()
            );
        }
        assert!(
            table.contains("kiosk-01             online   2026-11-25 10:00:00 +08:00"),
            "{table}"
        );
        assert!(table.contains("posfee.bill.issue.*"), "{table}");
        assert!(table.contains("kiosk-02             revoked"), "{table}");
        assert!(table.contains("OUTCOMES REFUSED FAILED"), "{table}");
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["services"][0]["started"], "2026-11-25T02:00:00Z");
        assert_eq!(json["terminals"][0]["last_seen"], "2026-11-25T02:00:00Z");
        assert_eq!(json["services"][0]["endpoints"][0]["outcomes"], 1_234_560);
    }
}
