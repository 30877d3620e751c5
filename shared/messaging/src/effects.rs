//! `POST /effects` (contracts::effects): a consuming service says which of the given
//! confirmed orders it has acted on, and how many times, from its own database.
//!
//! Every consumer declares how its effect is counted ([`ConfirmedEffect`], part of the
//! [`Handler`](crate::Handler) it implements), so the statement lives next to the code that
//! produces the effect, and a new consumer cannot forget to be checked.

use actix_web::{HttpResponse, web};
use platform_contracts::effects::{EffectsRequest, EffectsResponse, MAX_EFFECTS_PER_REQUEST, OrderEffect};
use platform_http::ApiError;
use sea_orm::{DatabaseConnection, DbBackend, FromQueryResult, Statement};
use uuid::Uuid;

/// How a consumer's effect of `order.confirmed` is counted.
#[derive(Debug, Clone, Copy)]
pub struct ConfirmedEffect {
    /// What the effect is, for people ("stock committed").
    pub description: &'static str,
    /// Takes the order ids as `$1` (`uuid[]`) and returns `order_id, count` (bigint) for
    /// each that has the effect.
    pub sql: &'static str,
}

#[derive(Clone)]
struct State {
    db: DatabaseConnection,
    effect: ConfirmedEffect,
}

pub fn routes(db: DatabaseConnection, effect: ConfirmedEffect) -> impl Fn(&mut web::ServiceConfig) + Clone {
    move |cfg| {
        cfg.app_data(web::Data::new(State {
            db: db.clone(),
            effect,
        }))
        .route(platform_contracts::effects::EFFECTS_PATH, web::post().to(effects));
    }
}

#[derive(FromQueryResult)]
struct Row {
    order_id: Uuid,
    count: i64,
}

async fn effects(state: web::Data<State>, body: web::Json<EffectsRequest>) -> Result<HttpResponse, ApiError> {
    if body.order_ids.len() > MAX_EFFECTS_PER_REQUEST {
        return Err(ApiError::bad_request(
            "too_many_orders",
            format!("at most {MAX_EFFECTS_PER_REQUEST} order ids per request"),
        ));
    }
    let rows = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        state.effect.sql,
        [body.into_inner().order_ids.into()],
    ))
    .all(&state.db)
    .await
    .map_err(platform_db::api_error)?;
    Ok(HttpResponse::Ok().json(EffectsResponse {
        effect: state.effect.description.to_string(),
        effects: rows
            .into_iter()
            .map(|r| OrderEffect {
                order_id: r.order_id,
                count: r.count,
            })
            .collect(),
    }))
}
