//! Access tokens: JWTs of type `at+jwt` (RFC 9068 §2.1), ES256, bound to a
//! DPoP key through `cnf.jkt` (RFC 9449 §6.1).

use serde::{Deserialize, Serialize};

use super::TokenPolicy;
use crate::store::OAuthSession;

/// RFC 9068 §2.1: the `typ` header of access tokens.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// RFC 9449 §6.1 confirmation claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// SHA-256 JWK thumbprint of the DPoP key.
    pub jkt: String,
}

/// The claims of an atauth access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer.
    pub iss: String,
    /// The account DID.
    pub sub: String,
    /// The resource server (PDS) the token is for.
    pub aud: String,
    /// Issued at.
    pub iat: i64,
    /// Expires at.
    pub exp: i64,
    /// Unique token id.
    pub jti: String,
    /// DPoP binding.
    pub cnf: Confirmation,
    /// The client.
    pub client_id: String,
    /// Granted scope.
    pub scope: String,
    /// The OAuth session (stateful mode: the resource server checks it
    /// still exists).
    pub sid: String,
}

impl AccessTokenClaims {
    /// Claims for a token of `session`.
    pub fn new(
        policy: &TokenPolicy,
        session: &OAuthSession,
        audience: &str,
        now: i64,
        exp: i64,
    ) -> Self {
        AccessTokenClaims {
            iss: policy.issuer.clone(),
            sub: session.did.to_string(),
            aud: audience.to_string(),
            iat: now,
            exp,
            jti: crate::ids::SessionId::generate()
                .as_str()
                .trim_start_matches("ses-")
                .to_string(),
            cnf: Confirmation {
                jkt: session.dpop_jkt.clone(),
            },
            client_id: session.client_id.clone(),
            scope: session.scope.clone(),
            sid: session.id.clone(),
        }
    }
}
