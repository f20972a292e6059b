//! Unit tests of the verifier: a harness with a fake clock, in-memory
//! replay and session stores, an issuer keyset and one client DPoP key,
//! then one hostile case per test in [`verify`], the actix extractor in
//! [`extractor`], and the entryway ports (remote keys, introspection) in
//! [`remote`].

mod extractor;
mod remote;
mod token_cache;
mod verify;

use std::sync::Arc;

use atauth_core::client::auth::ClientAuth;
use atauth_core::crypto::Es256SigningKey;
use atauth_core::dpop::Nonces;
use atauth_core::identity::Did;
use atauth_core::jwk::{ec_public_jwk, ec_thumbprint};
use atauth_core::keys::{generate_stored_key, Keyset};
use atauth_core::replay::MemoryReplayStore;
use atauth_core::store::memory::MemoryStore;
use atauth_core::store::{OAuthSession, SessionStore, StoredKey};
use atauth_core::token::access::Confirmation;
use atauth_core::token::AccessTokenClaims;
use atauth_core::OAuthError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::challenge::header;
use crate::{LiveKeyset, RequestParts, StoreSessionCheck, Verifier};

pub const NOW: i64 = 1_700_000_040;
pub const ISSUER: &str = "https://auth.example";
pub const AUDIENCE: &str = "https://pds.example";
pub const PATH: &str = "/xrpc/com.atproto.server.getSession";
pub const URL: &str = "https://pds.example/xrpc/com.atproto.server.getSession";
pub const DID: &str = "did:plc:abcdefghijklmnopqrstuvwx";
pub const SID: &str = "ses-test-session";
pub const CLIENT_ID: &str = "https://app.example/client-metadata.json";

pub fn new_key() -> Es256SigningKey {
    Es256SigningKey::from_pkcs8(&Es256SigningKey::generate_pkcs8().unwrap()).unwrap()
}

pub fn thumbprint(key: &Es256SigningKey) -> String {
    ec_thumbprint(key.public_key().x(), key.public_key().y())
}

pub fn ath(token: &str) -> String {
    B64.encode(Sha256::digest(token.as_bytes()))
}

/// Compact JWS over any header and claims.
pub fn sign_jws(key: &Es256SigningKey, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        B64.encode(serde_json::to_vec(header).unwrap()),
        B64.encode(serde_json::to_vec(claims).unwrap())
    );
    let sig = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", B64.encode(sig))
}

/// The issuer's keys, a client's DPoP key, the stores and the verifier.
pub struct Harness {
    /// The issuer's first key, as stored.
    pub stored: StoredKey,
    pub issuer_keys: Arc<LiveKeyset>,
    pub client: Es256SigningKey,
    pub nonces: Nonces,
    pub replay: Arc<MemoryReplayStore>,
    pub sessions: Arc<StoreSessionCheck<MemoryStore>>,
    pub verifier: Verifier,
}

impl Harness {
    /// Stateful mode, with the session `SID` alive until `NOW + 3600`.
    pub fn new() -> Self {
        let h = Self::build(true);
        h.add_session(SID, NOW + 3600);
        h
    }

    /// No session check.
    pub fn stateless() -> Self {
        Self::build(false)
    }

    fn build(stateful: bool) -> Self {
        let stored = generate_stored_key(1).unwrap();
        let issuer_keys = Arc::new(LiveKeyset::new(
            Keyset::from_stored(std::slice::from_ref(&stored)).unwrap(),
        ));
        let nonces = Nonces::new([9u8; 32]);
        let replay = Arc::new(MemoryReplayStore::new());
        let sessions = Arc::new(StoreSessionCheck::new(MemoryStore::new()));
        let mut verifier = Verifier::new(
            ISSUER,
            AUDIENCE,
            issuer_keys.clone(),
            nonces.clone(),
            replay.clone(),
        )
        .with_clock(Arc::new(|| NOW));
        if stateful {
            verifier = verifier.with_session_check(sessions.clone());
        }
        Harness {
            stored,
            issuer_keys,
            client: new_key(),
            nonces,
            replay,
            sessions,
            verifier,
        }
    }

    pub fn add_session(&self, id: &str, expires_at: i64) {
        let s = OAuthSession {
            id: id.into(),
            did: Did::parse(DID).unwrap(),
            client_id: CLIENT_ID.into(),
            client_auth: ClientAuth::None,
            scope: "atproto transition:generic".into(),
            dpop_jkt: thumbprint(&self.client),
            request_id: "req-1".into(),
            created_at: NOW - 60,
            expires_at,
            refresh_hash: None,
            refresh_expires_at: None,
            previous_refresh_hash: None,
            rotated_at: None,
            last_used_at: NOW - 60,
        };
        self.sessions.store().create_session(&s).unwrap();
    }

    /// Valid claims: bound to the client key, for `AUDIENCE`, 15 min left.
    pub fn claims(&self) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: ISSUER.into(),
            sub: DID.into(),
            aud: AUDIENCE.into(),
            iat: NOW - 10,
            exp: NOW + 900,
            jti: "tok-1".into(),
            cnf: Confirmation {
                jkt: thumbprint(&self.client),
            },
            client_id: CLIENT_ID.into(),
            scope: "atproto transition:generic".into(),
            sid: SID.into(),
        }
    }

    /// A token signed by the issuer, after `edit` changed its claims.
    pub fn token(&self, edit: impl FnOnce(&mut AccessTokenClaims)) -> String {
        let mut c = self.claims();
        edit(&mut c);
        atauth_core::jwt::sign(&self.issuer_keys.current(), "at+jwt", &c).unwrap()
    }

    /// Valid proof claims for a GET of `URL` with `token`.
    pub fn proof_claims(&self, token: &str) -> Value {
        json!({
            "jti": format!("jti-{:016x}", rand::random::<u64>()),
            "htm": "GET",
            "htu": URL,
            "iat": NOW,
            "nonce": self.nonces.issue(NOW),
            "ath": ath(token),
        })
    }

    /// A proof signed by `key`, after `edit` changed its claims.
    pub fn proof_by(
        &self,
        key: &Es256SigningKey,
        token: &str,
        edit: impl FnOnce(&mut Value),
    ) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": ec_public_jwk(key.public_key(), None)});
        let mut claims = self.proof_claims(token);
        edit(&mut claims);
        sign_jws(key, &header, &claims)
    }

    /// A proof by the client's key.
    pub fn proof(&self, token: &str, edit: impl FnOnce(&mut Value)) -> String {
        self.proof_by(&self.client, token, edit)
    }

    /// Verify a GET of `URL` with these headers at `now`.
    pub fn verify_at(
        &self,
        authorization: Option<&str>,
        dpop: &[&str],
        now: i64,
    ) -> Result<crate::Caller, OAuthError> {
        let req = RequestParts {
            method: "GET",
            url: URL,
            authorization,
            dpop_headers: dpop,
        };
        self.verifier.verify(&req, now)
    }

    pub fn verify(
        &self,
        authorization: Option<&str>,
        dpop: &[&str],
    ) -> Result<crate::Caller, OAuthError> {
        self.verify_at(authorization, dpop, NOW)
    }
}

/// The refusal: status, code, `DPoP-Nonce` present; returns the
/// `WWW-Authenticate` value.
pub fn refused(
    r: Result<crate::Caller, OAuthError>,
    status: u16,
    code: &str,
) -> (OAuthError, String) {
    let e = r.expect_err("request accepted");
    assert_eq!(e.status, status, "{e}");
    assert_eq!(e.error.as_str(), code, "{e}");
    assert!(header(&e, "DPoP-Nonce").is_some(), "no DPoP-Nonce on {e}");
    let challenge = header(&e, "WWW-Authenticate")
        .unwrap_or_default()
        .to_string();
    (e, challenge)
}

/// `DPoP error="<code>", error_description="…", algs="ES256"`.
pub fn assert_challenge(challenge: &str, code: &str) {
    let prefix = format!("DPoP error=\"{code}\", error_description=\"");
    assert!(challenge.starts_with(&prefix), "{challenge}");
    assert!(challenge.ends_with("\", algs=\"ES256\""), "{challenge}");
}
