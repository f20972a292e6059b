//! The scope parser and the requested-scope rules (RFC 6749 §3.3, atproto
//! scopes), through the public API only (`Scope::parse`,
//! `validate_requested`).
//!
//! Input: first line the requested `scope`, the rest the client's declared
//! scope (space-separated, as in its metadata).

#![no_main]

use atauth_core::scope::{validate_requested, Scope};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let (first, rest) = common::split_line(data);
    let (Some(raw), Some(declared)) = (common::text(first), common::text(rest)) else {
        return;
    };
    if let Ok(scope) = Scope::parse(raw) {
        // What is stored is the canonical string; it must parse back to
        // the same scope.
        let s = scope.to_string();
        match Scope::parse(&s) {
            Ok(again) => assert_eq!(again, scope, "{raw:?}"),
            Err(e) => panic!("canonical scope {s:?} of {raw:?} refused: {e:?}"),
        }
    }
    let declared: Vec<String> = declared.split(' ').map(str::to_string).collect();
    if let Ok(scope) = validate_requested(raw, &declared) {
        // A granted scope is a valid scope.
        assert!(Scope::parse(&scope.to_string()).is_ok(), "{raw:?}");
    }
});
