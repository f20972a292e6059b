//! The DPoP proof parser and verifier (RFC 9449 §4.3), end to end through
//! `dpop::verify_proof`.
//!
//! Input: the first byte picks the mode, the rest is the data.
//! - bit 0 clear: the data are the `DPoP` header values received, one per
//!   line (none, one or several), checked as they are.
//! - bit 0 set: the data are a JOSE header (first line) and a payload (the
//!   rest) that the target signs with a fixed ES256 key, so the fuzzer
//!   reaches the checks after the signature. In the payload, `NONCE`
//!   becomes a valid server nonce and `ATH` the hash of the access token;
//!   with bit 1 set, the header (if a JSON object) gets the key's `jwk`.
//! - bit 2: resource-server context, with an access token.
//! - bit 3: nonces not required.
//!
//! Properties: no panic; a proof accepted once is refused the second
//! time (`jti` replay, §11.1); an accepted proof's `jkt` is the key's
//! thumbprint.

#![no_main]

use std::sync::OnceLock;

use atauth_core::crypto::Es256SigningKey;
use atauth_core::dpop::{verify_proof, Context, DpopPolicy, Nonces, ProofInput};
use atauth_core::jwk::ec_public_jwk;
use atauth_core::replay::MemoryReplayStore;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use p256::pkcs8::EncodePrivateKey;
use sha2::{Digest, Sha256};

#[path = "common.rs"]
mod common;

const ACCESS_TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.fuzz.token";

fn key() -> &'static Es256SigningKey {
    static KEY: OnceLock<Es256SigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let secret = p256::SecretKey::from_slice(&[7u8; 32]).expect("fixed scalar");
        let der = secret.to_pkcs8_der().expect("pkcs8");
        Es256SigningKey::from_pkcs8(der.as_bytes()).expect("fixed key")
    })
}

fn nonces() -> &'static Nonces {
    static NONCES: OnceLock<Nonces> = OnceLock::new();
    NONCES.get_or_init(|| Nonces::new([9u8; 32]))
}

/// `header.payload.signature`, signed with the fixed key.
fn signed(header: &[u8], payload: &[u8], add_jwk: bool) -> Option<String> {
    let mut header = header.to_vec();
    if add_jwk {
        if let Ok(serde_json::Value::Object(mut h)) = serde_json::from_slice(&header) {
            h.insert("jwk".into(), ec_public_jwk(key().public_key(), None));
            header = serde_json::to_vec(&h).ok()?;
        }
    }
    let payload = String::from_utf8_lossy(payload)
        .replace("NONCE", &nonces().issue(common::NOW))
        .replace("ATH", &B64.encode(Sha256::digest(ACCESS_TOKEN.as_bytes())));
    let input = format!("{}.{}", B64.encode(&header), B64.encode(payload.as_bytes()));
    let sig = key().sign(input.as_bytes()).ok()?;
    Some(format!("{input}.{}", B64.encode(sig)))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let headers: Vec<String> = if mode & 1 == 0 {
        let Some(text) = common::text(data) else {
            return;
        };
        if text.is_empty() {
            Vec::new()
        } else {
            text.split('\n').map(str::to_string).collect()
        }
    } else {
        let (header, payload) = common::split_line(data);
        match signed(header, payload, mode & 2 != 0) {
            Some(jwt) => vec![jwt],
            None => return,
        }
    };
    let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    let resource = mode & 4 != 0;
    let mut policy = if resource {
        DpopPolicy::resource_server()
    } else {
        DpopPolicy::authorization_server()
    };
    policy.require_nonce = mode & 8 == 0;
    let input = ProofInput {
        dpop_headers: &header_refs,
        method: "POST",
        url: common::TOKEN_URL,
        access_token: resource.then_some(ACCESS_TOKEN),
    };
    let replay = MemoryReplayStore::new();
    match verify_proof(&input, common::NOW, nonces(), &replay, &policy) {
        Ok(proof) => {
            assert_eq!(proof.jkt.len(), 43, "jkt is a base64url SHA-256");
            let again = verify_proof(&input, common::NOW, nonces(), &replay, &policy);
            assert!(again.is_err(), "a proof was accepted twice");
        }
        Err(e) => {
            // Errors have a code and a status the server can send.
            assert!((400..600).contains(&e.status), "status {}", e.status);
            if policy.context == Context::ResourceServer {
                let _ = e.headers.len();
            }
        }
    }
});
