//! Idempotency keys for `POST /orders`.
//!
//! The retry lesson: the shopper's connection drops after they clicked "Place order", the
//! browser (or a load balancer, or k6) retries, and without protection the customer gets
//! two orders and two charges. With a key:
//! - same key, same body, first request finished: the first response is replayed
//!   (status and body), nothing runs again;
//! - same key, different body: 422, because it is a client bug to reuse a key;
//! - same key while the first request still runs: 409 (never a second run in parallel);
//! - keys are scoped per customer and kept for a retention period.
//!
//! The claim is an `INSERT ... ON CONFLICT DO NOTHING` on the primary key: of 20 concurrent
//! requests with one key, exactly one inserts and runs; the database decides, not a lock in
//! one process's memory, so it holds across instances.
//!
//! The claim runs in the transaction that creates the order, and the key row carries the
//! order's id from the start: the key and the order it created are committed together or
//! not at all. A request that fails before its commit leaves no key behind, so the
//! client's retry simply goes ahead; there is no "abandoned key" to clean up.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, FromQueryResult, raw_sql};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub enum Claim {
    /// First use of the key: go ahead.
    New,
    /// Someone used the key before.
    Taken(Taken),
}

pub enum Taken {
    /// Finished before: answer this.
    Replay { status: u16, body: Value },
    /// Still running (or its process died mid-way, see `stale`).
    InFlight { order_id: Option<Uuid>, stale: bool },
    /// Used before with another body.
    Mismatch,
}

#[derive(FromQueryResult)]
struct KeyRow {
    request_hash: String,
    order_id: Option<Uuid>,
    response_status: Option<i16>,
    response_body: Option<Value>,
    stale: bool,
}

/// Fingerprint of the request: JSON re-serialised with sorted keys, so formatting and
/// field order do not make the same request look different.
pub fn fingerprint(body: &Value) -> String {
    let canonical = serde_json::to_vec(body).unwrap_or_default();
    format!("{:x}", Sha256::digest(&canonical))
}

/// Claims `key` for the order `order_id` is about to be. Call it in the transaction that
/// creates the order: a concurrent request with the same key waits on this row until that
/// transaction ends, then finds the key taken (and the order it created).
pub async fn claim(
    db: &impl ConnectionTrait,
    customer_id: &str,
    key: &str,
    hash: &str,
    order_id: Uuid,
    retention: Duration,
    stale_after: Duration,
) -> Result<Claim, DbErr> {
    let retention_s = retention.as_secs() as i64;
    let inserted = db
        .execute_raw(raw_sql!(
            Postgres,
            r#"INSERT INTO idempotency_keys (customer_id, key, request_hash, order_id, expires_at)
               VALUES ({customer_id}, {key}, {hash}, {order_id}, now() + {retention_s} * interval '1 second')
               ON CONFLICT (customer_id, key) DO UPDATE
                   SET request_hash = EXCLUDED.request_hash, order_id = EXCLUDED.order_id, response_status = NULL,
                       response_body = NULL, created_at = now(), expires_at = EXCLUDED.expires_at
                   WHERE idempotency_keys.expires_at < now()"#
        ))
        .await?
        .rows_affected()
        == 1;
    if inserted {
        return Ok(Claim::New);
    }
    Ok(Claim::Taken(
        lookup(db, customer_id, key, hash, stale_after).await?.unwrap_or(
            // Purged between our insert and select: extremely unlikely; treat as in flight.
            Taken::InFlight {
                order_id: None,
                stale: false,
            },
        ),
    ))
}

/// What became of `key`, if it was used and has not expired: read without claiming it.
/// The checkout asks before it refuses a request for want of capacity or because a
/// dependency is down, so that the retry of an order that exists gets its answer, never a
/// 503 "nothing was ordered" that would make the shopper order again under a new key.
pub async fn lookup(
    db: &impl ConnectionTrait,
    customer_id: &str,
    key: &str,
    hash: &str,
    stale_after: Duration,
) -> Result<Option<Taken>, DbErr> {
    let stale_ms = stale_after.as_millis() as i64;
    let Some(row) = KeyRow::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT request_hash, order_id, response_status, response_body,
                  created_at < now() - {stale_ms} * interval '1 millisecond' AS stale
           FROM idempotency_keys WHERE customer_id = {customer_id} AND key = {key} AND expires_at >= now()"#
    ))
    .one(db)
    .await?
    else {
        return Ok(None);
    };
    if row.request_hash != hash {
        return Ok(Some(Taken::Mismatch));
    }
    Ok(Some(match (row.response_status, row.response_body) {
        (Some(status), Some(body)) => Taken::Replay {
            status: status as u16,
            body,
        },
        _ => Taken::InFlight {
            order_id: row.order_id,
            stale: row.stale,
        },
    }))
}

/// Stores the response to replay.
pub async fn complete(
    db: &DatabaseConnection,
    customer_id: &str,
    key: &str,
    status: u16,
    body: &Value,
) -> Result<(), DbErr> {
    let status = status as i16;
    let body = body.clone();
    db.execute_raw(raw_sql!(
        Postgres,
        r#"UPDATE idempotency_keys SET response_status = {status}, response_body = {body}
           WHERE customer_id = {customer_id} AND key = {key}"#
    ))
    .await?;
    Ok(())
}

/// Deletes keys past their retention.
pub async fn purge_expired(db: &DatabaseConnection) -> Result<u64, DbErr> {
    Ok(db
        .execute_raw(raw_sql!(
            Postgres,
            r#"DELETE FROM idempotency_keys WHERE ctid IN (
                   SELECT ctid FROM idempotency_keys WHERE expires_at < now() LIMIT 1000)"#
        ))
        .await?
        .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_ignores_field_order_and_formatting() {
        let a: Value = serde_json::from_str(r#"{"a": 1, "b": [1, 2]}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{ "b":[1,2],"a":1 }"#).unwrap();
        let c: Value = serde_json::from_str(r#"{"a": 2, "b": [1, 2]}"#).unwrap();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
    }
}
