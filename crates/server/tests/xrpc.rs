//! XRPC endpoints of atauth, in process over a SQLite store in a temporary
//! directory: a real access token (signed with the state's keyset, its
//! OAuth session stored), DPoP proofs from a client key, and the exact
//! status, body and headers of each answer (SPEC §7, §8).

use std::sync::Arc;

use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{test, web, App};
use atauth_core::client::auth::{AssertionPolicy, ClientAuth};
use atauth_core::crypto::Es256SigningKey;
use atauth_core::identity::{Did, Handle};
use atauth_core::jwk::{ec_public_jwk, ec_thumbprint};
use atauth_core::keys::{generate_stored_key, Keyset};
use atauth_core::metadata::Issuer;
use atauth_core::store::{Account, AccountStore, OAuthSession, SessionStore};
use atauth_core::token::access::Confirmation;
use atauth_core::token::{AccessTokenClaims, TokenPolicy};
use atauth_server::clients::ClientResolverConfig;
use atauth_server::fetch::FetchPolicy;
use atauth_server::identity::IdentityConfig;
use atauth_server::{cors, routes, AppState, ServerSettings};
use atauth_store::Store;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const ISSUER: &str = "https://auth.example";
const GET_SESSION: &str = "/xrpc/com.atproto.server.getSession";
const DID: &str = "did:plc:abcdefghijklmnopqrstuvwx";
const HANDLE: &str = "alice.example.com";
const EMAIL: &str = "alice@example.com";
const CLIENT_ID: &str = "https://app.example/client-metadata.json";

/// A state over a fresh database, one account, and a client DPoP key.
struct Fixture {
    _dir: tempfile::TempDir,
    state: Arc<AppState>,
    client: Es256SigningKey,
}

fn settings() -> ServerSettings {
    let issuer = Issuer::parse(ISSUER, false).unwrap();
    ServerSettings {
        resource: issuer.to_string(),
        token: TokenPolicy::defaults(issuer.as_str()),
        issuer,
        dev: false,
        introspection: false,
        ui_locales: vec!["en".into()],
        key_reload_interval_secs: 60,
        fetch: FetchPolicy::default(),
        clients: ClientResolverConfig::default(),
        identity: IdentityConfig::default(),
        assertion: AssertionPolicy::default(),
        nonce_secret: Some([7u8; 32]),
    }
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("atauth.sqlite3").to_str().unwrap()).unwrap();
        store.migrate().unwrap();
        let keyset = Keyset::from_stored(&[generate_stored_key(1).unwrap()]).unwrap();
        let state = AppState::new(settings(), store, keyset).unwrap();
        state
            .store
            .create_account(&Account {
                did: Did::parse(DID).unwrap(),
                handle: Handle::parse(HANDLE).unwrap(),
                email: Some(EMAIL.into()),
                password_hash: "not-used".into(),
                created_at: 1,
                disabled_at: None,
            })
            .unwrap();
        let client =
            Es256SigningKey::from_pkcs8(&Es256SigningKey::generate_pkcs8().unwrap()).unwrap();
        Fixture {
            _dir: dir,
            state,
            client,
        }
    }

    fn jkt(&self) -> String {
        let k = self.client.public_key();
        ec_thumbprint(k.x(), k.y())
    }

    /// Store a session with `scope` and sign an access token for it, as
    /// the token endpoint would.
    fn issue(&self, sid: &str, scope: &str) -> String {
        let now = self.state.now();
        self.state
            .store
            .create_session(&OAuthSession {
                id: sid.into(),
                did: Did::parse(DID).unwrap(),
                client_id: CLIENT_ID.into(),
                client_auth: ClientAuth::None,
                scope: scope.into(),
                dpop_jkt: self.jkt(),
                request_id: format!("req-{sid}"),
                created_at: now,
                expires_at: now + 3600,
                refresh_hash: None,
                refresh_expires_at: None,
                previous_refresh_hash: None,
                rotated_at: None,
                last_used_at: now,
            })
            .unwrap();
        let claims = AccessTokenClaims {
            iss: ISSUER.into(),
            sub: DID.into(),
            aud: self.state.settings.resource.clone(),
            iat: now,
            exp: now + 900,
            jti: format!("tok-{sid}"),
            cnf: Confirmation { jkt: self.jkt() },
            client_id: CLIENT_ID.into(),
            scope: scope.into(),
            sid: sid.into(),
        };
        atauth_core::jwt::sign(&self.state.keyset(), "at+jwt", &claims).unwrap()
    }

    /// A DPoP proof for `GET path` bound to `token`, with `nonce` if any.
    fn proof(&self, path: &str, token: &str, nonce: Option<&str>) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": ec_public_jwk(self.client.public_key(), None)});
        let mut claims = json!({
            "jti": format!("jti-{:016x}", rand::random::<u64>()),
            "htm": "GET",
            "htu": format!("{ISSUER}{path}"),
            "iat": self.state.now(),
            "ath": B64.encode(Sha256::digest(token.as_bytes())),
        });
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        let input = format!(
            "{}.{}",
            B64.encode(serde_json::to_vec(&header).unwrap()),
            B64.encode(serde_json::to_vec(&claims).unwrap())
        );
        let sig = self.client.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", B64.encode(sig))
    }

    /// The current nonce, as the server hands it out.
    fn nonce(&self) -> String {
        self.state.nonces.issue(self.state.now())
    }
}

/// The application as `build_server` assembles it.
macro_rules! app {
    ($f:expr) => {
        app!($f, false)
    };
    ($f:expr, $dev:expr) => {
        test::init_service(
            App::new()
                .app_data(web::Data::from($f.state.clone()))
                .wrap(from_fn(cors::cors))
                .configure(|cfg| routes::configure(cfg, $dev))
                .default_service(web::to(routes::not_found)),
        )
        .await
    };
}

fn header<B>(resp: &ServiceResponse<B>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `GET getSession` with these credentials.
fn get_session(token: &str, proof: &str) -> test::TestRequest {
    test::TestRequest::get()
        .uri(GET_SESSION)
        .insert_header(("Authorization", format!("DPoP {token}")))
        .insert_header(("DPoP", proof.to_string()))
}

#[actix_web::test]
async fn get_session_asks_for_a_nonce_then_answers_with_the_retry() {
    let f = Fixture::new();
    let app = app!(&f);
    let token = f.issue("ses-a", "atproto");

    let resp = test::call_service(
        &app,
        get_session(&token, &f.proof(GET_SESSION, &token, None)).to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = header(&resp, "WWW-Authenticate").unwrap();
    assert!(
        challenge.starts_with("DPoP error=\"use_dpop_nonce\""),
        "{challenge}"
    );
    assert!(challenge.ends_with("algs=\"ES256\""), "{challenge}");
    let nonce = header(&resp, "DPoP-Nonce").expect("DPoP-Nonce on use_dpop_nonce");
    assert_eq!(
        header(&resp, "Access-Control-Allow-Origin").as_deref(),
        Some("*")
    );
    let body: Value = test::read_body_json(resp).await;
    assert_eq!(body["error"], "use_dpop_nonce");

    let resp = test::call_service(
        &app,
        get_session(&token, &f.proof(GET_SESSION, &token, Some(&nonce))).to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        header(&resp, "DPoP-Nonce").is_some(),
        "a success carries the nonce too"
    );
    assert_eq!(
        header(&resp, "Access-Control-Allow-Origin").as_deref(),
        Some("*")
    );
    let body: Value = test::read_body_json(resp).await;
    assert_eq!(body, json!({"did": DID, "handle": HANDLE, "active": true}));
}

#[actix_web::test]
async fn get_session_shows_email_only_with_transition_email() {
    let f = Fixture::new();
    let app = app!(&f);
    let token = f.issue("ses-email", "atproto transition:email");
    let resp = test::call_service(
        &app,
        get_session(&token, &f.proof(GET_SESSION, &token, Some(&f.nonce()))).to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = test::read_body_json(resp).await;
    assert_eq!(
        body,
        json!({"did": DID, "handle": HANDLE, "email": EMAIL, "active": true})
    );
}

#[actix_web::test]
async fn get_session_hides_email_without_an_email_scope() {
    let f = Fixture::new();
    let app = app!(&f);
    let token = f.issue("ses-generic", "atproto transition:generic");
    let resp = test::call_service(
        &app,
        get_session(&token, &f.proof(GET_SESSION, &token, Some(&f.nonce()))).to_request(),
    )
    .await;
    let body: Value = test::read_body_json(resp).await;
    assert!(body.get("email").is_none(), "{body}");
}

#[actix_web::test]
async fn get_session_rejects_token_of_a_revoked_session() {
    let f = Fixture::new();
    let app = app!(&f);
    let token = f.issue("ses-revoked", "atproto");
    assert_eq!(f.state.store.delete_session("ses-revoked").unwrap(), 1);
    let resp = test::call_service(
        &app,
        get_session(&token, &f.proof(GET_SESSION, &token, Some(&f.nonce()))).to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = header(&resp, "WWW-Authenticate").unwrap();
    assert!(
        challenge.starts_with("DPoP error=\"invalid_token\", error_description=\""),
        "{challenge}"
    );
    assert!(challenge.ends_with(", algs=\"ES256\""), "{challenge}");
    assert!(header(&resp, "DPoP-Nonce").is_some());
    let body: Value = test::read_body_json(resp).await;
    assert_eq!(body["error"], "invalid_token");
}

#[actix_web::test]
async fn get_session_rejects_token_sent_as_bearer() {
    let f = Fixture::new();
    let app = app!(&f);
    let token = f.issue("ses-bearer", "atproto");
    let req = test::TestRequest::get()
        .uri(GET_SESSION)
        .insert_header(("Authorization", format!("Bearer {token}")))
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = header(&resp, "WWW-Authenticate").unwrap();
    assert!(
        challenge.starts_with("DPoP error=\"invalid_token\""),
        "{challenge}"
    );
}

#[actix_web::test]
async fn get_session_without_authorization_is_401_with_bare_challenge() {
    let f = Fixture::new();
    let app = app!(&f);
    let resp =
        test::call_service(&app, test::TestRequest::get().uri(GET_SESSION).to_request()).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&resp, "WWW-Authenticate").as_deref(),
        Some("DPoP algs=\"ES256\"")
    );
    assert!(header(&resp, "DPoP-Nonce").is_some());
    assert_eq!(
        header(&resp, "Access-Control-Allow-Origin").as_deref(),
        Some("*")
    );
}

#[actix_web::test]
async fn get_session_refuses_other_methods_with_405_and_allow() {
    let f = Fixture::new();
    let app = app!(&f);
    let resp = test::call_service(
        &app,
        test::TestRequest::post().uri(GET_SESSION).to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&resp, "Allow").as_deref(), Some("GET"));
    let body: Value = test::read_body_json(resp).await;
    assert_eq!(body["error"], "InvalidRequest");
}

#[actix_web::test]
async fn cors_preflight_on_get_session_names_authorization_and_exposes_nonce() {
    let f = Fixture::new();
    let app = app!(&f);
    let req = test::TestRequest::default()
        .method(actix_web::http::Method::OPTIONS)
        .uri(GET_SESSION)
        .insert_header(("Origin", "https://app.example"))
        .insert_header(("Access-Control-Request-Method", "GET"))
        .insert_header(("Access-Control-Request-Headers", "authorization, dpop"))
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert!(resp.status().is_success(), "{}", resp.status());
    assert_eq!(
        header(&resp, "Access-Control-Allow-Origin").as_deref(),
        Some("*")
    );
    let allow = header(&resp, "Access-Control-Allow-Headers").unwrap();
    assert!(
        allow.contains("Authorization") && allow.contains("DPoP"),
        "{allow}"
    );
    let expose = header(&resp, "Access-Control-Expose-Headers").unwrap();
    assert!(
        expose.contains("DPoP-Nonce") && expose.contains("WWW-Authenticate"),
        "{expose}"
    );
}

#[actix_web::test]
async fn describe_server_names_the_server_did_and_no_domains() {
    let f = Fixture::new();
    let app = app!(&f);
    let req = test::TestRequest::get()
        .uri("/xrpc/com.atproto.server.describeServer")
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = test::read_body_json(resp).await;
    assert_eq!(body["did"], "did:web:auth.example");
    assert_eq!(body["availableUserDomains"], json!([]));
    assert_eq!(body["inviteCodeRequired"], true);
}

#[actix_web::test]
async fn resolve_handle_answers_without_dev_mode() {
    let f = Fixture::new();
    let app = app!(&f);
    let req = test::TestRequest::get()
        .uri(&format!(
            "/xrpc/com.atproto.identity.resolveHandle?handle={HANDLE}"
        ))
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = test::read_body_json(resp).await;
    assert_eq!(body, json!({"did": DID}));
}

#[actix_web::test]
async fn resolve_handle_of_an_unknown_handle_is_an_xrpc_error() {
    let f = Fixture::new();
    let app = app!(&f);
    let req = test::TestRequest::get()
        .uri("/xrpc/com.atproto.identity.resolveHandle?handle=bob.example.com")
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = test::read_body_json(resp).await;
    assert_eq!(body["error"], "InvalidRequest");
}

#[actix_web::test]
async fn resolve_handle_answers_in_dev_mode_too() {
    let f = Fixture::new();
    let app = app!(&f, true);
    let req = test::TestRequest::get()
        .uri(&format!(
            "/xrpc/com.atproto.identity.resolveHandle?handle={HANDLE}"
        ))
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = test::read_body_json(resp).await;
    assert_eq!(body, json!({"did": DID}));
}
