//! Switches for the demo's scenarios page, admin-only, each reproducing a real failure
//! honestly rather than faking its effect:
//! - `GET /admin/relay`: whether the relay is paused (`{"paused": ...}`); the ops page shows
//!   it, and uses the answer to tell whether the operator's token is valid.
//! - `POST /admin/relay/pause|resume`: the relay stops publishing, as if the broker were
//!   unreachable; checkouts still succeed and their events wait in the outbox.
//! - `POST /admin/outbox/republish-latest`: marks the newest published `order.confirmed` row
//!   unpublished, the state a relay crash between confirm and mark leaves behind; the relay
//!   publishes it again and consumers must ignore the duplicate.
//! - `POST /admin/poison`: publishes a message that is not an event envelope, to watch it
//!   land in every consumer's dead-letter queue while the queues keep flowing.
//! - `POST /admin/replica/lag`: pauses WAL replay on the read replica for some seconds: the
//!   catalog and analytics go stale (everyone's tolerant reads), while a shopper's own new
//!   order still shows at once (their reads carry their consistency token).
//! - `POST /admin/database/outage`: the order database refuses connections for some
//!   seconds and its sessions are cut (`database_outage`): checkouts get 503 with
//!   Retry-After meanwhile, and a client retrying with its key ends with one order.

use actix_web::{HttpResponse, web};
use lapin::{BasicProperties, options::BasicPublishOptions};
use platform_broker::Broker;
use platform_contracts::{
    EXCHANGE,
    ops::{DATABASE_OUTAGE_PATH, RELAY_PATH, REPLICA_LAG_PATH, RelayState, ReplicaSwitch},
};
use platform_db::reads::Reads;
use platform_http::{Admin, ApiError};
use platform_messaging::Relay;
use sea_orm::{ConnectionTrait, DatabaseConnection, raw_sql};

use crate::database_outage::{self, OutageError};

#[derive(Clone)]
pub struct Demo {
    pub db: DatabaseConnection,
    pub relay: Relay,
    pub broker: Broker,
    pub reads: Reads,
    /// Where the order database is, for the outage switch's own connection.
    pub database_url: String,
}

pub fn routes(cfg: &mut web::ServiceConfig, demo: Demo) {
    cfg.app_data(web::Data::new(demo))
        .route(RELAY_PATH, web::get().to(relay_state))
        .route("/admin/relay/pause", web::post().to(pause))
        .route("/admin/relay/resume", web::post().to(resume))
        .route("/admin/outbox/republish-latest", web::post().to(republish_latest))
        .route("/admin/poison", web::post().to(poison))
        .route(REPLICA_LAG_PATH, web::post().to(replica_lag))
        .route(DATABASE_OUTAGE_PATH, web::post().to(database_outage));
}

/// Takes the order database away for `seconds` (1 to 60).
async fn database_outage(
    _: Admin,
    demo: web::Data<Demo>,
    body: web::Json<ReplicaSwitch>,
) -> Result<HttpResponse, ApiError> {
    if !(1..=database_outage::MAX_SECONDS).contains(&body.seconds) {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("seconds must be between 1 and {}", database_outage::MAX_SECONDS),
        ));
    }
    let cut = database_outage::start(&demo.database_url, std::time::Duration::from_secs(body.seconds))
        .await
        .map_err(|e| match e {
            OutageError::AlreadyDown => ApiError::conflict("outage_in_progress", e.to_string()),
            OutageError::Database(e) => ApiError::internal(e),
        })?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "seconds": body.seconds, "sessions_cut": cut })))
}

/// Pauses the replica's replay for `seconds` (1 to 300).
async fn replica_lag(
    _: Admin,
    demo: web::Data<Demo>,
    body: web::Json<ReplicaSwitch>,
) -> Result<HttpResponse, ApiError> {
    if !(1..=300).contains(&body.seconds) {
        return Err(ApiError::bad_request(
            "invalid_request",
            "seconds must be between 1 and 300",
        ));
    }
    demo.reads
        .pause_replay(std::time::Duration::from_secs(body.seconds))
        .await
        .map_err(|e| ApiError::conflict("replica_unavailable", e.to_string()))?;
    Ok(HttpResponse::Ok().json(*body))
}

async fn relay_state(_: Admin, demo: web::Data<Demo>) -> Result<HttpResponse, ApiError> {
    let paused = demo.relay.is_paused().await.map_err(platform_db::api_error)?;
    Ok(HttpResponse::Ok().json(RelayState { paused }))
}

async fn pause(_: Admin, demo: web::Data<Demo>) -> Result<HttpResponse, ApiError> {
    switch_relay(&demo, true).await
}

async fn resume(_: Admin, demo: web::Data<Demo>) -> Result<HttpResponse, ApiError> {
    switch_relay(&demo, false).await
}

async fn switch_relay(demo: &Demo, paused: bool) -> Result<HttpResponse, ApiError> {
    demo.relay
        .set_paused(paused)
        .await
        .map_err(platform_db::api_error)?;
    Ok(HttpResponse::Ok().json(RelayState { paused }))
}

async fn republish_latest(_: Admin, demo: web::Data<Demo>) -> Result<HttpResponse, ApiError> {
    let row = demo
        .db
        .query_one_raw(raw_sql!(
            Postgres,
            r#"UPDATE outbox SET published_at = NULL WHERE id = (
                   SELECT id FROM outbox WHERE event_type = 'order.confirmed' AND published_at IS NOT NULL
                   ORDER BY id DESC LIMIT 1)
               RETURNING aggregate_id"#
        ))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::not_found("nothing_published", "no confirmed order has been published yet")
        })?;
    let order_id: String = row.try_get("", "aggregate_id").map_err(ApiError::internal)?;
    tracing::warn!(
        order_id,
        "operator asked to republish an event (duplicate delivery demo)"
    );
    Ok(HttpResponse::Ok().json(serde_json::json!({ "republished_order_id": order_id })))
}

async fn poison(_: Admin, demo: web::Data<Demo>) -> Result<HttpResponse, ApiError> {
    let channel = demo
        .broker
        .channel()
        .await
        .map_err(|e| ApiError::unavailable("broker_unavailable", e.to_string(), 2))?;
    channel
        .basic_publish(
            EXCHANGE.into(),
            "order.confirmed".into(),
            BasicPublishOptions::default(),
            b"{ this is not an event envelope",
            BasicProperties::default().with_message_id("poison-demo".into()),
        )
        .await
        .map_err(ApiError::internal)?;
    let _ = channel.close(200, "done".into()).await;
    tracing::warn!("operator published a poison message (dead-letter demo)");
    Ok(HttpResponse::Ok().json(serde_json::json!({ "published": "poison message on order.confirmed" })))
}
