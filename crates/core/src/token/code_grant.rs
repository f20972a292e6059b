//! `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6,
//! RFC 9449 §10, atproto profile), as an ordered list of checks.

use super::{issue, new_session_id, store_err, TokenBundle, TokenPolicy};
use crate::client::auth::ClientAuth;
use crate::client::metadata::ValidatedClient;
use crate::error::OAuthError;
use crate::ids::{Code, RefreshToken};
use crate::keys::Keyset;
use crate::pkce;
use crate::store::{
    AuthorizationRequest, CodeConsumption, OAuthSession, RequestStore, SessionStore,
};

/// The grant's parameters.
#[derive(Debug, Clone, Copy, Default)]
pub struct CodeGrantInput<'a> {
    /// `code`
    pub code: Option<&'a str>,
    /// `redirect_uri`
    pub redirect_uri: Option<&'a str>,
    /// `code_verifier`
    pub code_verifier: Option<&'a str>,
}

/// Who is asking, as established before the grant runs.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// The resolved client.
    pub client: &'a ValidatedClient,
    /// How it authenticated on this request.
    pub auth: &'a ClientAuth,
    /// Thumbprint of this request's DPoP proof key.
    pub dpop_jkt: &'a str,
}

/// RFC 6749 §4.1.3: the code must be "issued to the authenticated
/// confidential client, or … to the client identified by client_id".
fn issued_to_this_client(
    req: &AuthorizationRequest,
    caller: &Caller<'_>,
) -> Result<(), OAuthError> {
    if req.client_id == caller.client.client_id.as_str() {
        Ok(())
    } else {
        Err(OAuthError::invalid_grant(
            "the code was issued to another client",
        ))
    }
}

/// atproto profile, "Confidential Client Authentication": the client
/// authenticates the same way (same key) at the token endpoint as at PAR.
fn same_client_authentication(
    req: &AuthorizationRequest,
    caller: &Caller<'_>,
) -> Result<(), OAuthError> {
    if &req.client_auth == caller.auth {
        Ok(())
    } else {
        Err(OAuthError::invalid_grant(
            "client authentication differs from the one used at the PAR endpoint (method or key)",
        ))
    }
}

/// RFC 6749 §4.1.3: `redirect_uri` "MUST be identical" to the one in the
/// authorization request.
fn same_redirect_uri(
    req: &AuthorizationRequest,
    input: &CodeGrantInput<'_>,
) -> Result<(), OAuthError> {
    match input.redirect_uri {
        Some(u) if u == req.params.redirect_uri => Ok(()),
        Some(_) => Err(OAuthError::invalid_grant(
            "redirect_uri differs from the one in the authorization request (RFC 6749 §4.1.3)",
        )),
        None => Err(OAuthError::invalid_request(
            "missing redirect_uri (RFC 6749 §4.1.3)",
        )),
    }
}

/// RFC 9449 §10: the DPoP key of the token request must be the one bound
/// to the authorization request (`dpop_jkt`).
fn same_dpop_key(req: &AuthorizationRequest, caller: &Caller<'_>) -> Result<(), OAuthError> {
    if req.params.dpop_jkt == caller.dpop_jkt {
        Ok(())
    } else {
        Err(OAuthError::invalid_grant(
            "the DPoP key differs from the key bound at the PAR endpoint (RFC 9449 §10)",
        ))
    }
}

/// Exchange a code for tokens.
#[allow(clippy::too_many_arguments)]
pub fn exchange<S: RequestStore + SessionStore + ?Sized>(
    store: &S,
    keyset: &Keyset,
    policy: &TokenPolicy,
    caller: &Caller<'_>,
    input: &CodeGrantInput<'_>,
    audience: &str,
    now: i64,
) -> Result<TokenBundle, OAuthError> {
    // RFC 6749 §4.1.3: `code` is required.
    let raw = input
        .code
        .ok_or_else(|| OAuthError::invalid_request("missing code (RFC 6749 §4.1.3)"))?;
    let code =
        Code::parse(raw).ok_or_else(|| OAuthError::invalid_grant("unknown or malformed code"))?;

    // Single use (RFC 6749 §4.1.2): consumption is atomic in the store. A
    // code presented again revokes every session issued from it.
    let req = match store.consume_code(&code.hash(), now).map_err(store_err)? {
        CodeConsumption::Consumed(req) => req,
        CodeConsumption::Reused(req) => {
            // The request goes first, then its sessions: an exchange of
            // this code still in flight finds the request gone once its
            // session exists, and revokes that session itself (below).
            store.delete_request(&req.id).map_err(store_err)?;
            let revoked = store
                .delete_sessions_for_request(&req.id)
                .map_err(store_err)?;
            let reused = req.consumed_at.is_some();
            return Err(OAuthError::invalid_grant(if reused {
                "the code was already used; the tokens issued from it are revoked (RFC 6749 §4.1.2)"
            } else {
                "the code has expired"
            })
            .with_detail(format!("request {} revoked {revoked} session(s)", req.id)));
        }
        CodeConsumption::Unknown => {
            return Err(OAuthError::invalid_grant("unknown or malformed code"))
        }
    };

    issued_to_this_client(&req, caller)?;
    same_client_authentication(&req, caller)?;
    same_redirect_uri(&req, input)?;
    pkce::verify(input.code_verifier, &req.params.code_challenge)?;
    same_dpop_key(&req, caller)?;
    let sub = req
        .sub
        .clone()
        .ok_or_else(|| OAuthError::server_error("consumed request has no subject"))?;

    // Lifetimes: atproto "Tokens and Session Lifetime".
    let session_expires = now + policy.session_secs(caller.auth);
    let refresh = caller
        .client
        .allows_refresh_token()
        .then(RefreshToken::generate);
    let session = OAuthSession {
        id: new_session_id(),
        did: sub,
        client_id: req.client_id.clone(),
        client_auth: caller.auth.clone(),
        scope: req.params.scope.clone(),
        dpop_jkt: caller.dpop_jkt.to_string(),
        request_id: req.id.clone(),
        created_at: now,
        expires_at: session_expires,
        refresh_hash: refresh.as_ref().map(RefreshToken::hash),
        refresh_expires_at: refresh
            .as_ref()
            .map(|_| (now + policy.refresh_secs(caller.auth)).min(session_expires)),
        previous_refresh_hash: None,
        rotated_at: None,
        last_used_at: now,
    };
    store.create_session(&session).map_err(store_err)?;
    revoked_by_concurrent_reuse(store, &req, &session)?;
    issue(keyset, policy, &session, audience, refresh.as_ref(), now)
}

/// RFC 6749 §4.1.2: a reused code revokes what it issued, even when the
/// reuse races the first exchange. A reuse that ran between this
/// exchange's `consume_code` and `create_session` found no session to
/// revoke, but it deleted the request before looking: if the request is
/// gone now, this session must not survive.
fn revoked_by_concurrent_reuse<S: RequestStore + SessionStore + ?Sized>(
    store: &S,
    req: &AuthorizationRequest,
    session: &OAuthSession,
) -> Result<(), OAuthError> {
    if store.get_request(&req.id).map_err(store_err)?.is_some() {
        return Ok(());
    }
    store.delete_session(&session.id).map_err(store_err)?;
    Err(OAuthError::invalid_grant(
        "the code was already used; the tokens issued from it are revoked (RFC 6749 §4.1.2)",
    )
    .with_detail(format!("request {} reused during its exchange", req.id)))
}

#[cfg(test)]
#[path = "code_grant_tests.rs"]
mod tests;
