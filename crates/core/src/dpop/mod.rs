//! DPoP (RFC 9449): proofs, nonces, and the `dpop_jkt` binding.
//!
//! One verifier serves both sides: the authorization server (PAR, token,
//! revoke) and the resource server (the PDS) call [`verify_proof`] with
//! plain values (the `DPoP` header values received, the method, the
//! request URL built from the configured public origin, the access token
//! if any), the time, the [`Nonces`] and a
//! [`ReplayStore`](crate::replay::ReplayStore). The [`DpopPolicy`] says
//! which side is asking; errors come back shaped for that side (400 JSON
//! at the AS, 401 with `WWW-Authenticate: DPoP` at the RS, RFC 9449 §7.1
//! and §9).
//!
//! - [`nonce`]: server-provided nonces (RFC 9449 §8), an HMAC of a time step.
//! - [`htu`]: the normalised `htu` comparison (RFC 9449 §4.3 (9)).
//! - [`proof`]: each check of RFC 9449 §4.3 as its own function.

pub mod htu;
pub mod nonce;
pub mod proof;

#[cfg(test)]
mod tests;

pub use nonce::{NonceCheck, Nonces};
pub use proof::verify_proof;

use crate::error::{ErrorCode, OAuthError};

/// The only DPoP proof algorithm accepted, as advertised in
/// `dpop_signing_alg_values_supported` (RFC 9449 §5.1; atproto requires
/// ES256) and in the `algs` parameter of `WWW-Authenticate: DPoP`
/// (RFC 9449 §7.1).
pub const DPOP_ALGS: &str = "ES256";

/// How long after its `iat` a proof is accepted. Policy, within RFC 9449
/// §11.1's "relatively brief period on the order of seconds or minutes";
/// server nonces bound a proof's life as well (§11.2).
pub const DPOP_PROOF_MAX_AGE_SECS: i64 = 60;

/// How far ahead of the server's clock a proof's `iat` may be. Policy:
/// RFC 9449 §11.1 allows "an iat time in the reasonably near future (on the
/// order of seconds or minutes)". 30 s absorbs ordinary client clock drift
/// (a client has no way to recover from an `iat` refusal: a retry carries
/// the same clock) while the nonce, derived from the server's clock, is
/// what really limits pre-generated proofs (§11.1 note, §11.2).
pub const DPOP_MAX_FUTURE_SKEW_SECS: i64 = 30;

/// Longest `jti` accepted. RFC 9449 §11.1: "reject DPoP proof JWTs with
/// unnecessarily large jti values". 256 is ample for 96 random bits in any
/// encoding or a UUID (§4.2).
pub const MAX_JTI_LEN: usize = 256;

/// Which side verifies the proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// PAR, token and revocation endpoints: errors are RFC 6749 §5.2 JSON
    /// with status 400 (RFC 9449 §5, §8), and `ath` must be absent.
    AuthorizationServer,
    /// A protected resource: errors are 401 with `WWW-Authenticate: DPoP`
    /// (RFC 9449 §7.1, §9), and `ath` must match the access token.
    ResourceServer,
}

/// What a deployment accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopPolicy {
    /// See [`DPOP_PROOF_MAX_AGE_SECS`].
    pub max_age_secs: i64,
    /// See [`DPOP_MAX_FUTURE_SKEW_SECS`].
    pub max_future_skew_secs: i64,
    /// Refuse proofs without a valid server nonce (RFC 9449 §8, §9). atauth
    /// requires nonces at the AS and at the RS (SPEC §7).
    pub require_nonce: bool,
    /// Which side is verifying.
    pub context: Context,
}

impl DpopPolicy {
    /// The default policy at the authorization server.
    pub fn authorization_server() -> Self {
        Self::with_context(Context::AuthorizationServer)
    }

    /// The default policy at a resource server.
    pub fn resource_server() -> Self {
        Self::with_context(Context::ResourceServer)
    }

    fn with_context(context: Context) -> Self {
        DpopPolicy {
            max_age_secs: DPOP_PROOF_MAX_AGE_SECS,
            max_future_skew_secs: DPOP_MAX_FUTURE_SKEW_SECS,
            require_nonce: true,
            context,
        }
    }
}

/// The request, as plain values. `Debug` leaves the access token out.
#[derive(Clone, Copy)]
pub struct ProofInput<'a> {
    /// Every `DPoP` header value received, in order (none, one, or more:
    /// RFC 9449 §4.3 (1) refuses more than one).
    pub dpop_headers: &'a [&'a str],
    /// The HTTP method, as received (case-sensitive, RFC 9110 §9.1).
    pub method: &'a str,
    /// The request URL: the server's configured public origin + path
    /// (+ query). Built by the caller from the configured issuer, never
    /// from the `Host` header (a forged Host would let a proof minted for
    /// another server pass).
    pub url: &'a str,
    /// The access token presented with the proof, at a resource server.
    pub access_token: Option<&'a str>,
}

impl std::fmt::Debug for ProofInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofInput")
            .field("dpop_headers", &self.dpop_headers)
            .field("method", &self.method)
            .field("url", &self.url)
            .field("access_token", &self.access_token.map(|_| "<redacted>"))
            .finish()
    }
}

/// A proof that passed every check, its `jti` now recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// RFC 7638 SHA-256 thumbprint of the proof key: the `cnf.jkt` of
    /// tokens bound to it (RFC 9449 §6.1) and the `dpop_jkt` of a PAR.
    pub jkt: String,
    /// The proof's `jti`.
    pub jti: String,
    /// The proof's `iat`.
    pub iat: i64,
}

impl VerifiedProof {
    /// RFC 9449 §4.3 (12), second bullet, and §7.1: at a resource server,
    /// "confirm that the public key to which the access token is bound
    /// matches the public key from the DPoP proof". `cnf_jkt` is the
    /// token's `cnf.jkt`. Refused as `invalid_token` (RFC 9449 §7.1,
    /// Figure 16), already in the resource-server form.
    pub fn ensure_bound_to(&self, cnf_jkt: &str) -> Result<(), OAuthError> {
        if self.jkt == cnf_jkt {
            Ok(())
        } else {
            Err(resource_server_error(OAuthError::invalid_token(
                "Invalid DPoP key binding: the DPoP proof key is not the key the access token is bound to \
                 (RFC 9449 §4.3 (12))",
            )))
        }
    }
}

/// Length of a base64url SHA-256 thumbprint (32 bytes, no padding).
const JKT_LEN: usize = 43;

/// RFC 9449 §10.1: with PAR, the DPoP key is given by a `dpop_jkt`
/// parameter, a DPoP proof header, or both; "If both mechanisms are used at
/// the same time, the authorization server MUST reject the request if the
/// JWK Thumbprint in dpop_jkt does not match the public key in the DPoP
/// header." Returns the thumbprint the request is bound to, if any.
///
/// The RFC names no error code for the mismatch. The proof itself is valid
/// and it is the `dpop_jkt` parameter that contradicts it, so this is
/// `invalid_request` (RFC 6749 §5.2: "includes an unsupported parameter
/// value … or is otherwise malformed"), as node-oidc-provider answers too.
/// A `dpop_jkt` that is not a base64url SHA-256 thumbprint (RFC 9449 §10)
/// is `invalid_request` as well.
///
/// `Ok(None)` (neither given) is for the caller to refuse: atproto clients
/// must bind PAR to a DPoP key (SPEC §7).
pub fn check_dpop_jkt(
    param: Option<&str>,
    proof: Option<&VerifiedProof>,
) -> Result<Option<String>, OAuthError> {
    if let Some(p) = param {
        let well_formed = p.len() == JKT_LEN
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(OAuthError::invalid_request(
                "dpop_jkt must be the base64url SHA-256 JWK thumbprint of the DPoP key (RFC 9449 §10)",
            ));
        }
    }
    match (param, proof) {
        (Some(p), Some(proof)) if p != proof.jkt => Err(OAuthError::invalid_request(
            "dpop_jkt does not match the key of the DPoP proof (RFC 9449 §10.1)",
        )),
        (_, Some(proof)) => Ok(Some(proof.jkt.clone())),
        (Some(p), None) => Ok(Some(p.to_string())),
        (None, None) => Ok(None),
    }
}

/// Shape an error for a resource server (RFC 9449 §7.1, §9; SPEC §8):
/// `invalid_dpop_proof`, `use_dpop_nonce` and `invalid_token` become 401
/// with `WWW-Authenticate: DPoP error="…", error_description="…",
/// algs="ES256"`; the JSON body keeps the same code (some clients read only
/// the body, others only the header). Other errors pass unchanged.
pub fn resource_server_error(err: OAuthError) -> OAuthError {
    if !matches!(
        err.error,
        ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce | ErrorCode::InvalidToken
    ) {
        return err;
    }
    with_dpop_challenge(err).with_status(401)
}

/// Add `WWW-Authenticate: DPoP error="…", error_description="…",
/// algs="ES256"` (RFC 6750 §3, RFC 9449 §7.1) for the error's code; the
/// status is left as it is. Shared by every resource-server refusal.
pub fn with_dpop_challenge(err: OAuthError) -> OAuthError {
    let mut challenge = format!("DPoP error=\"{}\"", err.error.as_str());
    if let Some(d) = &err.error_description {
        challenge.push_str(", error_description=\"");
        challenge.push_str(&auth_param_text(d));
        challenge.push('"');
    }
    challenge.push_str(", algs=\"");
    challenge.push_str(DPOP_ALGS);
    challenge.push('"');
    err.with_header("WWW-Authenticate", challenge)
}

/// RFC 6750 §3: `error_description` values "MUST NOT include characters
/// outside the set %x20-21 / %x23-5B / %x5D-7E", so no quote, backslash,
/// control or non-ASCII character can break out of the quoted string.
/// The section sign of the descriptions is spelled out.
fn auth_param_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push('\''),
            '\\' => out.push('/'),
            '§' => out.push_str("section "),
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// Shape an error for the verifying side.
pub(crate) fn for_context(err: OAuthError, context: Context) -> OAuthError {
    match context {
        Context::AuthorizationServer => err,
        Context::ResourceServer => resource_server_error(err),
    }
}
