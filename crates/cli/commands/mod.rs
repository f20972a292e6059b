//! Subcommands.

pub mod account;
pub mod client;
pub mod keys;
pub mod serve;
pub mod session;

use anyhow::Context;
use atauth_store::Store;

use crate::config::{self, Overrides, Settings};
use crate::GlobalArgs;

/// Load and validate the configuration from file, environment and flags.
pub fn settings(global: &GlobalArgs, extra: Overrides) -> anyhow::Result<Settings> {
    settings_with(global, extra, true)
}

fn settings_with(
    global: &GlobalArgs,
    extra: Overrides,
    require_issuer: bool,
) -> anyhow::Result<Settings> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let flags = Overrides {
        dev: global.dev,
        data_dir: global.data_dir.clone(),
        database_url: global.database_url.clone(),
        log_format: global.log_format,
        ..extra
    };
    let raw = config::load(global.config.as_deref(), &env, &flags)?;
    Ok(raw.validate_for(require_issuer)?)
}

/// Open the database and apply migrations.
pub fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    if settings.database_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&settings.data_dir).with_context(|| {
            format!(
                "cannot create data directory {}",
                settings.data_dir.display()
            )
        })?;
    }
    let store = Store::open(&settings.database_url).with_context(|| {
        format!(
            "cannot open database {}",
            config::redact_url(&settings.database_url)
        )
    })?;
    store
        .migrate()
        .context("cannot apply database migrations")?;
    Ok(store)
}

/// `atauth migrate`
pub fn migrate(global: &GlobalArgs) -> anyhow::Result<()> {
    let s = settings_for_admin(global)?;
    crate::logging::init(s.log_format);
    open_store(&s)?;
    println!(
        "migrations applied ({})",
        config::redact_url(&s.database_url)
    );
    Ok(())
}

/// Settings for commands that do not serve: the issuer may be absent.
pub fn settings_for_admin(global: &GlobalArgs) -> anyhow::Result<Settings> {
    settings_with(global, Overrides::default(), false)
}
