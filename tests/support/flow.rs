//! Helpers for tests that need a whole login and resource calls: start a
//! server with extra flags, get tokens (PAR, approval through the store,
//! code exchange), call an XRPC endpoint with a DPoP-bound token.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use atauth_core::ids::{Code, RequestId};
use atauth_core::store::RequestStore;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::client::{now, read, DpopKey, Reply, TestClient, REDIRECT_URI};
use super::{http, Server, TestEnv};

/// The XRPC endpoint the resource tests call.
pub const GET_SESSION: &str = "/xrpc/com.atproto.server.getSession";

/// A free loopback port (bound, read, released: a later bind may race,
/// which is rare enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl TestEnv {
    /// `atauth serve --dev <args>` with extra environment; `args` must
    /// include `--listen`.
    pub fn serve_with(&self, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut c = self.command();
        c.arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("spawn atauth serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!("atauth serve {args:?} did not start within 60 s");
        };
        let mut words = line.split_whitespace();
        let addr = words.nth(3).expect("address in start line").to_string();
        let issuer = words.nth(1).expect("issuer in start line").to_string();
        Server {
            child,
            addr,
            issuer,
        }
    }
}

/// PAR with `client` at its server, approve the request for `did` in
/// `env`'s store (as the pages would), exchange the code. The token
/// response, asserted 200.
pub async fn login(env: &TestEnv, client: &TestClient, did: &str) -> Reply {
    let (r, verifier) = client.par(&[]).await;
    assert_eq!(r.status, 201, "PAR: {:?}", r.json);
    let id = RequestId::from_request_uri(r.json["request_uri"].as_str().expect("request_uri"))
        .expect("request id");
    let code = Code::generate();
    let did = atauth_core::identity::Did::parse(did).expect("did");
    assert!(env
        .store()
        .issue_code(id.as_str(), &did, &code.hash(), now() + 300)
        .expect("issue code"));
    let t = client
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
    assert_eq!(t.status, 200, "token: {:?}", t.json);
    t
}

/// One `GET <addr><path>` with `Authorization: DPoP <token>` and a proof
/// for `<origin><path>` carrying `nonce` (if any).
pub async fn get_once(
    key: &DpopKey,
    addr: &str,
    origin: &str,
    path: &str,
    token: &str,
    nonce: Option<&str>,
) -> Reply {
    let ath = B64.encode(Sha256::digest(token.as_bytes()));
    let proof = key.proof("GET", &format!("{origin}{path}"), nonce, Some(&ath));
    let resp = http()
        .get(format!("{addr}{path}"))
        .header("Authorization", format!("DPoP {token}"))
        .header("DPoP", proof)
        .send()
        .await
        .expect("request");
    read(resp).await
}

/// [`get_once`] without a nonce, retried once with the server's nonce on
/// `use_dpop_nonce`, as clients do.
pub async fn get_resource(
    key: &DpopKey,
    addr: &str,
    origin: &str,
    path: &str,
    token: &str,
) -> Reply {
    let first = get_once(key, addr, origin, path, token, None).await;
    if first.error() != "use_dpop_nonce" {
        return first;
    }
    let nonce = first.header("dpop-nonce").expect("nonce").to_string();
    get_once(key, addr, origin, path, token, Some(&nonce)).await
}

/// Revoke `token` at the client's server.
pub async fn revoke(client: &TestClient, token: &str) {
    let r = client
        .post_dpop(
            "/oauth/revoke",
            &[("client_id", &client.client_id), ("token", token)],
        )
        .await;
    assert_eq!(r.status, 200, "revoke: {:?}", r.json);
}
