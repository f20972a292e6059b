//! Outbound HTTP: the SSRF-safe fetcher (being written).
