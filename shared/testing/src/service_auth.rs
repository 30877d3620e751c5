//! The check every internal endpoint that moves stock or money must pass: who is refused,
//! and how (`platform_http::service_auth`).

use platform_config::Component;
use serde_json::Value;

use crate::{as_service, test_service_secret};

/// Calls `POST base/path` (with `body`) as each kind of stranger and asserts the answer:
/// no credential, another scheme, a wrong secret under the owner's name and an unknown
/// service are 401 `unauthenticated_service`; a real service that is not the owner is 403
/// `forbidden_caller`. None of them reaches the handler, so nothing changes (the caller
/// asserts the state afterwards).
pub async fn assert_only_the_owner_may_call(base: &str, path: &str, body: Option<&Value>, owner: Component) {
    let http = reqwest::Client::new();
    let stranger = if owner == Component::Email {
        Component::Analytics
    } else {
        Component::Email
    };
    let cases: [(&str, Option<String>, u16, &str); 5] = [
        ("no credential", None, 401, "unauthenticated_service"),
        (
            "the admin token's scheme",
            Some(format!("Bearer {}", crate::TEST_ADMIN_TOKEN)),
            401,
            "unauthenticated_service",
        ),
        (
            "another service's secret under the owner's name",
            Some(platform_http::service_auth::credential(
                owner.name(),
                &test_service_secret(stranger),
            )),
            401,
            "unauthenticated_service",
        ),
        (
            "an unknown service",
            Some(platform_http::service_auth::credential("mallory", "guess")),
            401,
            "unauthenticated_service",
        ),
        (
            "a real service that is not the owner",
            Some(as_service(stranger).1),
            403,
            "forbidden_caller",
        ),
    ];
    for (case, credential, status, code) in cases {
        let mut req = http.post(format!("{base}{path}"));
        if let Some(c) = credential {
            req = req.header("Authorization", c);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.expect("the service answers");
        assert_eq!(res.status().as_u16(), status, "POST {path} with {case}");
        let error: Value = res.json().await.expect("a JSON error body");
        assert_eq!(error["error"]["code"], code, "POST {path} with {case}: {error}");
    }
}
