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
