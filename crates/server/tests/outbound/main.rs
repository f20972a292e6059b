//! Outbound HTTP: the SSRF-safe fetcher, its caches, and the client and
//! identity resolvers built on it. One test binary; a module per area.

mod cache;
mod clients;
mod fetch;
mod identity;
mod support;
