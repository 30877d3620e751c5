//! The `Idempotency-Key` header, required on every POST a client sends that changes money or
//! stock (`POST /orders`, the operator's restock). Between services the order id plays the
//! same part: reserve, authorize, capture and the rest are idempotent per order id.
//!
//! A client that times out cannot know whether its request was applied; the only safe retry
//! is one the server can recognise as the same request. The key is how it recognises it:
//! one value per attempt, reused on every retry of that attempt. What the service does with
//! a key it has seen (replay the first answer, refuse another body) is the service's own
//! business; this extractor only makes sure there is one.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload};

use crate::ApiError;

/// Longest key accepted: keys are stored and indexed.
pub const MAX_LEN: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(pub String);

impl IdempotencyKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse(req))
    }
}

fn parse(req: &HttpRequest) -> Result<IdempotencyKey, ApiError> {
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "missing_idempotency_key",
                format!(
                    "{} {} needs an Idempotency-Key header: one unique value per attempt, sent again on every retry of it",
                    req.method(),
                    req.match_pattern().unwrap_or_else(|| req.path().to_string())
                ),
            )
        })?;
    if key.len() > MAX_LEN {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("Idempotency-Key must be at most {MAX_LEN} characters"),
        ));
    }
    Ok(IdempotencyKey(key.to_string()))
}
