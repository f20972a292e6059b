//! Stateful mode: a token is honoured only while its OAuth session exists.
//!
//! SPEC §8: check "in stateful mode that its session still exists", so
//! that revocation (RFC 7009, SPEC §9: "revokes the whole session") takes
//! effect at once rather than when the access token expires. The token's
//! `sid` claim names the session.

use atauth_core::store::{SessionStore, StoreError};

/// Whether an OAuth session is still alive.
///
/// - atauth answers from its own store ([`StoreSessionCheck`]).
/// - A PDS behind a remote atauth (entryway mode) has no sessions table;
///   it uses a [`TokenCheck`](crate::TokenCheck) instead
///   ([`IntrospectionCheck`](crate::IntrospectionCheck): RFC 7662 at the
///   authorization server).
pub trait SessionCheck: Send + Sync {
    /// `Ok(true)` while the session `sid` exists and has not ended at
    /// `now`; `Ok(false)` once it is revoked, deleted or expired. `Err` is
    /// a backend failure (the request then fails with `server_error`,
    /// never succeeds).
    fn session_active(&self, sid: &str, now: i64) -> Result<bool, StoreError>;
}

/// [`SessionCheck`] over any [`SessionStore`]: the session must exist
/// (`session_by_id`; a revoked session is gone, per the store contract)
/// and its `expires_at` must lie after `now` (an ended session that was not
/// purged yet does not count).
#[derive(Debug, Clone)]
pub struct StoreSessionCheck<S> {
    store: S,
}

impl<S> StoreSessionCheck<S> {
    /// Check sessions in `store`.
    pub fn new(store: S) -> Self {
        StoreSessionCheck { store }
    }

    /// The store it asks.
    pub fn store(&self) -> &S {
        &self.store
    }
}

impl<S: SessionStore + Send + Sync> SessionCheck for StoreSessionCheck<S> {
    fn session_active(&self, sid: &str, now: i64) -> Result<bool, StoreError> {
        Ok(self
            .store
            .session_by_id(sid)?
            .is_some_and(|s| s.expires_at > now))
    }
}
