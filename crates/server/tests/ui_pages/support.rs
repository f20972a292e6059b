//! A real server on a loopback port with a fresh SQLite store, a fake
//! client-metadata fetcher, and a tiny cookie-keeping "browser".
//! Authorization requests are written straight into the store (no PAR,
//! no DPoP): these tests are about the pages.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use atauth_core::client::auth::{AssertionPolicy, ClientAuth};
use atauth_core::crypto::Es256SigningKey;
use atauth_core::identity::{Did, Handle};
use atauth_core::ids::RequestId;
use atauth_core::jwk::ec_public_jwk;
use atauth_core::keys::{generate_stored_key, Keyset};
use atauth_core::metadata::Issuer;
use atauth_core::password::hash_password;
use atauth_core::store::{
    Account, AccountStore, AuthorizationParams, AuthorizationRequest, RequestStore,
};
use atauth_core::token::TokenPolicy;
use atauth_server::clients::ClientResolverConfig;
use atauth_server::fetch::{Accept, BoxFuture, Fetch, FetchError, FetchPolicy, Fetched};
use atauth_server::identity::IdentityConfig;
use atauth_server::{build_server, AppState, ServerSettings};
use atauth_store::Store;
use serde_json::{json, Value};
use url::Url;

pub const PUBLIC: &str = "https://app.example.com/client-metadata.json";
pub const PUBLIC_REDIRECT: &str = "https://app.example.com/callback";
pub const TRUSTED: &str = "https://trusted.example.com/client-metadata.json";
pub const TRUSTED_REDIRECT: &str = "https://trusted.example.com/callback";
pub const CONFIDENTIAL: &str = "https://conf.example.com/client-metadata.json";
pub const CONFIDENTIAL_REDIRECT: &str = "https://conf.example.com/callback";
pub const LOOPBACK: &str =
    "http://localhost?redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Fcallback&scope=atproto+transition%3Ageneric";
pub const LOOPBACK_REDIRECT: &str = "http://127.0.0.1:9999/callback";

pub const HOSTILE_NAME: &str = "<script>alert(\"pwned\")</script>' \" & Evil";
pub const HOSTILE_LOGO: &str = "https://trusted.example.com/logo.png?\"><script>alert(1)</script>";
pub const HOSTILE_TOS: &str = "https://trusted.example.com/tos?\"onmouseover=\"alert(1)";

pub const PASSWORD: &str = "correct horse battery";
pub const STATE: &str = "st&te=<1>";

/// Serves canned documents by URL.
#[derive(Default)]
pub struct FakeFetch {
    docs: Mutex<HashMap<String, Value>>,
}

impl FakeFetch {
    pub fn serve(&self, url: &str, doc: Value) {
        self.docs.lock().unwrap().insert(url.to_string(), doc);
    }
}

impl Fetch for FakeFetch {
    fn fetch(&self, url: Url, _accept: Accept) -> BoxFuture<'_, Result<Fetched, FetchError>> {
        let doc = self.docs.lock().unwrap().get(url.as_str()).cloned();
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

fn web_client(client_id: &str, redirect: &str, name: &str) -> Value {
    let origin = Url::parse(client_id)
        .unwrap()
        .origin()
        .ascii_serialization();
    json!({
        "client_id": client_id,
        "application_type": "web",
        "client_name": name,
        "client_uri": origin,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": [redirect],
        "scope": "atproto transition:generic transition:email",
        "token_endpoint_auth_method": "none",
        "dpop_bound_access_tokens": true
    })
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// One server for one test.
pub struct Harness {
    pub state: Arc<AppState>,
    pub store: Store,
    pub base: String,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Harness {
    pub async fn start() -> Harness {
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

        let fake = Arc::new(FakeFetch::default());
        fake.serve(PUBLIC, web_client(PUBLIC, PUBLIC_REDIRECT, "Plain App"));
        let mut trusted = web_client(TRUSTED, TRUSTED_REDIRECT, HOSTILE_NAME);
        trusted["logo_uri"] = json!(HOSTILE_LOGO);
        trusted["tos_uri"] = json!(HOSTILE_TOS);
        trusted["policy_uri"] = json!("https://trusted.example.com/privacy");
        fake.serve(TRUSTED, trusted);
        let mut conf = web_client(CONFIDENTIAL, CONFIDENTIAL_REDIRECT, "Confidential App");
        let sk = Es256SigningKey::from_pkcs8(&Es256SigningKey::generate_pkcs8().unwrap()).unwrap();
        conf["token_endpoint_auth_method"] = json!("private_key_jwt");
        conf["token_endpoint_auth_signing_alg"] = json!("ES256");
        conf["jwks"] = json!({ "keys": [ec_public_jwk(sk.public_key(), Some("k1"))] });
        fake.serve(CONFIDENTIAL, conf);

        let settings = ServerSettings {
            issuer: issuer.clone(),
            resource: base.clone(),
            dev: false,
            introspection: false,
            ui_locales: vec!["en".into(), "fr".into()],
            key_reload_interval_secs: 3600,
            fetch: FetchPolicy::default(),
            clients: ClientResolverConfig {
                trusted: [TRUSTED.to_string()].into_iter().collect::<HashSet<_>>(),
                ..ClientResolverConfig::default()
            },
            identity: IdentityConfig::default(),
            token: TokenPolicy::defaults(issuer.as_str()),
            assertion: AssertionPolicy::default(),
            nonce_secret: None,
        };
        let state = AppState::with_fetcher(settings, store.clone(), keyset, fake);
        let server = build_server(state.clone(), listener, Some(1)).unwrap();
        actix_web::rt::spawn(server);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Harness {
            state,
            store,
            base,
            http,
            _dir: dir,
        }
    }

    /// Create an account with [`PASSWORD`]; returns its DID.
    pub fn account(&self, handle: &str, did: &str) -> Did {
        let did = Did::parse(did).unwrap();
        self.store
            .create_account(&Account {
                did: did.clone(),
                handle: Handle::parse(handle).unwrap(),
                email: None,
                password_hash: hash_password(PASSWORD).unwrap(),
                created_at: now(),
                disabled_at: None,
            })
            .unwrap();
        did
    }

    pub fn alice(&self) -> Did {
        self.account("alice.test", "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
    }

    pub fn bob(&self) -> Did {
        self.account("bob.test", "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb")
    }

    /// Store an authorization request as PAR would.
    pub fn request(&self, r: Req) -> RequestId {
        let id = RequestId::generate();
        let now = now();
        let request = AuthorizationRequest {
            id: id.as_str().to_string(),
            client_id: r.client_id.to_string(),
            client_auth: ClientAuth::None,
            params: AuthorizationParams {
                redirect_uri: r.redirect_uri.to_string(),
                scope: r.scope.to_string(),
                state: STATE.to_string(),
                code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_string(),
                response_mode: r.response_mode.to_string(),
                login_hint: r.login_hint.map(str::to_string),
                prompt: r.prompt.map(str::to_string),
                ui_locales: r.ui_locales.map(str::to_string),
                dpop_jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".to_string(),
            },
            created_at: now - 5,
            expires_at: now + r.expires_in,
            device_id: None,
            sub: None,
            code_hash: None,
            consumed_at: None,
        };
        self.store.create_request(&request).unwrap();
        id
    }

    pub fn get_request(&self, id: &RequestId) -> Option<AuthorizationRequest> {
        self.store.get_request(id.as_str()).unwrap()
    }

    pub fn authorize_path(&self, client_id: &str, id: &RequestId) -> String {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", client_id)
            .append_pair("request_uri", &id.request_uri())
            .finish();
        format!("/oauth/authorize?{q}")
    }

    pub fn browser(&self) -> Browser<'_> {
        Browser {
            h: self,
            cookie: None,
        }
    }
}

/// An authorization request to store.
#[derive(Clone, Copy)]
pub struct Req<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scope: &'a str,
    pub response_mode: &'a str,
    pub login_hint: Option<&'a str>,
    pub prompt: Option<&'a str>,
    pub ui_locales: Option<&'a str>,
    pub expires_in: i64,
}

impl<'a> Req<'a> {
    pub fn public() -> Req<'static> {
        Req {
            client_id: PUBLIC,
            redirect_uri: PUBLIC_REDIRECT,
            scope: "atproto transition:generic",
            response_mode: "query",
            login_hint: None,
            prompt: None,
            ui_locales: None,
            expires_in: 300,
        }
    }

    pub fn trusted() -> Req<'static> {
        Req {
            client_id: TRUSTED,
            redirect_uri: TRUSTED_REDIRECT,
            ..Req::public()
        }
    }

    pub fn confidential() -> Req<'static> {
        Req {
            client_id: CONFIDENTIAL,
            redirect_uri: CONFIDENTIAL_REDIRECT,
            ..Req::public()
        }
    }

    pub fn loopback() -> Req<'static> {
        Req {
            client_id: LOOPBACK,
            redirect_uri: LOOPBACK_REDIRECT,
            ..Req::public()
        }
    }

    pub fn mode(self, m: &'a str) -> Req<'a> {
        Req {
            response_mode: m,
            ..self
        }
    }
    pub fn prompt(self, p: &'a str) -> Req<'a> {
        Req {
            prompt: Some(p),
            ..self
        }
    }
    pub fn hint(self, h: &'a str) -> Req<'a> {
        Req {
            login_hint: Some(h),
            ..self
        }
    }
    pub fn scope(self, s: &'a str) -> Req<'a> {
        Req { scope: s, ..self }
    }
    pub fn locales(self, l: &'a str) -> Req<'a> {
        Req {
            ui_locales: Some(l),
            ..self
        }
    }
}

/// A response, read in full.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> Option<Url> {
        self.header("location").map(|l| Url::parse(l).unwrap())
    }

    /// The value of a hidden field (`name="x" value="…"`), unescaped.
    pub fn field(&self, name: &str) -> Option<String> {
        let needle = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&needle)? + needle.len();
        let end = self.body[start..].find('"')? + start;
        Some(unescape(&self.body[start..end]))
    }

    /// Every value of a hidden field, in page order.
    pub fn fields(&self, name: &str) -> Vec<String> {
        let needle = format!("name=\"{name}\" value=\"");
        let mut out = Vec::new();
        let mut rest = self.body.as_str();
        while let Some(i) = rest.find(&needle) {
            let s = &rest[i + needle.len()..];
            let end = s.find('"').unwrap();
            out.push(unescape(&s[..end]));
            rest = &s[end..];
        }
        out
    }

    /// The value of a Set-Cookie for `atauth-device`.
    pub fn device_cookie(&self) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("atauth-device="))
            .map(|c| c.split(';').next().unwrap().to_string())
    }

    /// Asserts the security headers of an HTML page.
    pub fn assert_page_headers(&self) {
        assert!(
            self.header("content-type")
                .unwrap_or("")
                .starts_with("text/html"),
            "content type: {:?}",
            self.header("content-type")
        );
        self.assert_security_headers();
    }

    pub fn assert_security_headers(&self) {
        let csp = self.header("content-security-policy").expect("CSP");
        for d in [
            "default-src 'none'",
            "style-src 'self'",
            "img-src 'self' https: data:",
            "script-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(d), "CSP {csp} lacks {d}");
        }
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(self.header("x-frame-options"), Some("DENY"));
        assert_eq!(self.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(self.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(self.header("cache-control"), Some("no-store"));
    }

    /// Asserts an HTML page with no inline script or style.
    pub fn assert_no_inline_code(&self) {
        assert!(!self.body.contains("<script>"), "inline script");
        assert!(!self.body.contains("style="), "inline style");
        assert!(!self.body.contains("<style"), "style element");
    }
}

fn unescape(s: &str) -> String {
    s.replace("&#x2F;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Cookie-keeping browser (only the device cookie matters here).
pub struct Browser<'h> {
    pub h: &'h Harness,
    pub cookie: Option<String>,
}

impl<'h> Browser<'h> {
    async fn read(&mut self, resp: reqwest::Response) -> Resp {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().await.unwrap();
        let r = Resp {
            status,
            headers,
            body,
        };
        if let Some(c) = r.device_cookie() {
            self.cookie = Some(c);
        }
        r
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        self.get_with(path, &[]).await
    }

    pub async fn get_with(&mut self, path: &str, headers: &[(&str, &str)]) -> Resp {
        let mut rb = self.h.http.get(format!("{}{}", self.h.base, path));
        if let Some(c) = &self.cookie {
            rb = rb.header("cookie", format!("atauth-device={c}"));
        }
        for (n, v) in headers {
            rb = rb.header(*n, *v);
        }
        let resp = rb.send().await.unwrap();
        self.read(resp).await
    }

    pub async fn authorize(&mut self, client_id: &str, id: &RequestId) -> Resp {
        let path = self.h.authorize_path(client_id, id);
        self.get(&path).await
    }

    /// POST a form as a browser would from this origin.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Resp {
        let origin = self.h.base.clone();
        self.post_with(
            path,
            form,
            &[("Origin", &origin), ("Sec-Fetch-Site", "same-origin")],
        )
        .await
    }

    pub async fn post_with(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Resp {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().copied())
            .finish();
        let mut rb = self
            .h
            .http
            .post(format!("{}{}", self.h.base, path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(c) = &self.cookie {
            rb = rb.header("cookie", format!("atauth-device={c}"));
        }
        for (n, v) in headers {
            rb = rb.header(*n, *v);
        }
        let resp = rb.send().await.unwrap();
        self.read(resp).await
    }

    /// Sign in from a page carrying the sign-in form.
    pub async fn sign_in(
        &mut self,
        page: &Resp,
        identifier: &str,
        password: &str,
        remember: bool,
    ) -> Resp {
        let csrf = page.field("csrf").expect("csrf field");
        let request_uri = page.field("request_uri").expect("request_uri field");
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("request_uri", request_uri.as_str()),
            ("identifier", identifier),
            ("password", password),
        ];
        if remember {
            form.push(("remember", "1"));
        }
        self.post("/oauth/authorize/sign-in", &form).await
    }

    /// Submit the consent form of a consent page.
    pub async fn decide(&mut self, page: &Resp, decision: &str) -> Resp {
        let csrf = page.field("csrf").expect("csrf field");
        let request_uri = page.field("request_uri").expect("request_uri field");
        let mut form = vec![
            ("csrf", csrf.clone()),
            ("request_uri", request_uri),
            ("decision", decision.to_string()),
        ];
        if let Some(account) = page.field("account") {
            form.push(("account", account));
        }
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.post("/oauth/authorize/consent", &form).await
    }

    /// Sign in through a fresh request of the public client and approve,
    /// leaving the account signed in on this browser.
    pub async fn signed_in(&mut self, handle: &str, remember: bool) -> Resp {
        let id = self.h.request(Req::public());
        let page = self.authorize(PUBLIC, &id).await;
        let consent = self.sign_in(&page, handle, PASSWORD, remember).await;
        assert_eq!(consent.status, 200, "{}", consent.body);
        self.decide(&consent, "approve").await
    }
}

/// The query (or fragment) parameters of a redirect.
pub fn params(url: &Url, fragment: bool) -> HashMap<String, String> {
    let raw = if fragment {
        url.fragment().unwrap_or("")
    } else {
        url.query().unwrap_or("")
    };
    url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}
