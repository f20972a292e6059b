//! The two forms of `client_id`, parsed purely.
//!
//! - Discoverable: an https URL from which the client's metadata document is
//!   fetched (atproto OAuth spec, "Clients"; draft-ietf-oauth-client-id-metadata-document §3).
//! - Loopback: `http://localhost`, with the metadata built by the server from
//!   the query (atproto OAuth spec, "Localhost Client Development").
//!
//! Decision on a query in a discoverable `client_id`: accepted, with a
//! warning in the check report. The draft (§3) says client identifier URLs
//! "SHOULD NOT include a query string component", the atproto spec lists no
//! such rule, and the reference server accepts one; refusing would turn a
//! SHOULD into a MUST and break clients other servers accept.
//!
//! Development only: with [`ClientIdPolicy::allow_loopback_http_documents`]
//! (set by the server under `--dev`, never by default) a discoverable
//! `client_id` may also be `http://127.0.0.1:<port>/<path>` or
//! `http://[::1]:<port>/<path>`, so that a test can host a confidential
//! client's metadata document on a loopback port. See
//! [`ClientId::parse_with`].

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use url::{Host, Url};

use super::metadata::ClientMetadata;
use super::redirect_uri::is_loopback_ip_url;
use super::section::*;
use super::{quote, ClientError, Rule, RuleResult, Severity, Violation};
use crate::error::ErrorCode;

/// The origin of every loopback development `client_id`.
pub const LOOPBACK_ORIGIN: &str = "http://localhost";
/// Redirect URIs of a loopback client that names none (atproto OAuth spec,
/// "Localhost Client Development": "The default values (if none are
/// supplied) are `http://127.0.0.1/` and `http://[::1]/`").
pub const LOOPBACK_DEFAULT_REDIRECT_URIS: [&str; 2] = ["http://127.0.0.1/", "http://[::1]/"];
/// Scope of a loopback client that names none ("Default is `atproto`").
pub const LOOPBACK_DEFAULT_SCOPE: &str = "atproto";
/// Longest `client_id` accepted. Policy: bounds the work and the size of
/// what is stored and displayed; real ones are well under 200 characters.
pub const MAX_CLIENT_ID_LEN: usize = 2048;

/// A parsed `client_id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientId {
    /// An https URL naming the client's metadata document (under
    /// [`ClientIdPolicy::allow_loopback_http_documents`], also an http URL
    /// on a loopback IP literal). The URL serialises back to exactly the
    /// string the client sent.
    Discoverable(Url),
    /// The `http://localhost` development client.
    Loopback {
        /// The `client_id` exactly as sent.
        raw: String,
        /// The `redirect_uri` query parameters, or the defaults.
        redirect_uris: Vec<String>,
        /// The `scope` query parameter, or the default.
        scope: String,
    },
}

/// How `client_id`s are parsed. The default is the strict profile of
/// SPEC.md §3; every relaxation is for development only and off by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientIdPolicy {
    /// Accept discoverable `client_id`s of the form
    /// `http://127.0.0.1:<port>/<path>` or `http://[::1]:<port>/<path>`
    /// (loopback IP literal, explicit port, non-empty path; otherwise the
    /// same rules as an https `client_id`), so that tests can host a
    /// metadata document on loopback. Policy, development only: the server
    /// sets it under `--dev` alone. Default `false`.
    pub allow_loopback_http_documents: bool,
}

impl ClientIdPolicy {
    /// The strict profile: no relaxation (same as `Default`).
    pub const STRICT: ClientIdPolicy = ClientIdPolicy {
        allow_loopback_http_documents: false,
    };
}

impl ClientId {
    /// Parse a `client_id` under the strict profile, applying every MUST of
    /// its form; see [`CLIENT_ID_RULES`] and the loopback rules in this
    /// module. Same as [`ClientId::parse_with`] with the default policy.
    pub fn parse(raw: &str) -> Result<ClientId, ClientError> {
        ClientId::parse_with(raw, &ClientIdPolicy::STRICT)
    }

    /// Parse a `client_id` under `policy`. With the default policy this is
    /// [`ClientId::parse`]; with
    /// [`ClientIdPolicy::allow_loopback_http_documents`] an http URL on a
    /// loopback IP literal is a discoverable `client_id` too, checked by
    /// [`DEV_LOOPBACK_DOCUMENT_RULE`] and the rules of [`CLIENT_ID_RULES`]
    /// it does not relax. The loopback development client
    /// (`http://localhost`, no port) stays its own form either way.
    pub fn parse_with(raw: &str, policy: &ClientIdPolicy) -> Result<ClientId, ClientError> {
        let url = parse_url(raw).map_err(|v| CLIENT_ID_URL_RULE.error(v))?;
        if is_loopback_form(&url) {
            return parse_loopback(raw, &url);
        }
        if policy.allow_loopback_http_documents && is_dev_loopback_document_form(&url) {
            return parse_dev_loopback_document(raw, url);
        }
        for rule in CLIENT_ID_RULES {
            if rule.severity == Severity::Error {
                (rule.check)(raw, &url).map_err(|v| rule.error(v))?;
            }
        }
        Ok(ClientId::Discoverable(url))
    }

    /// The `client_id` exactly as the client sent it.
    pub fn as_str(&self) -> &str {
        match self {
            ClientId::Discoverable(url) => url.as_str(),
            ClientId::Loopback { raw, .. } => raw,
        }
    }

    /// Whether this is the loopback development client.
    pub fn is_loopback(&self) -> bool {
        matches!(self, ClientId::Loopback { .. })
    }

    /// The metadata document URL of a discoverable client.
    pub fn url(&self) -> Option<&Url> {
        match self {
            ClientId::Discoverable(url) => Some(url),
            ClientId::Loopback { .. } => None,
        }
    }

    /// The host of a discoverable client (lowercase; an IP literal only for
    /// a development loopback document, see [`ClientIdPolicy`]).
    pub fn host(&self) -> Option<&str> {
        self.url().and_then(Url::host_str)
    }

    /// Whether this is a discoverable `client_id` accepted only under
    /// [`ClientIdPolicy::allow_loopback_http_documents`] (an http document
    /// URL on a loopback IP literal): development and tests only.
    pub fn is_dev_loopback_document(&self) -> bool {
        self.url().is_some_and(is_dev_loopback_document_form)
    }

    /// The metadata the server builds for a loopback client (atproto OAuth
    /// spec, "Localhost Client Development": native, public, DPoP-bound,
    /// `authorization_code` and `refresh_token`, response type `code`).
    /// `None` for a discoverable client, whose document is fetched.
    pub fn loopback_metadata(&self) -> Option<ClientMetadata> {
        let ClientId::Loopback {
            raw,
            redirect_uris,
            scope,
        } = self
        else {
            return None;
        };
        Some(ClientMetadata {
            client_id: Some(raw.clone()),
            client_name: Some("Loopback development client".into()),
            application_type: Some("native".into()),
            grant_types: Some(vec!["authorization_code".into(), "refresh_token".into()]),
            response_types: Some(vec!["code".into()]),
            redirect_uris: Some(redirect_uris.clone()),
            scope: Some(scope.clone()),
            token_endpoint_auth_method: Some("none".into()),
            dpop_bound_access_tokens: Some(true),
            ..ClientMetadata::default()
        })
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ClientId {
    type Err = ClientError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ClientId::parse(s)
    }
}

impl serde::Serialize for ClientId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ClientId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ClientId::parse(&s).map_err(|e| serde::de::Error::custom(e.description()))
    }
}

// ---------------------------------------------------------------------------
// Discoverable client_id rules
// ---------------------------------------------------------------------------

/// The type of a `client_id` rule: the raw string and its parsed URL.
pub type ClientIdRuleFn = fn(&str, &Url) -> RuleResult;
/// A `client_id` rule.
pub type ClientIdRule = Rule<ClientIdRuleFn>;

const fn id_rule(
    id: &'static str,
    rule: &'static str,
    section: &'static str,
    severity: Severity,
    check: ClientIdRuleFn,
) -> ClientIdRule {
    Rule {
        id,
        field: "client_id",
        rule,
        section,
        code: ErrorCode::InvalidClient,
        severity,
        check,
    }
}

/// The first rule of every `client_id`: it must parse as a URL. Its check
/// is [`parse_url`], run before the others since they need the URL.
pub const CLIENT_ID_URL_RULE: Rule<()> = Rule {
    id: "client_id.url",
    field: "client_id",
    rule: "client_id must be a well-formed URL",
    section: ATPROTO_CLIENTS,
    code: ErrorCode::InvalidClient,
    severity: Severity::Error,
    check: (),
};

/// The discoverable `client_id` rules, in the order they run.
pub static CLIENT_ID_RULES: &[ClientIdRule] = &[
    id_rule(
        "client_id.https",
        "client_id must use the https scheme",
        ATPROTO_CLIENTS,
        Severity::Error,
        https_scheme,
    ),
    id_rule(
        "client_id.no_userinfo",
        "client_id must not contain a username or password",
        CIMD_3,
        Severity::Error,
        no_userinfo,
    ),
    id_rule(
        "client_id.no_port",
        "client_id must not include a port number",
        ATPROTO_CLIENTS,
        Severity::Error,
        no_port,
    ),
    id_rule(
        "client_id.no_fragment",
        "client_id must not contain a fragment",
        CIMD_3,
        Severity::Error,
        no_fragment,
    ),
    id_rule(
        "client_id.no_dot_segments",
        "client_id must not contain \".\" or \"..\" path segments",
        CIMD_3,
        Severity::Error,
        no_dot_segments,
    ),
    id_rule(
        "client_id.path",
        "client_id must contain a path component",
        CIMD_3,
        Severity::Error,
        has_path,
    ),
    id_rule(
        "client_id.not_ip",
        "client_id host must be a domain name, not an IP address",
        POLICY,
        Severity::Error,
        host_not_ip,
    ),
    id_rule(
        "client_id.canonical",
        "client_id must be in canonical form",
        ATPROTO_METADATA,
        Severity::Error,
        canonical,
    ),
    id_rule(
        "client_id.no_query",
        "client_id should not include a query string",
        CIMD_3,
        Severity::Warning,
        no_query,
    ),
];

/// atproto OAuth spec, "Clients": the `client_id` "must be a well-formed
/// URL, following the W3C URL specification". Also bounded in length
/// (policy, [`MAX_CLIENT_ID_LEN`]).
pub fn parse_url(raw: &str) -> Result<Url, Violation> {
    if raw.is_empty() {
        return Err(Violation::new("client_id is empty"));
    }
    if raw.len() > MAX_CLIENT_ID_LEN {
        return Err(Violation::new(format!(
            "client_id is {} bytes long; at most {MAX_CLIENT_ID_LEN} are accepted",
            raw.len()
        )));
    }
    Url::parse(raw).map_err(|e| {
        Violation::new(format!("{} is not a URL ({e})", quote(raw)))
            .fix("use the full https URL of your client metadata document, e.g. https://app.example.com/oauth-client-metadata.json")
    })
}

/// atproto OAuth spec, "Clients": "the schema must be `https://`" (the
/// only exception being the `http://localhost` development form).
fn https_scheme(_raw: &str, url: &Url) -> RuleResult {
    if url.scheme() == "https" {
        return Ok(());
    }
    Err(Violation::new(format!("client_id uses the {:?} scheme", url.scheme()))
        .fix("serve the metadata document over https, or use exactly http://localhost for local development"))
}

/// draft-ietf-oauth-client-id-metadata-document §3: client identifier URLs
/// "MUST NOT contain a username or password".
fn no_userinfo(raw: &str, url: &Url) -> RuleResult {
    if url.username().is_empty() && url.password().is_none() && !raw_authority(raw).contains('@') {
        return Ok(());
    }
    Err(
        Violation::new("client_id contains credentials (a user:password@ part)")
            .fix("remove everything up to and including the \"@\" from the host"),
    )
}

/// atproto OAuth spec, "Clients": "there must not be a port number
/// included" (stricter than the draft, which allows one). A default port
/// written out (`:443`) is a port number too.
fn no_port(raw: &str, url: &Url) -> RuleResult {
    if url.port().is_none() && raw_port(raw).is_none() {
        return Ok(());
    }
    let port = raw_port(raw)
        .map(str::to_string)
        .or_else(|| url.port().map(|p| p.to_string()))
        .unwrap_or_default();
    Err(
        Violation::new(format!("client_id includes the port {}", quote(&port))).fix(
            "serve the metadata document on the default https port and drop \":port\" from the URL",
        ),
    )
}

/// draft-ietf-oauth-client-id-metadata-document §3: client identifier URLs
/// "MUST NOT contain a fragment component".
fn no_fragment(_raw: &str, url: &Url) -> RuleResult {
    if url.fragment().is_none() {
        return Ok(());
    }
    Err(Violation::new("client_id contains a fragment (\"#…\")")
        .fix("remove the \"#\" and everything after it"))
}

/// draft-ietf-oauth-client-id-metadata-document §3: client identifier URLs
/// "MUST NOT contain single-dot or double-dot path segments". Checked on
/// the raw string, since URL parsing resolves them away (percent-encoded
/// dots, `%2e`, count as dots, as the URL standard treats them).
fn no_dot_segments(raw: &str, _url: &Url) -> RuleResult {
    let found = raw_path(raw)
        .split(['/', '\\'])
        .skip(1)
        .find(|seg| is_dot_segment(seg));
    match found {
        None => Ok(()),
        Some(seg) => Err(Violation::new(format!(
            "client_id path contains the segment {}",
            quote(seg)
        ))
        .fix("write the path without \".\" or \"..\" segments")),
    }
}

/// draft-ietf-oauth-client-id-metadata-document §3: client identifier URLs
/// "MUST contain a path component"; a bare origin (`https://host/`) has
/// none.
fn has_path(_raw: &str, url: &Url) -> RuleResult {
    if !url.path().is_empty() && url.path() != "/" {
        return Ok(());
    }
    Err(Violation::new("client_id has no path").fix("use the URL of the document itself, e.g. https://app.example.com/oauth-client-metadata.json"))
}

/// SPEC.md §3 ("no IP-address host"): not in the atproto spec or the
/// draft, so this is local policy, shared with the reference server. A
/// client is identified by a domain name its developer controls, which
/// also anchors native redirect schemes (reverse domain) and `client_uri`.
fn host_not_ip(_raw: &str, url: &Url) -> RuleResult {
    match url.host() {
        Some(Host::Ipv4(ip)) => Err(Violation::new(format!(
            "client_id host is the IPv4 address {ip}"
        ))
        .fix("serve the metadata document under a domain name")),
        Some(Host::Ipv6(ip)) => Err(Violation::new(format!(
            "client_id host is the IPv6 address {ip}"
        ))
        .fix("serve the metadata document under a domain name")),
        _ => Ok(()),
    }
}

/// atproto OAuth spec, "Client ID Metadata Document": the document's
/// `client_id` "must exactly match the full URL used to fetch" it, so the
/// `client_id` must be the one spelling a URL parser gives back (lowercase
/// scheme and host, percent-encoding normalised); otherwise two strings
/// would name one document.
fn canonical(raw: &str, url: &Url) -> RuleResult {
    if url.as_str() == raw {
        return Ok(());
    }
    Err(Violation::new(format!(
        "client_id {} is not in canonical form; the canonical form is {}",
        quote(raw),
        quote(url.as_str())
    ))
    .fix(format!(
        "use {} as client_id, in the document and in requests",
        quote(url.as_str())
    )))
}

/// draft-ietf-oauth-client-id-metadata-document §3: client identifier URLs
/// "SHOULD NOT include a query string component". A warning only.
fn no_query(_raw: &str, url: &Url) -> RuleResult {
    if url.query().is_none() {
        return Ok(());
    }
    Err(Violation::new("client_id includes a query string")
        .fix("serve the document at a URL without \"?…\""))
}

/// The authority part of a raw URL string: after `scheme://`, up to the
/// first `/`, `\`, `?` or `#`. Empty when there is none.
fn raw_authority(raw: &str) -> &str {
    let Some((_, rest)) = raw.split_once("://") else {
        return "";
    };
    let end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
    rest.get(..end).unwrap_or("")
}

/// The port written in a raw URL's authority, if any (even empty, as in
/// `https://host:/`).
fn raw_port(raw: &str) -> Option<&str> {
    let authority = raw_authority(raw);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let after_host = if host_port.starts_with('[') {
        host_port.split_once(']').map_or("", |(_, rest)| rest)
    } else {
        host_port
            .find(':')
            .and_then(|i| host_port.get(i..))
            .unwrap_or("")
    };
    after_host.strip_prefix(':')
}

/// The path of a raw URL string: after the authority, up to `?` or `#`.
fn raw_path(raw: &str) -> &str {
    let Some((_, rest)) = raw.split_once("://") else {
        return "";
    };
    let start = rest.find(['/', '\\']).unwrap_or(rest.len());
    let path = rest.get(start..).unwrap_or("");
    let end = path.find(['?', '#']).unwrap_or(path.len());
    path.get(..end).unwrap_or("")
}

/// `.` or `..`, also percent-encoded (`%2e`, `.%2E`, …), as the URL
/// standard recognises them.
fn is_dot_segment(seg: &str) -> bool {
    let decoded = seg.to_ascii_lowercase().replace("%2e", ".");
    decoded == "." || decoded == ".."
}

// ---------------------------------------------------------------------------
// Development loopback document client_id (ClientIdPolicy)
// ---------------------------------------------------------------------------

/// The development-only discoverable form: `http://127.0.0.1:<port>/<path>`
/// or `http://[::1]:<port>/<path>`. Policy, accepted only under
/// [`ClientIdPolicy::allow_loopback_http_documents`] (`--dev`): neither the
/// atproto spec nor the draft has it. The explicit port keeps it apart from
/// the port-less `http://localhost` client, and the IP literal keeps the
/// fetch on this machine whatever the resolver says.
pub const DEV_LOOPBACK_DOCUMENT_RULE: ClientIdRule = id_rule(
    "client_id.dev_loopback_document",
    "a development client_id is http://127.0.0.1:<port>/<path> or http://[::1]:<port>/<path> (--dev only)",
    POLICY,
    Severity::Error,
    dev_loopback_port,
);

/// The rules of [`CLIENT_ID_RULES`] a development loopback document URL is
/// exempt from; it keeps every other one (credentials, fragment, dot
/// segments, path, canonical form, the query warning).
const DEV_RELAXED_RULES: [&str; 3] = ["client_id.https", "client_id.no_port", "client_id.not_ip"];

/// Whether a parsed URL has the shape of the development loopback document
/// form (`http` on `127.0.0.1` or `[::1]`); the rest is checked by
/// [`ClientId::parse_with`].
fn is_dev_loopback_document_form(url: &Url) -> bool {
    let loopback_ip = match url.host() {
        Some(Host::Ipv4(ip)) => ip == Ipv4Addr::LOCALHOST,
        Some(Host::Ipv6(ip)) => ip == Ipv6Addr::LOCALHOST,
        _ => false,
    };
    url.scheme() == "http" && loopback_ip
}

/// [`DEV_LOOPBACK_DOCUMENT_RULE`]: the port is written out and is not the
/// default (a loopback test server listens on an arbitrary one; URL parsing
/// drops `:80`, so it would not round-trip).
fn dev_loopback_port(raw: &str, url: &Url) -> RuleResult {
    if url.port().is_some() && raw_port(raw).is_some_and(|p| !p.is_empty()) {
        return Ok(());
    }
    Err(Violation::new(format!(
        "development client_id {} has no explicit, non-default port",
        quote(raw)
    ))
    .fix("use http://127.0.0.1:<port>/<path> or http://[::1]:<port>/<path>"))
}

fn parse_dev_loopback_document(raw: &str, url: Url) -> Result<ClientId, ClientError> {
    (DEV_LOOPBACK_DOCUMENT_RULE.check)(raw, &url)
        .map_err(|v| DEV_LOOPBACK_DOCUMENT_RULE.error(v))?;
    for rule in CLIENT_ID_RULES {
        if rule.severity == Severity::Error && !DEV_RELAXED_RULES.contains(&rule.id) {
            (rule.check)(raw, &url).map_err(|v| rule.error(v))?;
        }
    }
    Ok(ClientId::Discoverable(url))
}

// ---------------------------------------------------------------------------
// Loopback client_id
// ---------------------------------------------------------------------------

const fn loopback_rule(id: &'static str, rule: &'static str, section: &'static str) -> Rule<()> {
    Rule {
        id,
        field: "client_id",
        rule,
        section,
        code: ErrorCode::InvalidClient,
        severity: Severity::Error,
        check: (),
    }
}

/// atproto OAuth spec, "Localhost Client Development": "the scheme is
/// `http`, and … the hostname is exactly `localhost` with no port
/// specified".
pub const LOOPBACK_ORIGIN_RULE: Rule<()> = loopback_rule(
    "client_id.loopback_origin",
    "a loopback client_id is exactly http://localhost, with no port or credentials",
    ATPROTO_LOCALHOST,
);
/// "The path parameter must be empty (`/`)."
pub const LOOPBACK_PATH_RULE: Rule<()> = loopback_rule(
    "client_id.loopback_path",
    "a loopback client_id has an empty path (or \"/\")",
    ATPROTO_LOCALHOST,
);
/// draft-ietf-oauth-client-id-metadata-document §3 (no fragment), applied
/// to the loopback form too.
pub const LOOPBACK_FRAGMENT_RULE: Rule<()> = loopback_rule(
    "client_id.loopback_no_fragment",
    "a loopback client_id has no fragment",
    CIMD_3,
);
/// Only `redirect_uri` and `scope` may be "configured via query parameter".
pub const LOOPBACK_PARAMS_RULE: Rule<()> = loopback_rule(
    "client_id.loopback_params",
    "a loopback client_id query holds only redirect_uri and scope",
    ATPROTO_LOCALHOST,
);
/// `scope`: "single query parameter allowed".
pub const LOOPBACK_SCOPE_RULE: Rule<()> = loopback_rule(
    "client_id.loopback_scope",
    "a loopback client_id has at most one scope parameter",
    ATPROTO_LOCALHOST,
);
/// `redirect_uri` values are loopback IP URLs: http with `127.0.0.1` or
/// `[::1]`; `localhost` is refused (RFC 8252 §8.3: "NOT RECOMMENDED"; the
/// atproto spec's defaults are the IP literals).
pub const LOOPBACK_REDIRECT_RULE: Rule<()> = loopback_rule(
    "client_id.loopback_redirect_uri",
    "a loopback client's redirect_uri is http://127.0.0.1 or http://[::1]",
    ATPROTO_LOCALHOST,
);

/// The loopback rules, in the order they run (for the check report).
pub const LOOPBACK_RULES: [Rule<()>; 6] = [
    LOOPBACK_ORIGIN_RULE,
    LOOPBACK_PATH_RULE,
    LOOPBACK_FRAGMENT_RULE,
    LOOPBACK_PARAMS_RULE,
    LOOPBACK_SCOPE_RULE,
    LOOPBACK_REDIRECT_RULE,
];

/// Whether a parsed URL is meant as the loopback form (`http` and host
/// `localhost`); its exact spelling is checked by `ClientId::parse`.
pub fn is_loopback_form(url: &Url) -> bool {
    url.scheme() == "http" && url.host_str() == Some("localhost")
}

/// Parse the loopback development `client_id` (atproto OAuth spec,
/// "Localhost Client Development"). The query is form-encoded (`+` is a
/// space), as the spec's "with appropriate URL encoding" and every client
/// library produce it.
fn parse_loopback(raw: &str, url: &Url) -> Result<ClientId, ClientError> {
    let rest = raw.strip_prefix(LOOPBACK_ORIGIN).unwrap_or("");
    let origin_exact = raw.starts_with(LOOPBACK_ORIGIN)
        && !rest.starts_with(':')
        && url.username().is_empty()
        && url.password().is_none()
        && url.port().is_none();
    if !origin_exact {
        return Err(LOOPBACK_ORIGIN_RULE.error(
            Violation::new(format!(
                "{} is not spelled exactly http://localhost (lowercase, no port, no credentials)",
                quote(raw)
            ))
            .fix("use http://localhost as the origin; put the port in redirect_uri instead"),
        ));
    }
    let path = rest.split(['?', '#']).next().unwrap_or("");
    if !path.is_empty() && path != "/" {
        return Err(LOOPBACK_PATH_RULE.error(
            Violation::new(format!("loopback client_id has the path {}", quote(path)))
                .fix("use http://localhost or http://localhost/ followed only by a query"),
        ));
    }
    if url.fragment().is_some() {
        return Err(LOOPBACK_FRAGMENT_RULE.error(
            Violation::new("loopback client_id contains a fragment (\"#…\")")
                .fix("remove the \"#\" and everything after it"),
        ));
    }
    let mut redirect_uris = Vec::new();
    let mut scope: Option<String> = None;
    for (name, value) in url.query_pairs() {
        match name.as_ref() {
            "redirect_uri" => {
                check_loopback_redirect_uri(&value)?;
                redirect_uris.push(value.into_owned());
            }
            "scope" => {
                if scope.is_some() {
                    return Err(LOOPBACK_SCOPE_RULE.error(
                        Violation::new("loopback client_id has more than one scope parameter")
                            .fix("join all scopes, separated by spaces, in one scope parameter"),
                    ));
                }
                scope = Some(value.into_owned());
            }
            other => {
                return Err(LOOPBACK_PARAMS_RULE.error(
                    Violation::new(format!(
                        "loopback client_id has the query parameter {}",
                        quote(other)
                    ))
                    .fix("use only redirect_uri (repeatable) and scope"),
                ));
            }
        }
    }
    if redirect_uris.is_empty() {
        redirect_uris = LOOPBACK_DEFAULT_REDIRECT_URIS
            .iter()
            .map(|s| s.to_string())
            .collect();
    }
    Ok(ClientId::Loopback {
        raw: raw.to_string(),
        redirect_uris,
        scope: scope.unwrap_or_else(|| LOOPBACK_DEFAULT_SCOPE.to_string()),
    })
}

/// One `redirect_uri` of a loopback client: an http URL on a loopback IP
/// literal, no fragment, no credentials.
fn check_loopback_redirect_uri(value: &str) -> Result<(), ClientError> {
    let fail = |msg: String| {
        LOOPBACK_REDIRECT_RULE.error(
            Violation::new(msg)
                .fix("use http://127.0.0.1:<port>/<path> or http://[::1]:<port>/<path>"),
        )
    };
    let url = Url::parse(value)
        .map_err(|e| fail(format!("redirect_uri {} is not a URL ({e})", quote(value))))?;
    if url.host_str() == Some("localhost") {
        return Err(fail(format!(
            "redirect_uri {} uses the host localhost, which is refused (RFC 8252 §8.3)",
            quote(value)
        )));
    }
    if !is_loopback_ip_url(&url) {
        return Err(fail(format!(
            "redirect_uri {} is not an http URL on 127.0.0.1 or [::1]",
            quote(value)
        )));
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(fail(format!(
            "redirect_uri {} contains a fragment or credentials",
            quote(value)
        )));
    }
    Ok(())
}

#[cfg(test)]
#[path = "client_id_tests.rs"]
mod tests;
