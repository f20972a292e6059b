//! Verifying one request to a protected resource (SPEC §8, RFC 9449 §7,
//! RFC 9068 §4): [`Verifier::verify`] is the ordered list of checks, each a
//! small function with the rule it enforces on top.

use std::sync::Arc;

use atauth_core::dpop::{verify_proof, DpopPolicy, Nonces, ProofInput, VerifiedProof};
use atauth_core::identity::Did;
use atauth_core::jwt::{self, JwtError, MAX_JWT_LEN};
use atauth_core::replay::ReplayStore;
use atauth_core::scope::Scope;
use atauth_core::store::StoreResult;
use atauth_core::token::{AccessTokenClaims, ACCESS_TOKEN_TYP};
use atauth_core::OAuthError;

use crate::caller::Caller;
use crate::challenge::{invalid_token, missing_credentials, with_nonce};
use crate::introspection::TokenCheck;
use crate::keys::KeySource;
use crate::session::SessionCheck;
use crate::token_cache::VerifiedTokens;

/// One request, as plain values (EXAMPLES: "Protocol code takes plain
/// values"). `Debug` leaves the credentials out.
#[derive(Clone, Copy)]
pub struct RequestParts<'a> {
    /// The HTTP method, as received.
    pub method: &'a str,
    /// The public URL of the request: the resource server's configured
    /// origin + path (+ query), never built from the `Host` header (a forged
    /// Host would let a proof minted for another server pass, RFC 9449
    /// §4.3 (9)). [`Verifier::request_url`] builds it.
    pub url: &'a str,
    /// The `Authorization` header, if one was sent.
    pub authorization: Option<&'a str>,
    /// Every `DPoP` header value received, in order.
    pub dpop_headers: &'a [&'a str],
}

impl std::fmt::Debug for RequestParts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestParts")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("authorization", &self.authorization.map(|_| "<redacted>"))
            .field("dpop_headers", &self.dpop_headers.len())
            .finish()
    }
}

/// The clock: Unix seconds. Read once per request, at the edge.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

fn system_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Verifies DPoP-bound access tokens issued by one authorization server,
/// for one resource server. Shareable across threads (`Send + Sync`);
/// verification is synchronous and may touch a database (replay store,
/// session check), so async callers run it on a blocking thread.
pub struct Verifier {
    issuer: String,
    audience: String,
    origin: String,
    keys: Arc<dyn KeySource>,
    nonces: Nonces,
    replay: Arc<dyn ReplayStore + Send + Sync>,
    sessions: Option<Arc<dyn SessionCheck>>,
    remote: Option<Arc<dyn TokenCheck>>,
    policy: DpopPolicy,
    clock: Clock,
    inline_store: bool,
    verified: VerifiedTokens,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("stateful", &self.is_stateful())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A stateless verifier for tokens of `issuer` (exact `iss`) meant for
    /// `audience`: this resource server's own origin, the exact `aud` of
    /// its tokens and the base of the URLs its DPoP proofs name.
    ///
    /// `nonces` must be the authorization server's (the same secret) when
    /// both share an origin: clients keep one nonce per origin (SPEC §7).
    /// `replay` records proof `jti`s (RFC 9449 §11.1) and must be shared by
    /// every instance of the resource server.
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        keys: Arc<dyn KeySource>,
        nonces: Nonces,
        replay: Arc<dyn ReplayStore + Send + Sync>,
    ) -> Self {
        let audience = audience.into();
        let origin = audience.trim_end_matches('/').to_string();
        Verifier {
            issuer: issuer.into(),
            audience,
            origin,
            keys,
            nonces,
            replay,
            sessions: None,
            remote: None,
            policy: DpopPolicy::resource_server(),
            clock: Arc::new(system_clock),
            inline_store: false,
            verified: VerifiedTokens::new(crate::token_cache::DEFAULT_CAPACITY),
        }
    }

    /// Stateful mode: also require the token's session to be alive.
    pub fn with_session_check(mut self, sessions: Arc<dyn SessionCheck>) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// Stateful mode when the sessions live on another host: after the
    /// local checks, ask `check` (introspection at the authorization
    /// server, [`IntrospectionCheck`](crate::IntrospectionCheck)). This
    /// step is async: [`Verifier::authenticate`] and the actix extractor
    /// run it; [`Verifier::verify`] alone does not.
    pub fn with_token_check(mut self, check: Arc<dyn TokenCheck>) -> Self {
        self.remote = Some(check);
        self
    }

    /// Whether revoked sessions are refused at once (a session check or a
    /// token check is configured); otherwise a token is honoured until it
    /// expires.
    pub fn is_stateful(&self) -> bool {
        self.sessions.is_some() || self.remote.is_some()
    }

    /// Declare the replay store and session check cheap local calls (in
    /// memory, or an embedded SQLite database that serialises its own
    /// access): the actix extractor then runs them on the request's thread
    /// instead of handing them to the blocking pool and back. Leave it off
    /// (the default) when either may wait on a network database.
    pub fn with_inline_store(mut self, inline: bool) -> Self {
        self.inline_store = inline;
        self
    }

    /// See [`Verifier::with_inline_store`].
    pub fn inline_store(&self) -> bool {
        self.inline_store
    }

    /// Replace the clock (tests pin "now").
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The current time by this verifier's clock.
    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    /// The expected `aud`.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The public URL of a request to `path_and_query` on this resource
    /// server (for [`RequestParts::url`]).
    pub fn request_url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.origin, path_and_query)
    }

    /// The `DPoP-Nonce` to send at `now` (RFC 9449 §9: a resource server
    /// provides nonces in the `DPoP-Nonce` header). Every response carries
    /// one, successes included (SPEC §7).
    pub fn nonce(&self, now: i64) -> String {
        self.nonces.issue(now)
    }

    /// Add the current `DPoP-Nonce` to an error that lacks one.
    pub fn refuse(&self, err: OAuthError, now: i64) -> OAuthError {
        with_nonce(err, || self.nonce(now))
    }

    /// Verify a request (SPEC §8): the `Authorization: DPoP` credentials,
    /// the DPoP proof, the access token, its key binding, and in stateful
    /// mode its session. Every error carries `WWW-Authenticate: DPoP …`
    /// (except `server_error`) and a `DPoP-Nonce`.
    ///
    /// A verifier with a token check ([`Verifier::with_token_check`]) needs
    /// the network and refuses here (`server_error`): use
    /// [`Verifier::authenticate`] or the actix extractor, so that the
    /// session check cannot be skipped by mistake.
    pub fn verify(&self, req: &RequestParts<'_>, now: i64) -> Result<Caller, OAuthError> {
        if self.remote.is_some() {
            return Err(self.refuse(
                OAuthError::server_error(
                    "Verifier::verify cannot run the remote token check: call authenticate",
                ),
                now,
            ));
        }
        self.verify_local(req, now)
    }

    /// [`Verifier::verify`] without the remote token check, which the
    /// caller runs afterwards with [`Verifier::confirm`].
    pub(crate) fn verify_local(
        &self,
        req: &RequestParts<'_>,
        now: i64,
    ) -> Result<Caller, OAuthError> {
        self.run_checks(req, now).map_err(|e| self.refuse(e, now))
    }

    /// Everything, for async callers: [`Verifier::prepare`], then the
    /// checks of [`Verifier::verify`] (inline: with a database-backed replay store,
    /// prefer running it on a blocking thread as the actix extractor does),
    /// then [`Verifier::confirm`].
    pub async fn authenticate(
        &self,
        req: &RequestParts<'_>,
        now: i64,
    ) -> Result<Caller, OAuthError> {
        self.prepare(req.authorization).await;
        let caller = self.verify_local(req, now)?;
        let token = dpop_credentials(req.authorization).map_err(|e| self.refuse(e, now))?;
        self.confirm(token, &caller, now).await?;
        Ok(caller)
    }

    /// The network step before [`Verifier::verify`]: let the key source
    /// fetch the issuer's keys if the token names a `kid` it does not hold
    /// (entryway mode). Never fails: a key still unknown afterwards makes
    /// `verify` refuse the token.
    pub async fn prepare(&self, authorization: Option<&str>) {
        let kid = dpop_credentials(authorization).ok().and_then(jwt::peek_kid);
        if let Some(kid) = kid {
            self.keys.prepare(&kid).await;
        }
    }

    /// The network step after [`Verifier::verify`]: with a token check
    /// configured ([`Verifier::with_token_check`]), refuse a token whose
    /// session the authorization server says is gone (401 `invalid_token`);
    /// a failure to ask is `server_error`. Errors carry `DPoP-Nonce`.
    pub async fn confirm(&self, token: &str, caller: &Caller, now: i64) -> Result<(), OAuthError> {
        let Some(remote) = &self.remote else {
            return Ok(());
        };
        let outcome = match remote.token_active(token, caller, now).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(invalid_token(
                "the OAuth session of this access token was revoked or has ended (SPEC section 8)",
            )),
            Err(e) => Err(OAuthError::server_error(format!(
                "token introspection: {e}"
            ))),
        };
        outcome.map_err(|e| self.refuse(e, now))
    }

    fn run_checks(&self, req: &RequestParts<'_>, now: i64) -> Result<Caller, OAuthError> {
        let token = dpop_credentials(req.authorization)?;
        let proof = self.proof_is_valid(req, token, now)?;
        let claims = self.verified.claims(&self.keys, token)?;
        issuer_matches(&claims, &self.issuer)?;
        audience_matches(&claims, &self.audience)?;
        not_expired(&claims, now)?;
        proof.ensure_bound_to(&claims.cnf.jkt)?;
        self.session_is_active(&claims.sid, now)?;
        caller_of(claims)
    }

    /// RFC 9449 §7.1: the resource server checks the proof (§4.3), with
    /// `ath` bound to the presented token (§4.3 (12)), `htm`/`htu` to this
    /// request, `iat`, the `jti` replay store (§11.1) and the server nonce
    /// (§9: refused with `use_dpop_nonce` and a fresh `DPoP-Nonce`).
    fn proof_is_valid(
        &self,
        req: &RequestParts<'_>,
        token: &str,
        now: i64,
    ) -> Result<VerifiedProof, OAuthError> {
        let input = ProofInput {
            dpop_headers: req.dpop_headers,
            method: req.method,
            url: req.url,
            access_token: Some(token),
        };
        verify_proof(
            &input,
            now,
            &self.nonces,
            &Replay(&*self.replay),
            &self.policy,
        )
    }

    /// SPEC §8, stateful mode: the token's session (`sid`) still exists
    /// and has not ended; a revoked session's tokens are refused at once.
    fn session_is_active(&self, sid: &str, now: i64) -> Result<(), OAuthError> {
        let Some(sessions) = &self.sessions else {
            return Ok(());
        };
        match sessions.session_active(sid, now) {
            Ok(true) => Ok(()),
            Ok(false) => Err(invalid_token(
                "the OAuth session of this access token was revoked or has ended (SPEC section 8)",
            )),
            Err(e) => Err(OAuthError::server_error(format!("session check: {e}"))),
        }
    }
}

/// `verify_proof` takes a sized store; this lends it the shared one.
struct Replay<'a>(&'a (dyn ReplayStore + Send + Sync));

impl ReplayStore for Replay<'_> {
    fn check_and_insert(
        &self,
        namespace: &str,
        key: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<bool> {
        self.0.check_and_insert(namespace, key, expires_at, now)
    }
}

/// RFC 9449 §7.1: a DPoP-bound token is sent as `Authorization: DPoP
/// <token>` (auth-scheme compared case-insensitively, RFC 9110 §11.1; the
/// token is token68, RFC 9110 §11.2). No credentials, or another scheme, is
/// 401 with a bare challenge (RFC 6750 §3.1); a token sent as `Bearer` is
/// `invalid_token` (RFC 9449 §7.2: the resource server must not accept a
/// DPoP-bound token as a bearer token; every atauth token is DPoP-bound).
pub fn dpop_credentials(authorization: Option<&str>) -> Result<&str, OAuthError> {
    let Some(value) = authorization else {
        return Err(missing_credentials(
            "Authorization header required: send \"Authorization: DPoP <access token>\" with a DPoP proof \
             (RFC 9449 §7.1)",
        ));
    };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("Bearer") {
        return Err(invalid_token(
            "DPoP-bound token sent as Bearer: use the DPoP authorization scheme (RFC 9449 §7.1)",
        ));
    }
    if !scheme.eq_ignore_ascii_case("DPoP") {
        return Err(missing_credentials(
            "unsupported authorization scheme: send \"Authorization: DPoP <access token>\" (RFC 9449 §7.1)",
        ));
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(invalid_token(
            "the DPoP authorization carries no access token (RFC 9449 §7.1)",
        ));
    }
    if token.len() > MAX_JWT_LEN || !is_token68(token) {
        return Err(invalid_token(
            "the access token is malformed (RFC 9110 §11.2 token68)",
        ));
    }
    Ok(token)
}

/// RFC 9110 §11.2: `token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" /
/// "+" / "/" ) *"="`.
fn is_token68(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// RFC 9068 §4: "validate the signature of all incoming JWT access tokens
/// … using the keys published by the authorization server" and refuse a
/// `typ` other than `at+jwt` (§2.1, §4); ES256 only (atproto profile).
pub fn token_is_signed_by_issuer(
    keys: &Arc<dyn KeySource>,
    token: &str,
) -> Result<AccessTokenClaims, OAuthError> {
    verify_token_signature(&*keys.keys(), token).map(|(_, claims)| claims)
}

/// [`token_is_signed_by_issuer`] against a given key set, also returning
/// the `kid` that verified.
pub(crate) fn verify_token_signature<K: jwt::VerifyingKeys + ?Sized>(
    keyset: &K,
    token: &str,
) -> Result<(String, AccessTokenClaims), OAuthError> {
    jwt::verify_with_keys::<AccessTokenClaims, _>(keyset, token, ACCESS_TOKEN_TYP)
        .map(|(header, claims)| (header.kid.unwrap_or_default(), claims))
        .map_err(|e| {
            invalid_token(match e {
                JwtError::Malformed(_) => "the access token is not a well-formed JWT (RFC 9068 §4)",
                JwtError::WrongType => "the access token's typ is not \"at+jwt\" (RFC 9068 §4)",
                JwtError::UnsupportedAlg => "the access token's alg is not ES256 (RFC 9068 §4)",
                JwtError::UnknownKey => {
                    "the access token is not signed by a key of the issuer (RFC 9068 §4)"
                }
                JwtError::BadSignature => {
                    "the access token's signature does not verify (RFC 9068 §4)"
                }
            })
        })
}

/// RFC 9068 §4: "The issuer identifier for the authorization server …
/// MUST exactly match the value of the iss claim."
pub fn issuer_matches(claims: &AccessTokenClaims, issuer: &str) -> Result<(), OAuthError> {
    if claims.iss == issuer {
        Ok(())
    } else {
        Err(invalid_token(
            "the access token was issued by another authorization server (RFC 9068 §4 iss)",
        ))
    }
}

/// RFC 9068 §4: the resource server "MUST validate that the aud claim
/// contains a resource indicator value corresponding to an identifier the
/// resource server expects for itself".
pub fn audience_matches(claims: &AccessTokenClaims, audience: &str) -> Result<(), OAuthError> {
    if claims.aud == audience {
        Ok(())
    } else {
        Err(invalid_token(
            "the access token is meant for another resource server (RFC 9068 §4 aud)",
        ))
    }
}

/// RFC 9068 §4 and RFC 7519 §4.1.4: the current time "MUST be before the
/// time represented by the exp claim".
pub fn not_expired(claims: &AccessTokenClaims, now: i64) -> Result<(), OAuthError> {
    if now < claims.exp {
        Ok(())
    } else {
        Err(invalid_token(
            "the access token has expired (RFC 9068 §4, RFC 7519 §4.1.4 exp)",
        ))
    }
}

/// The verified claims as a [`Caller`]. `sub` must be a DID and `scope` a
/// valid scope string (atproto OAuth profile); a token that breaks either
/// was not minted by atauth and is `invalid_token`.
pub fn caller_of(claims: AccessTokenClaims) -> Result<Caller, OAuthError> {
    let did = Did::parse(&claims.sub)
        .map_err(|_| invalid_token("the access token's sub is not a DID"))?;
    let scope = Scope::parse(&claims.scope)
        .map_err(|_| invalid_token("the access token's scope is malformed"))?;
    Ok(Caller {
        did,
        client_id: claims.client_id,
        scope,
        session_id: claims.sid,
        token_id: claims.jti,
        token_exp: claims.exp,
    })
}
