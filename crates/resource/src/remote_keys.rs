//! The issuer's keys when the authorization server runs elsewhere
//! (entryway mode, SPEC §2: "The resource server verifies tokens with the
//! authorization server's public key").
//!
//! [`RemoteKeys`] keeps the last good [`PublicKeyset`] fetched from the
//! authorization server's JWKS and fetches it again when a token names a
//! `kid` it does not know (the issuer rotated its keys), at most once per
//! `min_refetch`, or when the copy is older than `max_age` (so a removed
//! key stops verifying). A failed or invalid fetch keeps the keys it had.
//! The HTTP client is the caller's, behind [`JwksFetch`]: atauth passes its
//! SSRF-safe fetcher.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use atauth_core::keys::PublicKeyset;
use serde_json::Value;

use crate::keys::{BoxFuture, IssuerKeys, KeySource};

/// Fetches the authorization server's JWK Set.
pub trait JwksFetch: Send + Sync {
    /// GET the JWKS and parse it as JSON. The error is for the log.
    fn fetch_jwks(&self) -> BoxFuture<'_, Result<Value, String>>;
}

/// When [`RemoteKeys`] fetches again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteKeysPolicy {
    /// Least time between two fetches (an unknown `kid` in a forged token
    /// must not make the server hammer the authorization server). Default
    /// 30 s.
    pub min_refetch: Duration,
    /// A copy older than this is fetched again on the next request.
    /// Default 10 min.
    pub max_age: Duration,
}

impl Default for RemoteKeysPolicy {
    fn default() -> Self {
        RemoteKeysPolicy {
            min_refetch: Duration::from_secs(30),
            max_age: Duration::from_secs(600),
        }
    }
}

/// Least time between fetches while no fetch has succeeded yet.
pub const NO_KEYS_MIN_REFETCH: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct FetchTimes {
    last_attempt: Option<Instant>,
    last_success: Option<Instant>,
}

/// A [`KeySource`] fed from a remote JWKS. Starts empty; the first request
/// (or [`RemoteKeys::refresh`] at start-up) fetches.
pub struct RemoteKeys<F> {
    fetch: F,
    policy: RemoteKeysPolicy,
    keys: RwLock<Arc<PublicKeyset>>,
    /// Held across the fetch, so concurrent requests wait for one fetch
    /// instead of starting their own.
    times: tokio::sync::Mutex<FetchTimes>,
}

impl<F> std::fmt::Debug for RemoteKeys<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteKeys")
            .field("policy", &self.policy)
            .field("keys", &self.current().len())
            .finish_non_exhaustive()
    }
}

impl<F> RemoteKeys<F> {
    /// The keys held now.
    pub fn current(&self) -> Arc<PublicKeyset> {
        match self.keys.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl<F: JwksFetch> RemoteKeys<F> {
    /// Keys fetched through `fetch` under `policy`.
    pub fn new(fetch: F, policy: RemoteKeysPolicy) -> Self {
        RemoteKeys {
            fetch,
            policy,
            keys: RwLock::new(Arc::new(PublicKeyset::default())),
            times: tokio::sync::Mutex::new(FetchTimes::default()),
        }
    }

    /// Fetch now, whatever the policy says (start-up). `true` when the keys
    /// were replaced.
    pub async fn refresh(&self) -> bool {
        let mut times = self.times.lock().await;
        self.fetch_locked(&mut times).await
    }

    async fn fetch_locked(&self, times: &mut FetchTimes) -> bool {
        times.last_attempt = Some(Instant::now());
        let parsed = match self.fetch.fetch_jwks().await {
            Ok(v) => PublicKeyset::from_jwks(&v).map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        match parsed {
            Ok(set) => {
                let kids: Vec<&str> = set.kids().collect();
                tracing::info!(kids = ?kids, "authorization server keys fetched");
                times.last_success = Some(Instant::now());
                let mut g = match self.keys.write() {
                    Ok(g) => g,
                    Err(poisoned) => poisoned.into_inner(),
                };
                *g = Arc::new(set);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not fetch the authorization server's JWKS; keeping the keys held");
                false
            }
        }
    }

    fn fresh(&self, times: &FetchTimes) -> bool {
        times
            .last_success
            .is_some_and(|t| t.elapsed() < self.policy.max_age)
    }

    /// Rate limit. Until a first fetch has succeeded (the authorization
    /// server was down when this one started) every request may need the
    /// keys, so the limit is one fetch a second instead.
    fn may_fetch(&self, times: &FetchTimes) -> bool {
        let min = if times.last_success.is_none() {
            self.policy.min_refetch.min(NO_KEYS_MIN_REFETCH)
        } else {
            self.policy.min_refetch
        };
        times.last_attempt.is_none_or(|t| t.elapsed() >= min)
    }

    async fn ensure(&self, kid: &str) {
        {
            // Fast path without waiting on a fetch in progress.
            if let Ok(times) = self.times.try_lock() {
                if self.current().contains(kid) && self.fresh(&times) {
                    return;
                }
            }
        }
        let mut times = self.times.lock().await;
        let known = self.current().contains(kid);
        if known && self.fresh(&times) {
            return;
        }
        if self.may_fetch(&times) {
            if !known {
                tracing::info!(
                    kid,
                    "token names an unknown key; fetching the authorization server's JWKS"
                );
            }
            self.fetch_locked(&mut times).await;
        }
    }
}

impl<F: JwksFetch> KeySource for RemoteKeys<F> {
    fn keys(&self) -> IssuerKeys {
        self.current()
    }

    fn prepare<'a>(&'a self, kid: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(self.ensure(kid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atauth_core::keys::{generate_stored_key, Keyset};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    struct Fake {
        jwks: Mutex<Result<Value, String>>,
        calls: AtomicUsize,
    }

    impl JwksFetch for Arc<Fake> {
        fn fetch_jwks(&self) -> BoxFuture<'_, Result<Value, String>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let v = self.jwks.lock().unwrap().clone();
            Box::pin(async move { v })
        }
    }

    fn keyset() -> Keyset {
        Keyset::from_stored(&[generate_stored_key(1).unwrap()]).unwrap()
    }

    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn fetches_on_first_use_and_on_an_unknown_kid_but_not_more_often() {
        let a = keyset();
        let fake = Arc::new(Fake {
            jwks: Mutex::new(Ok(a.jwks())),
            calls: AtomicUsize::new(0),
        });
        let policy = RemoteKeysPolicy {
            min_refetch: Duration::from_secs(3600),
            max_age: Duration::from_secs(3600),
        };
        let keys = RemoteKeys::new(fake.clone(), policy);
        let kid_a = a.current().kid.clone();
        block(keys.prepare(&kid_a));
        assert!(keys.current().contains(&kid_a));
        block(keys.prepare(&kid_a));
        assert_eq!(
            fake.calls.load(Ordering::SeqCst),
            1,
            "a known kid fetches nothing"
        );
        block(keys.prepare("unknown"));
        assert_eq!(fake.calls.load(Ordering::SeqCst), 1, "rate-limited");
        assert!(keys.current().contains(&kid_a));
    }

    #[test]
    fn a_rotation_is_picked_up_and_a_failed_fetch_keeps_the_keys() {
        let a = keyset();
        let fake = Arc::new(Fake {
            jwks: Mutex::new(Ok(a.jwks())),
            calls: AtomicUsize::new(0),
        });
        let policy = RemoteKeysPolicy {
            min_refetch: Duration::ZERO,
            max_age: Duration::from_secs(3600),
        };
        let keys = RemoteKeys::new(fake.clone(), policy);
        assert!(block(keys.refresh()));
        let b = keyset();
        *fake.jwks.lock().unwrap() = Ok(b.jwks());
        block(keys.prepare(&b.current().kid));
        assert!(keys.current().contains(&b.current().kid));
        *fake.jwks.lock().unwrap() = Err("down".into());
        assert!(!block(keys.refresh()));
        assert!(keys.current().contains(&b.current().kid));
        *fake.jwks.lock().unwrap() = Ok(serde_json::json!({"keys": []}));
        assert!(!block(keys.refresh()), "an unusable set is not taken");
        assert!(keys.current().contains(&b.current().kid));
    }
}
