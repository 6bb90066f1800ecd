//! Configuration from environment variables and `.env` files.
//!
//! Names follow the original Kippenstummel service where they exist. Real
//! environment variables win over files; files are read in this order, the
//! first occurrence of a variable winning: `.env.<NODE_ENV>.local`,
//! `.env.<NODE_ENV>`, `.env.local`, `.env`, then the same names inside
//! `CONFIG_DIR`. Every value is checked at start; the first bad one stops
//! start-up with one line naming the variable.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
    Test,
    Staging,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub port: u16,
    pub data_dir: PathBuf,
    pub mongo_uri: Option<String>,
    /// Prefix of every MongoDB collection stummel uses (MONGO_COLLECTION_PREFIX).
    pub mongo_collection_prefix: String,
    /// How long a MongoDB operation waits for a writable server (elections).
    pub mongo_server_selection_timeout: Duration,
    /// Upper bound of one MongoDB operation, transaction retries included.
    pub mongo_operation_timeout: Duration,
    pub redis_uri: Option<String>,
    pub redis_key_prefix: String,
    /// How long a request waits for Redis (connection or answer) before it fails.
    pub redis_timeout: Duration,
    pub jwt_secret: String,
    pub ident_secret: String,
    /// Devmarkt's HS256 key for `Self`/`Foreign` tokens.
    pub devmarkt_jwt_secret: String,
    /// Devmarkt QA mode: enables `POST /qa/seedDatabase` (never in production).
    pub devmarkt_qa: bool,
    /// Nominatim search endpoint base (OSM import).
    pub nominatim_url: String,
    /// Overpass interpreter endpoint (OSM import).
    pub overpass_url: String,
    /// When the weekly machine cleanup runs (cron with seconds, UTC).
    pub cleanup_schedule: cron::Schedule,
    /// How long a job runner's lease lasts unless renewed (every third of
    /// it): a run whose instance died is found orphaned this long after.
    pub job_lease_ttl: std::time::Duration,
    pub ident_expires_in: u64,
    pub captcha_expires_in: u64,
    pub transfer_expires_in: u64,
    pub embedded_sync: crate::event_store::SyncMode,
    pub snapshot_every: usize,
    pub command_max_attempts: u32,
    pub projection_batch_size: usize,
    pub projection_poll: Duration,
    pub projection_lease_ttl: Duration,
    pub connect_timeout: Duration,
    pub shutdown_grace: Duration,
    pub instance_id: String,
    pub log_level: String,
    pub log_format: LogFormat,
    /// Which peers' `X-Forwarded-For` is believed (spec 15 `TRUST_PROXY`).
    pub trust_proxy: crate::http::TrustProxy,
    /// Longest time one HTTP request may take before it is answered 503.
    pub request_timeout: Duration,
    /// `POST /ident` attempts per client and minute (each costs a bcrypt).
    pub login_limit_per_minute: u64,
    /// `GET /captcha` calls per client and minute.
    pub captcha_limit_per_minute: u64,
    /// `NODE_ENV` was not set (development assumed; see [`Config::from_source`]).
    pub node_env_defaulted: bool,
}

/// One line, naming the setting and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

/// Where configuration values come from: the process environment first,
/// then the `.env` files.
pub struct Source {
    values: HashMap<String, String>,
}

impl Source {
    /// The process environment plus the `.env` files (see the module docs).
    pub fn from_environment() -> Result<Self, ConfigError> {
        let mut values: HashMap<String, String> = std::env::vars().collect();
        let node_env = values
            .get("NODE_ENV")
            .filter(|v| !v.trim().is_empty())
            .cloned()
            .unwrap_or_else(|| "development".into());
        let config_dir = PathBuf::from(values.get("CONFIG_DIR").cloned().unwrap_or_else(|| "./config".into()));
        let names = [
            format!(".env.{node_env}.local"),
            format!(".env.{node_env}"),
            ".env.local".into(),
            ".env".into(),
        ];
        let files = names
            .iter()
            .map(PathBuf::from)
            .chain(names.iter().map(|n| config_dir.join(n)));
        for file in files {
            if !file.is_file() {
                continue;
            }
            let entries = dotenvy::from_path_iter(&file)
                .map_err(|e| ConfigError(format!("cannot read {}: {e}", file.display())))?;
            for entry in entries {
                let (key, value) = entry.map_err(|e| ConfigError(format!("{}: {e}", file.display())))?;
                values.entry(key).or_insert(value);
            }
        }
        Ok(Self { values })
    }

    pub fn from_map(values: HashMap<String, String>) -> Self {
        Self { values }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
        &self,
        name: &str,
        default: T,
        min: T,
        max: T,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => match raw.trim().parse::<T>() {
                Ok(v) if v >= min && v <= max => Ok(v),
                _ => Err(ConfigError(format!(
                    "{name} must be a whole number from {min} to {max} (got {raw:?})"
                ))),
            },
        }
    }

    fn uri(&self, name: &str, schemes: &[&str]) -> Result<Option<String>, ConfigError> {
        match self.get(name) {
            None => Ok(None),
            Some(raw)
                if schemes
                    .iter()
                    .any(|s| raw.starts_with(&format!("{s}://")) && raw.len() > s.len() + 3) =>
            {
                Ok(Some(raw.to_owned()))
            }
            Some(raw) => Err(ConfigError(format!(
                "{name} must be a URI starting with {} (got {raw:?})",
                schemes
                    .iter()
                    .map(|s| format!("{s}://"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ))),
        }
    }
}

const DEV_SECRET_NOTE: &str = "development-only secret, set it in production";

impl Config {
    pub fn load() -> Result<Self, ConfigError> {
        Self::from_source(&Source::from_environment()?)
    }

    pub fn from_source(src: &Source) -> Result<Self, ConfigError> {
        // The original requires NODE_ENV. Unset, we assume development so that
        // `stummel serve` runs on a fresh machine with the embedded stores;
        // but a process pointed at MongoDB or Redis is a deployment, and one
        // that forgot NODE_ENV would otherwise run quietly with the built-in
        // development secrets: it must say which environment it is.
        let node_env_defaulted = src.get("NODE_ENV").is_none();
        if node_env_defaulted && (src.get("MONGO_URI").is_some() || src.get("REDIS_URI").is_some()) {
            return Err(ConfigError(
                "NODE_ENV is required with MONGO_URI or REDIS_URI (production, staging, development or test)".into(),
            ));
        }
        let environment = match src.get("NODE_ENV").unwrap_or("development") {
            "development" => Environment::Development,
            "production" => Environment::Production,
            "test" => Environment::Test,
            "staging" => Environment::Staging,
            other => {
                return Err(ConfigError(format!(
                    "NODE_ENV must be one of development, production, test, staging (got {other:?})"
                )))
            }
        };
        let secret = |name: &str| -> Result<String, ConfigError> {
            match (src.get(name), environment) {
                (Some(v), Environment::Production | Environment::Staging) if v.len() < 16 => Err(ConfigError(format!(
                    "{name} must be at least 16 characters long in {environment:?}"
                ))),
                (Some(v), _) => Ok(v.to_owned()),
                (None, Environment::Production | Environment::Staging) => {
                    Err(ConfigError(format!("{name} is required in {environment:?}")))
                }
                (None, _) => Ok(format!("{name}: {DEV_SECRET_NOTE}")),
            }
        };
        let embedded_sync = match src.get("EMBEDDED_SYNC").unwrap_or("full") {
            "full" => crate::event_store::SyncMode::Full,
            "normal" => crate::event_store::SyncMode::Normal,
            other => {
                return Err(ConfigError(format!(
                    "EMBEDDED_SYNC must be full or normal (got {other:?})"
                )))
            }
        };
        let log_level = match src.get("LOG_LEVEL").unwrap_or("info") {
            level @ ("error" | "warn" | "info" | "debug") => level.to_owned(),
            "verbose" => "trace".to_owned(),
            other => {
                return Err(ConfigError(format!(
                    "LOG_LEVEL must be one of error, warn, info, debug, verbose (got {other:?})"
                )))
            }
        };
        let log_format = match src.get("LOG_FORMAT").unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => return Err(ConfigError(format!("LOG_FORMAT must be text or json (got {other:?})"))),
        };
        let redis_key_prefix = src.get("REDIS_KEY_PREFIX").unwrap_or("stummel:").to_owned();
        if redis_key_prefix.contains(['*', '?', '[', ']', ' ']) {
            return Err(ConfigError(format!(
                "REDIS_KEY_PREFIX must not contain spaces or glob characters (got {redis_key_prefix:?})"
            )));
        }
        let ms = |name: &str, default: u64, min: u64, max: u64| {
            src.number(name, default, min, max).map(Duration::from_millis)
        };
        let mongo_collection_prefix = src
            .get("MONGO_COLLECTION_PREFIX")
            .unwrap_or(crate::mongo::DEFAULT_COLLECTION_PREFIX)
            .to_owned();
        if !mongo_collection_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            || mongo_collection_prefix.starts_with("system.")
        {
            return Err(ConfigError(format!(
                "MONGO_COLLECTION_PREFIX may only contain letters, digits, _, - and . (got {mongo_collection_prefix:?})"
            )));
        }
        Ok(Self {
            environment,
            port: src.number("PORT", 8080u16, 0, u16::MAX)?,
            data_dir: PathBuf::from(src.get("DATA_DIR").unwrap_or("./data")),
            mongo_uri: src.uri("MONGO_URI", &["mongodb", "mongodb+srv"])?,
            mongo_collection_prefix,
            mongo_server_selection_timeout: ms("MONGO_SERVER_SELECTION_TIMEOUT_MS", 15_000, 100, 600_000)?,
            mongo_operation_timeout: ms("MONGO_OPERATION_TIMEOUT_MS", 30_000, 100, 600_000)?,
            redis_uri: src.uri("REDIS_URI", &["redis", "rediss", "redis+unix", "unix"])?,
            redis_key_prefix,
            redis_timeout: ms("REDIS_TIMEOUT_MS", 1_000, 50, 60_000)?,
            jwt_secret: secret("JWT_SECRET")?,
            ident_secret: secret("IDENT_SECRET")?,
            devmarkt_jwt_secret: secret("DEVMARKT_JWT_SECRET")?,
            nominatim_url: src
                .uri("NOMINATIM_URL", &["http", "https"])?
                .unwrap_or_else(|| "https://nominatim.openstreetmap.org".into()),
            overpass_url: src
                .uri("OVERPASS_URL", &["http", "https"])?
                .unwrap_or_else(|| "https://overpass-api.de/api/interpreter".into()),
            cleanup_schedule: {
                let raw = src
                    .get("CVM_CLEANUP_CRON")
                    .unwrap_or(crate::kippenstummel::cleanup::DEFAULT_SCHEDULE);
                crate::kippenstummel::cleanup::parse_schedule(raw).map_err(|e| {
                    ConfigError(format!(
                        "CVM_CLEANUP_CRON must be a cron expression with seconds ({e}; got {raw:?})"
                    ))
                })?
            },
            devmarkt_qa: match src.get("DEVMARKT_QA").unwrap_or("false") {
                "true" | "1" if environment == Environment::Production => {
                    return Err(ConfigError(
                        "DEVMARKT_QA must not be enabled with NODE_ENV=production".into(),
                    ))
                }
                "true" | "1" => true,
                "false" | "0" => false,
                other => {
                    return Err(ConfigError(format!(
                        "DEVMARKT_QA must be true or false (got {other:?})"
                    )))
                }
            },
            ident_expires_in: src.number("IDENT_EXPIRES_IN", 604_800u64, 1, 10 * 365 * 86_400)?,
            captcha_expires_in: src.number("CAPTCHA_EXPIRES_IN", 300u64, 1, 86_400)?,
            transfer_expires_in: src.number("TRANSFER_EXPIRES_IN", 300u64, 1, 86_400)?,
            embedded_sync,
            snapshot_every: src.number("SNAPSHOT_EVERY", 50usize, 0, 1_000_000)?,
            command_max_attempts: src.number("COMMAND_MAX_ATTEMPTS", 5u32, 1, 100)?,
            projection_batch_size: src.number("PROJECTION_BATCH_SIZE", 500usize, 1, 100_000)?,
            projection_poll: ms("PROJECTION_POLL_MS", 500, 10, 600_000)?,
            projection_lease_ttl: ms("PROJECTION_LEASE_TTL_MS", 15_000, 1_000, 600_000)?,
            job_lease_ttl: ms("JOB_LEASE_TTL_MS", 30_000, 300, 3_600_000)?,
            connect_timeout: ms("CONNECT_TIMEOUT_MS", 5_000, 100, 120_000)?,
            shutdown_grace: ms("SHUTDOWN_GRACE_MS", 30_000, 0, 600_000)?,
            instance_id: src
                .get("INSTANCE_ID")
                .map(str::to_owned)
                .unwrap_or_else(|| format!("stummel-{}", uuid::Uuid::new_v4().simple())),
            log_level,
            log_format,
            trust_proxy: match src.get("TRUST_PROXY") {
                None => crate::http::TrustProxy::default(),
                Some(raw) => raw
                    .parse()
                    .map_err(|e| ConfigError(format!("TRUST_PROXY {e} (got {raw:?})")))?,
            },
            request_timeout: ms("REQUEST_TIMEOUT_MS", 30_000, 1_000, 600_000)?,
            login_limit_per_minute: src.number(
                "LOGIN_LIMIT_PER_MINUTE",
                crate::kippenstummel::identities::LOGIN_LIMIT_PER_MINUTE,
                1,
                1_000_000,
            )?,
            captcha_limit_per_minute: src.number(
                "CAPTCHA_LIMIT_PER_MINUTE",
                crate::kippenstummel::identities::CAPTCHA_LIMIT_PER_MINUTE,
                1,
                1_000_000,
            )?,
            node_env_defaulted,
        })
    }

    pub fn uses_dev_secrets(&self) -> bool {
        [&self.jwt_secret, &self.ident_secret, &self.devmarkt_jwt_secret]
            .iter()
            .any(|s| s.ends_with(DEV_SECRET_NOTE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_source(&Source::from_map(
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ))
    }

    #[test]
    fn defaults_need_no_settings() {
        let c = config(&[]).unwrap();
        assert_eq!(c.port, 8080);
        assert!(c.mongo_uri.is_none() && c.redis_uri.is_none());
        assert!(c.uses_dev_secrets());
        assert_eq!(c.data_dir, PathBuf::from("./data"));
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (pairs, needle) in [
            (vec![("PORT", "eighty")], "PORT must be a whole number"),
            (vec![("PORT", "70000")], "PORT must be a whole number"),
            (
                vec![("NODE_ENV", "test"), ("MONGO_URI", "localhost:27017")],
                "MONGO_URI must be a URI",
            ),
            (
                vec![("NODE_ENV", "test"), ("REDIS_URI", "http://x")],
                "REDIS_URI must be a URI",
            ),
            (vec![("NODE_ENV", "prod")], "NODE_ENV must be one of"),
            (vec![("NODE_ENV", "production")], "JWT_SECRET is required"),
            (vec![("LOG_LEVEL", "loud")], "LOG_LEVEL must be one of"),
            (vec![("SNAPSHOT_EVERY", "-1")], "SNAPSHOT_EVERY must be"),
            (vec![("EMBEDDED_SYNC", "off")], "EMBEDDED_SYNC must be"),
            (vec![("REDIS_URI", "redis://localhost")], "NODE_ENV is required"),
            (vec![("MONGO_URI", "mongodb://localhost")], "NODE_ENV is required"),
            (vec![("TRUST_PROXY", "10.0.0.0/33")], "TRUST_PROXY"),
            (vec![("REQUEST_TIMEOUT_MS", "10")], "REQUEST_TIMEOUT_MS must be"),
            (
                vec![("MONGO_COLLECTION_PREFIX", "a$b")],
                "MONGO_COLLECTION_PREFIX may only",
            ),
            (
                vec![("MONGO_OPERATION_TIMEOUT_MS", "5")],
                "MONGO_OPERATION_TIMEOUT_MS must be",
            ),
        ] {
            let error = config(&pairs).unwrap_err().to_string();
            assert!(error.contains(needle), "{pairs:?}: {error}");
            assert!(!error.contains('\n'), "one line: {error}");
        }
    }

    #[test]
    fn production_requires_long_secrets() {
        let short = config(&[("NODE_ENV", "production"), ("JWT_SECRET", "x"), ("IDENT_SECRET", "y")]);
        assert!(short.unwrap_err().to_string().contains("at least 16"));
        let ok = config(&[
            ("NODE_ENV", "production"),
            ("JWT_SECRET", "0123456789abcdef"),
            ("IDENT_SECRET", "0123456789abcdef"),
            ("DEVMARKT_JWT_SECRET", "0123456789abcdef"),
        ])
        .unwrap();
        assert!(!ok.uses_dev_secrets());
    }
}
