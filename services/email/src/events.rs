//! Order outcomes become recorded emails, inside the consumer's transaction.

use askama::Template;
use platform_contracts::{
    Envelope, Event, Heartbeat, OrderCancelled, OrderConfirmed, OrderEvent, OrderRejected, email::EmailKind,
};
use platform_messaging::{Handler, HandlerError, effects::ConfirmedEffect};
use sea_orm::{ConnectionTrait, DatabaseTransaction, raw_sql};
use uuid::Uuid;

use crate::templates::{self, ConfirmedHtml, ConfirmedText, NotCompletedHtml, NotCompletedText};

pub const BINDINGS: &[&str] = &[OrderConfirmed::TYPE, OrderRejected::TYPE, OrderCancelled::TYPE];

pub struct OrderEvents;

struct Email {
    order_id: Uuid,
    kind: EmailKind,
    recipient: String,
    subject: String,
    text: String,
    html: String,
}

use platform_contracts::email::recipient;

fn render(envelope: &Envelope) -> Result<Email, HandlerError> {
    match OrderEvent::decode(envelope)? {
        OrderEvent::Confirmed(e) => confirmed(&e, &envelope.correlation_id),
        OrderEvent::Rejected(e) => not_completed(
            e.order_id,
            &e.customer_id,
            &e.reason,
            EmailKind::OrderRejected,
            false,
            envelope,
        ),
        OrderEvent::Cancelled(e) => not_completed(
            e.order_id,
            &e.customer_id,
            &e.reason,
            EmailKind::OrderCancelled,
            e.after_confirmation,
            envelope,
        ),
        OrderEvent::Heartbeat(_) => Err(HandlerError::not_bound(Heartbeat::TYPE)),
    }
}

fn template_failed(e: askama::Error) -> HandlerError {
    HandlerError::Permanent(format!("template: {e}"))
}

fn confirmed(e: &OrderConfirmed, correlation: &str) -> Result<Email, HandlerError> {
    let (id, lines, total) = (e.order_id.to_string(), templates::lines(e), e.total.to_string());
    let subject = format!("Your order {} is confirmed", &id[..8]);
    Ok(Email {
        order_id: e.order_id,
        kind: EmailKind::OrderConfirmed,
        recipient: recipient(&e.customer_id),
        html: ConfirmedHtml {
            subject: &subject,
            customer: &e.customer_id,
            order_id: &id,
            correlation_id: correlation,
            lines: &lines,
            total: &total,
        }
        .render()
        .map_err(template_failed)?,
        text: ConfirmedText {
            customer: &e.customer_id,
            order_id: &id,
            correlation_id: correlation,
            lines: &lines,
            total: &total,
        }
        .render()
        .map_err(template_failed)?,
        subject,
    })
}

/// The email for an order that was rejected or cancelled (`by_you`: by its customer, after
/// it was confirmed): what happened, in the shopper's terms.
fn not_completed(
    order_id: Uuid,
    customer: &str,
    reason: &str,
    kind: EmailKind,
    by_you: bool,
    envelope: &Envelope,
) -> Result<Email, HandlerError> {
    let (id, correlation) = (order_id.to_string(), envelope.correlation_id.as_str());
    let subject = if by_you {
        format!("Your order {} is cancelled and refunded", &id[..8])
    } else {
        format!("We could not complete your order {}", &id[..8])
    };
    Ok(Email {
        order_id,
        kind,
        recipient: recipient(customer),
        html: NotCompletedHtml {
            subject: &subject,
            customer,
            order_id: &id,
            correlation_id: correlation,
            reason,
            by_you,
        }
        .render()
        .map_err(template_failed)?,
        text: NotCompletedText {
            customer,
            order_id: &id,
            correlation_id: correlation,
            reason,
            by_you,
        }
        .render()
        .map_err(template_failed)?,
        subject,
    })
}

impl Handler for OrderEvents {
    const CONFIRMED_EFFECT: ConfirmedEffect = ConfirmedEffect {
        description: "confirmation email sent",
        sql: "SELECT order_id, count(*) AS count FROM emails WHERE order_id = ANY($1) AND kind = 'order_confirmed' AND status = 'sent' GROUP BY order_id",
    };

    async fn handle(&self, txn: &DatabaseTransaction, envelope: &Envelope) -> Result<(), HandlerError> {
        let email = render(envelope)?;
        let (id, order_id, kind, to, subject, text, html, correlation) = (
            Uuid::now_v7(),
            email.order_id,
            email.kind.as_str(),
            email.recipient,
            email.subject,
            email.text,
            email.html,
            envelope.correlation_id.as_str(),
        );
        // ON CONFLICT: even two different events about the same order (a replayed dead
        // letter with a new event id, say) never produce a second email of a kind.
        txn.execute_raw(raw_sql!(
            Postgres,
            r#"INSERT INTO emails (id, order_id, kind, recipient, subject, body_text, body_html, status, correlation_id)
               VALUES ({id}, {order_id}, {kind}, {to}, {subject}, {text}, {html}, 'queued', {correlation})
               ON CONFLICT (order_id, kind) DO NOTHING"#
        ))
        .await?;
        Ok(())
    }
}
