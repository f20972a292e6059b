//! `grant_type=refresh_token` (RFC 6749 §6) with rotation, reuse detection
//! (RFC 9700 §4.14.2) and a short retry grace.
//!
//! Retry grace: when a refresh response is lost (network cut, app killed),
//! the client still holds the refresh token the server just replaced. A
//! strict server treats its retry as reuse and ends the session, a known
//! complaint about the reference server. Within `refresh_grace_secs` of the
//! rotation, a retry with the replaced token *and the same DPoP key* is
//! answered by rotating again from the current token: the client gets a
//! fresh pair, the token it never received dies, and exactly one chain stays
//! alive. Outside the grace, or with another key, reuse revokes the session.
//! The grace answers one retry: afterwards neither the replaced token nor
//! the lost one is known to the store (the session keeps a single
//! "previous" slot, which now holds a tombstone), so both are refused as
//! unknown, without revoking the session.

use super::{issue, store_err, TokenBundle, TokenPolicy};
use crate::client::auth::ClientAuth;
use crate::client::jwks::ClientJwks;
use crate::error::OAuthError;
use crate::ids::RefreshToken;
use crate::keys::Keyset;
use crate::store::{OAuthSession, RefreshLookup, SessionStore};

use super::code_grant::Caller;

/// RFC 6749 §6: the refresh token must have been issued to this client.
fn same_client(s: &OAuthSession, caller: &Caller<'_>) -> Result<(), OAuthError> {
    if s.client_id == caller.client.client_id.as_str() {
        Ok(())
    } else {
        Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ))
    }
}

/// RFC 9449 §5: a refresh token of a DPoP-bound public client is bound to
/// the DPoP key; atproto applies it to every client.
fn same_dpop_key(s: &OAuthSession, caller: &Caller<'_>) -> Result<(), OAuthError> {
    if s.dpop_jkt == caller.dpop_jkt {
        Ok(())
    } else {
        Err(OAuthError::invalid_grant(
            "the DPoP key differs from the key the session is bound to (RFC 9449 §5)",
        ))
    }
}

/// atproto profile: a confidential session stays bound to the client key
/// that started it (`kid`, `alg`, thumbprint).
fn same_client_key(s: &OAuthSession, caller: &Caller<'_>) -> Result<(), OAuthError> {
    if &s.client_auth == caller.auth {
        Ok(())
    } else {
        Err(OAuthError::invalid_grant(
            "client authentication differs from the one the session started with",
        ))
    }
}

/// atproto profile: sessions end at their lifetime however often they are
/// refreshed, and each refresh token has its own expiry.
fn not_expired(s: &OAuthSession, now: i64) -> Result<(), OAuthError> {
    if now >= s.expires_at || s.refresh_expires_at.is_some_and(|e| now >= e) {
        Err(OAuthError::invalid_grant(
            "the session has expired; sign in again",
        ))
    } else {
        Ok(())
    }
}

/// atproto profile: if a confidential client's key has disappeared from its
/// metadata, its sessions end. `current_keys` are the client's keys as
/// freshly resolved.
pub fn client_key_still_published(
    s: &OAuthSession,
    current_keys: Option<&ClientJwks>,
) -> Result<(), OAuthError> {
    match (&s.client_auth, current_keys) {
        (ClientAuth::PrivateKeyJwt { jkt, .. }, Some(keys)) if !keys.contains_thumbprint(jkt) => Err(OAuthError::invalid_grant(
            "the client key this session was bound to is no longer published by the client; the session is revoked",
        )),
        _ => Ok(()),
    }
}

/// RFC 9700 §4.14.2 with the retry grace of this module's docs: may a
/// presentation of the token the last rotation replaced be answered as a
/// retry? Only shortly after that rotation, from the same client with the
/// same DPoP key (a key only the legitimate client holds), and while the
/// session still has a current token. Policy: `refresh_grace_secs`, 0
/// disables it.
fn retry_in_grace(s: &OAuthSession, caller: &Caller<'_>, policy: &TokenPolicy, now: i64) -> bool {
    policy.refresh_grace_secs > 0
        && s.rotated_at
            .is_some_and(|t| now - t <= policy.refresh_grace_secs)
        && s.dpop_jkt == caller.dpop_jkt
        && s.client_id == caller.client.client_id.as_str()
        && s.refresh_hash.is_some()
}

/// How the presented token relates to its session.
enum Presented {
    /// The session's current token.
    Current,
    /// The token the last rotation replaced, retried within the grace.
    Retry,
}

/// Refresh a session.
#[allow(clippy::too_many_arguments)]
pub fn refresh<S: SessionStore + ?Sized>(
    store: &S,
    keyset: &Keyset,
    policy: &TokenPolicy,
    caller: &Caller<'_>,
    refresh_token: Option<&str>,
    current_keys: Option<&ClientJwks>,
    audience: &str,
    now: i64,
) -> Result<TokenBundle, OAuthError> {
    let raw = refresh_token
        .ok_or_else(|| OAuthError::invalid_request("missing refresh_token (RFC 6749 §6)"))?;
    let presented = RefreshToken::parse(raw)
        .ok_or_else(|| OAuthError::invalid_grant("unknown or malformed refresh token"))?;
    let presented_hash = presented.hash();

    let (session, kind) = match store.find_refresh(&presented_hash).map_err(store_err)? {
        RefreshLookup::Unknown => {
            return Err(OAuthError::invalid_grant(
                "unknown or malformed refresh token",
            ))
        }
        RefreshLookup::Current(s) => (s, Presented::Current),
        RefreshLookup::Previous(s) if retry_in_grace(&s, caller, policy, now) => {
            (s, Presented::Retry)
        }
        RefreshLookup::Previous(s) => {
            // RFC 9700 §4.14.2: reuse of a rotated token ends the session.
            store.delete_session(&s.id).map_err(store_err)?;
            return Err(OAuthError::invalid_grant(
                "refresh token reuse detected; the session is revoked",
            )
            .with_detail(format!("session {} revoked on reuse", s.id)));
        }
    };

    same_client(&session, caller)?;
    same_dpop_key(&session, caller)?;
    // Ended sessions go first, before the key comparison: a confidential
    // client whose old key vanished from its metadata now signs with a new
    // key, and that refresh must end the session rather than merely fail.
    if let Err(e) =
        not_expired(&session, now).and_then(|_| client_key_still_published(&session, current_keys))
    {
        store.delete_session(&session.id).map_err(store_err)?;
        return Err(e);
    }
    same_client_key(&session, caller)?;

    let next = RefreshToken::generate();
    let refresh_secs = policy.refresh_secs(&session.client_auth);
    let next_expires = (now + refresh_secs).min(session.expires_at);
    let concurrent = || {
        OAuthError::invalid_grant(
            "the refresh token was used concurrently; retry with the newest token",
        )
    };
    let expected_hash = match kind {
        Presented::Current => presented_hash,
        Presented::Retry => {
            // The retry replaces the token whose response was lost. That
            // token must die, not become the "previous" token that the
            // grace would accept once more: rotate it out through a
            // tombstone nobody holds, so it is unknown from now on and
            // exactly one chain (the retry's) stays alive.
            let lost = session.refresh_hash.clone().ok_or_else(concurrent)?;
            let tombstone = RefreshToken::generate().hash();
            if !store
                .rotate_refresh(&session.id, &lost, &tombstone, next_expires, now)
                .map_err(store_err)?
            {
                return Err(concurrent());
            }
            tombstone
        }
    };
    // Atomic compare-and-swap: of two concurrent refreshes one wins.
    if !store
        .rotate_refresh(&session.id, &expected_hash, &next.hash(), next_expires, now)
        .map_err(store_err)?
    {
        return Err(concurrent());
    }
    issue(keyset, policy, &session, audience, Some(&next), now)
}

#[cfg(test)]
#[path = "refresh_grant_tests.rs"]
mod tests;
