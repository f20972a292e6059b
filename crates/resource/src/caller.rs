//! Who is calling, and what the token lets them do.
//!
//! Endpoints ask for a [`Permission`] ([`Caller::require`]) or test for one
//! ([`Caller::has`], e.g. to include the email only when granted). Each
//! permission is granted by the transitional scopes today and by the
//! granular permission that covers it (atproto.com/specs/permission); new
//! granular resources (`repo:`, `rpc:`, `blob:`, `identity:`) plug in as new
//! variants with their own matching function, and endpoints keep calling
//! `require`.

use atauth_core::identity::Did;
use atauth_core::scope::{Scope, ATPROTO, TRANSITION_CHAT, TRANSITION_EMAIL, TRANSITION_GENERIC};
use atauth_core::OAuthError;

use crate::challenge::insufficient_scope;

/// An authenticated call: the verified access token's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The account (`sub`).
    pub did: Did,
    /// The client (`client_id`).
    pub client_id: String,
    /// The granted scope.
    pub scope: Scope,
    /// The OAuth session (`sid`).
    pub session_id: String,
    /// The access token's id (`jti`).
    pub token_id: String,
    /// When the token expires (`exp`), Unix seconds.
    pub token_exp: i64,
}

/// Something an endpoint needs the token to grant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Permission {
    /// Any atproto session: the `atproto` scope (atproto OAuth "Scopes":
    /// every session has it). Enough for `com.atproto.server.getSession`.
    Atproto,
    /// Read the account's email address: `transition:email`, or
    /// `account:email` with action `read` (the default) or `manage`
    /// (atproto.com/specs/permission, "account": `manage` includes `read`).
    ReadEmail,
    /// App-password-level access: `transition:generic` (atproto OAuth
    /// "Scopes"). Granular `repo:`/`rpc:`/`blob:` permissions will be
    /// separate variants.
    Generic,
    /// Chat: `transition:chat.bsky` (only granted with generic).
    Chat,
}

impl Permission {
    /// The scope tokens that would grant it, for error descriptions.
    fn describe(&self) -> &'static str {
        match self {
            Permission::Atproto => "\"atproto\"",
            Permission::ReadEmail => "\"transition:email\" or \"account:email\"",
            Permission::Generic => "\"transition:generic\"",
            Permission::Chat => "\"transition:chat.bsky\"",
        }
    }

    /// Whether `scope` grants it.
    pub fn granted_by(&self, scope: &Scope) -> bool {
        match self {
            Permission::Atproto => scope.contains(ATPROTO),
            Permission::ReadEmail => {
                scope.contains(TRANSITION_EMAIL)
                    || scope
                        .tokens()
                        .iter()
                        .any(|t| account_grants(t, "email", AccountAction::Read))
            }
            Permission::Generic => scope.contains(TRANSITION_GENERIC),
            Permission::Chat => scope.contains(TRANSITION_CHAT),
        }
    }
}

impl Caller {
    /// Whether the token grants `permission`.
    pub fn has(&self, permission: &Permission) -> bool {
        permission.granted_by(&self.scope)
    }

    /// RFC 6750 §3.1: `insufficient_scope` (403, with its `DPoP` challenge)
    /// unless the token grants `permission`.
    pub fn require(&self, permission: &Permission) -> Result<(), OAuthError> {
        if self.has(permission) {
            Ok(())
        } else {
            Err(insufficient_scope(format!(
                "this endpoint needs the scope {} (RFC 6750 section 3.1)",
                permission.describe()
            )))
        }
    }

    /// `insufficient_scope` unless the scope holds at least one of `any_of`
    /// verbatim. For endpoints whose rule is not a [`Permission`] yet.
    pub fn require_scope(&self, any_of: &[&str]) -> Result<(), OAuthError> {
        if any_of.iter().any(|t| self.scope.contains(t)) {
            Ok(())
        } else {
            let names: Vec<String> = any_of.iter().map(|t| format!("\"{t}\"")).collect();
            Err(insufficient_scope(format!(
                "this endpoint needs the scope {} (RFC 6750 section 3.1)",
                names.join(" or ")
            )))
        }
    }
}

/// Actions of the `account` resource (atproto.com/specs/permission).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AccountAction {
    Read,
    Manage,
}

/// Whether one scope token is an `account` permission granting `action`
/// on `attr`. The scope-string syntax (atproto.com/specs/permission,
/// "Scope String Syntax") is `resource[:positional][?name=value&…]`; for
/// `account` the positional parameter is `attr`, and `action` defaults to
/// `read`. `manage` grants `read` too. Anything unparsable grants nothing.
fn account_grants(token: &str, attr: &str, action: AccountAction) -> bool {
    let Some(perm) = ScopeString::parse(token) else {
        return false;
    };
    if perm.resource != "account" {
        return false;
    }
    let attrs: Vec<&str> = perm
        .positional
        .into_iter()
        .chain(perm.values("attr"))
        .collect();
    if attrs.len() != 1 || attrs[0] != attr {
        return false;
    }
    let actions: Vec<&str> = perm.values("action").collect();
    let granted = match actions.as_slice() {
        [] | ["read"] => AccountAction::Read,
        ["manage"] => AccountAction::Manage,
        _ => return false,
    };
    granted == AccountAction::Manage || granted == action
}

/// A permission scope string split into its parts, not yet interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ScopeString<'a> {
    resource: &'a str,
    positional: Option<&'a str>,
    params: Vec<(&'a str, &'a str)>,
}

impl<'a> ScopeString<'a> {
    /// Split `resource[:positional][?query]`. Values are taken verbatim:
    /// the `account` attributes and actions need no percent-decoding.
    fn parse(token: &'a str) -> Option<Self> {
        let (head, query) = match token.split_once('?') {
            Some((h, q)) => (h, Some(q)),
            None => (token, None),
        };
        let (resource, positional) = match head.split_once(':') {
            Some((r, p)) => (r, Some(p).filter(|p| !p.is_empty())),
            None => (head, None),
        };
        if resource.is_empty() {
            return None;
        }
        let mut params = Vec::new();
        if let Some(q) = query {
            for pair in q.split('&') {
                let (k, v) = pair.split_once('=')?;
                params.push((k, v));
            }
        }
        Some(ScopeString {
            resource,
            positional,
            params,
        })
    }

    fn values(&self, name: &'a str) -> impl Iterator<Item = &'a str> + '_ {
        self.params
            .iter()
            .filter(move |(k, _)| *k == name)
            .map(|(_, v)| *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atauth_core::ErrorCode;

    fn caller(scope: &str) -> Caller {
        Caller {
            did: Did::parse("did:plc:abcdefghijklmnopqrstuvwx").unwrap(),
            client_id: "https://app.example/client-metadata.json".into(),
            scope: Scope::parse(scope).unwrap(),
            session_id: "ses-1".into(),
            token_id: "jti-1".into(),
            token_exp: 0,
        }
    }

    #[test]
    fn atproto_is_enough_for_the_base_permission() {
        assert!(caller("atproto").require(&Permission::Atproto).is_ok());
    }

    #[test]
    fn email_needs_transition_email_or_account_email() {
        for granted in [
            "atproto transition:email",
            "atproto account:email",
            "atproto account:email?action=read",
            "atproto account:email?action=manage",
            "atproto account?attr=email",
        ] {
            assert!(caller(granted).has(&Permission::ReadEmail), "{granted}");
        }
        for refused in [
            "atproto",
            "atproto transition:generic",
            "atproto account:repo",
            "atproto account:email?action=delete",
            "atproto account:email?attr=repo",
            "atproto account:emails",
            "atproto rpc:account:email",
        ] {
            assert!(!caller(refused).has(&Permission::ReadEmail), "{refused}");
        }
    }

    #[test]
    fn rejects_missing_permission_with_insufficient_scope() {
        let e = caller("atproto")
            .require(&Permission::ReadEmail)
            .unwrap_err();
        assert_eq!(e.error, ErrorCode::InsufficientScope);
        assert_eq!(e.status, 403);
        let challenge = crate::challenge::header(&e, "WWW-Authenticate").unwrap();
        assert!(
            challenge.starts_with("DPoP error=\"insufficient_scope\", error_description=\""),
            "{challenge}"
        );
        assert!(challenge.ends_with(", algs=\"ES256\""), "{challenge}");
    }

    #[test]
    fn require_scope_accepts_any_of() {
        let c = caller("atproto transition:generic");
        assert!(c
            .require_scope(&["transition:email", "transition:generic"])
            .is_ok());
        let e = c.require_scope(&["transition:chat.bsky"]).unwrap_err();
        assert_eq!(e.error, ErrorCode::InsufficientScope);
    }
}
