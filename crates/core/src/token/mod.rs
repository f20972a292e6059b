//! The token endpoint (RFC 6749 §3.2, §4.1.3, §6) and revocation
//! (RFC 7009), in the atproto profile.
//!
//! The handler runs, in order: form body → client resolution → DPoP proof
//! (`dpop::verify_proof`) → client authentication (`client::auth`) →
//! [`dpop_key_differs_from_client_key`] → the grant ([`code_grant`] or
//! [`refresh_grant`]) → the response ([`TokenResponse`]).

pub mod access;
pub mod code_grant;
pub mod grant;
pub mod introspect;
pub mod refresh_grant;
pub mod revoke;
#[cfg(test)]
pub(crate) mod test_fixtures;

use serde::Serialize;

use crate::client::auth::ClientAuth;
use crate::consts;
use crate::error::OAuthError;
use crate::ids::{RefreshToken, SessionId};
use crate::keys::Keyset;
use crate::store::OAuthSession;

pub use access::{AccessTokenClaims, ACCESS_TOKEN_TYP};

/// How a revocation reaches resource servers (SPEC §6, §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenMode {
    /// The resource server also checks that the token's session still
    /// exists (in the store, or through introspection when remote), so a
    /// revocation takes effect at once.
    #[default]
    Stateful,
    /// The resource server checks the token alone: a revoked session's
    /// access tokens stay usable until they expire, so the exposure window
    /// is the access-token lifetime. For large entryways that cannot afford
    /// a lookup per call.
    Stateless,
}

/// Lifetimes and modes, cut from configuration.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    /// This server's issuer (`iss`).
    pub issuer: String,
    /// Access-token lifetime, seconds (≤ 30 min, atproto spec).
    pub access_lifetime_secs: i64,
    /// Public clients: session and refresh-token lifetimes.
    pub public_session_secs: i64,
    /// Public clients: refresh-token lifetime.
    pub public_refresh_secs: i64,
    /// Confidential clients: session lifetime.
    pub confidential_session_secs: i64,
    /// Confidential clients: refresh-token lifetime.
    pub confidential_refresh_secs: i64,
    /// Refresh retry grace, seconds (0 disables).
    pub refresh_grace_secs: i64,
}

impl TokenPolicy {
    /// The defaults of the atproto profile for `issuer`.
    pub fn defaults(issuer: &str) -> TokenPolicy {
        TokenPolicy {
            issuer: issuer.to_string(),
            access_lifetime_secs: consts::ACCESS_TOKEN_LIFETIME_SECS,
            public_session_secs: consts::PUBLIC_SESSION_LIFETIME_SECS,
            public_refresh_secs: consts::PUBLIC_REFRESH_LIFETIME_SECS,
            confidential_session_secs: consts::CONFIDENTIAL_SESSION_LIFETIME_SECS,
            confidential_refresh_secs: consts::CONFIDENTIAL_REFRESH_LIFETIME_SECS,
            refresh_grace_secs: 10,
        }
    }

    fn session_secs(&self, auth: &ClientAuth) -> i64 {
        match auth {
            ClientAuth::None => self.public_session_secs,
            ClientAuth::PrivateKeyJwt { .. } => self.confidential_session_secs,
        }
    }

    fn refresh_secs(&self, auth: &ClientAuth) -> i64 {
        match auth {
            ClientAuth::None => self.public_refresh_secs,
            ClientAuth::PrivateKeyJwt { .. } => self.confidential_refresh_secs,
        }
    }
}

/// RFC 6749 §5.1 successful response, with atproto's `sub` and DPoP's
/// `token_type`.
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    /// The access token (JWT).
    pub access_token: String,
    /// Always `DPoP` (RFC 9449 §5).
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The refresh token, when the client declared the grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Always present (atproto profile).
    pub scope: String,
    /// The account DID (atproto profile).
    pub sub: String,
}

impl std::fmt::Debug for TokenBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenBundle")
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

/// What a grant produced: the response plus the session it belongs to.
pub struct TokenBundle {
    /// The response body.
    pub response: TokenResponse,
    /// The session id (for logs: not a secret).
    pub session_id: String,
}

/// atproto profile, "Confidential Client Authentication": the DPoP key
/// must not be the client's authentication key.
pub fn dpop_key_differs_from_client_key(
    auth: &ClientAuth,
    dpop_jkt: &str,
) -> Result<(), OAuthError> {
    match auth {
        ClientAuth::PrivateKeyJwt { jkt, .. } if jkt == dpop_jkt => Err(OAuthError::invalid_client(
            "the DPoP key must differ from the client's authentication key (atproto OAuth profile)",
        )),
        _ => Ok(()),
    }
}

/// Sign an access token for a session and build the response.
pub(crate) fn issue(
    keyset: &Keyset,
    policy: &TokenPolicy,
    session: &OAuthSession,
    audience: &str,
    refresh: Option<&RefreshToken>,
    now: i64,
) -> Result<TokenBundle, OAuthError> {
    let exp = (now + policy.access_lifetime_secs).min(session.expires_at);
    let claims = AccessTokenClaims::new(policy, session, audience, now, exp);
    let token = crate::jwt::sign(keyset, ACCESS_TOKEN_TYP, &claims)
        .map_err(|e| OAuthError::server_error(format!("signing access token: {e}")))?;
    Ok(TokenBundle {
        response: TokenResponse {
            access_token: token,
            token_type: "DPoP",
            expires_in: (exp - now).max(0),
            refresh_token: refresh.map(|r| r.as_str().to_string()),
            scope: session.scope.clone(),
            sub: session.did.to_string(),
        },
        session_id: session.id.clone(),
    })
}

/// A fresh session id.
pub(crate) fn new_session_id() -> String {
    SessionId::generate().as_str().to_string()
}

/// Map a store failure to a server error (detail logged only).
pub(crate) fn store_err(e: crate::store::StoreError) -> OAuthError {
    OAuthError::server_error(format!("store: {e}"))
}
