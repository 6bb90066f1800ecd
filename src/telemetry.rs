//! Structured logs (tracing) to stderr, as text or JSON.

use crate::config::{Config, LogFormat};
use tracing_subscriber::EnvFilter;

/// `RUST_LOG` overrides `LOG_LEVEL` for fine-grained filters.
pub fn init(config: &Config) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "warn,stummel={level},projections={level},aggregates={level}",
            level = config.log_level
        ))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
        LogFormat::Text => builder.with_ansi(false).try_init(),
    };
}
