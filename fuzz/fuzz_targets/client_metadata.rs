//! The client-metadata validator: the document's JSON, then every rule of
//! the atproto profile (`validate_metadata`), and the `atauth client check`
//! report over the same input.
//!
//! Input: first line the `client_id`, the rest the metadata document as
//! fetched. An empty first line uses a fixed https `client_id`, so the
//! fuzzer spends its time on the document.

#![no_main]

use atauth_core::client::check::check_client;
use atauth_core::client::client_id::{ClientId, ClientIdPolicy};
use atauth_core::client::metadata::{validate_metadata, ClientMetadata};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const FIXED_CLIENT_ID: &str = "https://app.example.com/client-metadata.json";

fuzz_target!(|data: &[u8]| {
    let (first, document) = common::split_line(data);
    let Some(raw_id) = common::text(first) else {
        return;
    };
    let raw_id = if raw_id.is_empty() {
        FIXED_CLIENT_ID
    } else {
        raw_id
    };
    let dev = ClientIdPolicy {
        allow_loopback_http_documents: true,
    };
    if let Ok(id) = ClientId::parse_with(raw_id, &dev) {
        validate(&id, document);
    }
    // The `atauth client check` report never panics, and under the strict
    // policy it accepts exactly what the validator accepts.
    let report = check_client(raw_id, Some(document));
    if let Ok(id) = ClientId::parse(raw_id) {
        let accepted = match id.loopback_metadata() {
            Some(doc) => validate_metadata(&id, doc).is_ok(),
            None => validate(&id, document),
        };
        assert_eq!(
            report.accepted,
            accepted,
            "client check and validator disagree: {:?}",
            report.failures().collect::<Vec<_>>()
        );
    }
});

/// Parse and validate the document; whether it was accepted.
fn validate(id: &ClientId, document: &[u8]) -> bool {
    let doc = match ClientMetadata::from_json(document) {
        Ok(doc) => doc,
        Err(e) => {
            let _ = e.description();
            return false;
        }
    };
    match validate_metadata(id, doc) {
        Ok(client) => {
            // A valid client answers its questions without panicking, and
            // each registered redirect URI matches itself.
            let _ = client.is_confidential();
            let _ = client.allows_refresh_token();
            let _ = client.default_redirect_uri();
            for uri in &client.redirect_uris {
                assert!(
                    client.match_redirect_uri(uri).is_some(),
                    "registered {uri:?} does not match itself"
                );
            }
            true
        }
        Err(e) => {
            let _ = e.description();
            let _ = e.to_endpoint_error();
            false
        }
    }
}
