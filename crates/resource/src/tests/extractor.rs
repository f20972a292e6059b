//! The actix extractor: it builds the request URL from the configured
//! origin (never the Host header), renders refusals with their headers and
//! JSON body, and hands the handler a nonce for the success response.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{test, web, App, HttpResponse};
use serde_json::Value;

use super::*;
use crate::{AuthError, AuthenticatedCaller, Permission, VerifierProvider};

/// A verifier over the harness's keys, nonces and stores, stateful.
fn verifier(h: &Harness) -> Verifier {
    Verifier::new(
        ISSUER,
        AUDIENCE,
        h.issuer_keys.clone(),
        h.nonces.clone(),
        h.replay.clone(),
    )
    .with_clock(Arc::new(|| NOW))
    .with_session_check(h.sessions.clone())
}

async fn whoami(auth: AuthenticatedCaller) -> Result<HttpResponse, AuthError> {
    auth.require(&Permission::Atproto)?;
    Ok(HttpResponse::Ok()
        .insert_header(auth.nonce_header())
        .json(serde_json::json!({ "did": auth.caller.did })))
}

async fn email(auth: AuthenticatedCaller) -> Result<HttpResponse, AuthError> {
    auth.require(&Permission::ReadEmail)?;
    Ok(HttpResponse::Ok()
        .insert_header(auth.nonce_header())
        .finish())
}

macro_rules! app {
    ($h:expr) => {
        test::init_service(
            App::new()
                .app_data(web::Data::new(verifier($h)))
                .route(PATH, web::get().to(whoami))
                .route("/xrpc/email", web::get().to(email)),
        )
        .await
    };
}

fn header_of(resp: &actix_web::dev::ServiceResponse, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

#[actix_web::test]
async fn accepts_valid_call_and_sends_a_nonce() {
    let h = Harness::new();
    let app = app!(&h);
    let token = h.token(|_| {});
    let proof = h.proof(&token, |_| {});
    let req = test::TestRequest::get()
        .uri(PATH)
        .insert_header(("Authorization", format!("DPoP {token}")))
        .insert_header(("DPoP", proof))
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header_of(&resp, "DPoP-Nonce"), Some(h.nonces.issue(NOW)));
    let body: Value = test::read_body_json(resp).await;
    assert_eq!(body["did"], DID);
}

#[actix_web::test]
async fn builds_htu_from_the_configured_origin_not_the_host_header() {
    let h = Harness::new();
    let app = app!(&h);
    let token = h.token(|_| {});
    // A proof minted for the forged host is refused…
    let forged = h.proof(&token, |c| {
        c["htu"] = serde_json::json!(format!("http://evil.example{PATH}"))
    });
    let req = test::TestRequest::get()
        .uri(PATH)
        .insert_header(("Host", "evil.example"))
        .insert_header(("Authorization", format!("DPoP {token}")))
        .insert_header(("DPoP", forged))
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // …and one for the configured origin passes whatever the Host says.
    let proof = h.proof(&token, |_| {});
    let req = test::TestRequest::get()
        .uri(PATH)
        .insert_header(("Host", "evil.example"))
        .insert_header(("Authorization", format!("DPoP {token}")))
        .insert_header(("DPoP", proof))
        .to_request();
    assert_eq!(test::call_service(&app, req).await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn rejects_missing_authorization_with_challenge_nonce_and_body() {
    let h = Harness::new();
    let app = app!(&h);
    let resp = test::call_service(&app, test::TestRequest::get().uri(PATH).to_request()).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header_of(&resp, "WWW-Authenticate").as_deref(),
        Some("DPoP algs=\"ES256\"")
    );
    assert_eq!(header_of(&resp, "DPoP-Nonce"), Some(h.nonces.issue(NOW)));
    assert_eq!(
        header_of(&resp, "Cache-Control").as_deref(),
        Some("no-store")
    );
    let body: Value = test::read_body_json(resp).await;
    assert_eq!(body["error"], "invalid_request");
}

#[actix_web::test]
async fn rejects_stale_nonce_with_401_use_dpop_nonce_in_header_and_body() {
    let h = Harness::new();
    let app = app!(&h);
    let token = h.token(|_| {});
    let proof = h.proof(&token, |c| c["nonce"] = serde_json::json!("stale"));
    let req = test::TestRequest::get()
        .uri(PATH)
        .insert_header(("Authorization", format!("DPoP {token}")))
        .insert_header(("DPoP", proof))
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = header_of(&resp, "WWW-Authenticate").unwrap();
    assert_challenge(&challenge, "use_dpop_nonce");
    assert_eq!(header_of(&resp, "DPoP-Nonce"), Some(h.nonces.issue(NOW)));
    let body: Value = test::read_body_json(resp).await;
    assert_eq!(body["error"], "use_dpop_nonce");
}

#[actix_web::test]
async fn rejects_two_authorization_headers() {
    let h = Harness::new();
    let app = app!(&h);
    let token = h.token(|_| {});
    let req = test::TestRequest::get()
        .uri(PATH)
        .append_header(("Authorization", format!("DPoP {token}")))
        .append_header(("Authorization", format!("DPoP {token}")))
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_challenge(
        &header_of(&resp, "WWW-Authenticate").unwrap(),
        "invalid_request",
    );
    assert!(header_of(&resp, "DPoP-Nonce").is_some());
}

#[actix_web::test]
async fn rejects_insufficient_scope_with_403_challenge_and_nonce() {
    let h = Harness::new();
    let app = app!(&h);
    let token = h.token(|_| {});
    let proof = h.proof(&token, |c| {
        c["htu"] = serde_json::json!("https://pds.example/xrpc/email")
    });
    let req = test::TestRequest::get()
        .uri("/xrpc/email")
        .insert_header(("Authorization", format!("DPoP {token}")))
        .insert_header(("DPoP", proof))
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_challenge(
        &header_of(&resp, "WWW-Authenticate").unwrap(),
        "insufficient_scope",
    );
    assert_eq!(header_of(&resp, "DPoP-Nonce"), Some(h.nonces.issue(NOW)));
    let body: Value = test::read_body_json(resp).await;
    assert_eq!(body["error"], "insufficient_scope");
}

/// An application state that holds the verifier, as atauth's does.
struct State {
    verifier: Verifier,
}

impl VerifierProvider for State {
    fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}

async fn via_state(auth: AuthenticatedCaller<State>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(auth.nonce_header())
        .body(auth.caller.session_id)
}

#[actix_web::test]
async fn finds_the_verifier_through_a_provider() {
    let h = Harness::new();
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(State {
                verifier: verifier(&h),
            }))
            .route(PATH, web::get().to(via_state)),
    )
    .await;
    let token = h.token(|_| {});
    let proof = h.proof(&token, |_| {});
    let req = test::TestRequest::get()
        .uri(PATH)
        .insert_header(("Authorization", format!("DPoP {token}")))
        .insert_header(("DPoP", proof))
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(test::read_body(resp).await, SID.as_bytes());
}

#[actix_web::test]
async fn missing_verifier_is_a_server_error() {
    let app = test::init_service(App::new().route(PATH, web::get().to(whoami))).await;
    let resp = test::call_service(&app, test::TestRequest::get().uri(PATH).to_request()).await;
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
}
