//! OAuth sessions: what one code exchange grants, kept alive by refresh
//! tokens that rotate on every use.

use super::StoreResult;
use crate::client::auth::ClientAuth;
use crate::identity::Did;

/// A stored OAuth session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSession {
    /// `SessionId` string (`ses-…`); also the `jti` family of its tokens.
    pub id: String,
    /// The account.
    pub did: Did,
    /// The client.
    pub client_id: String,
    /// How the client authenticated when the session started; refreshes
    /// must use the same key (atproto profile).
    pub client_auth: ClientAuth,
    /// Granted scope, normalised.
    pub scope: String,
    /// The DPoP key the tokens are bound to (`cnf.jkt`).
    pub dpop_jkt: String,
    /// The authorization request whose code started it.
    pub request_id: String,
    /// When it started.
    pub created_at: i64,
    /// When it ends, however often it is refreshed.
    pub expires_at: i64,
    /// SHA-256 of the current refresh token, if the client gets them.
    pub refresh_hash: Option<String>,
    /// When the current refresh token expires (never after `expires_at`).
    pub refresh_expires_at: Option<i64>,
    /// SHA-256 of the refresh token the last rotation replaced.
    pub previous_refresh_hash: Option<String>,
    /// When the last rotation happened.
    pub rotated_at: Option<i64>,
    /// When a token was last issued for it (start or refresh).
    pub last_used_at: i64,
}

/// The outcome of looking up a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshLookup {
    /// The session's current refresh token.
    Current(OAuthSession),
    /// The token the last rotation replaced: a replay, or a retry whose
    /// response was lost. The caller decides (retry grace or revocation).
    Previous(OAuthSession),
    /// No session knows this token.
    Unknown,
}

/// OAuth sessions.
///
/// Contract:
/// - `create_session` inserts a new session (unique id, unique refresh hash).
/// - `session_by_id` returns it while it exists (the stateful resource
///   check: a revoked session is gone).
/// - `find_refresh` finds a session by its current or previous refresh
///   hash, saying which.
/// - `rotate_refresh` is atomic compare-and-swap: it replaces the refresh
///   hash only if the current one equals `expected_hash`, moving the old
///   one to `previous_refresh_hash` and setting `rotated_at` and
///   `last_used_at` to `now`; of concurrent rotations from one hash at most
///   one succeeds (true), the others get false and change nothing.
/// - `touch_session` sets `last_used_at`.
/// - `delete_session`, `delete_sessions_for_request` and
///   `delete_sessions_for` remove sessions (revocation) and return how many;
///   afterwards neither `session_by_id` nor `find_refresh` finds them.
/// - `list_sessions` lists sessions, newest first, optionally filtered by
///   account and client.
/// - `purge_expired_sessions` removes sessions with `expires_at <= now`.
pub trait SessionStore {
    /// Insert a session.
    fn create_session(&self, session: &OAuthSession) -> StoreResult<()>;
    /// Fetch by id.
    fn session_by_id(&self, id: &str) -> StoreResult<Option<OAuthSession>>;
    /// Find by refresh-token hash.
    fn find_refresh(&self, refresh_hash: &str) -> StoreResult<RefreshLookup>;
    /// Rotate the refresh token atomically.
    fn rotate_refresh(
        &self,
        id: &str,
        expected_hash: &str,
        new_hash: &str,
        new_expires_at: i64,
        now: i64,
    ) -> StoreResult<bool>;
    /// Record use.
    fn touch_session(&self, id: &str, now: i64) -> StoreResult<()>;
    /// Revoke one session.
    fn delete_session(&self, id: &str) -> StoreResult<u64>;
    /// Revoke every session started from one authorization request.
    fn delete_sessions_for_request(&self, request_id: &str) -> StoreResult<u64>;
    /// Revoke an account's sessions, optionally only those of one client.
    fn delete_sessions_for(&self, did: &Did, client_id: Option<&str>) -> StoreResult<u64>;
    /// List sessions.
    fn list_sessions(
        &self,
        did: Option<&Did>,
        client_id: Option<&str>,
    ) -> StoreResult<Vec<OAuthSession>>;
    /// Remove ended sessions.
    fn purge_expired_sessions(&self, now: i64) -> StoreResult<u64>;
}
