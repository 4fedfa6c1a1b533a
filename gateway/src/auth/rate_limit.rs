//! Per-key request rate limiting: a token bucket per key holding a minute's
//! allowance, refilled continuously. State is per gateway node.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The answer for one request, with what the `RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_seconds: u64,
    /// Seconds until the next request would be allowed (when refused).
    pub retry_after_seconds: u64,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Buckets of every key seen.
#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
    /// Requests refused per key since this node started (key ids only: the
    /// gateway's own `\0`-prefixed buckets, which are per address, are not kept).
    refused: Mutex<HashMap<String, u64>>,
}

impl RateLimiter {
    /// Takes one token of `key_id`'s bucket if there is one.
    pub fn check(&self, key_id: &str, per_minute: u32) -> RateDecision {
        self.check_at(key_id, per_minute, Instant::now())
    }

    /// Requests of `key_id` this node refused for its rate limit since it started.
    pub fn refused(&self, key_id: &str) -> u64 {
        self.refused.lock().unwrap_or_else(|p| p.into_inner()).get(key_id).copied().unwrap_or(0)
    }

    /// Whether `key_id`'s bucket has a token, without taking it.
    pub fn has_room(&self, key_id: &str, per_minute: u32) -> bool {
        self.peek_at(key_id, per_minute, Instant::now()) >= 1.0
    }

    /// Seconds until `key_id`'s bucket has a token again.
    pub fn retry_after(&self, key_id: &str, per_minute: u32) -> u64 {
        let per_second = f64::from(per_minute.max(1)) / 60.0;
        let tokens = self.peek_at(key_id, per_minute, Instant::now());
        ((1.0 - tokens).max(0.0) / per_second).ceil().max(1.0) as u64
    }

    /// The tokens `key_id`'s bucket would hold at `now`.
    fn peek_at(&self, key_id: &str, per_minute: u32, now: Instant) -> f64 {
        let capacity = f64::from(per_minute.max(1));
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        match buckets.get(key_id) {
            Some(bucket) => {
                let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
                (bucket.tokens + elapsed * capacity / 60.0).min(capacity)
            }
            None => capacity,
        }
    }

    fn check_at(&self, key_id: &str, per_minute: u32, now: Instant) -> RateDecision {
        let capacity = f64::from(per_minute.max(1));
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            // Bound memory: forget buckets that are full anyway.
            buckets.retain(|_, b| now.duration_since(b.updated) < Duration::from_secs(60));
        }
        let bucket = buckets.entry(key_id.to_string()).or_insert(Bucket { tokens: capacity, updated: now });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.updated = now;
        let allowed = bucket.tokens >= 1.0;
        if allowed {
            bucket.tokens -= 1.0;
        } else if !key_id.starts_with('\0') {
            *self.refused.lock().unwrap_or_else(|p| p.into_inner()).entry(key_id.to_string()).or_default() += 1;
        }
        let reset_seconds = ((capacity - bucket.tokens) / per_second).ceil() as u64;
        let retry_after_seconds = if allowed { 0 } else { ((1.0 - bucket.tokens) / per_second).ceil().max(1.0) as u64 };
        RateDecision {
            allowed,
            limit: per_minute,
            remaining: bucket.tokens.floor() as u32,
            reset_seconds,
            retry_after_seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_minutes_worth_then_refuses_until_refilled() {
        let limiter = RateLimiter::default();
        let start = Instant::now();
        for i in 0..3 {
            let d = limiter.check_at("k", 3, start);
            assert!(d.allowed);
            assert_eq!(d.remaining, 2 - i);
        }
        let refused = limiter.check_at("k", 3, start);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_seconds, 20);
        assert!(limiter.check_at("other", 3, start).allowed);
        assert!(limiter.check_at("k", 3, start + Duration::from_secs(21)).allowed);
        assert_eq!((limiter.refused("k"), limiter.refused("other")), (1, 0), "refusals are counted per key");
        let _ = limiter.check_at("\0auth-failures:10.0.0.1", 1, start);
        assert!(!limiter.check_at("\0auth-failures:10.0.0.1", 1, start).allowed);
        assert_eq!(limiter.refused("\0auth-failures:10.0.0.1"), 0, "per-address buckets are not kept");
    }
}
