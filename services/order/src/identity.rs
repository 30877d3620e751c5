//! Shopper identity, the issuing side: customers register and sign in here, and get a
//! signed token (`platform_http::customer_auth`) that every service accepts as proof of
//! who they are.
//!
//! It lives in the order service because the order service owns what a customer does
//! (their orders, their cancels); a larger shop would run it as its own service or use an
//! identity provider, and nothing else would change: the others only verify tokens.
//!
//! - Passwords are kept only as Argon2id hashes (a salted, memory-hard hash: a stolen table
//!   costs an attacker real time per guess), computed off the async workers
//!   (`spawn_blocking`): a hash takes tens of milliseconds of CPU on purpose, and would stall
//!   every request sharing that worker.
//! - At most one hash per core runs at once (`HashingSlots`); the others wait up to
//!   `HASH_QUEUE_WAIT`, then get 503 `sign_in_busy` with Retry-After. Without the bound a
//!   burst of sign-ups is a denial of service: each Argon2id hash holds 19 MiB, and a load
//!   run whose shoppers signed up at once had the order service hashing hundreds at a time
//!   (12 GB of memory, three quarters of a core, checkouts failing behind it; see
//!   docs/benchmarks.md).
//! - A wrong password and an unknown customer get the same answer (401
//!   `invalid_credentials`) after the same work (a hash is verified either way), so the
//!   answer does not tell anyone which customer ids exist.

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use chrono::{DateTime, Utc};
use platform_contracts::identity::{Credentials, SignedIn};
use platform_http::{Customer, CustomerKeys};
use sea_orm::{ConnectionTrait, DatabaseConnection, raw_sql};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

use crate::OrderError;

/// The shortest password accepted (NIST SP 800-63B's floor for user-chosen secrets).
pub const MIN_PASSWORD: usize = 8;
const MAX_PASSWORD: usize = 128;

/// How long a sign-up or sign-in waits for a hashing slot before it is told to come back.
pub const HASH_QUEUE_WAIT: Duration = Duration::from_secs(2);

/// The password hashes this instance may compute at once. Clones share the slots.
#[derive(Clone)]
pub struct HashingSlots(Arc<Semaphore>);

impl HashingSlots {
    pub fn new(slots: usize) -> Self {
        Self(Arc::new(Semaphore::new(slots.max(1))))
    }

    /// Runs `work` (a hash) on the blocking pool once a slot is free, or fails with
    /// `SignInBusy` after `HASH_QUEUE_WAIT`. The slot is held until the hash ends, even if
    /// the request is dropped meanwhile (the blocking task cannot be stopped).
    async fn hash<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, OrderError> + Send + 'static,
    ) -> Result<T, OrderError> {
        let slot = match tokio::time::timeout(HASH_QUEUE_WAIT, self.0.clone().acquire_owned()).await {
            Ok(Ok(slot)) => slot,
            _ => {
                metrics::counter!("customer_sign_in_busy_total").increment(1);
                return Err(OrderError::SignInBusy);
            }
        };
        actix_web::rt::task::spawn_blocking(move || {
            let _slot = slot;
            work()
        })
        .await
        .map_err(|e| OrderError::Internal(format!("password hashing task: {e}")))?
    }
}

/// Registers a new customer and signs them in.
pub async fn register(
    db: &DatabaseConnection,
    slots: &HashingSlots,
    keys: &CustomerKeys,
    credentials: Credentials,
) -> Result<SignedIn, OrderError> {
    valid_customer_id(&credentials.customer_id)?;
    let length = credentials.password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&length) {
        return Err(OrderError::Invalid(format!(
            "password: {MIN_PASSWORD} to {MAX_PASSWORD} characters"
        )));
    }
    let password = credentials.password;
    let hash = slots
        .hash(move || {
            Argon2::default()
                .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
                .map(|h| h.to_string())
                .map_err(|e| OrderError::Internal(format!("password hash: {e}")))
        })
        .await?;
    let id = credentials.customer_id;
    let inserted = db
        .execute_raw(raw_sql!(
            Postgres,
            r#"INSERT INTO customers (id, password_hash) VALUES ({id}, {hash}) ON CONFLICT (id) DO NOTHING"#
        ))
        .await?
        .rows_affected();
    if inserted == 0 {
        return Err(OrderError::CustomerExists);
    }
    tracing::info!(customer_id = %id, "customer registered");
    Ok(signed_in(keys, &id))
}

/// Signs a customer in: a token, or 401 `invalid_credentials` whatever was wrong.
pub async fn sign_in(
    db: &DatabaseConnection,
    slots: &HashingSlots,
    keys: &CustomerKeys,
    credentials: Credentials,
) -> Result<SignedIn, OrderError> {
    let id = credentials.customer_id;
    let stored: Option<String> = db
        .query_one_raw(raw_sql!(
            Postgres,
            r#"SELECT password_hash FROM customers WHERE id = {id}"#
        ))
        .await?
        .map(|row| row.try_get("", "password_hash"))
        .transpose()?;
    let known = stored.is_some();
    // An unknown customer costs the same hash verification as a known one.
    let stored = stored.unwrap_or_else(|| UNKNOWN_CUSTOMER_HASH.to_string());
    let password = credentials.password;
    let matches = slots
        .hash(move || {
            let hash =
                PasswordHash::new(&stored).map_err(|e| OrderError::Internal(format!("stored hash: {e}")))?;
            Ok(Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok())
        })
        .await?;
    if known && matches {
        Ok(signed_in(keys, &id))
    } else {
        metrics::counter!("customer_sign_in_failures_total").increment(1);
        Err(OrderError::InvalidCredentials)
    }
}

fn signed_in(keys: &CustomerKeys, customer_id: &str) -> SignedIn {
    let (token, expires) = keys.issue(customer_id);
    SignedIn {
        customer_id: customer_id.to_string(),
        token,
        expires_at: DateTime::<Utc>::from(expires),
    }
}

/// A checkout's body as the signed-in `customer` sent it: the order is theirs. The body
/// may leave `customer_id` out (the token says who); naming anyone else is refused, never
/// silently corrected, so a client with a bug finds out.
pub fn on_behalf_of(mut body: Value, customer: &Customer) -> Result<Value, OrderError> {
    if let Some(fields) = body.as_object_mut() {
        match fields.get("customer_id").and_then(Value::as_str) {
            None | Some("") => {}
            Some(named) if named == customer.id() => {}
            Some(named) => {
                return Err(OrderError::ForeignCustomer {
                    signed_in: customer.id().to_string(),
                    named: named.to_string(),
                });
            }
        }
        fields.insert("customer_id".into(), Value::String(customer.id().to_string()));
    }
    Ok(body)
}

/// The rule a customer id follows wherever it comes from: 1 to 64 letters, digits or
/// `- _ . @` (it becomes part of an email address and of URLs).
pub fn valid_customer_id(id: &str) -> Result<(), OrderError> {
    let ok = (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(OrderError::Invalid(
            "customer_id must be 1 to 64 letters, digits or - _ . @".into(),
        ))
    }
}

/// The hash of a password nobody has, with the default parameters: what an unknown
/// customer's sign-in is checked against.
const UNKNOWN_CUSTOMER_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0MR7lKE0uG9dVh2rR7vS1xv5QyM2C3b4tJ0x7m9v5Yw";
