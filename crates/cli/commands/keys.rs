//! `atauth keys list|rotate`

use anyhow::Context;
use atauth_core::keys::{generate_stored_key, Keyset};
use atauth_core::store::KeyStore;
use clap::Subcommand;

use super::serve::now;
use crate::GlobalArgs;

/// Key management.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the signing keys; the newest signs, all verify.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a new signing key. Older keys keep verifying tokens they signed;
    /// running servers switch within keys.reload_interval_secs.
    Rotate,
}

/// Run a keys subcommand.
pub fn run(global: &GlobalArgs, cmd: KeysCommand) -> anyhow::Result<()> {
    let s = super::settings_for_admin(global)?;
    crate::logging::init(s.log_format);
    let store = super::open_store(&s)?;
    match cmd {
        KeysCommand::List { json } => {
            let stored = store.list_signing_keys()?;
            if stored.is_empty() {
                if json {
                    println!("[]");
                } else {
                    println!("no signing keys yet (one is created when the server first starts)");
                }
                return Ok(());
            }
            let ks = Keyset::from_stored(&stored).context("the stored keys are unusable")?;
            let current = ks.current().kid.clone();
            if json {
                let rows: Vec<_> = ks
                    .keys()
                    .iter()
                    .map(|k| serde_json::json!({"kid": k.kid, "alg": "ES256", "created_at": super::account::rfc3339(k.created_at), "current": k.kid == current}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{:<18} {:<6} {:<22} STATUS", "KID", "ALG", "CREATED");
                for k in ks.keys() {
                    let status = if k.kid == current {
                        "signing"
                    } else {
                        "verify-only"
                    };
                    println!(
                        "{:<18} {:<6} {:<22} {status}",
                        k.kid,
                        "ES256",
                        super::account::rfc3339(k.created_at)
                    );
                }
            }
        }
        KeysCommand::Rotate => {
            // The newest key signs; keep creation times strictly increasing
            // so a rotation within the same second still wins.
            let latest = store
                .list_signing_keys()?
                .iter()
                .map(|k| k.created_at)
                .max();
            let created_at = latest.map_or(now(), |l| now().max(l + 1));
            let key = generate_stored_key(created_at).context("cannot generate a key")?;
            store
                .insert_signing_key(&key)
                .context("cannot store the new key")?;
            println!("new signing key {} (older keys keep verifying)", key.kid);
        }
    }
    Ok(())
}
