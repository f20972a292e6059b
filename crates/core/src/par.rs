//! Pushed authorization requests (RFC 9126) in the atproto profile: the
//! checks on the request's parameters, in order. Client authentication and
//! the DPoP proof are checked before this by their own modules; the
//! endpoint handler runs them in the order of [`crate::par`]'s docs:
//!
//! 1. body is a form, no repeated parameter (`form`);
//! 2. the client resolves (`client_id` present, metadata valid);
//! 3. DPoP proof, if sent (`dpop::verify_proof`), and `dpop_jkt` agree;
//! 4. client authentication (`client::auth`);
//! 5. [`validate`] below;
//! 6. the `code_challenge` was not used in the last 24 h ([`challenge_unused`]);
//! 7. store the request; answer 201 with `request_uri` and `expires_in`.

use crate::client::metadata::ValidatedClient;
use crate::error::{ErrorCode, OAuthError};
use crate::form::FormParams;
use crate::identity::AccountRef;
use crate::pkce;
use crate::replay::ReplayStore;
use crate::scope;
use crate::store::AuthorizationParams;

/// How long a `code_challenge` is remembered (SPEC §4: refuse one seen in
/// the last ~24 h; reference behaviour). Policy.
pub const CODE_CHALLENGE_MEMORY_SECS: i64 = 24 * 3600;
/// Replay namespace for used code challenges.
pub const NS_CODE_CHALLENGE: &str = "code_challenge";
/// Longest `state` accepted. Policy: bounds what is stored per request.
pub const MAX_STATE_LEN: usize = 2048;
/// Longest `login_hint` / `ui_locales` accepted. Policy.
pub const MAX_HINT_LEN: usize = 256;

/// RFC 9126 §2.1: "The request_uri authorization request parameter is one
/// exception, and it MUST NOT be provided" in a pushed request. Request
/// objects (`request`) are not supported either (RFC 9101 is not part of
/// the atproto profile).
pub fn no_request_uri_or_object(p: &FormParams) -> Result<(), OAuthError> {
    if p.has("request_uri") {
        return Err(OAuthError::invalid_request(
            "request_uri must not be sent to the PAR endpoint (RFC 9126 §2.1)",
        ));
    }
    if p.has("request") {
        return Err(OAuthError::invalid_request(
            "request objects (\"request\") are not supported",
        ));
    }
    Ok(())
}

/// RFC 6749 §4.1.1: `response_type` is required and atproto allows only
/// `code`.
pub fn response_type_is_code(p: &FormParams) -> Result<(), OAuthError> {
    match p.require("response_type", "RFC 6749 §4.1.1")? {
        "code" => Ok(()),
        other => Err(OAuthError::new(
            ErrorCode::UnsupportedResponseType,
            format!("response_type {other:?} is not supported; use \"code\""),
        )),
    }
}

/// atproto profile: `redirect_uri` is required and must match one the
/// client registered (exactly for web clients; loopback port ignored for
/// native clients, RFC 8252 §7.3).
pub fn redirect_uri_registered(
    p: &FormParams,
    client: &ValidatedClient,
) -> Result<String, OAuthError> {
    let uri = p.require("redirect_uri", "atproto OAuth profile")?;
    if client.match_redirect_uri(uri).is_none() {
        return Err(OAuthError::invalid_request(format!(
            "redirect_uri {uri:?} is not one of the client's registered redirect_uris"
        )));
    }
    Ok(uri.to_string())
}

/// atproto profile: `state` is required (CSRF protection of the client).
pub fn state_present(p: &FormParams) -> Result<String, OAuthError> {
    let s = p.require("state", "atproto OAuth profile")?;
    if s.len() > MAX_STATE_LEN {
        return Err(OAuthError::invalid_request(format!(
            "state is longer than {MAX_STATE_LEN} bytes"
        )));
    }
    Ok(s.to_string())
}

/// RFC 7636 §4.3 + atproto: challenge present, S256, 43 characters.
pub fn pkce_s256(p: &FormParams) -> Result<String, OAuthError> {
    let challenge = p.require("code_challenge", "PKCE is required, RFC 7636 §4.3")?;
    pkce::check_challenge_method(p.get("code_challenge_method"))?;
    pkce::check_challenge(challenge)?;
    Ok(challenge.to_string())
}

/// OAuth 2.0 Multiple Response Type Encoding Practices §2.1 and Form Post
/// Response Mode: `query` (the default for `code`), `fragment`, `form_post`.
pub fn response_mode_supported(p: &FormParams) -> Result<String, OAuthError> {
    match p.get("response_mode").unwrap_or("query") {
        m @ ("query" | "fragment" | "form_post") => Ok(m.to_string()),
        other => Err(OAuthError::invalid_request(format!(
            "response_mode {other:?} is not supported (query, fragment, form_post)"
        ))),
    }
}

/// atproto profile: `login_hint` is a handle or a DID.
pub fn login_hint_valid(p: &FormParams) -> Result<Option<String>, OAuthError> {
    let Some(h) = p.get("login_hint") else {
        return Ok(None);
    };
    if h.len() > MAX_HINT_LEN {
        return Err(OAuthError::invalid_request("login_hint is too long"));
    }
    match AccountRef::parse(h) {
        Ok(AccountRef::Did(d)) => Ok(Some(d.to_string())),
        Ok(AccountRef::Handle(handle)) => Ok(Some(handle.to_string())),
        Err(e) => Err(OAuthError::invalid_request(format!(
            "login_hint must be a handle or a DID: {e}"
        ))),
    }
}

/// OpenID Connect Core §3.1.2.1 values the atproto profile uses: one of
/// `none`, `login`, `consent`, `select_account`.
pub fn prompt_supported(p: &FormParams) -> Result<Option<String>, OAuthError> {
    match p.get("prompt") {
        None => Ok(None),
        Some(v @ ("none" | "login" | "consent" | "select_account")) => Ok(Some(v.to_string())),
        Some(other) => Err(OAuthError::invalid_request(format!(
            "prompt {other:?} is not supported (none, login, consent, select_account)"
        ))),
    }
}

/// OpenID Connect Core §3.1.2.1: `ui_locales` is a space-separated list of
/// BCP 47 tags.
pub fn ui_locales_valid(p: &FormParams) -> Result<Option<String>, OAuthError> {
    let Some(v) = p.get("ui_locales") else {
        return Ok(None);
    };
    let ok = v.len() <= MAX_HINT_LEN
        && v.split(' ')
            .all(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if ok {
        Ok(Some(v.to_string()))
    } else {
        Err(OAuthError::invalid_request(
            "ui_locales must be space-separated language tags",
        ))
    }
}

/// Every parameter rule of a pushed request, in order. `dpop_jkt` is what
/// `dpop::check_dpop_jkt` settled (SPEC §7: a request with neither a proof
/// nor `dpop_jkt` is refused).
pub fn validate(
    p: &FormParams,
    client: &ValidatedClient,
    dpop_jkt: Option<String>,
) -> Result<AuthorizationParams, OAuthError> {
    no_request_uri_or_object(p)?;
    response_type_is_code(p)?;
    let redirect_uri = redirect_uri_registered(p, client)?;
    let raw_scope = p.require("scope", "atproto OAuth profile")?;
    let scope = scope::validate_requested(raw_scope, &client.scopes)?;
    let state = state_present(p)?;
    let code_challenge = pkce_s256(p)?;
    let response_mode = response_mode_supported(p)?;
    let login_hint = login_hint_valid(p)?;
    let prompt = prompt_supported(p)?;
    let ui_locales = ui_locales_valid(p)?;
    let Some(dpop_jkt) = dpop_jkt else {
        return Err(OAuthError::invalid_dpop_proof(
            "a DPoP proof (or dpop_jkt) is required: atproto clients use DPoP from PAR on (RFC 9449 §10)",
        ));
    };
    Ok(AuthorizationParams {
        redirect_uri,
        scope: scope.to_scope_string(),
        state,
        code_challenge,
        response_mode,
        login_hint,
        prompt,
        ui_locales,
        dpop_jkt,
    })
}

/// SPEC §4: refuse a `code_challenge` seen in the last 24 hours (a client
/// reusing its PKCE pair defeats PKCE). Records it when new.
pub fn challenge_unused<R: ReplayStore + ?Sized>(
    replay: &R,
    challenge: &str,
    now: i64,
) -> Result<(), OAuthError> {
    match replay.check_and_insert(
        NS_CODE_CHALLENGE,
        challenge,
        now + CODE_CHALLENGE_MEMORY_SECS,
        now,
    ) {
        Ok(true) => Ok(()),
        Ok(false) => Err(OAuthError::invalid_request(
            "this code_challenge was already used; generate a new PKCE verifier for every request",
        )),
        Err(e) => Err(OAuthError::server_error(format!("replay store: {e}"))),
    }
}

#[cfg(test)]
#[path = "par_tests.rs"]
mod tests;
