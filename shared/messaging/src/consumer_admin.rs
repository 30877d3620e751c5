//! Operator endpoints every consuming service shares:
//! - `GET  /admin/consumers`: each consumer, its queue and whether it is paused;
//! - `POST /admin/consumers/{name}/pause` and `/resume`: the ops page's switch (and a way
//!   to watch a queue fill up and its oldest-message age grow, on purpose);
//! - `PUT  /admin/consumers/{name}/reader`: the reader it reads events with (the "deploy a
//!   breaking change" scenario; `consumer/reader.rs`).

use actix_web::{HttpResponse, web};
use platform_contracts::ops::{CONSUMERS_PATH, Consumer, ReaderSwitch};
use platform_http::{Admin, ApiError};

use crate::ConsumerHandle;

#[derive(Clone)]
struct Consumers(Vec<ConsumerHandle>);

pub fn routes(consumers: Vec<ConsumerHandle>) -> impl Fn(&mut web::ServiceConfig) + Clone {
    move |cfg| {
        cfg.app_data(web::Data::new(Consumers(consumers.clone())))
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

fn describe(handles: &[ConsumerHandle]) -> Vec<Consumer> {
    handles
        .iter()
        .map(|h| Consumer {
            name: h.spec.name.to_string(),
            queue: h.spec.queue.clone(),
            paused: h.is_paused(),
            reader: h.reader(),
        })
        .collect()
}

async fn list(_: Admin, consumers: web::Data<Consumers>) -> HttpResponse {
    HttpResponse::Ok().json(describe(&consumers.0))
}

fn find<'a>(consumers: &'a Consumers, name: &str) -> Result<&'a ConsumerHandle, ApiError> {
    consumers
        .0
        .iter()
        .find(|h| h.spec.name == name)
        .ok_or_else(|| ApiError::not_found("unknown_consumer", format!("no consumer named {name:?}")))
}

/// `pause` and `resume`: the same switch, thrown one way or the other.
async fn set_paused<const PAUSED: bool>(
    _: Admin,
    consumers: web::Data<Consumers>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let handle = find(&consumers, &name)?;
    if PAUSED {
        handle.pause();
        tracing::warn!(consumer = %name, "consumer paused by an operator");
    } else {
        handle.resume();
        tracing::warn!(consumer = %name, "consumer resumed by an operator");
    }
    Ok(HttpResponse::Ok().json(describe(&consumers.0)))
}

async fn set_reader(
    _: Admin,
    consumers: web::Data<Consumers>,
    name: web::Path<String>,
    body: web::Json<ReaderSwitch>,
) -> Result<HttpResponse, ApiError> {
    let handle = find(&consumers, &name)?;
    handle.set_reader(body.mode);
    tracing::warn!(consumer = %name, reader = %body.mode, "consumer's reader switched by an operator");
    Ok(HttpResponse::Ok().json(describe(&consumers.0)))
}
