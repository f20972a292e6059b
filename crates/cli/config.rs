//! Configuration: one typed struct read from TOML, overridden by `ATAUTH_*`
//! environment variables, then by command-line flags, then validated into
//! [`Settings`] (the raw form is what users write; the validated form is
//! what the program uses, as ripgrep's LowArgs become HiArgs).
//!
//! `config/default.toml` documents every key with its default; a test keeps
//! it equal to [`RawConfig::default`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use atauth_core::metadata::Issuer;
use serde::Deserialize;

mod deployment;
mod limits;
mod mail;

pub use deployment::{DeploymentSettings, IntrospectionSection, Mode, ResourceSection, Role};
pub use limits::LimitsSection;
pub use mail::{MailDestination, MailSection, MailSettings};

/// Environment variables with this prefix override configuration keys:
/// `ATAUTH_ISSUER`, `ATAUTH_FETCH__ALLOW_LOOPBACK` (`__` separates a
/// section from its key). Variables starting with `ATAUTH_TEST_` belong to
/// the test suite and are ignored here.
pub const ENV_PREFIX: &str = "ATAUTH_";

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line, for log shippers.
    Json,
}

/// The configuration file, as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    /// Development mode (same as `--dev`).
    pub dev: bool,
    /// Issuer origin, e.g. `https://auth.example.com`. Required outside dev.
    pub issuer: Option<String>,
    /// Address to listen on.
    pub listen: String,
    /// Directory for the SQLite database and other local state.
    pub data_dir: PathBuf,
    /// Database URL: `sqlite://PATH` or `postgres://…`. Default: SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// `human` or `json`.
    pub log_format: LogFormat,
    /// HTTP worker threads (default: one per core).
    pub workers: Option<usize>,
    /// Which parts this process serves (`all`, `authorization`, `resource`).
    pub role: Role,
    /// The resource server (PDS) this server issues tokens for.
    pub pds: PdsSection,
    /// Signing keys.
    pub keys: KeysSection,
    /// Outbound fetching (client metadata, DID documents).
    pub fetch: FetchSection,
    /// Client display policy.
    pub clients: ClientsSection,
    /// DID resolution.
    pub identity: IdentitySection,
    /// Token lifetimes and mode.
    pub tokens: TokensSection,
    /// DPoP settings.
    pub dpop: DpopSection,
    /// Token introspection (RFC 7662) for remote resource servers.
    pub introspection: IntrospectionSection,
    /// Role `resource`: the remote authorization server.
    pub resource: ResourceSection,
    /// Operator metrics (off unless a listen address is given).
    pub metrics: MetricsSection,
    /// Request limits of the public listener.
    pub limits: LimitsSection,
    /// Outgoing mail (email codes, password reset).
    pub mail: MailSection,
}

/// `[metrics]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSection {
    /// Address of the separate metrics listener (`GET /metrics`); absent
    /// or empty: no metrics endpoint.
    pub listen: Option<String>,
    /// Seconds between counts of the active sessions.
    pub session_count_interval_secs: u64,
}

impl Default for MetricsSection {
    fn default() -> Self {
        MetricsSection {
            listen: None,
            session_count_interval_secs: 30,
        }
    }
}

/// `[tokens]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokensSection {
    /// Access-token lifetime, seconds (at most 1800: atproto spec).
    pub access_token_lifetime_secs: i64,
    /// Public clients: session lifetime, seconds (at most 14 days).
    pub public_session_lifetime_secs: i64,
    /// Public clients: refresh-token lifetime, seconds (at most 14 days).
    pub public_refresh_lifetime_secs: i64,
    /// Confidential clients: session lifetime, seconds.
    pub confidential_session_lifetime_secs: i64,
    /// Confidential clients: refresh-token lifetime, seconds (at most 180 days).
    pub confidential_refresh_lifetime_secs: i64,
    /// Seconds during which a retried refresh with the replaced token still
    /// succeeds (lost responses); 0 disables.
    pub refresh_retry_grace_secs: i64,
    /// `stateful` (resource servers check the session) or `stateless`.
    pub mode: Mode,
}

impl Default for TokensSection {
    fn default() -> Self {
        use atauth_core::consts::*;
        TokensSection {
            access_token_lifetime_secs: ACCESS_TOKEN_LIFETIME_SECS,
            public_session_lifetime_secs: PUBLIC_SESSION_LIFETIME_SECS,
            public_refresh_lifetime_secs: PUBLIC_REFRESH_LIFETIME_SECS,
            confidential_session_lifetime_secs: CONFIDENTIAL_SESSION_LIFETIME_SECS,
            confidential_refresh_lifetime_secs: CONFIDENTIAL_REFRESH_LIFETIME_SECS,
            refresh_retry_grace_secs: 10,
            mode: Mode::Stateful,
        }
    }
}

/// `[dpop]`
#[derive(Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DpopSection {
    /// 64 hex characters shared by every instance behind one load balancer;
    /// empty: a random secret per process.
    pub nonce_secret: String,
}

impl std::fmt::Debug for DpopSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = if self.nonce_secret.is_empty() {
            ""
        } else {
            "<redacted>"
        };
        f.debug_struct("DpopSection")
            .field("nonce_secret", &shown)
            .finish()
    }
}

/// `[pds]`
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PdsSection {
    /// Origin of the PDS; defaults to the issuer (AS and PDS on one host).
    pub url: Option<String>,
}

/// `[keys]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysSection {
    /// Seconds between reloads of the signing keys from the database.
    pub reload_interval_secs: u64,
}

impl Default for KeysSection {
    fn default() -> Self {
        KeysSection {
            reload_interval_secs: 30,
        }
    }
}

/// `[fetch]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FetchSection {
    /// Allow fetching from loopback addresses (development and tests only).
    pub allow_loopback: bool,
    /// Total time allowed for one fetch, seconds.
    pub timeout_secs: u64,
    /// Largest response body accepted, bytes.
    pub max_body_bytes: usize,
    /// Cache lifetime bounds and default, seconds.
    pub cache_min_secs: u64,
    /// Upper bound on cache lifetime, seconds.
    pub cache_max_secs: u64,
    /// Cache lifetime when the response has no `max-age`, seconds.
    pub cache_default_secs: u64,
}

impl Default for FetchSection {
    fn default() -> Self {
        FetchSection {
            allow_loopback: false,
            timeout_secs: 5,
            max_body_bytes: 64 * 1024,
            cache_min_secs: 60,
            cache_max_secs: 3600,
            cache_default_secs: 600,
        }
    }
}

/// `[clients]`
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ClientsSection {
    /// client_ids whose `client_name` and `logo_uri` may be shown to users.
    pub trusted: Vec<String>,
}

/// `[identity]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentitySection {
    /// PLC directory used to resolve `did:plc` identities.
    pub plc_directory_url: String,
}

impl Default for IdentitySection {
    fn default() -> Self {
        IdentitySection {
            plc_directory_url: "https://plc.directory".into(),
        }
    }
}

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            dev: false,
            issuer: None,
            listen: "127.0.0.1:2583".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            log_format: LogFormat::Human,
            workers: None,
            role: Role::All,
            pds: PdsSection::default(),
            keys: KeysSection::default(),
            fetch: FetchSection::default(),
            clients: ClientsSection::default(),
            identity: IdentitySection::default(),
            tokens: TokensSection::default(),
            dpop: DpopSection::default(),
            introspection: IntrospectionSection::default(),
            resource: ResourceSection::default(),
            metrics: MetricsSection::default(),
            limits: LimitsSection::default(),
            mail: MailSection::default(),
        }
    }
}

/// A configuration error: the key and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: {key}: {reason}")]
pub struct ConfigError {
    /// The offending key (`issuer`, `fetch.timeout_secs`, or the file).
    pub key: String,
    /// What is wrong and how to fix it.
    pub reason: String,
}

fn cfg_err(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        reason: reason.into(),
    }
}

/// Values given on the command line; they override file and environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--dev`
    pub dev: bool,
    /// `--data-dir`
    pub data_dir: Option<PathBuf>,
    /// `--database-url`
    pub database_url: Option<String>,
    /// `--listen`
    pub listen: Option<String>,
    /// `--issuer`
    pub issuer: Option<String>,
    /// `--log-format`
    pub log_format: Option<LogFormat>,
    /// `--role`
    pub role: Option<Role>,
}

/// Read the file (if any), apply the environment, then the flags.
pub fn load(
    file: Option<&Path>,
    env: &[(String, String)],
    flags: &Overrides,
) -> Result<RawConfig, ConfigError> {
    let mut table = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                cfg_err(
                    &path.display().to_string(),
                    format!("cannot read the file: {e}"),
                )
            })?;
            text.parse::<toml::Table>()
                .map_err(|e| cfg_err(&path.display().to_string(), format!("not valid TOML: {e}")))?
        }
        None => toml::Table::new(),
    };
    apply_env(&mut table, env)?;
    let mut raw: RawConfig = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| cfg_err("config", e.message().to_string()))?;
    if flags.dev {
        raw.dev = true;
    }
    if let Some(d) = &flags.data_dir {
        raw.data_dir = d.clone();
    }
    if let Some(u) = &flags.database_url {
        raw.database_url = Some(u.clone());
    }
    if let Some(l) = &flags.listen {
        raw.listen = l.clone();
    }
    if let Some(i) = &flags.issuer {
        raw.issuer = Some(i.clone());
    }
    if let Some(f) = flags.log_format {
        raw.log_format = f;
    }
    if let Some(r) = flags.role {
        raw.role = r;
    }
    Ok(raw)
}

/// Overlay `ATAUTH_SECTION__KEY=value` variables on the table. A value is
/// read as a TOML literal when it is one (`true`, `5`, `["a"]`), else as a
/// string. Unknown keys are caught by `deny_unknown_fields` afterwards.
fn apply_env(table: &mut toml::Table, env: &[(String, String)]) -> Result<(), ConfigError> {
    for (name, value) in env {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if rest.starts_with("TEST_") || rest.is_empty() {
            continue;
        }
        let path: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
        let parsed = format!("v = {value}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.clone()));
        let mut cur = &mut *table;
        for (i, seg) in path.iter().enumerate() {
            if i + 1 == path.len() {
                cur.insert(seg.clone(), parsed.clone());
            } else {
                let entry = cur
                    .entry(seg.clone())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                cur = entry
                    .as_table_mut()
                    .ok_or_else(|| cfg_err(name, format!("{seg} is not a section")))?;
            }
        }
    }
    Ok(())
}

/// The validated configuration.
#[derive(Clone)]
pub struct Settings {
    /// Development mode.
    pub dev: bool,
    /// Issuer; `None` only in dev before the listener is bound (the port
    /// decides it: `http://localhost:<port>`).
    pub issuer: Option<Issuer>,
    /// Listen address.
    pub listen: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Database URL (may hold a password: never printed in full).
    pub database_url: String,
    /// Log format.
    pub log_format: LogFormat,
    /// Worker threads.
    pub workers: Option<usize>,
    /// PDS origin, if set apart from the issuer.
    pub pds_url: Option<String>,
    /// Key reload interval.
    pub key_reload_interval_secs: u64,
    /// Fetch policy (dev forces `allow_loopback`).
    pub fetch: FetchSection,
    /// Trusted client_ids.
    pub trusted_clients: Vec<String>,
    /// PLC directory.
    pub plc_directory_url: String,
    /// Token lifetimes.
    pub tokens: TokensSection,
    /// DPoP nonce secret, if shared.
    pub nonce_secret: Option<[u8; 32]>,
    /// Role, token mode, introspection, remote authorization server.
    pub deployment: DeploymentSettings,
    /// The metrics listener's address; `None`: no metrics endpoint.
    pub metrics_listen: Option<SocketAddr>,
    /// Seconds between counts of the active sessions.
    pub session_count_interval_secs: u64,
    /// Request limits of the public listener.
    pub limits: atauth_server::limits::Limits,
    /// Outgoing mail.
    pub mail: MailSettings,
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("dev", &self.dev)
            .field("issuer", &self.issuer)
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url))
            .field("pds_url", &self.pds_url)
            .field("fetch", &self.fetch)
            .field("trusted_clients", &self.trusted_clients)
            .field("deployment", &self.deployment)
            .field("metrics_listen", &self.metrics_listen)
            .field("mail", &self.mail)
            .finish_non_exhaustive()
    }
}

impl RawConfig {
    /// Check every value. Administrative commands pass `require_issuer =
    /// false`: they never publish the issuer, so it may be absent.
    pub fn validate_for(self, require_issuer: bool) -> Result<Settings, ConfigError> {
        let deployment = self.validate_deployment()?;
        let listen: SocketAddr = self.listen.parse().map_err(|_| {
            cfg_err(
                "listen",
                format!("{:?} is not an address like 127.0.0.1:2583", self.listen),
            )
        })?;
        let issuer = match &self.issuer {
            Some(i) => Some(Issuer::parse(i, self.dev).map_err(|e| cfg_err("issuer", e.0))?),
            None if self.dev || !require_issuer => None,
            None => {
                return Err(cfg_err(
                    "issuer",
                    "required outside development mode: set issuer = \"https://auth.example.com\" (or run with --dev)",
                ))
            }
        };
        let pds_url = match &self.pds.url {
            Some(u) => Some(
                Issuer::parse(u, self.dev)
                    .map_err(|e| cfg_err("pds.url", e.0.replace("issuer", "PDS URL")))?
                    .to_string(),
            ),
            None => None,
        };
        let database_url = match &self.database_url {
            Some(u) if u.trim().is_empty() => return Err(cfg_err("database_url", "is empty")),
            Some(u) => u.clone(),
            None => format!("sqlite://{}", self.data_dir.join("atauth.sqlite").display()),
        };
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(cfg_err(
                "database_url",
                "must start with sqlite:// or postgres://",
            ));
        }
        if self.workers == Some(0) {
            return Err(cfg_err("workers", "must be at least 1"));
        }
        let metrics_listen = match self.metrics.listen.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(a) => {
                let addr: SocketAddr = a.parse().map_err(|_| {
                    cfg_err(
                        "metrics.listen",
                        format!("{a:?} is not an address like 127.0.0.1:9464"),
                    )
                })?;
                if addr == listen && addr.port() != 0 {
                    return Err(cfg_err(
                        "metrics.listen",
                        "must differ from listen: metrics are never served on the public listener",
                    ));
                }
                Some(addr)
            }
        };
        let session_count_interval_secs = self.metrics.session_count_interval_secs;
        if session_count_interval_secs == 0 {
            return Err(cfg_err(
                "metrics.session_count_interval_secs",
                "must be at least 1",
            ));
        }
        if self.keys.reload_interval_secs == 0 {
            return Err(cfg_err("keys.reload_interval_secs", "must be at least 1"));
        }
        let f = &self.fetch;
        if f.timeout_secs == 0 || f.timeout_secs > 60 {
            return Err(cfg_err("fetch.timeout_secs", "must be between 1 and 60"));
        }
        if f.max_body_bytes < 1024 || f.max_body_bytes > 4 * 1024 * 1024 {
            return Err(cfg_err(
                "fetch.max_body_bytes",
                "must be between 1024 and 4194304",
            ));
        }
        if !(f.cache_min_secs <= f.cache_default_secs && f.cache_default_secs <= f.cache_max_secs) {
            return Err(cfg_err(
                "fetch.cache_default_secs",
                "must satisfy cache_min_secs <= cache_default_secs <= cache_max_secs",
            ));
        }
        let plc = url::Url::parse(&self.identity.plc_directory_url)
            .map_err(|e| cfg_err("identity.plc_directory_url", format!("not a URL: {e}")))?;
        if plc.scheme() != "https" && !self.dev {
            return Err(cfg_err(
                "identity.plc_directory_url",
                "must use https outside development mode",
            ));
        }
        let t = &self.tokens;
        use atauth_core::consts::*;
        let bounded = |key: &str, v: i64, max: i64| -> Result<(), ConfigError> {
            if v < 1 || v > max {
                Err(cfg_err(
                    key,
                    format!("must be between 1 and {max} seconds (atproto OAuth limits)"),
                ))
            } else {
                Ok(())
            }
        };
        bounded(
            "tokens.access_token_lifetime_secs",
            t.access_token_lifetime_secs,
            ACCESS_TOKEN_LIFETIME_MAX_SECS,
        )?;
        bounded(
            "tokens.public_session_lifetime_secs",
            t.public_session_lifetime_secs,
            PUBLIC_SESSION_LIFETIME_SECS,
        )?;
        bounded(
            "tokens.public_refresh_lifetime_secs",
            t.public_refresh_lifetime_secs,
            PUBLIC_REFRESH_LIFETIME_SECS,
        )?;
        bounded(
            "tokens.confidential_session_lifetime_secs",
            t.confidential_session_lifetime_secs,
            100 * 365 * 24 * 3600,
        )?;
        bounded(
            "tokens.confidential_refresh_lifetime_secs",
            t.confidential_refresh_lifetime_secs,
            CONFIDENTIAL_REFRESH_LIFETIME_SECS,
        )?;
        if !(0..=300).contains(&t.refresh_retry_grace_secs) {
            return Err(cfg_err(
                "tokens.refresh_retry_grace_secs",
                "must be between 0 and 300",
            ));
        }
        let nonce_secret = match self.dpop.nonce_secret.trim() {
            "" => None,
            hex => Some(parse_hex32(hex).ok_or_else(|| cfg_err("dpop.nonce_secret", "must be 64 hexadecimal characters (32 bytes), e.g. from `openssl rand -hex 32`"))?),
        };
        let limits = self.limits.validate()?;
        let mail = self.mail.validate(self.dev)?;
        let mut fetch = self.fetch.clone();
        if self.dev {
            fetch.allow_loopback = true;
        }
        Ok(Settings {
            dev: self.dev,
            issuer,
            listen,
            data_dir: self.data_dir,
            database_url,
            log_format: self.log_format,
            workers: self.workers,
            pds_url,
            key_reload_interval_secs: self.keys.reload_interval_secs,
            fetch,
            trusted_clients: self.clients.trusted,
            plc_directory_url: self
                .identity
                .plc_directory_url
                .trim_end_matches('/')
                .to_string(),
            tokens: self.tokens.clone(),
            nonce_secret,
            deployment,
            metrics_listen,
            session_count_interval_secs,
            limits,
            mail,
        })
    }
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

impl Settings {
    /// The issuer once the listen port is known: the configured one, or in
    /// dev `http://localhost:<port>`.
    pub fn issuer_for_port(&self, port: u16) -> Result<Issuer, ConfigError> {
        match &self.issuer {
            Some(i) => Ok(i.clone()),
            None => Issuer::parse(&format!("http://localhost:{port}"), true)
                .map_err(|e| cfg_err("issuer", e.0)),
        }
    }
}

#[cfg(test)]
mod tests;
