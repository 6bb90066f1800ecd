//! The standard error body of every API error:
//! `{timestamp, code, message, path, details?}`.
//!
//! Handlers return [`ApiError`]; the request middleware sets the request's
//! path (with query string) in a task-local so errors can carry it without
//! every handler passing the request around.

use poem::http::StatusCode;
use poem::Response;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};
use serde_json::Value;

/// What the middleware knows about the request being handled.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// `path` of the error body: the request URL after the host, query string included.
    pub path: String,
    /// The `X-Request-Id` of the response; the correlation id of any event it causes.
    pub id: String,
}

tokio::task_local! {
    pub static REQUEST: RequestContext;
}

/// The path of the request being handled (empty outside a request).
pub fn current_path() -> String {
    REQUEST.try_with(|r| r.path.clone()).unwrap_or_default()
}

/// The id of the request being handled (a fresh one outside a request).
pub fn current_request_id() -> String {
    REQUEST
        .try_with(|r| r.id.clone())
        .unwrap_or_else(|_| uuid::Uuid::new_v4().to_string())
}

/// The standard error body (property order is part of the contract).
#[derive(Debug, Clone, PartialEq, serde::Serialize, Object)]
pub struct ErrorBody {
    /// When the error happened (ISO 8601, milliseconds, UTC).
    pub timestamp: String,
    /// Machine-readable error code, e.g. `NOT_FOUND_ERROR`.
    pub code: String,
    /// Fixed message of the code.
    pub message: String,
    /// Request URL after the host, including the query string.
    pub path: String,
    /// Only for validation and unsupported-filter errors.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<Value>>,
}

/// An error answer of the API, documented per status in the OpenAPI document.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// Malformed request or filter, invalid import file.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// Missing, invalid or expired token, or unknown identity.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// Captcha stamp missing or invalid, out of reach, access denied.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// Unknown resource.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// Concurrent or conflicting change, taken username, used transfer token.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// Request body too large.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// Payload validation failed; `details` lists one violation per property.
    #[oai(status = 422)]
    Unprocessable(Json<ErrorBody>),
    /// Throttled action.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorBody>),
    /// Internal error.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// A store is unavailable.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

impl ApiError {
    pub fn new(kind: ErrorKind) -> Self {
        Self::with_details(kind, None)
    }

    pub fn with_details(kind: ErrorKind, details: Option<Vec<Value>>) -> Self {
        let body = Json(kind.body(&current_path(), details));
        match kind.status.as_u16() {
            400 => Self::BadRequest(body),
            401 => Self::Unauthorized(body),
            403 => Self::Forbidden(body),
            404 => Self::NotFound(body),
            409 => Self::Conflict(body),
            413 => Self::PayloadTooLarge(body),
            422 => Self::Unprocessable(body),
            429 => Self::TooManyRequests(body),
            503 => Self::Unavailable(body),
            _ => Self::Internal(body),
        }
    }

    /// An unexpected failure: logged with its cause, answered as 500.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(INTERNAL)
    }

    /// A store that does not answer: 503, so clients retry.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "store unavailable");
        Self::new(UNAVAILABLE)
    }

    pub fn body(&self) -> &ErrorBody {
        match self {
            Self::BadRequest(b)
            | Self::Unauthorized(b)
            | Self::Forbidden(b)
            | Self::NotFound(b)
            | Self::Conflict(b)
            | Self::PayloadTooLarge(b)
            | Self::Unprocessable(b)
            | Self::TooManyRequests(b)
            | Self::Internal(b)
            | Self::Unavailable(b) => &b.0,
        }
    }
}

impl From<ErrorKind> for ApiError {
    fn from(kind: ErrorKind) -> Self {
        Self::new(kind)
    }
}

/// An error code of the contract with its status and fixed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorKind {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: &'static str,
}

pub const INTERNAL: ErrorKind = ErrorKind {
    status: StatusCode::INTERNAL_SERVER_ERROR,
    code: "INTERNAL_ERROR",
    message: "Internal error occured",
};
pub const NOT_FOUND: ErrorKind = ErrorKind {
    status: StatusCode::NOT_FOUND,
    code: "NOT_FOUND_ERROR",
    message: "Resource not found",
};
pub const INVALID_PAYLOAD: ErrorKind = ErrorKind {
    status: StatusCode::UNPROCESSABLE_ENTITY,
    code: "INVALID_PAYLOAD_ERROR",
    message: "Payload validation failed",
};
macro_rules! error_kinds {
    ($($(#[$doc:meta])* $name:ident = $status:ident, $code:literal, $message:literal;)*) => {
        $(
            $(#[$doc])*
            pub const $name: ErrorKind = ErrorKind { status: StatusCode::$status, code: $code, message: $message };
        )*
    };
}

// The Kippenstummel catalogue (spec 2.3); the texts, typos included, are contract.
error_kinds! {
    MALFORMED_CAPTCHA_STAMP = FORBIDDEN, "MALFORMED_CAPTCHA_STAMP_ERROR", "Malformed Captcha stamp";
    INVALID_CAPTCHA_STAMP = FORBIDDEN, "INVALID_CAPTCHA_STAMP_ERROR", "Invalid Captcha stamp";
    ACCESS_DENIED = FORBIDDEN, "ACCESS_DENIED_ERROR", "Access denied";
    INVALID_IDENT_TOKEN = UNAUTHORIZED, "INVALID_IDENT_TOKEN_ERROR", "Invalid ident token";
    UNAUTHENTICATED = UNAUTHORIZED, "UNAUTHENTICATED_ERROR", "Unauthenticated request";
    OUT_OF_REACH = FORBIDDEN, "OUT_OF_REACH_ERROR", "Out of reach";
    UNKNOWN_IDENTITY = UNAUTHORIZED, "UNKNOWN_IDENTITY_ERROR", "Unknown identity";
    INVALID_IMPORT_FILE = BAD_REQUEST, "INVALID_IMPORT_FILE_ERROR", "Invalid import file";
    INVALID_FILTER_QUERY = BAD_REQUEST, "INVALID_FILTER_QUERY_ERROR", "Invalid filter query";
    UNSUPPORTED_FILTER_FIELD = BAD_REQUEST, "UNSUPPORTED_FILTER_FIELD_ERROR", "Unsupported filter field";
    THROTTLED = TOO_MANY_REQUESTS, "THROTTLED_ERROR", "The action was throttled";
    USERNAME_ALREADY_EXISTS = CONFLICT, "USERNAME_ALREADY_EXISTS_ERROR", "Username already exists";
    TRANSFER_TOKEN_ALREADY_USED = CONFLICT, "TRANSFER_TOKEN_ALREADY_USED_ERROR", "Transfer token has already been used";
}

pub const BAD_REQUEST: ErrorKind = ErrorKind {
    status: StatusCode::BAD_REQUEST,
    code: "BAD_REQUEST_ERROR",
    message: "Malformed request",
};
pub const PAYLOAD_TOO_LARGE: ErrorKind = ErrorKind {
    status: StatusCode::PAYLOAD_TOO_LARGE,
    code: "PAYLOAD_TOO_LARGE_ERROR",
    message: "Request body too large",
};
pub const CONFLICT: ErrorKind = ErrorKind {
    status: StatusCode::CONFLICT,
    code: "ALTERATION_CONFLICT_ERROR",
    message: "Alteration conflict",
};
pub const UNAVAILABLE: ErrorKind = ErrorKind {
    status: StatusCode::SERVICE_UNAVAILABLE,
    code: "SERVICE_UNAVAILABLE_ERROR",
    message: "Service unavailable",
};

impl ErrorKind {
    pub fn body(self, path: &str, details: Option<Vec<Value>>) -> ErrorBody {
        ErrorBody {
            timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            code: self.code.to_owned(),
            message: self.message.to_owned(),
            path: path.to_owned(),
            details,
        }
    }

    pub fn response(self, path: &str, details: Option<Vec<Value>>) -> Response {
        let body = self.body(path, details);
        Response::builder()
            .status(self.status)
            .content_type("application/json; charset=utf-8")
            .body(serde_json::to_vec(&body).expect("error body serializes"))
    }

    /// The contract's answer to a framework error with this status: unknown
    /// routes and wrong methods are 404; other client errors keep their
    /// status; everything else is an internal error.
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => NOT_FOUND,
            StatusCode::UNPROCESSABLE_ENTITY => INVALID_PAYLOAD,
            StatusCode::PAYLOAD_TOO_LARGE => PAYLOAD_TOO_LARGE,
            StatusCode::CONFLICT => CONFLICT,
            StatusCode::SERVICE_UNAVAILABLE => UNAVAILABLE,
            s if s.is_client_error() => BAD_REQUEST,
            _ => INTERNAL,
        }
    }
}
