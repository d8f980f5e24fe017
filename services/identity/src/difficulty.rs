//! How many stamp bits enrolling a new key needs just now: [`CONNECT_STAMP_BITS`] while
//! enrolments come at most at the target rate, one more bit for each doubling beyond it. A
//! crowd making keys pays more work per key the faster it goes; a genuine phone among them
//! pays more too, but is never turned away for what others did (the old global enrolment
//! budget, and the per-address one, could be emptied by anyone).

use posfee_schemas::identity::{CONNECT_STAMP_BITS, MAX_STAMP_BITS};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window enrolments are counted over.
pub const WINDOW: Duration = Duration::from_secs(10);
/// Enrolments remembered at most (beyond this the rate is high enough to need the most bits).
const REMEMBERED: usize = 1 << 16;

pub struct Difficulty {
    /// Enrolments per second that need only the base bits.
    target_per_sec: f64,
    /// The bits a new key needs when enrolments are quiet.
    base_bits: u32,
    recent: Mutex<VecDeque<Instant>>,
}

impl Difficulty {
    pub fn new(target_per_sec: f64, base_bits: u32) -> Difficulty {
        Difficulty {
            target_per_sec: target_per_sec.max(0.001),
            base_bits: base_bits.min(MAX_STAMP_BITS),
            recent: Mutex::new(VecDeque::new()),
        }
    }

    /// The standard difficulty: [`CONNECT_STAMP_BITS`] at up to `target_per_sec`.
    pub fn standard(target_per_sec: f64) -> Difficulty {
        Self::new(target_per_sec, CONNECT_STAMP_BITS)
    }

    /// The bits a new key's stamp needs now.
    pub fn bits(&self) -> u32 {
        self.bits_at(Instant::now())
    }

    fn bits_at(&self, now: Instant) -> u32 {
        let mut recent = self.lock();
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > WINDOW)
        {
            recent.pop_front();
        }
        let rate = recent.len() as f64 / WINDOW.as_secs_f64();
        let extra = if rate > self.target_per_sec {
            (rate / self.target_per_sec).log2().ceil() as u32
        } else {
            0
        };
        (self.base_bits + extra).min(MAX_STAMP_BITS)
    }

    /// Counts one enrolment.
    pub fn enrolled(&self) {
        let mut recent = self.lock();
        if recent.len() >= REMEMBERED {
            recent.pop_front();
        }
        recent.push_back(Instant::now());
    }

    /// The base bits (what a key needs to connect at all).
    pub fn base_bits(&self) -> u32 {
        self.base_bits
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Instant>> {
        match self.recent.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_enrolments_need_the_base_bits_and_a_rush_one_more_per_doubling() {
        let d = Difficulty::new(1.0, 16);
        assert_eq!(d.bits(), 16);
        for _ in 0..10 {
            d.enrolled();
        }
        assert_eq!(d.bits(), 16, "at the target rate");
        for _ in 0..30 {
            d.enrolled();
        }
        // 40 in 10 s is 4 a second: two doublings over the target.
        assert_eq!(d.bits(), 18);
        let later = Instant::now() + WINDOW + Duration::from_secs(1);
        assert_eq!(d.bits_at(later), 16, "the rush is forgotten");
    }
}
