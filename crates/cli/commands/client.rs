//! `atauth client check <client_id>`: fetch a client's metadata the way the
//! server does and report every rule, pass or fail, with its spec section
//! and a fix. Exit status 0 only if the server would accept the client.
//!
//! `atauth client trust add|remove|list`: the clients the operator trusts
//! (SPEC §3 "Display": their name and logo are shown; their remembered
//! approvals skip the consent page), recorded in the database so that
//! running servers pick them up within `TRUSTED_RELOAD_INTERVAL` (5 s),
//! besides those of the configuration (`clients.trusted`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use atauth_core::client::check::{check_client, CheckReport, RuleOutcome};
use atauth_core::client::ClientId;
use atauth_core::store::TrustedClientStore;
use atauth_server::clients::TRUSTED_RELOAD_INTERVAL;
use atauth_server::fetch::{Accept, Fetch, FetchPolicy, SafeFetcher};
use clap::Subcommand;
use serde_json::json;

use super::account::rfc3339;
use super::serve::now;

use crate::GlobalArgs;

/// Client tools.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Check a client_id and its metadata document against every rule.
    Check {
        /// The client_id (the URL of the metadata document, or a loopback http://localhost… id).
        client_id: String,
        /// Check this local file instead of fetching the document.
        #[arg(long, value_name = "FILE")]
        document: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Clients the operator trusts: their name and logo are shown to users.
    #[command(subcommand)]
    Trust(TrustCommand),
}

/// `atauth client trust …`
#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Trust a client (a discoverable https client_id; checked with the
    /// server's client_id rules).
    Add {
        /// The client_id (the URL of its metadata document).
        client_id: String,
    },
    /// Stop trusting a client recorded with `add`.
    Remove {
        /// The client_id, exactly as listed.
        client_id: String,
    },
    /// List the trusted clients: the database's and the configuration's.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Run a client subcommand. Returns whether the client would be accepted.
pub fn run(global: &GlobalArgs, cmd: ClientCommand) -> anyhow::Result<bool> {
    let (client_id, document, json) = match cmd {
        ClientCommand::Check {
            client_id,
            document,
            json,
        } => (client_id, document, json),
        ClientCommand::Trust(t) => return trust(global, t).map(|()| true),
    };
    let s = super::settings_for_admin(global)?;
    crate::logging::init(s.log_format);
    let body = match (&document, ClientId::parse(&client_id)) {
        (Some(path), _) => {
            Some(std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?)
        }
        (None, Ok(ClientId::Discoverable(url))) => {
            let policy = FetchPolicy {
                timeout: Duration::from_secs(s.fetch.timeout_secs),
                max_body_bytes: s.fetch.max_body_bytes,
                allow_loopback: s.fetch.allow_loopback,
                allow_http: s.dev,
                ..FetchPolicy::default()
            };
            let fetcher = SafeFetcher::new(policy).context("cannot set up the HTTP client")?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            match rt.block_on(fetcher.fetch(url.clone(), Accept::JSON)) {
                Ok(f) => Some(f.body),
                Err(e) => {
                    eprintln!("could not fetch {url}: {e}");
                    None
                }
            }
        }
        _ => None,
    };
    let report = check_client(&client_id, body.as_deref());
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(report.accepted)
}

fn print_report(report: &CheckReport) {
    println!("client_id: {}", report.client_id);
    for o in &report.outcomes {
        print_outcome(o);
    }
    let errors = report
        .outcomes
        .iter()
        .filter(|o| !o.passed && o.severity == atauth_core::client::Severity::Error)
        .count();
    if report.accepted {
        println!("\nACCEPTED: this server would accept the client.");
    } else {
        println!("\nREFUSED: {errors} rule(s) failed; fix them and run the check again.");
    }
}

fn print_outcome(o: &RuleOutcome) {
    let mark = match (o.passed, o.severity) {
        (true, _) => "pass",
        (false, atauth_core::client::Severity::Warning) => "WARN",
        (false, _) => "FAIL",
    };
    println!("[{mark}] {:<36} {:<28} {}", o.rule_id, o.section, o.message);
    if let Some(fix) = &o.fix {
        if !o.passed {
            println!("       fix: {fix}");
        }
    }
}

/// Run a trust subcommand.
fn trust(global: &GlobalArgs, cmd: TrustCommand) -> anyhow::Result<()> {
    let s = super::settings_for_admin(global)?;
    crate::logging::init(s.log_format);
    let store = super::open_store(&s)?;
    let reload = TRUSTED_RELOAD_INTERVAL.as_secs();
    match cmd {
        TrustCommand::Add { client_id } => {
            let id = match ClientId::parse(&client_id) {
                Ok(id) => id,
                Err(e) => bail!("invalid client_id {client_id:?}: {e}"),
            };
            if id.is_loopback() {
                bail!(
                    "loopback development clients (http://localhost…) cannot be trusted: \
                     they are always shown as \"an application on this device\""
                );
            }
            let canonical = id.as_str();
            if store.add_trusted_client(canonical, now())? {
                println!("trusted {canonical} (running servers pick it up within {reload} s)");
            } else {
                println!("{canonical} was already trusted");
            }
        }
        TrustCommand::Remove { client_id } => {
            if store.remove_trusted_client(&client_id)? {
                println!(
                    "no longer trusted: {client_id} (running servers pick it up within {reload} s)"
                );
            } else if s.trusted_clients.iter().any(|c| c == &client_id) {
                bail!(
                    "{client_id} is trusted by the configuration (clients.trusted), not the \
                     database: remove it there"
                );
            } else {
                bail!("{client_id} is not a trusted client");
            }
        }
        TrustCommand::List { json } => {
            let recorded = store.trusted_clients()?;
            let configured: Vec<&String> = s
                .trusted_clients
                .iter()
                .filter(|c| !recorded.iter().any(|r| &r.client_id == *c))
                .collect();
            if json {
                let mut rows: Vec<_> = recorded
                    .iter()
                    .map(|c| {
                        json!({
                            "client_id": c.client_id,
                            "source": "database",
                            "added_at": rfc3339(c.created_at),
                        })
                    })
                    .collect();
                rows.extend(
                    configured
                        .iter()
                        .map(|c| json!({ "client_id": c, "source": "config", "added_at": null })),
                );
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if recorded.is_empty() && configured.is_empty() {
                println!("no trusted clients");
            } else {
                println!("{:<9} {:<21} CLIENT_ID", "SOURCE", "ADDED");
                for c in &recorded {
                    println!(
                        "{:<9} {:<21} {}",
                        "database",
                        rfc3339(c.created_at),
                        c.client_id
                    );
                }
                for c in configured {
                    println!("{:<9} {:<21} {}", "config", "-", c);
                }
            }
        }
    }
    Ok(())
}
