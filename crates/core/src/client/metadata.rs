//! The client metadata document and its validation.
//!
//! [`ClientMetadata`] holds the document as sent (every field a plain
//! string, list or JSON value, so a wrong value is reported by the rule
//! that owns it rather than by a JSON type error); [`validate_metadata`]
//! runs [`METADATA_RULES`] in order and turns a document that passes into a
//! [`ValidatedClient`], the only thing the server should cache.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use super::client_id::ClientId;
use super::jwks::{self, ClientJwks};
use super::redirect_uri;
use super::section::*;
use super::{quote, ClientError, Rule, RuleResult, Severity, Violation};
use crate::error::ErrorCode;

/// The one algorithm accepted for client assertions (atproto OAuth spec,
/// "Confidential Client Authentication": "must support the `ES256`
/// cryptographic system"; this server supports nothing else).
pub const CLIENT_ASSERTION_ALG: &str = "ES256";

/// A client metadata document (RFC 7591 §2, the OpenID `application_type`,
/// `dpop_bound_access_tokens` from RFC 9449 §5.2, and the fields the
/// atproto spec uses). Unknown fields are ignored. `null` counts as absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientMetadata {
    /// The document's own URL (draft-ietf-oauth-client-id-metadata-document §4.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `web` (default) or `native` (OpenID Connect Dynamic Client Registration §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
    /// RFC 7591 §2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    /// RFC 7591 §2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_types: Option<Vec<String>>,
    /// RFC 7591 §2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    /// Space-separated scopes the client may request (RFC 7591 §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// RFC 7591 §2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// OpenID Connect Dynamic Client Registration §2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// Inline JWK Set (RFC 7591 §2), kept as JSON and checked by the rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// URL of the JWK Set (RFC 7591 §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// RFC 9449 §5.2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_bound_access_tokens: Option<bool>,
    /// RFC 7591 §2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// RFC 7591 §2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    /// RFC 7591 §2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// RFC 7591 §2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// RFC 7591 §2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    /// RFC 7591 §2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<String>>,
    /// RFC 7591 §2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    /// RFC 7591 §2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// RFC 7591 §3.2.1. Forbidden here (no shared secrets); kept as JSON
    /// so that any value, of any type, is seen and refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Value>,
    /// RFC 7591 §3.2.1. Forbidden here, like `client_secret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<Value>,
}

/// atproto OAuth spec, "Client ID Metadata Document": the body is "a JSON
/// object". Every known field must also have its JSON type (RFC 7591 §2).
pub const DOCUMENT_RULE: Rule<()> = Rule {
    id: "document.json",
    field: "(document)",
    rule: "the document is a JSON object whose fields have their RFC 7591 types",
    section: ATPROTO_METADATA,
    code: ErrorCode::InvalidClientMetadata,
    severity: Severity::Error,
    check: (),
};

impl ClientMetadata {
    /// Parse a fetched document. Each known field is read on its own so a
    /// wrong JSON type names the field; unknown fields are ignored.
    pub fn from_json(body: &[u8]) -> Result<ClientMetadata, ClientError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            DOCUMENT_RULE.error(Violation::new(format!("the document is not JSON ({e})")))
        })?;
        Self::from_value(value)
    }

    /// [`ClientMetadata::from_json`] for an already parsed value.
    pub fn from_value(value: Value) -> Result<ClientMetadata, ClientError> {
        let Value::Object(mut m) = value else {
            return Err(DOCUMENT_RULE.error(
                Violation::new("the document is not a JSON object")
                    .fix("serve a JSON object: {\"client_id\": …}"),
            ));
        };
        Ok(ClientMetadata {
            client_id: take(&mut m, "client_id")?,
            application_type: take(&mut m, "application_type")?,
            grant_types: take(&mut m, "grant_types")?,
            response_types: take(&mut m, "response_types")?,
            redirect_uris: take(&mut m, "redirect_uris")?,
            scope: take(&mut m, "scope")?,
            token_endpoint_auth_method: take(&mut m, "token_endpoint_auth_method")?,
            token_endpoint_auth_signing_alg: take(&mut m, "token_endpoint_auth_signing_alg")?,
            jwks: take(&mut m, "jwks")?,
            jwks_uri: take(&mut m, "jwks_uri")?,
            dpop_bound_access_tokens: take(&mut m, "dpop_bound_access_tokens")?,
            client_name: take(&mut m, "client_name")?,
            client_uri: take(&mut m, "client_uri")?,
            logo_uri: take(&mut m, "logo_uri")?,
            tos_uri: take(&mut m, "tos_uri")?,
            policy_uri: take(&mut m, "policy_uri")?,
            contacts: take(&mut m, "contacts")?,
            software_id: take(&mut m, "software_id")?,
            software_version: take(&mut m, "software_version")?,
            client_secret: take(&mut m, "client_secret")?,
            client_secret_expires_at: take(&mut m, "client_secret_expires_at")?,
        })
    }
}

/// Read one field of the document; `null` counts as absent.
fn take<T: DeserializeOwned>(
    m: &mut Map<String, Value>,
    name: &'static str,
) -> Result<Option<T>, ClientError> {
    match m.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v)
            .map(Some)
            .map_err(|e| ClientError {
                field: name,
                ..DOCUMENT_RULE.error(
                    Violation::new(format!("{name} has the wrong JSON type ({e})"))
                        .fix("see RFC 7591 §2 for the type of each field"),
                )
            }),
    }
}

/// `application_type` (OpenID Connect Dynamic Client Registration §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplicationType {
    /// Web services and browser apps: https redirects, matched exactly.
    Web,
    /// Mobile and desktop apps: private-use schemes, https, loopback IPs.
    Native,
}

impl ApplicationType {
    /// The field's value, with `web` as the default when absent; `None`
    /// for any other value.
    pub fn from_field(value: Option<&str>) -> Option<ApplicationType> {
        match value {
            None | Some("web") => Some(ApplicationType::Web),
            Some("native") => Some(ApplicationType::Native),
            Some(_) => None,
        }
    }
}

/// `token_endpoint_auth_method`, restricted to what atproto allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A public client.
    None,
    /// A confidential client signing JWT assertions (RFC 7523).
    PrivateKeyJwt,
}

impl AuthMethod {
    /// The field's value, if it is one atproto allows.
    pub fn from_field(value: Option<&str>) -> Option<AuthMethod> {
        match value {
            Some("none") => Some(AuthMethod::None),
            Some("private_key_jwt") => Some(AuthMethod::PrivateKeyJwt),
            _ => None,
        }
    }
}

/// A client whose metadata passed every rule. This is what the server
/// caches and every flow reads.
#[derive(Debug, Clone)]
pub struct ValidatedClient {
    /// The client's identifier.
    pub client_id: ClientId,
    /// The document as validated.
    pub metadata: ClientMetadata,
    /// Web or native.
    pub application_type: ApplicationType,
    /// Public (`none`) or confidential (`private_key_jwt`).
    pub auth_method: AuthMethod,
    /// The scopes the client may request, in document order.
    pub scopes: Vec<String>,
    /// The registered redirect URIs, as written in the document.
    pub redirect_uris: Vec<String>,
    /// The inline keys, parsed (confidential clients using `jwks`).
    pub jwks: Option<ClientJwks>,
    /// Where to fetch the keys (confidential clients using `jwks_uri`).
    pub jwks_uri: Option<Url>,
}

impl ValidatedClient {
    /// Whether the client authenticates with `private_key_jwt`.
    pub fn is_confidential(&self) -> bool {
        self.auth_method == AuthMethod::PrivateKeyJwt
    }

    /// Whether `grant_types` lists `grant`.
    pub fn allows_grant(&self, grant: &str) -> bool {
        self.metadata
            .grant_types
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|g| g == grant)
    }

    /// Whether the client may use refresh tokens (atproto OAuth spec,
    /// "Tokens and Session Lifetime": it "must declare `refresh_token` as a
    /// grant type").
    pub fn allows_refresh_token(&self) -> bool {
        self.allows_grant("refresh_token")
    }

    /// Whether `scope` is one the client declared.
    pub fn declares_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// Validate a client's metadata document against every rule of the atproto
/// profile, in the fixed order of [`METADATA_RULES`], stopping at the first
/// broken MUST.
pub fn validate_metadata(
    client_id: &ClientId,
    doc: ClientMetadata,
) -> Result<ValidatedClient, ClientError> {
    for rule in METADATA_RULES {
        if rule.severity == Severity::Error {
            (rule.check)(client_id, &doc).map_err(|v| rule.error(v))?;
        }
    }
    build(client_id, doc)
}

/// Assemble the typed client from a document that passed every rule. The
/// rules guarantee each step; failures here would mean a rule is missing,
/// and are reported as the rule that should have caught them.
fn build(client_id: &ClientId, doc: ClientMetadata) -> Result<ValidatedClient, ClientError> {
    let rule_error = |id: &str| rule_by_id(id).map(|r| r.error(Violation::new("invalid value")));
    let internal = || {
        DOCUMENT_RULE.error(Violation::new(
            "the document could not be read after validation",
        ))
    };
    let application_type = ApplicationType::from_field(doc.application_type.as_deref())
        .ok_or_else(|| rule_error("application_type.value").unwrap_or_else(internal))?;
    let auth_method = AuthMethod::from_field(doc.token_endpoint_auth_method.as_deref())
        .ok_or_else(|| rule_error("token_endpoint_auth_method.value").unwrap_or_else(internal))?;
    let scopes = doc
        .scope
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .map(str::to_string)
        .collect();
    let redirect_uris = doc.redirect_uris.clone().unwrap_or_default();
    let jwks = match (&doc.jwks, auth_method) {
        (Some(v), AuthMethod::PrivateKeyJwt) => Some(ClientJwks::from_json(v, "jwks")?),
        _ => None,
    };
    let jwks_uri = match &doc.jwks_uri {
        Some(u) => {
            Some(Url::parse(u).map_err(|_| rule_error("jwks_uri.https").unwrap_or_else(internal))?)
        }
        None => None,
    };
    Ok(ValidatedClient {
        client_id: client_id.clone(),
        metadata: doc,
        application_type,
        auth_method,
        scopes,
        redirect_uris,
        jwks,
        jwks_uri,
    })
}

// ---------------------------------------------------------------------------
// The rule table
// ---------------------------------------------------------------------------

/// The metadata rule with this id.
pub(crate) fn rule_by_id(id: &str) -> Option<&'static MetadataRule> {
    METADATA_RULES.iter().find(|r| r.id == id)
}

/// The type of a metadata rule.
pub type MetadataRuleFn = fn(&ClientId, &ClientMetadata) -> RuleResult;
/// A metadata rule.
pub type MetadataRule = Rule<MetadataRuleFn>;

const fn rule(
    id: &'static str,
    field: &'static str,
    rule: &'static str,
    section: &'static str,
    check: MetadataRuleFn,
) -> MetadataRule {
    Rule {
        id,
        field,
        rule,
        section,
        code: ErrorCode::InvalidClientMetadata,
        severity: Severity::Error,
        check,
    }
}

const fn redirect_rule(
    id: &'static str,
    rule: &'static str,
    section: &'static str,
    check: MetadataRuleFn,
) -> MetadataRule {
    Rule {
        id,
        field: "redirect_uris",
        rule,
        section,
        code: ErrorCode::InvalidRedirectUri,
        severity: Severity::Error,
        check,
    }
}

/// Every metadata rule, in the order [`validate_metadata`] runs them.
/// Redirect-URI rules answer `invalid_redirect_uri` (RFC 7591 §3.2.2); a
/// document that is not the client's answers `invalid_client`; the rest
/// `invalid_client_metadata`. A rule about a field that is absent or
/// unreadable passes, leaving the report to the rule that owns that.
pub static METADATA_RULES: &[MetadataRule] = &[
    Rule { code: ErrorCode::InvalidClient, ..rule("client_id.match", "client_id", "the document's client_id equals the URL it was fetched from", ATPROTO_METADATA, client_id_matches) },
    rule("client_secret.absent", "client_secret", "no client_secret or client_secret_expires_at", CIMD_4_1, no_client_secret),
    rule("application_type.value", "application_type", "application_type is web (default) or native", ATPROTO_METADATA, application_type_known),
    rule("grant_types.authorization_code", "grant_types", "grant_types is present and includes authorization_code", ATPROTO_METADATA, grant_types_has_code),
    rule("grant_types.allowed", "grant_types", "grant_types holds only authorization_code and refresh_token", ATPROTO_METADATA, grant_types_allowed),
    rule("response_types.code", "response_types", "response_types is present and includes code", ATPROTO_METADATA, response_types_has_code),
    rule("response_types.allowed", "response_types", "response_types holds only code", ATPROTO_METADATA, response_types_allowed),
    rule("scope.present", "scope", "scope is present and not empty", ATPROTO_METADATA, scope_present),
    rule("scope.syntax", "scope", "scope is scope tokens separated by single spaces", RFC6749_3_3, scope_syntax),
    rule("scope.atproto", "scope", "scope includes atproto", ATPROTO_SCOPES, scope_has_atproto),
    rule("scope.unique", "scope", "scope lists each value once", POLICY, scope_unique),
    redirect_rule("redirect_uris.present", "at least one redirect URI", ATPROTO_METADATA, redirect_uri::present),
    redirect_rule("redirect_uris.valid", "each redirect URI is an absolute URL without fragment or credentials", RFC6749_3_1_2, redirect_uri::valid),
    redirect_rule("redirect_uris.no_localhost", "no redirect URI uses the host localhost", RFC8252_8_3, redirect_uri::no_localhost),
    redirect_rule("redirect_uris.web_https", "a web client's redirect URIs use https", ATPROTO_REQUEST_FIELDS, redirect_uri::web_https),
    redirect_rule("redirect_uris.native_scheme", "a native client's redirect URIs use https, http on a loopback IP, or a private-use scheme with a dot", RFC8252_8_4, redirect_uri::native_scheme),
    redirect_rule("redirect_uris.http_loopback", "an http redirect URI is on 127.0.0.1 or [::1]", RFC8252_7_3, redirect_uri::http_loopback),
    redirect_rule("redirect_uris.private_use_scheme", "a private-use scheme is the client_id host in reverse order", ATPROTO_REQUEST_FIELDS, redirect_uri::private_use_scheme),
    redirect_rule("redirect_uris.private_use_form", "a private-use redirect URI is scheme:/path, with a single slash", RFC8252_7_1, redirect_uri::private_use_form),
    redirect_rule("redirect_uris.native_https_origin", "a native client's https redirect URI has the client_id's origin", ATPROTO_REQUEST_FIELDS, redirect_uri::native_https_origin),
    rule("dpop_bound_access_tokens.true", "dpop_bound_access_tokens", "dpop_bound_access_tokens is true", ATPROTO_METADATA, dpop_bound),
    rule("token_endpoint_auth_method.value", "token_endpoint_auth_method", "token_endpoint_auth_method is none or private_key_jwt", ATPROTO_METADATA, auth_method_known),
    rule("token_endpoint_auth_method.native_public", "token_endpoint_auth_method", "a native client is public (none)", RFC8252_8_4, native_is_public),
    rule("token_endpoint_auth_signing_alg.value", "token_endpoint_auth_signing_alg", "private_key_jwt needs token_endpoint_auth_signing_alg ES256; never none", ATPROTO_METADATA, signing_alg),
    rule("jwks.not_both", "jwks", "jwks and jwks_uri are not both present", RFC7591_2, jwks_not_both),
    rule("jwks.required", "jwks", "private_key_jwt needs jwks or jwks_uri", ATPROTO_CONFIDENTIAL, jwks_required),
    rule("jwks_uri.https", "jwks_uri", "jwks_uri is an https URL", ATPROTO_CONFIDENTIAL, jwks::rule_jwks_uri_https),
    rule("jwks.shape", "jwks", "jwks is a JWK Set: an object with a keys array of JWK objects", RFC7517_5, jwks::rule_shape),
    rule("jwks.public_only", "jwks", "jwks holds public keys only", ATPROTO_CONFIDENTIAL, jwks::rule_public_only),
    rule("jwks.keys_valid", "jwks", "every P-256 key is a valid point and kids are unique", RFC7517_5, jwks::rule_keys_valid),
    rule("jwks.usable_key", "jwks", "private_key_jwt needs an ES256 (P-256) signing key with a kid", ATPROTO_CONFIDENTIAL, jwks::rule_usable_key),
    rule("client_uri.same_origin", "client_uri", "client_uri has the client_id's origin", ATPROTO_METADATA, client_uri_same_origin),
    rule("client_uri.parent_path", "client_uri", "client_uri is the client_id URL or one of its parent paths", POLICY, client_uri_parent_path),
    rule("logo_uri.https", "logo_uri", "logo_uri is an https URL", ATPROTO_METADATA, logo_uri_https),
    rule("tos_uri.https", "tos_uri", "tos_uri is an https URL", ATPROTO_METADATA, tos_uri_https),
    rule("policy_uri.https", "policy_uri", "policy_uri is an https URL", ATPROTO_METADATA, policy_uri_https),
];

/// atproto OAuth spec, "Client ID Metadata Document": `client_id` "must
/// exactly match the full URL used to fetch the client metadata file
/// itself"; draft §4.1: "using simple string comparison". A document that
/// names another client is not this client's: `invalid_client`.
fn client_id_matches(id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    match doc.client_id.as_deref() {
        Some(c) if c == id.as_str() => Ok(()),
        Some(c) => Err(Violation::new(format!(
            "the document says client_id {} but was fetched from {}",
            quote(c),
            quote(id.as_str())
        ))
        .fix(format!("set client_id to exactly {}", quote(id.as_str())))),
        None => Err(Violation::new("the document has no client_id")
            .fix(format!("add \"client_id\": {}", quote(id.as_str())))),
    }
}

/// draft-ietf-oauth-client-id-metadata-document §4.1: "the client_secret
/// and client_secret_expires_at properties MUST NOT be used"; atproto OAuth
/// spec: "There is no `client_secret` shared between servers and clients."
fn no_client_secret(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    let name = if doc.client_secret.is_some() {
        "client_secret"
    } else if doc.client_secret_expires_at.is_some() {
        "client_secret_expires_at"
    } else {
        return Ok(());
    };
    Err(Violation::new(format!("the document contains {name}")).fix(format!("remove {name}; confidential clients use private_key_jwt with a public key in jwks or jwks_uri")))
}

/// atproto OAuth spec, "Client ID Metadata Document": `application_type`
/// "must be one of `web` or `native`, with `web` as the default".
fn application_type_known(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    match doc.application_type.as_deref() {
        v if ApplicationType::from_field(v).is_some() => Ok(()),
        v => Err(Violation::new(format!(
            "application_type is {}",
            quote(v.unwrap_or_default())
        ))
        .fix("use \"web\" or \"native\", or omit it for web")),
    }
}

/// atproto OAuth spec, "Client ID Metadata Document": `grant_types`
/// (required): "`authorization_code` must always be included". The field
/// is required by the atproto spec, so RFC 7591's default does not apply.
fn grant_types_has_code(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    match &doc.grant_types {
        None => Err(Violation::new("grant_types is missing")
            .fix("add \"grant_types\": [\"authorization_code\", \"refresh_token\"]")),
        Some(g) if g.iter().any(|g| g == "authorization_code") => Ok(()),
        Some(_) => Err(
            Violation::new("grant_types does not include authorization_code")
                .fix("add \"authorization_code\" to grant_types"),
        ),
    }
}

/// atproto OAuth spec, introduction: "only the 'authorization code' OAuth
/// 2.0 grant type is supported, not 'implicit' or other grant types"; plus
/// `refresh_token` ("must be included if the client will make token
/// refresh requests").
fn grant_types_allowed(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    let bad = doc
        .grant_types
        .iter()
        .flatten()
        .find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"));
    match bad {
        None => Ok(()),
        Some(g) => Err(Violation::new(format!(
            "grant_types includes {}, which atproto does not allow",
            quote(g)
        ))
        .fix("keep only \"authorization_code\" and \"refresh_token\"")),
    }
}

/// atproto OAuth spec, "Client ID Metadata Document": `response_types`
/// (required): "`code` must be included".
fn response_types_has_code(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    match &doc.response_types {
        None => {
            Err(Violation::new("response_types is missing")
                .fix("add \"response_types\": [\"code\"]"))
        }
        Some(r) if r.iter().any(|r| r == "code") => Ok(()),
        Some(_) => Err(Violation::new("response_types does not include code")
            .fix("use \"response_types\": [\"code\"]")),
    }
}

/// atproto OAuth spec, introduction: the authorization code flow with PKCE
/// only, so `code` is the only response type (no implicit `token`, no
/// OpenID `id_token`).
fn response_types_allowed(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    match doc
        .response_types
        .iter()
        .flatten()
        .find(|r| r.as_str() != "code")
    {
        None => Ok(()),
        Some(r) => Err(
            Violation::new(format!("response_types includes {}", quote(r)))
                .fix("use \"response_types\": [\"code\"]"),
        ),
    }
}

/// atproto OAuth spec, "Client ID Metadata Document": `scope` (required):
/// "all scope values which might be requested by this client are declared
/// here".
fn scope_present(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    match doc.scope.as_deref() {
        Some(s) if !s.is_empty() => Ok(()),
        Some(_) => Err(Violation::new("scope is empty")
            .fix("declare the scopes the client may request, e.g. \"atproto transition:generic\"")),
        None => Err(Violation::new("scope is missing")
            .fix("add \"scope\": \"atproto\" plus the other scopes the client may request")),
    }
}

/// RFC 6749 §3.3: `scope = scope-token *( SP scope-token )`, each token
/// `1*( %x21 / %x23-5B / %x5D-7E )`; the atproto spec: "sub-strings
/// space-separated".
fn scope_syntax(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    let Some(s) = doc.scope.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    let token_ok = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
    };
    match s.split(' ').find(|t| !token_ok(t)) {
        None => Ok(()),
        Some("") => Err(Violation::new(format!(
            "scope {} has leading, trailing or double spaces",
            quote(s)
        ))
        .fix("separate scopes with exactly one space")),
        Some(t) => Err(Violation::new(format!(
            "scope value {} contains a character RFC 6749 §3.3 forbids",
            quote(t)
        ))
        .fix("use printable ASCII without spaces, '\"' or '\\' in each scope")),
    }
}

/// atproto OAuth spec, "Client ID Metadata Document": "The `atproto` scope
/// is required, so must be included here."
fn scope_has_atproto(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    match doc.scope.as_deref() {
        Some(s) if !s.is_empty() && !s.split(' ').any(|t| t == "atproto") => Err(Violation::new(
            format!("scope {} does not include atproto", quote(s)),
        )
        .fix("add \"atproto\" to scope")),
        _ => Ok(()),
    }
}

/// SPEC.md §3, "no duplicates" (policy, shared with the reference server):
/// a scope listed twice is a mistake in the document.
fn scope_unique(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    let tokens: Vec<&str> = doc
        .scope
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .filter(|t| !t.is_empty())
        .collect();
    let dup = tokens
        .iter()
        .enumerate()
        .find(|(i, t)| tokens.iter().skip(i + 1).any(|u| u == *t));
    match dup {
        None => Ok(()),
        Some((_, t)) => Err(
            Violation::new(format!("scope lists {} more than once", quote(t)))
                .fix("list each scope once"),
        ),
    }
}

/// atproto OAuth spec, "Client ID Metadata Document":
/// `dpop_bound_access_tokens` "must be present and `true`".
fn dpop_bound(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    match doc.dpop_bound_access_tokens {
        Some(true) => Ok(()),
        Some(false) => Err(Violation::new("dpop_bound_access_tokens is false")
            .fix("set \"dpop_bound_access_tokens\": true; DPoP is mandatory in atproto")),
        None => Err(Violation::new("dpop_bound_access_tokens is missing")
            .fix("add \"dpop_bound_access_tokens\": true")),
    }
}

/// atproto OAuth spec, "Authorization Servers": the methods are `none`
/// (public clients) and `private_key_jwt` (confidential clients). Absent is
/// refused: RFC 7591 §2's default, `client_secret_basic`, is a shared
/// secret, which draft §4.1 forbids.
fn auth_method_known(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    match doc.token_endpoint_auth_method.as_deref() {
        v if AuthMethod::from_field(v).is_some() => Ok(()),
        None => Err(Violation::new("token_endpoint_auth_method is missing (RFC 7591 would default to client_secret_basic, a shared secret)").fix("add \"token_endpoint_auth_method\": \"none\" (public) or \"private_key_jwt\" (confidential)")),
        Some(m) => Err(Violation::new(format!("token_endpoint_auth_method {} is not allowed", quote(m))).fix("use \"none\" (public) or \"private_key_jwt\" (confidential); shared secrets are not possible here")),
    }
}

/// RFC 8252 §8.4: native apps "are classified as public clients … they
/// MUST be registered with the authorization server as such" (SPEC.md §3:
/// "native clients: `none`"). A stricter reading than the reference
/// server's, which accepts confidential native clients.
fn native_is_public(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    let native = ApplicationType::from_field(doc.application_type.as_deref())
        == Some(ApplicationType::Native);
    if native
        && AuthMethod::from_field(doc.token_endpoint_auth_method.as_deref())
            == Some(AuthMethod::PrivateKeyJwt)
    {
        return Err(Violation::new("a native client declares private_key_jwt").fix("use \"token_endpoint_auth_method\": \"none\", or a web client backed by a server that holds the key"));
    }
    Ok(())
}

/// atproto OAuth spec, "Client ID Metadata Document":
/// `token_endpoint_auth_signing_alg`: "`none` is never allowed here …
/// Authorization Servers will compare this against their supported
/// algorithms" (here: ES256 only). `private_key_jwt` needs it (OpenID
/// Connect Dynamic Client Registration §2). With `none` as the method, an
/// ES256 value is ignored.
fn signing_alg(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    let alg = doc.token_endpoint_auth_signing_alg.as_deref();
    if alg == Some("none") {
        return Err(
            Violation::new("token_endpoint_auth_signing_alg is \"none\"").fix("use \"ES256\""),
        );
    }
    if AuthMethod::from_field(doc.token_endpoint_auth_method.as_deref())
        != Some(AuthMethod::PrivateKeyJwt)
    {
        return Ok(());
    }
    match alg {
        Some(CLIENT_ASSERTION_ALG) => Ok(()),
        None => Err(
            Violation::new("private_key_jwt without token_endpoint_auth_signing_alg")
                .fix("add \"token_endpoint_auth_signing_alg\": \"ES256\""),
        ),
        Some(a) => Err(Violation::new(format!(
            "token_endpoint_auth_signing_alg {} is not supported; this server supports ES256",
            quote(a)
        ))
        .fix("sign client assertions with a P-256 key and declare \"ES256\"")),
    }
}

/// RFC 7591 §2: "The `jwks_uri` and `jwks` parameters MUST NOT both be
/// present"; atproto OAuth spec: "Either this field or the `jwks_uri` field
/// must be provided for confidential clients, but not both."
fn jwks_not_both(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    if doc.jwks.is_some() && doc.jwks_uri.is_some() {
        return Err(
            Violation::new("the document has both jwks and jwks_uri").fix("keep one of them")
        );
    }
    Ok(())
}

/// atproto OAuth spec, "Confidential Client Authentication": "confidential
/// clients must publish one or more client authentication keys … either
/// … in the `jwks` field, or … linked by a `jwks_uri` URL".
fn jwks_required(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    let confidential = AuthMethod::from_field(doc.token_endpoint_auth_method.as_deref())
        == Some(AuthMethod::PrivateKeyJwt);
    if confidential && doc.jwks.is_none() && doc.jwks_uri.is_none() {
        return Err(Violation::new("private_key_jwt without jwks or jwks_uri")
            .fix("publish the public key in \"jwks\" or at an https \"jwks_uri\""));
    }
    Ok(())
}

/// atproto OAuth spec, "Client ID Metadata Document": `client_uri` "must
/// have the same hostname as `client_id`"; with `client_id` https and
/// port-less, that is its origin (SPEC.md §3: "same origin").
fn client_uri_same_origin(id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    let (Some(raw), Some(client_url)) = (doc.client_uri.as_deref(), id.url()) else {
        return Ok(());
    };
    let fix = || {
        format!(
            "use a page under {}",
            client_url.origin().ascii_serialization()
        )
    };
    match Url::parse(raw) {
        Ok(u) if u.origin() == client_url.origin() => Ok(()),
        Ok(_) => Err(Violation::new(format!(
            "client_uri {} is not on the client_id's origin",
            quote(raw)
        ))
        .fix(fix())),
        Err(e) => {
            Err(Violation::new(format!("client_uri {} is not a URL ({e})", quote(raw))).fix(fix()))
        }
    }
}

/// Policy, following the reference server (and draft discussion, issue
/// #10 of the draft's repository, "client_uri is a prefix of the
/// client_id"): `client_uri` is the `client_id` URL or a parent path of it,
/// so the homepage shown for a client belongs to whoever controls the
/// document's path, not merely its host. Costs no interoperability: every
/// document the reference accepts passes.
fn client_uri_parent_path(id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    let (Some(raw), Some(client_url)) = (doc.client_uri.as_deref(), id.url()) else {
        return Ok(());
    };
    let Ok(u) = Url::parse(raw) else {
        return Ok(());
    };
    if u.origin() != client_url.origin() {
        return Ok(());
    }
    let dir = if u.path().ends_with('/') {
        u.path().to_string()
    } else {
        format!("{}/", u.path())
    };
    if u.path() == client_url.path() || client_url.path().starts_with(&dir) {
        return Ok(());
    }
    Err(Violation::new(format!(
        "client_uri path {} is not a parent of the client_id path {}",
        quote(u.path()),
        quote(client_url.path())
    ))
    .fix("point client_uri at the client_id's directory or above, e.g. the site's home page"))
}

/// atproto OAuth spec, "Client ID Metadata Document": "Only `https:` URIs
/// are allowed" (so never `javascript:` or `data:`).
fn https_only(field: &str, value: Option<&str>) -> RuleResult {
    let Some(raw) = value else {
        return Ok(());
    };
    match Url::parse(raw) {
        Ok(u) if u.scheme() == "https" && u.host().is_some() => Ok(()),
        Ok(u) => Err(Violation::new(format!(
            "{field} uses the {:?} scheme; only https is allowed",
            u.scheme()
        ))
        .fix(format!("serve {field} over https"))),
        Err(e) => Err(
            Violation::new(format!("{field} {} is not a URL ({e})", quote(raw)))
                .fix(format!("use an absolute https URL for {field}")),
        ),
    }
}

/// atproto OAuth spec, "Client ID Metadata Document": `logo_uri`: "Only
/// `https:` URIs are allowed."
fn logo_uri_https(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    https_only("logo_uri", doc.logo_uri.as_deref())
}

/// atproto OAuth spec, "Client ID Metadata Document": `tos_uri`: "Only
/// `https:` URIs are allowed."
fn tos_uri_https(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    https_only("tos_uri", doc.tos_uri.as_deref())
}

/// atproto OAuth spec, "Client ID Metadata Document": `policy_uri`: "Only
/// `https:` URIs are allowed."
fn policy_uri_https(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    https_only("policy_uri", doc.policy_uri.as_deref())
}

#[cfg(test)]
#[path = "metadata_tests.rs"]
mod tests;
