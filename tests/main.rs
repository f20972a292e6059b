//! Integration tests of the whole `atauth` binary. Each test starts its own
//! server on a loopback port with a fresh data directory; no test depends
//! on another's order.
//!
//! - `support`: starting the binary, running CLI commands.
//! - `documents`: discovery documents, JWKS, CORS, errors, health.
//! - `dev_identity`: resolveHandle and the PLC-shaped DID documents.
//! - `cli`: accounts, keys and configuration from the command line.

mod support;

mod account;
mod cli;
mod confidential;
mod dev_identity;
mod documents;
mod dpop;
mod entryway;
mod interop;
mod interop_rust;
mod introspect;
mod limits;
mod mail;
mod metrics;
mod par;
mod token;
