//! The storefront's security headers and its scripts.
//!
//! - `Content-Security-Policy`: scripts only from the storefront itself (no inline script,
//!   so an injected `<script>` in a product name or an error message would not run even if
//!   escaping failed somewhere), nothing loaded from elsewhere, forms posted only to itself,
//!   and `frame-ancestors 'none'`: no other site can frame the shop or the ops page and trick
//!   a click on "Replay" or "Pause relay" (clickjacking). Styles may be inline: the pages
//!   carry their small stylesheet and style attributes, and a style cannot run code.
//! - `X-Content-Type-Options: nosniff`: a browser never runs a response as a script unless
//!   it was sent as one.
//! - `Referrer-Policy: same-origin`: order ids in URLs do not leak to other sites.
//!
//! The pages' scripts are files under `frontend/static/`, compiled in and served at
//! `/static/{name}`.

use actix_web::{HttpResponse, middleware::DefaultHeaders, web};

pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'; object-src 'none'";

/// The headers every storefront answer carries.
pub fn headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", CSP))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "same-origin"))
}

const SCRIPTS: [(&str, &str); 3] = [
    ("ops.js", include_str!("../static/ops.js")),
    ("order.js", include_str!("../static/order.js")),
    ("shop.js", include_str!("../static/shop.js")),
];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/{name}", web::get().to(script));
}

async fn script(name: web::Path<String>) -> HttpResponse {
    match SCRIPTS.iter().find(|(n, _)| *n == name.as_str()) {
        Some((_, body)) => HttpResponse::Ok()
            .content_type("application/javascript; charset=utf-8")
            .insert_header(("Cache-Control", "public, max-age=300"))
            .body(*body),
        None => HttpResponse::NotFound().finish(),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::{App, test as http};

    use super::*;

    #[actix_web::test]
    async fn every_answer_carries_the_headers_and_the_scripts_are_served_as_scripts() {
        let app = http::init_service(App::new().wrap(headers()).configure(routes)).await;
        let res = http::call_service(
            &app,
            http::TestRequest::get().uri("/static/order.js").to_request(),
        )
        .await;
        assert_eq!(res.status(), 200);
        let header = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        assert_eq!(
            header("content-type").as_deref(),
            Some("application/javascript; charset=utf-8")
        );
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
        let csp = header("content-security-policy").unwrap();
        assert!(
            csp.contains("script-src 'self';") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        let missing =
            http::call_service(&app, http::TestRequest::get().uri("/static/x.js").to_request()).await;
        assert_eq!(missing.status(), 404);
        assert!(missing.headers().contains_key("content-security-policy"));
    }

    /// No template may carry an inline script or an inline event handler: the policy would
    /// block it in the browser, and the page would silently stop working.
    #[test]
    fn no_template_has_an_inline_script() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, _) in text.match_indices("<script") {
                let tag = &text[i..text[i..].find('>').map_or(text.len(), |e| i + e)];
                assert!(
                    tag.contains("src=\"/static/"),
                    "{}: inline script {tag}",
                    path.display()
                );
            }
            assert!(
                !text.contains(" onclick=") && !text.contains(" onsubmit="),
                "{}",
                path.display()
            );
        }
    }
}
