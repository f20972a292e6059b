//! Sign-in rate limiting: in memory (moka), per client IP and per account
//! identifier, with a lockout that doubles on every failure past the
//! threshold.
//!
//! Policy: within a window (15 min from the first failure), the
//! `threshold`-th failure locks the key for `base_lock` (1 s), each further
//! failure doubles it (2 s, 4 s, …) up to `max_lock` (15 min). While locked,
//! a sign-in is answered 429 with `Retry-After` without checking the
//! password (no argon2 work). A success clears the account key, not the IP
//! key (so one known account cannot be used to reset an IP's count).
//! Accounts are keyed by DID when the account exists and by the normalised
//! identifier otherwise, so handle and DID of one account share a count and
//! unknown identifiers are limited just the same (the 429 reveals nothing).
//! Per-instance: several instances each count their own failures.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Rate-limit settings.
#[derive(Debug, Clone)]
pub struct RateLimitPolicy {
    /// How long failures are counted, from the first one.
    pub window: Duration,
    /// Failures per account identifier before the first lockout.
    pub account_threshold: u32,
    /// Failures per IP before the first lockout (higher: several people may
    /// share an address).
    pub ip_threshold: u32,
    /// The first lockout.
    pub base_lock: Duration,
    /// The longest lockout.
    pub max_lock: Duration,
    /// Most keys tracked (memory bound).
    pub max_keys: u64,
}

impl Default for RateLimitPolicy {
    fn default() -> Self {
        RateLimitPolicy {
            window: Duration::from_secs(15 * 60),
            account_threshold: 5,
            ip_threshold: 20,
            base_lock: Duration::from_secs(1),
            max_lock: Duration::from_secs(15 * 60),
            max_keys: 100_000,
        }
    }
}

/// What is counted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LimitKey {
    /// A client IP address.
    Ip(String),
    /// An account (DID) or an identifier that names no account.
    Account(String),
}

impl LimitKey {
    fn cache_key(&self) -> String {
        match self {
            LimitKey::Ip(ip) => format!("ip\0{ip}"),
            LimitKey::Account(a) => format!("acct\0{a}"),
        }
    }
}

#[derive(Debug)]
struct Entry {
    window_start: Instant,
    failures: u32,
    locked_until: Option<Instant>,
}

/// The limiter.
pub struct RateLimiter {
    entries: moka::sync::Cache<String, Arc<Mutex<Entry>>>,
    policy: RateLimitPolicy,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("keys", &self.entries.entry_count())
            .field("policy", &self.policy)
            .finish()
    }
}

impl RateLimiter {
    /// A limiter with this policy.
    pub fn new(policy: RateLimitPolicy) -> RateLimiter {
        RateLimiter {
            entries: moka::sync::Cache::builder()
                .max_capacity(policy.max_keys)
                .time_to_idle(policy.window.max(policy.max_lock) + Duration::from_secs(60))
                .build(),
            policy,
        }
    }

    /// `Err(wait)` when any of the keys is locked, with the longest wait.
    pub fn check(&self, keys: &[LimitKey]) -> Result<(), Duration> {
        let now = Instant::now();
        let mut wait = Duration::ZERO;
        for key in keys {
            if let Some(entry) = self.entries.get(&key.cache_key()) {
                let e = lock(&entry);
                if let Some(until) = e.locked_until {
                    wait = wait.max(until.saturating_duration_since(now));
                }
            }
        }
        if wait.is_zero() {
            Ok(())
        } else {
            Err(wait)
        }
    }

    /// Count a failed sign-in against a key.
    pub fn record_failure(&self, key: &LimitKey) {
        let now = Instant::now();
        let threshold = match key {
            LimitKey::Ip(_) => self.policy.ip_threshold,
            LimitKey::Account(_) => self.policy.account_threshold,
        }
        .max(1);
        let entry = self.entries.get_with(key.cache_key(), || {
            Arc::new(Mutex::new(Entry {
                window_start: now,
                failures: 0,
                locked_until: None,
            }))
        });
        let mut e = lock(&entry);
        if now.saturating_duration_since(e.window_start) > self.policy.window {
            e.window_start = now;
            e.failures = 0;
        }
        e.failures = e.failures.saturating_add(1);
        if e.failures >= threshold {
            let doublings = (e.failures - threshold).min(30);
            let lock_for = self
                .policy
                .base_lock
                .saturating_mul(1u32 << doublings)
                .min(self.policy.max_lock);
            e.locked_until = Some(now + lock_for);
        }
    }

    /// Forget a key's failures (after a successful sign-in).
    pub fn reset(&self, key: &LimitKey) {
        self.entries.invalidate(&key.cache_key());
    }
}

fn lock(entry: &Mutex<Entry>) -> std::sync::MutexGuard<'_, Entry> {
    match entry.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// `Retry-After` seconds for a wait: rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RateLimitPolicy {
        RateLimitPolicy {
            account_threshold: 3,
            ip_threshold: 5,
            ..RateLimitPolicy::default()
        }
    }

    #[test]
    fn locks_after_threshold_and_doubles() {
        let l = RateLimiter::new(policy());
        let k = LimitKey::Account("did:plc:x".into());
        for _ in 0..2 {
            l.record_failure(&k);
            assert!(l.check(std::slice::from_ref(&k)).is_ok());
        }
        l.record_failure(&k);
        let w1 = l.check(std::slice::from_ref(&k)).unwrap_err();
        assert!(w1 <= Duration::from_secs(1) && w1 > Duration::from_millis(500));
        l.record_failure(&k);
        let w2 = l.check(std::slice::from_ref(&k)).unwrap_err();
        assert!(w2 > Duration::from_millis(1500) && w2 <= Duration::from_secs(2));
        for _ in 0..40 {
            l.record_failure(&k);
        }
        let capped = l.check(std::slice::from_ref(&k)).unwrap_err();
        assert!(capped <= Duration::from_secs(15 * 60));
        assert!(capped > Duration::from_secs(15 * 60 - 5));
    }

    #[test]
    fn keys_are_independent_and_reset_clears() {
        let l = RateLimiter::new(policy());
        let a = LimitKey::Account("a".into());
        let ip = LimitKey::Ip("a".into());
        for _ in 0..3 {
            l.record_failure(&a);
        }
        assert!(
            l.check(std::slice::from_ref(&ip)).is_ok(),
            "same text, other kind"
        );
        assert!(l.check(&[ip.clone(), a.clone()]).is_err());
        l.reset(&a);
        assert!(l.check(&[ip, a]).is_ok());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }
}
