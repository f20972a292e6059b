//! A small atproto OAuth test client: DPoP proofs (with the nonce retry
//! real clients do), PKCE, PAR, token requests, revocation. It signs with
//! atauth-core's ES256 seam, which is tested on its own.

#![allow(dead_code)]

use std::sync::Mutex;

use atauth_core::crypto::Es256SigningKey;
use atauth_core::jwk::{ec_public_jwk, ec_thumbprint};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{http, Server};

/// Loopback redirect URI of the test clients.
pub const REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// A response, read fully.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub json: Value,
}

impl Reply {
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or("")
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub fn random_b64(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut b);
    B64.encode(b)
}

/// A PKCE pair (verifier, S256 challenge).
pub fn pkce() -> (String, String) {
    let verifier = random_b64(32);
    let challenge = B64.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A DPoP key with its public JWK and thumbprint.
pub struct DpopKey {
    pub key: Es256SigningKey,
    pub jwk: Value,
    pub jkt: String,
}

impl DpopKey {
    pub fn generate() -> DpopKey {
        let key = Es256SigningKey::from_pkcs8(&Es256SigningKey::generate_pkcs8().unwrap()).unwrap();
        let jwk = ec_public_jwk(key.public_key(), None);
        let jkt = ec_thumbprint(key.public_key().x(), key.public_key().y());
        DpopKey { key, jwk, jkt }
    }

    /// Sign any header and claims.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let h = B64.encode(serde_json::to_vec(header).unwrap());
        let c = B64.encode(serde_json::to_vec(claims).unwrap());
        let input = format!("{h}.{c}");
        let sig = self.key.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", B64.encode(sig))
    }

    /// A DPoP proof for `method` + `htu`.
    pub fn proof(&self, method: &str, htu: &str, nonce: Option<&str>, ath: Option<&str>) -> String {
        let mut claims = json!({ "jti": random_b64(16), "htm": method, "htu": htu, "iat": now() });
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        if let Some(a) = ath {
            claims["ath"] = json!(a);
        }
        self.sign(
            &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk}),
            &claims,
        )
    }
}

/// A client talking to one server.
pub struct TestClient {
    pub client_id: String,
    pub issuer: String,
    pub addr: String,
    pub dpop: DpopKey,
    nonce: Mutex<Option<String>>,
}

impl TestClient {
    /// A loopback development client asking for `scope`.
    pub fn loopback(server: &Server, scope: &str) -> TestClient {
        let client_id = format!(
            "http://localhost?redirect_uri={}&scope={}",
            urlencode(REDIRECT_URI),
            urlencode(scope)
        );
        TestClient {
            client_id,
            issuer: server.issuer.clone(),
            addr: server.addr.clone(),
            dpop: DpopKey::generate(),
            nonce: Mutex::new(None),
        }
    }

    pub fn nonce(&self) -> Option<String> {
        self.nonce.lock().unwrap().clone()
    }

    pub fn set_nonce(&self, n: Option<String>) {
        *self.nonce.lock().unwrap() = n;
    }

    /// POST a form without any DPoP header.
    pub async fn post_raw(
        &self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = http().post(format!("{}{}", self.addr, path)).form(form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        read(req.send().await.expect("request")).await
    }

    /// POST a form with a DPoP proof made by `key`, retrying once on
    /// `use_dpop_nonce` as real clients do.
    pub async fn post_dpop_with(&self, key: &DpopKey, path: &str, form: &[(&str, &str)]) -> Reply {
        let htu = format!("{}{}", self.issuer, path);
        for attempt in 0..2 {
            let proof = key.proof("POST", &htu, self.nonce().as_deref(), None);
            let reply = self.post_raw(path, form, &[("DPoP", &proof)]).await;
            let fresh = reply.header("dpop-nonce").map(str::to_string);
            let retry =
                reply.error() == "use_dpop_nonce" && fresh.is_some() && fresh != self.nonce();
            if fresh.is_some() {
                self.set_nonce(fresh);
            }
            if !(retry && attempt == 0) {
                return reply;
            }
        }
        unreachable!()
    }

    pub async fn post_dpop(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        self.post_dpop_with(&self.dpop, path, form).await
    }

    /// A PAR with the standard parameters, overridden/extended by `extra`
    /// (an empty value removes a parameter). Returns the reply and the
    /// PKCE verifier.
    pub async fn par(&self, extra: &[(&str, &str)]) -> (Reply, String) {
        let (verifier, challenge) = pkce();
        let state = random_b64(12);
        let mut form: Vec<(String, String)> = vec![
            ("client_id".into(), self.client_id.clone()),
            ("response_type".into(), "code".into()),
            ("redirect_uri".into(), REDIRECT_URI.into()),
            ("scope".into(), "atproto transition:generic".into()),
            ("state".into(), state),
            ("code_challenge".into(), challenge),
            ("code_challenge_method".into(), "S256".into()),
        ];
        for (k, v) in extra {
            form.retain(|(fk, _)| fk != k);
            if !v.is_empty() {
                form.push((k.to_string(), v.to_string()));
            }
        }
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        (self.post_dpop("/oauth/par", &pairs).await, verifier)
    }
}

pub async fn read(r: reqwest::Response) -> Reply {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.bytes().await.unwrap_or_default();
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        json,
    }
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

// ---------------------------------------------------------------------------
// Confidential clients (`private_key_jwt`)
// ---------------------------------------------------------------------------

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

impl DpopKey {
    /// The DPoP key of a PKCS#8 private key.
    pub fn from_pkcs8(der: &[u8]) -> DpopKey {
        let key = Es256SigningKey::from_pkcs8(der).unwrap();
        let jwk = ec_public_jwk(key.public_key(), None);
        let jkt = ec_thumbprint(key.public_key().x(), key.public_key().y());
        DpopKey { key, jwk, jkt }
    }
}

/// A confidential client's signing key: an ES256 key and its `kid`.
pub struct ClientKey {
    pub kid: String,
    pub key: DpopKey,
    pkcs8: Vec<u8>,
}

impl ClientKey {
    pub fn generate(kid: &str) -> ClientKey {
        let pkcs8 = Es256SigningKey::generate_pkcs8().unwrap();
        ClientKey {
            kid: kid.to_string(),
            key: DpopKey::from_pkcs8(&pkcs8),
            pkcs8,
        }
    }

    /// The same private key used as a DPoP key (which the server must refuse).
    pub fn as_dpop_key(&self) -> DpopKey {
        DpopKey::from_pkcs8(&self.pkcs8)
    }

    /// The public JWK as published in the client's `jwks`.
    pub fn public_jwk(&self) -> Value {
        let mut jwk = ec_public_jwk(self.key.key.public_key(), Some(&self.kid));
        jwk["alg"] = json!("ES256");
        jwk["use"] = json!("sig");
        jwk
    }

    /// The key's RFC 7638 thumbprint.
    pub fn jkt(&self) -> &str {
        &self.key.jkt
    }

    /// An assertion with exactly these claims (header `alg` ES256, `kid`).
    pub fn sign_claims(&self, claims: &Value) -> String {
        self.key
            .sign(&json!({"alg": "ES256", "kid": self.kid}), claims)
    }

    /// The standard claims: `iss = sub = client_id`, `aud`, a fresh `jti`, `iat`.
    pub fn claims(client_id: &str, aud: &str) -> Value {
        json!({
            "iss": client_id,
            "sub": client_id,
            "aud": aud,
            "jti": random_b64(16),
            "iat": now(),
        })
    }

    /// A fresh assertion for `client_id` addressed to `aud`.
    pub fn assertion(&self, client_id: &str, aud: &str) -> String {
        self.sign_claims(&Self::claims(client_id, aud))
    }
}

/// `form` plus `client_assertion_type` and `client_assertion`.
pub fn with_assertion<'a>(
    form: &[(&'a str, &'a str)],
    assertion: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut v = form.to_vec();
    v.push(("client_assertion_type", JWT_BEARER));
    v.push(("client_assertion", assertion));
    v
}

/// A client metadata document served on a loopback port (`--dev` servers
/// accept `http://127.0.0.1:<port>/<path>` client_ids). The document can be
/// swapped at any time; each GET gets the current one, `application/json`,
/// without `Cache-Control` (so the server's default cache lifetime applies).
pub struct DocumentHost {
    /// `http://127.0.0.1:PORT`
    pub origin: String,
    /// The document's URL: the client_id.
    pub url: String,
    doc: std::sync::Arc<Mutex<String>>,
    fetches: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl DocumentHost {
    /// Serve on 127.0.0.1 with a free port, at `path` (starting with `/`).
    /// Other paths answer 404. Runs on its own thread, so it serves while
    /// the test blocks.
    pub fn start(path: &str) -> DocumentHost {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind document host");
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let doc = std::sync::Arc::new(Mutex::new(String::from("{}")));
        let fetches = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (served, count, want) = (doc.clone(), fetches.clone(), path.to_string());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (served, count, want) = (served.clone(), count.clone(), want.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf);
                    let target = head.split_whitespace().nth(1).unwrap_or("");
                    let (status, body) = if target == want {
                        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        ("200 OK", served.lock().unwrap().clone())
                    } else {
                        ("404 Not Found", String::from("{}"))
                    };
                    let reply = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(reply.as_bytes());
                    let _ = stream.flush();
                });
            }
        });
        DocumentHost {
            url: format!("{origin}{path}"),
            origin,
            doc,
            fetches,
        }
    }

    /// Serve `doc` from now on.
    pub fn publish(&self, doc: &Value) {
        *self.doc.lock().unwrap() = doc.to_string();
    }

    /// How many times the document has been fetched.
    pub fn fetches(&self) -> usize {
        self.fetches.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl TestClient {
    /// A confidential client named by `client_id` (the URL of a hosted
    /// document); it signs its assertions with a [`ClientKey`] per request.
    pub fn confidential(server: &Server, client_id: &str) -> TestClient {
        TestClient {
            client_id: client_id.to_string(),
            issuer: server.issuer.clone(),
            addr: server.addr.clone(),
            dpop: DpopKey::generate(),
            nonce: Mutex::new(None),
        }
    }

    /// A fresh assertion by `key` for this client, `aud` = the issuer.
    pub fn assertion(&self, key: &ClientKey) -> String {
        key.assertion(&self.client_id, &self.issuer)
    }
}
