//! PKCE (RFC 7636), S256 only (atproto profile: "PKCE is required … only
//! the S256 method is allowed").

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::OAuthError;

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 7636 §4.3 with atproto: `code_challenge_method` must be `S256`
/// (absent would mean `plain`, which is refused).
pub fn check_challenge_method(method: Option<&str>) -> Result<(), OAuthError> {
    match method {
        Some("S256") => Ok(()),
        Some("plain") => Err(OAuthError::invalid_request(
            "code_challenge_method \"plain\" is not supported; use S256 (atproto OAuth profile)",
        )),
        Some(other) => Err(OAuthError::invalid_request(format!(
            "code_challenge_method {other:?} is not supported; use S256"
        ))),
        None => Err(OAuthError::invalid_request(
            "missing code_challenge_method; it must be S256 (RFC 7636 §4.3; plain is not allowed)",
        )),
    }
}

/// RFC 7636 §4.2: an S256 challenge is base64url(SHA-256(verifier)) without
/// padding: exactly 43 characters of the base64url alphabet.
pub fn check_challenge(challenge: &str) -> Result<(), OAuthError> {
    let ok = challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(OAuthError::invalid_request(
            "code_challenge must be exactly 43 base64url characters (an S256 challenge, RFC 7636 §4.2)",
        ))
    }
}

/// RFC 7636 §4.1 and §4.6: the verifier is 43–128 unreserved characters and
/// its S256 transform equals the challenge; otherwise `invalid_grant`.
pub fn verify(verifier: Option<&str>, challenge: &str) -> Result<(), OAuthError> {
    let Some(v) = verifier else {
        return Err(OAuthError::invalid_grant(
            "missing code_verifier (PKCE is required, RFC 7636 §4.5)",
        ));
    };
    if !(43..=128).contains(&v.len()) || !v.bytes().all(is_unreserved) {
        return Err(OAuthError::invalid_grant(
            "code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1)",
        ));
    }
    let computed = B64.encode(Sha256::digest(v.as_bytes()));
    if bool::from(computed.as_bytes().ct_eq(challenge.as_bytes())) {
        Ok(())
    } else {
        Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge (RFC 7636 §4.6)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    /// RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn accepts_rfc7636_appendix_b() {
        check_challenge(CHALLENGE).unwrap();
        verify(Some(VERIFIER), CHALLENGE).unwrap();
    }

    #[test]
    fn rejects_code_verifier_of_42_chars() {
        assert_eq!(
            verify(Some(&"a".repeat(42)), CHALLENGE).unwrap_err().error,
            ErrorCode::InvalidGrant
        );
    }

    #[test]
    fn rejects_code_verifier_of_129_chars() {
        assert_eq!(
            verify(Some(&"a".repeat(129)), CHALLENGE).unwrap_err().error,
            ErrorCode::InvalidGrant
        );
    }

    #[test]
    fn rejects_wrong_and_missing_verifier() {
        assert_eq!(
            verify(Some(&"b".repeat(43)), CHALLENGE).unwrap_err().error,
            ErrorCode::InvalidGrant
        );
        assert_eq!(
            verify(None, CHALLENGE).unwrap_err().error,
            ErrorCode::InvalidGrant
        );
        assert_eq!(
            verify(Some(&format!("{}!", "a".repeat(43))), CHALLENGE)
                .unwrap_err()
                .error,
            ErrorCode::InvalidGrant
        );
    }

    #[test]
    fn rejects_plain_and_missing_method() {
        assert_eq!(
            check_challenge_method(Some("plain")).unwrap_err().error,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            check_challenge_method(None).unwrap_err().error,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            check_challenge_method(Some("s256")).unwrap_err().error,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn rejects_challenge_of_wrong_length_or_alphabet() {
        for bad in [
            &CHALLENGE[..42],
            &format!("{CHALLENGE}A"),
            &format!("{}=", &CHALLENGE[..42]),
            &format!("{}+", &CHALLENGE[..42]),
        ] {
            assert_eq!(
                check_challenge(bad).unwrap_err().error,
                ErrorCode::InvalidRequest,
                "{bad}"
            );
        }
    }
}
