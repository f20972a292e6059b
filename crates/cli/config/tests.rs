//! Configuration tests: every refusal names its key.
use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn write(text: &str) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), text).unwrap();
    f
}

#[test]
fn default_toml_documents_the_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml");
    let raw = load(Some(&path), &[], &Overrides::default()).unwrap();
    assert_eq!(raw, RawConfig::default());
}

#[test]
fn rejects_http_issuer_outside_dev() {
    let f = write("issuer = \"http://auth.example.com\"");
    let e = load(Some(f.path()), &[], &Overrides::default())
        .unwrap()
        .validate_for(true)
        .unwrap_err();
    assert_eq!(e.key, "issuer");
    assert!(e.reason.contains("must use https"), "{e}");
}

#[test]
fn rejects_issuer_with_path() {
    let f = write("issuer = \"https://auth.example.com/oauth\"");
    let e = load(Some(f.path()), &[], &Overrides::default())
        .unwrap()
        .validate_for(true)
        .unwrap_err();
    assert_eq!(e.key, "issuer");
    assert!(e.reason.contains("no path"), "{e}");
}

#[test]
fn rejects_unknown_key() {
    let f = write("isuer = \"https://auth.example.com\"");
    let e = load(Some(f.path()), &[], &Overrides::default()).unwrap_err();
    assert!(e.reason.contains("unknown field `isuer`"), "{e}");
}

#[test]
fn rejects_unknown_key_in_section() {
    let f = write("[fetch]\ntimeout = 3");
    let e = load(Some(f.path()), &[], &Overrides::default()).unwrap_err();
    assert!(e.reason.contains("unknown field `timeout`"), "{e}");
}

#[test]
fn metrics_are_off_by_default_and_need_their_own_address() {
    let dev = |text: &str| {
        let f = write(&format!("dev = true\n{text}"));
        load(Some(f.path()), &[], &Overrides::default())
            .unwrap()
            .validate_for(true)
    };
    assert_eq!(dev("").unwrap().metrics_listen, None);
    assert_eq!(
        dev("[metrics]\nlisten = \"\"").unwrap().metrics_listen,
        None
    );
    let s = dev("[metrics]\nlisten = \"127.0.0.1:9464\"").unwrap();
    assert_eq!(s.metrics_listen, Some("127.0.0.1:9464".parse().unwrap()));
    assert_eq!(s.session_count_interval_secs, 30);
    let e = dev("listen = \"127.0.0.1:9464\"\n[metrics]\nlisten = \"127.0.0.1:9464\"").unwrap_err();
    assert_eq!(e.key, "metrics.listen");
    let e = dev("[metrics]\nlisten = \"localhost\"").unwrap_err();
    assert_eq!(e.key, "metrics.listen");
    let e = dev("[metrics]\nsession_count_interval_secs = 0").unwrap_err();
    assert_eq!(e.key, "metrics.session_count_interval_secs");
}

#[test]
fn rejects_missing_issuer_outside_dev() {
    let e = RawConfig::default().validate_for(true).unwrap_err();
    assert_eq!(e.key, "issuer");
    assert!(e.reason.contains("required outside development mode"));
}

#[test]
fn env_overrides_file_and_flags_override_env() {
    let f = write("issuer = \"https://a.example\"\n[fetch]\ntimeout_secs = 3");
    let raw = load(
        Some(f.path()),
        &env(&[
            ("ATAUTH_FETCH__TIMEOUT_SECS", "7"),
            ("ATAUTH_ISSUER", "https://b.example"),
            ("ATAUTH_TEST_POSTGRES_URL", "x"),
            ("OTHER", "y"),
        ]),
        &Overrides {
            issuer: Some("https://c.example".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(raw.fetch.timeout_secs, 7);
    assert_eq!(raw.issuer.as_deref(), Some("https://c.example"));
}

#[test]
fn rejects_unknown_env_key() {
    let e = load(None, &env(&[("ATAUTH_NOPE", "1")]), &Overrides::default()).unwrap_err();
    assert!(e.reason.contains("unknown field `nope`"), "{e}");
}

#[test]
fn rejects_bad_value_naming_key() {
    let raw = RawConfig {
        issuer: Some("https://a.example".into()),
        fetch: FetchSection {
            timeout_secs: 0,
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(
        raw.validate_for(true).unwrap_err().key,
        "fetch.timeout_secs"
    );
}

#[test]
fn dev_defaults() {
    let s = load(
        None,
        &[],
        &Overrides {
            dev: true,
            ..Default::default()
        },
    )
    .unwrap()
    .validate_for(true)
    .unwrap();
    assert!(s.fetch.allow_loopback);
    assert_eq!(
        s.issuer_for_port(2583).unwrap().as_str(),
        "http://localhost:2583"
    );
    assert!(s.database_url.starts_with("sqlite://"));
}

#[test]
fn rejects_access_token_lifetime_over_30_minutes() {
    let f = write("issuer = \"https://a.example\"\n[tokens]\naccess_token_lifetime_secs = 1801");
    let e = load(Some(f.path()), &[], &Overrides::default())
        .unwrap()
        .validate_for(true)
        .unwrap_err();
    assert_eq!(e.key, "tokens.access_token_lifetime_secs");
}

#[test]
fn rejects_malformed_nonce_secret_and_redacts_it() {
    let f = write("issuer = \"https://a.example\"\n[dpop]\nnonce_secret = \"xyz\"");
    let e = load(Some(f.path()), &[], &Overrides::default())
        .unwrap()
        .validate_for(true)
        .unwrap_err();
    assert_eq!(e.key, "dpop.nonce_secret");
    let secret = "ab".repeat(32);
    let raw = RawConfig {
        dpop: DpopSection {
            nonce_secret: secret.clone(),
        },
        ..Default::default()
    };
    assert!(!format!("{raw:?}").contains(&secret));
}

#[test]
fn debug_redacts_database_password() {
    let raw = RawConfig {
        issuer: Some("https://a.example".into()),
        database_url: Some("postgres://u:hunter2@db/atauth".into()),
        ..Default::default()
    };
    let s = raw.validate_for(true).unwrap();
    let dbg = format!("{s:?}");
    assert!(!dbg.contains("hunter2"), "{dbg}");
    assert!(dbg.contains("***"));
}
