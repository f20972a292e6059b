//! Security headers of every browser page (SPEC §5 "Pages", ARCHITECTURE
//! "UI"), and the Content-Security-Policy with its `form-action`.

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};

/// Where the forms of a page may send the browser: always this server, and
/// for pages tied to a verified request also the client's redirect target
/// (Chrome checks `form-action` against the redirects that follow a form
/// submission too, so a 303 to the client after a POST needs its origin;
/// the `form_post` page posts to it directly).
#[derive(Debug, Clone, Default)]
pub struct FormAction(Option<String>);

impl FormAction {
    /// Only this server.
    pub fn self_only() -> FormAction {
        FormAction(None)
    }

    /// This server and the origin of `redirect_uri` (the scheme alone for a
    /// private-use scheme such as `com.example.app:/cb`). A URI whose source
    /// expression would not be plain (quotes, separators, spaces) adds
    /// nothing: it cannot break out of the header.
    pub fn with_redirect(redirect_uri: &str) -> FormAction {
        FormAction(source_for(redirect_uri))
    }

    /// The extra source, if any.
    pub fn extra(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

fn source_for(redirect_uri: &str) -> Option<String> {
    let url = url::Url::parse(redirect_uri).ok()?;
    let source = match url.scheme() {
        "http" | "https" => url.origin().ascii_serialization(),
        scheme => format!("{scheme}:"),
    };
    let plain = source.bytes().all(|b| {
        b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'.' | b'-' | b'+' | b'[' | b']')
    });
    (plain && source != "null").then_some(source)
}

/// The Content-Security-Policy of a page: nothing by default, styles and
/// scripts only from this origin (no inline code), images from this origin,
/// https or data URLs (client logos), no framing, no `<base>`.
pub fn content_security_policy(form_action: &FormAction) -> String {
    let mut fa = String::from("'self'");
    if let Some(extra) = form_action.extra() {
        fa.push(' ');
        fa.push_str(extra);
    }
    format!(
        "default-src 'none'; style-src 'self'; img-src 'self' https: data:; script-src 'self'; \
         form-action {fa}; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// Add the page headers to a response builder.
pub fn apply(builder: &mut HttpResponseBuilder, form_action: &FormAction) {
    let csp = content_security_policy(form_action);
    builder
        .insert_header((header::CONTENT_SECURITY_POLICY, csp))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
}

/// An HTML page with every security header.
pub fn html(status: StatusCode, body: String, form_action: &FormAction) -> HttpResponse {
    let mut b = HttpResponse::build(status);
    apply(&mut b, form_action);
    b.insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .body(body)
}

/// A 303 to `location` with the page headers (no-store keeps the code out
/// of caches; no-referrer keeps this page's URL from the client).
pub fn see_other(location: &str, form_action: &FormAction) -> HttpResponse {
    let mut b = HttpResponse::build(StatusCode::SEE_OTHER);
    apply(&mut b, form_action);
    match HeaderValue::try_from(location) {
        Ok(v) => {
            b.insert_header((header::LOCATION, v));
            b.finish()
        }
        Err(_) => {
            tracing::error!("redirect location is not a valid header value");
            b.status(StatusCode::INTERNAL_SERVER_ERROR).finish()
        }
    }
}

/// Add a header to a built response, ignoring values that cannot be
/// headers.
pub fn insert(resp: &mut HttpResponse, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::try_from(value) {
        resp.headers_mut().insert(name, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_action_sources() {
        assert_eq!(
            FormAction::with_redirect("http://127.0.0.1:8080/callback?x=1").extra(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            FormAction::with_redirect("https://app.example.com/cb").extra(),
            Some("https://app.example.com")
        );
        assert_eq!(
            FormAction::with_redirect("com.example.app:/cb").extra(),
            Some("com.example.app:")
        );
        assert_eq!(
            FormAction::with_redirect("http://[::1]:9/cb").extra(),
            Some("http://[::1]:9")
        );
        assert_eq!(FormAction::with_redirect("not a url").extra(), None);
    }

    #[test]
    fn csp_has_every_directive() {
        let csp = content_security_policy(&FormAction::with_redirect("https://a.example/cb"));
        for d in [
            "default-src 'none'",
            "style-src 'self'",
            "img-src 'self' https: data:",
            "script-src 'self'",
            "form-action 'self' https://a.example",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(d), "{csp} lacks {d}");
        }
        assert!(!csp.contains("unsafe"));
    }
}
