//! The scenarios page: one-click demonstrations of real failures (the broker down, a
//! duplicate delivery, a poison message, a compensation storm, the replica lagging, the
//! replica down, a breaking change deployed, a flash sale, the mail provider down, a slow
//! payment provider, a retry storm with one key, a refund the provider rate-limits, a
//! refund it rejects (parked for an operator), the database unavailable for a few
//! seconds), each
//! doing the real thing and then showing where to look. All but the flash sale and the retry
//! storm flip operator switches, with the admin token the operator signed in with on the ops
//! page.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use futures_util::future::join_all;
use platform_config::Component;
use platform_contracts::{
    identity::{CUSTOMERS_PATH, Credentials, SignedIn},
    inventory::{
        PRODUCTS_PATH, Product, ProductReservationMode, ReservationMode, RestockRequest,
        reservation_mode_path,
    },
    ops::{
        DATABASE_OUTAGE_PATH, Fault, FaultMode, REPLICA_DOWN_PATH, REPLICA_LAG_PATH, ReaderMode,
        ReaderSwitch, ReplicaSwitch,
    },
    order::{CancelRequest, LineInput, ORDERS_PATH, Order, OrderView, PlaceOrder, cancel_path},
};
use platform_telemetry::CorrelationId;
use uuid::Uuid;

use crate::{
    backend::{Backend, Page, Reply},
    control_room::{CsrfOnly, forbidden, switch},
    session,
    views::{self, redirect, render, render_form},
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/scenarios", web::get().to(scenarios))
        .route("/scenarios/{name}", web::post().to(run_scenario));
}

#[derive(Template)]
#[template(path = "scenarios.html")]
struct ScenariosPage {
    csrf: String,
    signed_in: bool,
}

async fn scenarios(req: HttpRequest) -> HttpResponse {
    let (csrf, new_cookie) = session::csrf_token(&req);
    let page = ScenariosPage {
        csrf,
        signed_in: session::admin_token(&req).is_some(),
    };
    render_form(&page, new_cookie)
}

#[derive(Template)]
#[template(path = "flash_sale.html")]
struct FlashSalePage {
    attempted: usize,
    confirmed: usize,
    out_of_stock: usize,
    other: usize,
    available_before: i64,
    /// Units an operator's restock added before the sale (0 without the admin token).
    restocked: i32,
    available_after: i64,
    /// The sale ran with the product in `batched` reservation mode.
    batched: bool,
}

/// A scenario's shopper: a new customer (`{name}-{8 hex}`, a random password nobody
/// keeps), registered and signed in like anyone else: the order service takes who orders
/// from their token.
struct Shopper {
    id: String,
    token: String,
}

/// Registers a shopper; the registration's answer when it failed. A scenario registers up
/// to 60 at once and the order service hashes only a few passwords at a time: a 503 with
/// Retry-After (`sign_in_busy`, nothing created) is waited out and sent again, for at most
/// `REGISTRATION_PATIENCE`.
async fn shopper(backend: &Backend, correlation: &CorrelationId, name: &str) -> Result<Shopper, Reply> {
    const REGISTRATION_PATIENCE: Duration = Duration::from_secs(30);
    let credentials = Credentials {
        customer_id: format!("{name}-{}", &session::random_token()[..8]),
        password: session::random_token(),
    };
    let deadline = tokio::time::Instant::now() + REGISTRATION_PATIENCE;
    let reply = loop {
        let reply = backend
            .request(
                reqwest::Method::POST,
                Component::Order,
                CUSTOMERS_PATH,
                correlation,
            )
            .json(&credentials)
            .send()
            .await;
        match reply.retry_after {
            Some(wait) if reply.status == 503 && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_secs(wait.clamp(1, 5))).await;
            }
            _ => break reply,
        }
    };
    match reply.json_if_ok::<SignedIn>() {
        Ok(Some(signed_in)) => Ok(Shopper {
            id: signed_in.customer_id,
            token: signed_in.token,
        }),
        _ => Err(reply),
    }
}

/// A new shopper called `name` buys one unit of `sku`.
async fn place(backend: &Backend, correlation: &CorrelationId, name: &str, sku: &str, card: &str) -> Reply {
    match shopper(backend, correlation, name).await {
        Ok(shopper) => {
            place_as(
                backend,
                correlation,
                &shopper,
                &Uuid::new_v4().to_string(),
                &one_unit(sku, card),
            )
            .await
        }
        Err(refused) => refused,
    }
}

fn one_unit(sku: &str, card: &str) -> PlaceOrder {
    PlaceOrder {
        // The token says who: the body need not.
        customer_id: String::new(),
        lines: vec![LineInput {
            sku: sku.to_string(),
            quantity: 1,
        }],
        card_number: card.to_string(),
    }
}

async fn place_as(
    backend: &Backend,
    correlation: &CorrelationId,
    shopper: &Shopper,
    key: &str,
    order: &PlaceOrder,
) -> Reply {
    backend
        .request(reqwest::Method::POST, Component::Order, ORDERS_PATH, correlation)
        .customer(&shopper.token)
        .idempotency_key(key)
        .json(order)
        .send()
        .await
}

/// What a patient shopper went through while the database was away.
struct PatientShopper {
    customer: String,
    /// Answers 503 with Retry-After, each followed by the wait it asked for.
    refused: usize,
    /// The last answer: the order, or why there is none.
    status: u16,
    order_id: String,
    /// Orders the order service has for this shopper afterwards (read after their write).
    stored: usize,
}

/// A well-behaved client: on 503 it waits what Retry-After says and sends the same request
/// with the same Idempotency-Key again, for at most `patience`; then it looks up its orders.
async fn place_patiently(
    backend: &Backend,
    correlation: &CorrelationId,
    shopper: Shopper,
    patience: Duration,
) -> PatientShopper {
    let key = Uuid::new_v4().to_string();
    let order = one_unit("notebook", "4242424242424242");
    let deadline = tokio::time::Instant::now() + patience;
    let mut refused = 0;
    let reply = loop {
        let reply = place_as(backend, correlation, &shopper, &key, &order).await;
        match reply.retry_after {
            Some(wait) if reply.status == 503 && tokio::time::Instant::now() < deadline => {
                refused += 1;
                tokio::time::sleep(Duration::from_secs(wait.clamp(1, 5))).await;
            }
            _ => break reply,
        }
    };
    let list = backend
        .request(reqwest::Method::GET, Component::Order, ORDERS_PATH, correlation)
        .customer(&shopper.token)
        .after_write(reply.consistency.as_deref())
        .send()
        .await;
    PatientShopper {
        stored: list.json::<Vec<Order>>().map_or(0, |orders| orders.len()),
        refused,
        status: reply.status,
        order_id: placed(&reply).map(|v| v.order.id.to_string()).unwrap_or_default(),
        customer: shopper.id,
    }
}

#[derive(Template)]
#[template(path = "database_outage.html")]
struct DatabaseOutagePage {
    seconds: u64,
    shoppers: Vec<PatientShopper>,
    refused: usize,
    confirmed: usize,
    stored: usize,
}

#[derive(Template)]
#[template(path = "retry_storm.html")]
struct RetryStormPage {
    attempts: usize,
    named: usize,
    distinct: usize,
    replayed: usize,
    in_flight: usize,
    order_id: String,
}

/// `count` shoppers (`{prefix}0-…`, `{prefix}1-…`, ...), signed in first, then check out
/// at the same moment, one unit of `sku` each.
async fn place_many(
    backend: &Backend,
    correlation: &CorrelationId,
    count: usize,
    prefix: &str,
    sku: &str,
    card: &str,
) -> Vec<Reply> {
    let shoppers = join_all(
        (0..count).map(|i| async move { shopper(backend, correlation, &format!("{prefix}{i}")).await }),
    )
    .await;
    let order = one_unit(sku, card);
    join_all(shoppers.into_iter().map(|s| {
        let order = &order;
        async move {
            match s {
                Ok(s) => place_as(backend, correlation, &s, &Uuid::new_v4().to_string(), order).await,
                Err(refused) => refused,
            }
        }
    }))
    .await
}

/// The order a checkout answered with, when it got one (an error body is not an order).
fn placed(reply: &Reply) -> Option<OrderView> {
    reply.json::<OrderView>().ok()
}

/// The page for a checkout that created no order.
fn checkout_failed(reply: &Reply) -> HttpResponse {
    views::error(StatusCode::BAD_GATEWAY, "The checkout failed", reply.message())
}

/// The one-click demonstrations. Each does the real thing, then shows where to look.
async fn run_scenario(
    req: HttpRequest,
    backend: web::Data<Backend>,
    correlation: CorrelationId,
    name: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Page {
    if !session::csrf_ok(&req, &form.csrf) {
        return Ok(forbidden());
    }
    let token = session::admin_token(&req);
    let admin = |c: Component, method: reqwest::Method, path: String, body: Option<Fault>| {
        let (backend, correlation, token) = (backend.clone(), correlation.clone(), token.clone());
        async move {
            let mut call = backend
                .request(method, c, &path, &correlation)
                .admin(token.as_deref());
            if let Some(fault) = &body {
                call = call.json(fault);
            }
            call.send().await
        }
    };
    let order_admin = |path: &str| admin(Component::Order, reqwest::Method::POST, path.into(), None);
    // Arms a fault switch; when it could not be armed, the page that says so.
    let arm = |c: Component, operation: &'static str, fault: Fault, what: &'static str| {
        let call = admin(
            c,
            reqwest::Method::PUT,
            format!("/admin/faults/{operation}"),
            Some(fault),
        );
        async move {
            let reply = call.await;
            (!reply.ok()).then(|| views::error(StatusCode::BAD_GATEWAY, what, reply.message()))
        }
    };
    // Sets a timed switch (replica lag, replica down, database outage) for `seconds`; when
    // it could not be set, the page that says so.
    let hold = |c: Component, path: &'static str, seconds: u64, what: &'static str| {
        let (backend, correlation, token) = (backend.clone(), correlation.clone(), token.clone());
        async move {
            let reply = backend
                .request(reqwest::Method::POST, c, path, &correlation)
                .admin(token.as_deref())
                .json(&ReplicaSwitch { seconds })
                .send()
                .await;
            (!reply.ok()).then(|| views::error(StatusCode::BAD_GATEWAY, what, reply.message()))
        }
    };
    let order_admin_on = |c: Component, path: &str| admin(c, reqwest::Method::POST, path.into(), None);
    let needs_admin = !matches!(name.as_str(), "flash-sale" | "retry-storm");
    if needs_admin && token.is_none() {
        return Ok(views::error(
            StatusCode::UNAUTHORIZED,
            "Sign in first",
            "This scenario flips operator switches: sign in on the ops page with the admin token printed by ./dev up.",
        ));
    }
    Ok(match name.as_str() {
        "broker-down" => {
            // The relay stops publishing, as when the broker is unreachable; the checkout does
            // not notice. The order page shows the event waiting in the outbox.
            let paused = order_admin("/admin/relay/pause").await;
            if !paused.ok() {
                return Ok(views::error(
                    StatusCode::BAD_GATEWAY,
                    "Could not pause the relay",
                    paused.message(),
                ));
            }
            let reply = place(
                &backend,
                &correlation,
                "scenario-broker",
                "coffee-beans",
                "4242424242424242",
            )
            .await;
            match placed(&reply) {
                Some(view) => redirect(&format!("/orders/{}", view.order.id)),
                None => checkout_failed(&reply),
            }
        }
        "duplicate-delivery" => {
            let reply = place(
                &backend,
                &correlation,
                "scenario-duplicate",
                "mug",
                "4242424242424242",
            )
            .await;
            let Some(view) = placed(&reply) else {
                return Ok(checkout_failed(&reply));
            };
            let id = view.order.id;
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = order_admin("/admin/outbox/republish-latest").await;
            redirect(&format!("/orders/{id}"))
        }
        "replica-lags" => {
            // The replica stops replaying for 30 s. Everyone's catalog and analytics go stale;
            // this shopper's own new order shows at once: their reads carry its token.
            if let Some(failed) = hold(
                Component::Order,
                REPLICA_LAG_PATH,
                30,
                "Could not pause the replica",
            )
            .await
            {
                return Ok(failed);
            }
            let reply = place(
                &backend,
                &correlation,
                "scenario-replica",
                "mug",
                "4242424242424242",
            )
            .await;
            let Some(view) = placed(&reply) else {
                return Ok(checkout_failed(&reply));
            };
            // `placed` names the new order (the page ignores it; the browser test reads it).
            let mut res = redirect(&format!(
                "/orders?customer={}&placed={}",
                view.order.customer_id, view.order.id
            ));
            if let Some(token) = &reply.consistency {
                let _ = res.add_cookie(&session::cookie(session::CONSISTENCY, token.clone()));
            }
            res
        }
        "replica-down" => {
            // Every service treats its replica as unreachable for 30 s: tolerant reads move
            // to the primary, readiness stays green, the alert fires, then clears.
            let switched = join_all(
                Component::SERVICES
                    .iter()
                    .map(|c| hold(*c, REPLICA_DOWN_PATH, 30, "Could not switch the replica off")),
            )
            .await;
            if let Some(failed) = switched.into_iter().flatten().next() {
                return Ok(failed);
            }
            redirect("/ops?done=replica_down_for_30_s")
        }
        "breaking-change" => {
            // Analytics is "deployed" with a strict reader of the v1 money fields, which v2
            // renamed: three orders are placed and go through; analytics dead-letters each
            // order.confirmed. The ops page shows the dead letters, the alert, the consumer's
            // reader and the fix (back to tolerant), then the replay.
            let switched = backend
                .request(
                    reqwest::Method::PUT,
                    Component::Analytics,
                    "/admin/consumers/analytics/reader",
                    &correlation,
                )
                .admin(token.as_deref())
                .json(&ReaderSwitch {
                    mode: ReaderMode::StrictV1,
                })
                .send()
                .await;
            if !switched.ok() {
                return Ok(views::error(
                    StatusCode::BAD_GATEWAY,
                    "Could not switch analytics' reader",
                    switched.message(),
                ));
            }
            for i in 0..3 {
                let reply = place(
                    &backend,
                    &correlation,
                    &format!("scenario-breaking-{i}"),
                    "mug",
                    "4242424242424242",
                )
                .await;
                if placed(&reply).is_none() {
                    return Ok(checkout_failed(&reply));
                }
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
            redirect("/ops?done=breaking_change_deployed#consumers")
        }
        "poison-message" => {
            let _ = order_admin("/admin/poison").await;
            tokio::time::sleep(Duration::from_secs(2)).await;
            redirect("/ops?done=poison_message_published")
        }
        "compensation-storm" => {
            // Inventory answers 429 to the next 60 releases, and 60 orders are declined (in
            // three waves of 20): each needs its reservation released. The undos go out at
            // most COMPENSATION_RATE_PER_SEC (20) a second, each retried with backoff through
            // the 429s: the "Compensations per second" chart shows them retried, then done.
            let fault = Fault {
                remaining: Some(60),
                retry_after_secs: Some(1),
                ..switch(FaultMode::RateLimit)
            };
            if let Some(failed) = arm(
                Component::Inventory,
                "release",
                fault,
                "Could not rate-limit releases",
            )
            .await
            {
                return Ok(failed);
            }
            for wave in 0..3 {
                place_many(
                    &backend,
                    &correlation,
                    20,
                    &format!("storm-{wave}-"),
                    "plant",
                    "4000000000000002",
                )
                .await;
            }
            redirect("/ops?done=compensation_storm_started")
        }
        "mail-down" => {
            // The mail provider fails the next 6 deliveries. Two orders are placed and
            // confirmed at once (email is not on the critical path); their emails wait in the
            // email service's queue, retried with backoff, and go out when it recovers.
            let fault = Fault {
                remaining: Some(6),
                ..switch(FaultMode::Error)
            };
            if let Some(failed) = arm(
                Component::Email,
                "deliver",
                fault,
                "Could not switch the mail provider off",
            )
            .await
            {
                return Ok(failed);
            }
            for i in 0..2 {
                let reply = place(
                    &backend,
                    &correlation,
                    &format!("scenario-mail-{i}"),
                    "socks",
                    "4242424242424242",
                )
                .await;
                if placed(&reply).is_none() {
                    return Ok(checkout_failed(&reply));
                }
            }
            redirect("/mailbox?done=mail_provider_down")
        }
        "slow-payment" => {
            // The card provider takes longer than the order service waits (PAYMENT_TIMEOUT_MS)
            // for the next 3 authorizations. The shoppers are told 202 "we are working on
            // it"; the reconciler asks payment again (the same order id, so never a second
            // charge) and finishes each order without anyone's help.
            let fault = Fault {
                remaining: Some(3),
                delay_ms: Some(4_000),
                ..switch(FaultMode::Delay)
            };
            if let Some(failed) = arm(
                Component::Payment,
                "authorize",
                fault,
                "Could not slow the card provider down",
            )
            .await
            {
                return Ok(failed);
            }
            let reply = place(
                &backend,
                &correlation,
                "scenario-slow-payment",
                "notebook",
                "4242424242424242",
            )
            .await;
            match placed(&reply) {
                Some(view) => redirect(&format!("/orders/{}", view.order.id)),
                None => checkout_failed(&reply),
            }
        }
        "retry-storm" => {
            // 20 identical requests with one key at once: one order, and every answer that
            // names an order names that one.
            let key = Uuid::new_v4().to_string();
            let order = one_unit("mug", "4242424242424242");
            let shopper = match shopper(&backend, &correlation, "scenario-storm").await {
                Ok(shopper) => shopper,
                Err(refused) => return Ok(checkout_failed(&refused)),
            };
            let attempts = 20;
            let replies =
                join_all((0..attempts).map(|_| place_as(&backend, &correlation, &shopper, &key, &order)))
                    .await;
            let mut ids: Vec<Uuid> = replies.iter().filter_map(placed).map(|v| v.order.id).collect();
            let named = ids.len();
            ids.sort();
            ids.dedup();
            render(
                StatusCode::OK,
                &RetryStormPage {
                    attempts,
                    named,
                    distinct: ids.len(),
                    replayed: replies.iter().filter(|r| r.replayed).count(),
                    in_flight: replies.iter().filter(|r| r.status == 409).count(),
                    order_id: ids.first().map(Uuid::to_string).unwrap_or_default(),
                },
            )
        }
        "refund-rate-limited" | "refund-parks" => {
            // The seeds' incident: a refund answered 429, was dead-lettered, nobody watched,
            // customers were charged for cancelled orders. Here the provider refuses the next
            // 3 refunds with 429; an order is placed and cancelled by its customer; the refund
            // is a durable compensation, retried with backoff until it is done.
            // "refund-parks": the provider rejects the next refund outright (422), which no
            // retry would fix: the compensation parks at once, the alert fires, and the
            // operator's Retry on the ops page finishes it.
            let fault = if name.as_str() == "refund-parks" {
                Fault {
                    remaining: Some(1),
                    ..switch(FaultMode::Reject)
                }
            } else {
                Fault {
                    remaining: Some(3),
                    retry_after_secs: Some(1),
                    ..switch(FaultMode::RateLimit)
                }
            };
            if let Some(failed) = arm(
                Component::Payment,
                "refund",
                fault,
                "Could not rate-limit refunds",
            )
            .await
            {
                return Ok(failed);
            }
            let shopper = match shopper(&backend, &correlation, "scenario-refund").await {
                Ok(shopper) => shopper,
                Err(refused) => return Ok(checkout_failed(&refused)),
            };
            let order = one_unit("mug", "4242424242424242");
            let reply = place_as(
                &backend,
                &correlation,
                &shopper,
                &Uuid::new_v4().to_string(),
                &order,
            )
            .await;
            let Some(view) = placed(&reply) else {
                return Ok(checkout_failed(&reply));
            };
            let id = view.order.id;
            let key = Uuid::new_v4().to_string();
            // The customer cancels: only they may.
            let cancelled = backend
                .request(
                    reqwest::Method::POST,
                    Component::Order,
                    &cancel_path(id),
                    &correlation,
                )
                .customer(&shopper.token)
                .idempotency_key(&key)
                .json(&CancelRequest {
                    reason: Some(format!("scenario: {name}")),
                })
                .send()
                .await;
            if !cancelled.ok() {
                return Ok(views::error(
                    StatusCode::BAD_GATEWAY,
                    "Could not cancel the order",
                    cancelled.message(),
                ));
            }
            redirect(&format!("/orders/{id}"))
        }
        "projection-stalls" => {
            // Analytics stops consuming (as a crashed or stuck consumer would). Its numbers
            // stay as they were, with nothing to say they are old, except the heartbeat the
            // order service publishes through the same path every few seconds: after 30 s
            // without one, the analytics page says "stale" and the alert fires. Resume it on
            // the ops page (consumers) and it catches up.
            let paused = order_admin_on(Component::Analytics, "/admin/consumers/analytics/pause").await;
            if !paused.ok() {
                return Ok(views::error(
                    StatusCode::BAD_GATEWAY,
                    "Could not stop the analytics consumer",
                    paused.message(),
                ));
            }
            redirect("/analytics?done=projection_stalled")
        }
        "slow-consumer" => {
            // Payment's consumer takes 1.5 s an event for the next 40 events, and 40 orders
            // are placed at once: its queue's depth and oldest-message age climb (the ops
            // page's charts), the backlog alert fires, backpressure pauses analytics (the
            // non-critical consumer) to leave the machine to the captures; then it drains,
            // analytics resumes and catches up. Nothing is lost.
            let fault = Fault {
                remaining: Some(40),
                delay_ms: Some(1_500),
                ..switch(FaultMode::Delay)
            };
            if let Some(failed) = arm(
                Component::Payment,
                "consume",
                fault,
                "Could not slow the payment consumer down",
            )
            .await
            {
                return Ok(failed);
            }
            place_many(
                &backend,
                &correlation,
                40,
                "scenario-slow-consumer-",
                "pour-over",
                "4242424242424242",
            )
            .await;
            redirect("/ops?done=payment_consumer_slowed#queues")
        }
        "database-down" => {
            // The order database refuses connections for 8 s and its sessions are cut (a
            // real outage of the critical path's store). Five shoppers check out meanwhile:
            // each is told 503 with Retry-After, waits, retries with the same key, and ends
            // with exactly one order once the database is back; nobody restarts anything.
            let seconds = 8;
            // Signed in before the outage (signing in needs the same database).
            let mut shoppers = Vec::new();
            for i in 0..5 {
                match shopper(&backend, &correlation, &format!("scenario-outage-{i}")).await {
                    Ok(s) => shoppers.push(s),
                    Err(refused) => return Ok(checkout_failed(&refused)),
                }
            }
            if let Some(failed) = hold(
                Component::Order,
                DATABASE_OUTAGE_PATH,
                seconds,
                "Could not take the database away",
            )
            .await
            {
                return Ok(failed);
            }
            let shoppers = join_all(
                shoppers
                    .into_iter()
                    .map(|s| place_patiently(&backend, &correlation, s, Duration::from_secs(seconds * 4))),
            )
            .await;
            render(
                StatusCode::OK,
                &DatabaseOutagePage {
                    seconds,
                    refused: shoppers.iter().map(|s| s.refused).sum(),
                    confirmed: shoppers.iter().filter(|s| s.status == 201).count(),
                    stored: shoppers.iter().map(|s| s.stored).sum(),
                    shoppers,
                },
            )
        }
        "flash-sale" | "flash-sale-batched" => {
            let shoppers = 50;
            // The batched variant sets the product's reservation mode for this sale and
            // back to `row` after it (services/inventory/src/batching.rs).
            let mode = if name.as_str() == "flash-sale-batched" {
                ReservationMode::Batched
            } else {
                ReservationMode::Row
            };
            let set_mode = |mode: ReservationMode| {
                let (backend, correlation, token) = (backend.clone(), correlation.clone(), token.clone());
                async move {
                    backend
                        .request(
                            reqwest::Method::PUT,
                            Component::Inventory,
                            &reservation_mode_path("hot-sneaker"),
                            &correlation,
                        )
                        .admin(token.as_deref())
                        .json(&ProductReservationMode {
                            sku: "hot-sneaker".into(),
                            mode,
                        })
                        .send()
                        .await
                }
            };
            if mode == ReservationMode::Batched {
                let reply = set_mode(mode).await;
                if !reply.ok() {
                    return Ok(views::error(
                        StatusCode::BAD_GATEWAY,
                        "Could not set the reservation mode",
                        reply.message(),
                    ));
                }
            }
            let sku_path = format!("{PRODUCTS_PATH}/hot-sneaker");
            let stock = |backend: Backend, correlation: CorrelationId, path: String| async move {
                backend
                    .get(Component::Inventory, &path, &correlation)
                    .await
                    .json_if_ok::<Product>()
            };
            let mut before: i64 = stock(backend.get_ref().clone(), correlation.clone(), sku_path.clone())
                .await?
                .map_or(0, |p| p.available.into());
            // A sale needs stock: an operator (signed in) tops the product up to 10 units
            // first, through the idempotent restock; without the token the sale runs on
            // what is left, and the page says so.
            let mut restocked = 0;
            if before < 10 && token.is_some() {
                let quantity = (10 - before) as i32;
                let reply = backend
                    .request(
                        reqwest::Method::POST,
                        Component::Inventory,
                        "/admin/products/hot-sneaker/restock",
                        &correlation,
                    )
                    .admin(token.as_deref())
                    .idempotency_key(&Uuid::new_v4().to_string())
                    .json(&RestockRequest { quantity })
                    .send()
                    .await;
                if reply.ok() {
                    restocked = quantity;
                    before += i64::from(quantity);
                }
            }
            let replies = place_many(
                &backend,
                &correlation,
                shoppers,
                "flash-",
                "hot-sneaker",
                "4242424242424242",
            )
            .await;
            let confirmed = replies.iter().filter(|r| r.status == 201).count();
            let out_of_stock = replies
                .iter()
                .filter_map(placed)
                .filter(|view| view.order.reason_code.as_deref() == Some("out_of_stock"))
                .count();
            if mode == ReservationMode::Batched {
                set_mode(ReservationMode::Row).await;
            }
            let after = stock(backend.get_ref().clone(), correlation.clone(), sku_path).await?;
            render(
                StatusCode::OK,
                &FlashSalePage {
                    attempted: shoppers,
                    confirmed,
                    out_of_stock,
                    other: shoppers - confirmed - out_of_stock,
                    available_before: before,
                    restocked,
                    available_after: after.map_or(0, |p| p.available.into()),
                    batched: mode == ReservationMode::Batched,
                },
            )
        }
        _ => views::not_found().await,
    })
}
