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
use platform_contracts::{
    analytics::{BACKPRESSURE_PATH, Backpressure},
    effects::{INTEGRITY_PATH, IntegrityReport},
    email::{Email, RETRY_FAILED_PATH},
    evolution::{CONTRACTS_PATH, ContractUse},
    inventory::RestockRequest,
    ops::{
        ALERTS_PATH, Alerts, CONSUMERS_PATH, Consumer, DEAD_LETTERS_PATH, DeadLetter, FAULTS_PATH, Fault,
        FaultMode, FaultSwitches, OUTBOX_PATH, OutboxStats, QUEUES_PATH, QueueSnapshot, RELAY_PATH,
        REPLICA_PATH, ReaderMode, ReaderSwitch, RelayState, ReplicaStatus,
    },
    order::{Compensation, Order},
};
use platform_telemetry::CorrelationId;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{
    backend::{Backend, BadAnswer, Page, Reply},
    charts::{self, Drawn},
    session,
    topology::{self, Reading, Topology},
    views::{self, redirect, render_form, time},
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
    pub messages: u64,
    pub ready: u64,
    pub unacked: u64,
    pub consumers: u64,
    pub oldest: String,
    pub publish_rate: String,
    pub deliver_rate: String,
}

pub struct ContractRow {
    pub service: String,
    pub produces: String,
    pub reads: String,
    pub old_reads: String,
}

impl From<ContractUse> for ContractRow {
    fn from(c: ContractUse) -> Self {
        let list = |items: Vec<String>| match items.is_empty() {
            true => "none".to_string(),
            false => items.join(", "),
        };
        Self {
            produces: list(
                c.produces
                    .iter()
                    .map(|p| format!("{} v{}", p.event_type, p.version))
                    .collect(),
            ),
            reads: list(
                c.reads
                    .iter()
                    .map(|r| format!("{} {:?}", r.event_type, r.versions))
                    .collect(),
            ),
            old_reads: list(
                c.old_field_reads
                    .iter()
                    .map(|r| {
                        format!(
                            "{}.{}: {} (last {})",
                            r.event_type,
                            r.field,
                            r.count,
                            time(&r.last_at, 19)
                        )
                    })
                    .chain(c.upcasts.iter().map(|u| {
                        format!(
                            "{} v{} upcast: {} (last {})",
                            u.event_type,
                            u.from_version,
                            u.count,
                            time(&u.last_at, 19)
                        )
                    }))
                    .collect(),
            ),
            service: c.service,
        }
    }
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
    /// The reader it reads events with: tolerant, or the scenario's strict v1 reader.
    pub strict: bool,
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
    /// Emails that ran out of attempts: (order, recipient, last error).
    failed_emails: Vec<(String, String, String)>,
    /// What each service produces and reads, and the old fields it still reads.
    contracts: Vec<ContractRow>,
    /// Each service's view of the read replica: (service, state, lag).
    replica: Vec<(String, String, String)>,
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
    /// The last 15 minutes, from Prometheus.
    charts: Vec<Drawn>,
    /// PostgreSQL's primary, RabbitMQ's nodes, the instances behind HAProxy (topology.html).
    topology: Topology,
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
        .request(reqwest::Method::GET, c, path, corr)
        .admin(token)
        .send()
        .await
}

/// A fault switch in this mode, with nothing else set.
pub(crate) fn switch(mode: FaultMode) -> Fault {
    Fault {
        mode,
        remaining: None,
        delay_ms: None,
        retry_after_secs: None,
    }
}

/// Each service's answer to the same call, read as `T`; empty for a service that answered
/// an error (or not at all), which shows as nothing in its panel.
/// How a service reads: from the replica, or from the primary and why.
pub fn replica_state(r: &ReplicaStatus) -> String {
    match (r.configured, r.usable) {
        (false, _) => "primary only (no replica configured)".into(),
        (true, true) => "replica in use".into(),
        (true, false) => "replica unusable (lagging or down): reads from the primary".into(),
    }
}

fn each<T: DeserializeOwned + Default>(replies: &[Reply]) -> Result<Vec<T>, BadAnswer> {
    replies
        .iter()
        .map(|reply| Ok(reply.json_if_ok()?.unwrap_or_default()))
        .collect()
}

async fn ops(
    req: HttpRequest,
    backend: web::Data<Backend>,
    chart_source: web::Data<charts::Source>,
    topology_source: web::Data<topology::Source>,
    correlation: CorrelationId,
    flash: web::Query<Flash>,
) -> Page {
    let token = session::admin_token(&req);
    let t = token.as_deref();
    let corr = &correlation;
    // The topology's sources are read alongside the first calls (each within a second).
    let (queues, alerts, outbox, backpressure, integrity, topology) = tokio::join!(
        backend.get(Component::Order, QUEUES_PATH, corr),
        backend.get(Component::Order, ALERTS_PATH, corr),
        backend.get(Component::Order, OUTBOX_PATH, corr),
        backend.get(Component::Analytics, BACKPRESSURE_PATH, corr),
        backend.get(Component::Order, INTEGRITY_PATH, corr),
        topology_source.read(),
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
        admin_get(&backend, Component::Order, RELAY_PATH, corr, t),
    );
    let dead = join_all(
        CONSUMING
            .iter()
            .map(|c| admin_get(&backend, *c, DEAD_LETTERS_PATH, corr, t)),
    )
    .await;
    let consumers = join_all(
        CONSUMING
            .iter()
            .map(|c| admin_get(&backend, *c, CONSUMERS_PATH, corr, t)),
    )
    .await;
    let faults = join_all(
        WITH_FAULTS
            .iter()
            .map(|c| admin_get(&backend, *c, FAULTS_PATH, corr, t)),
    )
    .await;
    let replica = join_all(
        Component::SERVICES
            .iter()
            .map(|c| backend.get(*c, REPLICA_PATH, corr)),
    )
    .await;
    let failed_emails = backend
        .request(
            reqwest::Method::GET,
            Component::Email,
            "/emails?status=failed&limit=100",
            corr,
        )
        .admin(t)
        .send()
        .await;
    let contracts = join_all(
        Component::SERVICES
            .iter()
            .map(|c| backend.get(*c, CONTRACTS_PATH, corr)),
    )
    .await;
    let signed_in = t.is_some() && relay.ok();
    let queues: QueueSnapshot = queues.json_if_ok()?.unwrap_or_default();
    let alerts: Alerts = alerts.json_if_ok()?.unwrap_or_default();
    let outbox: OutboxStats = outbox.json_if_ok()?.unwrap_or_default();
    let relay: RelayState = relay.json_if_ok()?.unwrap_or_default();
    let backpressure: Option<Backpressure> = backpressure.json_if_ok()?;
    let in_flight: Vec<Order> = in_flight.json_if_ok()?.unwrap_or_default();
    let parked: Vec<Compensation> = parked.json_if_ok()?.unwrap_or_default();
    let dead: Vec<Vec<DeadLetter>> = each(&dead)?;
    let consumers: Vec<Vec<Consumer>> = each(&consumers)?;
    let faults: Vec<FaultSwitches> = each(&faults)?;
    let charts = chart_source.draw_all(charts::OPS).await;
    let (csrf, new_cookie) = session::csrf_token(&req);
    let page = OpsPage {
        charts,
        topology,
        csrf,
        signed_in,
        flash: flash.done.clone().unwrap_or_default(),
        alerts: alerts
            .active
            .into_iter()
            .map(|a| (a.name, a.severity.to_string(), a.message, time(&a.since, 19)))
            .collect(),
        integrity: integrity.json_if_ok::<IntegrityReport>()?.unwrap_or_default(),
        failed_emails: failed_emails
            .json_if_ok::<Vec<Email>>()?
            .unwrap_or_default()
            .into_iter()
            .map(|e| {
                (
                    e.order_id.to_string(),
                    e.recipient,
                    e.last_error.unwrap_or_default(),
                )
            })
            .collect(),
        contracts: each::<ContractUse>(&contracts)?
            .into_iter()
            .filter(|c| !c.service.is_empty())
            .map(ContractRow::from)
            .collect(),
        replica: Component::SERVICES
            .iter()
            .zip(each::<ReplicaStatus>(&replica)?)
            .map(|(c, r)| {
                (
                    c.name().to_string(),
                    replica_state(&r),
                    format!("{} ms, {} bytes", r.lag_millis, r.lag_bytes),
                )
            })
            .collect(),
        queues: queues
            .queues
            .into_iter()
            .map(|q| QueueRow {
                role: q.role.to_string(),
                messages: q.messages,
                ready: q.ready,
                unacked: q.unacked,
                consumers: q.consumers,
                oldest: q
                    .oldest_age_secs
                    .map(|a| format!("{a:.0} s"))
                    .unwrap_or_else(|| "-".into()),
                publish_rate: format!("{:.1}/s", q.publish_rate),
                deliver_rate: format!("{:.1}/s", q.deliver_rate),
                name: q.name,
            })
            .collect(),
        outbox_backlog: outbox.backlog,
        outbox_oldest: outbox
            .oldest_unpublished_secs
            .map(|a| format!("{a:.1} s"))
            .unwrap_or_else(|| "-".into()),
        relay_paused: relay.paused,
        backpressure: match backpressure {
            Some(b) if b.engaged => format!("engaged: analytics paused ({})", b.reason.unwrap_or_default()),
            _ => "released: all consumers running".into(),
        },
        in_flight: in_flight
            .into_iter()
            .map(|o| {
                (
                    o.id.to_string(),
                    o.status.to_string(),
                    time(&o.deadline_at, 19),
                    "order (reconciler)".into(),
                )
            })
            .collect(),
        compensations: parked
            .into_iter()
            .map(|c| CompensationRow {
                id: c.id.to_string(),
                order_id: c.order_id.to_string(),
                kind: c.kind.to_string(),
                attempts: c.attempts.into(),
                last_error: c.last_error.unwrap_or_default(),
            })
            .collect(),
        dead_letters: CONSUMING
            .iter()
            .zip(dead)
            .flat_map(|(c, letters)| {
                letters.into_iter().map(move |d| DeadLetterRow {
                    service: c.name().to_string(),
                    event_type: d.event_type.unwrap_or_default(),
                    event_id: d.event_id.unwrap_or_default(),
                    correlation_id: d.correlation_id.unwrap_or_default(),
                    reason: d.reason.unwrap_or_default(),
                })
            })
            .collect(),
        consumers: consumers
            .into_iter()
            .flatten()
            .map(|c| ConsumerRow {
                service: c.name,
                queue: c.queue,
                paused: c.paused,
                strict: c.reader == ReaderMode::StrictV1,
            })
            .collect(),
        faults: WITH_FAULTS
            .iter()
            .zip(faults)
            .flat_map(|(c, switches)| {
                switches.faults.into_iter().map(move |(op, f)| {
                    (
                        c.name().to_string(),
                        op,
                        format!(
                            "{} {}",
                            f.mode,
                            f.remaining.map(|r| format!("({r} left)")).unwrap_or_default()
                        ),
                    )
                })
            })
            .collect(),
        restock_key: uuid::Uuid::new_v4().to_string(),
    };
    Ok(render_form(&page, new_cookie))
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

/// What an action sends: a fault switch (shared/http's type) or a restock (inventory's).
#[derive(Serialize)]
#[serde(untagged)]
enum ActionBody {
    Fault(Fault),
    Restock(RestockRequest),
    Reader(ReaderSwitch),
}

/// The switch a fault action turns on.
fn fault_switch(action: &str) -> Option<Fault> {
    match action {
        "fault_rate_limit" => Some(Fault {
            retry_after_secs: Some(1),
            ..switch(FaultMode::RateLimit)
        }),
        "fault_error" => Some(switch(FaultMode::Error)),
        "fault_delay" => Some(Fault {
            delay_ms: Some(1500),
            ..switch(FaultMode::Delay)
        }),
        _ => None,
    }
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
        "reader_tolerant" => (
            reqwest::Method::PUT,
            format!("/admin/consumers/{}/reader", service.name()),
            Some(ActionBody::Reader(ReaderSwitch {
                mode: ReaderMode::Tolerant,
            })),
        ),
        "retry_failed_emails" => (reqwest::Method::POST, RETRY_FAILED_PATH.to_string(), None),
        "pause_relay" => (reqwest::Method::POST, "/admin/relay/pause".to_string(), None),
        "resume_relay" => (reqwest::Method::POST, "/admin/relay/resume".to_string(), None),
        action @ ("fault_rate_limit" | "fault_error" | "fault_delay") => (
            reqwest::Method::PUT,
            format!("/admin/faults/{target}"),
            fault_switch(action).map(ActionBody::Fault),
        ),
        "fault_clear" => (reqwest::Method::DELETE, format!("/admin/faults/{target}"), None),
        "restock_hot" => (
            reqwest::Method::POST,
            "/admin/products/hot-sneaker/restock".to_string(),
            Some(ActionBody::Restock(RestockRequest { quantity: 10 })),
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
    let mut call = backend
        .request(method, service, &path, &correlation)
        .admin(Some(&token));
    if form.action == "restock_hot" {
        call = call.idempotency_key(target);
    }
    if let Some(body) = &body {
        call = call.json(body);
    }
    let reply = call.send().await;
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
