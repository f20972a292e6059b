//! Client authentication at the PAR, token and revocation endpoints:
//! public clients send nothing, confidential clients send a
//! `private_key_jwt` assertion (RFC 7523 §2.2 and §3; atproto OAuth spec,
//! "Confidential Client Authentication").
//!
//! [`authenticate_client`] is an ordered run of small checks, each naming
//! its rule. Every failure is `invalid_client` (RFC 6749 §5.2), 401 when the
//! client sent credentials and 400 when a confidential client sent none.
//!
//! Decision on `exp`: RFC 7523 §3 item 4 makes `exp` a MUST, but the atproto
//! profile bounds an assertion's life by `iat` instead ("must include an
//! `iat` claim … should not reject client assertion JWTs generated less than
//! a minute ago") and the reference client library sends no `exp`; so `exp`
//! is optional and, when present, honoured.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::jwks::{ClientJwk, ClientJwks};
use super::metadata::{ValidatedClient, CLIENT_ASSERTION_ALG};
use super::section::*;
use super::{quote, ClientError, Rule, Severity, Violation};
use crate::error::{ErrorCode, OAuthError};
use crate::jwt::{verify_with, CompactJws};
use crate::replay::{ReplayStore, NS_CLIENT_ASSERTION};

/// RFC 7523 §2.2: the `client_assertion_type` of a JWT assertion.
pub const CLIENT_ASSERTION_TYPE_JWT_BEARER: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Longest `jti` accepted. Policy: bounds what the replay store holds.
pub const MAX_JTI_LEN: usize = 256;

/// Time limits for assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssertionPolicy {
    /// Oldest `iat` accepted, in seconds before now (atproto OAuth spec:
    /// not "less than a minute"; reference: 60 s).
    pub max_age_secs: i64,
    /// Clock difference tolerated for `iat`, `nbf` and `exp` (RFC 7519
    /// §4.1.4 "some small leeway"). Policy: 10 s.
    pub clock_skew_secs: i64,
}

impl Default for AssertionPolicy {
    fn default() -> Self {
        AssertionPolicy {
            max_age_secs: 60,
            clock_skew_secs: 10,
        }
    }
}

/// The client-authentication parameters of a request body.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientCredentials<'a> {
    /// `client_assertion_type`.
    pub client_assertion_type: Option<&'a str>,
    /// `client_assertion`.
    pub client_assertion: Option<&'a str>,
}

/// How a client authenticated. A confidential client's session stays bound
/// to the key that started it (atproto OAuth spec, "Confidential Client
/// Authentication": the `kid`, `alg` and thumbprint "stay the same for the
/// entire life time of the session"), so this is stored with the session
/// and compared on every refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum ClientAuth {
    /// A public client.
    None,
    /// A `private_key_jwt` assertion, verified with this key.
    PrivateKeyJwt {
        /// The key's `kid`.
        kid: String,
        /// The assertion's `alg`.
        alg: String,
        /// RFC 7638 SHA-256 thumbprint of the key (base64url). The DPoP key
        /// must differ from it (SPEC.md §6); the token endpoint compares.
        jkt: String,
    },
}

const fn auth_rule(
    id: &'static str,
    field: &'static str,
    rule: &'static str,
    section: &'static str,
) -> Rule<()> {
    Rule {
        id,
        field,
        rule,
        section,
        code: ErrorCode::InvalidClient,
        severity: Severity::Error,
        check: (),
    }
}

const PUBLIC_NO_ASSERTION: Rule<()> = auth_rule(
    "client_auth.public",
    "client_assertion",
    "a public client (token_endpoint_auth_method none) sends no client_assertion",
    RFC7591_2,
);
const ASSERTION_REQUIRED: Rule<()> = auth_rule(
    "client_auth.required",
    "client_assertion",
    "a private_key_jwt client authenticates every request with a client_assertion",
    ATPROTO_CONFIDENTIAL,
);
const ASSERTION_TYPE: Rule<()> = auth_rule(
    "client_assertion.type",
    "client_assertion_type",
    "client_assertion_type is urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    ATPROTO_CONFIDENTIAL,
);
const JWS: Rule<()> = auth_rule(
    "client_assertion.jws",
    "client_assertion",
    "client_assertion is a compact JWS with a JSON header",
    RFC7523_3,
);
const ALG: Rule<()> = auth_rule(
    "client_assertion.alg",
    "client_assertion",
    "the assertion header alg is ES256 (never none, never HS*)",
    ATPROTO_CONFIDENTIAL,
);
const CRIT: Rule<()> = auth_rule(
    "client_assertion.crit",
    "client_assertion",
    "no unsupported critical header parameters",
    RFC7515_4_1_11,
);
const KID: Rule<()> = auth_rule(
    "client_assertion.kid",
    "client_assertion",
    "the assertion header kid names one of the client's keys",
    ATPROTO_CONFIDENTIAL,
);
const SIGNATURE: Rule<()> = auth_rule(
    "client_assertion.signature",
    "client_assertion",
    "the assertion signature verifies with the key named by kid",
    RFC7523_3,
);
const CLAIMS: Rule<()> = auth_rule(
    "client_assertion.claims",
    "client_assertion",
    "the assertion payload is a JSON object of claims",
    RFC7523_3,
);
const ISS: Rule<()> = auth_rule(
    "client_assertion.iss",
    "client_assertion",
    "iss is the client_id",
    RFC7523_3,
);
const SUB: Rule<()> = auth_rule(
    "client_assertion.sub",
    "client_assertion",
    "sub is the client_id",
    RFC7523_3,
);
const AUD: Rule<()> = auth_rule(
    "client_assertion.aud",
    "client_assertion",
    "aud is the authorization server's issuer",
    ATPROTO_CONFIDENTIAL,
);
const EXP: Rule<()> = auth_rule(
    "client_assertion.exp",
    "client_assertion",
    "exp, if present, has not passed",
    RFC7523_3,
);
const NBF: Rule<()> = auth_rule(
    "client_assertion.nbf",
    "client_assertion",
    "nbf, if present, has come",
    RFC7523_3,
);
const IAT: Rule<()> = auth_rule(
    "client_assertion.iat",
    "client_assertion",
    "iat is present, recent, and not in the future",
    ATPROTO_CONFIDENTIAL,
);
const JTI: Rule<()> = auth_rule(
    "client_assertion.jti",
    "client_assertion",
    "jti is present",
    ATPROTO_CONFIDENTIAL,
);
const REPLAY: Rule<()> = auth_rule(
    "client_assertion.replay",
    "client_assertion",
    "each jti is used once",
    ATPROTO_CONFIDENTIAL,
);

/// A failed check: the rule and what was wrong.
type Check<T> = Result<T, ClientError>;

fn fail(rule: &Rule<()>, message: impl Into<String>) -> ClientError {
    rule.error(Violation::new(message))
}

/// Authenticate a client (RFC 6749 §2.3, RFC 7523 §3, atproto OAuth spec
/// "Confidential Client Authentication").
///
/// `keys` are the client's resolved keys (fetched from its `jwks_uri`);
/// `None` means the inline `jwks` of its metadata. `issuer` is this
/// server's issuer, the only accepted `aud`. The `jti` is recorded in
/// `replay` (namespace [`NS_CLIENT_ASSERTION`]) only after every other
/// check passed, so unauthenticated input never fills the store.
pub fn authenticate_client<R: ReplayStore + ?Sized>(
    client: &ValidatedClient,
    keys: Option<&ClientJwks>,
    creds: ClientCredentials<'_>,
    issuer: &str,
    now: i64,
    policy: &AssertionPolicy,
    replay: &R,
) -> Result<ClientAuth, OAuthError> {
    if !client.is_confidential() {
        check_public(creds).map_err(|e| OAuthError::invalid_client(e.description()))?;
        return Ok(ClientAuth::None);
    }
    let Some(assertion) = creds.client_assertion else {
        // RFC 6749 §5.2: 401 is for a client that tried to authenticate.
        let e = ASSERTION_REQUIRED.error(Violation::new("no client_assertion was sent").fix("sign a client assertion with your private key and send it with client_assertion_type jwt-bearer"));
        return Err(OAuthError::invalid_client(e.description()).with_status(400));
    };
    verify_assertion(client, keys, creds, assertion, issuer, now, policy, replay)
}

/// RFC 7591 §2: `none` is "a public client as defined in OAuth 2.0 … does
/// not have a client secret"; RFC 6749 §2.3: the client "MUST NOT use more
/// than one authentication method in each request". A public client that
/// sends assertion parameters is using a method it did not declare.
fn check_public(creds: ClientCredentials<'_>) -> Check<()> {
    if creds.client_assertion.is_some() || creds.client_assertion_type.is_some() {
        return Err(PUBLIC_NO_ASSERTION.error(Violation::new("a public client sent client_assertion parameters").fix("declare token_endpoint_auth_method private_key_jwt with a jwks, or stop sending client_assertion")));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn verify_assertion<R: ReplayStore + ?Sized>(
    client: &ValidatedClient,
    keys: Option<&ClientJwks>,
    creds: ClientCredentials<'_>,
    assertion: &str,
    issuer: &str,
    now: i64,
    policy: &AssertionPolicy,
    replay: &R,
) -> Result<ClientAuth, OAuthError> {
    let invalid = |e: ClientError| OAuthError::invalid_client(e.description());
    check_assertion_type(creds.client_assertion_type).map_err(invalid)?;
    let jws = CompactJws::parse(assertion).map_err(|e| {
        invalid(fail(
            &JWS,
            format!("client_assertion is not a compact JWS ({e})"),
        ))
    })?;
    let header = json_object(&jws.header_json)
        .ok_or_else(|| invalid(fail(&JWS, "the assertion header is not a JSON object")))?;
    let alg = check_alg(&header).map_err(invalid)?;
    check_crit(&header).map_err(invalid)?;
    let key = find_key(&header, keys.or(client.jwks.as_ref())).map_err(invalid)?;
    verify_with(&key.key.key, &jws).map_err(|_| {
        invalid(fail(
            &SIGNATURE,
            format!(
                "the signature does not verify with the key {}",
                quote(&key.kid)
            ),
        ))
    })?;
    let claims = json_object(&jws.payload_json)
        .ok_or_else(|| invalid(fail(&CLAIMS, "the assertion payload is not a JSON object")))?;
    let client_id = client.client_id.as_str();
    check_iss(&claims, client_id).map_err(invalid)?;
    check_sub(&claims, client_id).map_err(invalid)?;
    check_aud(&claims, issuer).map_err(invalid)?;
    check_exp(&claims, now, policy).map_err(invalid)?;
    check_nbf(&claims, now, policy).map_err(invalid)?;
    let iat = check_iat(&claims, now, policy).map_err(invalid)?;
    let jti = check_jti(&claims).map_err(invalid)?;
    check_replay(replay, client_id, jti, iat, now, policy)?;
    Ok(ClientAuth::PrivateKeyJwt {
        kid: key.kid.clone(),
        alg: alg.to_string(),
        jkt: key.key.thumbprint.clone(),
    })
}

fn json_object(bytes: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// atproto OAuth spec, "Confidential Client Authentication": "The client
/// assertion type to use is `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`"
/// (RFC 7523 §2.2).
fn check_assertion_type(value: Option<&str>) -> Check<()> {
    match value {
        Some(CLIENT_ASSERTION_TYPE_JWT_BEARER) => Ok(()),
        Some(t) => Err(ASSERTION_TYPE.error(
            Violation::new(format!("client_assertion_type is {}", quote(t))).fix(format!(
                "send client_assertion_type={CLIENT_ASSERTION_TYPE_JWT_BEARER}"
            )),
        )),
        None => {
            Err(
                ASSERTION_TYPE.error(Violation::new("client_assertion_type is missing").fix(
                    format!("send client_assertion_type={CLIENT_ASSERTION_TYPE_JWT_BEARER}"),
                )),
            )
        }
    }
}

/// RFC 7523 §3 item 9: "The JWT MUST be digitally signed or have a Message
/// Authentication Code (MAC) applied"; atproto: ES256. So never `none`, and
/// never a MAC (`HS*`): there is no shared secret to key it.
fn check_alg(header: &Map<String, Value>) -> Check<&str> {
    match header.get("alg").and_then(Value::as_str) {
        Some(CLIENT_ASSERTION_ALG) => Ok(CLIENT_ASSERTION_ALG),
        Some("none") => Err(fail(&ALG, "the assertion is unsigned (alg none)")),
        Some(a) if a.starts_with("HS") => Err(fail(
            &ALG,
            format!(
                "the assertion uses the MAC algorithm {}; clients have no shared secret",
                quote(a)
            ),
        )),
        Some(a) => Err(fail(
            &ALG,
            format!("the assertion alg {} is not supported; use ES256", quote(a)),
        )),
        None => Err(fail(&ALG, "the assertion header has no alg")),
    }
}

/// RFC 7515 §4.1.11: a recipient that does not understand an extension
/// listed in `crit` "MUST reject the JWS". This server understands none.
fn check_crit(header: &Map<String, Value>) -> Check<()> {
    match header.get("crit") {
        None => Ok(()),
        Some(c) => Err(fail(&CRIT, format!("the assertion header lists critical extensions {c}, which this server does not support"))),
    }
}

/// atproto OAuth spec, "Confidential Client Authentication": sessions are
/// bound to "the key's identifier (`kid`)", so the header must name one of
/// the client's keys.
fn find_key<'k>(header: &Map<String, Value>, keys: Option<&'k ClientJwks>) -> Check<&'k ClientJwk> {
    let Some(kid) = header.get("kid").and_then(Value::as_str) else {
        return Err(KID.error(
            Violation::new("the assertion header has no kid")
                .fix("put the kid of the signing key in the JWT header"),
        ));
    };
    keys.and_then(|k| k.find(kid)).ok_or_else(|| {
        KID.error(
            Violation::new(format!("kid {} is not among the client's keys", quote(kid)))
                .fix("publish the key in jwks / jwks_uri, or sign with a published key"),
        )
    })
}

fn claim_str<'c>(claims: &'c Map<String, Value>, name: &str) -> Option<&'c str> {
    claims.get(name).and_then(Value::as_str)
}

/// A NumericDate (RFC 7519 §2): seconds, possibly fractional.
fn claim_time(claims: &Map<String, Value>, name: &str) -> Option<Result<i64, ()>> {
    let v = claims.get(name)?;
    Some(match (v.as_i64(), v.as_f64()) {
        (Some(i), _) => Ok(i),
        (None, Some(f)) if f.is_finite() && f.abs() < 1e15 => Ok(f.floor() as i64),
        _ => Err(()),
    })
}

/// RFC 7523 §3 item 1: "For client authentication, the subject MUST be the
/// `client_id` of the OAuth client" and the `iss` likewise names it.
fn check_iss(claims: &Map<String, Value>, client_id: &str) -> Check<()> {
    match claim_str(claims, "iss") {
        Some(iss) if iss == client_id => Ok(()),
        Some(iss) => Err(fail(
            &ISS,
            format!(
                "iss is {}, not the client_id {}",
                quote(iss),
                quote(client_id)
            ),
        )),
        None => Err(fail(&ISS, "iss is missing")),
    }
}

/// RFC 7523 §3 item 2: "For client authentication, the subject MUST be the
/// `client_id` of the OAuth client."
fn check_sub(claims: &Map<String, Value>, client_id: &str) -> Check<()> {
    match claim_str(claims, "sub") {
        Some(sub) if sub == client_id => Ok(()),
        Some(sub) => Err(fail(
            &SUB,
            format!(
                "sub is {}, not the client_id {}",
                quote(sub),
                quote(client_id)
            ),
        )),
        None => Err(fail(&SUB, "sub is missing")),
    }
}

/// atproto OAuth spec: "The `aud` claim … must be the Authorization Server's
/// `issuer`" (RFC 7523 §3 item 3 would also allow the token endpoint URL;
/// the atproto profile does not). A string, or an array containing it
/// (RFC 7519 §4.1.3).
fn check_aud(claims: &Map<String, Value>, issuer: &str) -> Check<()> {
    let values: Vec<&str> = match claims.get("aud") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => return Err(fail(&AUD, "aud is missing or not a string")),
    };
    if values.contains(&issuer) {
        return Ok(());
    }
    let endpoint = values.iter().find(|v| {
        v.strip_prefix(issuer)
            .is_some_and(|rest| rest.starts_with('/'))
    });
    Err(match endpoint {
        Some(v) if v.len() == issuer.len() + 1 => AUD.error(
            Violation::new(format!(
                "aud {} has a trailing slash; the issuer has none",
                quote(v)
            ))
            .fix(format!("set aud to {}", quote(issuer))),
        ),
        Some(v) => AUD.error(
            Violation::new(format!(
                "aud is the endpoint URL {}; atproto requires the issuer itself",
                quote(v)
            ))
            .fix(format!("set aud to {}", quote(issuer))),
        ),
        None => AUD.error(
            Violation::new(format!(
                "aud {} does not name this server's issuer",
                quote(&values.join(" "))
            ))
            .fix(format!("set aud to {}", quote(issuer))),
        ),
    })
}

/// RFC 7523 §3 item 4: the server "MUST reject any JWT with an expiration
/// time that has passed, subject to allowable clock skew".
fn check_exp(claims: &Map<String, Value>, now: i64, policy: &AssertionPolicy) -> Check<()> {
    match claim_time(claims, "exp") {
        None => Ok(()),
        Some(Err(())) => Err(fail(&EXP, "exp is not a number")),
        Some(Ok(exp)) if now >= exp.saturating_add(policy.clock_skew_secs) => Err(fail(
            &EXP,
            format!("the assertion expired {} s ago", now.saturating_sub(exp)),
        )),
        Some(Ok(_)) => Ok(()),
    }
}

/// RFC 7523 §3 item 5: the server "MUST reject a JWT … if its use is not
/// permitted until a time in the future" (`nbf`), give or take clock skew.
fn check_nbf(claims: &Map<String, Value>, now: i64, policy: &AssertionPolicy) -> Check<()> {
    match claim_time(claims, "nbf") {
        None => Ok(()),
        Some(Err(())) => Err(fail(&NBF, "nbf is not a number")),
        Some(Ok(nbf)) if nbf > now.saturating_add(policy.clock_skew_secs) => Err(fail(
            &NBF,
            format!(
                "the assertion is not valid for another {} s",
                nbf.saturating_sub(now)
            ),
        )),
        Some(Ok(_)) => Ok(()),
    }
}

/// atproto OAuth spec, "Confidential Client Authentication": "The client
/// assertion JWT must include an `iat` claim"; servers "should not reject
/// client assertion JWTs generated less than a minute ago" (older ones are
/// refused: [`AssertionPolicy::max_age_secs`]). An `iat` in the future
/// beyond the clock skew is refused too.
fn check_iat(claims: &Map<String, Value>, now: i64, policy: &AssertionPolicy) -> Check<i64> {
    let iat = match claim_time(claims, "iat") {
        None => {
            return Err(IAT.error(
                Violation::new("iat is missing").fix("add iat, the current time in seconds"),
            ))
        }
        Some(Err(())) => return Err(fail(&IAT, "iat is not a number")),
        Some(Ok(iat)) => iat,
    };
    if iat > now.saturating_add(policy.clock_skew_secs) {
        return Err(IAT.error(
            Violation::new(format!(
                "iat is {} s in the future",
                iat.saturating_sub(now)
            ))
            .fix("check the client's clock"),
        ));
    }
    let age = now.saturating_sub(iat);
    if age > policy.max_age_secs {
        return Err(IAT.error(
            Violation::new(format!(
                "the assertion was issued {age} s ago; at most {} s are accepted",
                policy.max_age_secs
            ))
            .fix("sign a fresh assertion for every request"),
        ));
    }
    Ok(iat)
}

/// atproto OAuth spec, "Confidential Client Authentication": "The client
/// assertion JWT must include an `jti` claim (JWT ID) with a unique value".
fn check_jti(claims: &Map<String, Value>) -> Check<&str> {
    match claim_str(claims, "jti") {
        Some(j) if !j.is_empty() && j.len() <= MAX_JTI_LEN => Ok(j),
        Some(j) if !j.is_empty() => Err(fail(
            &JTI,
            format!(
                "jti is {} characters long; at most {MAX_JTI_LEN} are accepted",
                j.len()
            ),
        )),
        _ => Err(JTI.error(
            Violation::new("jti is missing or empty").fix("add a random jti to every assertion"),
        )),
    }
}

/// atproto OAuth spec: servers "must ensure uniqueness of `jti` values over
/// the full token validity time period". An assertion is accepted until
/// `iat + max_age`, so the `jti` is held that long plus the clock skew. Keys
/// are per client, so one client cannot burn another's `jti`s.
fn check_replay<R: ReplayStore + ?Sized>(
    replay: &R,
    client_id: &str,
    jti: &str,
    iat: i64,
    now: i64,
    policy: &AssertionPolicy,
) -> Result<(), OAuthError> {
    let expires_at = iat
        .saturating_add(policy.max_age_secs)
        .saturating_add(policy.clock_skew_secs);
    let key = format!("{client_id}#{jti}");
    match replay.check_and_insert(NS_CLIENT_ASSERTION, &key, expires_at, now) {
        Ok(true) => Ok(()),
        Ok(false) => Err(OAuthError::invalid_client(
            REPLAY
                .error(
                    Violation::new(format!("jti {} was already used", quote(jti)))
                        .fix("use a new random jti for every assertion"),
                )
                .description(),
        )),
        Err(e) => Err(OAuthError::server_error(format!("replay store: {e}"))),
    }
}

/// The `client_id` a token-endpoint request names: the `client_id`
/// parameter, or for a `private_key_jwt` client that omits it (RFC 7523 §3
/// makes it optional) the unverified `iss` of its assertion, which
/// [`authenticate_client`] then verifies against the resolved client.
pub fn requested_client_id(
    client_id: Option<&str>,
    client_assertion: Option<&str>,
) -> Result<String, OAuthError> {
    if let Some(id) = client_id {
        return Ok(id.to_string());
    }
    let iss = client_assertion.and_then(|a| {
        let jws = CompactJws::parse(a).ok()?;
        let claims: Map<String, Value> = serde_json::from_slice(&jws.payload_json).ok()?;
        claims.get("iss")?.as_str().map(str::to_string)
    });
    iss.ok_or_else(|| OAuthError::invalid_request("missing client_id (RFC 6749 §2.2)"))
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
