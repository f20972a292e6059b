//! The errors a resource server answers with, in the RFC 6750 §3 /
//! RFC 9449 §7.1 shape: a `WWW-Authenticate: DPoP …` challenge plus the
//! same code as an RFC 6749 §5.2 JSON body (SPEC §8: "some clients read
//! only the body, others only the header").
//!
//! `invalid_token`, `invalid_dpop_proof` and `use_dpop_nonce` are shaped
//! by [`atauth_core::dpop::resource_server_error`]; this module adds the
//! cases core does not know: no credentials at all, a request that is
//! malformed, and `insufficient_scope`.

use atauth_core::dpop::{resource_server_error, with_dpop_challenge, DPOP_ALGS};
use atauth_core::{ErrorCode, OAuthError};

/// Header names, as sent.
pub const WWW_AUTHENTICATE: &str = "WWW-Authenticate";
/// RFC 9449 §8.
pub const DPOP_NONCE: &str = "DPoP-Nonce";

/// `invalid_token` (RFC 6750 §3.1), 401 with its `DPoP` challenge.
pub fn invalid_token(description: impl Into<String>) -> OAuthError {
    resource_server_error(OAuthError::invalid_token(description))
}

/// RFC 6750 §3.1: "If the request lacks any authentication information
/// (e.g., the client was unaware that authentication is necessary or
/// attempted using an unsupported authentication method), the resource
/// server SHOULD NOT include an error code or other error information" in
/// the challenge, so the header is the bare `DPoP algs="ES256"` of
/// RFC 9449 §7.1. Status 401. The body still needs a code: it is
/// `invalid_request`, as the reference verifier answers.
pub fn missing_credentials(description: impl Into<String>) -> OAuthError {
    let challenge = format!("DPoP algs=\"{DPOP_ALGS}\"");
    OAuthError::invalid_request(description)
        .with_status(401)
        .with_header(WWW_AUTHENTICATE, challenge)
}

/// RFC 6750 §3.1 `invalid_request` (400): the credentials are present but
/// the request is malformed (e.g. two `Authorization` headers), with its
/// `DPoP` challenge.
pub fn invalid_request(description: impl Into<String>) -> OAuthError {
    with_dpop_challenge(OAuthError::invalid_request(description))
}

/// RFC 6750 §3.1 `insufficient_scope`: 403, "The request requires higher
/// privileges than provided by the access token", with its `DPoP`
/// challenge.
pub fn insufficient_scope(description: impl Into<String>) -> OAuthError {
    with_dpop_challenge(OAuthError::new(ErrorCode::InsufficientScope, description))
}

/// Add the current `DPoP-Nonce` unless the error carries one already
/// (`use_dpop_nonce` does). RFC 9449 §8: the server may hand out a new nonce
/// on any response; SPEC §7: every answer carries it, so a client never
/// needs an extra round trip to learn it.
pub fn with_nonce(err: OAuthError, nonce: impl FnOnce() -> String) -> OAuthError {
    if err
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case(DPOP_NONCE))
    {
        err
    } else {
        err.with_header(DPOP_NONCE, nonce())
    }
}

/// The value of a header the error carries, if any (for tests and logs).
pub fn header<'e>(err: &'e OAuthError, name: &str) -> Option<&'e str> {
    err.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_cannot_break_out_of_the_quoted_string() {
        let e = insufficient_scope("a \"quoted\" \\ value § 3 é");
        assert_eq!(
            header(&e, WWW_AUTHENTICATE),
            Some(
                "DPoP error=\"insufficient_scope\", error_description=\"a 'quoted' / value section  3 ?\", \
                 algs=\"ES256\""
            )
        );
        assert_eq!(e.status, 403);
    }

    #[test]
    fn missing_credentials_has_no_error_code_in_the_challenge() {
        let e = missing_credentials("none");
        assert_eq!(e.status, 401);
        assert_eq!(header(&e, WWW_AUTHENTICATE), Some("DPoP algs=\"ES256\""));
        assert_eq!(e.error, ErrorCode::InvalidRequest);
    }

    #[test]
    fn with_nonce_keeps_an_existing_nonce() {
        let e = with_nonce(OAuthError::use_dpop_nonce("n1"), || "n2".into());
        assert_eq!(header(&e, DPOP_NONCE), Some("n1"));
        let e = with_nonce(invalid_token("x"), || "n2".into());
        assert_eq!(header(&e, DPOP_NONCE), Some("n2"));
    }
}
