//! The account pages over HTTP against a real server on a loopback port
//! with a fresh SQLite store and a fake client-metadata fetcher. The
//! whole-binary tests (tests/account.rs) drive the same pages with real
//! OAuth sessions; these cover CSRF, display and escaping, headers,
//! languages and the password rule for sensitive actions.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use atauth_core::client::auth::{AssertionPolicy, ClientAuth};
use atauth_core::identity::{Did, Handle};
use atauth_core::ids::secret_hash;
use atauth_core::keys::{generate_stored_key, Keyset};
use atauth_core::metadata::Issuer;
use atauth_core::password::hash_password;
use atauth_core::store::{
    Account, AccountStore, AuthorizedClientStore, DeviceAccount, DeviceStore, OAuthSession,
    SessionStore, TrustedClientStore,
};
use atauth_core::token::TokenPolicy;
use atauth_store::Store;
use serde_json::{json, Value};
use url::Url;

use crate::clients::ClientResolverConfig;
use crate::fetch::{Accept, BoxFuture, Fetch, FetchError, FetchPolicy, Fetched};
use crate::identity::IdentityConfig;
use crate::{build_server, AppState, ServerSettings};

const PASSWORD: &str = "correct horse battery";
const ALICE: &str = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
const HOSTILE: &str = "https://hostile.example.com/client-metadata.json";
const PLAIN: &str = "https://plain.example.com/client-metadata.json";
const LOOPBACK: &str = "http://localhost?scope=atproto+transition%3Ageneric";
const HOSTILE_NAME: &str = "<script>alert(\"pwned\")</script>' \" & Evil";
const HOSTILE_LOGO: &str = "https://hostile.example.com/logo.png?\"><script>alert(1)</script>";

/// Serves canned documents by URL.
#[derive(Default)]
struct FakeFetch(Mutex<HashMap<String, Value>>);

impl Fetch for FakeFetch {
    fn fetch(&self, url: Url, _accept: Accept) -> BoxFuture<'_, Result<Fetched, FetchError>> {
        let doc = self
            .0
            .lock()
            .ok()
            .and_then(|d| d.get(url.as_str()).cloned());
        Box::pin(async move {
            let doc = doc.ok_or(FetchError::Status(404))?;
            Ok(Fetched {
                url,
                body: doc.to_string().into_bytes(),
                cache_control: None,
            })
        })
    }
}

fn client_doc(client_id: &str, name: &str) -> Value {
    let origin = Url::parse(client_id)
        .unwrap()
        .origin()
        .ascii_serialization();
    json!({
        "client_id": client_id,
        "client_name": name,
        "client_uri": origin,
        "logo_uri": HOSTILE_LOGO,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": [format!("{origin}/callback")],
        "scope": "atproto transition:generic",
        "token_endpoint_auth_method": "none",
        "dpop_bound_access_tokens": true
    })
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

struct Harness {
    store: Store,
    base: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!(
            "sqlite://{}",
            dir.path().join("db.sqlite").display()
        ))
        .unwrap();
        store.migrate().unwrap();
        let keyset = Keyset::from_stored(&[generate_stored_key(now()).unwrap()]).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let issuer = Issuer::parse(&base, true).unwrap();
        let fake = FakeFetch::default();
        for (id, name) in [(HOSTILE, HOSTILE_NAME), (PLAIN, "Plain App")] {
            fake.0
                .lock()
                .unwrap()
                .insert(id.into(), client_doc(id, name));
        }
        let settings = ServerSettings {
            issuer: issuer.clone(),
            resource: base.clone(),
            dev: false,
            introspection: false,
            ui_locales: vec!["en".into(), "fr".into()],
            key_reload_interval_secs: 3600,
            fetch: FetchPolicy::default(),
            clients: ClientResolverConfig::default(),
            identity: IdentityConfig::default(),
            token: TokenPolicy::defaults(issuer.as_str()),
            assertion: AssertionPolicy::default(),
            nonce_secret: None,
        };
        // Trusted through the database only (`atauth client trust add`).
        store.add_trusted_client(HOSTILE, now()).unwrap();
        let state = AppState::with_fetcher(settings, store.clone(), keyset, Arc::new(fake));
        let server = build_server(state, listener, Some(1)).unwrap();
        actix_web::rt::spawn(server);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let did = Did::parse(ALICE).unwrap();
        store
            .create_account(&Account {
                did,
                handle: Handle::parse("alice.test").unwrap(),
                email: None,
                password_hash: hash_password(PASSWORD).unwrap(),
                created_at: now(),
                disabled_at: None,
            })
            .unwrap();
        Harness {
            store,
            base,
            http,
            _dir: dir,
        }
    }

    fn session(&self, id: &str, client_id: &str) {
        let t = now();
        self.store
            .create_session(&OAuthSession {
                id: id.into(),
                did: Did::parse(ALICE).unwrap(),
                client_id: client_id.into(),
                client_auth: ClientAuth::None,
                scope: "atproto transition:generic".into(),
                dpop_jkt: "j".repeat(43),
                request_id: format!("req-{id}"),
                created_at: t - 100,
                expires_at: t + 3600,
                refresh_hash: Some(format!("hash-{id}")),
                refresh_expires_at: Some(t + 3600),
                previous_refresh_hash: None,
                rotated_at: None,
                last_used_at: t - 10,
            })
            .unwrap();
        self.store
            .upsert_authorized_client(&Did::parse(ALICE).unwrap(), client_id, "atproto", t - 100)
            .unwrap();
    }

    /// What any POST could change.
    fn snapshot(&self) -> (usize, usize, usize, String) {
        let did = Did::parse(ALICE).unwrap();
        (
            self.store.list_sessions(Some(&did), None).unwrap().len(),
            self.store.authorized_clients(&did).unwrap().len(),
            self.store.devices_of_account(&did).unwrap().len(),
            self.store
                .account_by_did(&did)
                .unwrap()
                .unwrap()
                .password_hash,
        )
    }
}

struct Resp {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn field(&self, name: &str) -> Option<String> {
        let needle = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&needle)? + needle.len();
        let end = self.body[start..].find('"')? + start;
        Some(
            self.body[start..end]
                .replace("&#x2F;", "/")
                .replace("&quot;", "\"")
                .replace("&amp;", "&"),
        )
    }
}

struct Browser<'h> {
    h: &'h Harness,
    cookie: Option<String>,
}

impl Browser<'_> {
    async fn send(&mut self, rb: reqwest::RequestBuilder) -> Resp {
        let rb = match &self.cookie {
            Some(c) => rb.header("cookie", format!("atauth-device={c}")),
            None => rb,
        };
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        for c in headers.get_all("set-cookie") {
            if let Some(v) = c
                .to_str()
                .ok()
                .and_then(|c| c.strip_prefix("atauth-device="))
            {
                self.cookie = v.split(';').next().map(str::to_string);
            }
        }
        let body = resp.text().await.unwrap();
        Resp {
            status,
            headers,
            body,
        }
    }

    async fn get(&mut self, path: &str) -> Resp {
        let rb = self.h.http.get(format!("{}{path}", self.h.base));
        self.send(rb).await
    }

    async fn post_with(&mut self, path: &str, form: &[(&str, &str)], origin: &str) -> Resp {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().copied())
            .finish();
        let rb = self
            .h
            .http
            .post(format!("{}{path}", self.h.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", origin)
            .body(body);
        self.send(rb).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Resp {
        let origin = self.h.base.clone();
        self.post_with(path, form, &origin).await
    }

    /// Sign alice in on /account; returns the CSRF token of the pages.
    async fn sign_in(&mut self, remember: bool) -> String {
        let home = self.get("/account").await;
        assert_eq!(home.status, 200, "{}", home.body);
        let csrf = home.field("csrf").unwrap();
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("identifier", "alice.test"),
            ("password", PASSWORD),
        ];
        if remember {
            form.push(("remember", "1"));
        }
        let r = self.post("/account/sign-in", &form).await;
        assert_eq!(r.status, 303, "{}", r.body);
        csrf
    }
}

fn assert_page_headers(r: &Resp) {
    let csp = r.header("content-security-policy").expect("CSP");
    for d in [
        "default-src 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(d), "{csp}");
    }
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

#[actix_web::test]
async fn every_post_without_a_valid_csrf_token_is_403_and_changes_nothing() {
    let h = Harness::start().await;
    h.session("ses-1", PLAIN);
    let mut b = Browser {
        h: &h,
        cookie: None,
    };
    let good = b.sign_in(true).await;
    let mut other = Browser {
        h: &h,
        cookie: None,
    };
    let foreign = other.sign_in(true).await;
    let other_device = h
        .store
        .devices_of_account(&Did::parse(ALICE).unwrap())
        .unwrap();
    let other_id = other_device
        .iter()
        .map(|(d, _)| d.id.clone())
        .find(|id| {
            h.store
                .device_by_secret(&secret_hash(b.cookie.as_deref().unwrap()))
                .unwrap()
                .is_some_and(|mine| &mine.id != id)
        })
        .unwrap();
    let before = h.snapshot();
    let routes: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "/account/sign-in",
            vec![("identifier", "alice.test"), ("password", PASSWORD)],
        ),
        ("/account/sign-out", vec![("account", ALICE)]),
        (
            "/account/apps/revoke",
            vec![("account", ALICE), ("client_id", PLAIN)],
        ),
        (
            "/account/apps/revoke-all",
            vec![("account", ALICE), ("password", PASSWORD)],
        ),
        (
            "/account/devices/sign-out",
            vec![("account", ALICE), ("device", &other_id)],
        ),
        (
            "/account/password",
            vec![
                ("account", ALICE),
                ("current", PASSWORD),
                ("new", "a brand new password"),
                ("confirm", "a brand new password"),
                ("revoke_apps", "1"),
            ],
        ),
    ];
    let base = h.base.clone();
    for (path, fields) in &routes {
        for (case, token, origin) in [
            ("no token", None, base.as_str()),
            ("wrong token", Some("AAAA"), base.as_str()),
            (
                "another browser's token",
                Some(foreign.as_str()),
                base.as_str(),
            ),
            ("cross-site", Some(good.as_str()), "https://evil.example"),
        ] {
            let mut form = fields.clone();
            if let Some(t) = token {
                form.push(("csrf", t));
            }
            let r = b.post_with(path, &form, origin).await;
            assert_eq!(r.status, 403, "{path} {case}: {}", r.body);
            assert_page_headers(&r);
            assert!(
                r.body.contains("href=\"&#x2F;account\""),
                "{path}: way back"
            );
            assert_eq!(h.snapshot(), before, "{path} {case} changed something");
        }
    }
    // Without the device cookie.
    let mut cookieless = Browser {
        h: &h,
        cookie: None,
    };
    let r = cookieless
        .post(
            "/account/apps/revoke",
            &[("csrf", &good), ("account", ALICE), ("client_id", PLAIN)],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(h.snapshot(), before);
    // The good token works (the checks above were not vacuous).
    let r = b
        .post(
            "/account/apps/revoke",
            &[("csrf", &good), ("account", ALICE), ("client_id", PLAIN)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_ne!(h.snapshot(), before);
}

#[actix_web::test]
async fn hostile_client_metadata_is_rendered_escaped_on_the_apps_list() {
    let h = Harness::start().await;
    h.session("ses-h", HOSTILE);
    h.session("ses-p", PLAIN);
    h.session("ses-l", LOOPBACK);
    let mut b = Browser {
        h: &h,
        cookie: None,
    };
    b.sign_in(false).await;
    let r = b.get(&format!("/account/apps?account={ALICE}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_page_headers(&r);
    assert!(!r.body.contains("<script>"), "{}", r.body);
    // Trusted (from the database): its name and logo, escaped.
    assert!(
        r.body
            .contains("&lt;script&gt;alert(&quot;pwned&quot;)&lt;&#x2F;script&gt;"),
        "{}",
        r.body
    );
    assert!(r.body.contains("logo.png?&quot;&gt;&lt;script&gt;"));
    // Untrusted: its URL, never its name or logo.
    assert!(!r.body.contains("Plain App"));
    assert!(r
        .body
        .contains("https:&#x2F;&#x2F;plain.example.com&#x2F;client-metadata.json"));
    assert_eq!(r.body.matches("<img").count(), 1, "only the trusted logo");
    // Loopback: "an application on this device".
    assert!(r.body.contains("An application on this device"));
    // Scopes in plain words.
    assert!(r
        .body
        .contains("Read and change everything in your account"));
    assert_eq!(r.body.matches("action=\"/account/apps/revoke\"").count(), 3);
    // Revoking every app needs no password again: signed in just now.
    assert!(!r.body.contains("name=\"password\""));
}

#[actix_web::test]
async fn revoke_all_asks_for_the_password_when_the_sign_in_is_not_fresh() {
    let h = Harness::start().await;
    h.session("ses-1", PLAIN);
    h.session("ses-2", HOSTILE);
    let mut b = Browser {
        h: &h,
        cookie: None,
    };
    let csrf = b.sign_in(true).await;
    let device = h
        .store
        .device_by_secret(&secret_hash(b.cookie.as_deref().unwrap()))
        .unwrap()
        .unwrap();
    // Remembered, but the password was entered two hours ago.
    h.store
        .upsert_device_account(&DeviceAccount {
            device_id: device.id.clone(),
            did: Did::parse(ALICE).unwrap(),
            authenticated_at: now() - 7200,
            remember: true,
        })
        .unwrap();
    let page = b.get(&format!("/account/apps?account={ALICE}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"password\""));
    let before = h.snapshot();
    let form = [("csrf", csrf.as_str()), ("account", ALICE)];
    let r = b.post("/account/apps/revoke-all", &form).await;
    assert_eq!(r.status, 400);
    let r = b
        .post(
            "/account/apps/revoke-all",
            &[form[0], form[1], ("password", "wrong password")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("The password is wrong."));
    assert_eq!(h.snapshot(), before);
    let r = b
        .post(
            "/account/apps/revoke-all",
            &[form[0], form[1], ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let (sessions, approvals, _, _) = h.snapshot();
    assert_eq!((sessions, approvals), (0, 0));
    // The password entered counts as a fresh sign-in.
    let page = b.get(&format!("/account/apps?account={ALICE}")).await;
    assert!(page.body.contains("No application has access"));
}

#[actix_web::test]
async fn stale_sign_in_cannot_manage_the_account() {
    let h = Harness::start().await;
    h.session("ses-1", PLAIN);
    let mut b = Browser {
        h: &h,
        cookie: None,
    };
    let csrf = b.sign_in(false).await;
    let device = h
        .store
        .device_by_secret(&secret_hash(b.cookie.as_deref().unwrap()))
        .unwrap()
        .unwrap();
    h.store
        .upsert_device_account(&DeviceAccount {
            device_id: device.id,
            did: Did::parse(ALICE).unwrap(),
            authenticated_at: now() - 7200,
            remember: false,
        })
        .unwrap();
    let r = b.get(&format!("/account/apps?account={ALICE}")).await;
    assert_eq!(r.status, 303);
    let home = b.get("/account").await;
    assert!(home.body.contains("sign in again to manage this account"));
    let before = h.snapshot();
    let r = b
        .post(
            "/account/apps/revoke",
            &[("csrf", &csrf), ("account", ALICE), ("client_id", PLAIN)],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(h.snapshot(), before);
}

#[actix_web::test]
async fn pages_have_the_headers_and_speak_french() {
    let h = Harness::start().await;
    let mut b = Browser {
        h: &h,
        cookie: None,
    };
    let r = b.get("/account").await;
    assert_eq!(r.status, 200);
    assert_page_headers(&r);
    assert!(r.body.contains("<label for=\"identifier\">"));
    assert!(r.cookie_set(), "first visit sets the device cookie");
    b.sign_in(true).await;
    for page in ["apps", "devices", "password"] {
        let rb = h
            .http
            .get(format!("{}/account/{page}", h.base))
            .header("accept-language", "fr-CA, en;q=0.5");
        let r = b.send(rb).await;
        assert_eq!(r.status, 200, "{page}: the only account is chosen");
        assert_page_headers(&r);
        assert!(r.body.contains("<html lang=\"fr\">"), "{page}");
        assert!(r.body.contains("Applications connectées"), "{page}");
        assert!(!r.body.contains("style="), "{page}: inline style");
        assert!(!r.body.contains("<script"), "{page}: script");
    }
    let r = b.get("/.well-known/change-password").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/account/password"));
    let r = b.post("/.well-known/change-password", &[]).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET"));
}

impl Resp {
    fn cookie_set(&self) -> bool {
        self.headers
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().is_ok_and(|c| c.starts_with("atauth-device=")))
    }
}
