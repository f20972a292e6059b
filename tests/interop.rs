//! Real clients against the real binary (issue: real clients in CI).
//!
//! Runs only with `ATAUTH_TEST_INTEROP=1` (`.ci/run` sets it after installing
//! Chromium, Node 22 and the locked npm packages in tests/interop):
//! otherwise each test prints that it was skipped.

use std::process::Command;

use crate::support::TestEnv;

fn enabled(name: &str) -> bool {
    if std::env::var("ATAUTH_TEST_INTEROP").as_deref() == Ok("1") {
        return true;
    }
    eprintln!("SKIPPED {name}: set ATAUTH_TEST_INTEROP=1 (bash .ci/run does) to run the real-client interop tests");
    false
}

fn interop_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

#[test]
fn official_typescript_client_completes_the_flow() {
    if !enabled("official_typescript_client_completes_the_flow") {
        return;
    }
    let node = interop_dir().join("node_modules/.bin/node");
    assert!(
        node.exists(),
        "Node 22 missing: run `npm ci` in tests/interop (bash .ci/run does)"
    );
    let env = TestEnv::new();
    env.create_account("alice.test", "correct horse battery");
    let server = env.serve(&[("ATAUTH_TOKENS__ACCESS_TOKEN_LIFETIME_SECS", "3")]);
    let out = Command::new(node)
        .arg(interop_dir().join("official-client.mjs"))
        .current_dir(interop_dir())
        .env("ATAUTH_ISSUER", &server.issuer)
        .env("ATAUTH_HANDLE", "alice.test")
        .env("ATAUTH_PASSWORD", "correct horse battery")
        .env("ATAUTH_ACCESS_TTL", "3")
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "official client failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(stdout.contains("all steps passed"), "{stdout}");
}
