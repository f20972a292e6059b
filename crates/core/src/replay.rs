//! Replay protection: remember one-time values (`jti`s) until they expire.
//!
//! Used for client assertions (RFC 7523 §3 item 7; atproto OAuth spec,
//! "Confidential Client Authentication": "Authorization Servers must ensure
//! uniqueness of `jti` values over the full token validity time period")
//! and DPoP proofs (RFC 9449 §11.1).

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::store::{StoreError, StoreResult};

/// Namespace of client-assertion `jti`s (keys are `client_id` + `jti`).
pub const NS_CLIENT_ASSERTION: &str = "client_assertion";
/// Namespace of DPoP proof `jti`s.
pub const NS_DPOP: &str = "dpop";

/// A store of values seen once.
///
/// Contract (the store contract suite tests exactly these sentences):
/// - `check_and_insert` is atomic: of any number of concurrent calls with
///   the same `namespace` and `key`, exactly one returns `true` while the
///   entry is unexpired, across every instance sharing the backend.
/// - It returns `true` if the key was not present (or only present
///   expired) and records it until `expires_at`; it returns `false`, and
///   changes nothing, if the key is present with `expires_at > now`.
/// - Namespaces are independent: the same key in two namespaces is two
///   entries.
/// - An entry with `expires_at <= now` is expired: it may be purged at any
///   time, and once expired (purged or not) the key counts as new again.
///   Callers therefore pick `expires_at` no earlier than the end of the
///   window in which they would accept the value.
/// - Timestamps are Unix seconds; `now` is the caller's clock, never read
///   by the store.
pub trait ReplayStore {
    /// Record `key` in `namespace` until `expires_at` unless it is already
    /// recorded and unexpired. `true` means new (accept), `false` means a
    /// replay (refuse).
    fn check_and_insert(
        &self,
        namespace: &str,
        key: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<bool>;
}

/// In-memory [`ReplayStore`]: unit tests, development, and a single
/// process whose DPoP nonces are its own (atauth-server's `replay`
/// module). Not shared between instances.
///
/// Keys are held as the first 128 bits of SHA-256 over namespace and key,
/// so an entry costs the same few dozen bytes whatever the `jti` length: a
/// server verifying thousands of proofs a second holds every one of them
/// for the proof window.
#[derive(Debug, Default)]
pub struct MemoryReplayStore {
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<[u8; 16], i64>,
    /// Size at which the next purge runs: twice what the last purge kept
    /// (at least [`PURGE_THRESHOLD`]), so purging costs amortised O(1) per
    /// insert even when most entries are live.
    next_purge: usize,
}

/// Entries held before the first purge of expired ones.
const PURGE_THRESHOLD: usize = 4096;

impl MemoryReplayStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many entries are held, expired ones included (for tests).
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |m| m.map.len())
    }

    /// Whether the store holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ReplayStore for MemoryReplayStore {
    fn check_and_insert(
        &self,
        namespace: &str,
        key: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let mut entries = self
            .entries
            .lock()
            .map_err(|_| StoreError::Backend("replay store lock poisoned".into()))?;
        if entries.map.len() > entries.next_purge.max(PURGE_THRESHOLD) {
            entries.map.retain(|_, exp| *exp > now);
            entries.next_purge = entries.map.len().saturating_mul(2);
        }
        let k = entry_key(namespace, key);
        match entries.map.get(&k) {
            Some(exp) if *exp > now => Ok(false),
            _ => {
                entries.map.insert(k, expires_at);
                Ok(true)
            }
        }
    }
}

/// 128 bits of SHA-256 over `namespace`, a zero byte and `key`.
fn entry_key(namespace: &str, key: &str) -> [u8; 16] {
    let digest = Sha256::new()
        .chain_update(namespace.as_bytes())
        .chain_update([0u8])
        .chain_update(key.as_bytes())
        .finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_use_is_a_replay_until_expiry() {
        let s = MemoryReplayStore::new();
        assert!(s.check_and_insert(NS_DPOP, "j1", 110, 100).unwrap());
        assert!(!s.check_and_insert(NS_DPOP, "j1", 120, 105).unwrap());
        assert!(!s.check_and_insert(NS_DPOP, "j1", 120, 109).unwrap());
        // Expired at expires_at: counts as new again.
        assert!(s.check_and_insert(NS_DPOP, "j1", 130, 110).unwrap());
        assert!(!s.check_and_insert(NS_DPOP, "j1", 140, 129).unwrap());
    }

    #[test]
    fn a_refused_replay_does_not_extend_the_entry() {
        let s = MemoryReplayStore::new();
        assert!(s.check_and_insert(NS_DPOP, "j", 110, 100).unwrap());
        assert!(!s.check_and_insert(NS_DPOP, "j", 1000, 101).unwrap());
        assert!(s.check_and_insert(NS_DPOP, "j", 200, 110).unwrap());
    }

    #[test]
    fn namespaces_are_independent() {
        let s = MemoryReplayStore::new();
        assert!(s.check_and_insert(NS_DPOP, "j", 200, 100).unwrap());
        assert!(s
            .check_and_insert(NS_CLIENT_ASSERTION, "j", 200, 100)
            .unwrap());
        assert!(!s
            .check_and_insert(NS_CLIENT_ASSERTION, "j", 200, 100)
            .unwrap());
    }

    #[test]
    fn namespace_and_key_do_not_run_together() {
        let s = MemoryReplayStore::new();
        assert!(s.check_and_insert("ab", "c", 200, 100).unwrap());
        assert!(s.check_and_insert("a", "bc", 200, 100).unwrap());
    }

    #[test]
    fn purges_expired_entries_when_large() {
        let s = MemoryReplayStore::new();
        for i in 0..=PURGE_THRESHOLD {
            assert!(s.check_and_insert(NS_DPOP, &i.to_string(), 10, 0).unwrap());
        }
        assert!(s.check_and_insert(NS_DPOP, "fresh", 100, 50).unwrap());
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn concurrent_inserts_admit_exactly_one() {
        let s = std::sync::Arc::new(MemoryReplayStore::new());
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || s.check_and_insert(NS_DPOP, "same", 100, 0).unwrap())
            })
            .collect();
        let admitted = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|b| *b)
            .count();
        assert_eq!(admitted, 1);
    }
}
