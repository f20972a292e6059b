//! Clients the operator trusts (SPEC §3 "Display"): besides the ones named
//! in the configuration, the ones recorded in the database with
//! `atauth client trust add`, so that every running instance sees them
//! without a restart.

use super::StoreResult;

/// A client_id the operator trusts, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedClient {
    /// The client_id, in the canonical form `ClientId::parse` accepts.
    pub client_id: String,
    /// When it was added.
    pub created_at: i64,
}

/// Trusted clients recorded in the database.
///
/// Contract:
/// - `add_trusted_client` records a client_id and returns true; adding one
///   that is already recorded changes nothing (its `created_at` is kept)
///   and returns false.
/// - `remove_trusted_client` deletes it and returns whether it was there.
/// - `is_trusted_client` says whether exactly this client_id is recorded
///   (byte for byte: no case folding, no prefix match).
/// - `trusted_clients` lists every recorded client, ordered by client_id
///   (byte order, whatever the locale).
///
/// The store does not validate client_ids: callers do (`ClientId::parse`).
pub trait TrustedClientStore {
    /// Record a trusted client.
    fn add_trusted_client(&self, client_id: &str, now: i64) -> StoreResult<bool>;
    /// Forget a trusted client.
    fn remove_trusted_client(&self, client_id: &str) -> StoreResult<bool>;
    /// Whether a client is recorded.
    fn is_trusted_client(&self, client_id: &str) -> StoreResult<bool>;
    /// Every recorded client.
    fn trusted_clients(&self) -> StoreResult<Vec<TrustedClient>>;
}
