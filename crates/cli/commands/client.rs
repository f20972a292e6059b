//! `atauth client check <client_id>`: fetch a client's metadata the way the
//! server does and report every rule, pass or fail, with its spec section
//! and a fix. Exit status 0 only if the server would accept the client.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use atauth_core::client::check::{check_client, CheckReport, RuleOutcome};
use atauth_core::client::ClientId;
use atauth_server::fetch::{Accept, Fetch, FetchPolicy, SafeFetcher};
use clap::Subcommand;

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
}

/// Run a client subcommand. Returns whether the client would be accepted.
pub fn run(global: &GlobalArgs, cmd: ClientCommand) -> anyhow::Result<bool> {
    let ClientCommand::Check {
        client_id,
        document,
        json,
    } = cmd;
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
