//! The command line: accounts, keys, configuration errors.

use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::support::{bin, http, TestEnv};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn list(env: &TestEnv) -> Vec<Value> {
    let out = env.run(&["account", "list", "--json"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn account_create_lowercases_handle_and_lists() {
    let env = TestEnv::new();
    let out = env.run(
        &[
            "account",
            "create",
            "--handle",
            "Alice.Test",
            "--did",
            "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
            "--email",
            "a@example.com",
            "--password-stdin",
        ],
        Some("correct horse battery\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = list(&env);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["handle"], "alice.test");
    assert_eq!(rows[0]["did"], "did:plc:ewvi7nxzyoun6zhxrhs64oiz");
    assert_eq!(rows[0]["email"], "a@example.com");
    assert!(rows[0]["disabled_at"].is_null());
}

#[test]
fn rejects_duplicate_handle() {
    let env = TestEnv::new();
    env.create_account("bob.test", "correct horse battery");
    let out = env.run(
        &[
            "account",
            "create",
            "--handle",
            "BOB.test",
            "--password-stdin",
        ],
        Some("another password"),
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("handle bob.test already exists"),
        "{}",
        stderr(&out)
    );
    assert_eq!(list(&env).len(), 1);
}

#[test]
fn rejects_duplicate_did() {
    let env = TestEnv::new();
    let args = |h: &'static str| {
        [
            "account",
            "create",
            "--handle",
            h,
            "--did",
            "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
            "--password-stdin",
        ]
    };
    assert!(env
        .run(&args("one.test"), Some("correct horse battery"))
        .status
        .success());
    let out = env.run(&args("two.test"), Some("correct horse battery"));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("DID did:plc:ewvi7nxzyoun6zhxrhs64oiz already exists"),
        "{}",
        stderr(&out)
    );
    assert_eq!(list(&env).len(), 1);
}

#[test]
fn rejects_invalid_handle_and_did() {
    let env = TestEnv::new();
    let out = env.run(
        &[
            "account",
            "create",
            "--handle",
            "no_dots",
            "--password-stdin",
        ],
        Some("correct horse battery"),
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("invalid --handle"),
        "{}",
        stderr(&out)
    );
    let out = env.run(
        &[
            "account",
            "create",
            "--handle",
            "ok.test",
            "--did",
            "did:key:zabc",
            "--password-stdin",
        ],
        Some("correct horse battery"),
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("invalid --did"), "{}", stderr(&out));
    assert!(list(&env).is_empty());
}

#[test]
fn rejects_password_on_command_line_and_short_passwords() {
    let env = TestEnv::new();
    let out = env.run(&["account", "create", "--handle", "eve.test"], None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--password-stdin"),
        "{}",
        stderr(&out)
    );
    let out = env.run(
        &[
            "account",
            "create",
            "--handle",
            "eve.test",
            "--password-stdin",
        ],
        Some("short"),
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("between 8 and"), "{}", stderr(&out));
    assert!(list(&env).is_empty());
}

#[test]
fn disable_enable_delete_and_set_password() {
    let env = TestEnv::new();
    let did = env.create_account("fay.test", "correct horse battery");
    assert!(env
        .run(&["account", "disable", &did], None)
        .status
        .success());
    assert!(!list(&env)[0]["disabled_at"].is_null());
    assert!(env
        .run(&["account", "enable", "fay.test"], None)
        .status
        .success());
    assert!(list(&env)[0]["disabled_at"].is_null());
    assert!(env
        .run(
            &["account", "set-password", "fay.test", "--password-stdin"],
            Some("a new long password")
        )
        .status
        .success());
    assert!(env
        .run(&["account", "delete", "fay.test"], None)
        .status
        .success());
    assert!(list(&env).is_empty());
    let out = env.run(&["account", "delete", "fay.test"], None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no account fay.test"));
}

#[test]
fn production_account_create_requires_did() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin())
        .args(["--data-dir"])
        .arg(dir.path())
        .args([
            "account",
            "create",
            "--handle",
            "gus.test",
            "--password-stdin",
        ])
        .stdin(std::process::Stdio::null())
        .env_remove("ATAUTH_ISSUER")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--did is required outside --dev"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn serve_without_issuer_outside_dev_fails_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin())
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("ATAUTH_ISSUER")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("configuration: issuer: required outside development mode"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn serve_refuses_http_issuer_outside_dev() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin())
        .arg("--data-dir")
        .arg(dir.path())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--issuer",
            "http://auth.example.com",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("must use https"), "{}", stderr(&out));
}

#[test]
fn unknown_config_key_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("atauth.toml");
    std::fs::write(&cfg, "dev = true\nlisten_address = \"127.0.0.1:1\"\n").unwrap();
    let out = std::process::Command::new(bin())
        .arg("--config")
        .arg(&cfg)
        .args(["keys", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unknown field `listen_address`"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn keys_rotate_publishes_new_key_and_keeps_old() {
    let env = TestEnv::new();
    let s = env.serve(&[("ATAUTH_KEYS__RELOAD_INTERVAL_SECS", "1")]);
    let jwks: Value = http()
        .get(s.url("/oauth/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let old_kid = jwks["keys"][0]["kid"].as_str().unwrap().to_string();

    let out = env.run(&["keys", "rotate"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = env.run(&["keys", "list", "--json"], None);
    let keys: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let current: Vec<&Value> = keys
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["current"] == true)
        .collect();
    assert_eq!(current.len(), 1);
    let new_kid = current[0]["kid"].as_str().unwrap().to_string();
    assert_ne!(new_kid, old_kid);

    // The running server picks the new key up within the reload interval.
    let mut seen = Value::Null;
    for _ in 0..50 {
        seen = http()
            .get(s.url("/oauth/jwks"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if seen["keys"].as_array().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let kids: Vec<&str> = seen["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(
        kids,
        vec![new_kid.as_str(), old_kid.as_str()],
        "newest first, old key still published"
    );
}

#[test]
fn corrupt_key_store_stops_the_server() {
    let env = TestEnv::new();
    assert!(env.run(&["keys", "rotate"], None).status.success());
    // Damage the stored key directly in SQLite.
    let db = env.data_dir().join("atauth.sqlite");
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg("import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"update signing_keys set private_pkcs8 = x'00'\"); c.commit()")
        .arg(&db)
        .status()
        .expect("python3");
    assert!(status.success());
    let out = env.run(&["serve", "--listen", "127.0.0.1:0"], None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unusable; refusing to start"),
        "{}",
        stderr(&out)
    );
    // And the key was not replaced.
    let listed = env.run(&["keys", "list"], None);
    assert!(!listed.status.success());
    assert!(
        stderr(&listed).contains("the stored keys are unusable"),
        "{}",
        stderr(&listed)
    );
}

#[test]
fn client_check_accepts_loopback_client() {
    let env = TestEnv::new();
    let out = env.run(
        &[
            "client",
            "check",
            "http://localhost?scope=atproto+transition%3Ageneric",
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", stderr(&out));
    assert!(stdout.contains("ACCEPTED"), "{stdout}");
}

#[test]
fn client_check_names_the_mismatched_client_id_rule() {
    let env = TestEnv::new();
    let doc = env.data_dir().join("client-metadata.json");
    std::fs::write(
        &doc,
        serde_json::json!({
            "client_id": "https://other.example.com/client-metadata.json",
            "application_type": "web",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "redirect_uris": ["https://app.example.com/callback"],
            "scope": "atproto",
            "token_endpoint_auth_method": "none",
            "dpop_bound_access_tokens": true
        })
        .to_string(),
    )
    .unwrap();
    let out = env.run(
        &[
            "client",
            "check",
            "https://app.example.com/client-metadata.json",
            "--document",
            doc.to_str().unwrap(),
            "--json",
        ],
        None,
    );
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["accepted"], false);
    let failed: Vec<&str> = report["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["passed"] == false)
        .map(|o| o["rule_id"].as_str().unwrap())
        .collect();
    assert_eq!(failed, vec!["client_id.match"], "{report:#}");
}

#[test]
fn production_account_create_checks_the_did_document() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        use std::io::Write;
        let mut c = std::process::Command::new(bin());
        c.arg("--data-dir").arg(dir.path()).args([
            "account",
            "create",
            "--handle",
            "gus.example.com",
            "--did",
            "did:web:gus.example.com",
            "--password-stdin",
        ]);
        c.args(extra)
            .env("ATAUTH_ISSUER", "https://auth.example.com")
            .env("ATAUTH_FETCH__TIMEOUT_SECS", "2");
        let mut child = c
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"correct horse battery")
            .unwrap();
        child.wait_with_output().unwrap()
    };
    // No outside network here: the DID cannot be resolved, so the account
    // is refused, and the message names the way out.
    let out = run(&[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot resolve did:web:gus.example.com"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("--no-verify-did"));
    let out = run(&["--no-verify-did"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

// ------------------------------------------------- session and trust commands

/// Store OAuth sessions (and the approvals behind them) directly.
fn seed_sessions(env: &TestEnv, rows: &[(&str, &str, &str)]) {
    use atauth_core::client::auth::ClientAuth;
    use atauth_core::identity::Did;
    use atauth_core::store::{AuthorizedClientStore, OAuthSession, SessionStore};
    let store = env.store();
    let t = crate::support::client::now();
    for (i, (id, did, client)) in rows.iter().enumerate() {
        let did = Did::parse(did).unwrap();
        store
            .create_session(&OAuthSession {
                id: id.to_string(),
                did: did.clone(),
                client_id: client.to_string(),
                client_auth: ClientAuth::None,
                scope: "atproto transition:generic".into(),
                dpop_jkt: "j".repeat(43),
                request_id: format!("req-{id}"),
                created_at: t - 100 + i as i64,
                expires_at: t + 3600,
                refresh_hash: Some(format!("hash-{id}")),
                refresh_expires_at: Some(t + 3600),
                previous_refresh_hash: None,
                rotated_at: None,
                last_used_at: t,
            })
            .unwrap();
        store
            .upsert_authorized_client(&did, client, "atproto", t)
            .unwrap();
    }
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "{:?} {}", out.status, stderr(out));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn session_ids(env: &TestEnv, filters: &[&str]) -> Vec<String> {
    let mut args = vec!["session", "list", "--json"];
    args.extend_from_slice(filters);
    json_of(&env.run(&args, None))
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// `atauth session list|revoke` and `atauth client trust add|remove|list`
/// against whatever database `env` names.
fn admin_commands(env: &TestEnv) {
    const APP: &str = "https://app.example.com/client-metadata.json";
    const OTHER: &str = "https://other.example.org/oauth/client.json";
    let alice = env.create_account("alice.test", "correct horse battery");
    let bob = env.create_account("bob.test", "correct horse battery");
    seed_sessions(
        env,
        &[
            ("ses-a1", &alice, APP),
            ("ses-a2", &alice, OTHER),
            ("ses-a3", &alice, APP),
            ("ses-b1", &bob, APP),
        ],
    );

    // list: newest first, filtered by account (handle or DID) and client.
    assert_eq!(
        session_ids(env, &[]),
        ["ses-b1", "ses-a3", "ses-a2", "ses-a1"]
    );
    assert_eq!(
        session_ids(env, &["--account", "alice.test"]),
        ["ses-a3", "ses-a2", "ses-a1"]
    );
    assert_eq!(session_ids(env, &["--account", &bob]), ["ses-b1"]);
    assert_eq!(
        session_ids(env, &["--account", "alice.test", "--client", OTHER]),
        ["ses-a2"]
    );
    let rows = json_of(&env.run(&["session", "list", "--json", "--client", OTHER], None));
    assert_eq!(rows[0]["handle"], "alice.test");
    assert_eq!(rows[0]["did"], alice.as_str());
    assert_eq!(rows[0]["client_id"], OTHER);
    assert_eq!(rows[0]["scope"], "atproto transition:generic");
    assert!(rows[0]["expires_at"].as_str().unwrap().ends_with('Z'));
    let human = env.run(&["session", "list"], None);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("ses-a2  alice.test"), "{text}");
    assert!(text.contains(&format!("client:    {OTHER}")), "{text}");
    assert!(text.contains("4 session(s)"), "{text}");
    let out = env.run(&["session", "list", "--account", "nobody.test"], None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no account nobody.test"),
        "{}",
        stderr(&out)
    );

    // revoke one session by id.
    let out = env.run(&["session", "revoke", "ses-a2"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("revoked session ses-a2"));
    let out = env.run(&["session", "revoke", "ses-a2"], None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no session ses-a2"),
        "{}",
        stderr(&out)
    );

    // revoke an account's sessions of one client: sessions and approval.
    let out = env.run(
        &[
            "session",
            "revoke",
            "--account",
            "alice.test",
            "--client",
            APP,
            "--json",
        ],
        None,
    );
    assert_eq!(
        json_of(&out),
        serde_json::json!({ "revoked_sessions": 2, "forgotten_approvals": 1 })
    );
    assert_eq!(session_ids(env, &[]), ["ses-b1"]);
    {
        use atauth_core::store::AuthorizedClientStore;
        let did = atauth_core::identity::Did::parse(&alice).unwrap();
        let left: Vec<String> = env
            .store()
            .authorized_clients(&did)
            .unwrap()
            .into_iter()
            .map(|a| a.client_id)
            .collect();
        assert_eq!(left, [OTHER], "only APP's approval is forgotten");
    }
    // every session of an account.
    let out = env.run(&["session", "revoke", "--account", "bob.test"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("revoked 1 session(s) for bob.test"));
    assert!(session_ids(env, &[]).is_empty());
    // --client needs --account; one target is required.
    assert!(!env
        .run(&["session", "revoke", "--client", APP], None)
        .status
        .success());
    assert!(!env.run(&["session", "revoke"], None).status.success());

    // client trust.
    let list = |env: &TestEnv| json_of(&env.run(&["client", "trust", "list", "--json"], None));
    assert_eq!(list(env), serde_json::json!([]));
    let out = env.run(&["client", "trust", "add", APP], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env.run(&["client", "trust", "add", APP], None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("already trusted"));
    for (bad, why) in [
        ("https://APP.example.com/client-metadata.json", "canonical"),
        ("http://app.example.com/client-metadata.json", "https"),
        ("https://app.example.com:8443/client-metadata.json", "port"),
        ("http://localhost", "loopback"),
        ("not a url", "not a url"),
    ] {
        let out = env.run(&["client", "trust", "add", bad], None);
        assert!(!out.status.success(), "{why}");
        assert!(
            stderr(&out).contains("client_id") || stderr(&out).contains("loopback"),
            "{why}: {}",
            stderr(&out)
        );
    }
    let rows = list(env);
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["client_id"], APP);
    assert_eq!(rows[0]["source"], "database");
    let out = env.run(&["client", "trust", "remove", APP], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env.run(&["client", "trust", "remove", APP], None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a trusted client"),
        "{}",
        stderr(&out)
    );
    assert_eq!(list(env), serde_json::json!([]));
}

#[test]
fn session_and_trust_commands_on_sqlite() {
    admin_commands(&TestEnv::new());
}

/// The same commands on PostgreSQL, in a throwaway database made with
/// `psql` from `ATAUTH_TEST_POSTGRES_URL`; SKIPPED without it.
#[test]
fn session_and_trust_commands_on_postgres() {
    let Some(admin_url) = std::env::var("ATAUTH_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: ATAUTH_TEST_POSTGRES_URL not set (cli::session_and_trust_commands_on_postgres)"
        );
        return;
    };
    let psql = |sql: &str| {
        let out = std::process::Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &admin_url, "-c", sql])
            .output()
            .expect("psql (PostgreSQL client) on PATH");
        assert!(out.status.success(), "{sql}: {}", stderr(&out));
    };
    let name = format!("atauth_cli_{:016x}", rand::random::<u64>());
    psql(&format!("CREATE DATABASE \"{name}\""));
    /// Drops the database when the test ends, even if it panicked.
    struct Cleanup(String, String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.1);
            let _ = std::process::Command::new("psql")
                .args(["-X", "-q", &self.0, "-c", &sql])
                .output();
        }
    }
    let _cleanup = Cleanup(admin_url.clone(), name.clone());
    let mut url = url::Url::parse(&admin_url).expect("ATAUTH_TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{name}"));
    let env = TestEnv {
        dir: tempfile::tempdir().unwrap(),
        database_url: url.to_string(),
    };
    admin_commands(&env);
}
