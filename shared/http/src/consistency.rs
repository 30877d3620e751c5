//! Read-your-writes, the HTTP half: every successful write's answer carries the WAL
//! position its commit reached (`X-Consistency-Token`), so the caller can send it back on
//! its next reads and never read a replica that has not replayed its own write (see
//! `platform_db::reads`). The position is asked for after the handler committed, through a
//! [`WriteStamp`] the service registers; this crate knows nothing of databases.

use std::sync::Arc;

use actix_web::{
    Error,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::{
        Method,
        header::{HeaderName, HeaderValue},
    },
    middleware::Next,
    web,
};
use futures_util::future::BoxFuture;

/// The header a write's answer carries and a read sends back.
pub const CONSISTENCY_HEADER: &str = "x-consistency-token";

/// Where the service's writes have got to, as a token (`None`: unknown right now; the
/// answer then goes without one and the caller's reads use the primary or an older token).
#[derive(Clone)]
pub struct WriteStamp(pub Arc<dyn Fn() -> BoxFuture<'static, Option<String>> + Send + Sync>);

/// Stamps the answer to every POST, PUT, PATCH and DELETE that did not fail on our side: a
/// rejected checkout (402, 409) wrote its order too, and the shopper will look for it.
pub async fn stamp_writes(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let write = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let stamp = req.app_data::<web::Data<WriteStamp>>().cloned();
    let mut res = next.call(req).await?;
    if write
        && !res.status().is_server_error()
        && let Some(stamp) = stamp
        && let Some(token) = (stamp.0)().await
        && let Ok(value) = HeaderValue::from_str(&token)
    {
        res.headers_mut()
            .insert(HeaderName::from_static(CONSISTENCY_HEADER), value);
    }
    Ok(res)
}
