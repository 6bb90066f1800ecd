//! The HTTP surface: routes, the request middleware, the OpenAPI document.

mod client_ip;
pub mod documented;
pub mod error;
mod health;
mod middleware;

use crate::engine::Engine;
use poem::{get, handler, web::Data, Endpoint, EndpointExt, Route};
use poem_openapi::OpenApiService;
use std::sync::Arc;

/// Largest accepted request body (Express's default in the original: 100 kB).
pub const BODY_LIMIT_BYTES: usize = 100 * 1024;

pub use client_ip::TrustProxy;
pub use middleware::{ClientAddr, RequestId};

/// All routes of the service, wrapped in the request middleware.
pub fn routes(engine: Arc<Engine>) -> impl Endpoint {
    let ident = crate::kippenstummel::api::IdentApi {
        service: engine.kippenstummel.clone(),
    };
    let machines = crate::kippenstummel::machines_api::MachinesApi {
        service: engine.kippenstummel.clone(),
        jobs: engine.jobs.clone(),
    };
    let operations = crate::kippenstummel::operations_api::OperationsApi {
        service: engine.kippenstummel.clone(),
        jobs: engine.jobs.clone(),
    };
    let devmarkt = crate::devmarkt::rest::RestApi {
        devmarkt: engine.devmarkt.clone(),
    };
    let api = OpenApiService::new(
        (
            health::HealthApi::new(engine.clone()),
            ident,
            machines,
            operations,
            devmarkt,
        ),
        "stummel",
        env!("CARGO_PKG_VERSION"),
    )
    .description("Kippenstummel and Devmarkt on one event-sourced engine.");
    let ui = api.swagger_ui();
    let spec = api.spec_endpoint();
    let settings = middleware::Settings {
        metrics: engine.metrics.clone(),
        trust_proxy: engine.config.trust_proxy.clone(),
        timeout: engine.config.request_timeout,
    };
    let kippenstummel = engine.kippenstummel.clone();
    crate::devmarkt::routes(engine.devmarkt.clone(), Route::new())
        .nest("/docs", ui)
        .at("/openapi.json", spec)
        .at("/metrics", get(metrics_text).data(engine))
        .nest("/", api)
        .around(move |ep, req| {
            // Last-active tracking (spec 3.4): never delays the request.
            kippenstummel.track_activity(req.header("x-ident"));
            middleware::around(ep, req, settings.clone())
        })
}

#[handler]
fn metrics_text(engine: Data<&Arc<Engine>>) -> String {
    for status in engine.statuses() {
        engine
            .metrics
            .projection_lag
            .with_label_values(&[&status.name])
            .set(status.lag() as i64);
        engine
            .metrics
            .projection_checkpoint
            .with_label_values(&[&status.name])
            .set(status.checkpoint as i64);
    }
    engine.metrics.render()
}
