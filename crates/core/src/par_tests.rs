//! Pushed authorization requests: each parameter rule, one case per test.
//! Refusals assert the exact error code, that no request was stored, and
//! that the refused request did not use up its `code_challenge`.

use super::*;
use crate::error::ErrorCode;
use crate::store::memory::MemoryStore;
use crate::store::{AuthorizationRequest, RequestStore};
use crate::token::test_fixtures::*;

/// The parameters of a valid request of the public web client.
fn base() -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("redirect_uri", WEB_REDIRECT.into()),
        ("scope", "atproto transition:generic".into()),
        ("state", "state-1".into()),
        ("code_challenge", CHALLENGE.into()),
        ("code_challenge_method", "S256".into()),
    ]
}

/// The valid request with `changes` applied: `Some` sets, `None` removes.
fn form(changes: &[(&'static str, Option<&str>)]) -> FormParams {
    let mut params = base();
    for (name, value) in changes {
        params.retain(|(n, _)| n != name);
        if let Some(v) = value {
            params.push((name, (*v).to_string()));
        }
    }
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    FormParams::parse(body.as_bytes()).unwrap()
}

/// Steps 5 to 7 of the endpoint, in its order: validate, refuse a reused
/// challenge, store the request.
fn push(
    store: &MemoryStore,
    p: &FormParams,
    client: &ValidatedClient,
    dpop_jkt: Option<String>,
    now: i64,
) -> Result<AuthorizationParams, OAuthError> {
    let params = validate(p, client, dpop_jkt)?;
    challenge_unused(store, &params.code_challenge, now)?;
    let request = AuthorizationRequest {
        id: crate::ids::RequestId::generate().as_str().to_string(),
        client_id: client.client_id.as_str().to_string(),
        client_auth: crate::client::auth::ClientAuth::None,
        params: params.clone(),
        created_at: now,
        expires_at: now + crate::consts::PAR_LIFETIME_SECS,
        device_id: None,
        sub: None,
        code_hash: None,
        consumed_at: None,
    };
    store
        .create_request(&request)
        .map_err(|e| OAuthError::server_error(e.to_string()))?;
    Ok(params)
}

/// Push `changes` to the valid request as the web client with key A.
fn push_web(
    store: &MemoryStore,
    changes: &[(&'static str, Option<&str>)],
) -> Result<AuthorizationParams, OAuthError> {
    push(store, &form(changes), &web_client(), Some(jkt_a()), NOW)
}

/// The push was refused with `code`, stored nothing, and left the
/// challenge usable.
fn assert_refused(
    store: &MemoryStore,
    r: Result<AuthorizationParams, OAuthError>,
    code: ErrorCode,
) {
    let e = r.expect_err("the request should be refused");
    assert_eq!(e.error, code, "{e:?}");
    assert_eq!(
        store.request_count().unwrap(),
        0,
        "a refused request must not be stored"
    );
    assert!(
        challenge_unused(store, CHALLENGE, NOW).is_ok(),
        "a refused request must not use up its code_challenge"
    );
}

fn refused(changes: &[(&'static str, Option<&str>)], code: ErrorCode) {
    let store = MemoryStore::new();
    let r = push_web(&store, changes);
    assert_refused(&store, r, code);
}

#[test]
fn accepts_valid_request_with_normalised_fields() {
    let store = MemoryStore::new();
    let p = push_web(
        &store,
        &[
            ("scope", Some("atproto transition:generic atproto")),
            ("login_hint", Some("@Alice.Test")),
            ("prompt", Some("login")),
            ("ui_locales", Some("en fr-CA")),
        ],
    )
    .unwrap();
    assert_eq!(
        p,
        AuthorizationParams {
            redirect_uri: WEB_REDIRECT.into(),
            scope: "atproto transition:generic".into(),
            state: "state-1".into(),
            code_challenge: CHALLENGE.into(),
            response_mode: "query".into(),
            login_hint: Some("alice.test".into()),
            prompt: Some("login".into()),
            ui_locales: Some("en fr-CA".into()),
            dpop_jkt: jkt_a(),
        }
    );
    assert_eq!(store.request_count().unwrap(), 1);
}

#[test]
fn accepts_did_login_hint_and_fragment_response_mode() {
    let store = MemoryStore::new();
    let p = push_web(
        &store,
        &[
            ("login_hint", Some(SUB)),
            ("response_mode", Some("fragment")),
        ],
    )
    .unwrap();
    assert_eq!(
        (p.login_hint.as_deref(), p.response_mode.as_str()),
        (Some(SUB), "fragment")
    );
}

#[test]
fn accepts_loopback_redirect_uri_on_any_port_and_keeps_it_as_sent() {
    let store = MemoryStore::new();
    let f = form(&[
        ("redirect_uri", Some("http://127.0.0.1:53211/cb")),
        ("scope", Some("atproto")),
    ]);
    let p = push(&store, &f, &loopback_client(), Some(jkt_a()), NOW).unwrap();
    assert_eq!(p.redirect_uri, "http://127.0.0.1:53211/cb");
}

#[test]
fn rejects_missing_response_type() {
    refused(&[("response_type", None)], ErrorCode::InvalidRequest);
}

#[test]
fn rejects_response_type_other_than_code() {
    refused(
        &[("response_type", Some("token"))],
        ErrorCode::UnsupportedResponseType,
    );
}

#[test]
fn rejects_missing_redirect_uri() {
    refused(&[("redirect_uri", None)], ErrorCode::InvalidRequest);
}

#[test]
fn rejects_redirect_uri_not_registered() {
    refused(
        &[(
            "redirect_uri",
            Some("https://app.example.com/callback/other"),
        )],
        ErrorCode::InvalidRequest,
    );
}

#[test]
fn rejects_missing_scope() {
    refused(&[("scope", None)], ErrorCode::InvalidRequest);
}

#[test]
fn rejects_missing_state() {
    refused(&[("state", None)], ErrorCode::InvalidRequest);
}

#[test]
fn rejects_missing_code_challenge() {
    refused(&[("code_challenge", None)], ErrorCode::InvalidRequest);
}

#[test]
fn rejects_missing_code_challenge_method() {
    refused(
        &[("code_challenge_method", None)],
        ErrorCode::InvalidRequest,
    );
}

#[test]
fn rejects_plain_code_challenge_method() {
    refused(
        &[("code_challenge_method", Some("plain"))],
        ErrorCode::InvalidRequest,
    );
}

#[test]
fn rejects_code_challenge_of_42_chars() {
    refused(
        &[("code_challenge", Some(&CHALLENGE[..42]))],
        ErrorCode::InvalidRequest,
    );
}

#[test]
fn rejects_code_challenge_of_44_chars() {
    refused(
        &[("code_challenge", Some(&format!("{CHALLENGE}A")))],
        ErrorCode::InvalidRequest,
    );
}

#[test]
fn rejects_request_uri_in_a_pushed_request() {
    refused(
        &[(
            "request_uri",
            Some("urn:ietf:params:oauth:request_uri:req-x"),
        )],
        ErrorCode::InvalidRequest,
    );
}

#[test]
fn rejects_request_object() {
    refused(
        &[("request", Some("eyJhbGciOiJub25lIn0.e30."))],
        ErrorCode::InvalidRequest,
    );
}

#[test]
fn rejects_scope_without_atproto() {
    refused(
        &[("scope", Some("transition:generic"))],
        ErrorCode::InvalidScope,
    );
}

#[test]
fn rejects_scope_beyond_the_clients() {
    refused(
        &[("scope", Some("atproto transition:email"))],
        ErrorCode::InvalidScope,
    );
}

#[test]
fn rejects_openid_scope() {
    refused(
        &[("scope", Some("atproto openid"))],
        ErrorCode::InvalidScope,
    );
}

#[test]
fn rejects_login_hint_that_is_neither_handle_nor_did() {
    refused(
        &[("login_hint", Some("not a handle!"))],
        ErrorCode::InvalidRequest,
    );
}

#[test]
fn rejects_unknown_prompt() {
    refused(&[("prompt", Some("create"))], ErrorCode::InvalidRequest);
}

#[test]
fn rejects_unknown_response_mode() {
    refused(
        &[("response_mode", Some("web_message"))],
        ErrorCode::InvalidRequest,
    );
}

#[test]
fn rejects_request_without_dpop_key() {
    let store = MemoryStore::new();
    let r = push(&store, &form(&[]), &web_client(), None, NOW);
    assert_refused(&store, r, ErrorCode::InvalidDpopProof);
}

#[test]
fn rejects_code_challenge_reused_within_24_hours() {
    let store = MemoryStore::new();
    push_web(&store, &[]).unwrap();
    let later = NOW + CODE_CHALLENGE_MEMORY_SECS - 1;
    let e = push(
        &store,
        &form(&[("state", Some("state-2"))]),
        &web_client(),
        Some(jkt_a()),
        later,
    )
    .unwrap_err();
    assert_eq!(e.error, ErrorCode::InvalidRequest);
    assert_eq!(
        store.request_count().unwrap(),
        1,
        "the second request must not be stored"
    );
}

#[test]
fn accepts_code_challenge_again_after_24_hours() {
    let store = MemoryStore::new();
    push_web(&store, &[]).unwrap();
    let later = NOW + CODE_CHALLENGE_MEMORY_SECS;
    assert!(push(&store, &form(&[]), &web_client(), Some(jkt_a()), later).is_ok());
    assert_eq!(store.request_count().unwrap(), 2);
}
