//! Per-request work: a request id (header and log field), the client's
//! address, a time limit, metrics, the completion log line, and the standard
//! error body for framework errors.

use super::error::ErrorKind;
use crate::metrics::Metrics;
use futures_util::FutureExt;
use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Request, Response, Result};
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// How much of an oversized body is still read (and dropped) before the 413,
/// so that clients still sending it read the answer instead of a reset.
const DRAIN_LIMIT_BYTES: usize = 4 * 1024 * 1024;

/// The body, or `None` when it is larger than the limit.
async fn read_limited(body: poem::Body) -> std::io::Result<Option<Vec<u8>>> {
    use futures_util::StreamExt;
    let mut stream = std::pin::pin!(body.into_bytes_stream());
    let mut buffer = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        seen += chunk.len();
        if seen <= super::BODY_LIMIT_BYTES {
            buffer.extend_from_slice(&chunk);
        } else if seen > DRAIN_LIMIT_BYTES {
            break;
        }
    }
    Ok((seen <= super::BODY_LIMIT_BYTES).then_some(buffer))
}

/// The id of the request being handled (also sent as `X-Request-Id`).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The client's address as `TRUST_PROXY` resolves it (request extension).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub std::net::IpAddr);

/// What the middleware needs from the configuration.
#[derive(Clone)]
pub struct Settings {
    pub metrics: Metrics,
    pub trust_proxy: super::TrustProxy,
    /// Longest a handler may run; then the request is answered 503 and the
    /// handler dropped, so no request holds its connection and memory
    /// without bound (long work belongs in a job).
    pub timeout: std::time::Duration,
}

fn client_addr(req: &Request, trust: &super::TrustProxy) -> std::net::IpAddr {
    let peer = req
        .remote_addr()
        .as_socket_addr()
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |a| a.ip());
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    trust.client(peer, &forwarded)
}

/// A request whose body did not arrive within the time limit.
const REQUEST_TIMEOUT: super::error::ErrorKind = super::error::ErrorKind {
    status: poem::http::StatusCode::REQUEST_TIMEOUT,
    code: "REQUEST_TIMEOUT_ERROR",
    message: "Request timed out",
};

/// Reads the body up to the limit, whether or not it announces a length; a
/// larger one is answered 413 here, before any handler sees it.
async fn read_body(mut req: Request, path: &str) -> std::result::Result<Request, Response> {
    let body = req.take_body();
    if body.is_empty() {
        return Ok(req);
    }
    match read_limited(body).await {
        Ok(Some(bytes)) => {
            req.set_body(bytes);
            Ok(req)
        }
        Ok(None) => Err(super::error::PAYLOAD_TOO_LARGE.response(path, None)),
        Err(error) => Err(super::error::BAD_REQUEST.response(path, Some(vec![serde_json::json!(error.to_string())]))),
    }
}

/// The response of a handler's outcome, errors in the standard body.
fn error_response<T: IntoResponse>(outcome: Result<T>, path: &str, span: &tracing::Span) -> Response {
    match outcome {
        Ok(output) => output.into_response(),
        // Our own error answers (ApiError) already carry the standard body.
        Err(error) if error.is_from_response() => error.into_response(),
        // Unparseable JSON bodies are a payload problem, not a server one.
        Err(error) if error.is::<poem_openapi::error::ParseRequestPayloadError>() => super::error::INVALID_PAYLOAD
            .response(
                path,
                Some(vec![serde_json::json!({
                    "property": "body", "constraint": "isJson", "message": "body must be valid JSON"
                })]),
            ),
        Err(error) => {
            let kind = ErrorKind::for_status(error.status());
            if kind.status.is_server_error() {
                span.in_scope(|| tracing::error!(%error, "request failed"));
            }
            kind.response(path, None)
        }
    }
}

pub async fn around<E: Endpoint>(ep: Arc<E>, mut req: Request, settings: Settings) -> Result<Response> {
    let Settings {
        metrics,
        trust_proxy,
        timeout,
    } = settings;
    let request_id = uuid::Uuid::new_v4().to_string();
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let client = client_addr(&req, &trust_proxy);
    req.extensions_mut().insert(ClientAddr(client));
    let started = Instant::now();
    let span = tracing::info_span!("request", request_id = %request_id);
    let context = super::error::RequestContext {
        path: path.clone(),
        id: request_id.clone(),
    };
    // The limit covers reading the body too: a client trickling its body
    // holds a connection and a buffer as long as a slow handler would.
    let deadline = tokio::time::Instant::now() + timeout;
    let mut response = match tokio::time::timeout_at(deadline, read_body(req, &path)).await {
        Err(_elapsed) => REQUEST_TIMEOUT.response(&path, None),
        Ok(Err(response)) => response,
        Ok(Ok(req)) => {
            // A panicking handler is a bug, answered 500 with the standard body and logged,
            // instead of a connection closed without an answer.
            let call = std::panic::AssertUnwindSafe(super::error::REQUEST.scope(context, ep.call(req))).catch_unwind();
            match tokio::time::timeout_at(deadline, call.instrument(span.clone())).await {
                Err(_elapsed) => {
                    span.in_scope(|| tracing::error!(timeout_ms = timeout.as_millis() as u64, "request timed out"));
                    super::error::UNAVAILABLE.response(&path, None)
                }
                Ok(Err(panic)) => {
                    let cause = panic
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| panic.downcast_ref::<&str>().copied())
                        .unwrap_or("a panic");
                    span.in_scope(|| tracing::error!(cause, "request handler panicked"));
                    super::error::INTERNAL.response(&path, None)
                }
                Ok(Ok(outcome)) => error_response(outcome, &path, &span),
            }
        }
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let status = response.status();
    let elapsed = started.elapsed();
    metrics
        .http_requests
        .with_label_values(&[&method, status.as_str()])
        .inc();
    metrics
        .http_seconds
        .with_label_values(&[&method])
        .observe(elapsed.as_secs_f64());
    let ms = elapsed.as_millis();
    let _enter = span.enter();
    if path.starts_with("/api/live") || path.starts_with("/api/ready") || path == "/metrics" {
        tracing::debug!(%method, %path, status = status.as_u16(), duration_ms = ms, "{method} {path} {status} {ms}ms");
    } else if status.is_server_error() {
        tracing::error!(%method, %path, status = status.as_u16(), duration_ms = ms, "{method} {path} {status} {ms}ms");
    } else if status.is_client_error() {
        tracing::warn!(%method, %path, status = status.as_u16(), duration_ms = ms, "{method} {path} {status} {ms}ms");
    } else {
        tracing::info!(%method, %path, status = status.as_u16(), duration_ms = ms, "{method} {path} {status} {ms}ms");
    }
    Ok(response)
}
