//! Checking a DPoP proof: RFC 9449 §4.3, one function per numbered check.
//!
//! [`verify_proof`] is the ordered list. It follows the RFC's numbering
//! with one exception: (7) "the jwk … does not contain a private key" runs
//! before (6) "the JWT signature verifies with the public key contained in
//! the jwk", because (6) needs the key parsed and the key is refused before
//! it is used ("These checks may be performed in any order", §4.3). The
//! `jti` replay check (§11.1) runs last, after every other check passed,
//! so a refused proof consumes nothing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::htu::normalize;
use super::{
    for_context, Context, DpopPolicy, Nonces, ProofInput, VerifiedProof, DPOP_ALGS, MAX_JTI_LEN,
};
use crate::error::OAuthError;
use crate::jwk::{EcPublicJwk, PRIVATE_JWK_MEMBERS};
use crate::jwt::{verify_with, CompactJws, MAX_JWT_LEN};
use crate::replay::{ReplayStore, NS_DPOP};

/// Verify the DPoP proof of a request (RFC 9449 §4.3) and record its `jti`
/// (§11.1). Errors are `invalid_dpop_proof`, `use_dpop_nonce` (carrying a
/// fresh `DPoP-Nonce`), or `server_error` when the replay store fails;
/// shaped for `policy.context` (see [`super::resource_server_error`]).
///
/// The second half of §4.3 (12), the access token's key binding, is the
/// caller's: compare [`VerifiedProof::jkt`] with the token's `cnf.jkt`
/// ([`VerifiedProof::ensure_bound_to`]).
pub fn verify_proof(
    input: &ProofInput<'_>,
    now: i64,
    nonces: &Nonces,
    replay: &impl ReplayStore,
    policy: &DpopPolicy,
) -> Result<VerifiedProof, OAuthError> {
    run_checks(input, now, nonces, replay, policy).map_err(|e| for_context(e, policy.context))
}

fn run_checks(
    input: &ProofInput<'_>,
    now: i64,
    nonces: &Nonces,
    replay: &impl ReplayStore,
    policy: &DpopPolicy,
) -> Result<VerifiedProof, OAuthError> {
    let value = single_dpop_header(input.dpop_headers)?; // (1)
    let jwt = well_formed_jwt(value)?; // (2)
    let (header, claims) = required_claims(&jwt)?; // (3)
    typ_is_dpop_jwt(&header.typ)?; // (4)
    alg_is_supported(&header.alg)?; // (5)
    let key = jwk_is_public(&header.jwk)?; // (7)
    signature_verifies(&key, &jwt.jws)?; // (6)
    htm_matches(&claims.htm, input.method)?; // (8)
    htu_matches(&claims.htu, input.url)?; // (9)
    nonce_is_valid(claims.nonce.as_deref(), now, nonces, policy)?; // (10)
    iat_within_window(claims.iat, now, policy)?; // (11)
    ath_matches(claims.ath.as_deref(), input.access_token, policy.context)?; // (12)
    jti_is_unused(replay, &key.thumbprint, &claims, now, policy)?; // §11.1, last
    Ok(VerifiedProof {
        jkt: key.thumbprint,
        jti: claims.jti,
        iat: claims.iat,
    })
}

/// `invalid_dpop_proof` naming the rule.
fn refuse(rule: &str, what: impl std::fmt::Display) -> OAuthError {
    OAuthError::invalid_dpop_proof(format!("DPoP proof {what} (RFC 9449 {rule})"))
}

/// Input echoed in a description, only when short.
fn quoted(s: &str) -> String {
    if s.len() <= 32 {
        format!(" \"{s}\"")
    } else {
        String::new()
    }
}

/// RFC 9449 §4.3 (1): "There is not more than one DPoP HTTP request header
/// field." None at all is refused too: this function is called when a
/// proof is required (RFC 9449 §5, §7.1).
pub fn single_dpop_header<'a>(values: &[&'a str]) -> Result<&'a str, OAuthError> {
    match values {
        [one] => Ok(one),
        [] => Err(OAuthError::invalid_dpop_proof(
            "a DPoP proof header is required (RFC 9449 §5, §7.1)",
        )),
        _ => Err(refuse(
            "§4.3 (1)",
            "must be sent in exactly one DPoP header",
        )),
    }
}

/// A compact JWS, decoded once, with its header and claims as JSON objects.
#[derive(Debug)]
pub struct ProofJwt<'a> {
    /// The split and decoded token.
    pub jws: CompactJws<'a>,
    /// The JOSE header.
    pub header: Map<String, Value>,
    /// The claims.
    pub claims: Map<String, Value>,
}

/// RFC 9449 §4.3 (2): "The DPoP HTTP request header field value is a single
/// and well-formed JWT." The value is token68 (§4.1), at most
/// [`MAX_JWT_LEN`] bytes, three base64url parts whose first two are JSON
/// objects.
pub fn well_formed_jwt(value: &str) -> Result<ProofJwt<'_>, OAuthError> {
    const RULE: &str = "§4.3 (2)";
    if value.len() > MAX_JWT_LEN {
        return Err(refuse(RULE, format!("is longer than {MAX_JWT_LEN} bytes")));
    }
    if value.is_empty()
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(refuse(RULE, "header must hold a single compact JWT"));
    }
    let jws = CompactJws::parse(value)
        .map_err(|e| refuse(RULE, format!("is not a well-formed JWT: {e}")))?;
    let object = |bytes: &[u8], part: &str| match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(refuse(RULE, format!("{part} is not a JSON object"))),
    };
    let header = object(&jws.header_json, "header")?;
    let claims = object(&jws.payload_json, "payload")?;
    Ok(ProofJwt {
        jws,
        header,
        claims,
    })
}

/// The JOSE header members a proof must carry (RFC 9449 §4.2).
#[derive(Debug, Clone)]
pub struct ProofHeader {
    /// `typ`.
    pub typ: String,
    /// `alg`.
    pub alg: String,
    /// `jwk`, still unparsed.
    pub jwk: Map<String, Value>,
}

/// The claims a proof carries (RFC 9449 §4.2).
#[derive(Debug, Clone)]
pub struct ProofClaims {
    /// `jti`.
    pub jti: String,
    /// `htm`.
    pub htm: String,
    /// `htu`.
    pub htu: String,
    /// `iat`, whole seconds.
    pub iat: i64,
    /// `nonce`, when the server provided one.
    pub nonce: Option<String>,
    /// `ath`, when an access token is presented.
    pub ath: Option<String>,
}

/// RFC 9449 §4.3 (3): "All required claims per Section 4.2 are contained in
/// the JWT": header `typ`, `alg`, `jwk`; claims `jti`, `htm`, `htu`, `iat`;
/// each of its JSON type (`iat` a NumericDate, RFC 7519 §2). The optional
/// `nonce` and `ath` must be strings when present. `jti` is at most
/// [`MAX_JTI_LEN`] bytes (§11.1: "reject DPoP proof JWTs with unnecessarily
/// large jti values").
pub fn required_claims(jwt: &ProofJwt<'_>) -> Result<(ProofHeader, ProofClaims), OAuthError> {
    const RULE: &str = "§4.3 (3)";
    let text =
        |obj: &Map<String, Value>, part: &str, name: &str| -> Result<Option<String>, OAuthError> {
            match obj.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(refuse(RULE, format!("{part} \"{name}\" must be a string"))),
            }
        };
    let required =
        |obj: &Map<String, Value>, part: &str, name: &str| -> Result<String, OAuthError> {
            text(obj, part, name)?
                .ok_or_else(|| refuse(RULE, format!("{part} is missing \"{name}\"")))
        };
    let (h, c) = (&jwt.header, &jwt.claims);
    let typ = required(h, "header", "typ")?;
    let alg = required(h, "header", "alg")?;
    let jwk = match h.get("jwk") {
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(refuse(RULE, "header \"jwk\" must be a JSON object")),
        None => return Err(refuse(RULE, "header is missing \"jwk\"")),
    };
    let jti = required(c, "payload", "jti")?;
    if jti.is_empty() || jti.len() > MAX_JTI_LEN {
        return Err(refuse(
            "§4.2, §11.1",
            format!("\"jti\" must be 1 to {MAX_JTI_LEN} bytes long"),
        ));
    }
    let htm = required(c, "payload", "htm")?;
    let htu = required(c, "payload", "htu")?;
    let iat = match c.get("iat") {
        Some(v) => numeric_date(v)
            .ok_or_else(|| refuse(RULE, "\"iat\" must be a NumericDate (a JSON number)"))?,
        None => return Err(refuse(RULE, "payload is missing \"iat\"")),
    };
    let nonce = text(c, "payload", "nonce")?;
    let ath = text(c, "payload", "ath")?;
    Ok((
        ProofHeader { typ, alg, jwk },
        ProofClaims {
            jti,
            htm,
            htu,
            iat,
            nonce,
            ath,
        },
    ))
}

/// RFC 7519 §2 NumericDate: a JSON number of seconds, possibly fractional
/// (truncated toward the past). Out-of-range values saturate, and then
/// fail the window check.
fn numeric_date(v: &Value) -> Option<i64> {
    let Value::Number(n) = v else { return None };
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    // `as` saturates for out-of-range floats.
    f.is_finite().then(|| f.floor() as i64)
}

/// RFC 9449 §4.3 (4): "The typ JOSE Header Parameter has the value
/// dpop+jwt" (and §11.5). RFC 7515 §4.1.9: `typ` is a media type, compared
/// case-insensitively, whose `application/` prefix may be present.
pub fn typ_is_dpop_jwt(typ: &str) -> Result<(), OAuthError> {
    let media = typ
        .get(..12)
        .filter(|p| p.eq_ignore_ascii_case("application/"))
        .map_or(typ, |_| typ.get(12..).unwrap_or_default());
    if media.eq_ignore_ascii_case("dpop+jwt") {
        Ok(())
    } else {
        Err(refuse(
            "§4.3 (4)",
            format!("typ{} must be \"dpop+jwt\"", quoted(typ)),
        ))
    }
}

/// RFC 9449 §4.3 (5): "The alg JOSE Header Parameter indicates a registered
/// asymmetric digital signature algorithm …, is not none, is supported by
/// the application, and is acceptable per local policy" (and §11.6). atauth
/// supports ES256 only (atproto profile); `alg` is case-sensitive
/// (RFC 7515 §4.1.1).
pub fn alg_is_supported(alg: &str) -> Result<(), OAuthError> {
    const RULE: &str = "§4.3 (5)";
    if alg == DPOP_ALGS {
        Ok(())
    } else if alg.eq_ignore_ascii_case("none") {
        Err(refuse("§4.3 (5), §11.6", "alg \"none\" is never accepted"))
    } else if alg.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("HS")) {
        Err(refuse(
            RULE,
            format!(
                "alg{} is symmetric; a DPoP proof needs an asymmetric alg: {DPOP_ALGS}",
                quoted(alg)
            ),
        ))
    } else {
        Err(refuse(
            RULE,
            format!(
                "alg{} is not supported; supported: {DPOP_ALGS}",
                quoted(alg)
            ),
        ))
    }
}

/// RFC 9449 §4.3 (7): "The jwk JOSE Header Parameter does not contain a
/// private key" (and §4.2: "It MUST NOT contain a private key"). Any
/// private or symmetric member is refused, and the key must be a P-256
/// public key (what ES256 verifies with). Runs before (6), which needs the
/// parsed key.
pub fn jwk_is_public(jwk: &Map<String, Value>) -> Result<EcPublicJwk, OAuthError> {
    if let Some(m) = PRIVATE_JWK_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
        return Err(refuse(
            "§4.3 (7)",
            format!("jwk must be a public key; it carries the private member \"{m}\""),
        ));
    }
    EcPublicJwk::from_json(jwk)
        .map_err(|e| refuse("§4.3 (6)", format!("jwk is not an ES256 public key: {e}")))
}

/// RFC 9449 §4.3 (6): "The JWT signature verifies with the public key
/// contained in the jwk JOSE Header Parameter."
pub fn signature_verifies(key: &EcPublicJwk, jws: &CompactJws<'_>) -> Result<(), OAuthError> {
    verify_with(&key.key, jws)
        .map_err(|_| refuse("§4.3 (6)", "signature does not verify with the header jwk"))
}

/// RFC 9449 §4.3 (8): "The htm claim matches the HTTP method of the current
/// request." Method names are case-sensitive (RFC 9110 §9.1).
pub fn htm_matches(htm: &str, method: &str) -> Result<(), OAuthError> {
    if htm == method {
        Ok(())
    } else {
        Err(refuse(
            "§4.3 (8)",
            format!(
                "htm{} does not match the request method \"{method}\"",
                quoted(htm)
            ),
        ))
    }
}

/// RFC 9449 §4.3 (9): "The htu claim matches the HTTP URI value for the
/// HTTP request in which the JWT was received, ignoring any query and
/// fragment parts", both normalised first (see [`super::htu`]).
pub fn htu_matches(htu: &str, request_url: &str) -> Result<(), OAuthError> {
    const RULE: &str = "§4.3 (9)";
    let expected = normalize(request_url).map_err(|e| {
        OAuthError::server_error(format!(
            "DPoP: the request URL {}: {request_url}",
            e.describe()
        ))
    })?;
    let given = normalize(htu).map_err(|e| refuse(RULE, format!("htu {}", e.describe())))?;
    if given == expected {
        Ok(())
    } else {
        Err(refuse(
            RULE,
            format!("htu does not match the request URI \"{expected}\""),
        ))
    }
}

/// RFC 9449 §4.3 (10): "If the server provided a nonce value to the
/// client, the nonce claim matches the server-provided nonce value", and
/// §11.3: "A server MUST NOT accept any DPoP proofs without the nonce claim
/// when a DPoP nonce has been provided". With `require_nonce`, a missing
/// nonce is refused (§8, §9); a nonce that is present must be one of ours
/// and recent whatever the policy. Refusals are `use_dpop_nonce` with a
/// fresh `DPoP-Nonce` (§8: the server "responds … using use_dpop_nonce",
/// "This same error code is used … when there was a nonce mismatch").
pub fn nonce_is_valid(
    nonce: Option<&str>,
    now: i64,
    nonces: &Nonces,
    policy: &DpopPolicy,
) -> Result<(), OAuthError> {
    let use_nonce = |description: String| {
        let mut e = OAuthError::use_dpop_nonce(&nonces.issue(now));
        e.error_description = Some(description);
        e
    };
    match nonce {
        None if policy.require_nonce => {
            let server = match policy.context {
                Context::AuthorizationServer => "Authorization server",
                Context::ResourceServer => "Resource server",
            };
            Err(use_nonce(format!("{server} requires nonce in DPoP proof (RFC 9449 §8, §9)")))
        }
        None => Ok(()),
        Some(n) if nonces.check(n, now).is_valid() => Ok(()),
        Some(_) => Err(use_nonce(
            "DPoP proof nonce is stale or was not issued by this server; use the DPoP-Nonce of this response \
             (RFC 9449 §4.3 (10))"
                .into(),
        )),
    }
}

/// RFC 9449 §4.3 (11): "The creation time of the JWT … is within an
/// acceptable window (see Section 11.1)": at most `max_age_secs` old and at
/// most `max_future_skew_secs` ahead of the server's clock.
pub fn iat_within_window(iat: i64, now: i64, policy: &DpopPolicy) -> Result<(), OAuthError> {
    const RULE: &str = "§4.3 (11)";
    if now.saturating_sub(iat) > policy.max_age_secs {
        Err(refuse(
            RULE,
            format!(
                "iat is too old: proofs are accepted for {} s",
                policy.max_age_secs
            ),
        ))
    } else if iat.saturating_sub(now) > policy.max_future_skew_secs {
        Err(refuse(
            RULE,
            format!(
                "iat is in the future by more than the {} s of clock skew allowed",
                policy.max_future_skew_secs
            ),
        ))
    } else {
        Ok(())
    }
}

/// RFC 9449 §4.3 (12): "If presented to a protected resource in
/// conjunction with an access token, ensure that the value of the ath
/// claim equals the hash of that access token" (base64url SHA-256 of its
/// ASCII, §4.2), compared in constant time; §4.2 makes `ath` required
/// then. Without an access token, and always at the authorization server
/// (its endpoints take no access token), `ath` must be absent (§7: the
/// binding "ensures that a proof intended for use with the access token is
/// not usable without an access token").
pub fn ath_matches(
    ath: Option<&str>,
    access_token: Option<&str>,
    context: Context,
) -> Result<(), OAuthError> {
    const RULE: &str = "§4.3 (12)";
    let token = match context {
        Context::AuthorizationServer => None,
        Context::ResourceServer => access_token,
    };
    match (token, ath) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(refuse(
            RULE,
            "must not carry \"ath\" when no access token is presented",
        )),
        (Some(_), None) => Err(refuse(
            "§4.2, §4.3 (12)",
            "must carry \"ath\" when an access token is presented",
        )),
        (Some(t), Some(a)) => {
            let expected = B64.encode(Sha256::digest(t.as_bytes()));
            if bool::from(expected.as_bytes().ct_eq(a.as_bytes())) {
                Ok(())
            } else {
                Err(refuse(RULE, "\"ath\" does not match the access token"))
            }
        }
    }
}

/// RFC 9449 §11.1: the server stores "the jti value of each DPoP proof for
/// the time window in which the respective DPoP proof JWT would be
/// accepted"; a jti seen before is declined. The key is the SHA-256 of the
/// proof key's thumbprint and the `jti` ("or store only a hash thereof"),
/// so entries have a fixed size and one client cannot use up another's
/// `jti`; it expires `max_age + max_future_skew` after `iat`, past the
/// last moment (11) would accept the proof, with margin for instances
/// whose clocks differ. Called last, after every other check passed.
pub fn jti_is_unused(
    replay: &impl ReplayStore,
    jkt: &str,
    claims: &ProofClaims,
    now: i64,
    policy: &DpopPolicy,
) -> Result<(), OAuthError> {
    let mut h = Sha256::new();
    h.update(jkt.as_bytes());
    h.update(b":");
    h.update(claims.jti.as_bytes());
    let key = B64.encode(h.finalize());
    let expires_at = claims
        .iat
        .saturating_add(policy.max_age_secs)
        .saturating_add(policy.max_future_skew_secs);
    match replay.check_and_insert(NS_DPOP, &key, expires_at, now) {
        Ok(true) => Ok(()),
        Ok(false) => Err(refuse("§11.1", "jti has already been used")),
        Err(e) => Err(OAuthError::server_error(format!("DPoP replay store: {e}"))),
    }
}
