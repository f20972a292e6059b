//! Token introspection (RFC 7662) for resource servers that are not this
//! process: an entryway's PDS asks whether an access token is still good
//! (stateful mode across hosts, SPEC §8 "in stateful mode that its session
//! still exists").
//!
//! The endpoint is off unless configured. Callers authenticate with HTTP
//! Basic (RFC 7662 §2.1 lets the server choose; RFC 6749 §2.3.1 is the
//! usual shape): user id [`INTROSPECTION_USER`], password the configured
//! secret, compared in constant time. The answer is `{"active": false}` for
//! anything unknown, expired, revoked or unparsable (RFC 7662 §2.2: the
//! server must not say why), else `active: true` with the token's claims.

use base64::engine::general_purpose::STANDARD as B64_STD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::access::Confirmation;
use super::{store_err, AccessTokenClaims, ACCESS_TOKEN_TYP};
use crate::error::OAuthError;
use crate::ids::RefreshToken;
use crate::jwt::VerifyingKeys;
use crate::store::{RefreshLookup, SessionStore};

/// The user id of the HTTP Basic credentials (the secret is the password).
pub const INTROSPECTION_USER: &str = "introspection";
/// Shortest secret accepted: 32 characters (`openssl rand -hex 32` gives 64).
pub const SECRET_MIN_LEN: usize = 32;
/// Longest secret accepted.
pub const SECRET_MAX_LEN: usize = 256;
/// The realm of the `WWW-Authenticate: Basic` challenge.
pub const REALM: &str = "atauth";

/// The shared secret resource servers present. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct IntrospectionSecret(String);

impl std::fmt::Debug for IntrospectionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IntrospectionSecret(<redacted>)")
    }
}

impl IntrospectionSecret {
    /// A secret of [`SECRET_MIN_LEN`]–[`SECRET_MAX_LEN`] characters from the
    /// URL-safe set `A-Z a-z 0-9 - . _ ~`: RFC 6749 §2.3.1 form-encodes the
    /// password inside Basic credentials, and these characters encode to
    /// themselves, so no client can get the encoding wrong.
    pub fn parse(s: &str) -> Result<IntrospectionSecret, String> {
        if s.len() < SECRET_MIN_LEN || s.len() > SECRET_MAX_LEN {
            return Err(format!(
                "must be {SECRET_MIN_LEN} to {SECRET_MAX_LEN} characters (e.g. `openssl rand -hex 32`)"
            ));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        {
            return Err("may contain only A-Z a-z 0-9 - . _ ~".into());
        }
        Ok(IntrospectionSecret(s.to_string()))
    }

    /// The `Authorization` header value a resource server sends.
    pub fn basic_authorization(&self) -> String {
        let pair = format!("{INTROSPECTION_USER}:{}", self.0);
        format!("Basic {}", B64_STD.encode(pair))
    }

    /// RFC 7662 §2.1: "the endpoint MUST also require some form of
    /// authorization". The `Authorization` header must carry HTTP Basic
    /// credentials (RFC 7617) equal to `introspection:<secret>`, compared in
    /// constant time (over SHA-256 digests, so the length leaks nothing
    /// either). Anything else is 401 `invalid_client` with a `Basic`
    /// challenge (RFC 6749 §5.2).
    pub fn check(&self, authorization: Option<&str>) -> Result<(), OAuthError> {
        let presented = authorization
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("Basic").then_some(rest.trim())
            })
            .and_then(|b64| B64_STD.decode(b64).ok())
            .ok_or_else(|| {
                unauthorized("introspection requires HTTP Basic credentials (RFC 7662 section 2.1)")
            })?;
        let expected = Sha256::digest(format!("{INTROSPECTION_USER}:{}", self.0).as_bytes());
        let got = Sha256::digest(&presented);
        if bool::from(expected[..].ct_eq(&got[..])) {
            Ok(())
        } else {
            Err(unauthorized("invalid introspection credentials"))
        }
    }
}

/// 401 `invalid_client` with `WWW-Authenticate: Basic realm="atauth"`
/// (RFC 6749 §5.2: the challenge names the scheme the client should use).
fn unauthorized(description: &str) -> OAuthError {
    OAuthError::invalid_client(description)
        .with_status(401)
        .with_header("WWW-Authenticate", format!("Basic realm=\"{REALM}\""))
}

/// RFC 7662 §2.2 response. Every member but `active` is left out when
/// inactive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Introspection {
    /// Whether the token is currently active.
    pub active: bool,
    /// The issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The account DID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The resource server the access token is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// When the token expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// When the token was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// The client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Granted scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The access token's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The DPoP key the token is bound to (RFC 9449 §6.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    /// The OAuth session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// `DPoP` for access tokens (RFC 9449 §6.2); absent for refresh tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
}

impl Introspection {
    /// `{"active": false}`.
    pub fn inactive() -> Introspection {
        Introspection::default()
    }
}

/// RFC 7662 §2.1-§2.2: the state of `token`, an access token (an `at+jwt`
/// signed by one of `keys`) or a refresh token (`ref-…`).
///
/// Active when, for an access token: the signature verifies, `iss` is
/// `issuer`, `exp` lies after `now`, and its session still exists and has
/// not ended (so a revoked session's tokens are inactive at once, whatever
/// the token mode); for a refresh token: it is the session's current one
/// (a token replaced by rotation is inactive), not expired, in a session
/// that has not ended. Everything else is inactive. Only a missing `token`
/// is an error (400 `invalid_request`), and a store failure.
pub fn introspect<S: SessionStore + ?Sized, K: VerifyingKeys + ?Sized>(
    store: &S,
    keys: &K,
    issuer: &str,
    token: Option<&str>,
    now: i64,
) -> Result<Introspection, OAuthError> {
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("missing token (RFC 7662 section 2.1)"))?;
    if let Some(rt) = RefreshToken::parse(token) {
        return refresh_token(store, issuer, &rt, now);
    }
    let Ok((_, claims)) =
        crate::jwt::verify_with_keys::<AccessTokenClaims, K>(keys, token, ACCESS_TOKEN_TYP)
    else {
        return Ok(Introspection::inactive());
    };
    if claims.iss != issuer || now >= claims.exp {
        return Ok(Introspection::inactive());
    }
    let alive = store
        .session_by_id(&claims.sid)
        .map_err(store_err)?
        .is_some_and(|s| s.expires_at > now);
    if !alive {
        return Ok(Introspection::inactive());
    }
    Ok(Introspection {
        active: true,
        iss: Some(claims.iss),
        sub: Some(claims.sub),
        aud: Some(claims.aud),
        exp: Some(claims.exp),
        iat: Some(claims.iat),
        client_id: Some(claims.client_id),
        scope: Some(claims.scope),
        jti: Some(claims.jti),
        cnf: Some(claims.cnf),
        sid: Some(claims.sid),
        token_type: Some("DPoP".into()),
    })
}

fn refresh_token<S: SessionStore + ?Sized>(
    store: &S,
    issuer: &str,
    token: &RefreshToken,
    now: i64,
) -> Result<Introspection, OAuthError> {
    let RefreshLookup::Current(s) = store.find_refresh(&token.hash()).map_err(store_err)? else {
        return Ok(Introspection::inactive());
    };
    let Some(exp) = s.refresh_expires_at.filter(|e| *e > now) else {
        return Ok(Introspection::inactive());
    };
    if s.expires_at <= now {
        return Ok(Introspection::inactive());
    }
    Ok(Introspection {
        active: true,
        iss: Some(issuer.to_string()),
        sub: Some(s.did.to_string()),
        exp: Some(exp.min(s.expires_at)),
        iat: Some(s.rotated_at.unwrap_or(s.created_at)),
        client_id: Some(s.client_id),
        scope: Some(s.scope),
        cnf: Some(Confirmation { jkt: s.dpop_jkt }),
        sid: Some(s.id),
        ..Introspection::default()
    })
}

#[cfg(test)]
#[path = "introspect_tests.rs"]
mod tests;
