//! Kippenstummel: anonymous identities, captcha, tokens, karma,
//! credibility, leaderboard, transfer, the KMC identity admin.

pub mod api;
pub mod auth;
pub mod captcha;
pub mod cleanup;
pub mod contract;
pub mod identities;
pub mod idents;
pub mod jobs;
pub mod machines;
pub mod machines_api;
pub mod operations_api;
pub mod osm;
pub mod reservation;
pub mod stats;
pub mod tokens;
pub mod usage;
pub mod validation;

use crate::config::Config;
use crate::event_store::{CommandBus, EventRepository};
use crate::metrics::Metrics;
use aggregates::kippenstummel::cvm::Cvm;
use aggregates::kippenstummel::ident::Ident;
use aggregates::kippenstummel::usage::Usage;
use auth::{AdminTokens, IdentTokens};
use idents::IdentStore;
use projections::{Namespace, ReadStore, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokens::TokenStore;

/// Everything the Kippenstummel endpoints need.
pub struct Kippenstummel {
    pub idents: Arc<dyn IdentStore>,
    pub tokens: Arc<dyn TokenStore>,
    pub ident_commands: CommandBus<Ident>,
    pub cvm_commands: CommandBus<Cvm>,
    /// Usage telemetry counts (spec 14).
    pub usage_commands: CommandBus<Usage>,
    /// Today's telemetry salt, cached: `(UTC day, salt)`.
    salt: std::sync::Mutex<Option<(String, Vec<u8>)>>,
    pub events: EventRepository,
    /// Hot read models: karma, credibility, map tiles (and the cell locks).
    pub read_models: Arc<dyn ReadStore>,
    /// Document read models: machines.
    pub documents: Arc<dyn ReadStore>,
    pub locks: reservation::SpatialLocks,
    pub osm: osm::OsmClient,
    pub ident_tokens: IdentTokens,
    pub admin_tokens: AdminTokens,
    pub captcha_ttl: Duration,
    pub transfer_ttl: Duration,
    /// `POST /ident` attempts per client and minute.
    pub login_limit: u64,
    /// `GET /captcha` calls per client and minute.
    pub captcha_limit: u64,
    /// One CPU-bound task at a time per core (see `identities::Kippenstummel::cpu_bound`).
    cpu_slots: tokio::sync::Semaphore,
}

impl Kippenstummel {
    pub fn new(
        config: &Config,
        events: &EventRepository,
        metrics: &Metrics,
        idents: Arc<dyn IdentStore>,
        tokens: Arc<dyn TokenStore>,
        read_models: Arc<dyn ReadStore>,
        documents: Arc<dyn ReadStore>,
    ) -> Self {
        Self {
            // Machines are hot spots (votes race): more attempts before a 409.
            cvm_commands: CommandBus::new(
                events.clone(),
                config.snapshot_every,
                config.command_max_attempts.max(10),
                (),
                metrics.clone(),
            ),
            usage_commands: CommandBus::new(events.clone(), 0, 1, (), metrics.clone()),
            salt: std::sync::Mutex::new(None),
            events: events.clone(),
            documents,
            locks: reservation::SpatialLocks::new(read_models.clone()),
            osm: osm::OsmClient::new(&config.nominatim_url, &config.overpass_url),
            idents,
            tokens,
            ident_commands: CommandBus::new(
                events.clone(),
                config.snapshot_every,
                config.command_max_attempts,
                (),
                metrics.clone(),
            ),
            read_models,
            ident_tokens: IdentTokens::new(&config.ident_secret, config.ident_expires_in),
            admin_tokens: AdminTokens::new(&config.jwt_secret),
            captcha_ttl: Duration::from_secs(config.captcha_expires_in),
            transfer_ttl: Duration::from_secs(config.transfer_expires_in),
            login_limit: config.login_limit_per_minute,
            captcha_limit: config.captcha_limit_per_minute,
            cpu_slots: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            ),
        }
    }

    /// The namespace queries of `projection` read now, if it was ever built.
    pub async fn active(&self, projection: &str) -> Result<Option<Namespace>, StoreError> {
        Ok(self
            .read_models
            .active(projection)
            .await?
            .map(|a| Namespace::new(projection, a.generation)))
    }
}
