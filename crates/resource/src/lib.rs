//! atauth-resource: the resource-server side of atauth (SPEC §8).
//!
//! A PDS (or atauth's own XRPC endpoints) uses a [`Verifier`] to accept
//! the DPoP-bound access tokens atauth issues: `Authorization: DPoP
//! <token>` plus a DPoP proof (RFC 9449 §7), the token an ES256 `at+jwt`
//! (RFC 9068) from the configured issuer, for this resource (`aud`), not
//! expired, bound to the proof key (`cnf.jkt`, RFC 9449 §6.1), and in
//! stateful mode with its OAuth session still alive. Refusals are 401 with
//! `WWW-Authenticate: DPoP error="…"` and the same code as JSON body, plus
//! `DPoP-Nonce`; a missing permission is 403 `insufficient_scope`.
//!
//! - [`Verifier`] (plain values in, [`Caller`] out) depends on core only
//!   and needs no web framework;
//! - [`actix`] wraps it in an extractor, [`AuthenticatedCaller`].
//!
//! Ports: [`KeySource`] (the issuer's keys), core's
//! [`ReplayStore`](atauth_core::replay::ReplayStore) (proof `jti`s) and
//! [`SessionCheck`] (stateful mode).
//!
//! # Remote mode (entryway), not done yet
//! A PDS whose authorization server runs elsewhere needs two more ports:
//! a [`KeySource`] fed from the AS's JWKS (fetched and refreshed on an
//! unknown `kid`), which needs core's `jwt::verify` to accept public-only
//! keys, and a [`SessionCheck`] answered by token introspection (RFC 7662)
//! or left out (stateless mode: revocation then takes effect when the
//! token expires). The nonce secret must be shared with the AS when both
//! answer on one origin.

pub mod actix;
pub mod caller;
pub mod challenge;
pub mod keys;
pub mod session;
pub mod verifier;

#[cfg(test)]
mod tests;

pub use actix::{error_response, nonce_header, AuthError, AuthenticatedCaller, VerifierProvider};
pub use caller::{Caller, Permission};
pub use keys::{KeySource, LiveKeyset};
pub use session::{SessionCheck, StoreSessionCheck};
pub use verifier::{Clock, RequestParts, Verifier};
