//! Extractor configuration: malformed input becomes an [`ApiError`] with a clear JSON body
//! instead of actix-web's plain-text default.

use actix_web::{
    HttpRequest,
    error::{Error, JsonPayloadError, PathError, QueryPayloadError},
    http::StatusCode,
    web,
};

use crate::ApiError;

/// JSON bodies: bounded in size (413 beyond it, before any parsing, so a huge body costs
/// nothing), must be `application/json` (415), and must match the schema (400 naming the
/// field and position serde complained about).
pub fn json_config(max_body_bytes: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(max_body_bytes)
        .error_handler(move |err, _req: &HttpRequest| -> Error {
            match err {
                JsonPayloadError::OverflowKnownLength { length, limit } => ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!("request body is {length} bytes; the limit is {limit}"),
                ),
                JsonPayloadError::Overflow { limit } => ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!("request body exceeds the limit of {limit} bytes"),
                ),
                JsonPayloadError::ContentType => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "send the body as application/json",
                ),
                JsonPayloadError::Deserialize(e) => {
                    ApiError::bad_request("invalid_json", format!("invalid JSON body: {e}"))
                }
                other => ApiError::bad_request("invalid_body", other.to_string()),
            }
            .into()
        })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err: PathError, _req| {
        ApiError::bad_request("invalid_path", format!("invalid path parameter: {err}")).into()
    })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _req| {
        ApiError::bad_request("invalid_query", format!("invalid query string: {err}")).into()
    })
}
