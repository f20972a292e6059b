//! The deployment keys: `role`, `tokens.mode`, `[introspection]` and
//! `[resource]` (issue 5 parts 3 and 8, issue 6 part 3), and their checks.

use atauth_core::metadata::{paths, Issuer};
use atauth_core::token::introspect::IntrospectionSecret;
use atauth_core::token::TokenMode;
use serde::Deserialize;
use url::Url;

use super::{cfg_err, ConfigError, RawConfig};

/// Which parts of atauth this process serves (`role`, `--role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Authorization server and PDS resource routes on one host.
    #[default]
    All,
    /// An entryway's authorization server: OAuth endpoints and pages only.
    Authorization,
    /// A PDS-side resource server whose authorization server runs elsewhere.
    Resource,
}

/// `tokens.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Resource servers check that the session still exists.
    #[default]
    Stateful,
    /// Resource servers check the token alone, until it expires.
    Stateless,
}

/// `[introspection]`
#[derive(Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct IntrospectionSection {
    /// Mount `POST /oauth/introspect` and list it in the metadata.
    pub enabled: bool,
    /// The password of the HTTP Basic credentials `introspection:<secret>`.
    pub secret: String,
}

impl std::fmt::Debug for IntrospectionSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionSection")
            .field("enabled", &self.enabled)
            .field("secret", &redacted(&self.secret))
            .finish()
    }
}

/// `[resource]`: role `resource` only.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResourceSection {
    /// The authorization server's issuer (required in role `resource`).
    pub authorization_server: Option<String>,
    /// Its JWKS; default `<authorization_server>/oauth/jwks`.
    pub jwks_url: Option<String>,
    /// Its introspection endpoint; default
    /// `<authorization_server>/oauth/introspect`.
    pub introspection_url: Option<String>,
    /// The secret its `[introspection]` section holds.
    pub introspection_secret: String,
    /// How long an "active" answer is reused, seconds (0-60).
    pub introspection_cache_secs: u64,
}

impl Default for ResourceSection {
    fn default() -> Self {
        ResourceSection {
            authorization_server: None,
            jwks_url: None,
            introspection_url: None,
            introspection_secret: String::new(),
            introspection_cache_secs: 5,
        }
    }
}

impl std::fmt::Debug for ResourceSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceSection")
            .field("authorization_server", &self.authorization_server)
            .field("jwks_url", &self.jwks_url)
            .field("introspection_url", &self.introspection_url)
            .field(
                "introspection_secret",
                &redacted(&self.introspection_secret),
            )
            .field("introspection_cache_secs", &self.introspection_cache_secs)
            .finish()
    }
}

fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() {
        ""
    } else {
        "<redacted>"
    }
}

/// Where a `resource` instance finds its authorization server, validated.
#[derive(Debug, Clone)]
pub struct RemoteSettings {
    /// The authorization server's issuer.
    pub authorization_server: Issuer,
    /// Its JWKS.
    pub jwks_url: Url,
    /// Stateful mode: its introspection endpoint and the secret.
    pub introspection: Option<(Url, IntrospectionSecret)>,
    /// Cache of active answers, seconds.
    pub introspection_cache_secs: u64,
}

/// The validated deployment keys.
#[derive(Debug, Clone, Default)]
pub struct DeploymentSettings {
    /// Which routes are served.
    pub role: Role,
    /// Stateful or stateless resource checks.
    pub token_mode: TokenMode,
    /// Introspection on, with this secret.
    pub introspection: Option<IntrospectionSecret>,
    /// Role `resource`: the authorization server.
    pub remote: Option<RemoteSettings>,
}

/// Largest `resource.introspection_cache_secs`: past a minute a revoked
/// session lives on too long for "stateful" to mean anything.
pub const MAX_INTROSPECTION_CACHE_SECS: u64 = 60;
/// Largest access-token lifetime in stateless mode: atproto OAuth,
/// "Tokens and Session Lifetime": 15 minutes or less when access tokens
/// cannot be revoked one by one.
pub const MAX_STATELESS_ACCESS_SECS: i64 = 900;

fn url_key(key: &str, raw: &str, dev: bool) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|e| cfg_err(key, format!("{raw:?} is not a URL: {e}")))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if dev => Ok(url),
        _ => Err(cfg_err(key, "must use https (http only with --dev)")),
    }
}

fn secret_key(key: &str, raw: &str) -> Result<IntrospectionSecret, ConfigError> {
    IntrospectionSecret::parse(raw.trim()).map_err(|e| cfg_err(key, e))
}

impl RawConfig {
    /// Check `role`, `tokens.mode`, `[introspection]` and `[resource]`.
    pub(super) fn validate_deployment(&self) -> Result<DeploymentSettings, ConfigError> {
        let token_mode = match self.tokens.mode {
            Mode::Stateful => TokenMode::Stateful,
            Mode::Stateless => TokenMode::Stateless,
        };
        if token_mode == TokenMode::Stateless
            && self.tokens.access_token_lifetime_secs > MAX_STATELESS_ACCESS_SECS
        {
            return Err(cfg_err(
                "tokens.access_token_lifetime_secs",
                format!("must be at most {MAX_STATELESS_ACCESS_SECS} seconds in stateless mode (atproto: 15 minutes when tokens cannot be revoked one by one)"),
            ));
        }
        let introspection = if self.introspection.enabled {
            if self.role == Role::Resource {
                return Err(cfg_err(
                    "introspection.enabled",
                    "a resource instance holds no sessions to introspect; enable it on the authorization server",
                ));
            }
            Some(secret_key(
                "introspection.secret",
                &self.introspection.secret,
            )?)
        } else {
            None
        };
        let remote = match self.role {
            Role::Resource => Some(self.remote_settings(token_mode)?),
            Role::All | Role::Authorization => {
                if self.resource != ResourceSection::default() {
                    return Err(cfg_err(
                        "resource",
                        "the [resource] section is for role = \"resource\" only",
                    ));
                }
                None
            }
        };
        Ok(DeploymentSettings {
            role: self.role,
            token_mode,
            introspection,
            remote,
        })
    }

    fn remote_settings(&self, token_mode: TokenMode) -> Result<RemoteSettings, ConfigError> {
        let r = &self.resource;
        let raw_as = r.authorization_server.as_deref().ok_or_else(|| {
            cfg_err(
                "resource.authorization_server",
                "required with role = \"resource\": the issuer of the authorization server, e.g. \"https://auth.example.com\"",
            )
        })?;
        let authorization_server = Issuer::parse(raw_as, self.dev)
            .map_err(|e| cfg_err("resource.authorization_server", e.0))?;
        let jwks_url = match &r.jwks_url {
            Some(u) => url_key("resource.jwks_url", u, self.dev)?,
            None => url_key(
                "resource.authorization_server",
                &authorization_server.endpoint(paths::JWKS),
                self.dev,
            )?,
        };
        if r.introspection_cache_secs > MAX_INTROSPECTION_CACHE_SECS {
            return Err(cfg_err(
                "resource.introspection_cache_secs",
                format!("must be between 0 and {MAX_INTROSPECTION_CACHE_SECS}"),
            ));
        }
        let configured = !r.introspection_secret.trim().is_empty() || r.introspection_url.is_some();
        let introspection = match token_mode {
            TokenMode::Stateless if configured => {
                return Err(cfg_err(
                    "resource.introspection_secret",
                    "tokens.mode is \"stateless\": tokens are not introspected; remove the resource.introspection_* keys or set tokens.mode = \"stateful\"",
                ))
            }
            TokenMode::Stateless => None,
            TokenMode::Stateful => {
                if r.introspection_secret.trim().is_empty() {
                    return Err(cfg_err(
                        "resource.introspection_secret",
                        "required with role = \"resource\" in stateful mode (the default): the authorization server's [introspection] secret; or set tokens.mode = \"stateless\" and accept that a revocation takes effect only when the access token expires",
                    ));
                }
                let secret = secret_key("resource.introspection_secret", &r.introspection_secret)?;
                let url = match &r.introspection_url {
                    Some(u) => url_key("resource.introspection_url", u, self.dev)?,
                    None => url_key(
                        "resource.authorization_server",
                        &authorization_server.endpoint(paths::INTROSPECT),
                        self.dev,
                    )?,
                };
                Some((url, secret))
            }
        };
        Ok(RemoteSettings {
            authorization_server,
            jwks_url,
            introspection,
            introspection_cache_secs: r.introspection_cache_secs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{load, Overrides};
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn validate(toml: &str) -> Result<super::super::Settings, ConfigError> {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), format!("issuer = \"https://a.example\"\n{toml}")).unwrap();
        load(Some(f.path()), &[], &Overrides::default())?.validate_for(true)
    }

    #[test]
    fn defaults_are_one_host_stateful_without_introspection() {
        let s = validate("").unwrap();
        assert_eq!(s.deployment.role, Role::All);
        assert_eq!(s.deployment.token_mode, TokenMode::Stateful);
        assert!(s.deployment.introspection.is_none() && s.deployment.remote.is_none());
    }

    #[test]
    fn introspection_needs_a_good_secret_and_redacts_it() {
        let e = validate("[introspection]\nenabled = true").unwrap_err();
        assert_eq!(e.key, "introspection.secret");
        let s = validate(&format!(
            "[introspection]\nenabled = true\nsecret = \"{SECRET}\""
        ))
        .unwrap();
        assert!(s.deployment.introspection.is_some());
        assert!(!format!("{s:?}").contains(SECRET));
        let raw = RawConfig {
            introspection: IntrospectionSection {
                enabled: true,
                secret: SECRET.into(),
            },
            ..RawConfig::default()
        };
        assert!(!format!("{raw:?}").contains(SECRET));
    }

    #[test]
    fn resource_role_derives_urls_from_the_authorization_server() {
        let s = validate(&format!(
            "role = \"resource\"\n[resource]\nauthorization_server = \"https://auth.example\"\nintrospection_secret = \"{SECRET}\""
        ))
        .unwrap();
        let r = s.deployment.remote.unwrap();
        assert_eq!(r.jwks_url.as_str(), "https://auth.example/oauth/jwks");
        let (url, _) = r.introspection.unwrap();
        assert_eq!(url.as_str(), "https://auth.example/oauth/introspect");
        assert_eq!(r.introspection_cache_secs, 5);
    }

    #[test]
    fn rejects_resource_role_without_authorization_server_or_stateful_check() {
        assert_eq!(
            validate("role = \"resource\"").unwrap_err().key,
            "resource.authorization_server"
        );
        let e = validate(
            "role = \"resource\"\n[resource]\nauthorization_server = \"https://auth.example\"",
        )
        .unwrap_err();
        assert_eq!(e.key, "resource.introspection_secret");
        let s = validate("role = \"resource\"\n[tokens]\nmode = \"stateless\"\n[resource]\nauthorization_server = \"https://auth.example\"")
            .unwrap();
        assert!(s.deployment.remote.unwrap().introspection.is_none());
    }

    #[test]
    fn rejects_misplaced_and_contradictory_keys() {
        let e =
            validate("[resource]\nauthorization_server = \"https://auth.example\"").unwrap_err();
        assert_eq!(e.key, "resource");
        let e = validate(&format!(
            "role = \"resource\"\n[tokens]\nmode = \"stateless\"\n[resource]\nauthorization_server = \"https://auth.example\"\nintrospection_secret = \"{SECRET}\""
        ))
        .unwrap_err();
        assert_eq!(e.key, "resource.introspection_secret");
        let e = validate(&format!(
            "role = \"resource\"\n[introspection]\nenabled = true\nsecret = \"{SECRET}\"\n[resource]\nauthorization_server = \"https://auth.example\"\nintrospection_secret = \"{SECRET}\""
        ))
        .unwrap_err();
        assert_eq!(e.key, "introspection.enabled");
        let e = validate(
            "role = \"resource\"\n[resource]\nauthorization_server = \"http://auth.example\"",
        )
        .unwrap_err();
        assert_eq!(e.key, "resource.authorization_server");
    }

    #[test]
    fn stateless_mode_caps_the_access_token_lifetime() {
        let e = validate("[tokens]\nmode = \"stateless\"\naccess_token_lifetime_secs = 1200")
            .unwrap_err();
        assert_eq!(e.key, "tokens.access_token_lifetime_secs");
        let s = validate("[tokens]\nmode = \"stateless\"").unwrap();
        assert_eq!(s.deployment.token_mode, TokenMode::Stateless);
    }
}
