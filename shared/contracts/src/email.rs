//! The email service's HTTP API: the emails it recorded and sent (the demo's mailbox).
//! Served by the email service, read by the storefront's mailbox with these types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::state::states;

/// `GET` lists the latest emails, newest first: `?order_id=` for one order's, `?limit=`
/// (default 50, at most 500).
pub const EMAILS_PATH: &str = "/emails";

/// Where a customer's emails go. Demo customers have ids, not addresses; a real system
/// would look the address up.
pub fn recipient(customer_id: &str) -> String {
    if customer_id.contains('@') {
        customer_id.to_string()
    } else {
        format!("{customer_id}@customers.example")
    }
}

pub fn email_path(id: Uuid) -> String {
    format!("{EMAILS_PATH}/{id}")
}

states! {
    /// What an email tells the customer; at most one of each kind per order.
    pub enum EmailKind {
        OrderConfirmed => "order_confirmed",
        OrderRejected => "order_rejected",
        OrderCancelled => "order_cancelled",
    }
}

states! {
    /// Where an email's delivery stands.
    pub enum EmailStatus {
        /// Recorded, waiting for the sender (or for its next attempt).
        Queued => "queued",
        Sent => "sent",
        /// Out of attempts.
        Failed => "failed",
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "db", derive(sea_orm::FromQueryResult))]
pub struct Email {
    pub id: Uuid,
    pub order_id: Uuid,
    pub kind: EmailKind,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub status: EmailStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub correlation_id: String,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

pub const RETRY_FAILED_PATH: &str = "/admin/emails/retry-failed";

/// The answer to `POST /admin/emails/retry-failed`: how many failed emails went back to the
/// queue.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RetriedEmails {
    pub retried: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mailbox entry as the email service sent it before this type existed: the same
    /// field names and texts, both ways.
    #[test]
    fn an_email_keeps_its_wire_format() {
        let wire = serde_json::json!({
            "id": "0192f0c4-0000-7000-8000-000000000001",
            "order_id": "0192f0c4-0000-7000-8000-000000000002",
            "kind": "order_confirmed",
            "recipient": "alice@customers.example",
            "subject": "Your order 0192f0c4 is confirmed",
            "body_text": "text",
            "body_html": "<p>html</p>",
            "status": "sent",
            "attempts": 1,
            "last_error": null,
            "correlation_id": "c-1",
            "created_at": "2026-01-02T03:04:05.123456Z",
            "sent_at": null,
        });
        let email: Email = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(
            (email.kind, email.status),
            (EmailKind::OrderConfirmed, EmailStatus::Sent)
        );
        assert_eq!(serde_json::to_value(&email).unwrap(), wire);
    }
}
