//! The browser session, in cookies: the cart, the shopper's name, the CSRF token and (on
//! the ops pages) the admin token.
//!
//! CSRF: every form carries a token that must equal the one in the `csrf` cookie. Another
//! site can make the browser *send* our cookies, but cannot *read* them, so it cannot put
//! the right token in the form: a forged "place order" or "replay" is refused with 403.

use std::collections::BTreeMap;

use actix_web::{
    HttpRequest,
    cookie::{Cookie, SameSite},
};

pub const CART: &str = "cart";
pub const CSRF: &str = "csrf";
pub const CUSTOMER: &str = "customer";
pub const ADMIN: &str = "admin_token";
/// The signed-in customer's token (sign_in.rs), issued and signed by the order service.
pub const CUSTOMER_TOKEN: &str = "customer_token";
/// The consistency token of the shopper's last write (their checkout): sent on their reads,
/// so a lagging replica never hides their own order from them.
pub const CONSISTENCY: &str = "consistency";

/// A cookie the page needs and the browser keeps: HttpOnly (no script can read it) and
/// SameSite=Lax (not sent on cross-site POSTs).
pub fn cookie(name: &str, value: String) -> Cookie<'static> {
    Cookie::build(name.to_string(), value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .finish()
}

pub fn random_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The CSRF token of this browser, and the cookie to set if it had none yet.
pub fn csrf_token(req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    match req
        .cookie(CSRF)
        .map(|c| c.value().to_string())
        .filter(|t| t.len() == 32)
    {
        Some(token) => (token, None),
        None => {
            let token = random_token();
            (token.clone(), Some(cookie(CSRF, token)))
        }
    }
}

/// True when the form's token matches the cookie's (compared without early exit).
pub fn csrf_ok(req: &HttpRequest, form_token: &str) -> bool {
    let Some(cookie) = req.cookie(CSRF) else {
        return false;
    };
    let (a, b) = (cookie.value().as_bytes(), form_token.as_bytes());
    a.len() == 32 && a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The cart: `sku:qty` pairs. Anything malformed (a tampered cookie) is dropped.
pub type Cart = BTreeMap<String, i64>;

pub fn cart(req: &HttpRequest) -> Cart {
    req.cookie(CART)
        .map(|c| {
            c.value()
                .split(',')
                .filter_map(|pair| {
                    let (sku, qty) = pair.split_once(':')?;
                    let qty: i64 = qty.parse().ok()?;
                    let sku_ok = !sku.is_empty()
                        && sku.len() <= 64
                        && sku
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                    (sku_ok && (1..=100).contains(&qty)).then(|| (sku.to_string(), qty))
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn cart_cookie(cart: &Cart) -> Cookie<'static> {
    let value = cart
        .iter()
        .map(|(s, q)| format!("{s}:{q}"))
        .collect::<Vec<_>>()
        .join(",");
    cookie(CART, value)
}

pub fn customer(req: &HttpRequest) -> Option<String> {
    req.cookie(CUSTOMER)
        .map(|c| c.value().to_string())
        .filter(|c| !c.is_empty())
}

/// The signed-in customer's token, if the browser has one (the services check it).
pub fn customer_token(req: &HttpRequest) -> Option<String> {
    req.cookie(CUSTOMER_TOKEN)
        .map(|c| c.value().to_string())
        .filter(|t| !t.is_empty() && t.len() <= 2048)
}

/// The customer the shopper signed in as, when they did (their token is there too).
pub fn signed_in(req: &HttpRequest) -> Option<String> {
    req.cookie(CUSTOMER_TOKEN)
        .filter(|c| !c.value().is_empty())
        .and_then(|_| customer(req))
}

/// The shopper's last write's token, if it looks like one (a WAL position such as
/// `16/B374D848`; anything else is dropped, never forwarded).
pub fn consistency_token(req: &HttpRequest) -> Option<String> {
    req.cookie(CONSISTENCY)
        .map(|c| c.value().to_string())
        .filter(|t| t.len() <= 17 && t.contains('/') && t.bytes().all(|b| b.is_ascii_hexdigit() || b == b'/'))
}

pub fn admin_token(req: &HttpRequest) -> Option<String> {
    req.cookie(ADMIN)
        .map(|c| c.value().to_string())
        .filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn a_tampered_cart_cookie_is_sanitised() {
        let req = TestRequest::default()
            .cookie(Cookie::new(
                CART,
                "mug:2,<script>:1,socks:9999,notebook:x,plant:1",
            ))
            .to_http_request();
        let cart = cart(&req);
        assert_eq!(cart.len(), 2);
        assert_eq!(cart["mug"], 2);
        assert_eq!(cart["plant"], 1);
    }

    #[test]
    fn csrf_needs_the_cookie_and_an_equal_form_token() {
        let token = random_token();
        let with = TestRequest::default()
            .cookie(Cookie::new(CSRF, token.clone()))
            .to_http_request();
        assert!(csrf_ok(&with, &token));
        assert!(!csrf_ok(&with, &random_token()));
        assert!(!csrf_ok(&TestRequest::default().to_http_request(), &token));
    }
}
