//! Devmarkt: templates, applications and users on the engine, served as
//! GraphQL (`/graphql`, `/graphiql`, subscriptions on `/graphql-ws`) and REST.
//!
//! - `auth`: the `Authorization` header and JWTs (spec 8.2, 8.3)
//! - `service`: every operation as commands on the aggregates, the caller
//!   resolution (8.4), and the read-your-writes barrier
//! - `views`: read-model documents and queries
//! - `epoch`, `qa`: data generations and the QA seed (spec 12)
//! - `feed`: the event-log tail behind subscriptions (spec 10)
//! - `graphql`, `rest`: the two APIs over the same service

pub mod auth;
pub mod epoch;
pub mod feed;
pub mod graphql;
pub mod qa;
pub mod rest;
pub mod service;
pub mod views;

use crate::config::Config;
use crate::event_store::{AggregateStore, CommandBus, EventRepository};
use crate::metrics::Metrics;
use aggregates::devmarkt::application::Application;
use aggregates::devmarkt::template::Template;
use aggregates::devmarkt::user::User;
use projections::{ProjectionStatus, Projector, ReadStore};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// One command bus and one loader per aggregate type.
pub struct Aggregates<A: cqrs_es::Aggregate> {
    pub commands: CommandBus<A>,
    pub loader: AggregateStore<A>,
}

impl<A: cqrs_es::Aggregate<Services = ()>> Aggregates<A> {
    fn new(config: &Config, events: &EventRepository, metrics: &Metrics) -> Self {
        Self {
            commands: CommandBus::new(
                events.clone(),
                config.snapshot_every,
                config.command_max_attempts,
                (),
                metrics.clone(),
            ),
            loader: AggregateStore::new(events.clone(), config.snapshot_every),
        }
    }
}

/// Everything the Devmarkt endpoints need.
pub struct Devmarkt {
    pub events: EventRepository,
    /// Where the Devmarkt read models live.
    pub read_models: Arc<dyn ReadStore>,
    pub metrics: Metrics,
    pub jwt: auth::Jwt,
    pub qa: bool,
    pub templates: Aggregates<Template>,
    pub applications: Aggregates<Application>,
    pub users: Aggregates<User>,
    pub epochs: Aggregates<epoch::Epoch>,
    /// The `devmarkt` projector's status in this process (a wake-up for the
    /// read-your-writes barrier; the barrier itself reads the store).
    projector_status: Option<watch::Receiver<ProjectionStatus>>,
    poll_interval: Duration,
    sequence: Mutex<service::Sequence>,
    /// Creations of one user take turns (see `create_application`).
    creation_turns: Vec<tokio::sync::Mutex<()>>,
    /// The epoch whose built-in admin (and, in QA mode, seed) is in place.
    prepared: Mutex<Option<u64>>,
    setup: tokio::sync::Mutex<()>,
    feed: tokio::sync::OnceCell<tokio::sync::broadcast::Sender<feed::FeedEvent>>,
}

impl Devmarkt {
    // `&Vec`: the engine's projector list is inferred from its use here.
    #[allow(clippy::ptr_arg)]
    pub fn new(
        config: &Config,
        events: &EventRepository,
        metrics: &Metrics,
        read_models: Arc<dyn ReadStore>,
        projectors: &Vec<Arc<Projector>>,
    ) -> Self {
        Self {
            events: events.clone(),
            read_models,
            metrics: metrics.clone(),
            jwt: auth::Jwt::new(&config.devmarkt_jwt_secret),
            qa: config.devmarkt_qa,
            templates: Aggregates::new(config, events, metrics),
            applications: Aggregates::new(config, events, metrics),
            users: Aggregates::new(config, events, metrics),
            epochs: Aggregates::new(config, events, metrics),
            projector_status: projectors
                .iter()
                .find(|p| p.name() == projections::devmarkt::NAME)
                .map(|p| p.status()),
            poll_interval: config.projection_poll,
            sequence: Mutex::new(service::Sequence::default()),
            creation_turns: (0..64).map(|_| tokio::sync::Mutex::new(())).collect(),
            prepared: Mutex::new(None),
            setup: tokio::sync::Mutex::new(()),
            feed: tokio::sync::OnceCell::new(),
        }
    }
}

/// The non-OpenAPI routes of Devmarkt (GraphQL endpoint, GraphiQL,
/// subscriptions, QA seeding), added to `route`.
pub fn routes(devmarkt: Arc<Devmarkt>, route: poem::Route) -> poem::Route {
    let route = graphql::routes(devmarkt.clone(), route);
    // The reference's CI probes `GET /health` before its suite (spec 1).
    let route = route.at("/health", poem::get(health));
    qa::routes(devmarkt, route)
}

#[poem::handler]
fn health() -> &'static str {
    "OK"
}
