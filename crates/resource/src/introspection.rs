//! Stateful mode when the sessions live elsewhere: ask the authorization
//! server (RFC 7662) whether the token is still active.
//!
//! SPEC §8: a resource server checks "in stateful mode that its session
//! still exists"; in an entryway deployment the sessions are in the
//! authorization server's database, so the resource server introspects the
//! access token there. Answers are cached by token id (`jti`): an active
//! answer for `cache_secs` (the window in which a revocation is not yet
//! seen), an inactive one until the token expires (a revoked session never
//! comes back). A failed call is not cached and fails the request.

use std::collections::HashMap;
use std::sync::Mutex;

use atauth_core::token::introspect::Introspection;

use crate::caller::Caller;
use crate::keys::BoxFuture;

/// Whether a verified token is still active, asked after the local checks
/// passed (the [`Verifier`](crate::Verifier) calls it from async code).
pub trait TokenCheck: Send + Sync {
    /// `Ok(true)` while the token (`token`, verified as `caller`) is
    /// active at `now`; `Ok(false)` once its session is revoked or ended.
    /// `Err` is a failure to find out (the request then fails with
    /// `server_error`, never succeeds); the text is for the log.
    fn token_active<'a>(
        &'a self,
        token: &'a str,
        caller: &'a Caller,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, String>>;
}

/// Calls the authorization server's introspection endpoint.
pub trait Introspect: Send + Sync {
    /// POST `token=<token>` with the configured credentials; the parsed
    /// RFC 7662 answer. The error is for the log.
    fn introspect<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Introspection, String>>;
}

/// Most answers kept; past this the expired ones are dropped, then all.
pub const MAX_CACHED: usize = 10_000;

/// [`TokenCheck`] through introspection, with a small cache.
pub struct IntrospectionCheck<I> {
    client: I,
    cache_secs: i64,
    cache: Mutex<HashMap<String, (bool, i64)>>,
}

impl<I> std::fmt::Debug for IntrospectionCheck<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionCheck")
            .field("cache_secs", &self.cache_secs)
            .finish_non_exhaustive()
    }
}

impl<I: Introspect> IntrospectionCheck<I> {
    /// Introspect through `client`, caching active answers `cache_secs`
    /// (0: ask on every request).
    pub fn new(client: I, cache_secs: u64) -> Self {
        IntrospectionCheck {
            client,
            cache_secs: i64::try_from(cache_secs).unwrap_or(i64::MAX),
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, jti: &str, now: i64) -> Option<bool> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(jti)
            .filter(|(_, until)| *until > now)
            .map(|(active, _)| *active)
    }

    fn remember(&self, jti: &str, active: bool, until: i64, now: i64) {
        if until <= now {
            return;
        }
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, (_, u)| *u > now);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(jti.to_string(), (active, until));
    }

    async fn check(&self, token: &str, caller: &Caller, now: i64) -> Result<bool, String> {
        if let Some(active) = self.cached(&caller.token_id, now) {
            return Ok(active);
        }
        let answer = self.client.introspect(token).await?;
        // The answer must be about this very token: same id and session.
        let active = answer.active
            && answer.jti.as_deref() == Some(caller.token_id.as_str())
            && answer.sid.as_deref() == Some(caller.session_id.as_str());
        let until = if active {
            now.saturating_add(self.cache_secs).min(caller.token_exp)
        } else {
            caller.token_exp
        };
        self.remember(&caller.token_id, active, until, now);
        Ok(active)
    }
}

impl<I: Introspect> TokenCheck for IntrospectionCheck<I> {
    fn token_active<'a>(
        &'a self,
        token: &'a str,
        caller: &'a Caller,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(self.check(token, caller, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atauth_core::identity::Did;
    use atauth_core::scope::Scope;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    struct Fake {
        active: Mutex<bool>,
        calls: AtomicUsize,
    }

    impl Introspect for Arc<Fake> {
        fn introspect<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Introspection, String>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let active = *self.active.lock().unwrap();
            Box::pin(async move {
                Ok(if active {
                    Introspection {
                        active: true,
                        jti: Some("jti-1".into()),
                        sid: Some("ses-1".into()),
                        ..Introspection::default()
                    }
                } else {
                    Introspection::inactive()
                })
            })
        }
    }

    fn caller() -> Caller {
        Caller {
            did: Did::parse("did:plc:abcdefghijklmnopqrstuvwx").unwrap(),
            client_id: "https://app.example/client-metadata.json".into(),
            scope: Scope::parse("atproto").unwrap(),
            session_id: "ses-1".into(),
            token_id: "jti-1".into(),
            token_exp: 1000,
        }
    }

    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn fake(active: bool) -> Arc<Fake> {
        Arc::new(Fake {
            active: Mutex::new(active),
            calls: AtomicUsize::new(0),
        })
    }

    #[test]
    fn caches_an_active_answer_for_cache_secs_only() {
        let f = fake(true);
        let check = IntrospectionCheck::new(f.clone(), 5);
        let c = caller();
        assert_eq!(block(check.token_active("t", &c, 100)), Ok(true));
        assert_eq!(block(check.token_active("t", &c, 104)), Ok(true));
        assert_eq!(f.calls.load(Ordering::SeqCst), 1);
        *f.active.lock().unwrap() = false;
        assert_eq!(block(check.token_active("t", &c, 105)), Ok(false));
        assert_eq!(f.calls.load(Ordering::SeqCst), 2);
        assert_eq!(block(check.token_active("t", &c, 500)), Ok(false));
        assert_eq!(f.calls.load(Ordering::SeqCst), 2, "inactive is final");
    }

    #[test]
    fn zero_cache_asks_every_time() {
        let f = fake(true);
        let check = IntrospectionCheck::new(f.clone(), 0);
        let c = caller();
        block(check.token_active("t", &c, 100)).unwrap();
        block(check.token_active("t", &c, 100)).unwrap();
        assert_eq!(f.calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn rejects_an_answer_about_another_token() {
        let f = fake(true);
        let check = IntrospectionCheck::new(f, 5);
        let mut c = caller();
        c.token_id = "jti-2".into();
        assert_eq!(block(check.token_active("t", &c, 100)), Ok(false));
    }
}
