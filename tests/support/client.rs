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
