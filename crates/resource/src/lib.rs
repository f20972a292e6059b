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
//! [`ReplayStore`](atauth_core::replay::ReplayStore) (proof `jti`s),
//! [`SessionCheck`] (stateful mode, sessions in the same database) and
//! [`TokenCheck`] (stateful mode, sessions on another host).
//!
//! # Remote mode (entryway)
//! A PDS whose authorization server runs elsewhere (SPEC §2) plugs in:
//! - [`RemoteKeys`] as the [`KeySource`]: the AS's JWKS, fetched through a
//!   [`JwksFetch`] the PDS provides, refreshed when a token names an
//!   unknown `kid` (rate-limited) and when the copy grows old;
//! - [`IntrospectionCheck`] as the [`TokenCheck`]: RFC 7662 introspection
//!   at the AS through an [`Introspect`] client, answers cached briefly; or
//!   no check at all (stateless: a revocation then takes effect when the
//!   token expires, at most the access-token lifetime later);
//! - the AS's nonce secret, when clients should reuse one nonce for both
//!   (SPEC §7), or a secret of its own (clients then retry once per
//!   origin).
//!
//! The network steps are async ([`Verifier::prepare`],
//! [`Verifier::confirm`]); [`Verifier::authenticate`] and the actix
//! extractor run them around the synchronous [`Verifier::verify`].

pub mod actix;
pub mod caller;
pub mod challenge;
pub mod introspection;
pub mod keys;
pub mod remote_keys;
pub mod session;
mod token_cache;
pub mod verifier;

#[cfg(test)]
mod tests;

pub use actix::{
    error_response, nonce_header, render_oauth_error, AuthError, AuthenticatedCaller,
    VerifierProvider,
};
pub use caller::{Caller, Permission};
pub use introspection::{Introspect, IntrospectionCheck, TokenCheck};
pub use keys::{BoxFuture, IssuerKeys, KeySource, LiveKeyset};
pub use remote_keys::{JwksFetch, RemoteKeys, RemoteKeysPolicy};
pub use session::{SessionCheck, StoreSessionCheck};
pub use verifier::{Clock, RequestParts, Verifier};
