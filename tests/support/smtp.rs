//! A real SMTP server on loopback for the mail tests: Python's aiosmtpd
//! (pinned in .ci/run), started per test. Every message it accepts is
//! decoded by Python's `email` package and written as one JSON file
//! (envelope recipients, From, To, Subject, the plain-text and HTML
//! bodies), which [`SmtpSink::messages`] reads back.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The server: accepts every message, writes `NNNN.json` atomically.
const SERVER: &str = r#"
import asyncio, email, email.policy, itertools, json, os, sys, threading
from aiosmtpd.controller import Controller

out, port = sys.argv[1], int(sys.argv[2])
counter = itertools.count()

def part(msg, kind):
    p = msg.get_body(preferencelist=(kind,))
    return p.get_content() if p is not None else None

class Handler:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        record = {
            "rcpt": list(envelope.rcpt_tos),
            "mail_from": envelope.mail_from,
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "message_id": str(msg["Message-ID"]),
            "text": part(msg, "plain"),
            "html": part(msg, "html"),
        }
        i = next(counter)
        tmp = os.path.join(out, f".{i:04}.tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(out, f"{i:04}.json"))
        return "250 OK"

controller = Controller(Handler(), hostname="127.0.0.1", port=port)
controller.start()
print("ready", flush=True)
# Until the test kills us.
threading.Event().wait()
"#;

/// A running SMTP server; killed on drop.
pub struct SmtpSink {
    child: Child,
    dir: tempfile::TempDir,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl SmtpSink {
    /// Start it on a free loopback port.
    pub fn start() -> SmtpSink {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = super::flow::free_port();
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(SERVER)
            .arg(dir.path())
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 (with aiosmtpd: pip install aiosmtpd==1.4.6)");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line == "ready" => {}
            other => {
                let _ = child.kill();
                panic!("aiosmtpd did not start ({other:?}); is it installed (pip install aiosmtpd==1.4.6)?");
            }
        }
        SmtpSink { child, dir, port }
    }

    /// `smtp://127.0.0.1:PORT`, for `ATAUTH_MAIL__SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The environment that points a server at this sink.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ATAUTH_MAIL__SMTP_URL", self.url()),
            (
                "ATAUTH_MAIL__FROM",
                "atauth tests <no-reply@localhost>".to_string(),
            ),
        ]
    }

    /// Every message received so far, in order.
    pub fn messages(&self) -> Vec<Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("read sink dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| {
                serde_json::from_str(&std::fs::read_to_string(p).expect("read message"))
                    .expect("message json")
            })
            .collect()
    }

    /// Wait until at least `n` messages arrived (30 s at most); returns all.
    pub fn wait_for(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let all = self.messages();
            if all.len() >= n {
                return all;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} message(s), got {}: {all:?}",
                all.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The 8-digit code in a message's plain-text body (`1234 5678`), as
/// typed: digits only.
pub fn code_in(message: &Value) -> String {
    let text = message["text"].as_str().expect("plain-text body");
    let chars: Vec<char> = text.chars().collect();
    for start in 0..chars.len() {
        let window: String = chars[start..].iter().take(9).collect();
        let digits: String = window.chars().filter(char::is_ascii_digit).collect();
        if window.len() == 9
            && digits.len() == 8
            && window.chars().nth(4) == Some(' ')
            && (start == 0 || !chars[start - 1].is_ascii_digit())
        {
            return digits;
        }
    }
    panic!("no code in {text:?}");
}
