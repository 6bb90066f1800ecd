//! The standard error body of every API error:
//! `{timestamp, code, message, path, details?}`.

use poem::http::StatusCode;
use poem::Response;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    pub timestamp: String,
    pub code: &'static str,
    pub message: &'static str,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<Value>>,
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
    pub fn response(self, path: &str, details: Option<Vec<Value>>) -> Response {
        let body = ErrorBody {
            timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            code: self.code,
            message: self.message,
            path: path.to_owned(),
            details,
        };
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
