//! Authorization requests: created by PAR, bound to a browser device at
//! the authorization endpoint, given a code on approval, consumed once at
//! the token endpoint.

use serde::{Deserialize, Serialize};

use super::StoreResult;
use crate::client::auth::ClientAuth;
use crate::identity::Did;

/// The parameters of a pushed authorization request, as validated by PAR
/// (RFC 9126 §2.1, RFC 6749 §4.1.1, RFC 7636 §4.3, atproto profile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationParams {
    /// Exactly as registered and as the token request must repeat it.
    pub redirect_uri: String,
    /// Normalised, space-separated.
    pub scope: String,
    /// Opaque client state, echoed on the redirect.
    pub state: String,
    /// PKCE S256 challenge (43 base64url characters).
    pub code_challenge: String,
    /// `query`, `fragment` or `form_post`.
    pub response_mode: String,
    /// A handle or DID that pre-selects the account.
    pub login_hint: Option<String>,
    /// `none`, `login`, `consent`, `select_account`.
    pub prompt: Option<String>,
    /// Preferred UI languages, space-separated.
    pub ui_locales: Option<String>,
    /// The DPoP key the code will be bound to (RFC 9449 §10).
    pub dpop_jkt: String,
}

/// A stored authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// `RequestId` string (`req-…`).
    pub id: String,
    /// The client that pushed it.
    pub client_id: String,
    /// How the client authenticated at PAR; the token request must match.
    pub client_auth: ClientAuth,
    /// The validated parameters.
    pub params: AuthorizationParams,
    /// When PAR created it.
    pub created_at: i64,
    /// When the request (before a code) or the code (after) expires.
    pub expires_at: i64,
    /// The browser device that first opened it at `/oauth/authorize`.
    pub device_id: Option<String>,
    /// The account that approved it (set with the code).
    pub sub: Option<Did>,
    /// SHA-256 of the code, once issued.
    pub code_hash: Option<String>,
    /// When the code was exchanged.
    pub consumed_at: Option<i64>,
}

/// The outcome of presenting a code at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeConsumption {
    /// First presentation of an unexpired code: the request, now consumed.
    Consumed(AuthorizationRequest),
    /// The code was already exchanged (or is expired). The request is
    /// returned so the caller can revoke what it issued (RFC 6749 §4.1.2:
    /// "the authorization server … SHOULD revoke (when possible) all
    /// tokens previously issued based on that authorization code").
    Reused(AuthorizationRequest),
    /// No request has this code.
    Unknown,
}

/// Authorization requests and their codes.
///
/// Contract:
/// - `create_request` inserts a new request; its id is unique.
/// - `get_request` returns the request whatever its state; callers check
///   expiry against their clock.
/// - `bind_device` sets `device_id` when it is unset and returns true, or
///   returns true when it already equals the given device; it returns false
///   (and changes nothing) when another device holds the request, the
///   request has a code, or it does not exist.
/// - `issue_code` stores `sub`, `code_hash` and the new `expires_at` only
///   when the request has no code yet; it returns false otherwise.
/// - `consume_code` is atomic: of concurrent calls with one code hash,
///   exactly one gets `Consumed` (when `now < expires_at` and not yet
///   consumed); every later or concurrent call, and any call after expiry,
///   gets `Reused` with the request; an unknown hash gets `Unknown`.
/// - `delete_request` removes a request (denied, or superseded).
/// - `purge_expired_requests` removes requests whose `expires_at` is more
///   than `grace_secs` in the past and returns how many.
pub trait RequestStore {
    /// Insert a new request.
    fn create_request(&self, request: &AuthorizationRequest) -> StoreResult<()>;
    /// Fetch a request by id.
    fn get_request(&self, id: &str) -> StoreResult<Option<AuthorizationRequest>>;
    /// Bind the request to a browser device (first use wins).
    fn bind_device(&self, id: &str, device_id: &str) -> StoreResult<bool>;
    /// Attach the approving account and the code's hash.
    fn issue_code(
        &self,
        id: &str,
        sub: &Did,
        code_hash: &str,
        code_expires_at: i64,
    ) -> StoreResult<bool>;
    /// Exchange a code, once.
    fn consume_code(&self, code_hash: &str, now: i64) -> StoreResult<CodeConsumption>;
    /// Delete a request.
    fn delete_request(&self, id: &str) -> StoreResult<bool>;
    /// Remove long-expired requests.
    fn purge_expired_requests(&self, now: i64, grace_secs: i64) -> StoreResult<u64>;
}
