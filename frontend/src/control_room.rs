//! The ops control room: alerts, the live integrity check, queues, the outbox, parked
//! compensations, dead letters, consumers and fault switches, with the operator's sign-in
//! and actions.
//!
//! Operator actions (replay a dead letter, retry a compensation, flip a fault switch) are
//! performed by the services, which check the admin token; the storefront only forwards the
//! token the operator entered (kept in an HttpOnly cookie) and never holds one of its own.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use futures_util::future::join_all;
use platform_config::Component;
use platform_contracts::effects::{INTEGRITY_PATH, IntegrityReport};
use platform_telemetry::CorrelationId;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    backend::{Backend, Reply},
    session,
    views::{self, redirect, render, s},
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ops", web::get().to(ops))
        .route("/ops/login", web::post().to(login))
        .route("/ops/logout", web::post().to(logout))
        .route("/ops/action", web::post().to(action));
}

pub struct QueueRow {
    pub name: String,
    pub role: String,
    pub messages: i64,
    pub ready: i64,
    pub unacked: i64,
    pub consumers: i64,
    pub oldest: String,
    pub publish_rate: String,
    pub deliver_rate: String,
}

pub struct DeadLetterRow {
    pub service: String,
    pub event_type: String,
    pub event_id: String,
    pub correlation_id: String,
    pub reason: String,
}

pub struct CompensationRow {
    pub id: String,
    pub order_id: String,
    pub kind: String,
    pub attempts: i64,
    pub last_error: String,
}

pub struct ConsumerRow {
    pub service: String,
    pub queue: String,
    pub paused: bool,
}

#[derive(Template)]
#[template(path = "ops.html")]
struct OpsPage {
    csrf: String,
    signed_in: bool,
    flash: String,
    alerts: Vec<(String, String, String, String)>,
    /// The live integrity check: lost, duplicated, stuck, oldest open order.
    integrity: IntegrityReport,
    queues: Vec<QueueRow>,
    outbox_backlog: i64,
    outbox_oldest: String,
    relay_paused: bool,
    backpressure: String,
    in_flight: Vec<(String, String, String, String)>,
    compensations: Vec<CompensationRow>,
    dead_letters: Vec<DeadLetterRow>,
    consumers: Vec<ConsumerRow>,
    faults: Vec<(String, String, String)>,
    /// The restock form's Idempotency-Key, new on every page view.
    restock_key: String,
}

const CONSUMING: [Component; 4] = [
    Component::Inventory,
    Component::Payment,
    Component::Email,
    Component::Analytics,
];
const WITH_FAULTS: [Component; 4] = [
    Component::Inventory,
    Component::Payment,
    Component::Email,
    Component::Analytics,
];

#[derive(Deserialize)]
struct Flash {
    done: Option<String>,
}

async fn admin_get(
    backend: &Backend,
    c: Component,
    path: &str,
    corr: &CorrelationId,
    token: Option<&str>,
) -> Reply {
    backend
        .send(reqwest::Method::GET, c, path, None, corr, token, &[])
        .await
}

async fn ops(
    req: HttpRequest,
    backend: web::Data<Backend>,
    correlation: CorrelationId,
    flash: web::Query<Flash>,
) -> HttpResponse {
    let token = session::admin_token(&req);
    let t = token.as_deref();
    let corr = &correlation;
    let (queues, alerts, outbox, backpressure, integrity) = tokio::join!(
        backend.get(Component::Order, "/ops/queues", corr),
        backend.get(Component::Order, "/ops/alerts", corr),
        backend.get(Component::Order, "/ops/outbox", corr),
        backend.get(Component::Analytics, "/ops/backpressure", corr),
        backend.get(Component::Order, INTEGRITY_PATH, corr),
    );
    let (in_flight, parked, relay) = tokio::join!(
        admin_get(&backend, Component::Order, "/admin/orders/in-flight", corr, t),
        admin_get(
            &backend,
            Component::Order,
            "/admin/compensations?status=parked",
            corr,
            t
        ),
        admin_get(&backend, Component::Order, "/admin/relay", corr, t),
    );
    let dead = join_all(
        CONSUMING
            .iter()
            .map(|c| admin_get(&backend, *c, "/admin/dead-letters", corr, t)),
    )
    .await;
    let consumers = join_all(
        CONSUMING
            .iter()
            .map(|c| admin_get(&backend, *c, "/admin/consumers", corr, t)),
    )
    .await;
    let faults = join_all(
        WITH_FAULTS
            .iter()
            .map(|c| admin_get(&backend, *c, "/admin/faults", corr, t)),
    )
    .await;
    let signed_in = t.is_some() && relay.ok();
    let n = |v: &Value| v.as_i64().unwrap_or(0);
    let (csrf, new_cookie) = session::csrf_token(&req);
    let page = OpsPage {
        csrf,
        signed_in,
        flash: flash.done.clone().unwrap_or_default(),
        alerts: alerts.body["active"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                (
                    s(&a["name"]),
                    s(&a["severity"]),
                    s(&a["message"]),
                    s(&a["since"]).chars().take(19).collect(),
                )
            })
            .collect(),
        // Typed (platform_contracts::effects): a renamed field is a compile error here.
        integrity: serde_json::from_value(integrity.body).unwrap_or_default(),
        queues: queues.body["queues"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|q| QueueRow {
                name: s(&q["name"]),
                role: s(&q["role"]),
                messages: n(&q["messages"]),
                ready: n(&q["ready"]),
                unacked: n(&q["unacked"]),
                consumers: n(&q["consumers"]),
                oldest: q["oldest_age_secs"]
                    .as_f64()
                    .map(|a| format!("{a:.0} s"))
                    .unwrap_or_else(|| "-".into()),
                publish_rate: format!("{:.1}/s", q["publish_rate"].as_f64().unwrap_or(0.0)),
                deliver_rate: format!("{:.1}/s", q["deliver_rate"].as_f64().unwrap_or(0.0)),
            })
            .collect(),
        outbox_backlog: n(&outbox.body["backlog"]),
        outbox_oldest: outbox.body["oldest_unpublished_secs"]
            .as_f64()
            .map(|a| format!("{a:.1} s"))
            .unwrap_or_else(|| "-".into()),
        relay_paused: relay.body["paused"] == true,
        backpressure: if backpressure.body["engaged"] == true {
            format!("engaged: analytics paused ({})", s(&backpressure.body["reason"]))
        } else {
            "released: all consumers running".into()
        },
        in_flight: in_flight
            .body
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| {
                (
                    s(&o["id"]),
                    s(&o["status"]),
                    s(&o["deadline_at"]).chars().take(19).collect(),
                    "order (reconciler)".into(),
                )
            })
            .collect(),
        compensations: parked
            .body
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| CompensationRow {
                id: s(&c["id"]),
                order_id: s(&c["order_id"]),
                kind: s(&c["kind"]),
                attempts: n(&c["attempts"]),
                last_error: s(&c["last_error"]),
            })
            .collect(),
        dead_letters: CONSUMING
            .iter()
            .zip(&dead)
            .flat_map(|(c, reply)| {
                reply
                    .body
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(move |d| DeadLetterRow {
                        service: c.name().to_string(),
                        event_type: s(&d["event_type"]),
                        event_id: s(&d["event_id"]),
                        correlation_id: s(&d["correlation_id"]),
                        reason: s(&d["reason"]),
                    })
            })
            .collect(),
        consumers: consumers
            .iter()
            .flat_map(|reply| {
                reply.body.as_array().into_iter().flatten().map(|c| ConsumerRow {
                    service: s(&c["name"]),
                    queue: s(&c["queue"]),
                    paused: c["paused"] == true,
                })
            })
            .collect(),
        faults: WITH_FAULTS
            .iter()
            .zip(&faults)
            .flat_map(|(c, reply)| {
                reply.body["faults"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(move |(op, f)| {
                        (
                            c.name().to_string(),
                            op.clone(),
                            format!(
                                "{} {}",
                                s(&f["mode"]),
                                f["remaining"]
                                    .as_i64()
                                    .map(|r| format!("({r} left)"))
                                    .unwrap_or_default()
                            ),
                        )
                    })
            })
            .collect(),
        restock_key: uuid::Uuid::new_v4().to_string(),
    };
    let mut res = render(StatusCode::OK, &page);
    if let Some(c) = new_cookie {
        let _ = res.add_cookie(&c);
    }
    res
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
}

async fn login(req: HttpRequest, form: web::Form<LoginForm>) -> HttpResponse {
    if !session::csrf_ok(&req, &form.csrf) {
        return forbidden();
    }
    let mut res = redirect("/ops");
    let _ = res.add_cookie(&session::cookie(session::ADMIN, form.token.trim().to_string()));
    res
}

#[derive(Deserialize)]
pub(crate) struct CsrfOnly {
    #[serde(default)]
    pub(crate) csrf: String,
}

async fn logout(req: HttpRequest, form: web::Form<CsrfOnly>) -> HttpResponse {
    if !session::csrf_ok(&req, &form.csrf) {
        return forbidden();
    }
    let mut res = redirect("/ops");
    let _ = res.add_cookie(&session::cookie(session::ADMIN, String::new()));
    res
}

pub(crate) fn forbidden() -> HttpResponse {
    views::error(
        StatusCode::FORBIDDEN,
        "Form expired",
        "Missing or wrong security token: reload the page and try again.",
    )
}

#[derive(Deserialize)]
struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    target: String,
}

fn component(name: &str) -> Option<Component> {
    Component::SERVICES.into_iter().find(|c| c.name() == name)
}

/// One operator action, performed by the service that owns it.
async fn action(
    req: HttpRequest,
    backend: web::Data<Backend>,
    correlation: CorrelationId,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    if !session::csrf_ok(&req, &form.csrf) {
        return forbidden();
    }
    let Some(token) = session::admin_token(&req) else {
        return views::error(
            StatusCode::UNAUTHORIZED,
            "Sign in first",
            "Operator actions need the admin token (printed by ./dev up).",
        );
    };
    let service = component(&form.service).unwrap_or(Component::Order);
    let target = form.target.as_str();
    let (method, path, body) = match form.action.as_str() {
        "replay_dead_letters" => (
            reqwest::Method::POST,
            "/admin/dead-letters/replay".to_string(),
            None,
        ),
        "retry_compensation" => (
            reqwest::Method::POST,
            format!("/admin/compensations/{target}/retry"),
            None,
        ),
        "pause_consumer" => (
            reqwest::Method::POST,
            format!("/admin/consumers/{}/pause", service.name()),
            None,
        ),
        "resume_consumer" => (
            reqwest::Method::POST,
            format!("/admin/consumers/{}/resume", service.name()),
            None,
        ),
        "pause_relay" => (reqwest::Method::POST, "/admin/relay/pause".to_string(), None),
        "resume_relay" => (reqwest::Method::POST, "/admin/relay/resume".to_string(), None),
        "fault_rate_limit" => (
            reqwest::Method::PUT,
            format!("/admin/faults/{target}"),
            Some(json!({ "mode": "rate_limit", "retry_after_secs": 1 })),
        ),
        "fault_error" => (
            reqwest::Method::PUT,
            format!("/admin/faults/{target}"),
            Some(json!({ "mode": "error" })),
        ),
        "fault_delay" => (
            reqwest::Method::PUT,
            format!("/admin/faults/{target}"),
            Some(json!({ "mode": "delay", "delay_ms": 1500 })),
        ),
        "fault_clear" => (reqwest::Method::DELETE, format!("/admin/faults/{target}"), None),
        "restock_hot" => (
            reqwest::Method::POST,
            "/admin/products/hot-sneaker/restock".to_string(),
            Some(json!({ "quantity": 10 })),
        ),
        _ => {
            return views::error(
                StatusCode::BAD_REQUEST,
                "Unknown action",
                "That operator action does not exist.",
            );
        }
    };
    let service = if matches!(
        form.action.as_str(),
        "retry_compensation" | "pause_relay" | "resume_relay"
    ) {
        Component::Order
    } else {
        service
    };
    // Only the restock changes stock; its key came with the form (see OpsPage::restock_key).
    let key_header = [("Idempotency-Key", target)];
    let headers: &[(&str, &str)] = if form.action == "restock_hot" {
        &key_header
    } else {
        &[]
    };
    let reply = backend
        .send(
            method,
            service,
            &path,
            body.as_ref(),
            &correlation,
            Some(&token),
            headers,
        )
        .await;
    if reply.status == 401 {
        return views::error(
            StatusCode::UNAUTHORIZED,
            "Wrong admin token",
            "The services refused the admin token. Sign out and enter the one printed by ./dev up.",
        );
    }
    if !reply.ok() {
        return views::error(StatusCode::BAD_GATEWAY, "The action failed", reply.message());
    }
    redirect(&format!("/ops?done={}", crate::shop::urlencode(&form.action)))
}
