//! Revocation (RFC 7009): any token of a session ends the whole session,
//! and only for the client it was issued to.

use super::*;
use crate::client::auth::ClientAuth;
use crate::error::ErrorCode;
use crate::token::refresh_grant::refresh;
use crate::token::test_fixtures::*;

#[test]
fn revokes_the_session_by_refresh_token() {
    let (store, keys, b) = started_session(NOW);
    let r = revoke(
        &store,
        &keys,
        WEB_CLIENT_ID,
        b.response.refresh_token.as_deref(),
    )
    .unwrap();
    assert_eq!(r, Revocation::Session(b.session_id.clone()));
    assert!(store.session_by_id(&b.session_id).unwrap().is_none());
}

#[test]
fn revokes_the_session_by_access_token() {
    let (store, keys, b) = started_session(NOW);
    let r = revoke(&store, &keys, WEB_CLIENT_ID, Some(&b.response.access_token)).unwrap();
    assert_eq!(r, Revocation::Session(b.session_id.clone()));
    assert!(store.session_by_id(&b.session_id).unwrap().is_none());
    let token = b.response.refresh_token.unwrap();
    let a = jkt_a();
    let again = refresh(
        &store,
        &keys,
        &policy(),
        &caller(&web_client(), &ClientAuth::None, &a),
        Some(&token),
        None,
        AUDIENCE,
        NOW + 1,
    );
    assert_eq!(
        again.unwrap_err().error,
        ErrorCode::InvalidGrant,
        "the refresh token died with the session"
    );
}

#[test]
fn revokes_the_session_by_its_previous_refresh_token() {
    let (store, keys, b) = started_session(NOW);
    let old = b.response.refresh_token.unwrap();
    let a = jkt_a();
    let client = web_client();
    refresh(
        &store,
        &keys,
        &policy(),
        &caller(&client, &ClientAuth::None, &a),
        Some(&old),
        None,
        AUDIENCE,
        NOW + 1,
    )
    .unwrap();
    assert_eq!(
        revoke(&store, &keys, WEB_CLIENT_ID, Some(&old)).unwrap(),
        Revocation::Session(b.session_id.clone())
    );
    assert!(store.session_by_id(&b.session_id).unwrap().is_none());
}

#[test]
fn accepts_unknown_refresh_token_and_revokes_nothing() {
    let (store, keys, b) = started_session(NOW);
    let unknown = RefreshToken::generate();
    assert_eq!(
        revoke(&store, &keys, WEB_CLIENT_ID, Some(unknown.as_str())).unwrap(),
        Revocation::Nothing
    );
    assert!(store.session_by_id(&b.session_id).unwrap().is_some());
}

#[test]
fn accepts_garbage_token_and_revokes_nothing() {
    let (store, keys, b) = started_session(NOW);
    assert_eq!(
        revoke(&store, &keys, WEB_CLIENT_ID, Some("not a token")).unwrap(),
        Revocation::Nothing
    );
    assert!(store.session_by_id(&b.session_id).unwrap().is_some());
}

#[test]
fn accepts_access_token_signed_by_another_server_and_revokes_nothing() {
    let (store, _, b) = started_session(NOW);
    let other_keys = keyset();
    assert_eq!(
        revoke(
            &store,
            &other_keys,
            WEB_CLIENT_ID,
            Some(&b.response.access_token)
        )
        .unwrap(),
        Revocation::Nothing
    );
    assert!(store.session_by_id(&b.session_id).unwrap().is_some());
}

#[test]
fn accepts_refresh_token_of_another_client_and_keeps_the_session() {
    let (store, keys, b) = started_session(NOW);
    let r = revoke(
        &store,
        &keys,
        OTHER_CLIENT_ID,
        b.response.refresh_token.as_deref(),
    )
    .unwrap();
    assert_eq!(r, Revocation::Nothing);
    assert!(store.session_by_id(&b.session_id).unwrap().is_some());
}

#[test]
fn accepts_access_token_of_another_client_and_keeps_the_session() {
    let (store, keys, b) = started_session(NOW);
    let r = revoke(
        &store,
        &keys,
        OTHER_CLIENT_ID,
        Some(&b.response.access_token),
    )
    .unwrap();
    assert_eq!(r, Revocation::Nothing);
    assert!(store.session_by_id(&b.session_id).unwrap().is_some());
}

#[test]
fn rejects_missing_token() {
    let (store, keys, b) = started_session(NOW);
    assert_eq!(
        revoke(&store, &keys, WEB_CLIENT_ID, None)
            .unwrap_err()
            .error,
        ErrorCode::InvalidRequest
    );
    assert!(store.session_by_id(&b.session_id).unwrap().is_some());
}
