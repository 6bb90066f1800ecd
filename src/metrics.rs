//! Prometheus metrics, exposed at `/metrics`.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_seconds: HistogramVec,
    pub command_seconds: HistogramVec,
    pub command_conflicts: IntCounterVec,
    pub events_appended: IntCounterVec,
    pub projection_lag: IntGaugeVec,
    pub projection_checkpoint: IntGaugeVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("stummel".into()), None).expect("valid prefix");
        let latency = vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        let metrics = Self {
            http_requests: IntCounterVec::new(
                Opts::new("http_requests_total", "HTTP requests answered"),
                &["method", "status"],
            )
            .expect("valid metric"),
            http_seconds: HistogramVec::new(
                HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(latency.clone()),
                &["method"],
            )
            .expect("valid metric"),
            command_seconds: HistogramVec::new(
                HistogramOpts::new("command_duration_seconds", "Command handling latency, retries included")
                    .buckets(latency),
                &["aggregate", "result"],
            )
            .expect("valid metric"),
            command_conflicts: IntCounterVec::new(
                Opts::new(
                    "command_conflicts_total",
                    "Optimistic-concurrency conflicts that were retried",
                ),
                &["aggregate"],
            )
            .expect("valid metric"),
            events_appended: IntCounterVec::new(
                Opts::new("events_appended_total", "Events appended by this instance"),
                &["aggregate"],
            )
            .expect("valid metric"),
            projection_lag: IntGaugeVec::new(
                Opts::new(
                    "projection_lag_events",
                    "Events in the log not yet applied to the projection",
                ),
                &["projection"],
            )
            .expect("valid metric"),
            projection_checkpoint: IntGaugeVec::new(
                Opts::new(
                    "projection_checkpoint",
                    "Position of the last event applied to the projection",
                ),
                &["projection"],
            )
            .expect("valid metric"),
            registry,
        };
        for collector in [
            Box::new(metrics.http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(metrics.http_seconds.clone()),
            Box::new(metrics.command_seconds.clone()),
            Box::new(metrics.command_conflicts.clone()),
            Box::new(metrics.events_appended.clone()),
            Box::new(metrics.projection_lag.clone()),
            Box::new(metrics.projection_checkpoint.clone()),
        ] {
            metrics.registry.register(collector).expect("metric registered once");
        }
        metrics
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding into a Vec cannot fail");
        String::from_utf8(buffer).expect("prometheus text is UTF-8")
    }
}
