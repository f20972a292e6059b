//! Test support: start `atauth serve` on a loopback port with a fresh data
//! directory, and run CLI commands against the same database.

#![allow(dead_code)]

pub mod client;
pub mod flow;
pub mod pages;
pub mod smtp;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Path of the binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_atauth"))
}

/// A database for one test: SQLite in the temp dir, or, when
/// `ATAUTH_TEST_DATABASE=postgres`, a fresh PostgreSQL database.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub database_url: String,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let dir = tempfile::tempdir().expect("tempdir");
        let database_url = format!("sqlite://{}", dir.path().join("atauth.sqlite").display());
        TestEnv { dir, database_url }
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Base command with the global flags pointing at this environment.
    pub fn command(&self) -> Command {
        let mut c = Command::new(bin());
        c.arg("--dev")
            .arg("--data-dir")
            .arg(self.dir.path())
            .arg("--database-url")
            .arg(&self.database_url)
            .env("RUST_LOG", "error")
            .env_remove("ATAUTH_ISSUER");
        c
    }

    /// Run a CLI command (`--dev` set), feeding `stdin`.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut c = self.command();
        c.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn atauth");
        if let Some(mut sin) = child.stdin.take() {
            if let Some(s) = stdin {
                sin.write_all(s.as_bytes()).expect("write stdin");
            }
        }
        child.wait_with_output().expect("wait atauth")
    }

    /// Create an account with a given handle and password; returns its DID.
    pub fn create_account(&self, handle: &str, password: &str) -> String {
        let out = self.run(
            &["account", "create", "--handle", handle, "--password-stdin"],
            Some(password),
        );
        assert!(
            out.status.success(),
            "account create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let list = self.run(&["account", "list", "--json"], None);
        let v: serde_json::Value = serde_json::from_slice(&list.stdout).expect("account list json");
        v.as_array()
            .and_then(|a| a.iter().find(|x| x["handle"] == handle))
            .and_then(|x| x["did"].as_str())
            .expect("created account listed")
            .to_string()
    }

    /// Start `atauth serve --dev` on 127.0.0.1 with a free port.
    pub fn serve(&self, env: &[(&str, &str)]) -> Server {
        self.serve_at("127.0.0.1:0", env)
    }

    /// Start `atauth serve --dev` listening on `listen` (to restart a
    /// server on the port, hence the issuer, it had).
    pub fn serve_at(&self, listen: &str, env: &[(&str, &str)]) -> Server {
        let mut c = self.command();
        c.args(["serve", "--listen", listen])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("spawn atauth serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep draining so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!("atauth serve did not start within 60 s");
            }
        };
        // "atauth listening on http://127.0.0.1:PORT issuer http://localhost:PORT"
        let mut words = line.split_whitespace();
        let addr = words.nth(3).expect("address in start line").to_string();
        let issuer = words.nth(1).expect("issuer in start line").to_string();
        Server {
            child,
            addr,
            issuer,
        }
    }
}

/// A running server; killed on drop.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub addr: String,
    /// The issuer it announces.
    pub issuer: String,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.addr, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client that never follows redirects.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

impl TestEnv {
    /// Count rows of a table directly in the SQLite file.
    pub fn count_rows(&self, table: &str) -> i64 {
        let out = Command::new("python3")
            .arg("-c")
            .arg("import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute('select count(*) from ' + sys.argv[2]).fetchone()[0])")
            .arg(self.dir.path().join("atauth.sqlite"))
            .arg(table)
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("count")
    }

    /// Open the same database the server uses.
    pub fn store(&self) -> atauth_store::Store {
        atauth_store::Store::open(&self.database_url).expect("open store")
    }
}
