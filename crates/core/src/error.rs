//! The one OAuth error type.
//!
//! Every failure that leaves the server is an [`OAuthError`]: a registered
//! error code (RFC 6749 §5.2, RFC 9449 §12.2, RFC 6750 §3.1, OpenID Connect
//! Core §3.1.2.6 for `login_required` and friends, RFC 7591 §3.2.2 for the
//! client-metadata codes), an optional description meant for the client
//! developer, and a private `detail` that is logged but never sent.

use std::fmt;

use serde::Serialize;

/// The closed set of error codes atauth sends. Status codes follow from the
/// code (see [`ErrorCode::default_status`]); a few call sites override them
/// (e.g. `use_dpop_nonce` is 401 at a resource server, RFC 9449 §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// RFC 6749 §5.2
    InvalidRequest,
    /// RFC 6749 §5.2
    InvalidClient,
    /// RFC 6749 §5.2
    InvalidGrant,
    /// RFC 6749 §5.2
    UnauthorizedClient,
    /// RFC 6749 §5.2
    UnsupportedGrantType,
    /// RFC 6749 §5.2
    InvalidScope,
    /// RFC 6749 §4.1.2.1
    AccessDenied,
    /// RFC 6749 §4.1.2.1
    UnsupportedResponseType,
    /// RFC 6749 §4.1.2.1
    ServerError,
    /// RFC 6749 §4.1.2.1
    TemporarilyUnavailable,
    /// RFC 7591 §3.2.2
    InvalidClientMetadata,
    /// RFC 7591 §3.2.2
    InvalidRedirectUri,
    /// RFC 9449 §12.2
    UseDpopNonce,
    /// RFC 9449 §12.2
    InvalidDpopProof,
    /// RFC 6750 §3.1
    InvalidToken,
    /// RFC 6750 §3.1
    InsufficientScope,
    /// OpenID Connect Core §3.1.2.6, used by atproto for `prompt=none`
    LoginRequired,
    /// OpenID Connect Core §3.1.2.6
    ConsentRequired,
    /// OpenID Connect Core §3.1.2.6
    AccountSelectionRequired,
    /// RFC 9126 §2.2 (`request_uri` unknown or expired)
    InvalidRequestUri,
    /// Not an OAuth code: the resource or endpoint does not exist. Sent as
    /// JSON so that no OAuth route ever answers with an HTML 404.
    NotFound,
    /// Not an OAuth code: the HTTP method is not allowed on this endpoint.
    MethodNotAllowed,
    /// Not an OAuth code: rate limit reached.
    RateLimited,
}

impl ErrorCode {
    /// The wire spelling of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
            ErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::AccountSelectionRequired => "account_selection_required",
            ErrorCode::InvalidRequestUri => "invalid_request_uri",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::RateLimited => "rate_limited",
        }
    }

    /// The HTTP status this code is sent with unless a call site says
    /// otherwise. RFC 6749 §5.2: 400 for all but `invalid_client` (401 when
    /// the client tried to authenticate; the caller lowers it to 400 when it
    /// did not); RFC 6750 §3.1 for `invalid_token` (401) and
    /// `insufficient_scope` (403).
    pub fn default_status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => 401,
            ErrorCode::InsufficientScope | ErrorCode::AccessDenied => 403,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::RateLimited => 429,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error: what the client is told, plus what only the log sees.
///
/// Serialises to exactly the RFC 6749 §5.2 body:
/// `{"error":"…","error_description":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OAuthError {
    /// The registered error code.
    pub error: ErrorCode,
    /// Human-readable text for the client developer; names the rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// HTTP status to send.
    #[serde(skip)]
    pub status: u16,
    /// Extra response headers (`DPoP-Nonce`, `WWW-Authenticate`, `Retry-After`, `Allow`).
    #[serde(skip)]
    pub headers: Vec<(String, String)>,
    /// Internal cause: logged, never sent.
    #[serde(skip)]
    pub detail: Option<String>,
}

impl OAuthError {
    /// An error with the code's default status and the given description.
    pub fn new(error: ErrorCode, description: impl Into<String>) -> Self {
        OAuthError {
            error,
            error_description: Some(description.into()),
            status: error.default_status(),
            headers: Vec::new(),
            detail: None,
        }
    }

    /// An error with no description.
    pub fn bare(error: ErrorCode) -> Self {
        OAuthError {
            error,
            error_description: None,
            status: error.default_status(),
            headers: Vec::new(),
            detail: None,
        }
    }

    /// `invalid_request` (RFC 6749 §5.2).
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// `invalid_client` (RFC 6749 §5.2), sent as 401: the client tried to
    /// authenticate and failed.
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    /// `invalid_client` sent as 400: the client could not be resolved at all
    /// (RFC 6749 §5.2 reserves 401 for failed authentication attempts).
    pub fn unknown_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, description).with_status(400)
    }

    /// `invalid_grant` (RFC 6749 §5.2).
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    /// `invalid_scope` (RFC 6749 §5.2).
    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidScope, description)
    }

    /// `unsupported_grant_type` (RFC 6749 §5.2).
    pub fn unsupported_grant_type(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnsupportedGrantType, description)
    }

    /// `invalid_client_metadata` (RFC 7591 §3.2.2).
    pub fn invalid_client_metadata(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClientMetadata, description)
    }

    /// `invalid_dpop_proof` (RFC 9449 §12.2), 400 at the authorization server.
    pub fn invalid_dpop_proof(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidDpopProof, description)
    }

    /// `use_dpop_nonce` (RFC 9449 §8), carrying the nonce the client must use.
    pub fn use_dpop_nonce(fresh_nonce: &str) -> Self {
        Self::new(
            ErrorCode::UseDpopNonce,
            "Authorization server requires nonce in DPoP proof",
        )
        .with_header("DPoP-Nonce", fresh_nonce)
    }

    /// `invalid_token` (RFC 6750 §3.1).
    pub fn invalid_token(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidToken, description)
    }

    /// `not_found`: a JSON 404 for paths with no route.
    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, description)
    }

    /// `method_not_allowed`: 405 with the `Allow` header.
    pub fn method_not_allowed(allow: &str) -> Self {
        Self::new(
            ErrorCode::MethodNotAllowed,
            format!("method not allowed on this endpoint; allowed: {allow}"),
        )
        .with_header("Allow", allow)
    }

    /// `server_error`: the detail goes to the log only; the client learns nothing.
    pub fn server_error(detail: impl Into<String>) -> Self {
        Self::bare(ErrorCode::ServerError).with_detail(detail)
    }

    /// Override the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Add a response header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Attach an internal cause (logged, never sent).
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The JSON body exactly as RFC 6749 §5.2 shapes it.
    pub fn to_json(&self) -> String {
        // Serialising a struct of strings cannot fail; fall back to a fixed
        // body rather than panic.
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"error":"server_error"}"#.to_string())
    }

    /// Whether this error may be sent to the client's redirect URI
    /// (RFC 6749 §4.1.2.1): never for problems with the client itself or
    /// its redirect URI, which must be shown to the user instead.
    pub fn redirectable(&self) -> bool {
        !matches!(
            self.error,
            ErrorCode::InvalidClient
                | ErrorCode::InvalidClientMetadata
                | ErrorCode::InvalidRedirectUri
                | ErrorCode::InvalidRequestUri
                | ErrorCode::NotFound
                | ErrorCode::MethodNotAllowed
        )
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error_description {
            Some(d) => write!(f, "{}: {}", self.error, d),
            None => write!(f, "{}", self.error),
        }
    }
}

impl std::error::Error for OAuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_exactly_rfc6749_shape() {
        let e = OAuthError::invalid_grant("code expired").with_detail("secret internal thing");
        assert_eq!(
            e.to_json(),
            r#"{"error":"invalid_grant","error_description":"code expired"}"#
        );
        assert_eq!(e.status, 400);
    }

    #[test]
    fn description_quoting_input_stays_valid_json() {
        let e = OAuthError::invalid_request("bad value \"<x>\"\n\\");
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["error_description"], "bad value \"<x>\"\n\\");
    }

    #[test]
    fn server_error_hides_detail() {
        let e = OAuthError::server_error("db exploded at /var/secret");
        assert_eq!(e.to_json(), r#"{"error":"server_error"}"#);
        assert_eq!(e.status, 500);
    }

    #[test]
    fn nonce_error_carries_header() {
        let e = OAuthError::use_dpop_nonce("abc");
        assert_eq!(e.status, 400);
        assert_eq!(e.headers, vec![("DPoP-Nonce".into(), "abc".into())]);
    }

    #[test]
    fn client_errors_are_not_redirectable() {
        assert!(!OAuthError::invalid_client("x").redirectable());
        assert!(OAuthError::new(ErrorCode::AccessDenied, "x").redirectable());
    }
}
