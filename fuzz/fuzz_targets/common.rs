//! Shared by the fuzz targets: fixed inputs, so a crash reproduces from
//! its input file alone.

#![allow(dead_code)]

/// The server's clock in every target.
pub const NOW: i64 = 1_700_000_000;
/// The issuer the targets pretend to be.
pub const ISSUER: &str = "https://auth.example.com";
/// The token endpoint URL a proof is checked against.
pub const TOKEN_URL: &str = "https://auth.example.com/oauth/token";

/// Split `data` at the first `\n`: (first line, the rest).
pub fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// The input as text, or `None` (the parsers take `&str`; invalid UTF-8
/// never reaches them, actix refuses it first).
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}
