//! Redirect URIs: which ones a client may register (per application type),
//! and whether a requested one matches.
//!
//! - Web clients: https only, matched exactly (atproto OAuth spec, "Request
//!   Fields"; RFC 9700 §4.1.3 and draft-ietf-oauth-client-id-metadata-document
//!   §4.5: "an exact match of a registered redirect URI").
//! - Native clients: a private-use scheme that is the `client_id` host in
//!   reverse order (`com.example.app:/cb`), https on the `client_id`'s
//!   origin, or http on a loopback IP (`127.0.0.1`, `[::1]`) whose port is
//!   ignored when matching (RFC 8252 §7.3).
//! - `localhost` as a redirect host is refused for everyone (RFC 8252 §8.3).

use std::net::{Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use super::client_id::ClientId;
use super::metadata::{ApplicationType, ClientMetadata, ValidatedClient};
use super::{quote, RuleResult, Violation};

/// Whether `url` is an http URL on a loopback IP literal (`127.0.0.1` or
/// `[::1]`), the form RFC 8252 §7.3 describes: "`http://127.0.0.1:{port}/{path}`
/// for IPv4, and `http://[::1]:{port}/{path}` for IPv6".
pub fn is_loopback_ip_url(url: &Url) -> bool {
    url.scheme() == "http"
        && match url.host() {
            Some(Host::Ipv4(ip)) => ip == Ipv4Addr::LOCALHOST,
            Some(Host::Ipv6(ip)) => ip == Ipv6Addr::LOCALHOST,
            _ => false,
        }
}

/// A private-use scheme (RFC 8252 §7.1): anything but http(s), containing a
/// dot, as reverse-domain schemes do.
fn is_private_use(url: &Url) -> bool {
    !matches!(url.scheme(), "http" | "https") && url.scheme().contains('.')
}

fn application_type(doc: &ClientMetadata) -> Option<ApplicationType> {
    ApplicationType::from_field(doc.application_type.as_deref())
}

/// The registered URIs that parse, with their raw text.
fn parsed(doc: &ClientMetadata) -> impl Iterator<Item = (&str, Url)> {
    doc.redirect_uris
        .iter()
        .flatten()
        .filter_map(|raw| Url::parse(raw).ok().map(|u| (raw.as_str(), u)))
}

/// The first registered URI breaking a condition, as a violation.
fn first_bad(doc: &ClientMetadata, bad: impl Fn(&str, &Url) -> bool) -> Option<&str> {
    parsed(doc).find(|(raw, u)| bad(raw, u)).map(|(raw, _)| raw)
}

/// atproto OAuth spec, "Client ID Metadata Document": `redirect_uris`
/// (required): "at least one redirect URI is required".
pub(crate) fn present(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    match &doc.redirect_uris {
        Some(r) if !r.is_empty() => Ok(()),
        Some(_) => {
            Err(Violation::new("redirect_uris is empty").fix("list at least one redirect URI"))
        }
        None => Err(Violation::new("redirect_uris is missing")
            .fix("add \"redirect_uris\": [\"https://…/callback\"]")),
    }
}

/// RFC 6749 §3.1.2: "The redirection endpoint URI MUST be an absolute URI
/// … The endpoint URI MUST NOT include a fragment component." Credentials
/// (`user:pass@`) are refused too (policy, as the reference server does):
/// nothing legitimate needs them and they confuse users reading the URL.
pub(crate) fn valid(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    for raw in doc.redirect_uris.iter().flatten() {
        let url = match Url::parse(raw) {
            Ok(u) => u,
            Err(e) => {
                return Err(Violation::new(format!(
                    "redirect URI {} is not an absolute URL ({e})",
                    quote(raw)
                ))
                .fix("write each redirect URI in full, scheme included"))
            }
        };
        if url.fragment().is_some() {
            return Err(
                Violation::new(format!("redirect URI {} contains a fragment", quote(raw)))
                    .fix("remove the \"#\" and everything after it"),
            );
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Violation::new(format!(
                "redirect URI {} contains credentials",
                quote(raw)
            ))
            .fix("remove the user:password@ part"));
        }
    }
    Ok(())
}

/// RFC 8252 §8.3: "the use of localhost is NOT RECOMMENDED"; SPEC.md §3:
/// "`localhost` as a redirect host is refused" (use `127.0.0.1` or `[::1]`).
pub(crate) fn no_localhost(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    match first_bad(doc, |_, u| u.host_str() == Some("localhost")) {
        None => Ok(()),
        Some(raw) => Err(Violation::new(format!(
            "redirect URI {} uses the host localhost",
            quote(raw)
        ))
        .fix("use http://127.0.0.1:<port>/… or http://[::1]:<port>/… (native clients only)")),
    }
}

/// atproto OAuth spec, "Request Fields": "For web clients, the
/// `redirect_uri` is a HTTPS URL".
pub(crate) fn web_https(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    if application_type(doc) != Some(ApplicationType::Web) {
        return Ok(());
    }
    match first_bad(doc, |_, u| u.scheme() != "https") {
        None => Ok(()),
        Some(raw) => Err(Violation::new(format!(
            "web client redirect URI {} does not use https",
            quote(raw)
        ))
        .fix("use https redirect URIs, or declare \"application_type\": \"native\" for an app")),
    }
}

/// RFC 8252 §8.4: "any private-use URI scheme that doesn't contain a period
/// character ('.') SHOULD be rejected"; atproto OAuth spec, "Request
/// Fields": native clients use a custom scheme, https, or the loopback
/// exception.
pub(crate) fn native_scheme(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    if application_type(doc) != Some(ApplicationType::Native) {
        return Ok(());
    }
    match first_bad(doc, |_, u| !matches!(u.scheme(), "http" | "https") && !u.scheme().contains('.')) {
        None => Ok(()),
        Some(raw) => Err(Violation::new(format!("native client redirect URI {} uses a scheme without a dot", quote(raw))).fix("use your client_id host in reverse order as the scheme, e.g. com.example.app:/callback")),
    }
}

/// RFC 8252 §7.3 and atproto OAuth spec, "Request Fields": http is only
/// for the loopback exception, "`http://127.0.0.1` or `http://[::1]`", and
/// only for native clients (web clients are caught by the https rule).
/// `localhost` is left to its own rule.
pub(crate) fn http_loopback(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    if application_type(doc) != Some(ApplicationType::Native) {
        return Ok(());
    }
    match first_bad(doc, |_, u| u.scheme() == "http" && u.host_str() != Some("localhost") && !is_loopback_ip_url(u)) {
        None => Ok(()),
        Some(raw) => Err(Violation::new(format!("http redirect URI {} is not on 127.0.0.1 or [::1]", quote(raw))).fix("use https, or http://127.0.0.1:<port>/… for an app listening on the loopback interface")),
    }
}

/// atproto OAuth spec, "Request Fields": "Any custom scheme must match the
/// `client_id` hostname in reverse-domain order" (`https://app.example.com/…`
/// may use `com.example.app:`), which RFC 8252 §7.1 asks for ("a domain name
/// under their control, expressed in reverse order").
pub(crate) fn private_use_scheme(id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    if application_type(doc) != Some(ApplicationType::Native) {
        return Ok(());
    }
    let expected = id.host().map(reverse_domain);
    match first_bad(doc, |_, u| {
        is_private_use(u) && Some(u.scheme()) != expected.as_deref()
    }) {
        None => Ok(()),
        Some(raw) => {
            let v = Violation::new(format!(
                "redirect URI {} uses a scheme that is not the client_id host reversed",
                quote(raw)
            ));
            Err(match expected {
                Some(e) => v.fix(format!("use the scheme {}", quote(&e))),
                None => {
                    v.fix("a loopback client uses http://127.0.0.1 or http://[::1] redirect URIs")
                }
            })
        }
    }
}

/// RFC 8252 §7.1: "only a single slash ('/') appears after the scheme
/// component"; atproto OAuth spec, "Request Fields": "The URI scheme must be
/// followed by a single colon (`:`) then a single forward slash (`/`) and
/// then a URI path component."
pub(crate) fn private_use_form(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    if application_type(doc) != Some(ApplicationType::Native) {
        return Ok(());
    }
    let bad_form = |raw: &str, u: &Url| {
        let after = raw.split_once(':').map_or("", |(_, rest)| rest);
        is_private_use(u) && (!after.starts_with('/') || after.starts_with("//"))
    };
    match first_bad(doc, bad_form) {
        None => Ok(()),
        Some(raw) => Err(Violation::new(format!(
            "redirect URI {} is not of the form scheme:/path",
            quote(raw)
        ))
        .fix("write it with one slash after the colon, e.g. com.example.app:/callback")),
    }
}

/// atproto OAuth spec, "Request Fields": "Native clients are also allowed to
/// use an HTTPS URL. In this case, the URL origin must be the same as the
/// `client_id`."
pub(crate) fn native_https_origin(id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    if application_type(doc) != Some(ApplicationType::Native) {
        return Ok(());
    }
    let origin = id.url().map(Url::origin);
    match first_bad(doc, |_, u| {
        u.scheme() == "https" && u.host_str() != Some("localhost") && Some(u.origin()) != origin
    }) {
        None => Ok(()),
        Some(raw) => Err(Violation::new(format!(
            "native client https redirect URI {} is not on the client_id's origin",
            quote(raw)
        ))
        .fix(match id.url() {
            Some(u) => format!(
                "use an https redirect URI under {}",
                u.origin().ascii_serialization()
            ),
            None => {
                "a loopback client uses http://127.0.0.1 or http://[::1] redirect URIs".to_string()
            }
        })),
    }
}

/// `app.example.com` → `com.example.app`.
pub fn reverse_domain(host: &str) -> String {
    host.split('.').rev().collect::<Vec<_>>().join(".")
}

impl ValidatedClient {
    /// The registered redirect URI that `requested` matches, if any. The
    /// caller redirects to `requested` itself (its port may differ from the
    /// registered one for a loopback URI).
    ///
    /// - Any client: the exact string of a registered URI (RFC 9700 §4.1.3,
    ///   draft-ietf-oauth-client-id-metadata-document §4.5).
    /// - Native clients (loopback development clients are native): an http
    ///   URI on `127.0.0.1` or `[::1]` matches a registered one with the same
    ///   host, path and query whatever the port (RFC 8252 §7.3: "The
    ///   authorization server MUST allow any port to be specified at the time
    ///   of the request for loopback IP redirect URIs"; atproto OAuth spec,
    ///   "Localhost Client Development": "Path components must match, but
    ///   port numbers are not matched").
    pub fn match_redirect_uri(&self, requested: &str) -> Option<&str> {
        if let Some(exact) = self.redirect_uris.iter().find(|r| r.as_str() == requested) {
            return Some(exact);
        }
        if self.application_type != ApplicationType::Native {
            return None;
        }
        let req = Url::parse(requested).ok()?;
        if !is_loopback_ip_url(&req)
            || req.fragment().is_some()
            || !req.username().is_empty()
            || req.password().is_some()
        {
            return None;
        }
        self.redirect_uris
            .iter()
            .map(String::as_str)
            .find(|registered| {
                Url::parse(registered).is_ok_and(|reg| {
                    is_loopback_ip_url(&reg)
                        && reg.host() == req.host()
                        && reg.path() == req.path()
                        && reg.query() == req.query()
                })
            })
    }

    /// The redirect URI to use when a request names none: only when exactly
    /// one is registered (OAuth 2.1 draft §4.1.1: `redirect_uri` is
    /// "OPTIONAL if only one redirect URI is registered").
    pub fn default_redirect_uri(&self) -> Option<&str> {
        match self.redirect_uris.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::metadata::validate_metadata;

    fn client(app: &str, redirects: &[&str]) -> ValidatedClient {
        let id = ClientId::parse("https://app.example.com/client-metadata.json").unwrap();
        let doc = ClientMetadata {
            client_id: Some(id.as_str().into()),
            application_type: Some(app.into()),
            grant_types: Some(vec!["authorization_code".into()]),
            response_types: Some(vec!["code".into()]),
            redirect_uris: Some(redirects.iter().map(|s| s.to_string()).collect()),
            scope: Some("atproto".into()),
            token_endpoint_auth_method: Some("none".into()),
            dpop_bound_access_tokens: Some(true),
            ..Default::default()
        };
        validate_metadata(&id, doc).unwrap()
    }

    #[test]
    fn web_matches_exactly_only() {
        let c = client("web", &["https://app.example.com/cb"]);
        assert_eq!(
            c.match_redirect_uri("https://app.example.com/cb"),
            Some("https://app.example.com/cb")
        );
        assert_eq!(c.match_redirect_uri("https://app.example.com/cb/"), None);
        assert_eq!(c.match_redirect_uri("https://app.example.com/cb?x=1"), None);
        assert_eq!(c.match_redirect_uri("https://APP.example.com/cb"), None);
        assert_eq!(c.match_redirect_uri("https://app.example.com:443/cb"), None);
    }

    #[test]
    fn native_loopback_ignores_port_but_not_path_host_or_query() {
        let c = client(
            "native",
            &["http://127.0.0.1/callback", "http://[::1]:8080/cb?a=1"],
        );
        assert_eq!(
            c.match_redirect_uri("http://127.0.0.1:54321/callback"),
            Some("http://127.0.0.1/callback")
        );
        assert_eq!(
            c.match_redirect_uri("http://127.0.0.1/callback"),
            Some("http://127.0.0.1/callback")
        );
        assert_eq!(
            c.match_redirect_uri("http://[::1]:9/cb?a=1"),
            Some("http://[::1]:8080/cb?a=1")
        );
        assert_eq!(c.match_redirect_uri("http://127.0.0.1:54321/other"), None);
        assert_eq!(
            c.match_redirect_uri("http://[::1]:54321/callback"),
            None,
            "host must match"
        );
        assert_eq!(
            c.match_redirect_uri("http://[::1]:9/cb?a=2"),
            None,
            "query must match"
        );
        assert_eq!(
            c.match_redirect_uri("http://localhost:54321/callback"),
            None
        );
        assert_eq!(
            c.match_redirect_uri("https://127.0.0.1:54321/callback"),
            None
        );
        assert_eq!(
            c.match_redirect_uri("http://127.0.0.1:54321/callback#f"),
            None
        );
        assert_eq!(
            c.match_redirect_uri("http://u@127.0.0.1:54321/callback"),
            None
        );
    }

    #[test]
    fn native_custom_scheme_and_https_match_exactly() {
        let c = client(
            "native",
            &["com.example.app:/callback", "https://app.example.com/open"],
        );
        assert_eq!(
            c.match_redirect_uri("com.example.app:/callback"),
            Some("com.example.app:/callback")
        );
        assert_eq!(c.match_redirect_uri("com.example.app:/callback2"), None);
        assert_eq!(
            c.match_redirect_uri("https://app.example.com/open"),
            Some("https://app.example.com/open")
        );
        assert_eq!(
            c.match_redirect_uri("https://app.example.com:8443/open"),
            None
        );
    }

    #[test]
    fn web_client_gets_no_port_leniency() {
        // A web client cannot register a loopback URI; even a non-matching
        // request on one is refused rather than port-matched.
        let c = client("web", &["https://app.example.com/cb"]);
        assert_eq!(c.match_redirect_uri("http://127.0.0.1:1234/cb"), None);
    }

    #[test]
    fn default_redirect_only_when_single() {
        assert_eq!(
            client("web", &["https://app.example.com/a"]).default_redirect_uri(),
            Some("https://app.example.com/a")
        );
        assert_eq!(
            client(
                "web",
                &["https://app.example.com/a", "https://app.example.com/b"]
            )
            .default_redirect_uri(),
            None
        );
    }

    #[test]
    fn loopback_client_defaults_match_any_port_on_root() {
        let id = ClientId::parse("http://localhost").unwrap();
        let c = validate_metadata(&id, id.loopback_metadata().unwrap()).unwrap();
        assert_eq!(
            c.match_redirect_uri("http://127.0.0.1:3000/"),
            Some("http://127.0.0.1/")
        );
        assert_eq!(
            c.match_redirect_uri("http://[::1]:3000/"),
            Some("http://[::1]/")
        );
        assert_eq!(c.match_redirect_uri("http://127.0.0.1:3000/callback"), None);
    }

    #[test]
    fn reverses_domains() {
        assert_eq!(reverse_domain("app.example.com"), "com.example.app");
    }
}
