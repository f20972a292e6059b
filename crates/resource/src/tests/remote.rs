//! Entryway mode through [`Verifier::authenticate`]: the issuer's keys
//! fetched from its JWKS (and fetched again after a rotation), and the
//! session asked of the authorization server through a [`TokenCheck`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atauth_core::keys::{generate_stored_key, Keyset};
use serde_json::Value;

use super::*;
use crate::{BoxFuture, Caller, JwksFetch, RemoteKeys, RemoteKeysPolicy, TokenCheck};

struct Jwks {
    set: Mutex<Value>,
    calls: AtomicUsize,
}

impl JwksFetch for Arc<Jwks> {
    fn fetch_jwks(&self) -> BoxFuture<'_, Result<Value, String>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let v = self.set.lock().unwrap().clone();
        Box::pin(async move { Ok(v) })
    }
}

/// The authorization server's answer: `Some(active)`, or `None` when it
/// cannot be reached.
struct Sessions(Mutex<Option<bool>>);

impl TokenCheck for Sessions {
    fn token_active<'a>(
        &'a self,
        _token: &'a str,
        caller: &'a Caller,
        _now: i64,
    ) -> BoxFuture<'a, Result<bool, String>> {
        assert_eq!(caller.token_id, "tok-1");
        let answer = *self.0.lock().unwrap();
        Box::pin(async move { answer.ok_or_else(|| "unreachable".to_string()) })
    }
}

struct Remote {
    h: Harness,
    jwks: Arc<Jwks>,
    sessions: Arc<Sessions>,
    verifier: Verifier,
}

fn remote() -> Remote {
    let h = Harness::stateless();
    let jwks = Arc::new(Jwks {
        set: Mutex::new(h.issuer_keys.current().jwks()),
        calls: AtomicUsize::new(0),
    });
    let keys = Arc::new(RemoteKeys::new(
        jwks.clone(),
        RemoteKeysPolicy {
            min_refetch: Duration::ZERO,
            max_age: Duration::from_secs(3600),
        },
    ));
    let sessions = Arc::new(Sessions(Mutex::new(Some(true))));
    let verifier = Verifier::new(ISSUER, AUDIENCE, keys, h.nonces.clone(), h.replay.clone())
        .with_clock(Arc::new(|| NOW))
        .with_token_check(sessions.clone());
    Remote {
        h,
        jwks,
        sessions,
        verifier,
    }
}

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn authenticate(r: &Remote, token: &str) -> Result<Caller, OAuthError> {
    let proof = r.h.proof(token, |_| {});
    let auth = format!("DPoP {token}");
    let dpop = [proof.as_str()];
    let req = RequestParts {
        method: "GET",
        url: URL,
        authorization: Some(&auth),
        dpop_headers: &dpop,
    };
    block(r.verifier.authenticate(&req, NOW))
}

#[test]
fn accepts_a_token_verified_with_the_fetched_jwks() {
    let r = remote();
    assert!(r.verifier.is_stateful());
    let caller = authenticate(&r, &r.h.token(|_| {})).unwrap();
    assert_eq!(caller.did.as_str(), DID);
    assert_eq!(r.jwks.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn fetches_again_when_a_token_names_a_new_key() {
    let r = remote();
    authenticate(&r, &r.h.token(|_| {})).unwrap();
    let new = generate_stored_key(2).unwrap();
    let rotated = Keyset::from_stored(&[r.h.stored.clone(), new]).unwrap();
    *r.jwks.set.lock().unwrap() = rotated.jwks();
    let token = atauth_core::jwt::sign(&rotated, "at+jwt", &r.h.claims()).unwrap();
    authenticate(&r, &token).unwrap();
    assert_eq!(r.jwks.calls.load(Ordering::SeqCst), 2);
}

#[test]
fn rejects_a_token_of_a_key_the_issuer_does_not_publish() {
    let r = remote();
    let stranger = Keyset::from_stored(&[generate_stored_key(3).unwrap()]).unwrap();
    let token = atauth_core::jwt::sign(&stranger, "at+jwt", &r.h.claims()).unwrap();
    let (_, challenge) = refused(authenticate(&r, &token), 401, "invalid_token");
    assert_challenge(&challenge, "invalid_token");
}

#[test]
fn rejects_a_token_whose_session_the_authorization_server_ended() {
    let r = remote();
    *r.sessions.0.lock().unwrap() = Some(false);
    let (e, challenge) = refused(authenticate(&r, &r.h.token(|_| {})), 401, "invalid_token");
    assert_challenge(&challenge, "invalid_token");
    assert!(e.error_description.unwrap().contains("revoked"));
}

#[test]
fn plain_verify_refuses_rather_than_skip_the_remote_check() {
    let r = remote();
    let token = r.h.token(|_| {});
    let proof = r.h.proof(&token, |_| {});
    let auth = format!("DPoP {token}");
    let dpop = [proof.as_str()];
    let req = RequestParts {
        method: "GET",
        url: URL,
        authorization: Some(&auth),
        dpop_headers: &dpop,
    };
    let e = r.verifier.verify(&req, NOW).unwrap_err();
    assert_eq!(e.error.as_str(), "server_error");
}

#[test]
fn fails_closed_when_the_authorization_server_cannot_be_asked() {
    let r = remote();
    *r.sessions.0.lock().unwrap() = None;
    let e = authenticate(&r, &r.h.token(|_| {})).unwrap_err();
    assert_eq!((e.status, e.error.as_str()), (500, "server_error"));
}
