//! Sending the browser back to the client (RFC 6749 §4.1.2, §4.1.2.1),
//! with `iss` on every response, success or error (RFC 9207 §2), in the
//! request's `response_mode`: `query` (default), `fragment` (OAuth 2.0
//! Multiple Response Type Encoding Practices §2.1) or `form_post` (OAuth
//! 2.0 Form Post Response Mode: an auto-submitting form).
//!
//! Only ever called with a stored request, whose client and `redirect_uri`
//! PAR verified: unverified redirect targets get the error page instead.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use atauth_core::store::AuthorizationRequest;
use atauth_core::ErrorCode;
use serde_json::json;

use super::headers::{self, FormAction};
use super::pages::{self, PageEnv, PageError};

/// What the client is told.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Approved: the authorization code.
    Code(String),
    /// Refused or impossible: the error code and a short description.
    Error(ErrorCode, &'static str),
}

/// The response parameters, in order: result, `state`, `iss`.
pub fn parameters(
    outcome: &Outcome,
    request: &AuthorizationRequest,
    issuer: &str,
) -> Vec<(&'static str, String)> {
    let mut p = match outcome {
        Outcome::Code(code) => vec![("code", code.clone())],
        Outcome::Error(code, description) => vec![
            ("error", code.as_str().to_string()),
            ("error_description", (*description).to_string()),
        ],
    };
    p.push(("state", request.params.state.clone()));
    p.push(("iss", issuer.to_string()));
    p
}

/// The response to the browser: a 303 (query, fragment) or the form_post
/// page.
pub fn respond(
    env: &PageEnv<'_>,
    request: &AuthorizationRequest,
    outcome: &Outcome,
) -> HttpResponse {
    if let Outcome::Error(code, _) = outcome {
        // Counted here (the redirect carries it); logged by the caller.
        env.state.metrics.oauth_error("", code.as_str());
    }
    let issuer = env.state.settings.issuer.as_str();
    let params = parameters(outcome, request, issuer);
    let redirect_uri = &request.params.redirect_uri;
    let form_action = FormAction::with_redirect(redirect_uri);
    match request.params.response_mode.as_str() {
        "form_post" => {
            let fields: Vec<_> = params
                .iter()
                .map(|(name, value)| json!({ "name": name, "value": value }))
                .collect();
            let data = json!({ "redirect_uri": redirect_uri, "fields": fields });
            env.render(
                "authorize/form_post.html",
                data,
                StatusCode::OK,
                &form_action,
            )
        }
        mode => match location(redirect_uri, mode == "fragment", &params) {
            Some(loc) => headers::see_other(&loc, &form_action),
            None => pages::error_page(
                env,
                &PageError::Server("stored redirect_uri does not parse".into()),
            ),
        },
    }
}

/// The redirect URL: the parameters appended to the query (keeping any
/// query the registered URI has, RFC 6749 §3.1.2) or put in the fragment.
pub fn location(
    redirect_uri: &str,
    fragment: bool,
    params: &[(&'static str, String)],
) -> Option<String> {
    let mut url = url::Url::parse(redirect_uri).ok()?;
    if fragment {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        url.set_fragment(Some(&encoded));
    } else {
        url.query_pairs_mut()
            .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
    }
    Some(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Vec<(&'static str, String)> {
        vec![
            ("code", "cod-x".into()),
            ("state", "a b&c=d#".into()),
            ("iss", "https://auth.example.com".into()),
        ]
    }

    #[test]
    fn query_keeps_existing_query_and_encodes() {
        let l = location("https://app.example.com/cb?keep=1", false, &params()).unwrap();
        assert_eq!(
            l,
            "https://app.example.com/cb?keep=1&code=cod-x&state=a+b%26c%3Dd%23&iss=https%3A%2F%2Fauth.example.com"
        );
    }

    #[test]
    fn fragment_mode() {
        let l = location("http://127.0.0.1:8080/cb", true, &params()).unwrap();
        assert_eq!(
            l,
            "http://127.0.0.1:8080/cb#code=cod-x&state=a+b%26c%3Dd%23&iss=https%3A%2F%2Fauth.example.com"
        );
    }

    #[test]
    fn private_use_scheme() {
        let l = location("com.example.app:/cb", false, &params()).unwrap();
        assert!(l.starts_with("com.example.app:/cb?code=cod-x&"));
    }
}
