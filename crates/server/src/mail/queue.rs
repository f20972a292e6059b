//! The delivery queue: a worker thread with its own small tokio runtime
//! takes jobs from the channel and delivers each in a task of its own (at
//! most [`CONCURRENT_DELIVERIES`] at once), retrying failures with pauses
//! of `retry_pause`, then four times that, and so on. The first attempt's
//! outcome goes back to whoever waits on the [`super::Receipt`].

use std::path::PathBuf;
use std::sync::Arc;

use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::{mpsc, Semaphore};

use super::{Job, MailError, MailSettings, MailTransport, Outgoing};

/// Deliveries in flight at once. Policy.
const CONCURRENT_DELIVERIES: usize = 4;

/// Where the worker delivers.
#[derive(Clone)]
pub(super) enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(PathBuf),
}

impl Transport {
    /// Build the transport; the SMTP URL is parsed here, so a bad one
    /// fails at start-up. `host` is the EHLO name unless the URL names one.
    pub(super) fn new(t: &MailTransport, host: &str) -> Result<Transport, MailError> {
        match t {
            MailTransport::Disabled => Err(MailError::Disabled),
            MailTransport::File { dir } => Ok(Transport::File(dir.clone())),
            MailTransport::Smtp { url } => {
                // The URL's own error text may quote the URL: never shown.
                let mut builder =
                    AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|_| {
                        MailError::Settings(
                            "mail.smtp_url is not a usable smtp:// or smtps:// URL".into(),
                        )
                    })?;
                let names_helo = url::Url::parse(url).is_ok_and(|u| u.path().len() > 1);
                if !names_helo {
                    builder = builder.hello_name(ClientId::Domain(host.to_string()));
                }
                Ok(Transport::Smtp(builder.build()))
            }
        }
    }

    /// One attempt.
    async fn deliver(&self, job: &Outgoing) -> Result<(), String> {
        match self {
            Transport::Smtp(smtp) => smtp
                .send(job.message.clone())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Transport::File(dir) => {
                let path = dir.join(format!("{}-{}.eml", time_now_secs(), job.id));
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| format!("creating {}: {e}", dir.display()))?;
                tokio::fs::write(&path, job.message.formatted())
                    .await
                    .map_err(|e| format!("writing {}: {e}", path.display()))?;
                tracing::info!(mail_id = %job.id, kind = job.kind, path = %path.display(), "development mailer: message written to a file");
                Ok(())
            }
        }
    }
}

fn time_now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Start the worker thread. It ends when every [`super::Mailer`] is gone.
pub(super) fn spawn_worker(
    mut rx: mpsc::Receiver<Job>,
    transport: Transport,
    settings: MailSettings,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("atauth-mail".into())
        .spawn(move || {
            // Built here, so that it is also dropped here, never inside the
            // caller's runtime. Without it the queue's receiver goes and
            // every send fails (the pages say "could not send").
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the mail queue; no mail will be sent");
                    return;
                }
            };
            runtime.block_on(async move {
                let slots = Arc::new(Semaphore::new(CONCURRENT_DELIVERIES));
                while let Some(job) = rx.recv().await {
                    let Ok(permit) = slots.clone().acquire_owned().await else {
                        break;
                    };
                    let transport = transport.clone();
                    let settings = settings.clone();
                    tokio::spawn(async move {
                        deliver_with_retry(job, &transport, &settings).await;
                        drop(permit);
                    });
                }
            });
        })?;
    Ok(())
}

/// Deliver one message: up to `max_attempts` tries, each bounded by
/// `timeout`; the first outcome is reported on the job's reply channel.
async fn deliver_with_retry(job: Job, transport: &Transport, settings: &MailSettings) {
    let Job { mail: job, reply } = job;
    let mut reply = Some(reply);
    let attempts = settings.max_attempts.max(1);
    let mut pause = settings.retry_pause;
    for attempt in 1..=attempts {
        let outcome = match tokio::time::timeout(settings.timeout, transport.deliver(&job)).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {:?}", settings.timeout)),
        };
        match outcome {
            Ok(()) => {
                tracing::info!(mail_id = %job.id, kind = job.kind, to_domain = %job.recipient_domain, attempt, "mail sent");
                if let Some(r) = reply.take() {
                    let _ = r.send(true);
                }
                return;
            }
            Err(e) => {
                if let Some(r) = reply.take() {
                    let _ = r.send(false);
                }
                if attempt == attempts {
                    tracing::error!(mail_id = %job.id, kind = job.kind, to_domain = %job.recipient_domain, attempt, error = %e, "mail could not be delivered; giving up");
                    return;
                }
                tracing::warn!(mail_id = %job.id, kind = job.kind, to_domain = %job.recipient_domain, attempt, error = %e, retry_in = ?pause, "mail delivery failed; retrying");
                tokio::time::sleep(pause).await;
                pause = pause.saturating_mul(4);
            }
        }
    }
}
