//! The authorization pages, driven over HTTP against a real server on a
//! loopback port with a fresh SQLite store. One test binary; a module per
//! area.

mod consent;
mod csrf;
mod entry;
mod pages;
mod redirects;
mod sign_in;
mod support;
