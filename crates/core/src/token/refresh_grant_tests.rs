//! The refresh grant: rotation, reuse detection, the retry grace, binding
//! to client and DPoP key, and session lifetimes, on a fake clock.

use super::*;
use crate::client::metadata::ValidatedClient;
use crate::consts;
use crate::error::ErrorCode;
use crate::ids::Code;
use crate::jwt;
use crate::store::memory::MemoryStore;
use crate::token::test_fixtures::*;
use crate::token::{dpop_key_differs_from_client_key, AccessTokenClaims, ACCESS_TOKEN_TYP};

/// A started session of the public web client, bound to key A.
struct Setup {
    store: MemoryStore,
    keys: Keyset,
    client: ValidatedClient,
    session_id: String,
    /// The refresh token of the code exchange.
    token: String,
}

fn setup() -> Setup {
    let (store, keys, b) = started_session(NOW);
    let token = b
        .response
        .refresh_token
        .expect("the web client gets refresh tokens");
    Setup {
        store,
        keys,
        client: web_client(),
        session_id: b.session_id,
        token,
    }
}

fn confidential_setup(session_key: &ClientKey, published: &[&ClientKey]) -> Setup {
    let client = confidential_client(published);
    let (store, keys, b) = started_session_for(&client, &session_key.auth, NOW);
    let token = b.response.refresh_token.unwrap();
    Setup {
        store,
        keys,
        client,
        session_id: b.session_id,
        token,
    }
}

/// Refresh as `caller` with `policy`, the client's keys as resolved now.
fn run_as(
    s: &Setup,
    caller: &Caller<'_>,
    policy: &TokenPolicy,
    current_keys: Option<&ClientJwks>,
    token: &str,
    now: i64,
) -> Result<TokenBundle, OAuthError> {
    refresh(
        &s.store,
        &s.keys,
        policy,
        caller,
        Some(token),
        current_keys,
        AUDIENCE,
        now,
    )
}

/// Refresh as the public web client with `dpop_jkt`.
fn run_with_key(
    s: &Setup,
    dpop_jkt: &str,
    token: &str,
    now: i64,
) -> Result<TokenBundle, OAuthError> {
    run_as(
        s,
        &caller(&s.client, &ClientAuth::None, dpop_jkt),
        &policy(),
        None,
        token,
        now,
    )
}

/// Refresh as the public web client with key A.
fn run(s: &Setup, token: &str, now: i64) -> Result<TokenBundle, OAuthError> {
    run_with_key(s, &jkt_a(), token, now)
}

/// Refresh and return the new refresh token.
fn rotate(s: &Setup, token: &str, now: i64) -> String {
    run(s, token, now).unwrap().response.refresh_token.unwrap()
}

fn code_of(r: Result<TokenBundle, OAuthError>) -> ErrorCode {
    r.expect_err("the refresh should be refused").error
}

fn session_exists(s: &Setup) -> bool {
    s.store.session_by_id(&s.session_id).unwrap().is_some()
}

fn grace() -> i64 {
    policy().refresh_grace_secs
}

#[test]
fn accepts_refresh_and_rotates_the_token() {
    let s = setup();
    let b = run(&s, &s.token, NOW + 60).unwrap();
    let next = b.response.refresh_token.clone().unwrap();
    assert_ne!(next, s.token);
    assert_eq!(b.session_id, s.session_id);
    assert_eq!(b.response.token_type, "DPoP");
    assert_eq!(b.response.sub, SUB);
    assert!(matches!(
        s.store
            .find_refresh(&crate::ids::secret_hash(&s.token))
            .unwrap(),
        RefreshLookup::Previous(_)
    ));
    assert!(matches!(
        s.store
            .find_refresh(&crate::ids::secret_hash(&next))
            .unwrap(),
        RefreshLookup::Current(_)
    ));
    let (_, claims) =
        jwt::verify::<AccessTokenClaims>(&s.keys, &b.response.access_token, ACCESS_TOKEN_TYP)
            .unwrap();
    assert_eq!(
        (claims.cnf.jkt, claims.sid, claims.iat),
        (jkt_a(), s.session_id.clone(), NOW + 60)
    );
    assert!(run(&s, &next, NOW + 120).is_ok(), "the new token works");
}

#[test]
fn rejects_reuse_outside_the_grace_and_revokes_the_session() {
    let s = setup();
    let next = rotate(&s, &s.token, NOW + 60);
    assert_eq!(
        code_of(run(&s, &s.token, NOW + 60 + grace() + 1)),
        ErrorCode::InvalidGrant
    );
    assert!(!session_exists(&s), "reuse must end the session");
    assert_eq!(
        code_of(run(&s, &next, NOW + 60 + grace() + 2)),
        ErrorCode::InvalidGrant
    );
}

#[test]
fn accepts_one_retry_inside_the_grace_with_the_same_key() {
    let s = setup();
    let lost = rotate(&s, &s.token, NOW + 60);
    let retry = run(&s, &s.token, NOW + 61)
        .unwrap()
        .response
        .refresh_token
        .unwrap();
    assert_ne!(retry, lost);
    assert!(session_exists(&s));
}

#[test]
fn rejects_token_of_the_lost_response_after_a_retry_and_keeps_the_retry_chain() {
    let s = setup();
    let lost = rotate(&s, &s.token, NOW + 60);
    let retry = rotate(&s, &s.token, NOW + 61);
    assert_eq!(code_of(run(&s, &lost, NOW + 62)), ErrorCode::InvalidGrant);
    assert!(
        run(&s, &retry, NOW + 63).is_ok(),
        "the retry's token is the one live chain"
    );
}

#[test]
fn rejects_second_retry_inside_the_grace() {
    let s = setup();
    let _lost = rotate(&s, &s.token, NOW + 60);
    let retry = rotate(&s, &s.token, NOW + 61);
    assert_eq!(
        code_of(run(&s, &s.token, NOW + 62)),
        ErrorCode::InvalidGrant
    );
    assert!(
        run(&s, &retry, NOW + 63).is_ok(),
        "the retry's token still works"
    );
}

#[test]
fn rejects_retry_inside_the_grace_with_another_dpop_key_and_revokes() {
    let s = setup();
    let next = rotate(&s, &s.token, NOW + 60);
    assert_eq!(
        code_of(run_with_key(&s, &jkt_b(), &s.token, NOW + 61)),
        ErrorCode::InvalidGrant
    );
    assert!(!session_exists(&s));
    assert_eq!(code_of(run(&s, &next, NOW + 62)), ErrorCode::InvalidGrant);
}

#[test]
fn rejects_any_reuse_when_the_grace_is_zero() {
    let s = setup();
    let strict = TokenPolicy {
        refresh_grace_secs: 0,
        ..policy()
    };
    let a = jkt_a();
    let c = caller(&s.client, &ClientAuth::None, &a);
    let _next = run_as(&s, &c, &strict, None, &s.token, NOW + 60).unwrap();
    assert_eq!(
        code_of(run_as(&s, &c, &strict, None, &s.token, NOW + 60)),
        ErrorCode::InvalidGrant
    );
    assert!(!session_exists(&s));
}

#[test]
fn rejects_refresh_by_another_client_and_leaves_the_token_usable() {
    let s = setup();
    let other = other_client();
    let r = run_as(
        &s,
        &caller(&other, &ClientAuth::None, &jkt_a()),
        &policy(),
        None,
        &s.token,
        NOW + 60,
    );
    assert_eq!(code_of(r), ErrorCode::InvalidGrant);
    assert!(
        run(&s, &s.token, NOW + 61).is_ok(),
        "a refused attempt must not consume the token"
    );
}

#[test]
fn rejects_another_dpop_key_on_the_current_token_and_leaves_it_usable() {
    let s = setup();
    assert_eq!(
        code_of(run_with_key(&s, &jkt_b(), &s.token, NOW + 60)),
        ErrorCode::InvalidGrant
    );
    assert!(run(&s, &s.token, NOW + 61).is_ok());
}

#[test]
fn rejects_missing_refresh_token() {
    let s = setup();
    let r = refresh(
        &s.store,
        &s.keys,
        &policy(),
        &caller(&s.client, &ClientAuth::None, &jkt_a()),
        None,
        None,
        AUDIENCE,
        NOW,
    );
    assert_eq!(code_of(r), ErrorCode::InvalidRequest);
}

#[test]
fn rejects_unknown_refresh_token() {
    let s = setup();
    assert_eq!(
        code_of(run(
            &s,
            crate::ids::RefreshToken::generate().as_str(),
            NOW + 60
        )),
        ErrorCode::InvalidGrant
    );
    assert!(session_exists(&s));
}

#[test]
fn rejects_code_presented_as_refresh_token() {
    let s = setup();
    assert_eq!(
        code_of(run(&s, Code::generate().as_str(), NOW + 60)),
        ErrorCode::InvalidGrant
    );
}

#[test]
fn public_session_ends_at_14_days_however_often_it_is_refreshed() {
    let s = setup();
    let end = NOW + consts::PUBLIC_SESSION_LIFETIME_SECS;
    let mut token = s.token.clone();
    let mut now = NOW;
    while now + 13 * 3600 < end {
        now += 13 * 3600;
        let b = run(&s, &token, now).unwrap();
        let session = s.store.session_by_id(&s.session_id).unwrap().unwrap();
        assert_eq!(
            session.expires_at, end,
            "refreshing never extends the session"
        );
        assert!(session.refresh_expires_at.unwrap() <= end);
        assert!(now + b.response.expires_in <= end);
        token = b.response.refresh_token.unwrap();
    }
    let last = run(&s, &token, end - 1).unwrap();
    assert_eq!(
        last.response.expires_in, 1,
        "the access token ends with the session"
    );
    assert_eq!(
        code_of(run(&s, &last.response.refresh_token.unwrap(), end)),
        ErrorCode::InvalidGrant
    );
    assert!(!session_exists(&s), "an ended session is deleted");
}

#[test]
fn caps_refresh_token_expiry_at_session_expiry() {
    let s = setup();
    let short = TokenPolicy {
        public_refresh_secs: 10 * DAY,
        ..policy()
    };
    let a = jkt_a();
    let c = caller(&s.client, &ClientAuth::None, &a);
    let _next = run_as(&s, &c, &short, None, &s.token, NOW + 9 * DAY).unwrap();
    let session = s.store.session_by_id(&s.session_id).unwrap().unwrap();
    assert_eq!(session.refresh_expires_at, Some(session.expires_at));
    assert_eq!(
        session.expires_at,
        NOW + consts::PUBLIC_SESSION_LIFETIME_SECS
    );
}

#[test]
fn rejects_refresh_token_past_its_own_expiry_and_ends_the_session() {
    let k1 = client_key("k1");
    let s = confidential_setup(&k1, &[&k1]);
    let a = jkt_a();
    let c = caller(&s.client, &k1.auth, &a);
    let at = NOW + consts::CONFIDENTIAL_REFRESH_LIFETIME_SECS;
    assert_eq!(
        code_of(run_as(&s, &c, &policy(), Some(&jwks(&[&k1])), &s.token, at)),
        ErrorCode::InvalidGrant
    );
    assert!(!session_exists(&s));
}

#[test]
fn accepts_confidential_refresh_while_its_key_is_published() {
    let (k1, k2) = (client_key("k1"), client_key("k2"));
    let s = confidential_setup(&k1, &[&k1, &k2]);
    let a = jkt_a();
    let c = caller(&s.client, &k1.auth, &a);
    assert!(run_as(
        &s,
        &c,
        &policy(),
        Some(&jwks(&[&k2, &k1])),
        &s.token,
        NOW + DAY
    )
    .is_ok());
}

#[test]
fn rejects_confidential_session_whose_key_is_no_longer_published() {
    let (k1, k2) = (client_key("k1"), client_key("k2"));
    let s = confidential_setup(&k1, &[&k1, &k2]);
    let a = jkt_a();
    let c = caller(&s.client, &k1.auth, &a);
    assert_eq!(
        code_of(run_as(
            &s,
            &c,
            &policy(),
            Some(&jwks(&[&k2])),
            &s.token,
            NOW + DAY
        )),
        ErrorCode::InvalidGrant
    );
    assert!(
        !session_exists(&s),
        "the session bound to the vanished key is revoked"
    );
}

#[test]
fn rejects_client_key_still_published_for_vanished_key() {
    let (k1, k2) = (client_key("k1"), client_key("k2"));
    let s = confidential_setup(&k1, &[&k1, &k2]);
    let session = s.store.session_by_id(&s.session_id).unwrap().unwrap();
    let e = client_key_still_published(&session, Some(&jwks(&[&k2]))).unwrap_err();
    assert_eq!(e.error, ErrorCode::InvalidGrant);
    assert!(client_key_still_published(&session, Some(&jwks(&[&k1]))).is_ok());
}

#[test]
fn rejects_confidential_refresh_authenticated_with_another_client_key() {
    let (k1, k2) = (client_key("k1"), client_key("k2"));
    let s = confidential_setup(&k1, &[&k1, &k2]);
    let a = jkt_a();
    let c = caller(&s.client, &k2.auth, &a);
    assert_eq!(
        code_of(run_as(
            &s,
            &c,
            &policy(),
            Some(&jwks(&[&k1, &k2])),
            &s.token,
            NOW + DAY
        )),
        ErrorCode::InvalidGrant
    );
    assert!(session_exists(&s));
}

#[test]
fn rejects_dpop_key_equal_to_the_client_key() {
    let k1 = client_key("k1");
    let ClientAuth::PrivateKeyJwt { jkt, .. } = &k1.auth else {
        unreachable!()
    };
    assert_eq!(
        dpop_key_differs_from_client_key(&k1.auth, jkt)
            .unwrap_err()
            .error,
        ErrorCode::InvalidClient
    );
}

#[test]
fn accepts_dpop_key_other_than_the_client_key() {
    let k1 = client_key("k1");
    assert!(dpop_key_differs_from_client_key(&k1.auth, &jkt_a()).is_ok());
    assert!(dpop_key_differs_from_client_key(&ClientAuth::None, &jkt_a()).is_ok());
}

/// The realistic order of events: the client rotated its key, removed the
/// old one from its metadata, and now authenticates with the new key. The
/// refresh must end the session bound to the vanished key (atproto profile,
/// "Confidential Client Authentication"), not merely refuse it.
#[test]
fn rejects_refresh_signed_with_new_key_after_old_key_vanished_and_ends_session() {
    let (k1, k2) = (client_key("k1"), client_key("k2"));
    let s = confidential_setup(&k1, &[&k1, &k2]);
    let a = jkt_a();
    let c = caller(&s.client, &k2.auth, &a);
    assert_eq!(
        code_of(run_as(
            &s,
            &c,
            &policy(),
            Some(&jwks(&[&k2])),
            &s.token,
            NOW + DAY
        )),
        ErrorCode::InvalidGrant
    );
    assert!(
        !session_exists(&s),
        "the session bound to the vanished key is revoked"
    );
}
