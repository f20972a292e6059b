//! `atauth account create|list|disable|enable|delete|set-password`

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use atauth_core::identity::{AccountRef, Did, Handle};
use atauth_core::password::hash_password;
use atauth_core::store::{Account, AccountStore, StoreError};
use atauth_server::fetch::{Fetch, FetchPolicy, SafeFetcher};
use atauth_server::identity::{IdentityConfig, IdentityResolver};
use atauth_store::Store;
use clap::Subcommand;
use rand::Rng;

use super::serve::now;
use crate::GlobalArgs;

/// Account management.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account; the password is read from standard input.
    Create {
        /// The handle, e.g. alice.example.com.
        #[arg(long)]
        handle: String,
        /// The DID (did:plc or did:web). In --dev a random did:plc is made when absent.
        #[arg(long)]
        did: Option<String>,
        /// Email address.
        #[arg(long)]
        email: Option<String>,
        /// Read the password from standard input (required: passwords never go on the command line).
        #[arg(long)]
        password_stdin: bool,
        /// Do not check that the DID document names this server as the
        /// account's PDS (outside --dev the check is on by default).
        #[arg(long)]
        no_verify_did: bool,
    },
    /// List accounts.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Disable an account (it can no longer sign in).
    Disable {
        /// Handle or DID.
        account: String,
    },
    /// Re-enable a disabled account.
    Enable {
        /// Handle or DID.
        account: String,
    },
    /// Delete an account.
    Delete {
        /// Handle or DID.
        account: String,
    },
    /// Set a new password, read from standard input.
    SetPassword {
        /// Handle or DID.
        account: String,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// Run an account subcommand.
pub fn run(global: &GlobalArgs, cmd: AccountCommand) -> anyhow::Result<()> {
    let s = super::settings_for_admin(global)?;
    crate::logging::init(s.log_format);
    let store = super::open_store(&s)?;
    match cmd {
        AccountCommand::Create {
            handle,
            did,
            email,
            password_stdin,
            no_verify_did,
        } => {
            let handle = Handle::parse(&handle).map_err(|e| anyhow!("invalid --handle: {e}"))?;
            let did = match did {
                Some(d) => Did::parse(&d).map_err(|e| anyhow!("invalid --did: {e}"))?,
                None if s.dev => random_dev_did()?,
                None => bail!("--did is required outside --dev (atauth does not register DIDs; create the DID first, pointing its #atproto_pds service at this server)"),
            };
            if let Some(e) = &email {
                validate_email(e)?;
            }
            if !s.dev && !no_verify_did {
                verify_did_document(&s, &did, &handle)?;
            }
            let password = read_password(password_stdin)?;
            let password_hash = hash_password(&password).map_err(|e| anyhow!("{e}"))?;
            let account = Account {
                did: did.clone(),
                handle: handle.clone(),
                email,
                password_hash,
                created_at: now(),
                disabled_at: None,
            };
            match store.create_account(&account) {
                Ok(()) => println!("created account {handle} ({did})"),
                Err(StoreError::Conflict(what)) if what == "handle" => {
                    bail!("an account with handle {handle} already exists")
                }
                Err(StoreError::Conflict(_)) => bail!("an account with DID {did} already exists"),
                Err(e) => return Err(e).context("cannot create the account"),
            }
        }
        AccountCommand::List { json } => {
            let accounts = store.list_accounts()?;
            if json {
                let rows: Vec<_> = accounts
                    .iter()
                    .map(|a| serde_json::json!({"did": a.did, "handle": a.handle, "email": a.email, "created_at": rfc3339(a.created_at), "disabled_at": a.disabled_at.map(rfc3339)}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if accounts.is_empty() {
                println!("no accounts");
            } else {
                println!("{:<34} {:<30} {:<9} CREATED", "DID", "HANDLE", "STATUS");
                for a in &accounts {
                    let status = if a.is_active() { "active" } else { "disabled" };
                    println!(
                        "{:<34} {:<30} {:<9} {}",
                        a.did,
                        a.handle,
                        status,
                        rfc3339(a.created_at)
                    );
                }
            }
        }
        AccountCommand::Disable { account } => {
            let a = find(&store, &account)?;
            store.set_disabled(&a.did, Some(now()))?;
            println!("disabled {} ({})", a.handle, a.did);
        }
        AccountCommand::Enable { account } => {
            let a = find(&store, &account)?;
            store.set_disabled(&a.did, None)?;
            println!("enabled {} ({})", a.handle, a.did);
        }
        AccountCommand::Delete { account } => {
            let a = find(&store, &account)?;
            store.delete_account(&a.did)?;
            println!("deleted {} ({})", a.handle, a.did);
        }
        AccountCommand::SetPassword {
            account,
            password_stdin,
        } => {
            let a = find(&store, &account)?;
            let password = read_password(password_stdin)?;
            let hash = hash_password(&password).map_err(|e| anyhow!("{e}"))?;
            store.set_password_hash(&a.did, &hash)?;
            println!("password changed for {} ({})", a.handle, a.did);
        }
    }
    Ok(())
}

/// atproto: the account's DID document must name this server as its PDS
/// (`#atproto_pds`) and list the handle, or clients will never find their
/// way here. Resolved through the configured PLC directory or did:web.
fn verify_did_document(
    s: &crate::config::Settings,
    did: &Did,
    handle: &Handle,
) -> anyhow::Result<()> {
    let expected = match (&s.pds_url, &s.issuer) {
        (Some(p), _) => p.clone(),
        (None, Some(i)) => i.to_string(),
        (None, None) => bail!(
            "cannot check the DID document: set issuer (or pds.url) in the configuration, or pass --no-verify-did"
        ),
    };
    let policy = FetchPolicy {
        timeout: Duration::from_secs(s.fetch.timeout_secs),
        max_body_bytes: s.fetch.max_body_bytes,
        allow_loopback: s.fetch.allow_loopback,
        ..FetchPolicy::default()
    };
    let fetcher: Arc<dyn Fetch> =
        Arc::new(SafeFetcher::new(policy).context("cannot set up the HTTP client")?);
    let plc = url::Url::parse(&s.plc_directory_url).context("identity.plc_directory_url")?;
    let resolver = IdentityResolver::new(
        fetcher,
        IdentityConfig {
            plc_directory: plc,
            ..IdentityConfig::default()
        },
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let doc = rt.block_on(resolver.resolve_did(did)).map_err(|e| {
        anyhow!("cannot resolve {did}: {e} (fix the DID document, or pass --no-verify-did)")
    })?;
    match doc.pds_endpoint() {
        Some(pds) if pds.trim_end_matches('/') == expected => {}
        Some(pds) => bail!("the DID document of {did} names {pds} as its PDS, not {expected}; update the DID document (or pass --no-verify-did)"),
        None => bail!("the DID document of {did} has no #atproto_pds service; add one pointing at {expected} (or pass --no-verify-did)"),
    }
    if doc.handle().as_ref() != Some(handle) {
        bail!("the DID document of {did} does not list at://{handle} in alsoKnownAs (or pass --no-verify-did)");
    }
    Ok(())
}

fn find(store: &Store, input: &str) -> anyhow::Result<Account> {
    let r = AccountRef::parse(input)
        .map_err(|e| anyhow!("{input:?} is neither a handle nor a DID: {e}"))?;
    let found = match &r {
        AccountRef::Did(d) => store.account_by_did(d)?,
        AccountRef::Handle(h) => store.account_by_handle(h)?,
    };
    found.ok_or_else(|| anyhow!("no account {input}"))
}

fn read_password(flag: bool) -> anyhow::Result<String> {
    if !flag {
        bail!("pass the password on standard input with --password-stdin (passwords never go on the command line)");
    }
    let mut buf = String::new();
    std::io::stdin()
        .read_to_string(&mut buf)
        .context("cannot read the password from standard input")?;
    let pw = buf
        .strip_suffix('\n')
        .map(|s| s.strip_suffix('\r').unwrap_or(s))
        .unwrap_or(&buf);
    if pw.is_empty() {
        bail!("the password read from standard input is empty");
    }
    Ok(pw.to_string())
}

fn validate_email(e: &str) -> anyhow::Result<()> {
    let ok = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && e.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        });
    if ok {
        Ok(())
    } else {
        bail!("invalid --email {e:?}")
    }
}

/// A random did:plc-shaped identifier for development accounts. It is not
/// registered anywhere; --dev serves its DID document at /plc/{did}.
fn random_dev_did() -> anyhow::Result<Did> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut rng = rand::thread_rng();
    let id: String = (0..24)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    Did::parse(&format!("did:plc:{id}")).map_err(|e| anyhow!("{e}"))
}

/// Unix seconds as RFC 3339.
pub fn rfc3339(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ts.to_string())
}
