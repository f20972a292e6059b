//! Which grant a token request asks for, and whether the client may use it.

use crate::client::metadata::ValidatedClient;
use crate::error::{ErrorCode, OAuthError};
use crate::form::FormParams;

/// The grants atproto uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// RFC 6749 §4.1.3
    AuthorizationCode,
    /// RFC 6749 §6
    RefreshToken,
}

impl Grant {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Grant::AuthorizationCode => "authorization_code",
            Grant::RefreshToken => "refresh_token",
        }
    }

    /// RFC 6749 §4.1.3 / §6: `grant_type` is required; RFC 6749 §5.2: any
    /// other grant is `unsupported_grant_type`.
    pub fn from_params(p: &FormParams) -> Result<Grant, OAuthError> {
        match p.require("grant_type", "RFC 6749 §4.1.3")? {
            "authorization_code" => Ok(Grant::AuthorizationCode),
            "refresh_token" => Ok(Grant::RefreshToken),
            other => Err(OAuthError::unsupported_grant_type(format!(
                "grant_type {other:?} is not supported (authorization_code, refresh_token)"
            ))),
        }
    }

    /// RFC 6749 §5.2 `unauthorized_client`: the client's metadata must list
    /// the grant in `grant_types`.
    pub fn declared_by(self, client: &ValidatedClient) -> Result<(), OAuthError> {
        if client.allows_grant(self.as_str()) {
            Ok(())
        } else {
            Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!(
                    "the client's metadata does not list the \"{}\" grant type",
                    self.as_str()
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::test_fixtures::{web_client, web_client_without_refresh};

    #[test]
    fn rejects_missing_grant_type() {
        let p = FormParams::parse(b"").unwrap();
        assert_eq!(
            Grant::from_params(&p).unwrap_err().error,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn rejects_password_grant() {
        let p = FormParams::parse(b"grant_type=password").unwrap();
        assert_eq!(
            Grant::from_params(&p).unwrap_err().error,
            ErrorCode::UnsupportedGrantType
        );
    }

    #[test]
    fn accepts_both_atproto_grants() {
        let p = FormParams::parse(b"grant_type=refresh_token").unwrap();
        assert_eq!(Grant::from_params(&p).unwrap(), Grant::RefreshToken);
        let p = FormParams::parse(b"grant_type=authorization_code").unwrap();
        assert_eq!(Grant::from_params(&p).unwrap(), Grant::AuthorizationCode);
    }

    #[test]
    fn rejects_refresh_by_client_without_the_grant() {
        let e = Grant::RefreshToken
            .declared_by(&web_client_without_refresh())
            .unwrap_err();
        assert_eq!(e.error, ErrorCode::UnauthorizedClient);
        assert!(Grant::RefreshToken.declared_by(&web_client()).is_ok());
    }
}
