//! `client_id` parsing, both forms: discoverable (https URL of a metadata
//! document) and the `http://localhost` loopback client, under the strict
//! policy and the development one; the loopback client's generated
//! metadata then goes through the metadata rules.
//!
//! Input: the raw `client_id`.

#![no_main]

use atauth_core::client::check::check_client_id;
use atauth_core::client::client_id::{ClientId, ClientIdPolicy};
use atauth_core::client::metadata::validate_metadata;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some(raw) = common::text(data) else {
        return;
    };
    let dev = ClientIdPolicy {
        allow_loopback_http_documents: true,
    };
    let strict = ClientId::parse(raw);
    let relaxed = ClientId::parse_with(raw, &dev);
    // The development policy only adds: whatever the strict one accepts,
    // it accepts the same way.
    if let Ok(id) = &strict {
        assert_eq!(
            relaxed.as_ref().ok(),
            Some(id),
            "dev policy refused {raw:?}"
        );
        // A client_id is kept exactly as sent (it is compared as a string).
        assert_eq!(id.as_str(), raw);
    }
    // The check report and the parser agree.
    let (_, checked) = check_client_id(raw);
    assert_eq!(
        checked.is_some(),
        strict.is_ok(),
        "check and parse disagree on {raw:?}"
    );
    for id in [strict, relaxed].into_iter().flatten() {
        let _ = id.is_loopback();
        let _ = id.host();
        if let Some(doc) = id.loopback_metadata() {
            // The metadata made up for a loopback client goes through the
            // same rules as a fetched document (a `scope` parameter the
            // rules refuse, e.g. without `atproto`, is refused there).
            match validate_metadata(&id, doc) {
                Ok(client) => assert!(!client.redirect_uris.is_empty()),
                Err(e) => {
                    let _ = e.to_endpoint_error();
                }
            }
        }
    }
});
