//! What the console raises for the operator on call, each from what the system says now:
//! reconcile's differences (a hold stuck between authorize and capture or void, money taken
//! and not booked, a journal's broken chain), a service with no instance answering, an
//! endpoint failing (5xx) often in the last minutes, and kiosks gone offline.

use crate::reconcile::Difference;
use crate::status::{ServiceStatus, TerminalStatus};
use chrono::{DateTime, Utc};
use posfee_schemas::subjects::ServiceName;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// How far back the error rate looks.
pub const ERROR_WINDOW: Duration = Duration::from_secs(300);
/// An endpoint is alerted when, within the window, at least this many answers failed …
pub const MIN_FAILED: u64 = 3;
/// … and they were at least this share of its answers, in percent.
pub const FAILED_PERCENT: u64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub severity: Severity,
    /// `stuck_hold`, `reconcile_difference`, `service_down`, `error_rate`, `kiosk_offline`.
    pub kind: &'static str,
    /// What it is about: a payment id, a journal, a service, an endpoint, a terminal.
    pub subject: String,
    pub detail: String,
    pub since: Option<DateTime<Utc>>,
}

/// One alert per difference reconcile found.
pub fn from_differences(differences: &[Difference]) -> Vec<Alert> {
    differences
        .iter()
        .map(|d| {
            let (kind, subject, detail, since) = match d {
                Difference::Stuck { payment_id, since } => (
                    "stuck_hold",
                    payment_id.to_string(),
                    "authorized, then neither captured nor voided".to_string(),
                    Some(*since),
                ),
                Difference::CapturedNotSettled { payment_id } => (
                    "reconcile_difference",
                    payment_id.to_string(),
                    "paygate captured it; the ledger has no settlement".to_string(),
                    None,
                ),
                Difference::SettledNotCaptured {
                    payment_id,
                    paygate_state,
                } => (
                    "reconcile_difference",
                    payment_id.to_string(),
                    format!("the ledger settled it; paygate has it as {paygate_state:?}"),
                    None,
                ),
                Difference::AmountMismatch {
                    payment_id,
                    ledger_fen,
                    paygate_fen,
                } => (
                    "reconcile_difference",
                    payment_id.to_string(),
                    format!("amounts differ: ledger {ledger_fen} fen, paygate {paygate_fen} fen"),
                    None,
                ),
                Difference::RefundMismatch {
                    payment_id,
                    ledger_fen,
                    paygate_fen,
                } => (
                    "reconcile_difference",
                    payment_id.to_string(),
                    format!("refunds differ: ledger {ledger_fen} fen, paygate {paygate_fen} fen"),
                    None,
                ),
                Difference::BrokenChain { journal, link } => (
                    "reconcile_difference",
                    journal.clone(),
                    format!("the journal's chain breaks: {link:?}"),
                    None,
                ),
            };
            Alert {
                severity: Severity::Critical,
                kind,
                subject,
                detail,
                since,
            }
        })
        .collect()
}

/// A service none of whose instances answered discovery.
pub fn services_down(services: &[ServiceStatus]) -> Vec<Alert> {
    ServiceName::ALL
        .iter()
        .filter(|name| !services.iter().any(|s| s.name == name.as_str()))
        .map(|name| Alert {
            severity: Severity::Critical,
            kind: "service_down",
            subject: name.as_str().to_string(),
            detail: "no instance answers".to_string(),
            since: None,
        })
        .collect()
}

/// Kiosks offline that are not revoked (a revoked one is meant to be gone).
pub fn kiosks_offline(kiosks: &[TerminalStatus]) -> Vec<Alert> {
    kiosks
        .iter()
        .filter(|k| !k.online && !k.revoked)
        .map(|k| Alert {
            severity: Severity::Warning,
            kind: "kiosk_offline",
            subject: k.terminal.clone(),
            detail: "no heartbeat: the kiosk is offline".to_string(),
            since: Some(k.last_seen),
        })
        .collect()
}

/// Each instance's answer counts per endpoint, at one moment.
type Sample = BTreeMap<(String, String, String), (u64, u64)>;

/// The answer counts seen over the last [`ERROR_WINDOW`], to tell the failures of the last
/// minutes from those since each instance started.
#[derive(Default)]
pub struct ErrorRates {
    samples: VecDeque<(Instant, Sample)>,
}

impl ErrorRates {
    /// Records what `services` count now and alerts the endpoints that failed often since
    /// the baseline sample (or since they started, before the first sample).
    pub fn observe(&mut self, services: &[ServiceStatus], now: Instant) -> Vec<Alert> {
        let sample: Sample = services
            .iter()
            .flat_map(|s| {
                s.endpoints.iter().map(|e| {
                    let key = (s.name.clone(), s.id.clone(), e.subject.clone());
                    (key, (e.requests as u64, e.answers.failed))
                })
            })
            .collect();
        // The baseline is the oldest sample in the window, or the last one before it when
        // none is in it (a console not looked at for a while): never the instance's start
        // again, which would bring back failures long past.
        while self
            .samples
            .get(1)
            .is_some_and(|(at, _)| now.duration_since(*at) > ERROR_WINDOW)
        {
            self.samples.pop_front();
        }
        let mut per_endpoint: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
        for ((service, instance, subject), (requests, failed)) in &sample {
            let base = self
                .samples
                .front()
                .and_then(|(_, b)| b.get(&(service.clone(), instance.clone(), subject.clone())))
                // A count lower than before is an instance that restarted: all of it is new.
                .filter(|(r, f)| r <= requests && f <= failed)
                .copied()
                .unwrap_or((0, 0));
            let e = per_endpoint
                .entry((service.clone(), subject.clone()))
                .or_default();
            e.0 += requests - base.0;
            e.1 += failed - base.1;
        }
        self.samples.push_back((now, sample));
        per_endpoint
            .into_iter()
            .filter(|(_, (requests, failed))| {
                *failed >= MIN_FAILED && failed * 100 >= requests * FAILED_PERCENT
            })
            .map(|((service, subject), (requests, failed))| Alert {
                severity: Severity::Warning,
                kind: "error_rate",
                subject: format!("{service} {subject}"),
                detail: format!("{failed} of {requests} answers failed (5xx) lately"),
                since: None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::status::EndpointStatus;
    use posfee_runtime::serve::AnswerCounts;

    fn service(id: &str, requests: usize, failed: u64) -> ServiceStatus {
        ServiceStatus {
            name: "posfee-ledger".into(),
            id: id.into(),
            version: "0.1.0".into(),
            description: String::new(),
            started: None,
            endpoints: vec![EndpointStatus {
                name: "settle".into(),
                subject: "posfee.ledger.settle".into(),
                queue_group: "q".into(),
                requests,
                errors: failed as usize,
                answers: AnswerCounts {
                    outcomes: 0,
                    refused: 0,
                    failed,
                },
                average_processing_us: 0,
                last_error: None,
            }],
        }
    }

    #[test]
    fn failures_alert_while_recent_and_restarts_count_from_zero() {
        let mut rates = ErrorRates::default();
        let t0 = Instant::now();
        // Since start: 10 of 100 failed.
        let first = rates.observe(&[service("a", 100, 10)], t0);
        assert_eq!(first.len(), 1, "{first:?}");
        assert!(first[0].detail.contains("10 of 100"), "{first:?}");
        // A minute on: 100 more answers, none failed since the first look: no alert.
        let later = rates.observe(&[service("a", 200, 10)], t0 + Duration::from_secs(60));
        assert!(later.is_empty(), "{later:?}");
        // Then 10 of the next 50 fail: counted from the oldest sample in the window.
        let failing = rates.observe(&[service("a", 250, 20)], t0 + Duration::from_secs(120));
        assert!(failing[0].detail.contains("10 of 150"), "{failing:?}");
        // Past the window, what failed before it no longer counts.
        let quiet = rates.observe(&[service("a", 300, 20)], t0 + Duration::from_secs(600));
        assert!(quiet.is_empty(), "{quiet:?}");
        // The instance restarts (counts drop) and fails 4 of 20: counted from zero.
        let restarted = rates.observe(&[service("a", 20, 4)], t0 + Duration::from_secs(620));
        assert!(restarted[0].detail.contains("4 of 20"), "{restarted:?}");
        // Two failures are not an alert, however few the answers.
        let mut fresh = ErrorRates::default();
        assert!(fresh.observe(&[service("b", 2, 2)], t0).is_empty());
        // Nor is a low share.
        assert!(fresh
            .observe(&[service("c", 1000, 10)], t0)
            .iter()
            .all(|a| !a.subject.contains("c")));
    }

    #[test]
    fn a_service_without_instances_and_an_offline_kiosk_alert_but_a_revoked_one_does_not() {
        let down = services_down(&[service("a", 0, 0)]);
        assert!(down.iter().all(|a| a.subject != "posfee-ledger"));
        assert!(
            down.iter().any(|a| a.subject == "posfee-paygate"),
            "{down:?}"
        );
        let kiosk = |name: &str, online, revoked| TerminalStatus {
            terminal: name.into(),
            online,
            revoked,
            last_seen: Utc::now(),
            version: String::new(),
        };
        let alerts = kiosks_offline(&[
            kiosk("k1", true, false),
            kiosk("k2", false, false),
            kiosk("k3", false, true),
        ]);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].subject, "k2");
    }
}
