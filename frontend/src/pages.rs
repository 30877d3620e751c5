use std::time::Duration;

use actix_web::{Responder, get, web};
use askama::Template;
use askama_web::WebTemplate;
use futures_util::future::join_all;
use platform_config::Component;

#[derive(Clone)]
pub struct State {
    http: reqwest::Client,
    services: Vec<(Component, String)>,
}

impl State {
    pub fn new(services: Vec<(Component, String)>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("a plain HTTP client always builds");
        Self { http, services }
    }
}

pub fn routes(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(web::Data::new(state)).service(home);
}

pub struct ServiceStatus {
    pub name: &'static str,
    pub url: String,
    pub ready: bool,
    pub detail: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct Home {
    services: Vec<ServiceStatus>,
}

/// The home page: is every part of the platform up?
#[get("/")]
async fn home(state: web::Data<State>) -> impl Responder {
    let checks = state.services.iter().map(|(component, url)| {
        let state = state.clone();
        async move {
            let res = state.http.get(format!("{url}/health/ready")).send().await;
            let (ready, detail) = match res {
                Ok(r) if r.status().is_success() => (true, "ready".to_string()),
                Ok(r) => {
                    let status = r.status();
                    let body: serde_json::Value = r.json().await.unwrap_or_default();
                    (
                        false,
                        body["reason"]
                            .as_str()
                            .map(String::from)
                            .unwrap_or_else(|| status.to_string()),
                    )
                }
                Err(e) => (false, format!("unreachable: {e}")),
            };
            ServiceStatus {
                name: component.name(),
                url: url.clone(),
                ready,
                detail,
            }
        }
    });
    Home {
        services: join_all(checks).await,
    }
}
