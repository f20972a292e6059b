//! Mail (issue 13, part 1): messages rendered from tera templates (plain
//! text and HTML, in the reader's language), handed to a queue that
//! delivers them in the background, over SMTP or, in development, into
//! files under the data directory.
//!
//! A request never waits on a mail server for long: [`Mailer::send`]
//! renders and enqueues at once; a caller that wants to tell the user
//! whether it went (the account pages) waits for the first attempt at most
//! [`FIRST_ATTEMPT_WAIT`] through the [`Receipt`]. The queue retries a
//! failed delivery (`max_attempts`, growing pauses) and logs each failure;
//! it never logs a message's body (codes are secrets) and names the
//! recipient only by its domain.
//!
//! `crate::ui::email_code` is what the pages call: issue an email code,
//! store its hash, mail it; check a typed code under the sign-in limits.

mod queue;
mod render;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use tokio::sync::{mpsc, oneshot};

pub use render::MailContent;

/// How long a page waits for the first delivery attempt before it says
/// "sent" or "could not send". Policy.
pub const FIRST_ATTEMPT_WAIT: Duration = Duration::from_secs(5);

/// Messages waiting at most; past this [`Mailer::send`] refuses (and the
/// page says "could not send"). Policy.
pub const QUEUE_CAPACITY: usize = 1024;

/// Where messages go.
#[derive(Clone, Default)]
pub enum MailTransport {
    /// Nowhere: mail is off; pages that need it say so.
    #[default]
    Disabled,
    /// An SMTP server: `smtp://host[:port]` (plain, loopback relays only),
    /// `smtp://…?tls=required` (STARTTLS) or `smtps://…` (TLS), with
    /// `user:password@` for AUTH. The URL may hold a password: never shown.
    Smtp {
        /// The URL.
        url: String,
    },
    /// Development: each message becomes a `.eml` file in this directory,
    /// and its path is logged.
    File {
        /// The directory (created when needed).
        dir: PathBuf,
    },
}

impl std::fmt::Debug for MailTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MailTransport::Disabled => f.write_str("Disabled"),
            MailTransport::Smtp { .. } => f.write_str("Smtp { url: <redacted> }"),
            MailTransport::File { dir } => f.debug_struct("File").field("dir", dir).finish(),
        }
    }
}

/// Mail settings, cut from the configuration.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// Where messages go.
    pub transport: MailTransport,
    /// The `From:` mailbox, e.g. `atauth <no-reply@auth.example.com>`.
    pub from: String,
    /// Time allowed for one delivery attempt.
    pub timeout: Duration,
    /// Delivery attempts per message (first one included).
    pub max_attempts: u32,
    /// Pause before the second attempt; each later one waits four times
    /// longer.
    pub retry_pause: Duration,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            transport: MailTransport::Disabled,
            from: String::new(),
            timeout: Duration::from_secs(10),
            max_attempts: 3,
            retry_pause: Duration::from_secs(2),
        }
    }
}

/// Why a message was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// Mail is off in this deployment.
    #[error("mail is not configured")]
    Disabled,
    /// The settings are unusable (reported at start-up).
    #[error("mail settings: {0}")]
    Settings(String),
    /// The recipient address does not parse.
    #[error("the recipient address is not valid")]
    BadAddress,
    /// The templates failed to render (logged with the cause).
    #[error("the message could not be rendered: {0}")]
    Render(String),
    /// The queue is full or its worker is gone.
    #[error("the mail queue is not accepting messages")]
    Queue,
}

/// What became of a message's first delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Handed to the mail server (or written to its file).
    Sent,
    /// The first attempt failed; the queue retries.
    Failed,
    /// No answer yet within the wait; the queue goes on.
    Pending,
}

/// The handle on a queued message's first attempt.
#[derive(Debug)]
pub struct Receipt(oneshot::Receiver<bool>);

impl Receipt {
    /// Wait at most `wait` for the first attempt.
    pub async fn first_attempt(self, wait: Duration) -> Delivery {
        match tokio::time::timeout(wait, self.0).await {
            Ok(Ok(true)) => Delivery::Sent,
            Ok(Ok(false)) | Ok(Err(_)) => Delivery::Failed,
            Err(_) => Delivery::Pending,
        }
    }
}

/// A message ready for delivery.
struct Outgoing {
    /// Random id: logs, Message-ID, file name.
    id: String,
    /// What it is (`code.reset_password`…), for logs.
    kind: &'static str,
    /// The recipient's domain, for logs (never the whole address).
    recipient_domain: String,
    message: lettre::Message,
}

/// A queued message and where its first outcome goes.
struct Job {
    mail: Outgoing,
    reply: oneshot::Sender<bool>,
}

struct Inner {
    tx: mpsc::Sender<Job>,
    from: Mailbox,
    renderer: render::Renderer,
    /// The issuer's host: the right-hand side of Message-IDs.
    host: String,
}

/// The mail queue's handle. Cheap to clone; [`Mailer::default`] is off.
#[derive(Clone, Default)]
pub struct Mailer {
    inner: Option<Arc<Inner>>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("enabled", &self.is_enabled())
            .finish()
    }
}

impl Mailer {
    /// Mail off.
    pub fn disabled() -> Mailer {
        Mailer::default()
    }

    /// Start the queue for these settings: its worker runs on a thread of
    /// its own (so it works whatever runtime the caller has, or none).
    /// `issuer` names this server in messages; `languages` are the
    /// catalogues to load. `Ok(disabled)` when the transport is
    /// `Disabled`; an error when the URL or `from` are unusable.
    pub fn start(
        settings: &MailSettings,
        issuer: &str,
        languages: &[String],
    ) -> Result<Mailer, MailError> {
        if matches!(settings.transport, MailTransport::Disabled) {
            return Ok(Mailer::disabled());
        }
        let from: Mailbox = settings.from.parse().map_err(|_| {
            MailError::Settings(format!(
                "mail.from {:?} is not a mailbox like \"atauth <no-reply@example.com>\"",
                settings.from
            ))
        })?;
        let host = url::Url::parse(issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "localhost".into());
        let transport = queue::Transport::new(&settings.transport, &host)?;
        let renderer = render::Renderer::new(issuer, languages)?;
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        queue::spawn_worker(rx, transport, settings.clone())
            .map_err(|e| MailError::Settings(format!("cannot start the mail queue: {e}")))?;
        Ok(Mailer {
            inner: Some(Arc::new(Inner {
                tx,
                from,
                renderer,
                host,
            })),
        })
    }

    /// Whether mail is on.
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Render `content` in `lang` for `to` and queue it. Returns at once.
    pub fn send(&self, to: &str, lang: &str, content: &MailContent) -> Result<Receipt, MailError> {
        let inner = self.inner.as_ref().ok_or(MailError::Disabled)?;
        let to_box: Mailbox = to.parse().map_err(|_| MailError::BadAddress)?;
        let rendered = inner.renderer.render(lang, content)?;
        let id = random_id();
        let message = lettre::Message::builder()
            .from(inner.from.clone())
            .to(to_box.clone())
            .subject(rendered.subject)
            .message_id(Some(format!("<{id}@{}>", inner.host)))
            .multipart(lettre::message::MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .map_err(|e| MailError::Render(e.to_string()))?;
        let (reply, rx) = oneshot::channel();
        let job = Job {
            mail: Outgoing {
                id,
                kind: content.kind(),
                recipient_domain: to_box.email.domain().to_string(),
                message,
            },
            reply,
        };
        inner.tx.try_send(job).map_err(|_| MailError::Queue)?;
        Ok(Receipt(rx))
    }
}

/// A random id for a message (logs, Message-ID, file name).
fn random_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests;
