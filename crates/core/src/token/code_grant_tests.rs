//! The authorization-code grant, one rule per test: each refusal asserts
//! the exact error code and that no session was created.

use super::*;
use crate::consts;
use crate::error::ErrorCode;
use crate::identity::Did;
use crate::jwt;
use crate::store::memory::MemoryStore;
use crate::store::{RefreshLookup, StoreResult};
use crate::token::test_fixtures::*;
use crate::token::{AccessTokenClaims, ACCESS_TOKEN_TYP};

/// A store with one approved request of the public web client, and its code.
fn setup() -> (MemoryStore, Keyset, ValidatedClient, Code) {
    let store = MemoryStore::new();
    let client = web_client();
    let (_, code) = approved_request(&store, &client, &ClientAuth::None, WEB_REDIRECT, NOW);
    (store, keyset(), client, code)
}

fn run(
    store: &MemoryStore,
    keys: &Keyset,
    client: &ValidatedClient,
    auth: &ClientAuth,
    dpop_jkt: &str,
    input: &CodeGrantInput<'_>,
    now: i64,
) -> Result<TokenBundle, OAuthError> {
    exchange(
        store,
        keys,
        &policy(),
        &caller(client, auth, dpop_jkt),
        input,
        AUDIENCE,
        now,
    )
}

/// Run with the public web client and key A.
fn run_public(
    store: &MemoryStore,
    keys: &Keyset,
    client: &ValidatedClient,
    input: &CodeGrantInput<'_>,
    now: i64,
) -> Result<TokenBundle, OAuthError> {
    run(store, keys, client, &ClientAuth::None, &jkt_a(), input, now)
}

/// The refusal has `code` and left no session behind.
fn assert_refused(store: &MemoryStore, r: Result<TokenBundle, OAuthError>, code: ErrorCode) {
    let e = r.expect_err("the exchange should be refused");
    assert_eq!(e.error, code, "{e:?}");
    assert_eq!(
        store.session_count().unwrap(),
        0,
        "a refused exchange must not create a session"
    );
}

#[test]
fn accepts_code_and_answers_dpop_token_with_scope_sub_and_refresh_token() {
    let (store, keys, client, code) = setup();
    let b = run_public(
        &store,
        &keys,
        &client,
        &good_input(&code, WEB_REDIRECT),
        NOW,
    )
    .unwrap();
    let r = &b.response;
    assert_eq!(r.token_type, "DPoP");
    assert_eq!(r.scope, "atproto transition:generic");
    assert_eq!(r.sub, SUB);
    assert_eq!(r.expires_in, consts::ACCESS_TOKEN_LIFETIME_SECS);
    let refresh = r
        .refresh_token
        .as_deref()
        .expect("the client declared refresh_token");
    assert!(crate::ids::RefreshToken::parse(refresh).is_some());
    let s = store
        .session_by_id(&b.session_id)
        .unwrap()
        .expect("session stored");
    assert_eq!(s.dpop_jkt, jkt_a());
    assert_eq!(s.expires_at, NOW + consts::PUBLIC_SESSION_LIFETIME_SECS);
    assert_eq!(s.refresh_hash, Some(crate::ids::secret_hash(refresh)));
    assert!(s.refresh_expires_at.unwrap() <= s.expires_at);
}

#[test]
fn accepts_code_and_signs_access_token_bound_to_the_dpop_key() {
    let (store, keys, client, code) = setup();
    let b = run_public(
        &store,
        &keys,
        &client,
        &good_input(&code, WEB_REDIRECT),
        NOW,
    )
    .unwrap();
    let (header, claims) =
        jwt::verify::<AccessTokenClaims>(&keys, &b.response.access_token, ACCESS_TOKEN_TYP)
            .unwrap();
    assert_eq!(header.typ.as_deref(), Some(ACCESS_TOKEN_TYP));
    assert_eq!(claims.cnf.jkt, jkt_a());
    assert_eq!(claims.aud, AUDIENCE);
    assert_eq!(claims.iss, ISSUER);
    assert_eq!(claims.sub, SUB);
    assert_eq!(claims.sid, b.session_id);
    assert_eq!(claims.client_id, WEB_CLIENT_ID);
    assert_eq!(claims.scope, "atproto transition:generic");
    assert_eq!(claims.iat, NOW);
    assert!(claims.exp > NOW && claims.exp <= NOW + policy().access_lifetime_secs);
}

#[test]
fn accepts_code_without_refresh_token_when_client_lacks_refresh_grant() {
    let store = MemoryStore::new();
    let client = web_client_without_refresh();
    let (_, code) = approved_request(&store, &client, &ClientAuth::None, WEB_REDIRECT, NOW);
    let b = run_public(
        &store,
        &keyset(),
        &client,
        &good_input(&code, WEB_REDIRECT),
        NOW,
    )
    .unwrap();
    assert!(b.response.refresh_token.is_none());
    let s = store.session_by_id(&b.session_id).unwrap().unwrap();
    assert_eq!((s.refresh_hash, s.refresh_expires_at), (None, None));
}

#[test]
fn accepts_loopback_client_with_the_redirect_uri_of_its_request() {
    let store = MemoryStore::new();
    let client = loopback_client();
    let (_, code) = approved_request(&store, &client, &ClientAuth::None, LOOPBACK_REDIRECT, NOW);
    let b = run_public(
        &store,
        &keyset(),
        &client,
        &good_input(&code, LOOPBACK_REDIRECT),
        NOW,
    )
    .unwrap();
    assert!(b.response.refresh_token.is_some());
}

#[test]
fn rejects_missing_code() {
    let (store, keys, client, _) = setup();
    let input = CodeGrantInput {
        code: None,
        redirect_uri: Some(WEB_REDIRECT),
        code_verifier: Some(VERIFIER),
    };
    assert_refused(
        &store,
        run_public(&store, &keys, &client, &input, NOW),
        ErrorCode::InvalidRequest,
    );
}

#[test]
fn rejects_wrong_code_verifier() {
    let (store, keys, client, code) = setup();
    let other = "a".repeat(43);
    let input = CodeGrantInput {
        code_verifier: Some(&other),
        ..good_input(&code, WEB_REDIRECT)
    };
    assert_refused(
        &store,
        run_public(&store, &keys, &client, &input, NOW),
        ErrorCode::InvalidGrant,
    );
}

#[test]
fn rejects_missing_code_verifier() {
    let (store, keys, client, code) = setup();
    let input = CodeGrantInput {
        code_verifier: None,
        ..good_input(&code, WEB_REDIRECT)
    };
    assert_refused(
        &store,
        run_public(&store, &keys, &client, &input, NOW),
        ErrorCode::InvalidGrant,
    );
}

#[test]
fn rejects_redirect_uri_that_differs_from_the_request() {
    let (store, keys, client, code) = setup();
    let input = CodeGrantInput {
        redirect_uri: Some("https://app.example.com/other"),
        ..good_input(&code, WEB_REDIRECT)
    };
    assert_refused(
        &store,
        run_public(&store, &keys, &client, &input, NOW),
        ErrorCode::InvalidGrant,
    );
}

#[test]
fn rejects_missing_redirect_uri() {
    let (store, keys, client, code) = setup();
    let input = CodeGrantInput {
        redirect_uri: None,
        ..good_input(&code, WEB_REDIRECT)
    };
    assert_refused(
        &store,
        run_public(&store, &keys, &client, &input, NOW),
        ErrorCode::InvalidRequest,
    );
}

#[test]
fn rejects_dpop_key_other_than_the_one_bound_at_par() {
    let (store, keys, client, code) = setup();
    let r = run(
        &store,
        &keys,
        &client,
        &ClientAuth::None,
        &jkt_b(),
        &good_input(&code, WEB_REDIRECT),
        NOW,
    );
    assert_refused(&store, r, ErrorCode::InvalidGrant);
}

#[test]
fn rejects_expired_code() {
    let (store, keys, client, code) = setup();
    let later = NOW + consts::CODE_LIFETIME_SECS;
    assert_refused(
        &store,
        run_public(
            &store,
            &keys,
            &client,
            &good_input(&code, WEB_REDIRECT),
            later,
        ),
        ErrorCode::InvalidGrant,
    );
}

#[test]
fn accepts_code_one_second_before_it_expires() {
    let (store, keys, client, code) = setup();
    let last = NOW + consts::CODE_LIFETIME_SECS - 1;
    assert!(run_public(
        &store,
        &keys,
        &client,
        &good_input(&code, WEB_REDIRECT),
        last
    )
    .is_ok());
}

#[test]
fn rejects_code_issued_to_another_client() {
    let (store, keys, _, code) = setup();
    let other = other_client();
    let r = run_public(&store, &keys, &other, &good_input(&code, WEB_REDIRECT), NOW);
    assert_refused(&store, r, ErrorCode::InvalidGrant);
}

#[test]
fn rejects_reused_code_and_revokes_the_session_it_started() {
    let (store, keys, client, code) = setup();
    let first = run_public(
        &store,
        &keys,
        &client,
        &good_input(&code, WEB_REDIRECT),
        NOW,
    )
    .unwrap();
    assert!(store.session_by_id(&first.session_id).unwrap().is_some());
    let again = run_public(
        &store,
        &keys,
        &client,
        &good_input(&code, WEB_REDIRECT),
        NOW + 1,
    );
    assert_refused(&store, again, ErrorCode::InvalidGrant);
    assert!(
        store.session_by_id(&first.session_id).unwrap().is_none(),
        "the first exchange's session must be revoked"
    );
}

#[test]
fn rejects_code_after_a_failed_exchange_burned_it() {
    let (store, keys, client, code) = setup();
    let wrong = "a".repeat(43);
    let bad = CodeGrantInput {
        code_verifier: Some(&wrong),
        ..good_input(&code, WEB_REDIRECT)
    };
    assert!(run_public(&store, &keys, &client, &bad, NOW).is_err());
    let r = run_public(
        &store,
        &keys,
        &client,
        &good_input(&code, WEB_REDIRECT),
        NOW,
    );
    assert_refused(&store, r, ErrorCode::InvalidGrant);
}

#[test]
fn rejects_unknown_code() {
    let (store, keys, client, _) = setup();
    let unknown = Code::generate();
    assert_refused(
        &store,
        run_public(
            &store,
            &keys,
            &client,
            &good_input(&unknown, WEB_REDIRECT),
            NOW,
        ),
        ErrorCode::InvalidGrant,
    );
}

#[test]
fn rejects_refresh_token_presented_as_code() {
    let (store, keys, client, _) = setup();
    let not_a_code = crate::ids::RefreshToken::generate();
    let input = CodeGrantInput {
        code: Some(not_a_code.as_str()),
        redirect_uri: Some(WEB_REDIRECT),
        code_verifier: Some(VERIFIER),
    };
    assert_refused(
        &store,
        run_public(&store, &keys, &client, &input, NOW),
        ErrorCode::InvalidGrant,
    );
}

#[test]
fn rejects_client_authentication_other_than_at_par() {
    let store = MemoryStore::new();
    let (k1, k2) = (client_key("k1"), client_key("k2"));
    let client = confidential_client(&[&k1, &k2]);
    let (_, code) = approved_request(&store, &client, &k1.auth, WEB_REDIRECT, NOW);
    let r = run(
        &store,
        &keyset(),
        &client,
        &k2.auth,
        &jkt_a(),
        &good_input(&code, WEB_REDIRECT),
        NOW,
    );
    assert_refused(&store, r, ErrorCode::InvalidGrant);
}

#[test]
fn accepts_confidential_client_with_its_par_key_and_a_long_session() {
    let store = MemoryStore::new();
    let k1 = client_key("k1");
    let client = confidential_client(&[&k1]);
    let (_, code) = approved_request(&store, &client, &k1.auth, WEB_REDIRECT, NOW);
    let b = run(
        &store,
        &keyset(),
        &client,
        &k1.auth,
        &jkt_a(),
        &good_input(&code, WEB_REDIRECT),
        NOW,
    )
    .unwrap();
    let s = store.session_by_id(&b.session_id).unwrap().unwrap();
    assert_eq!(s.client_auth, k1.auth);
    assert_eq!(
        s.expires_at,
        NOW + consts::CONFIDENTIAL_SESSION_LIFETIME_SECS
    );
    assert_eq!(
        s.refresh_expires_at,
        Some(NOW + consts::CONFIDENTIAL_REFRESH_LIFETIME_SECS)
    );
}

/// What runs inside the exchange, on the inner store.
type Hook<'a> = Box<dyn FnOnce(&MemoryStore) + 'a>;

/// A store that runs `hook` on the inner store just before the first
/// `create_session`: a second request interleaved inside an exchange.
struct Interleaved<'a> {
    inner: &'a MemoryStore,
    hook: std::cell::RefCell<Option<Hook<'a>>>,
}

impl RequestStore for Interleaved<'_> {
    fn create_request(&self, r: &AuthorizationRequest) -> StoreResult<()> {
        self.inner.create_request(r)
    }
    fn get_request(&self, id: &str) -> StoreResult<Option<AuthorizationRequest>> {
        self.inner.get_request(id)
    }
    fn bind_device(&self, id: &str, device_id: &str) -> StoreResult<bool> {
        self.inner.bind_device(id, device_id)
    }
    fn issue_code(&self, id: &str, sub: &Did, hash: &str, exp: i64) -> StoreResult<bool> {
        self.inner.issue_code(id, sub, hash, exp)
    }
    fn consume_code(&self, hash: &str, now: i64) -> StoreResult<CodeConsumption> {
        self.inner.consume_code(hash, now)
    }
    fn delete_request(&self, id: &str) -> StoreResult<bool> {
        self.inner.delete_request(id)
    }
    fn purge_expired_requests(&self, now: i64, grace: i64) -> StoreResult<u64> {
        self.inner.purge_expired_requests(now, grace)
    }
}

impl SessionStore for Interleaved<'_> {
    fn create_session(&self, s: &OAuthSession) -> StoreResult<()> {
        if let Some(hook) = self.hook.borrow_mut().take() {
            hook(self.inner);
        }
        self.inner.create_session(s)
    }
    fn session_by_id(&self, id: &str) -> StoreResult<Option<OAuthSession>> {
        self.inner.session_by_id(id)
    }
    fn find_refresh(&self, hash: &str) -> StoreResult<RefreshLookup> {
        self.inner.find_refresh(hash)
    }
    fn rotate_refresh(
        &self,
        id: &str,
        old: &str,
        new: &str,
        exp: i64,
        now: i64,
    ) -> StoreResult<bool> {
        self.inner.rotate_refresh(id, old, new, exp, now)
    }
    fn touch_session(&self, id: &str, now: i64) -> StoreResult<()> {
        self.inner.touch_session(id, now)
    }
    fn delete_session(&self, id: &str) -> StoreResult<u64> {
        self.inner.delete_session(id)
    }
    fn delete_sessions_for_request(&self, request_id: &str) -> StoreResult<u64> {
        self.inner.delete_sessions_for_request(request_id)
    }
    fn delete_sessions_for(&self, did: &Did, client_id: Option<&str>) -> StoreResult<u64> {
        self.inner.delete_sessions_for(did, client_id)
    }
    fn list_sessions(
        &self,
        did: Option<&Did>,
        client_id: Option<&str>,
    ) -> StoreResult<Vec<OAuthSession>> {
        self.inner.list_sessions(did, client_id)
    }
    fn purge_expired_sessions(&self, now: i64) -> StoreResult<u64> {
        self.inner.purge_expired_sessions(now)
    }
}

#[test]
fn rejects_exchange_raced_by_a_reuse_of_its_code() {
    let (store, keys, client, code) = setup();
    let reuse_result = std::cell::RefCell::new(None);
    let racing = Interleaved {
        inner: &store,
        hook: std::cell::RefCell::new(Some(Box::new(|inner: &MemoryStore| {
            let r = run_public(inner, &keys, &client, &good_input(&code, WEB_REDIRECT), NOW);
            *reuse_result.borrow_mut() = Some(r.map(|_| ()));
        }))),
    };
    let first = exchange(
        &racing,
        &keys,
        &policy(),
        &caller(&client, &ClientAuth::None, &jkt_a()),
        &good_input(&code, WEB_REDIRECT),
        AUDIENCE,
        NOW,
    );
    let reuse = reuse_result
        .borrow_mut()
        .take()
        .expect("the reuse ran inside the exchange");
    assert_eq!(reuse.unwrap_err().error, ErrorCode::InvalidGrant);
    assert_refused(&store, first, ErrorCode::InvalidGrant);
}
