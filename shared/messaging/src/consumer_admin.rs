//! Operator endpoints every consuming service shares:
//! - `GET  /admin/consumers`: each consumer, its queue, whether an operator paused it and
//!   the reader it reads with, as stored (whichever instance stored them);
//! - `POST /admin/consumers/{name}/pause` and `/resume`: the ops page's switch (and a way
//!   to watch a queue fill up and its oldest-message age grow, on purpose);
//! - `PUT  /admin/consumers/{name}/reader`: the reader it reads events with (the "deploy a
//!   breaking change" scenario; `consumer/reader.rs`).
//!
//! The switches are rows in the service's database (`consumer/switches.rs`): set through
//! one instance, every instance obeys them within `platform_service::switches::REFRESH`.

use actix_web::{HttpResponse, web};
use platform_contracts::ops::{CONSUMERS_PATH, Consumer, ReaderSwitch};
use platform_http::{Admin, ApiError};

use crate::{ConsumerHandle, consumer::Switches};

pub fn routes(switches: Switches) -> impl Fn(&mut web::ServiceConfig) + Clone {
    move |cfg| {
        cfg.app_data(web::Data::new(switches.clone()))
            .route(CONSUMERS_PATH, web::get().to(list))
            .route(
                "/admin/consumers/{name}/pause",
                web::post().to(set_paused::<true>),
            )
            .route(
                "/admin/consumers/{name}/resume",
                web::post().to(set_paused::<false>),
            )
            .route("/admin/consumers/{name}/reader", web::put().to(set_reader));
    }
}

/// The consumers with their switches as this instance applies them (just read or written).
/// `paused` is the operator's switch; a pause the consumer decides itself (analytics'
/// backpressure) shows in `/ops/backpressure`.
fn describe(switches: &Switches) -> Vec<Consumer> {
    switches
        .handles()
        .iter()
        .map(|h| Consumer {
            name: h.spec.name.to_string(),
            queue: h.spec.queue.clone(),
            paused: h.paused_by_operator(),
            reader: h.reader(),
        })
        .collect()
}

async fn list(_: Admin, switches: web::Data<Switches>) -> Result<HttpResponse, ApiError> {
    switches.refresh().await.map_err(platform_db::api_error)?;
    Ok(HttpResponse::Ok().json(describe(&switches)))
}

fn find<'a>(switches: &'a Switches, name: &str) -> Result<&'a ConsumerHandle, ApiError> {
    switches
        .find(name)
        .ok_or_else(|| ApiError::not_found("unknown_consumer", format!("no consumer named {name:?}")))
}

/// `pause` and `resume`: the same switch, thrown one way or the other.
async fn set_paused<const PAUSED: bool>(
    _: Admin,
    switches: web::Data<Switches>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let handle = find(&switches, &name)?;
    switches
        .set_paused(handle, PAUSED)
        .await
        .map_err(platform_db::api_error)?;
    if PAUSED {
        tracing::warn!(consumer = %name, "consumer paused by an operator (every instance)");
    } else {
        tracing::warn!(consumer = %name, "consumer resumed by an operator (every instance)");
    }
    Ok(HttpResponse::Ok().json(describe(&switches)))
}

async fn set_reader(
    _: Admin,
    switches: web::Data<Switches>,
    name: web::Path<String>,
    body: web::Json<ReaderSwitch>,
) -> Result<HttpResponse, ApiError> {
    let handle = find(&switches, &name)?;
    switches
        .set_reader(handle, body.mode)
        .await
        .map_err(platform_db::api_error)?;
    tracing::warn!(consumer = %name, reader = %body.mode, "consumer's reader switched by an operator (every instance)");
    Ok(HttpResponse::Ok().json(describe(&switches)))
}
