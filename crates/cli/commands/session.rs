//! `atauth session list|revoke`: the OAuth sessions in the database, and
//! ending them. A revoked session is deleted: its refresh token fails with
//! `invalid_grant` at once, and (stateful mode) so do its access tokens,
//! in every running instance sharing the database.

use std::collections::HashMap;

use anyhow::{anyhow, bail};
use atauth_core::identity::{AccountRef, Did};
use atauth_core::store::{
    Account, AccountStore, AuthorizedClientStore, OAuthSession, SessionStore,
};
use atauth_store::Store;
use clap::{ArgGroup, Subcommand};
use serde_json::json;

use super::account::rfc3339;
use super::serve::now;
use crate::GlobalArgs;

/// OAuth session management.
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List the OAuth sessions that have not ended, newest first.
    List {
        /// Only this account (handle or DID).
        #[arg(long, value_name = "HANDLE|DID")]
        account: Option<String>,
        /// Only this client (its client_id, exactly).
        #[arg(long, value_name = "CLIENT_ID")]
        client: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke one session by id, or an account's sessions.
    ///
    /// With --account, every session of the account (of one client with
    /// --client) ends, and the account's remembered approval of the
    /// client(s) is forgotten, as the "Revoke" button of the account pages
    /// does.
    #[command(group(ArgGroup::new("target").required(true).args(["session_id", "account"])))]
    Revoke {
        /// The session id (`ses-…`, as listed).
        session_id: Option<String>,
        /// Every session of this account (handle or DID).
        #[arg(long, value_name = "HANDLE|DID")]
        account: Option<String>,
        /// With --account: only this client's sessions.
        #[arg(long, value_name = "CLIENT_ID", requires = "account")]
        client: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Run a session subcommand.
pub fn run(global: &GlobalArgs, cmd: SessionCommand) -> anyhow::Result<()> {
    let s = super::settings_for_admin(global)?;
    crate::logging::init(s.log_format);
    let store = super::open_store(&s)?;
    match cmd {
        SessionCommand::List {
            account,
            client,
            json,
        } => list(&store, account.as_deref(), client.as_deref(), json),
        SessionCommand::Revoke {
            session_id: Some(id),
            json,
            ..
        } => {
            if store.delete_session(&id)? == 0 {
                bail!("no session {id}");
            }
            if json {
                println!(
                    "{}",
                    json!({ "revoked_sessions": 1, "forgotten_approvals": 0 })
                );
            } else {
                println!("revoked session {id}");
            }
            Ok(())
        }
        SessionCommand::Revoke {
            account: Some(account),
            client,
            json,
            ..
        } => {
            let a = find_account(&store, &account)?;
            let sessions = store.delete_sessions_for(&a.did, client.as_deref())?;
            let approvals = forget_approvals(&store, &a.did, client.as_deref())?;
            if json {
                println!(
                    "{}",
                    json!({ "revoked_sessions": sessions, "forgotten_approvals": approvals })
                );
            } else {
                let of = client
                    .as_deref()
                    .map(|c| format!(" of {c}"))
                    .unwrap_or_default();
                println!(
                    "revoked {sessions} session(s){of} for {} ({}); forgot {approvals} approval(s)",
                    a.handle, a.did
                );
            }
            Ok(())
        }
        SessionCommand::Revoke { .. } => bail!("name a session id or --account"),
    }
}

/// The account a handle or DID names.
fn find_account(store: &Store, input: &str) -> anyhow::Result<Account> {
    let r = AccountRef::parse(input)
        .map_err(|e| anyhow!("{input:?} is neither a handle nor a DID: {e}"))?;
    let found = match &r {
        AccountRef::Did(d) => store.account_by_did(d)?,
        AccountRef::Handle(h) => store.account_by_handle(h)?,
    };
    found.ok_or_else(|| anyhow!("no account {input}"))
}

/// Forget the remembered approval of one client, or of every client.
fn forget_approvals(store: &Store, did: &Did, client: Option<&str>) -> anyhow::Result<u64> {
    let mut n = 0;
    match client {
        Some(c) => n += u64::from(store.forget_authorized_client(did, c)?),
        None => {
            for a in store.authorized_clients(did)? {
                n += u64::from(store.forget_authorized_client(did, &a.client_id)?);
            }
        }
    }
    Ok(n)
}

fn list(
    store: &Store,
    account: Option<&str>,
    client: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let did = account
        .map(|a| find_account(store, a))
        .transpose()?
        .map(|a| a.did);
    let now = now();
    let sessions: Vec<OAuthSession> = store
        .list_sessions(did.as_ref(), client)?
        .into_iter()
        .filter(|s| s.expires_at > now)
        .collect();
    let mut handles: HashMap<Did, String> = HashMap::new();
    for s in &sessions {
        if !handles.contains_key(&s.did) {
            let h = store
                .account_by_did(&s.did)?
                .map(|a| a.handle.as_str().to_string())
                .unwrap_or_default();
            handles.insert(s.did.clone(), h);
        }
    }
    let handle = |d: &Did| handles.get(d).cloned().unwrap_or_default();
    if json {
        let rows: Vec<_> = sessions
            .iter()
            .map(|s| {
                json!({
                    "id": s.id,
                    "did": s.did,
                    "handle": handle(&s.did),
                    "client_id": s.client_id,
                    "scope": s.scope,
                    "created_at": rfc3339(s.created_at),
                    "last_used_at": rfc3339(s.last_used_at),
                    "expires_at": rfc3339(s.expires_at),
                    "refresh_expires_at": s.refresh_expires_at.map(rfc3339),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if sessions.is_empty() {
        println!("no sessions");
        return Ok(());
    }
    for (i, s) in sessions.iter().enumerate() {
        if i > 0 {
            println!();
        }
        println!("{}  {} ({})", s.id, handle(&s.did), s.did);
        println!("  client:    {}", s.client_id);
        println!("  scope:     {}", s.scope);
        println!(
            "  created:   {}   last used: {}   expires: {}",
            rfc3339(s.created_at),
            rfc3339(s.last_used_at),
            rfc3339(s.expires_at)
        );
    }
    println!("\n{} session(s)", sessions.len());
    Ok(())
}
