//! Shopper sign-in: register, sign in, sign out, or "sign in as a demo shopper" (a fresh
//! customer with a random password, one click). The order service's identity module checks
//! the password and issues the customer's token (services/order/src/identity.rs); the
//! storefront keeps it in an HttpOnly, SameSite cookie (no script can read it, no other
//! site's form sends it) that lasts as long as the token.

use actix_web::{
    HttpRequest, HttpResponse,
    cookie::{Cookie, time::OffsetDateTime},
    http::StatusCode,
    web,
};
use askama::Template;
use platform_config::Component;
use platform_contracts::identity::{CUSTOMERS_PATH, Credentials, SESSIONS_PATH, SignedIn};
use platform_telemetry::CorrelationId;
use serde::Deserialize;

use crate::{
    backend::{Backend, Page},
    control_room::{CsrfOnly, forbidden},
    session,
    views::{self, redirect, render_form},
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/signin", web::get().to(page))
        .route("/signin", web::post().to(sign_in))
        .route("/signin/demo", web::post().to(demo))
        .route("/signout", web::post().to(sign_out));
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    csrf: String,
    customer: String,
}

async fn page(req: HttpRequest) -> HttpResponse {
    let (csrf, new_cookie) = session::csrf_token(&req);
    let customer = session::signed_in(&req).unwrap_or_default();
    render_form(&SignInPage { csrf, customer }, new_cookie)
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    customer_id: String,
    #[serde(default)]
    password: String,
    /// "register" creates the customer first; anything else signs in.
    #[serde(default)]
    action: String,
}

async fn sign_in(
    req: HttpRequest,
    backend: web::Data<Backend>,
    correlation: CorrelationId,
    form: web::Form<SignInForm>,
) -> Page {
    if !session::csrf_ok(&req, &form.csrf) {
        return Ok(forbidden());
    }
    let path = if form.action == "register" {
        CUSTOMERS_PATH
    } else {
        SESSIONS_PATH
    };
    let credentials = Credentials {
        customer_id: form.customer_id.trim().to_string(),
        password: form.password.clone(),
    };
    signed_in(&backend, &correlation, path, &credentials, next(&req)).await
}

/// Back to the cart when there is something in it (they were checking out), else the shop.
fn next(req: &HttpRequest) -> &'static str {
    if session::cart(req).is_empty() {
        "/"
    } else {
        "/cart"
    }
}

/// One click: a new customer with a name and password nobody else knows, signed in.
async fn demo(
    req: HttpRequest,
    backend: web::Data<Backend>,
    correlation: CorrelationId,
    form: web::Form<CsrfOnly>,
) -> Page {
    if !session::csrf_ok(&req, &form.csrf) {
        return Ok(forbidden());
    }
    let credentials = Credentials {
        customer_id: format!("shopper-{}", &session::random_token()[..8]),
        password: session::random_token(),
    };
    signed_in(&backend, &correlation, CUSTOMERS_PATH, &credentials, next(&req)).await
}

async fn signed_in(
    backend: &Backend,
    correlation: &CorrelationId,
    path: &str,
    credentials: &Credentials,
    next: &str,
) -> Page {
    let reply = backend
        .request(reqwest::Method::POST, Component::Order, path, correlation)
        .json(credentials)
        .send()
        .await;
    let Some(signed_in) = reply.json_if_ok::<SignedIn>()? else {
        return Ok(views::error(
            StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_GATEWAY),
            "Could not sign in",
            reply.message(),
        ));
    };
    let expires = OffsetDateTime::from_unix_timestamp(signed_in.expires_at.timestamp())
        .unwrap_or_else(|_| OffsetDateTime::now_utc());
    let mut res = redirect(next);
    for mut cookie in [
        session::cookie(session::CUSTOMER_TOKEN, signed_in.token),
        session::cookie(session::CUSTOMER, signed_in.customer_id),
    ] {
        cookie.set_expires(expires);
        let _ = res.add_cookie(&cookie);
    }
    Ok(res)
}

async fn sign_out(req: HttpRequest, form: web::Form<CsrfOnly>) -> HttpResponse {
    if !session::csrf_ok(&req, &form.csrf) {
        return forbidden();
    }
    let mut res = redirect("/");
    for name in [session::CUSTOMER_TOKEN, session::CUSTOMER] {
        let mut gone = Cookie::build(name, "").path("/").finish();
        gone.make_removal();
        let _ = res.add_cookie(&gone);
    }
    res
}
