//! The service's notion of "now". In production it is the system clock; tests move it forward to
//! reach the end of a billing month (or an SLA deadline) without waiting for it.

use std::sync::atomic::{AtomicI64, Ordering};

use jiff::{SignedDuration, Timestamp};

/// The system clock plus an offset that only tests change.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> Timestamp {
        let now = Timestamp::now();
        let offset = SignedDuration::from_millis(self.offset_ms.load(Ordering::Relaxed));
        now.checked_add(offset).unwrap_or(now)
    }

    /// Moves this clock forward (or back) by `by`, for everything that reads it from now on.
    pub fn advance(&self, by: SignedDuration) {
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(millis, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now_forward() {
        let clock = Clock::default();
        let before = clock.now();
        clock.advance(SignedDuration::from_hours(24 * 40));
        let after = clock.now();
        assert!(after.duration_since(before) >= SignedDuration::from_hours(24 * 40));
    }
}
