//! The two discovery documents: authorization-server metadata (RFC 8414)
//! and protected-resource metadata (RFC 9728), in the atproto profile.

use serde::Serialize;
use url::Url;

/// The transitional and base scopes advertised (atproto.com/specs/oauth,
/// "Scopes"). Granular permissions are accepted but not enumerated: the
/// protected-resource document must stay under 1 KiB (SPEC §2).
pub const BASE_SCOPES: &[&str] = &[
    "atproto",
    "transition:generic",
    "transition:chat.bsky",
    "transition:email",
];

/// Why an issuer URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IssuerError(pub String);

/// A validated issuer: an origin, `scheme://host[:port]`, no path, no
/// trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer(String);

impl Issuer {
    /// RFC 8414 §2: the issuer is an https URL with no query or fragment;
    /// atproto profile: it is an origin, with no path. An http issuer is
    /// allowed only for a loopback host and only when `allow_http` (the
    /// explicit development mode).
    pub fn parse(input: &str, allow_http: bool) -> Result<Issuer, IssuerError> {
        let url = Url::parse(input)
            .map_err(|e| IssuerError(format!("issuer {input:?} is not a URL: {e}")))?;
        match url.scheme() {
            "https" => {}
            "http" if allow_http => {
                let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
                if !loopback {
                    return Err(IssuerError(format!(
                        "issuer {input:?}: http is allowed only for a loopback host (localhost, 127.0.0.1, [::1]) in development mode"
                    )));
                }
            }
            "http" => {
                return Err(IssuerError(format!(
                    "issuer {input:?} must use https (http is allowed only with --dev)"
                )))
            }
            other => {
                return Err(IssuerError(format!(
                    "issuer {input:?} has unsupported scheme {other:?}"
                )))
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(IssuerError(format!("issuer {input:?} has no host")));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(IssuerError(format!(
                "issuer {input:?} may not contain credentials"
            )));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(IssuerError(format!(
                "issuer {input:?} may not have a query or fragment"
            )));
        }
        if url.path() != "/" || input.ends_with('/') {
            return Err(IssuerError(format!(
                "issuer {input:?} must be an origin with no path and no trailing slash (e.g. https://auth.example.com)"
            )));
        }
        // `Url` renders the origin canonically (lowercase host, default port dropped).
        let origin = url.origin().ascii_serialization();
        Ok(Issuer(origin))
    }

    /// The issuer string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An endpoint URL under this issuer.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.0, path)
    }
}

impl std::fmt::Display for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Paths of the endpoints, relative to the issuer.
pub mod paths {
    /// RFC 6749 §3.1
    pub const AUTHORIZE: &str = "/oauth/authorize";
    /// RFC 6749 §3.2
    pub const TOKEN: &str = "/oauth/token";
    /// RFC 9126
    pub const PAR: &str = "/oauth/par";
    /// RFC 7009
    pub const REVOKE: &str = "/oauth/revoke";
    /// RFC 7662
    pub const INTROSPECT: &str = "/oauth/introspect";
    /// RFC 7517
    pub const JWKS: &str = "/oauth/jwks";
    /// RFC 8414 §3
    pub const AS_METADATA: &str = "/.well-known/oauth-authorization-server";
    /// RFC 9728 §3
    pub const PR_METADATA: &str = "/.well-known/oauth-protected-resource";
}

/// What the authorization-server document depends on.
#[derive(Debug, Clone)]
pub struct AsMetadataOptions {
    /// This server's issuer.
    pub issuer: Issuer,
    /// Origins of the resource servers (PDSes) this server issues tokens for.
    pub protected_resources: Vec<String>,
    /// Whether the introspection endpoint is enabled.
    pub introspection: bool,
    /// UI languages offered.
    pub ui_locales: Vec<String>,
}

/// RFC 8414 §2 metadata, with the atproto profile's required values
/// (atproto.com/specs/oauth, "Authorization Servers").
#[derive(Debug, Clone, Serialize)]
pub struct AuthorizationServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub pushed_authorization_request_endpoint: String,
    pub require_pushed_authorization_requests: bool,
    pub revocation_endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    pub jwks_uri: String,
    pub response_types_supported: Vec<&'static str>,
    pub response_modes_supported: Vec<&'static str>,
    pub grant_types_supported: Vec<&'static str>,
    pub code_challenge_methods_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    pub token_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    pub revocation_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    pub scopes_supported: Vec<&'static str>,
    pub subject_types_supported: Vec<&'static str>,
    pub authorization_response_iss_parameter_supported: bool,
    pub dpop_signing_alg_values_supported: Vec<&'static str>,
    pub client_id_metadata_document_supported: bool,
    pub require_request_uri_registration: bool,
    pub request_parameter_supported: bool,
    pub request_uri_parameter_supported: bool,
    pub prompt_values_supported: Vec<&'static str>,
    pub ui_locales_supported: Vec<String>,
    pub protected_resources: Vec<String>,
}

impl AuthorizationServerMetadata {
    /// Build the document.
    pub fn new(opts: &AsMetadataOptions) -> Self {
        let e = |p: &str| opts.issuer.endpoint(p);
        AuthorizationServerMetadata {
            issuer: opts.issuer.as_str().to_string(),
            authorization_endpoint: e(paths::AUTHORIZE),
            token_endpoint: e(paths::TOKEN),
            pushed_authorization_request_endpoint: e(paths::PAR),
            // atproto profile: PAR is mandatory.
            require_pushed_authorization_requests: true,
            revocation_endpoint: e(paths::REVOKE),
            introspection_endpoint: opts.introspection.then(|| e(paths::INTROSPECT)),
            jwks_uri: e(paths::JWKS),
            response_types_supported: vec!["code"],
            response_modes_supported: vec!["query", "fragment", "form_post"],
            grant_types_supported: vec!["authorization_code", "refresh_token"],
            // atproto profile: S256 only, never plain.
            code_challenge_methods_supported: vec!["S256"],
            token_endpoint_auth_methods_supported: vec!["none", "private_key_jwt"],
            // atproto profile: ES256 required, `none` never listed.
            token_endpoint_auth_signing_alg_values_supported: vec!["ES256"],
            revocation_endpoint_auth_methods_supported: vec!["none", "private_key_jwt"],
            revocation_endpoint_auth_signing_alg_values_supported: vec!["ES256"],
            scopes_supported: BASE_SCOPES.to_vec(),
            subject_types_supported: vec!["public"],
            // RFC 9207
            authorization_response_iss_parameter_supported: true,
            dpop_signing_alg_values_supported: vec!["ES256"],
            client_id_metadata_document_supported: true,
            require_request_uri_registration: true,
            request_parameter_supported: false,
            request_uri_parameter_supported: true,
            prompt_values_supported: vec!["none", "login", "consent", "select_account"],
            ui_locales_supported: opts.ui_locales.clone(),
            protected_resources: opts.protected_resources.clone(),
        }
    }
}

/// RFC 9728 §2 metadata for a PDS. Kept small: one widely used client
/// refuses a document over 1 KiB (SPEC §2).
#[derive(Debug, Clone, Serialize)]
pub struct ProtectedResourceMetadata {
    pub resource: String,
    /// atproto profile: exactly one authorization server.
    pub authorization_servers: Vec<String>,
    pub bearer_methods_supported: Vec<&'static str>,
    /// Present because some clients fail to parse the document without it.
    pub scopes_supported: Vec<&'static str>,
    pub dpop_signing_alg_values_supported: Vec<&'static str>,
}

impl ProtectedResourceMetadata {
    /// Build the document for `resource`, naming `issuer` as its one AS.
    pub fn new(resource: &str, issuer: &Issuer) -> Self {
        ProtectedResourceMetadata {
            resource: resource.to_string(),
            authorization_servers: vec![issuer.as_str().to_string()],
            bearer_methods_supported: vec!["header"],
            scopes_supported: BASE_SCOPES.to_vec(),
            dpop_signing_alg_values_supported: vec!["ES256"],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_https_origin_and_canonicalises() {
        assert_eq!(
            Issuer::parse("https://Auth.Example.com", false)
                .unwrap()
                .as_str(),
            "https://auth.example.com"
        );
        assert_eq!(
            Issuer::parse("https://a.example:443", false)
                .unwrap()
                .as_str(),
            "https://a.example"
        );
        assert_eq!(
            Issuer::parse("https://a.example:8443", false)
                .unwrap()
                .as_str(),
            "https://a.example:8443"
        );
        assert_eq!(
            Issuer::parse("http://localhost:2583", true)
                .unwrap()
                .as_str(),
            "http://localhost:2583"
        );
    }

    #[test]
    fn rejects_http_issuer_outside_dev() {
        let e = Issuer::parse("http://localhost:2583", false).unwrap_err();
        assert!(e.0.contains("must use https"), "{e}");
    }

    #[test]
    fn rejects_http_non_loopback_even_in_dev() {
        assert!(Issuer::parse("http://auth.example.com", true)
            .unwrap_err()
            .0
            .contains("loopback"));
    }

    #[test]
    fn rejects_issuer_with_path_or_trailing_slash() {
        for bad in [
            "https://a.example/oauth",
            "https://a.example/",
            "https://a.example?x=1",
            "https://a.example#f",
            "https://u:p@a.example",
            "ftp://a.example",
            "not a url",
        ] {
            assert!(Issuer::parse(bad, true).is_err(), "accepted {bad}");
        }
        assert!(Issuer::parse("https://a.example/x", false)
            .unwrap_err()
            .0
            .contains("no path"));
    }

    #[test]
    fn as_metadata_has_profile_values() {
        let m = AuthorizationServerMetadata::new(&AsMetadataOptions {
            issuer: Issuer::parse("https://a.example", false).unwrap(),
            protected_resources: vec!["https://a.example".into()],
            introspection: false,
            ui_locales: vec!["en".into()],
        });
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert!(v.get("introspection_endpoint").is_none());
        assert!(serde_json::to_string(&m).unwrap().len() < 4096);
    }

    #[test]
    fn pr_metadata_is_under_1kib() {
        let m = ProtectedResourceMetadata::new(
            "https://pds.example",
            &Issuer::parse("https://a.example", false).unwrap(),
        );
        assert!(serde_json::to_string(&m).unwrap().len() < 1024);
    }
}
