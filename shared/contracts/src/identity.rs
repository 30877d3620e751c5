//! Shopper identity: registration and sign-in at the order service, and the signed token a
//! signed-in customer presents (`Authorization: Bearer <token>`) on every call that reads
//! or changes their orders, account or emails. Called by the storefront, the load tests and
//! the tests with these types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST`: register a new customer (answers like a sign-in).
pub const CUSTOMERS_PATH: &str = "/customers";

/// `POST`: sign in with a customer id and password.
pub const SESSIONS_PATH: &str = "/sessions";

/// The body of a registration or a sign-in.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Credentials {
    /// The customer's name in the shop (letters, digits, `-`, `_`, `.`; 3 to 64).
    pub customer_id: String,
    /// At least 8 characters. Stored only as an Argon2id hash.
    pub password: String,
}

/// A signed-in customer: the token to send as `Authorization: Bearer <token>`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SignedIn {
    pub customer_id: String,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// What a customer token says (its JWT claims): who, until when, issued by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerClaims {
    /// The customer id.
    pub sub: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// The issuer: always "order" (the identity module lives in the order service).
    pub iss: String,
}

/// The issuer every verifier expects.
pub const ISSUER: &str = "order";
