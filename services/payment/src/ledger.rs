//! Payments and the money they move.
//!
//! An account's money sits in three places: `balance` (spendable), `held` (authorized,
//! not yet captured) and `captured`. Authorize moves balance to held, capture moves held to
//! captured, void moves held back to balance, refund moves captured back to balance. Each
//! move is one conditional `UPDATE` in the same transaction as the payment's status change,
//! guarded by the status it expects, so a repeated or concurrent call moves money at most
//! once.

use platform_contracts::payment::{
    Account, AuthorizeRequest, CARD_NUMBER_RULE, Payment, PaymentStatus, is_card_number,
};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, FromQueryResult, Statement,
    TransactionTrait, raw_sql,
};
use uuid::Uuid;

use crate::{
    PaymentError,
    provider::{Outcome, Provider},
};

const MAX_AMOUNT_MINOR: i64 = 10_000_000_000;

fn validate(req: &AuthorizeRequest) -> Result<(), PaymentError> {
    let invalid = |m: &str| Err(PaymentError::Invalid(m.to_string()));
    if req.customer_id.trim().is_empty() || req.customer_id.len() > 64 {
        return invalid("customer_id must be 1 to 64 characters");
    }
    if !(1..=MAX_AMOUNT_MINOR).contains(&req.amount_minor) {
        return invalid("amount_minor must be a positive number of minor units");
    }
    if req.currency.len() != 3 || !req.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return invalid("currency must be a 3-letter ISO code");
    }
    if !is_card_number(&req.card_number) {
        return invalid(CARD_NUMBER_RULE);
    }
    Ok(())
}

/// Authorizes (holds) the amount. Returns the payment and whether this call created it.
pub async fn authorize(
    db: &DatabaseConnection,
    provider: &Provider,
    req: &AuthorizeRequest,
    correlation_id: &str,
    opening_balance_minor: i64,
) -> Result<(Payment, bool), PaymentError> {
    validate(req)?;
    let order_id = req.order_id;
    let AuthorizeRequest {
        customer_id,
        amount_minor,
        currency,
        card_number,
        ..
    } = req;
    let last4 = &card_number[card_number.len() - 4..];
    // Claim the order id before calling the provider. Whoever inserts the 'pending' row is
    // the only caller that will ever talk to the provider for this order. The demo opens
    // the customer's account on first use, in the same statement (one round trip).
    let claimed = db
        .execute_raw(raw_sql!(
            Postgres,
            r#"WITH account AS (
                   INSERT INTO accounts (customer_id, balance_minor) VALUES ({customer_id}, {opening_balance_minor})
                   ON CONFLICT (customer_id) DO NOTHING)
               INSERT INTO payments (order_id, customer_id, amount_minor, currency, card_last4, status,
                                     correlation_id, provider_calls)
               VALUES ({order_id}, {customer_id}, {amount_minor}, {currency}, {last4}, 'pending',
                       {correlation_id}, 1)
               ON CONFLICT (order_id) DO NOTHING"#
        ))
        .await?
        .rows_affected()
        == 1;
    if !claimed {
        return replay(db, req).await.map(|p| (p, false));
    }

    // No transaction is open during the provider call: a slow provider must not hold
    // database locks or connections.
    match provider.authorize(card_number, *amount_minor).await {
        Outcome::Approved { reference } => {
            // The provider holds the money, we have not recorded it: after a crash here the
            // payment stays pending, and the order service voids it at the deadline.
            platform_runtime::crash::point("payment.after_provider_approved");
            // One statement: lock the payment if it is still pending (`pending`), hold the
            // money if the balance covers it (`held`), and only then mark the payment
            // authorized. It locks the payment before the account, as a capture does, and
            // either both change or neither (the statement is its own transaction).
            let authorized = Payment::find_by_statement(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!(
                    "WITH pending AS (SELECT order_id FROM payments \
                                      WHERE order_id = $2 AND status = 'pending' FOR UPDATE), \
                          held AS (UPDATE accounts SET balance_minor = balance_minor - $3, \
                                                       held_minor = held_minor + $3 \
                                   WHERE customer_id = $4 AND balance_minor >= $3 \
                                     AND EXISTS (SELECT 1 FROM pending) \
                                   RETURNING customer_id) \
                     UPDATE payments SET status = 'authorized', provider_ref = $1, updated_at = now() \
                     WHERE order_id = $2 AND status = 'pending' AND EXISTS (SELECT 1 FROM held) \
                     RETURNING {PAYMENT_COLUMNS}"
                ),
                [
                    reference.into(),
                    order_id.into(),
                    (*amount_minor).into(),
                    customer_id.clone().into(),
                ],
            ))
            .one(db)
            .await?;
            if let Some(authorized) = authorized {
                return Ok((authorized, true));
            }
            // Nothing changed. Still pending: the balance did not cover it. Otherwise it was
            // voided while the provider was thinking (the order service gave up): the money
            // never moved.
            let current = load(db, order_id).await?.ok_or(PaymentError::NotFound)?;
            if current.status == PaymentStatus::Pending {
                return decline(db, order_id, "insufficient_funds").await;
            }
            Err(PaymentError::WrongState(current.status))
        }
        Outcome::Declined { code } => decline(db, order_id, code).await,
        outcome @ (Outcome::RateLimited { .. } | Outcome::Failed) => {
            // Nothing happened at the provider: drop the claim so a later retry starts clean.
            db.execute_raw(raw_sql!(
                Postgres,
                r#"DELETE FROM payments WHERE order_id = {order_id} AND status = 'pending'"#
            ))
            .await?;
            Err(match outcome {
                Outcome::RateLimited { retry_after_secs } => PaymentError::RateLimited { retry_after_secs },
                _ => PaymentError::ProviderFailed,
            })
        }
    }
}

async fn decline(
    db: &DatabaseConnection,
    order_id: Uuid,
    code: &str,
) -> Result<(Payment, bool), PaymentError> {
    db.execute_raw(raw_sql!(
        Postgres,
        r#"UPDATE payments SET status = 'declined', decline_code = {code}, updated_at = now()
           WHERE order_id = {order_id} AND status = 'pending'"#
    ))
    .await?;
    Err(PaymentError::Declined(code.to_string()))
}

/// Answers a repeated authorize from what the first one stored; never calls the provider.
async fn replay(db: &DatabaseConnection, req: &AuthorizeRequest) -> Result<Payment, PaymentError> {
    let existing = load(db, req.order_id).await?.ok_or(PaymentError::NotFound)?;
    if existing.status != PaymentStatus::Voided
        && (existing.customer_id != req.customer_id || existing.amount_minor != req.amount_minor)
    {
        return Err(PaymentError::Mismatch);
    }
    match existing.status {
        PaymentStatus::Authorized | PaymentStatus::Captured => Ok(existing),
        PaymentStatus::Pending => Err(PaymentError::InProgress),
        PaymentStatus::Declined => Err(PaymentError::Declined(existing.decline_code.unwrap_or_default())),
        closed @ (PaymentStatus::Voided | PaymentStatus::Refunded) => Err(PaymentError::WrongState(closed)),
    }
}

const PAYMENT_COLUMNS: &str = "order_id, customer_id, amount_minor, currency::text AS currency, card_last4, \
     status, decline_code, provider_ref, correlation_id, provider_calls, created_at, updated_at";

pub async fn load(db: &impl ConnectionTrait, order_id: Uuid) -> Result<Option<Payment>, PaymentError> {
    Ok(Payment::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE order_id = $1"),
        [order_id.into()],
    ))
    .one(db)
    .await?)
}

pub async fn account(db: &DatabaseConnection, customer_id: &str) -> Result<Account, PaymentError> {
    Account::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT customer_id, balance_minor, held_minor, captured_minor, currency::text AS currency
           FROM accounts WHERE customer_id = {customer_id}"#
    ))
    .one(db)
    .await?
    .ok_or(PaymentError::AccountNotFound)
}

/// The money movements after authorization.
#[derive(Debug, Clone, Copy)]
pub enum Movement {
    /// held → captured
    Capture,
    /// held → balance (also cancels a pending authorization)
    Void,
    /// captured → balance
    Refund,
}

impl Movement {
    /// The states it moves from, the state it moves to, and the account columns the
    /// amount goes from and to.
    fn spec(
        self,
    ) -> (
        &'static [PaymentStatus],
        PaymentStatus,
        &'static str,
        &'static str,
    ) {
        use PaymentStatus::*;
        match self {
            Movement::Capture => (&[Authorized], Captured, "held_minor", "captured_minor"),
            Movement::Void => (&[Authorized, Pending], Voided, "held_minor", "balance_minor"),
            Movement::Refund => (&[Captured], Refunded, "captured_minor", "balance_minor"),
        }
    }
}

/// Applies a movement in its own transaction.
pub async fn apply(
    db: &DatabaseConnection,
    order_id: Uuid,
    movement: Movement,
) -> Result<Payment, PaymentError> {
    let txn = db.begin().await?;
    let payment = transition(&txn, order_id, movement).await?;
    txn.commit().await?;
    Ok(payment)
}

/// Moves held money to captured. Idempotent.
pub async fn capture(db: &DatabaseConnection, order_id: Uuid) -> Result<Payment, PaymentError> {
    apply(db, order_id, Movement::Capture).await
}

/// Gives a cancelled order's money back: captured money is refunded; a payment only
/// authorized (the capture has not happened yet) is voided, which releases the hold, and
/// the late capture then finds nothing to take. Idempotent.
pub async fn refund(db: &DatabaseConnection, order_id: Uuid) -> Result<Payment, PaymentError> {
    match apply(db, order_id, Movement::Refund).await {
        Err(PaymentError::WrongState(PaymentStatus::Authorized)) => apply(db, order_id, Movement::Void).await,
        // Voided earlier for this cancel: already given back.
        Err(PaymentError::WrongState(PaymentStatus::Voided)) => {
            load(db, order_id).await?.ok_or(PaymentError::NotFound)
        }
        other => other,
    }
}

/// Releases a hold. Idempotent, and safe before the authorize arrived: it then leaves a
/// 'voided' marker that makes the late authorize charge nothing.
pub async fn void(
    db: &DatabaseConnection,
    order_id: Uuid,
    correlation_id: &str,
) -> Result<Payment, PaymentError> {
    match apply(db, order_id, Movement::Void).await {
        Err(PaymentError::NotFound) => {
            db.execute_raw(raw_sql!(
                Postgres,
                r#"INSERT INTO payments (order_id, customer_id, amount_minor, currency, card_last4, status, correlation_id)
                   VALUES ({order_id}, '', 0, 'EUR', '', 'voided', {correlation_id})
                   ON CONFLICT (order_id) DO NOTHING"#
            ))
            .await?;
            Box::pin(void(db, order_id, correlation_id)).await
        }
        // Nothing was ever held for a declined payment: voiding it is already done.
        Err(PaymentError::WrongState(PaymentStatus::Declined)) => {
            load(db, order_id).await?.ok_or(PaymentError::NotFound)
        }
        other => other,
    }
}

/// Applies a movement inside the caller's transaction (the HTTP handler's, or the event
/// consumer's, where it joins the processed-events record): changes the payment's status
/// and moves its amount between two account columns. A payment already moved is returned
/// as it is.
pub async fn transition(
    txn: &DatabaseTransaction,
    order_id: Uuid,
    movement: Movement,
) -> Result<Payment, PaymentError> {
    let (from, to, debit, credit) = movement.spec();
    let from: Vec<String> = from.iter().map(|s| s.to_string()).collect();
    // One statement: lock the payment (`before`), move it on only from an allowed state
    // (`moved`), and move its amount between the account's columns if it held money
    // (`money`: a pending payment has not). Three round trips were one statement's work;
    // the CTEs commit together, as the transaction around them does.
    // Column names come from the fixed arguments of `spec`, never from input.
    let moved = Payment::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "WITH before AS (SELECT status AS was FROM payments WHERE order_id = $1 FOR UPDATE), \
                  moved AS (UPDATE payments SET status = $2, updated_at = now() FROM before \
                            WHERE order_id = $1 AND before.was = ANY($3) \
                            RETURNING {PAYMENT_COLUMNS}, before.was), \
                  money AS (UPDATE accounts SET {debit} = {debit} - moved.amount_minor, \
                                                {credit} = {credit} + moved.amount_minor \
                            FROM moved WHERE accounts.customer_id = moved.customer_id AND moved.was <> 'pending') \
             SELECT * FROM moved"
        ),
        [order_id.into(), to.into(), from.into()],
    ))
    .one(txn)
    .await?;
    if let Some(moved) = moved {
        return Ok(moved);
    }
    // Not moved: already there (a repeat, answered as it is), or in a state it cannot
    // move from.
    let current = load(txn, order_id).await?.ok_or(PaymentError::NotFound)?;
    if current.status == to {
        return Ok(current);
    }
    Err(PaymentError::WrongState(current.status))
}
