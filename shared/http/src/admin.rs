//! The admin token that guards operator actions (replays, retries, fault switches).

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use crate::ApiError;

/// The configured token, stored as app data by the service.
#[derive(Clone)]
pub struct AdminToken(pub String);

/// Extractor: present in a handler's arguments, it makes the handler admin-only.
/// Accepts `Authorization: Bearer <token>` or `X-Admin-Token: <token>`.
pub struct Admin;

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(check(req))
    }
}

pub(crate) fn check(req: &HttpRequest) -> Result<Admin, ApiError> {
    let expected = req
        .app_data::<web::Data<AdminToken>>()
        .map(|t| t.0.clone())
        .unwrap_or_default();
    // No token configured: admin endpoints are closed, never open.
    if expected.is_empty() {
        return Err(ApiError::unauthorized(
            "admin endpoints are disabled: set ADMIN_TOKEN",
        ));
    }
    // Either header may carry it: a caller acting for a signed-in customer sends the
    // customer's token as the Bearer and the operator's as X-Admin-Token.
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let given = [
        header("authorization").and_then(|v| v.strip_prefix("Bearer ")),
        header("x-admin-token"),
    ];
    if given
        .into_iter()
        .flatten()
        .any(|g| constant_time_eq(g.as_bytes(), expected.as_bytes()))
    {
        Ok(Admin)
    } else {
        Err(ApiError::unauthorized("missing or wrong admin token"))
    }
}

/// Compares without an early exit, so response timing does not reveal how many leading
/// characters of a guess were right.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
