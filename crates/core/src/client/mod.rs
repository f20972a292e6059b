//! Clients: who is asking, and may they?
//!
//! atproto OAuth has no client registration. A client is named by its
//! `client_id`, which is either the https URL of a metadata document the
//! server fetches (a *discoverable* client, draft-ietf-oauth-client-id-metadata-document)
//! or the special `http://localhost` development form whose metadata the
//! server builds itself (atproto OAuth spec, "Localhost Client Development").
//!
//! - [`client_id`]: the two `client_id` forms, parsed purely ([`ClientId`]).
//! - [`metadata`]: the metadata document ([`ClientMetadata`]) and its
//!   validation into a [`ValidatedClient`], one named rule per requirement.
//! - [`redirect_uri`]: redirect-URI rules per application type, and matching
//!   a requested `redirect_uri` against the registered ones.
//! - [`jwks`]: a confidential client's public keys ([`ClientJwks`]).
//! - [`auth`]: client authentication (`private_key_jwt` assertions, RFC 7523).
//! - [`check`]: every rule run without stopping, for `atauth client check`.
//!
//! Every rule lives once, as a small function with its spec sentence in the
//! doc comment, listed in a static table ([`client_id::CLIENT_ID_RULES`],
//! [`metadata::METADATA_RULES`]). Validation walks the table and stops at
//! the first failure; the check report walks the same table to the end.
//!
//! Nothing here does IO: fetching the document and a `jwks_uri` is the
//! server's job (through its SSRF-safe fetcher), and it must validate before
//! it caches (draft-ietf-oauth-client-id-metadata-document §4.4: "MUST NOT
//! cache documents which are invalid or malformed").

pub mod auth;
pub mod check;
pub mod client_id;
pub mod jwks;
pub mod metadata;
pub mod redirect_uri;

use std::fmt;

use serde::Serialize;

use crate::error::{ErrorCode, OAuthError};

pub use auth::{
    authenticate_client, AssertionPolicy, ClientAuth, ClientCredentials,
    CLIENT_ASSERTION_TYPE_JWT_BEARER,
};
pub use check::{check_client, check_client_id, check_metadata, CheckReport, RuleOutcome};
pub use client_id::{ClientId, ClientIdPolicy};
pub use jwks::{ClientJwk, ClientJwks};
pub use metadata::{
    validate_metadata, ApplicationType, AuthMethod, ClientMetadata, ValidatedClient,
};

/// Where each rule comes from, spelled the same way in every message.
pub mod section {
    /// atproto.com/specs/oauth, the `client_id` bullet list under "Clients".
    pub const ATPROTO_CLIENTS: &str = "atproto OAuth spec, \"Clients\"";
    /// atproto.com/specs/oauth, "Client ID Metadata Document".
    pub const ATPROTO_METADATA: &str = "atproto OAuth spec, \"Client ID Metadata Document\"";
    /// atproto.com/specs/oauth, "Localhost Client Development".
    pub const ATPROTO_LOCALHOST: &str = "atproto OAuth spec, \"Localhost Client Development\"";
    /// atproto.com/specs/oauth, "Request Fields" (the redirect URI rules).
    pub const ATPROTO_REQUEST_FIELDS: &str = "atproto OAuth spec, \"Request Fields\"";
    /// atproto.com/specs/oauth, "Confidential Client Authentication".
    pub const ATPROTO_CONFIDENTIAL: &str =
        "atproto OAuth spec, \"Confidential Client Authentication\"";
    /// atproto.com/specs/oauth, "Authorization Scopes".
    pub const ATPROTO_SCOPES: &str = "atproto OAuth spec, \"Authorization Scopes\"";
    /// The client identifier URL rules.
    pub const CIMD_3: &str = "draft-ietf-oauth-client-id-metadata-document §3";
    /// The document's `client_id` and the ban on shared secrets.
    pub const CIMD_4_1: &str = "draft-ietf-oauth-client-id-metadata-document §4.1";
    /// Client metadata fields and their defaults.
    pub const RFC7591_2: &str = "RFC 7591 §2";
    /// Redirection endpoint: no fragment.
    pub const RFC6749_3_1_2: &str = "RFC 6749 §3.1.2";
    /// Scope syntax.
    pub const RFC6749_3_3: &str = "RFC 6749 §3.3";
    /// Private-use URI scheme redirection.
    pub const RFC8252_7_1: &str = "RFC 8252 §7.1";
    /// Loopback interface redirection.
    pub const RFC8252_7_3: &str = "RFC 8252 §7.3";
    /// `localhost` is not recommended for redirects.
    pub const RFC8252_8_3: &str = "RFC 8252 §8.3";
    /// Native apps are public clients.
    pub const RFC8252_8_4: &str = "RFC 8252 §8.4";
    /// JWT client assertions.
    pub const RFC7523_3: &str = "RFC 7523 §3";
    /// JWK Set format.
    pub const RFC7517_5: &str = "RFC 7517 §5";
    /// JWS header processing (`crit`).
    pub const RFC7515_4_1_11: &str = "RFC 7515 §4.1.11";
    /// Local policy, not a spec requirement.
    pub const POLICY: &str = "atauth policy";
}

/// Whether breaking a rule refuses the client or only earns a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A MUST: the client is refused.
    Error,
    /// A SHOULD: reported by `atauth client check`, never refused.
    Warning,
}

/// What a rule function reports when its rule is broken: the specific
/// problem (quoting the offending value) and, when there is an obvious one,
/// how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// What is wrong, naming the value.
    pub message: String,
    /// How to fix it.
    pub fix: Option<String>,
}

impl Violation {
    /// A violation with a message and no fix.
    pub fn new(message: impl Into<String>) -> Self {
        Violation {
            message: message.into(),
            fix: None,
        }
    }

    /// Add a fix.
    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// The result of one rule function.
pub type RuleResult = Result<(), Violation>;

/// One rule of the client profile: its identity, where it comes from, and
/// the function that enforces it. `F` is the function's type, which differs
/// between `client_id` rules and metadata rules.
#[derive(Debug, Clone, Copy)]
pub struct Rule<F> {
    /// Stable identifier, e.g. `scope.atproto`; shown in messages and reports.
    pub id: &'static str,
    /// The metadata field (or `client_id`) the rule is about.
    pub field: &'static str,
    /// The rule in a few words.
    pub rule: &'static str,
    /// The spec section it comes from (see [`section`]).
    pub section: &'static str,
    /// The error code sent when the rule is broken.
    pub code: ErrorCode,
    /// MUST or SHOULD.
    pub severity: Severity,
    /// The check itself.
    pub check: F,
}

impl<F> Rule<F> {
    /// The error for a violation of this rule.
    pub fn error(&self, v: Violation) -> ClientError {
        ClientError {
            code: self.code,
            rule_id: self.id,
            field: self.field,
            rule: self.rule,
            section: self.section,
            message: v.message,
            fix: v.fix,
        }
    }
}

/// Why a client was refused: which rule, on which field, from which section
/// of which spec, so that a developer can fix it from the message alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    /// The OAuth error code: `invalid_client` for an unusable `client_id`, a
    /// document that is not the client's (RFC 6749 §5.2, "unknown client")
    /// or a failed authentication; `invalid_client_metadata` or
    /// `invalid_redirect_uri` (RFC 7591 §3.2.2) for a broken document.
    pub code: ErrorCode,
    /// The rule's stable identifier.
    pub rule_id: &'static str,
    /// The field at fault.
    pub field: &'static str,
    /// The rule, in a few words.
    pub rule: &'static str,
    /// The spec section.
    pub section: &'static str,
    /// What exactly was wrong.
    pub message: String,
    /// How to fix it, when known.
    pub fix: Option<String>,
}

impl ClientError {
    /// The `error_description`: field, problem, rule, section and fix.
    pub fn description(&self) -> String {
        let mut d = format!(
            "{}: {} (rule {}: {}; {})",
            self.field, self.message, self.rule_id, self.rule, self.section
        );
        if let Some(fix) = &self.fix {
            d.push_str(". Fix: ");
            d.push_str(fix);
        }
        d
    }

    /// The same error as SPEC.md §0 wants it at the PAR and token
    /// endpoints: "a client that cannot be resolved or whose metadata is
    /// invalid: `invalid_client`", 400 since the client did not get as far as
    /// authenticating. [`From<ClientError>`] keeps the precise RFC 7591 code
    /// instead; the endpoint picks.
    pub fn to_endpoint_error(&self) -> OAuthError {
        OAuthError::unknown_client(self.description())
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description())
    }
}

impl std::error::Error for ClientError {}

impl From<ClientError> for OAuthError {
    /// Keeps the code. `invalid_client` is sent as 400 here: a client that
    /// could not be resolved did not attempt to authenticate (RFC 6749 §5.2
    /// keeps 401 for failed authentication, which [`auth`] sets itself).
    fn from(e: ClientError) -> Self {
        let description = e.description();
        match e.code {
            ErrorCode::InvalidClient => OAuthError::unknown_client(description),
            code => OAuthError::new(code, description),
        }
    }
}

/// Quote a value for a message: JSON-style quotes, cut at 120 characters so
/// a hostile value cannot flood an error body or a log line.
pub(crate) fn quote(value: &str) -> String {
    const MAX: usize = 120;
    let mut s: String = value.chars().take(MAX).collect();
    if value.chars().nth(MAX).is_some() {
        s.push('…');
    }
    format!("{s:?}")
}
