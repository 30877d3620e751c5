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
    let header = req.headers().get("idempotency-key");
    // A key that is there but not visible ASCII is a client bug of its own: saying
    // "missing" would send the client looking for the wrong problem.
    if let Some(value) = header
        && !value
            .as_bytes()
            .iter()
            .all(|b| b.is_ascii_graphic() || *b == b' ')
    {
        return Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be visible ASCII characters (e.g. a UUID)",
        ));
    }
    let key = header
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

#[cfg(test)]
mod tests {
    use actix_web::{http::header::HeaderValue, test::TestRequest};

    use super::*;

    fn code(req: TestRequest) -> String {
        match parse(&req.to_http_request()) {
            Ok(k) => format!("ok:{}", k.0),
            Err(e) => e.code.to_string(),
        }
    }

    #[test]
    fn a_missing_key_and_a_key_that_is_not_visible_ascii_are_told_apart() {
        assert_eq!(code(TestRequest::post()), "missing_idempotency_key");
        assert_eq!(
            code(TestRequest::post().insert_header(("Idempotency-Key", "  "))),
            "missing_idempotency_key"
        );
        let latin1 = HeaderValue::from_bytes(b"caf\xe9").unwrap();
        assert_eq!(
            code(TestRequest::post().insert_header(("Idempotency-Key", latin1))),
            "invalid_idempotency_key"
        );
        let tab = HeaderValue::from_bytes(b"a\tb").unwrap();
        assert_eq!(
            code(TestRequest::post().insert_header(("Idempotency-Key", tab))),
            "invalid_idempotency_key"
        );
        assert_eq!(
            code(TestRequest::post().insert_header(("Idempotency-Key", " 0b7c-1 "))),
            "ok:0b7c-1"
        );
        let long = "k".repeat(MAX_LEN + 1);
        assert_eq!(
            code(TestRequest::post().insert_header(("Idempotency-Key", long))),
            "invalid_request"
        );
    }
}
