//! Delivers recorded emails and marks them sent.
//!
//! A mail server is an external system that can be slow, refuse, or be down. Delivery is
//! retried with backoff; after `max_attempts` the email is marked failed, with an alert.
//! If the process dies after the server accepted a message but before it was marked sent,
//! it is sent again: email delivery is at least once, like every external effect that
//! cannot share a transaction with our database. Every send of one email carries the same
//! Message-ID (the email's id), on which a receiving server dedupes; the local file
//! mailbox does the same, keeping one file per Message-ID, so a re-send replaces the
//! first copy instead of adding a second (the `email.after_send` crash point proves it).

use std::{path::PathBuf, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, stream};
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
};
use platform_service::faults::Faults;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, FromQueryResult, raw_sql};
use uuid::Uuid;

use crate::Settings;

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// A directory of `<email id>.eml` files: the mailbox the demo shows.
    Files(PathBuf),
}

#[derive(Clone)]
pub struct Sender {
    db: DatabaseConnection,
    transport: Arc<Transport>,
    from: Mailbox,
    faults: Faults,
    max_attempts: i32,
    lease_ms: i64,
}

#[derive(Debug, FromQueryResult)]
struct Due {
    id: Uuid,
    order_id: Uuid,
    recipient: String,
    subject: String,
    body_text: String,
    body_html: String,
    attempts: i32,
    correlation_id: String,
    #[allow(dead_code)]
    created_at: DateTime<Utc>,
}

impl Sender {
    pub fn new(db: DatabaseConnection, settings: &Settings, faults: Faults) -> anyhow::Result<Self> {
        let transport = if settings.smtp_url.is_empty() {
            std::fs::create_dir_all(&settings.mail_dir)?;
            tracing::info!(dir = %settings.mail_dir.display(), "emails are written to files (set SMTP_URL to send them)");
            Transport::Files(settings.mail_dir.clone())
        } else {
            // Plain SMTP (a local relay or a dev mail catcher such as Mailpit); this build
            // carries no TLS stack, to keep it lean.
            let address = settings.smtp_url.trim_start_matches("smtp://");
            let (host, port) = address.rsplit_once(':').unwrap_or((address, "25"));
            let port: u16 = port
                .parse()
                .map_err(|_| anyhow::anyhow!("SMTP_URL port is not a number"))?;
            Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                    .port(port)
                    .build(),
            )
        };
        Ok(Self {
            db,
            transport: Arc::new(transport),
            from: settings.from.parse()?,
            faults,
            max_attempts: settings.max_attempts,
            lease_ms: settings.send_lease.as_millis() as i64,
        })
    }

    /// Sends one email. Returns whether it was sent; a failure is recorded here (retry
    /// later, or give up with an alert), a success by the caller, with the pass's others.
    async fn deliver(&self, email: &Due) -> Result<bool, DbErr> {
        let id = email.id;
        match self.send(email).await {
            Ok(()) => return Ok(true),
            Err(error) if email.attempts + 1 >= self.max_attempts => {
                self.db
                    .execute_raw(raw_sql!(
                        Postgres,
                        r#"UPDATE emails SET status = 'failed', attempts = attempts + 1, last_error = {error} WHERE id = {id}"#
                    ))
                    .await?;
                metrics::counter!("emails_total", "outcome" => "failed").increment(1);
                tracing::error!(alert = "email_failed", email = %id, order_id = %email.order_id, correlation_id = %email.correlation_id, %error, "ALERT: email could not be delivered");
            }
            Err(error) => {
                let delay = platform_runtime::retry_policy::delay_for(
                    email.attempts as u32,
                    Duration::from_secs(1),
                    Duration::from_secs(300),
                    None,
                );
                let delay_ms = delay.as_millis() as i64;
                self.db
                    .execute_raw(raw_sql!(
                        Postgres,
                        r#"UPDATE emails SET attempts = attempts + 1, last_error = {error},
                               next_attempt_at = now() + {delay_ms} * interval '1 millisecond' WHERE id = {id}"#
                    ))
                    .await?;
                metrics::counter!("emails_total", "outcome" => "retried").increment(1);
                tracing::warn!(email = %id, correlation_id = %email.correlation_id, %error, delay_ms, "email delivery failed; will retry");
            }
        }
        Ok(false)
    }

    async fn send(&self, email: &Due) -> Result<(), String> {
        self.faults.inject("deliver").await.map_err(|e| e.message)?;
        let to: Mailbox = email.recipient.parse().map_err(|e| format!("recipient: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .message_id(Some(format!("<{}@platform.local>", email.id)))
            .multipart(MultiPart::alternative_plain_html(
                email.body_text.clone(),
                email.body_html.clone(),
            ))
            .map_err(|e| e.to_string())?;
        match self.transport.as_ref() {
            Transport::Smtp(t) => t.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
            Transport::Files(dir) => {
                // Written whole, then renamed into place: a reader never sees half a message,
                // and a second send of the same email replaces the first.
                let (path, partial) = (
                    dir.join(format!("{}.eml", email.id)),
                    dir.join(format!(".{}.eml.partial", email.id)),
                );
                tokio::fs::write(&partial, message.formatted())
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::fs::rename(&partial, &path)
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    }
}

impl platform_service::periodic::Pass for Sender {
    async fn run_pass(&self) -> anyhow::Result<bool> {
        const BATCH: i64 = 50;
        let lease_ms = self.lease_ms;
        // Claim with a lease, like every worker here: a crash mid-send only delays.
        let due = Due::find_by_statement(raw_sql!(
            Postgres,
            r#"UPDATE emails SET next_attempt_at = now() + {lease_ms} * interval '1 millisecond'
               WHERE id IN (SELECT id FROM emails WHERE status = 'queued' AND next_attempt_at <= now()
                            ORDER BY next_attempt_at LIMIT {BATCH} FOR UPDATE SKIP LOCKED)
               RETURNING id, order_id, recipient, subject, body_text, body_html, attempts, correlation_id, created_at"#
        ))
        .all(&self.db)
        .await?;
        let full = due.len() as i64 == BATCH;
        let sent: Vec<Due> = stream::iter(due)
            .map(|email| async move {
                match self.deliver(&email).await {
                    Ok(sent) => sent.then_some(email),
                    Err(e) => {
                        tracing::warn!(email = %email.id, error = %e, "recording a delivery result failed");
                        None
                    }
                }
            })
            .buffer_unordered(8)
            .filter_map(|sent| async move { sent })
            .collect()
            .await;
        // The pass's deliveries are recorded in one statement, not one per email. Should the
        // process die before it runs, those emails are sent again once their lease expires:
        // delivery is at least once either way (a receiving server dedupes on Message-ID).
        let ids: Vec<Uuid> = sent.iter().map(|email| email.id).collect();
        if !ids.is_empty() {
            platform_runtime::crash::point("email.after_send");
            self.db
                .execute_raw(raw_sql!(
                    Postgres,
                    r#"UPDATE emails SET status = 'sent', sent_at = clock_timestamp(), attempts = attempts + 1,
                           last_error = NULL WHERE id = ANY({ids})"#
                ))
                .await?;
        }
        for email in sent {
            metrics::counter!("emails_total", "outcome" => "sent").increment(1);
            tracing::info!(email = %email.id, order_id = %email.order_id, correlation_id = %email.correlation_id, "email sent");
        }
        Ok(full)
    }
}
