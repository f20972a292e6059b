//! The one place where an [`OAuthError`] becomes an HTTP response.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use atauth_core::OAuthError;

use crate::metrics::AnsweredError;

/// Newtype so actix's `ResponseError` can be implemented for core's error.
#[derive(Debug)]
pub struct ApiError(pub OAuthError);

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        ApiError(e)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// Not logged here: the observer middleware ([`crate::metrics::observe`])
    /// logs every answered OAuth error once.
    fn error_response(&self) -> HttpResponse {
        json_error_response(&self.0)
    }
}

/// Build the RFC 6749 §5.2 JSON response for an error, with its headers and
/// `Cache-Control: no-store` (RFC 6749 §5.1). The response carries an
/// [`AnsweredError`] extension: the observer middleware counts and logs it
/// (once, with the client and the request id).
pub fn json_error_response(e: &OAuthError) -> HttpResponse {
    let mut resp = render(e);
    resp.extensions_mut().insert(AnsweredError {
        code: e.error.as_str().to_string(),
        status: e.status,
        description: e.error_description.clone(),
        detail: e.detail.clone(),
    });
    resp
}

/// The same JSON body for routing answers (unknown path 404, 405): not
/// OAuth errors, neither counted as such nor logged.
pub fn routing_error_response(e: &OAuthError) -> HttpResponse {
    render(e)
}

fn render(e: &OAuthError) -> HttpResponse {
    atauth_resource::render_oauth_error(e)
}

/// Result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
