//! Token buckets per key: how many connections one nkey opens (the identity service), bills
//! one kiosk issues (the fee-engine), reads one kiosk makes (the query service), so a stolen
//! kiosk's key or a runaway client cannot fill a store or keep a service busy.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// A rate given in requests per second, with thirty seconds' worth allowed at once.
pub fn per_sec(per_sec: f64) -> Rate {
    Rate {
        per_sec,
        burst: (per_sec * 30.0).max(1.0),
    }
}

/// Up to `burst` at once, refilled at `per_sec`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_sec: f64,
    pub burst: f64,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn take(&mut self, rate: Rate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_sec).min(rate.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One bucket per key (a client address, or one shared key), forgotten once full again.
#[derive(Debug)]
pub struct Limiter {
    rate: Rate,
    buckets: Mutex<Buckets>,
}

#[derive(Debug)]
struct Buckets {
    by_key: HashMap<String, Bucket>,
    /// The size at which full buckets are swept out next: twice what a sweep left (at least
    /// [`SWEEP_AT`]), so sweeping costs each `allow` a constant share however many keys are
    /// busy at once.
    sweep_at: usize,
}

/// Keys kept before full buckets are swept out.
const SWEEP_AT: usize = 10_000;

impl Limiter {
    pub fn new(rate: Rate) -> Limiter {
        Limiter {
            rate,
            buckets: Mutex::new(Buckets {
                by_key: HashMap::new(),
                sweep_at: SWEEP_AT,
            }),
        }
    }

    /// Takes one token for `key`; false when the bucket is empty.
    pub fn allow(&self, key: &str) -> bool {
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else {
            return false;
        };
        if buckets.by_key.len() >= buckets.sweep_at {
            let rate = self.rate;
            buckets.by_key.retain(|_, b| {
                let refilled =
                    b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate.per_sec;
                refilled < rate.burst
            });
            buckets.sweep_at = (buckets.by_key.len() * 2).max(SWEEP_AT);
        }
        buckets
            .by_key
            .entry(key.to_string())
            .or_insert(Bucket {
                tokens: self.rate.burst,
                at: now,
            })
            .take(self.rate, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let l = Limiter::new(Rate {
            per_sec: 0.0,
            burst: 3.0,
        });
        let passed = (0..10).filter(|_| l.allow("a")).count();
        assert_eq!(passed, 3);
        assert!(l.allow("b"), "another key has its own bucket");
    }
}
