//! Token revocation (RFC 7009). Revoking any token of a session ends the
//! whole session (SPEC §9: clients sign out by revoking only the access
//! token).

use super::{store_err, AccessTokenClaims, ACCESS_TOKEN_TYP};
use crate::error::OAuthError;
use crate::ids::RefreshToken;
use crate::keys::Keyset;
use crate::store::{RefreshLookup, SessionStore};

/// What was revoked (for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// A session was ended.
    Session(String),
    /// Nothing matched, or the token belongs to another client: RFC 7009
    /// §2.2 answers 200 all the same.
    Nothing,
}

/// Revoke the session a token belongs to, if it belongs to `client_id`.
/// RFC 7009 §2.1: `token` is required; `token_type_hint` is only a hint.
pub fn revoke<S: SessionStore + ?Sized>(
    store: &S,
    keyset: &Keyset,
    client_id: &str,
    token: Option<&str>,
) -> Result<Revocation, OAuthError> {
    let token =
        token.ok_or_else(|| OAuthError::invalid_request("missing token (RFC 7009 §2.1)"))?;
    let session = if let Some(rt) = RefreshToken::parse(token) {
        match store.find_refresh(&rt.hash()).map_err(store_err)? {
            RefreshLookup::Current(s) | RefreshLookup::Previous(s) => Some(s),
            RefreshLookup::Unknown => None,
        }
    } else {
        // An access token: its signature proves we issued it. Expired
        // tokens may still be revoked (their session lives on).
        match crate::jwt::verify::<AccessTokenClaims>(keyset, token, ACCESS_TOKEN_TYP) {
            Ok((_, claims)) => store.session_by_id(&claims.sid).map_err(store_err)?,
            Err(_) => None,
        }
    };
    match session {
        Some(s) if s.client_id == client_id => {
            store.delete_session(&s.id).map_err(store_err)?;
            Ok(Revocation::Session(s.id))
        }
        _ => Ok(Revocation::Nothing),
    }
}

#[cfg(test)]
#[path = "revoke_tests.rs"]
mod tests;
