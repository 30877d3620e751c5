//! The analytics HTTP API (`platform_contracts::analytics`). Tolerant reads: served from the
//! projection, which may lag.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use platform_contracts::analytics::{
    CountedOrder, Freshness, MinuteOutcomes, ProductSales, RejectionReason, SUMMARY_PATH, Summary, Totals,
};
use platform_db::reads::Tolerant;
use platform_http::ApiError;
use sea_orm::{AccessMode, FromQueryResult, IsolationLevel, TransactionTrait, raw_sql};
use uuid::Uuid;

#[derive(Clone)]
pub struct State {
    pub stale_after: Duration,
}

pub fn routes(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(web::Data::new(state))
        .route(SUMMARY_PATH, web::get().to(summary))
        .route("/analytics/orders/{id}", web::get().to(counted_order));
}

/// When the projection last moved, read from its own tables.
#[derive(Debug, FromQueryResult)]
struct LastSeen {
    last_event_at: Option<DateTime<Utc>>,
    last_heartbeat_at: Option<DateTime<Utc>>,
}

async fn summary(state: web::Data<State>, db: Tolerant) -> Result<HttpResponse, ApiError> {
    // One snapshot for every figure: read separately, a total could already include events
    // that the per-minute rows, read a moment earlier, did not (the consumer commits between
    // the two reads), and the page would not add up.
    // A read-only snapshot runs on a hot standby as well as on the primary.
    let db = &db
        .begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly))
        .await
        .map_err(platform_db::api_error)?;
    let per_minute = MinuteOutcomes::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT minute, outcome, sum(orders)::bigint AS orders, sum(revenue_minor)::bigint AS revenue_minor
           FROM orders_per_minute WHERE minute > now() - interval '60 minutes'
           GROUP BY minute, outcome ORDER BY minute, outcome"#
    ))
    .all(db)
    .await
    .map_err(platform_db::api_error)?;
    let top_products = ProductSales::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT sku, sum(units)::bigint AS units, sum(revenue_minor)::bigint AS revenue_minor FROM product_sales
           GROUP BY sku ORDER BY revenue_minor DESC, sku LIMIT 10"#
    ))
    .all(db)
    .await
    .map_err(platform_db::api_error)?;
    let rejection_reasons = RejectionReason::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT reason_code, sum(orders)::bigint AS orders FROM rejection_reasons
           GROUP BY reason_code ORDER BY orders DESC, reason_code"#
    ))
    .all(db)
    .await
    .map_err(platform_db::api_error)?;
    let totals = Totals::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT count(*) FILTER (WHERE outcome = 'confirmed') AS confirmed,
                  count(*) FILTER (WHERE outcome = 'rejected') AS rejected,
                  count(*) FILTER (WHERE outcome = 'cancelled') AS cancelled,
                  COALESCE(sum(total_minor), 0)::bigint AS revenue_minor
           FROM counted_orders"#
    ))
    .one(db)
    .await
    .map_err(platform_db::api_error)?
    // An aggregate without GROUP BY always has its one row.
    .unwrap_or_default();
    let last_seen = LastSeen::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT (SELECT max(last_event_at) FROM projection_status WHERE name = 'orders') AS last_event_at,
                  (SELECT max(sent_at) FROM heartbeats) AS last_heartbeat_at"#
    ))
    .one(db)
    .await
    .map_err(platform_db::api_error)?;
    let now = Utc::now();
    let age = |t: Option<DateTime<Utc>>| t.map(|t| (now - t).num_milliseconds().max(0));
    let (last_event_at, last_heartbeat_at) = last_seen
        .map(|l| (l.last_event_at, l.last_heartbeat_at))
        .unwrap_or_default();
    let heartbeat_age_ms = age(last_heartbeat_at);
    let freshness = Freshness {
        last_event_at,
        lag_ms: age(last_event_at),
        last_heartbeat_at,
        heartbeat_age_ms,
        stale_after_ms: state.stale_after.as_millis() as u64,
        stale: heartbeat_age_ms.is_none_or(|ms| ms > state.stale_after.as_millis() as i64),
    };
    Ok(HttpResponse::Ok().json(Summary {
        per_minute,
        top_products,
        rejection_reasons,
        totals,
        freshness,
    }))
}

async fn counted_order(db: Tolerant, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let order = CountedOrder::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT order_id, outcome, total_minor, correlation_id, occurred_at, counted_at
           FROM counted_orders WHERE order_id = {id}"#
    ))
    .one(&*db)
    .await
    .map_err(platform_db::api_error)?
    .ok_or_else(|| ApiError::not_found("not_counted", "this order has not been counted (yet)"))?;
    Ok(HttpResponse::Ok().json(order))
}
