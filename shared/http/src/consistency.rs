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

/// The preference (RFC 7240, `Prefer: consistency-token=omit`) of a caller that will never
/// read this service with the token: a service calling another on the checkout's critical
/// path (the order service reserving stock, authorizing a payment) reads its own database,
/// not the callee's replica. Asking the primary where its WAL is costs a round trip per
/// write, two of the checkout's statements; a caller that cannot use the answer skips it.
/// A shopper's browser never sends it, so read-your-writes is untouched where it matters.
pub const OMIT_TOKEN: &str = "consistency-token=omit";

/// RFC 7240's request header (actix's header constants do not name it).
const PREFER: &str = "prefer";

/// Whether the request asked for no token ([`OMIT_TOKEN`], among its `Prefer` values).
fn token_omitted(req: &ServiceRequest) -> bool {
    req.headers()
        .get_all(PREFER)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case(OMIT_TOKEN))
}

/// Where the service's writes have got to, as a token (`None`: unknown right now; the
/// answer then goes without one and the caller's reads use the primary or an older token).
#[derive(Clone)]
pub struct WriteStamp(pub Arc<dyn Fn() -> BoxFuture<'static, Option<String>> + Send + Sync>);

/// Stamps the answer to every POST, PUT, PATCH and DELETE that did not fail on our side
/// (unless the caller asked for none, [`OMIT_TOKEN`]): a rejected checkout (402, 409) wrote
/// its order too, and the shopper will look for it.
pub async fn stamp_writes(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let write = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) && !token_omitted(&req);
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use actix_web::{App, HttpResponse, middleware::from_fn, test};

    use super::*;

    /// A write's answer carries the token unless its caller asked for none, and then the
    /// primary is not even asked (the round trip is what the preference saves).
    #[actix_web::test]
    async fn a_write_is_stamped_unless_its_caller_prefers_no_token() {
        let asked = Arc::new(AtomicUsize::new(0));
        let counter = asked.clone();
        let stamp = WriteStamp(Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Some("16/B374D848".to_string()) })
        }));
        let app = test::init_service(
            App::new()
                .wrap(from_fn(stamp_writes))
                .app_data(web::Data::new(stamp))
                .route("/w", web::post().to(HttpResponse::Created)),
        )
        .await;

        let res = test::call_service(&app, test::TestRequest::post().uri("/w").to_request()).await;
        assert_eq!(res.headers().get(CONSISTENCY_HEADER).unwrap(), "16/B374D848");
        assert_eq!(asked.load(Ordering::SeqCst), 1);

        let req = test::TestRequest::post()
            .uri("/w")
            .insert_header((PREFER, "respond-async, Consistency-Token=omit"))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert!(res.headers().get(CONSISTENCY_HEADER).is_none());
        assert_eq!(asked.load(Ordering::SeqCst), 1, "the primary was asked anyway");
    }
}
