//! The form bodies of PAR, token and revoke: `form::FormParams::parse`
//! (RFC 6749 §3.1, no repeated parameter), then the parameter rules each
//! endpoint runs on them, for a loopback and a web client.
//!
//! Input: the request body (`application/x-www-form-urlencoded`).
//!
//! Properties: no panic; PAR accepts only what carries its required
//! parameters; every refusal is an error the server can send.

#![no_main]

use std::sync::OnceLock;

use atauth_core::client::auth::{authenticate_client, requested_client_id, ClientCredentials};
use atauth_core::client::client_id::ClientId;
use atauth_core::client::metadata::{validate_metadata, ClientMetadata, ValidatedClient};
use atauth_core::dpop::check_dpop_jkt;
use atauth_core::form::FormParams;
use atauth_core::keys::{generate_stored_key, Keyset};
use atauth_core::replay::MemoryReplayStore;
use atauth_core::store::memory::MemoryStore;
use atauth_core::token::grant::Grant;
use atauth_core::token::revoke::revoke;
use atauth_core::{par, pkce, OAuthError};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const WEB_CLIENT_ID: &str = "https://app.example.com/client-metadata.json";
/// A valid S256 challenge, for the token request's `code_verifier`.
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

struct Fixtures {
    loopback: ValidatedClient,
    web: ValidatedClient,
    keyset: Keyset,
    store: MemoryStore,
}

fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| {
        let id = ClientId::parse("http://localhost").expect("loopback client_id");
        let doc = id.loopback_metadata().expect("loopback metadata");
        let loopback = validate_metadata(&id, doc).expect("loopback client");
        let doc = serde_json::json!({
            "client_id": WEB_CLIENT_ID,
            "application_type": "web",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "redirect_uris": ["https://app.example.com/callback"],
            "scope": "atproto transition:generic",
            "token_endpoint_auth_method": "none",
            "dpop_bound_access_tokens": true,
        });
        let id = ClientId::parse(WEB_CLIENT_ID).expect("web client_id");
        let doc = ClientMetadata::from_value(doc).expect("web metadata");
        let web = validate_metadata(&id, doc).expect("web client");
        let key = generate_stored_key(common::NOW).expect("key");
        let keyset = Keyset::from_stored(&[key]).expect("keyset");
        Fixtures {
            loopback,
            web,
            keyset,
            store: MemoryStore::new(),
        }
    })
}

fn sendable(e: &OAuthError) {
    assert!((400..600).contains(&e.status), "status {}", e.status);
}

fuzz_target!(|data: &[u8]| {
    let params = match FormParams::parse(data) {
        Ok(p) => p,
        Err(e) => return sendable(&e),
    };
    let f = fixtures();

    // PAR (RFC 9126 §2.1, atproto profile).
    for client in [&f.loopback, &f.web] {
        let checked = par::no_request_uri_or_object(&params)
            .and_then(|()| check_dpop_jkt(params.get("dpop_jkt"), None))
            .and_then(|jkt| par::validate(&params, client, jkt));
        match checked {
            Ok(req) => {
                for name in [
                    "response_type",
                    "redirect_uri",
                    "scope",
                    "state",
                    "code_challenge",
                ] {
                    assert!(params.has(name), "PAR accepted without {name}");
                }
                assert!(client.match_redirect_uri(&req.redirect_uri).is_some());
            }
            Err(e) => sendable(&e),
        }
    }

    // Token (RFC 6749 §4.1.3, §6; RFC 7523 §3).
    if let Err(e) = Grant::from_params(&params) {
        sendable(&e);
    }
    if let Err(e) = requested_client_id(params.get("client_id"), params.get("client_assertion")) {
        sendable(&e);
    }
    if let Err(e) = pkce::verify(params.get("code_verifier"), CHALLENGE) {
        sendable(&e);
    }
    let creds = ClientCredentials {
        client_assertion_type: params.get("client_assertion_type"),
        client_assertion: params.get("client_assertion"),
    };
    let replay = MemoryReplayStore::new();
    let auth = authenticate_client(
        &f.web,
        None,
        creds,
        common::ISSUER,
        common::NOW,
        &Default::default(),
        &replay,
    );
    if let Err(e) = auth {
        sendable(&e);
    }

    // Revoke (RFC 7009 §2.1): nothing was issued, so nothing is revoked.
    match revoke(&f.store, &f.keyset, WEB_CLIENT_ID, params.get("token")) {
        Ok(r) => assert_eq!(r, atauth_core::token::revoke::Revocation::Nothing),
        Err(e) => sendable(&e),
    }
});
