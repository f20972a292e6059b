//! The untimed setup phase: keys, an account, approved requests, sessions.

use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use atauth_core::client::auth::ClientAuth;
use atauth_core::identity::{Did, Handle};
use atauth_core::ids::{Code, RequestId};
use atauth_core::password::hash_password;
use atauth_core::store::{Account, AccountStore, OAuthSession, RequestStore, SessionStore};
use atauth_store::Store;
use rand::Rng;

use crate::dpop::{now, pkce, random_b64, DpopKey};
use crate::{Args, DpopSession, Scenario, Shared, WorkerState, REDIRECT_URI, SCOPE};

/// Make one [`WorkerState`] per worker.
pub async fn prepare(args: &Args, shared: &Arc<Shared>) -> anyhow::Result<Vec<WorkerState>> {
    let n = args.concurrency;
    match args.scenario {
        Scenario::Metadata => Ok((0..n).map(|_| WorkerState::Metadata).collect()),
        Scenario::Par => (0..n)
            .map(|_| Ok(WorkerState::Par(DpopSession::new(DpopKey::generate()?))))
            .collect(),
        Scenario::TokenCode | Scenario::TokenRefresh | Scenario::Resource => {
            let url = args.database_url.as_deref().context(
                "this scenario approves requests through the store: pass --database-url (the server's database)",
            )?;
            let store =
                Arc::new(Store::open(url).map_err(|e| anyhow!("cannot open the store: {e}"))?);
            let did = create_account(store.clone()).await?;
            if args.live_sessions > 0 {
                add_live_sessions(store.clone(), &did, args.live_sessions).await?;
            }
            let codes = match args.scenario {
                Scenario::TokenCode => args.codes_per_worker.max(1),
                _ => 1,
            };
            let mut tasks = Vec::with_capacity(n);
            for _ in 0..n {
                let (shared, store, did) = (shared.clone(), store.clone(), did.clone());
                let scenario = args.scenario;
                tasks.push(tokio::spawn(async move {
                    prepare_worker(scenario, &shared, store, &did, codes).await
                }));
            }
            let mut states = Vec::with_capacity(n);
            for t in tasks {
                states.push(t.await.map_err(|e| anyhow!("setup task failed: {e}"))??);
            }
            Ok(states)
        }
    }
}

/// A throwaway account in the server's database.
async fn create_account(store: Arc<Store>) -> anyhow::Result<Did> {
    tokio::task::spawn_blocking(move || {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
        let mut rng = rand::thread_rng();
        let id: String = (0..24)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect();
        let did = Did::parse(&format!("did:plc:{id}")).map_err(|e| anyhow!("{e}"))?;
        let handle =
            Handle::parse(&format!("loadgen-{}.test", &id[..10])).map_err(|e| anyhow!("{e}"))?;
        let password_hash = hash_password(&random_b64(24)).map_err(|e| anyhow!("{e}"))?;
        store
            .create_account(&Account {
                did: did.clone(),
                handle,
                email: None,
                password_hash,
                created_at: now(),
                disabled_at: None,
            })
            .map_err(|e| anyhow!("cannot create the load-test account: {e}"))?;
        Ok(did)
    })
    .await?
}

/// `n` unexpired sessions of `did` (distinct clients, keys and refresh
/// tokens), as a busy server would hold.
async fn add_live_sessions(store: Arc<Store>, did: &Did, n: usize) -> anyhow::Result<()> {
    let did = did.clone();
    let started = std::time::Instant::now();
    tokio::task::spawn_blocking(move || {
        let t = now();
        for i in 0..n {
            store
                .create_session(&OAuthSession {
                    id: format!("ses-loadgen-{i}-{}", random_b64(9)),
                    did: did.clone(),
                    client_id: format!("https://app{}.loadgen.test/client-metadata.json", i % 1000),
                    client_auth: ClientAuth::None,
                    scope: SCOPE.to_string(),
                    dpop_jkt: random_b64(32),
                    request_id: format!("req-loadgen-{i}"),
                    created_at: t,
                    expires_at: t + 14 * 86_400,
                    refresh_hash: Some(random_b64(32)),
                    refresh_expires_at: Some(t + 14 * 86_400),
                    previous_refresh_hash: None,
                    rotated_at: None,
                    last_used_at: t,
                })
                .map_err(|e| anyhow!("cannot add live session {i}: {e}"))?;
        }
        anyhow::Ok(())
    })
    .await??;
    eprintln!(
        "setup: added {n} live sessions in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// PAR over HTTP, then approval in the store. Returns (code, verifier).
async fn approved_code(
    shared: &Shared,
    dpop: &mut DpopSession,
    store: &Arc<Store>,
    did: &Did,
) -> anyhow::Result<(String, String)> {
    let (verifier, challenge) = pkce();
    let state = random_b64(12);
    let form = [
        ("client_id", shared.client_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT_URI),
        ("scope", SCOPE),
        ("state", state.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let (reply, _) = dpop.post_form(shared, "/oauth/par", &form).await;
    let reply = reply.map_err(|e| anyhow!("setup PAR: {e}"))?;
    if reply.status != 201 {
        bail!("setup PAR answered {}: {}", reply.status, reply.json);
    }
    let id = reply
        .json
        .get("request_uri")
        .and_then(|v| v.as_str())
        .and_then(RequestId::from_request_uri)
        .context("setup PAR: no usable request_uri")?;
    let code = Code::generate();
    let (store, did2, hash) = (store.clone(), did.clone(), code.hash());
    let issued = tokio::task::spawn_blocking(move || {
        store.issue_code(id.as_str(), &did2, &hash, now() + 600)
    })
    .await?
    .map_err(|e| anyhow!("issue_code: {e}"))?;
    if !issued {
        bail!("issue_code refused the request");
    }
    Ok((code.as_str().to_string(), verifier))
}

async fn prepare_worker(
    scenario: Scenario,
    shared: &Shared,
    store: Arc<Store>,
    did: &Did,
    codes: usize,
) -> anyhow::Result<WorkerState> {
    let mut dpop = DpopSession::new(DpopKey::generate()?);
    let mut prepared = Vec::with_capacity(codes);
    for _ in 0..codes {
        prepared.push(approved_code(shared, &mut dpop, &store, did).await?);
    }
    if scenario == Scenario::TokenCode {
        return Ok(WorkerState::TokenCode(dpop, prepared));
    }
    let (code, verifier) = prepared.pop().context("no code")?;
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", shared.client_id.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier.as_str()),
    ];
    let (reply, _) = dpop.post_form(shared, "/oauth/token", &form).await;
    let reply = reply.map_err(|e| anyhow!("setup token: {e}"))?;
    if reply.status != 200 {
        bail!(
            "setup token request answered {}: {}",
            reply.status,
            reply.json
        );
    }
    let field = |name: &str| -> anyhow::Result<String> {
        reply
            .json
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .with_context(|| format!("setup token response without {name}"))
    };
    if scenario == Scenario::TokenRefresh {
        let refresh = field("refresh_token")?;
        Ok(WorkerState::TokenRefresh(dpop, refresh))
    } else {
        let access = field("access_token")?;
        // The resource server keeps its own nonce; start without one, as
        // a client that has not talked to it yet.
        dpop.nonce = None;
        Ok(WorkerState::Resource(dpop, access))
    }
}
