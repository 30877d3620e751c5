//! The error body every service answers with: `{"error": {"code", "message", "details"}}`.
//!
//! `code` is stable and machine-readable (callers branch on it); `message` is for humans;
//! `details` carries what a caller needs to act (the lines lacking stock, the decline code).
//! The server side builds it in `platform_http::ApiError`; callers parse it with these types.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl ErrorDetail {
    /// A typed view of `details`, when it has the shape the caller expects.
    pub fn details_as<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        self.details.clone().and_then(|d| serde_json::from_value(d).ok())
    }
}
