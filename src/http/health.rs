//! `/api/live` and `/api/ready`.

use crate::engine::Engine;
use poem_openapi::{payload::Html, payload::Json, ApiResponse, Object, OpenApi};
use projections::ProjectionState;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A store that does not answer within this time counts as down: readiness
/// probes must answer quickly even while a server is unreachable.
const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

pub struct HealthApi {
    engine: Arc<Engine>,
}

impl HealthApi {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }
}

/// The state of one dependency or projection.
#[derive(Debug, Clone, Object)]
pub struct Indicator {
    /// `up` or `down`.
    pub status: String,
    #[oai(skip_serializing_if_is_none)]
    pub message: Option<String>,
    /// Projections: live, rebuilding, standby, failed, starting.
    #[oai(skip_serializing_if_is_none)]
    pub state: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub checkpoint: Option<u64>,
    /// Projections: events in the log not yet applied.
    #[oai(skip_serializing_if_is_none)]
    pub lag: Option<u64>,
}

impl Indicator {
    fn up() -> Self {
        Self {
            status: "up".into(),
            message: None,
            state: None,
            checkpoint: None,
            lag: None,
        }
    }

    fn down(message: impl ToString) -> Self {
        Self {
            status: "down".into(),
            message: Some(message.to_string()),
            ..Self::up()
        }
    }
}

/// Health report in the shape of the original (`info` = healthy checks,
/// `error` = failing ones, `details` = all).
#[derive(Debug, Clone, Object)]
pub struct Readiness {
    /// `ok` or `error`.
    pub status: String,
    pub info: BTreeMap<String, Indicator>,
    pub error: BTreeMap<String, Indicator>,
    pub details: BTreeMap<String, Indicator>,
}

#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// Every store answers and every projection is built and not failing.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// Something is down, failing or still being built; the body says what.
    #[oai(status = 503)]
    NotReady(Json<Readiness>),
}

#[OpenApi]
impl HealthApi {
    /// Liveness: the process answers.
    #[oai(path = "/api/live", method = "get")]
    async fn live(&self) -> Html<&'static str> {
        Html("OK")
    }

    /// Readiness: stores reachable, projections built and caught up (lag reported).
    #[oai(path = "/api/ready", method = "get")]
    async fn ready(&self) -> ReadyResponse {
        let engine = &self.engine;
        let mut details = BTreeMap::new();
        let event_store = match tokio::time::timeout(CHECK_TIMEOUT, engine.events.ping()).await {
            Ok(Ok(())) => Indicator::up(),
            Ok(Err(e)) => Indicator::down(e),
            Err(_) => Indicator::down(format!("no answer within {CHECK_TIMEOUT:?}")),
        };
        details.insert(format!("eventStore:{}", engine.events.backend_name()), event_store);
        for store in engine.read_stores() {
            let indicator = match tokio::time::timeout(CHECK_TIMEOUT, store.ping()).await {
                Ok(Ok(())) => Indicator::up(),
                Ok(Err(e)) => Indicator::down(e),
                Err(_) => Indicator::down(format!("no answer within {CHECK_TIMEOUT:?}")),
            };
            details.insert(format!("readModels:{}", store.kind()), indicator);
        }
        for status in engine.statuses() {
            let healthy = matches!(status.state, ProjectionState::Live | ProjectionState::Standby);
            let indicator = Indicator {
                status: if healthy { "up" } else { "down" }.into(),
                message: status.error.clone(),
                state: Some(
                    serde_json::to_value(status.state)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                ),
                checkpoint: Some(status.checkpoint),
                lag: Some(status.lag()),
            };
            details.insert(format!("projection:{}", status.name), indicator);
        }
        let (info, error): (BTreeMap<_, _>, BTreeMap<_, _>) = details
            .clone()
            .into_iter()
            .partition(|(_, indicator)| indicator.status == "up");
        let ready = error.is_empty();
        let body = Readiness {
            status: if ready { "ok" } else { "error" }.into(),
            info,
            error,
            details,
        };
        if ready {
            ReadyResponse::Ready(Json(body))
        } else {
            ReadyResponse::NotReady(Json(body))
        }
    }
}
