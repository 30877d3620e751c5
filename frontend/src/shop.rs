//! The shopper's pages: storefront, cart, checkout, order page with its live journey.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use futures_util::future::join_all;
use platform_config::Component;
use platform_contracts::{
    inventory::{PRODUCTS_PATH, Product},
    journey::{Journey, journey_path},
    money::format_minor,
    ops::{READY_PATH, Readiness},
    order::{
        CancelRequest, LineInput, ORDERS_PATH, Order, OrderStatus, OrderView, PlaceOrder, cancel_path,
        order_path,
    },
    payment::{TEST_CARDS_PATH, TestCard},
};
use platform_telemetry::CorrelationId;
use serde::Deserialize;
use uuid::Uuid;

use crate::{
    backend::{Backend, BadAnswer, Page, Reply},
    session::{self, Cart},
    views::{self, redirect, render, render_form, time},
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
        .route("/orders/{id}/cancel", web::post().to(cancel_order))
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

/// The catalog inventory answered with (empty when it answered an error).
fn products(reply: &Reply) -> Result<Vec<ProductView>, BadAnswer> {
    let catalog: Vec<Product> = reply.json_if_ok()?.unwrap_or_default();
    Ok(catalog
        .into_iter()
        .map(|p| ProductView {
            price: format_minor(p.price_minor, &p.currency),
            price_minor: p.price_minor,
            available: p.available.into(),
            hot: p.hot,
            sku: p.sku,
            name: p.name,
            description: p.description,
        })
        .collect())
}

#[derive(Template)]
#[template(path = "shop.html")]
struct ShopPage {
    products: Vec<ProductView>,
    csrf: String,
    cart_items: i64,
    problem: Option<String>,
}

async fn shop(req: HttpRequest, backend: web::Data<Backend>, correlation: CorrelationId) -> Page {
    // Stock is shown as the replica has it (a moment late while it lags): the reservation,
    // on the primary, is what decides whether there is any.
    let reply = backend
        .get(Component::Inventory, PRODUCTS_PATH, &correlation)
        .await;
    let (csrf, new_cookie) = session::csrf_token(&req);
    let page = ShopPage {
        products: products(&reply)?,
        csrf,
        cart_items: session::cart(&req).values().sum(),
        problem: (!reply.ok()).then(|| reply.message()),
    };
    Ok(render_form(&page, new_cookie))
}

/// Live stock for the storefront's polling script: `{sku: available}`.
async fn stock(backend: web::Data<Backend>, correlation: CorrelationId) -> Page {
    let reply = backend
        .get(Component::Inventory, PRODUCTS_PATH, &correlation)
        .await;
    let stock: BTreeMap<String, i64> = products(&reply)?
        .into_iter()
        .map(|p| (p.sku, p.available))
        .collect();
    Ok(HttpResponse::Ok().json(stock))
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
            let reply = backend.get(*component, READY_PATH, &correlation).await;
            // Not ready: the reason it gives, or the error of a service that did not answer.
            let detail = if reply.ok() {
                "ready".to_string()
            } else {
                reply
                    .json::<Readiness>()
                    .ok()
                    .and_then(|r| r.reason)
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

async fn cart(req: HttpRequest, backend: web::Data<Backend>, correlation: CorrelationId) -> Page {
    let cart = session::cart(&req);
    let catalog = products(
        &backend
            .get(Component::Inventory, PRODUCTS_PATH, &correlation)
            .await,
    )?;
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
    let cards: Vec<TestCard> = backend
        .get(Component::Payment, TEST_CARDS_PATH, &correlation)
        .await
        .json_if_ok()?
        .unwrap_or_default();
    let cards = cards.into_iter().map(|c| (c.number, c.behaviour)).collect();
    let (csrf, new_cookie) = session::csrf_token(&req);
    let page = CartPage {
        lines,
        total: format_minor(total, "EUR"),
        csrf,
        customer: session::signed_in(&req).unwrap_or_default(),
        cards,
        // One key per checkout attempt, made when the form is rendered: a double click or a
        // resubmitted form sends the same key, and the order service answers with the same
        // order instead of creating a second one.
        idempotency_key: Uuid::new_v4().to_string(),
    };
    Ok(render_form(&page, new_cookie))
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
    card: String,
    #[serde(default)]
    idempotency_key: String,
}

/// The `details` of the order service's 409 `request_in_flight` (a checkout with the same
/// key still running): the order it is creating, if it got that far.
#[derive(Deserialize)]
struct InFlight {
    order_id: Option<Uuid>,
}

async fn checkout(
    req: HttpRequest,
    backend: web::Data<Backend>,
    correlation: CorrelationId,
    form: web::Form<CheckoutForm>,
) -> Page {
    if !session::csrf_ok(&req, &form.csrf) {
        return Ok(forbidden());
    }
    let cart = session::cart(&req);
    if cart.is_empty() {
        return Ok(redirect("/cart"));
    }
    // The order service takes the customer from their token, never from the form.
    let Some(customer) = session::signed_in(&req) else {
        return Ok(redirect("/signin"));
    };
    let backend = backend.reading_as(&req);
    let order = PlaceOrder {
        customer_id: customer,
        lines: cart
            .iter()
            .map(|(sku, quantity)| LineInput {
                sku: sku.clone(),
                quantity: *quantity,
            })
            .collect(),
        card_number: form.card.clone(),
    };
    let reply = backend
        .request(reqwest::Method::POST, Component::Order, ORDERS_PATH, &correlation)
        .idempotency_key(&form.idempotency_key)
        .json(&order)
        .send()
        .await;
    // The order, when the checkout reached one: 201 confirmed, 202 still in progress, 402
    // declined, 409 rejected; a 409 is also a checkout with the same key still running.
    let placed = match reply.status {
        201 | 202 | 402 => Some(reply.json::<OrderView>()?),
        409 => reply.json::<OrderView>().ok(),
        _ => None,
    };
    let order_id = placed.as_ref().map(|view| view.order.id).or_else(|| {
        reply
            .error()
            .and_then(|e| e.details_as::<InFlight>())
            .and_then(|d| d.order_id)
    });
    Ok(match (reply.status, order_id) {
        (201 | 202 | 402 | 409, Some(id)) => {
            let mut res = redirect(&format!("/orders/{id}"));
            // Their next pages read with it: their order is there even if the replica lags.
            if let Some(token) = &reply.consistency {
                let _ = res.add_cookie(&session::cookie(session::CONSISTENCY, token.clone()));
            }
            // Only an order that exists empties the cart (not one still being created).
            if placed.is_some() {
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
    })
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
    /// A confirmed order can be cancelled (until it ships): the form's token and key.
    cancellable: bool,
    csrf: String,
    cancel_key: String,
}

#[derive(Deserialize)]
struct CancelForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    reason: String,
}

/// The shopper cancels: the order service decides (cancel.rs) and gives the stock and the
/// money back. The form carries its own Idempotency-Key, made when the page was rendered: a
/// double click cancels (and refunds) once.
async fn cancel_order(
    req: HttpRequest,
    backend: web::Data<Backend>,
    correlation: CorrelationId,
    id: web::Path<String>,
    form: web::Form<CancelForm>,
) -> Page {
    if !session::csrf_ok(&req, &form.csrf) {
        return Ok(forbidden());
    }
    let Ok(id) = Uuid::parse_str(&id) else {
        return Ok(views::not_found().await);
    };
    // As the signed-in customer: the order service cancels only their own orders.
    let backend = backend.reading_as(&req);
    let body = CancelRequest {
        reason: Some(form.reason.trim().to_string()).filter(|r| !r.is_empty()),
    };
    let reply = backend
        .request(
            reqwest::Method::POST,
            Component::Order,
            &cancel_path(id),
            &correlation,
        )
        .idempotency_key(&form.idempotency_key)
        .json(&body)
        .send()
        .await;
    Ok(match reply.status {
        200 => {
            let mut res = redirect(&format!("/orders/{id}"));
            if let Some(token) = &reply.consistency {
                let _ = res.add_cookie(&session::cookie(session::CONSISTENCY, token.clone()));
            }
            res
        }
        404 => views::not_found().await,
        400 | 409 | 422 => views::error(
            StatusCode::CONFLICT,
            "This order cannot be cancelled",
            reply.message(),
        ),
        _ => views::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Please try again in a moment",
            format!("{} Your order is unchanged.", reply.message()),
        ),
    })
}

async fn order_page(
    req: HttpRequest,
    backend: web::Data<Backend>,
    correlation: CorrelationId,
    id: web::Path<String>,
) -> Page {
    let backend = backend.reading_as(&req);
    let Ok(id) = Uuid::parse_str(&id) else {
        return Ok(views::not_found().await);
    };
    let reply = backend.get(Component::Order, &order_path(id), &correlation).await;
    if reply.status == 404 {
        return Ok(views::not_found().await);
    }
    if reply.status == 401 {
        return Ok(views::error(
            StatusCode::UNAUTHORIZED,
            "Sign in to see this order",
            "An order is shown to its customer only: sign in (the Sign in page) and come back.",
        ));
    }
    if !reply.ok() {
        return Ok(views::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "This order cannot be shown right now",
            reply.message(),
        ));
    }
    let OrderView { order, lines, .. } = reply.json()?;
    let (csrf, new_cookie) = session::csrf_token(&req);
    let outcome = match order.status {
        OrderStatus::Confirmed => "Your order is confirmed.",
        OrderStatus::Rejected => "Your order was not placed.",
        OrderStatus::Cancelled if order.reason_code.as_deref() == Some("cancelled_by_customer") => {
            "You cancelled this order: its stock is back on sale and your money on its way back."
        }
        OrderStatus::Cancelled => "Your order was cancelled; nothing was charged.",
        OrderStatus::Pending | OrderStatus::StockReserved => {
            "We are still working on your order. This page updates by itself."
        }
    }
    .to_string();
    let currency = order.currency.as_str();
    let page = OrderPage {
        id: id.to_string(),
        status: order.status.to_string(),
        outcome,
        reason: order.reason.clone().unwrap_or_default(),
        correlation_id: order.correlation_id.clone(),
        total: order
            .total_minor
            .map(|t| format_minor(t, currency))
            .unwrap_or_default(),
        lines: lines
            .into_iter()
            .map(|l| OrderLineView {
                subtotal: l
                    .unit_price_minor
                    .map(|p| format_minor(p * i64::from(l.quantity), currency))
                    .unwrap_or_default(),
                quantity: l.quantity.into(),
                sku: l.sku,
            })
            .collect(),
        journey: journey(&backend, &correlation, id).await,
        // Only its customer may cancel it (an operator looking at it sees no button).
        cancellable: order.status == OrderStatus::Confirmed
            && session::signed_in(&req).as_deref() == Some(order.customer_id.as_str()),
        csrf,
        cancel_key: Uuid::new_v4().to_string(),
    };
    Ok(render_form(&page, new_cookie))
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
    /// The same journey as a swimlane picture (journey_picture.rs), an SVG.
    pub picture: String,
}

async fn journey(backend: &Backend, correlation: &CorrelationId, id: Uuid) -> JourneyFragment {
    let reply = backend
        .get(Component::Order, &journey_path(id), correlation)
        .await;
    // A journey that does not read is shown as not available (the fragment is polled into
    // the order page, which stays readable), and logged.
    let journey = reply.json_if_ok::<Journey>().unwrap_or_else(|bad| {
        tracing::error!(error = %bad, "the order journey does not fit its contract");
        None
    });
    let Some(journey) = journey else {
        return JourneyFragment {
            available: false,
            done: false,
            status: String::new(),
            pending: Vec::new(),
            steps: Vec::new(),
            correlation_consistent: false,
            picture: String::new(),
        };
    };
    let mut steps: Vec<StepView> = journey
        .steps
        .into_iter()
        .map(|st| StepView {
            status: st.status.to_string(),
            at: st.at.map(|t| time(&t, 23)).unwrap_or_default(),
            correlation_id: st.correlation_id.unwrap_or_default(),
            detail: st.detail.unwrap_or_default(),
            service: st.service,
            step: st.step,
        })
        .collect();
    // In time order; steps without a time (current states) last.
    steps.sort_by(|a, b| (a.at.is_empty(), &a.at).cmp(&(b.at.is_empty(), &b.at)));
    let pending: Vec<(String, String)> = journey.pending.into_iter().map(|p| (p.what, p.owner)).collect();
    JourneyFragment {
        available: true,
        done: journey.done,
        status: journey.status.to_string(),
        picture: crate::journey_picture::draw(&steps, &pending, journey.correlation_consistent),
        pending,
        steps,
        correlation_consistent: journey.correlation_consistent,
    }
}

/// The live part of the order page, fetched by its polling script.
async fn journey_fragment(
    req: HttpRequest,
    backend: web::Data<Backend>,
    correlation: CorrelationId,
    id: web::Path<String>,
) -> HttpResponse {
    let backend = backend.reading_as(&req);
    let Ok(id) = Uuid::parse_str(&id) else {
        return views::not_found().await;
    };
    let fragment = journey(&backend, &correlation, id).await;
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
    /// Why nothing is listed, when the order service said so (not signed in, someone
    /// else's orders).
    problem: Option<String>,
}

async fn my_orders(
    req: HttpRequest,
    backend: web::Data<Backend>,
    correlation: CorrelationId,
    query: web::Query<OrdersQuery>,
) -> Page {
    let backend = backend.reading_as(&req);
    // A customer's own orders (the token says whose); an operator may name a customer.
    let path = match &query.customer {
        Some(customer) => format!("{ORDERS_PATH}?customer={}", urlencode(customer)),
        None => ORDERS_PATH.to_string(),
    };
    let customer = query
        .customer
        .clone()
        .or_else(|| session::signed_in(&req))
        .unwrap_or_default();
    let reply = backend.get(Component::Order, &path, &correlation).await;
    let orders: Vec<Order> = reply.json_if_ok()?.unwrap_or_default();
    let problem = (!reply.ok()).then(|| match reply.status {
        401 => "Sign in to see your orders.".to_string(),
        _ => reply.message(),
    });
    let orders = orders
        .into_iter()
        .map(|o| OrderRow {
            id: o.id.to_string(),
            status: o.status.to_string(),
            total: o.total_minor.map(|t| format_minor(t, "EUR")).unwrap_or_default(),
            created_at: time(&o.created_at, 19),
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &OrdersPage {
            customer,
            orders,
            problem,
        },
    ))
}

pub fn urlencode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
