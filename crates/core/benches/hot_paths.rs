//! The per-request work of the token, PAR and resource paths, one function
//! at a time: DPoP proof verification, access-token signing and
//! verification, nonces, client-metadata validation, secret hashing and JWK
//! parsing. Figures are in BENCHMARKS.md; nothing here is asserted by
//! `cargo test`.

use std::hint::black_box;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use atauth_core::client::{validate_metadata, ClientId, ClientMetadata};
use atauth_core::crypto::Es256SigningKey;
use atauth_core::dpop::{self, DpopPolicy, Nonces, ProofInput};
use atauth_core::ids::{self, Code, RefreshToken};
use atauth_core::jwk::{ec_public_jwk, EcPublicJwk};
use atauth_core::jwt;
use atauth_core::keys::{generate_stored_key, Keyset};
use atauth_core::replay::{MemoryReplayStore, ReplayStore, NS_DPOP};
use atauth_core::token::access::Confirmation;
use atauth_core::token::{AccessTokenClaims, ACCESS_TOKEN_TYP};

const NOW: i64 = 1_700_000_040;
const ISSUER: &str = "https://pds.example";
const TOKEN_URL: &str = "https://pds.example/oauth/token";
const XRPC_URL: &str = "https://pds.example/xrpc/com.atproto.server.getSession";
const CLIENT_ID: &str = "https://app.example.com/client-metadata.json";

/// A client's DPoP key and the server's nonces, minting valid proofs.
struct Client {
    key: Es256SigningKey,
    jwk: Value,
    nonces: Nonces,
}

impl Client {
    fn new() -> Self {
        let key = Es256SigningKey::from_pkcs8(&Es256SigningKey::generate_pkcs8().unwrap()).unwrap();
        let jwk = ec_public_jwk(key.public_key(), None);
        Client {
            key,
            jwk,
            nonces: Nonces::new([42u8; 32]),
        }
    }

    /// A fresh proof (new `jti`) for `htm` `htu`, with `ath` if given.
    fn proof(&self, htm: &str, htu: &str, ath: Option<&str>) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk});
        let mut claims = json!({
            "jti": format!("{:032x}", rand::random::<u128>()),
            "htm": htm,
            "htu": htu,
            "iat": NOW,
            "nonce": self.nonces.issue(NOW),
        });
        if let Some(a) = ath {
            claims["ath"] = json!(a);
        }
        let input = format!(
            "{}.{}",
            B64.encode(serde_json::to_vec(&header).unwrap()),
            B64.encode(serde_json::to_vec(&claims).unwrap())
        );
        let sig = self.key.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", B64.encode(sig))
    }
}

fn keyset() -> Keyset {
    Keyset::from_stored(&[generate_stored_key(1).unwrap()]).unwrap()
}

fn access_claims(jkt: &str) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISSUER.into(),
        sub: "did:plc:ewvi7nxzyoun6zhxrhs64oiz".into(),
        aud: "did:web:pds.example".into(),
        iat: NOW,
        exp: NOW + 900,
        jti: "3f2a9c1e5b7d4a6f8e0c2b4d6f8a0c2e".into(),
        cnf: Confirmation { jkt: jkt.into() },
        client_id: CLIENT_ID.into(),
        scope: "atproto transition:generic".into(),
        sid: "ses-3f2a9c1e5b7d4a6f8e0c2b4d6f8a0c2e".into(),
    }
}

fn dpop_proofs(c: &mut Criterion) {
    let client = Client::new();
    let ks = keyset();
    let jkt = EcPublicJwk::from_json(client.jwk.as_object().unwrap())
        .unwrap()
        .thumbprint;
    let token = jwt::sign(&ks, ACCESS_TOKEN_TYP, &access_claims(&jkt)).unwrap();
    let ath = B64.encode(Sha256::digest(token.as_bytes()));
    let as_policy = DpopPolicy::authorization_server();
    let rs_policy = DpopPolicy::resource_server();

    let mut g = c.benchmark_group("dpop");
    // A fresh proof (new jti) and an empty replay store per iteration:
    // minting the proof is setup, not measured; the store insert is.
    g.bench_function("verify_proof/as", |b| {
        b.iter_batched(
            || {
                (
                    client.proof("POST", TOKEN_URL, None),
                    MemoryReplayStore::new(),
                )
            },
            |(proof, store)| {
                let headers = [proof.as_str()];
                let input = ProofInput {
                    dpop_headers: &headers,
                    method: "POST",
                    url: TOKEN_URL,
                    access_token: None,
                };
                dpop::verify_proof(&input, NOW, &client.nonces, &store, &as_policy).unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("verify_proof/rs_with_ath", |b| {
        b.iter_batched(
            || {
                (
                    client.proof("GET", XRPC_URL, Some(&ath)),
                    MemoryReplayStore::new(),
                )
            },
            |(proof, store)| {
                let headers = [proof.as_str()];
                let input = ProofInput {
                    dpop_headers: &headers,
                    method: "GET",
                    url: XRPC_URL,
                    access_token: Some(&token),
                };
                dpop::verify_proof(&input, NOW, &client.nonces, &store, &rs_policy).unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("nonce_issue", |b| {
        b.iter(|| client.nonces.issue(black_box(NOW)))
    });
    let nonce = client.nonces.issue(NOW);
    g.bench_function("nonce_check/current", |b| {
        b.iter(|| {
            assert!(client
                .nonces
                .check(black_box(&nonce), black_box(NOW))
                .is_valid())
        })
    });
    g.finish();

    // The in-memory replay store (tests, development, the resource crate's
    // example) once it holds more than its purge threshold of live entries.
    let mut g = c.benchmark_group("replay_memory");
    for live in [1_000usize, 8_000] {
        let store = MemoryReplayStore::new();
        for i in 0..live {
            store
                .check_and_insert(NS_DPOP, &format!("k{i}"), NOW + 90, NOW)
                .unwrap();
        }
        let mut n = 0u64;
        g.bench_function(format!("check_and_insert/{live}_live"), |b| {
            b.iter(|| {
                n += 1;
                // Expires at once, so the store does not grow while measured.
                store
                    .check_and_insert(NS_DPOP, &format!("n{n}"), NOW, NOW)
                    .unwrap()
            })
        });
    }
    g.finish();
}

fn access_tokens(c: &mut Criterion) {
    let ks = keyset();
    let claims = access_claims("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
    let token = jwt::sign(&ks, ACCESS_TOKEN_TYP, &claims).unwrap();

    let mut g = c.benchmark_group("access_token");
    g.bench_function("sign", |b| {
        b.iter(|| jwt::sign(&ks, ACCESS_TOKEN_TYP, black_box(&claims)).unwrap())
    });
    g.bench_function("verify", |b| {
        b.iter(|| {
            jwt::verify::<AccessTokenClaims>(&ks, black_box(&token), ACCESS_TOKEN_TYP).unwrap()
        })
    });
    g.finish();
}

fn web_client_document() -> Value {
    json!({
        "client_id": CLIENT_ID,
        "client_name": "Example",
        "client_uri": "https://app.example.com/",
        "logo_uri": "https://app.example.com/logo.png",
        "tos_uri": "https://app.example.com/tos",
        "policy_uri": "https://app.example.com/privacy",
        "application_type": "web",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": ["https://app.example.com/callback"],
        "scope": "atproto transition:generic",
        "token_endpoint_auth_method": "none",
        "dpop_bound_access_tokens": true,
    })
}

fn clients(c: &mut Criterion) {
    let bytes = serde_json::to_vec(&web_client_document()).unwrap();
    let doc = ClientMetadata::from_json(&bytes).unwrap();
    let id = ClientId::parse(CLIENT_ID).unwrap();
    validate_metadata(&id, doc.clone()).unwrap();

    let mut g = c.benchmark_group("client");
    g.bench_function("client_id_parse", |b| {
        b.iter(|| ClientId::parse(black_box(CLIENT_ID)).unwrap())
    });
    g.bench_function("validate_metadata", |b| {
        b.iter_batched(
            || doc.clone(),
            |d| validate_metadata(&id, d).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("parse_and_validate_document", |b| {
        b.iter(|| {
            let d = ClientMetadata::from_json(black_box(&bytes)).unwrap();
            validate_metadata(&id, d).unwrap()
        })
    });
    g.finish();
}

fn secrets_and_keys(c: &mut Criterion) {
    let refresh = RefreshToken::generate();
    let client = Client::new();
    let jwk: Map<String, Value> = client.jwk.as_object().unwrap().clone();

    let mut g = c.benchmark_group("secrets");
    g.bench_function("code_generate_and_hash", |b| {
        b.iter(|| Code::generate().hash())
    });
    g.bench_function("secret_hash/refresh_token", |b| {
        b.iter(|| ids::secret_hash(black_box(refresh.as_str())))
    });
    g.finish();

    let mut g = c.benchmark_group("jwk");
    g.bench_function("from_json_and_thumbprint", |b| {
        b.iter(|| EcPublicJwk::from_json(black_box(&jwk)).unwrap())
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = dpop_proofs, access_tokens, clients, secrets_and_keys
}
criterion_main!(benches);
