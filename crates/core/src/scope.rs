//! Scopes (RFC 6749 §3.3) in the atproto profile (atproto.com/specs/oauth
//! "Scopes", atproto.com/specs/permission).
//!
//! This version knows `atproto` and the transitional scopes; granular
//! permission scopes (`repo:`, `rpc:`, `blob:`, `account:`, `identity:`,
//! `include:`) are accepted syntactically and passed through verbatim.

use crate::error::OAuthError;

/// The scope every atproto session has.
pub const ATPROTO: &str = "atproto";
/// App-password-level access.
pub const TRANSITION_GENERIC: &str = "transition:generic";
/// Chat access, only together with `transition:generic`.
pub const TRANSITION_CHAT: &str = "transition:chat.bsky";
/// The account's email address.
pub const TRANSITION_EMAIL: &str = "transition:email";

/// Resource prefixes of granular permissions (atproto.com/specs/permission).
const GRANULAR_PREFIXES: &[&str] = &[
    "repo:",
    "rpc:",
    "blob:",
    "account:",
    "identity:",
    "include:",
];

/// A validated, normalised scope: a deduplicated list in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope(Vec<String>);

impl Scope {
    /// Parse a space-separated scope string.
    ///
    /// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`,
    /// separated by single spaces. Repeated tokens are merged.
    pub fn parse(s: &str) -> Result<Scope, OAuthError> {
        let mut out: Vec<String> = Vec::new();
        for tok in s.split(' ') {
            if tok.is_empty() {
                return Err(OAuthError::invalid_scope(
                    "scope tokens must be separated by single spaces (RFC 6749 §3.3)",
                ));
            }
            if !tok
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
            {
                return Err(OAuthError::invalid_scope(format!(
                    "scope token {tok:?} has characters outside RFC 6749 §3.3"
                )));
            }
            if !out.iter().any(|t| t == tok) {
                out.push(tok.to_string());
            }
        }
        Ok(Scope(out))
    }

    /// The tokens, in order.
    pub fn tokens(&self) -> &[String] {
        &self.0
    }

    /// Whether a token is present.
    pub fn contains(&self, tok: &str) -> bool {
        self.0.iter().any(|t| t == tok)
    }

    /// The space-separated form.
    pub fn to_scope_string(&self) -> String {
        self.0.join(" ")
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_scope_string())
    }
}

/// atproto OAuth "Scopes": the `atproto` scope is required.
pub fn require_atproto(scope: &Scope) -> Result<(), OAuthError> {
    if scope.contains(ATPROTO) {
        Ok(())
    } else {
        Err(OAuthError::invalid_scope(
            "the scope must include \"atproto\" (atproto OAuth profile)",
        ))
    }
}

/// atproto OAuth: OpenID Connect is not part of the profile; `openid` is
/// refused rather than silently ignored.
pub fn refuse_openid(scope: &Scope) -> Result<(), OAuthError> {
    if scope.contains("openid") {
        Err(OAuthError::invalid_scope(
            "\"openid\" is not supported: atproto OAuth is not OpenID Connect",
        ))
    } else {
        Ok(())
    }
}

/// Each token must be one this server understands: `atproto`, a
/// transitional scope, or a granular permission.
pub fn known_tokens(scope: &Scope) -> Result<(), OAuthError> {
    for t in scope.tokens() {
        let known = matches!(
            t.as_str(),
            ATPROTO | TRANSITION_GENERIC | TRANSITION_CHAT | TRANSITION_EMAIL
        ) || GRANULAR_PREFIXES
            .iter()
            .any(|p| t.starts_with(p) && t.len() > p.len());
        if !known {
            return Err(OAuthError::invalid_scope(format!("unknown scope {t:?}")));
        }
    }
    Ok(())
}

/// atproto OAuth "Scopes": `transition:chat.bsky` only with
/// `transition:generic`.
pub fn chat_needs_generic(scope: &Scope) -> Result<(), OAuthError> {
    if scope.contains(TRANSITION_CHAT) && !scope.contains(TRANSITION_GENERIC) {
        Err(OAuthError::invalid_scope(
            "\"transition:chat.bsky\" may only be requested with \"transition:generic\"",
        ))
    } else {
        Ok(())
    }
}

/// RFC 6749 §3.3 / atproto: a request may only ask for scopes the client
/// declared in its metadata.
pub fn within_client_scope(scope: &Scope, declared: &[String]) -> Result<(), OAuthError> {
    for t in scope.tokens() {
        if !declared.iter().any(|d| d == t) {
            return Err(OAuthError::invalid_scope(format!(
                "scope {t:?} is not in the client's metadata \"scope\""
            )));
        }
    }
    Ok(())
}

/// Every rule for a requested scope, in order.
pub fn validate_requested(raw: &str, declared: &[String]) -> Result<Scope, OAuthError> {
    let scope = Scope::parse(raw)?;
    refuse_openid(&scope)?;
    require_atproto(&scope)?;
    known_tokens(&scope)?;
    chat_needs_generic(&scope)?;
    within_client_scope(&scope, declared)?;
    Ok(scope)
}

/// Plain-words description of a scope token for the consent page; `None`
/// for tokens shown verbatim.
pub fn describe(token: &str) -> Option<&'static str> {
    match token {
        ATPROTO => Some("scope.atproto"),
        TRANSITION_GENERIC => Some("scope.transition_generic"),
        TRANSITION_CHAT => Some("scope.transition_chat"),
        TRANSITION_EMAIL => Some("scope.transition_email"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn declared() -> Vec<String> {
        [
            "atproto",
            "transition:generic",
            "transition:chat.bsky",
            "repo:app.bsky.feed.post",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn accepts_and_dedupes() {
        let s = validate_requested("atproto transition:generic atproto", &declared()).unwrap();
        assert_eq!(s.to_scope_string(), "atproto transition:generic");
    }

    #[test]
    fn rejects_scope_without_atproto() {
        assert_eq!(
            validate_requested("transition:generic", &declared())
                .unwrap_err()
                .error,
            ErrorCode::InvalidScope
        );
    }

    #[test]
    fn rejects_openid() {
        let e = validate_requested("atproto openid", &declared()).unwrap_err();
        assert_eq!(e.error, ErrorCode::InvalidScope);
        assert!(e.error_description.unwrap().contains("openid"));
    }

    #[test]
    fn rejects_scope_beyond_client() {
        let e = validate_requested("atproto transition:email", &declared()).unwrap_err();
        assert!(e
            .error_description
            .unwrap()
            .contains("not in the client's metadata"));
    }

    #[test]
    fn rejects_chat_without_generic() {
        assert_eq!(
            validate_requested("atproto transition:chat.bsky", &declared())
                .unwrap_err()
                .error,
            ErrorCode::InvalidScope
        );
    }

    #[test]
    fn rejects_unknown_and_malformed_tokens() {
        assert_eq!(
            validate_requested("atproto foo", &declared())
                .unwrap_err()
                .error,
            ErrorCode::InvalidScope
        );
        assert_eq!(
            validate_requested("atproto  transition:generic", &declared())
                .unwrap_err()
                .error,
            ErrorCode::InvalidScope
        );
        assert_eq!(
            validate_requested("atproto \"x", &declared())
                .unwrap_err()
                .error,
            ErrorCode::InvalidScope
        );
        assert_eq!(
            validate_requested("atproto repo:", &declared())
                .unwrap_err()
                .error,
            ErrorCode::InvalidScope
        );
    }

    #[test]
    fn accepts_granular_passthrough() {
        assert!(validate_requested("atproto repo:app.bsky.feed.post", &declared()).is_ok());
    }
}
