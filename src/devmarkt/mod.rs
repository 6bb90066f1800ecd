//! Devmarkt: templates, applications and users on the engine, served as
//! GraphQL (`/graphql`, `/graphiql`, subscriptions) and REST.

pub mod rest;

use crate::config::Config;
use crate::event_store::EventRepository;
use crate::metrics::Metrics;
use projections::ReadStore;
use std::sync::Arc;

/// Everything the Devmarkt endpoints need.
pub struct Devmarkt {
    pub events: EventRepository,
    /// Where the Devmarkt read models live.
    pub read_models: Arc<dyn ReadStore>,
    pub metrics: Metrics,
    pub jwt_secret: String,
    pub qa: bool,
}

impl Devmarkt {
    pub fn new(config: &Config, events: &EventRepository, metrics: &Metrics, read_models: Arc<dyn ReadStore>) -> Self {
        Self {
            events: events.clone(),
            read_models,
            metrics: metrics.clone(),
            jwt_secret: config.devmarkt_jwt_secret.clone(),
            qa: config.devmarkt_qa,
        }
    }
}

/// The non-OpenAPI routes of Devmarkt (GraphQL endpoint, GraphiQL,
/// subscriptions, QA seeding), added to `route`.
pub fn routes(_devmarkt: Arc<Devmarkt>, route: poem::Route) -> poem::Route {
    route
}
