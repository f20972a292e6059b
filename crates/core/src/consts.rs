//! Every lifetime and limit in one place, with its unit in the name and its
//! source in the comment. "Policy" marks a local choice; the others cite the
//! rule they follow.

/// Access-token lifetime by default. atproto OAuth spec: under 30 minutes;
/// 15 minutes chosen as a middle ground for stateful revocation.
pub const ACCESS_TOKEN_LIFETIME_SECS: i64 = 15 * 60;
/// Hard cap on access-token lifetime (atproto OAuth spec: "less than 30 minutes").
pub const ACCESS_TOKEN_LIFETIME_MAX_SECS: i64 = 30 * 60;
/// Public-client session lifetime (atproto OAuth spec: at most 2 weeks).
pub const PUBLIC_SESSION_LIFETIME_SECS: i64 = 14 * 24 * 3600;
/// Public-client refresh-token lifetime (atproto OAuth spec: at most 2 weeks).
pub const PUBLIC_REFRESH_LIFETIME_SECS: i64 = 14 * 24 * 3600;
/// Confidential-client refresh-token lifetime cap (atproto OAuth spec: 180 days).
pub const CONFIDENTIAL_REFRESH_LIFETIME_SECS: i64 = 180 * 24 * 3600;
/// Confidential-client session lifetime. Policy (the spec allows unlimited).
pub const CONFIDENTIAL_SESSION_LIFETIME_SECS: i64 = 2 * 365 * 24 * 3600;
/// Pushed authorization request lifetime (RFC 9126 §2.2 suggests short;
/// reference: 5 minutes).
pub const PAR_LIFETIME_SECS: i64 = 5 * 60;
/// Authorization code lifetime (RFC 6749 §4.1.2: short, 10 minutes max
/// recommended; reference: 5 minutes).
pub const CODE_LIFETIME_SECS: i64 = 5 * 60;
/// DPoP nonce rotation step. Reference design: 60 s, previous/current/next
/// accepted, so a nonce lives at most 3 steps (< 5 minutes, SPEC §7).
pub const DPOP_NONCE_STEP_SECS: i64 = 60;
/// Metadata documents' `Cache-Control: max-age`. Policy (reference: 300 s).
pub const METADATA_MAX_AGE_SECS: u32 = 300;
/// Largest request body any OAuth endpoint reads. Policy.
pub const MAX_FORM_BODY_BYTES: usize = 64 * 1024;
