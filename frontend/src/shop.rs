//! The shopper's pages: storefront, cart, checkout, order page with its live journey.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use futures_util::future::join_all;
use platform_config::Component;
use platform_contracts::money::format_minor;
use platform_telemetry::CorrelationId;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    backend::Backend,
    session::{self, Cart},
    views::{self, redirect, render, s},
};

pub fn routes(cfg: &mut web::ServiceConfig, backend: Backend) {
    cfg.app_data(web::Data::new(backend))
        .route("/", web::get().to(shop))
        .route("/status", web::get().to(status))
        .route("/api/stock", web::get().to(stock))
        .route("/cart", web::get().to(cart))
        .route("/cart/add", web::post().to(cart_add))
        .route("/cart/remove", web::post().to(cart_remove))
        .route("/checkout", web::post().to(checkout))
        .route("/orders", web::get().to(my_orders))
        .route("/orders/{id}", web::get().to(order_page))
        .route("/orders/{id}/journey-fragment", web::get().to(journey_fragment));
}

pub struct ProductView {
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price: String,
    pub price_minor: i64,
    pub available: i64,
    pub hot: bool,
}

fn products(body: &Value) -> Vec<ProductView> {
    body.as_array()
        .into_iter()
        .flatten()
        .map(|p| ProductView {
            sku: s(&p["sku"]),
            name: s(&p["name"]),
            description: s(&p["description"]),
            price: format_minor(
                p["price_minor"].as_i64().unwrap_or(0),
                p["currency"].as_str().unwrap_or("EUR"),
            ),
            price_minor: p["price_minor"].as_i64().unwrap_or(0),
            available: p["available"].as_i64().unwrap_or(0),
            hot: p["hot"].as_bool().unwrap_or(false),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "shop.html")]
struct ShopPage {
    products: Vec<ProductView>,
    csrf: String,
    cart_items: i64,
    problem: Option<String>,
}

async fn shop(req: HttpRequest, backend: web::Data<Backend>, correlation: CorrelationId) -> HttpResponse {
    let reply = backend.get(Component::Inventory, "/products", &correlation).await;
    let (csrf, new_cookie) = session::csrf_token(&req);
    let page = ShopPage {
        products: products(&reply.body),
        csrf,
        cart_items: session::cart(&req).values().sum(),
        problem: (!reply.ok()).then(|| reply.message()),
    };
    let mut res = render(StatusCode::OK, &page);
    if let Some(c) = new_cookie {
        let _ = res.add_cookie(&c);
    }
    res
}

/// Live stock for the storefront's polling script: `{sku: available}`.
async fn stock(backend: web::Data<Backend>, correlation: CorrelationId) -> HttpResponse {
    let reply = backend.get(Component::Inventory, "/products", &correlation).await;
    let stock: BTreeMap<String, i64> = products(&reply.body)
        .into_iter()
        .map(|p| (p.sku, p.available))
        .collect();
    HttpResponse::Ok().json(stock)
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    services: Vec<(String, String, bool, String)>,
}

/// Is every part of the platform up?
async fn status(backend: web::Data<Backend>, correlation: CorrelationId) -> HttpResponse {
    let checks = backend.services().iter().map(|(component, url)| {
        let (backend, correlation) = (backend.clone(), correlation.clone());
        async move {
            let reply = backend.get(*component, "/health/ready", &correlation).await;
            let detail = if reply.ok() {
                "ready".to_string()
            } else {
                reply.body["reason"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| reply.message())
            };
            (component.name().to_string(), url.clone(), reply.ok(), detail)
        }
    });
    render(
        StatusCode::OK,
        &StatusPage {
            services: join_all(checks).await,
        },
    )
}

pub struct CartLine {
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub subtotal: String,
}

#[derive(Template)]
#[template(path = "cart.html")]
struct CartPage {
    lines: Vec<CartLine>,
    total: String,
    csrf: String,
    customer: String,
    cards: Vec<(String, String)>,
    idempotency_key: String,
}

async fn cart(req: HttpRequest, backend: web::Data<Backend>, correlation: CorrelationId) -> HttpResponse {
    let cart = session::cart(&req);
    let catalog = products(
        &backend
            .get(Component::Inventory, "/products", &correlation)
            .await
            .body,
    );
    let price = |sku: &str| -> (String, i64) {
        catalog
            .iter()
            .find(|p| p.sku == sku)
            .map(|p| (p.name.clone(), p.price_minor))
            .unwrap_or_else(|| (sku.to_string(), 0))
    };
    let mut total = 0;
    let lines = cart
        .iter()
        .map(|(sku, qty)| {
            let (name, unit) = price(sku);
            total += unit * qty;
            CartLine {
                sku: sku.clone(),
                name,
                quantity: *qty,
                subtotal: format_minor(unit * qty, "EUR"),
            }
        })
        .collect();
    let cards_reply = backend.get(Component::Payment, "/test-cards", &correlation).await;
    let cards = cards_reply
        .body
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| (s(&c["number"]), s(&c["behaviour"])))
        .collect();
    let (csrf, new_cookie) = session::csrf_token(&req);
    let page = CartPage {
        lines,
        total: format_minor(total, "EUR"),
        csrf,
        customer: session::customer(&req).unwrap_or_default(),
        cards,
        // One key per checkout attempt, made when the form is rendered: a double click or a
        // resubmitted form sends the same key, and the order service answers with the same
        // order instead of creating a second one.
        idempotency_key: uuid::Uuid::new_v4().to_string(),
    };
    let mut res = render(StatusCode::OK, &page);
    if let Some(c) = new_cookie {
        let _ = res.add_cookie(&c);
    }
    res
}

#[derive(Deserialize)]
struct CartForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    sku: String,
    #[serde(default)]
    quantity: Option<i64>,
}

fn forbidden() -> HttpResponse {
    views::error(
        StatusCode::FORBIDDEN,
        "Form expired",
        "This form is not valid any more (missing or wrong security token). Go back, reload the page and try again.",
    )
}

async fn cart_add(req: HttpRequest, form: web::Form<CartForm>) -> HttpResponse {
    if !session::csrf_ok(&req, &form.csrf) {
        return forbidden();
    }
    let mut cart: Cart = session::cart(&req);
    let qty = form.quantity.unwrap_or(1).clamp(1, 100);
    let entry = cart.entry(form.sku.clone()).or_default();
    *entry = (*entry + qty).min(100);
    let mut res = redirect("/cart");
    let _ = res.add_cookie(&session::cart_cookie(&cart));
    res
}

async fn cart_remove(req: HttpRequest, form: web::Form<CartForm>) -> HttpResponse {
    if !session::csrf_ok(&req, &form.csrf) {
        return forbidden();
    }
    let mut cart = session::cart(&req);
    cart.remove(&form.sku);
    let mut res = redirect("/cart");
    let _ = res.add_cookie(&session::cart_cookie(&cart));
    res
}

#[derive(Deserialize)]
struct CheckoutForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    customer: String,
    #[serde(default)]
    card: String,
    #[serde(default)]
    idempotency_key: String,
}

async fn checkout(
    req: HttpRequest,
    backend: web::Data<Backend>,
    correlation: CorrelationId,
    form: web::Form<CheckoutForm>,
) -> HttpResponse {
    if !session::csrf_ok(&req, &form.csrf) {
        return forbidden();
    }
    let cart = session::cart(&req);
    if cart.is_empty() {
        return redirect("/cart");
    }
    let body = json!({
        "customer_id": form.customer.trim(),
        "lines": cart.iter().map(|(sku, q)| json!({ "sku": sku, "quantity": q })).collect::<Vec<_>>(),
        "card_number": form.card,
    });
    let reply = backend
        .send(
            reqwest::Method::POST,
            Component::Order,
            "/orders",
            Some(&body),
            &correlation,
            None,
            &[("Idempotency-Key", form.idempotency_key.as_str())],
        )
        .await;
    let order_id = reply.body["id"]
        .as_str()
        .or_else(|| reply.body["error"]["details"]["order_id"].as_str())
        .map(String::from);
    match (reply.status, order_id) {
        (201 | 202 | 402 | 409, Some(id)) => {
            let mut res = redirect(&format!("/orders/{id}"));
            let _ = res.add_cookie(&session::cookie(
                session::CUSTOMER,
                form.customer.trim().to_string(),
            ));
            if reply.status != 409 || reply.body["status"].is_string() {
                let _ = res.add_cookie(&session::cart_cookie(&Cart::new()));
            }
            res
        }
        (400 | 409 | 422, _) => views::error(
            StatusCode::BAD_REQUEST,
            "We could not place this order",
            reply.message(),
        ),
        _ => views::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Please try again in a moment",
            format!("{} Nothing was charged.", reply.message()),
        ),
    }
}

pub struct OrderLineView {
    pub sku: String,
    pub quantity: i64,
    pub subtotal: String,
}

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage {
    id: String,
    status: String,
    outcome: String,
    reason: String,
    correlation_id: String,
    total: String,
    lines: Vec<OrderLineView>,
    journey: JourneyFragment,
}

async fn order_page(
    backend: web::Data<Backend>,
    correlation: CorrelationId,
    id: web::Path<String>,
) -> HttpResponse {
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return views::not_found().await;
    };
    let reply = backend
        .get(Component::Order, &format!("/orders/{id}"), &correlation)
        .await;
    if reply.status == 404 {
        return views::not_found().await;
    }
    if !reply.ok() {
        return views::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "This order cannot be shown right now",
            reply.message(),
        );
    }
    let o = &reply.body;
    let status = s(&o["status"]);
    let outcome = match status.as_str() {
        "confirmed" => "Your order is confirmed.",
        "rejected" => "Your order was not placed.",
        "cancelled" => "Your order was cancelled; nothing was charged.",
        _ => "We are still working on your order. This page updates by itself.",
    }
    .to_string();
    let currency = o["currency"].as_str().unwrap_or("EUR").to_string();
    let page = OrderPage {
        id: id.to_string(),
        outcome,
        reason: s(&o["reason"]),
        correlation_id: s(&o["correlation_id"]),
        total: o["total_minor"]
            .as_i64()
            .map(|t| format_minor(t, &currency))
            .unwrap_or_default(),
        lines: o["lines"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| OrderLineView {
                sku: s(&l["sku"]),
                quantity: l["quantity"].as_i64().unwrap_or(0),
                subtotal: l["unit_price_minor"]
                    .as_i64()
                    .map(|p| format_minor(p * l["quantity"].as_i64().unwrap_or(0), &currency))
                    .unwrap_or_default(),
            })
            .collect(),
        journey: journey(&backend, &correlation, &id.to_string()).await,
        status,
    };
    render(StatusCode::OK, &page)
}

pub struct StepView {
    pub service: String,
    pub step: String,
    pub status: String,
    pub at: String,
    pub correlation_id: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "journey_fragment.html")]
pub struct JourneyFragment {
    pub available: bool,
    pub done: bool,
    pub status: String,
    pub pending: Vec<(String, String)>,
    pub steps: Vec<StepView>,
    pub correlation_consistent: bool,
}

async fn journey(backend: &Backend, correlation: &CorrelationId, id: &str) -> JourneyFragment {
    let reply = backend
        .get(Component::Order, &format!("/orders/{id}/journey"), correlation)
        .await;
    let j = &reply.body;
    let mut steps: Vec<StepView> = j["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|st| StepView {
            service: s(&st["service"]),
            step: s(&st["step"]),
            status: s(&st["status"]),
            at: s(&st["at"]).chars().take(23).collect(),
            correlation_id: s(&st["correlation_id"]),
            detail: s(&st["detail"]),
        })
        .collect();
    // In time order; steps without a time (current states) last.
    steps.sort_by(|a, b| (a.at.is_empty(), &a.at).cmp(&(b.at.is_empty(), &b.at)));
    JourneyFragment {
        available: reply.ok(),
        done: j["done"] == true,
        status: s(&j["status"]),
        pending: j["pending"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| (s(&p["what"]), s(&p["owner"])))
            .collect(),
        steps,
        correlation_consistent: j["correlation_consistent"] == true,
    }
}

/// The live part of the order page, fetched by its polling script.
async fn journey_fragment(
    backend: web::Data<Backend>,
    correlation: CorrelationId,
    id: web::Path<String>,
) -> HttpResponse {
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return views::not_found().await;
    };
    let fragment = journey(&backend, &correlation, &id.to_string()).await;
    let mut res = render(StatusCode::OK, &fragment);
    res.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("x-journey-done"),
        actix_web::http::header::HeaderValue::from_static(if fragment.done { "true" } else { "false" }),
    );
    res
}

#[derive(Deserialize)]
struct OrdersQuery {
    customer: Option<String>,
}

pub struct OrderRow {
    pub id: String,
    pub status: String,
    pub total: String,
    pub created_at: String,
}

#[derive(Template)]
#[template(path = "orders.html")]
struct OrdersPage {
    customer: String,
    orders: Vec<OrderRow>,
}

async fn my_orders(
    req: HttpRequest,
    backend: web::Data<Backend>,
    correlation: CorrelationId,
    query: web::Query<OrdersQuery>,
) -> HttpResponse {
    let customer = query
        .customer
        .clone()
        .or_else(|| session::customer(&req))
        .unwrap_or_default();
    let orders = if customer.is_empty() {
        Vec::new()
    } else {
        let path = format!("/orders?customer={}", urlencode(&customer));
        let reply = backend.get(Component::Order, &path, &correlation).await;
        reply
            .body
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| OrderRow {
                id: s(&o["id"]),
                status: s(&o["status"]),
                total: o["total_minor"]
                    .as_i64()
                    .map(|t| format_minor(t, "EUR"))
                    .unwrap_or_default(),
                created_at: s(&o["created_at"]).chars().take(19).collect(),
            })
            .collect()
    };
    render(StatusCode::OK, &OrdersPage { customer, orders })
}

pub fn urlencode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
