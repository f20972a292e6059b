//! The account pages and the admin commands through the real binary
//! (SPEC §9, issue 7): real OAuth sessions (PAR, code approved through the
//! store as in token.rs, token endpoint, getSession with DPoP), revoked
//! from `/account` by a cookie-keeping HTTP client, or with `atauth
//! session revoke` while the server runs.

use atauth_core::identity::Did;
use atauth_core::ids::{secret_hash, Code, RequestId};
use atauth_core::store::{DeviceStore, RequestStore, SessionStore};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::client::{now, read, Reply, TestClient, REDIRECT_URI};
use crate::support::{http, Server, TestEnv};

const PASSWORD: &str = "correct horse battery";
const GET_SESSION: &str = "/xrpc/com.atproto.server.getSession";

/// An OAuth session's tokens.
struct Tokens {
    access: String,
    refresh: String,
}

/// PAR (with `scope`), the code issued through the store as the pages
/// would, then the code exchange.
async fn tokens(env: &TestEnv, client: &TestClient, did: &str, scope: &str) -> Tokens {
    let (r, verifier) = client.par(&[("scope", scope)]).await;
    assert_eq!(r.status, 201, "{:?}", r.json);
    let id = RequestId::from_request_uri(r.json["request_uri"].as_str().unwrap()).unwrap();
    let code = Code::generate();
    let did = Did::parse(did).unwrap();
    assert!(env
        .store()
        .issue_code(id.as_str(), &did, &code.hash(), now() + 300)
        .unwrap());
    let r = client
        .post_dpop(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &client.client_id),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    Tokens {
        access: r.json["access_token"].as_str().unwrap().to_string(),
        refresh: r.json["refresh_token"].as_str().unwrap().to_string(),
    }
}

async fn refresh(client: &TestClient, t: &Tokens) -> Reply {
    client
        .post_dpop(
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &client.client_id),
                ("refresh_token", &t.refresh),
            ],
        )
        .await
}

/// `GET getSession` with `Authorization: DPoP` and a proof carrying `ath`,
/// retried once with the nonce the server asks for. Returns the status.
async fn get_session(server: &Server, client: &TestClient, t: &Tokens) -> u16 {
    let htu = format!("{}{GET_SESSION}", server.issuer);
    let ath = B64.encode(Sha256::digest(t.access.as_bytes()));
    let mut status = 0;
    for _ in 0..2 {
        let proof = client
            .dpop
            .proof("GET", &htu, client.nonce().as_deref(), Some(&ath));
        let r = read(
            http()
                .get(server.url(GET_SESSION))
                .header("Authorization", format!("DPoP {}", t.access))
                .header("DPoP", proof)
                .send()
                .await
                .unwrap(),
        )
        .await;
        status = r.status;
        let fresh = r.header("dpop-nonce").map(str::to_string);
        let retry = r.json["error"] == "use_dpop_nonce"
            || r.header("www-authenticate")
                .is_some_and(|h| h.contains("use_dpop_nonce"));
        if fresh.is_some() {
            client.set_nonce(fresh);
        }
        if !retry {
            break;
        }
    }
    status
}

/// A page, read fully.
struct Page {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Page {
    /// Every value of a field (`name="x" value="…"`), unescaped, in page order.
    fn fields(&self, name: &str) -> Vec<String> {
        let needle = format!("name=\"{name}\" value=\"");
        let mut out = Vec::new();
        let mut rest = self.body.as_str();
        while let Some(i) = rest.find(&needle) {
            let s = &rest[i + needle.len()..];
            let end = s.find('"').unwrap();
            out.push(
                s[..end]
                    .replace("&#x2F;", "/")
                    .replace("&quot;", "\"")
                    .replace("&#x27;", "'")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&"),
            );
            rest = &s[end..];
        }
        out
    }

    fn field(&self, name: &str) -> String {
        self.fields(name)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no field {name}:\n{}", self.body))
    }
}

/// A browser: keeps the device cookie, posts forms as a same-origin page
/// would.
struct Browser<'s> {
    server: &'s Server,
    user_agent: &'static str,
    cookie: Option<String>,
}

impl<'s> Browser<'s> {
    fn new(server: &'s Server, user_agent: &'static str) -> Browser<'s> {
        Browser {
            server,
            user_agent,
            cookie: None,
        }
    }

    async fn send(&mut self, rb: reqwest::RequestBuilder) -> Page {
        let mut rb = rb.header("User-Agent", self.user_agent);
        if let Some(c) = &self.cookie {
            rb = rb.header("Cookie", format!("atauth-device={c}"));
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        for c in resp.headers().get_all("set-cookie") {
            if let Some(v) = c
                .to_str()
                .ok()
                .and_then(|c| c.strip_prefix("atauth-device="))
            {
                self.cookie = v.split(';').next().map(str::to_string);
            }
        }
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp.text().await.unwrap();
        Page {
            status,
            location,
            body,
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let rb = http().get(self.server.url(path));
        self.send(rb).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().copied())
            .finish();
        let rb = http()
            .post(self.server.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Origin", &self.server.issuer)
            .header("Sec-Fetch-Site", "same-origin")
            .body(body);
        self.send(rb).await
    }

    /// Sign in on /account; returns the CSRF token of the account pages.
    async fn sign_in(&mut self, handle: &str, password: &str) -> (Page, String) {
        let home = self.get("/account").await;
        assert_eq!(home.status, 200, "{}", home.body);
        let csrf = home.field("csrf");
        let form = [
            ("csrf", csrf.as_str()),
            ("identifier", handle),
            ("password", password),
            ("remember", "1"),
        ];
        (self.post("/account/sign-in", &form).await, csrf)
    }

    async fn signed_in(&mut self, handle: &str) -> String {
        let (r, csrf) = self.sign_in(handle, PASSWORD).await;
        assert_eq!(r.status, 303, "{}", r.body);
        csrf
    }

    /// This browser's device id, from the store.
    fn device_id(&self, env: &TestEnv) -> String {
        env.store()
            .device_by_secret(&secret_hash(self.cookie.as_deref().unwrap()))
            .unwrap()
            .unwrap()
            .id
    }
}

fn apps_path(did: &str) -> String {
    format!("/account/apps?account={did}")
}

#[tokio::test]
async fn revoking_one_app_ends_its_tokens_at_once_and_leaves_the_other() {
    let env = TestEnv::new();
    let did = env.create_account("alice.test", PASSWORD);
    let server = env.serve(&[]);
    let a = TestClient::loopback(&server, "atproto transition:generic");
    let b = TestClient::loopback(&server, "atproto");
    let ta = tokens(&env, &a, &did, "atproto transition:generic").await;
    let tb = tokens(&env, &b, &did, "atproto").await;
    assert_eq!(get_session(&server, &a, &ta).await, 200);
    assert_eq!(get_session(&server, &b, &tb).await, 200);

    let mut browser = Browser::new(&server, "Firefox/140.0 (test)");
    let csrf = browser.signed_in("alice.test").await;
    let page = browser.get(&apps_path(&did)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let listed = page.fields("client_id");
    assert!(
        listed.contains(&a.client_id) && listed.contains(&b.client_id),
        "{listed:?}"
    );
    assert!(page.body.contains("An application on this device"));

    // Without the CSRF token: 403 and nothing happens.
    let refused = browser
        .post(
            "/account/apps/revoke",
            &[("account", &did), ("client_id", &a.client_id)],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(get_session(&server, &a, &ta).await, 200);

    let r = browser
        .post(
            "/account/apps/revoke",
            &[
                ("csrf", &csrf),
                ("account", &did),
                ("client_id", &a.client_id),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    let dead = refresh(&a, &ta).await;
    assert_eq!((dead.status, dead.error()), (400, "invalid_grant"));
    assert_eq!(
        get_session(&server, &a, &ta).await,
        401,
        "access token at once"
    );
    assert_eq!(get_session(&server, &b, &tb).await, 200, "the other app");
    let alive = refresh(&b, &tb).await;
    assert_eq!(alive.status, 200, "{:?}", alive.json);

    let page = browser.get(r.location.as_deref().unwrap()).await;
    assert_eq!(page.fields("client_id"), vec![b.client_id.clone()]);
    assert!(page.body.contains("signed out and its approval forgotten"));
}

#[tokio::test]
async fn session_revoke_from_the_cli_takes_effect_in_the_running_server() {
    let env = TestEnv::new();
    let did = env.create_account("alice.test", PASSWORD);
    let server = env.serve(&[]);
    let a = TestClient::loopback(&server, "atproto transition:generic");
    let b = TestClient::loopback(&server, "atproto");
    let ta = tokens(&env, &a, &did, "atproto transition:generic").await;
    let tb = tokens(&env, &b, &did, "atproto").await;

    let out = env.run(
        &["session", "list", "--account", "alice.test", "--json"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 2);
    let id_of_a = rows
        .iter()
        .find(|r| r["client_id"] == a.client_id.as_str())
        .and_then(|r| r["id"].as_str())
        .unwrap()
        .to_string();

    let out = env.run(&["session", "revoke", &id_of_a], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(get_session(&server, &a, &ta).await, 401);
    let dead = refresh(&a, &ta).await;
    assert_eq!((dead.status, dead.error()), (400, "invalid_grant"));
    assert_eq!(get_session(&server, &b, &tb).await, 200);

    let out = env.run(
        &[
            "session",
            "revoke",
            "--account",
            &did,
            "--client",
            &b.client_id,
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(get_session(&server, &b, &tb).await, 401);
    let dead = refresh(&b, &tb).await;
    assert_eq!((dead.status, dead.error()), (400, "invalid_grant"));
}

#[tokio::test]
async fn signing_out_another_device_keeps_every_oauth_session() {
    let env = TestEnv::new();
    let did = env.create_account("alice.test", PASSWORD);
    let server = env.serve(&[]);
    let app = TestClient::loopback(&server, "atproto");
    let t = tokens(&env, &app, &did, "atproto").await;

    let mut laptop = Browser::new(&server, "Laptop Browser/1.0");
    let mut phone = Browser::new(&server, "Phone Browser/2.0");
    let csrf = laptop.signed_in("alice.test").await;
    phone.signed_in("alice.test").await;
    let (laptop_id, phone_id) = (laptop.device_id(&env), phone.device_id(&env));

    let page = laptop.get(&format!("/account/devices?account={did}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for ua in ["Laptop Browser&#x2F;1.0", "Phone Browser&#x2F;2.0"] {
        assert!(page.body.contains(ua), "{ua}:\n{}", page.body);
    }
    assert!(page.body.contains("This browser"));
    assert!(page.body.contains("127.0.0.1"));
    // Only the other device has a sign-out form in the list.
    assert_eq!(page.fields("device"), vec![phone_id.clone()]);

    // The current device is refused even when posted by hand.
    let r = laptop
        .post(
            "/account/devices/sign-out",
            &[("csrf", &csrf), ("account", &did), ("device", &laptop_id)],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        laptop.get(&apps_path(&did)).await.status,
        200,
        "still signed in"
    );

    let r = laptop
        .post(
            "/account/devices/sign-out",
            &[("csrf", &csrf), ("account", &did), ("device", &phone_id)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    // The phone's browser session is over…
    let r = phone.get(&apps_path(&did)).await;
    assert_eq!(r.status, 303);
    let home = phone.get("/account").await;
    assert!(!home.body.contains("@alice.test"), "{}", home.body);
    // …the laptop's is not, and no OAuth session ended.
    assert_eq!(laptop.get(&apps_path(&did)).await.status, 200);
    assert_eq!(get_session(&server, &app, &t).await, 200);
    let r = refresh(&app, &t).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    let did = Did::parse(&did).unwrap();
    assert_eq!(
        env.store().list_sessions(Some(&did), None).unwrap().len(),
        1
    );
}

#[tokio::test]
async fn password_change_refuses_the_old_password_and_signs_out_other_devices() {
    let env = TestEnv::new();
    let did = env.create_account("alice.test", PASSWORD);
    let server = env.serve(&[]);
    let app = TestClient::loopback(&server, "atproto");
    let t = tokens(&env, &app, &did, "atproto").await;
    let new_password = "a much better passphrase";

    let mut laptop = Browser::new(&server, "Laptop Browser/1.0");
    let mut phone = Browser::new(&server, "Phone Browser/2.0");
    let csrf = laptop.signed_in("alice.test").await;
    phone.signed_in("alice.test").await;

    // The well-known URL leads to the password page.
    let r = laptop.get("/.well-known/change-password").await;
    assert_eq!(
        (r.status, r.location.as_deref()),
        (303, Some("/account/password"))
    );
    let page = laptop.get("/account/password").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("autocomplete=\"new-password\""));

    let change = |current: &'static str, confirm: &'static str| {
        vec![
            ("account", did.clone()),
            ("current", current.to_string()),
            ("new", new_password.to_string()),
            ("confirm", confirm.to_string()),
        ]
    };
    for (form, why) in [
        (
            change("wrong password!", new_password),
            "wrong current password",
        ),
        (change(PASSWORD, "something else"), "confirmation differs"),
    ] {
        let mut form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        form.push(("csrf", &csrf));
        let r = laptop.post("/account/password", &form).await;
        assert_eq!(r.status, 400, "{why}");
        assert_eq!(
            phone.get(&apps_path(&did)).await.status,
            200,
            "{why}: nothing changed"
        );
    }

    let form = change(PASSWORD, new_password);
    let mut form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    form.push(("csrf", &csrf));
    let r = laptop.post("/account/password", &form).await;
    assert_eq!(r.status, 303, "{}", r.body);

    // Other devices are signed out; this one is not; apps keep working.
    assert_eq!(phone.get(&apps_path(&did)).await.status, 303);
    assert_eq!(laptop.get(&apps_path(&did)).await.status, 200);
    assert_eq!(refresh(&app, &t).await.status, 200);

    // The old password is refused, the new one accepted.
    let mut tablet = Browser::new(&server, "Tablet Browser/3.0");
    let (r, _) = tablet.sign_in("alice.test", PASSWORD).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Wrong handle, DID or password."));
    let (r, _) = tablet.sign_in("alice.test", new_password).await;
    assert_eq!(r.status, 303, "{}", r.body);
}

#[tokio::test]
async fn password_change_can_revoke_every_app() {
    let env = TestEnv::new();
    let did = env.create_account("alice.test", PASSWORD);
    let server = env.serve(&[]);
    let app = TestClient::loopback(&server, "atproto");
    let t = tokens(&env, &app, &did, "atproto").await;
    let mut laptop = Browser::new(&server, "Laptop Browser/1.0");
    let csrf = laptop.signed_in("alice.test").await;
    let new_password = "a much better passphrase";
    let r = laptop
        .post(
            "/account/password",
            &[
                ("csrf", &csrf),
                ("account", &did),
                ("current", PASSWORD),
                ("new", new_password),
                ("confirm", new_password),
                ("revoke_apps", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(get_session(&server, &app, &t).await, 401);
    let dead = refresh(&app, &t).await;
    assert_eq!((dead.status, dead.error()), (400, "invalid_grant"));
}
