//! A store goes away under load and comes back: requests that need it fail
//! fast with 503 and the standard error body, the others keep working,
//! readiness names what is down, everything recovers within seconds, the
//! projectors resume from their checkpoints, nothing acknowledged is lost.
//!
//! Bounds here are generous ceilings (an HTTP client timeout, an
//! `eventually` deadline) that a hang or a minute-long recovery would
//! break; the measured times are printed, not asserted.

use crate::support::kms;
use crate::support::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A request during an outage must answer within this (it hung for over a
/// minute before the Redis client had timeouts).
const OUTAGE_ANSWER_CEILING: Duration = Duration::from_secs(5);
/// Recovery after the store returns must finish within this.
const RECOVERY_CEILING: Duration = Duration::from_secs(20);

const DEVMARKT_SECRET: &str = "test-devmarkt-secret-0123456789";

fn devmarkt_admin() -> String {
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": "internal:1", "iat": 1516239022}),
        &jsonwebtoken::EncodingKey::from_secret(DEVMARKT_SECRET.as_bytes()),
    )
    .unwrap();
    format!("Self {token}")
}

/// Registrations sent one after another while a test runs; remembers the
/// acknowledged ones (201).
pub struct Load {
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Vec<u64>>>,
    task: tokio::task::JoinHandle<u64>,
}

impl Load {
    /// Registers machines `first..` on the instances at `bases`, round robin.
    pub fn start(bases: Vec<String>, token: String, first: u64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let task = {
            let (stop, acknowledged) = (stop.clone(), acknowledged.clone());
            tokio::spawn(async move {
                let http = kms::client(OUTAGE_ANSWER_CEILING);
                let mut n = first;
                while !stop.load(Ordering::Relaxed) {
                    let base = &bases[n as usize % bases.len()];
                    if kms::register(&http, base, &token, n).await == Some(201) {
                        acknowledged.lock().unwrap().push(n);
                    }
                    n += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                n - first
            })
        };
        Self {
            stop,
            acknowledged,
            task,
        }
    }

    pub fn acknowledged(&self) -> usize {
        self.acknowledged.lock().unwrap().len()
    }

    pub async fn wait_for(&self, count: usize) {
        eventually(Duration::from_secs(60), || async {
            (self.acknowledged() >= count).then_some(())
        })
        .await;
    }

    /// Stops the load; (attempts, acknowledged machine numbers).
    pub async fn finish(self) -> (u64, Vec<u64>) {
        self.stop.store(true, Ordering::Relaxed);
        let attempts = self.task.await.unwrap();
        let acknowledged = self.acknowledged.lock().unwrap().clone();
        (attempts, acknowledged)
    }
}

/// Every acknowledged machine is listed by the service at `base`.
pub async fn assert_all_listed(http: &reqwest::Client, base: &str, acknowledged: &[u64]) {
    let expected: Vec<(i64, i64)> = acknowledged
        .iter()
        .map(|n| {
            let (lat, lng) = kms::position(*n);
            kms::rounded(lat, lng)
        })
        .collect();
    let listed = eventually(Duration::from_secs(30), || async {
        let listed = kms::machine_positions(http, base).await.ok()?;
        expected
            .iter()
            .all(|p| listed.binary_search(p).is_ok())
            .then_some(listed)
    })
    .await;
    assert!(listed.len() >= expected.len());
}

async fn ready(http: &reqwest::Client, base: &str) -> (u16, Value) {
    kms::call(http.get(format!("{base}/api/ready")))
        .await
        .unwrap_or((0, Value::Null))
}

/// Ready, with every projection live and caught up.
async fn caught_up(http: &reqwest::Client, base: &str) -> Value {
    eventually(RECOVERY_CEILING, || async {
        let (status, body) = ready(http, base).await;
        let projections: Vec<&Value> = body["details"]
            .as_object()?
            .iter()
            .filter(|(k, _)| k.starts_with("projection:"))
            .map(|(_, v)| v)
            .collect();
        let caught_up = !projections.is_empty() && projections.iter().all(|p| p["lag"] == 0);
        (status == 200 && caught_up).then_some(body)
    })
    .await
}

/// One request that must be answered within the ceiling: (status, body, elapsed).
async fn timed(request: reqwest::RequestBuilder) -> (u16, Value, Duration) {
    let started = Instant::now();
    let (status, body) = kms::call(request)
        .await
        .unwrap_or_else(|e| panic!("no answer within {OUTAGE_ANSWER_CEILING:?}: {e}"));
    (status, body, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_outage_fails_fast_keeps_the_rest_working_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let mut redis = RedisServer::start_persistent();
    let redis_uri = redis.uri();
    let mut env = vec![
        ("REDIS_URI", redis_uri.as_str()),
        ("DEVMARKT_JWT_SECRET", DEVMARKT_SECRET),
    ];
    env.extend(kms::secrets());
    let service = Service::start(dir.path(), &env);
    let base = service.base.clone();
    let http = kms::client(OUTAGE_ANSWER_CEILING);
    caught_up(&http, &base).await;
    let (_, token) = kms::trusted_identity(&http, &base, &redis_uri).await;
    let load = Load::start(vec![base.clone()], token.clone(), 0);
    load.wait_for(5).await;

    redis.stop();
    let outage = Instant::now();
    let mut slowest = Duration::ZERO;
    // Needs Redis: captchas (tokens) and the leaderboard (a hot read model).
    for path in ["/api/v1/captcha?scope=registration", "/api/v1/ident/leaderboard"] {
        for _ in 0..3 {
            let (status, body, elapsed) = timed(http.get(format!("{base}{path}"))).await;
            kms::assert_unavailable(status, &body);
            slowest = slowest.max(elapsed);
        }
    }
    eprintln!("redis outage: 503s after {:?}", outage.elapsed());
    let (status, body) = ready(&http, &base).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["readModels:redis"]["status"], "down", "{body}");
    assert_eq!(body["info"]["eventStore:embedded"]["status"], "up", "{body}");
    // Does not need Redis: Devmarkt lives in the embedded store.
    let graphql = |query: &str| {
        http.post(format!("{base}/graphql"))
            .header("Authorization", devmarkt_admin())
            .json(&json!({"query": query}))
    };
    let (status, body, _) =
        timed(graphql(r#"mutation { createTemplate(name: "During the outage", questions: [{question: "Q", number: 0, multiline: false}]) { __typename } }"#)).await;
    assert_eq!(
        (status, &body["data"]["createTemplate"]["__typename"]),
        (200, &json!("Template")),
        "{body}"
    );
    let (status, body, _) = timed(graphql("{ templates { name } }")).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["templates"],
        json!([{"name": "During the outage"}]),
        "{body}"
    );
    eprintln!("redis outage: devmarkt done after {:?}", outage.elapsed());
    // Keep the load on for a while: registrations and projector batches fail meanwhile.
    let during = load.acknowledged();
    tokio::time::sleep(Duration::from_secs(2)).await;

    redis.restart();
    let back = Instant::now();
    eventually(RECOVERY_CEILING, || async {
        let (status, _) = kms::call(http.get(format!("{base}/api/v1/captcha?scope=registration")))
            .await
            .ok()?;
        (status == 200).then_some(())
    })
    .await;
    let captcha_back = back.elapsed();
    caught_up(&http, &base).await;
    load.wait_for(during + 5).await;
    let (attempts, acknowledged) = load.finish().await;
    eprintln!(
        "redis outage: {:?} down, slowest 503 {slowest:?}, captcha back after {captcha_back:?}, ready after {:?}; \
         {} of {attempts} registrations acknowledged",
        back - outage,
        back.elapsed(),
        acknowledged.len()
    );
    assert_all_listed(&http, &base, &acknowledged).await;

    // A Redis that comes back empty (no persistence): the hot models are
    // rebuilt from the log, and answers are what they were.
    let me = |http: &reqwest::Client| {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        async move {
            let (status, mut body) = kms::call(http.get(format!("{base}/api/v1/ident/me")).header("x-ident", token))
                .await
                .unwrap();
            assert_eq!(status, 200, "{body}");
            body.as_object_mut().unwrap().remove("lastActiveAt");
            body
        }
    };
    let before = me(&http).await;
    let client = redis::Client::open(redis_uri.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await.unwrap();
    eventually(RECOVERY_CEILING, || async { (me(&http).await == before).then_some(()) }).await;
    caught_up(&http, &base).await;
    assert_eq!(me(&http).await, before);
}

/// Runs the shell command in the environment variable `name`.
fn run_env_command(name: &str) {
    let command = std::env::var(name).unwrap_or_else(|_| panic!("{name} must name a command (see scripts/test.sh)"));
    let status = std::process::Command::new("sh")
        .args(["-c", &command])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{name} ({command}) failed: {status}");
}

/// Stops and restarts the MongoDB test server itself, so scripts/test.sh runs
/// it alone, and only when STUMMEL_TEST_MONGO_STOP and STUMMEL_TEST_MONGO_START
/// name the commands that do it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs STUMMEL_TEST_MONGO_URI, STUMMEL_TEST_MONGO_STOP and STUMMEL_TEST_MONGO_START"]
async fn mongodb_outage_fails_fast_keeps_the_rest_working_and_recovers() {
    for name in ["STUMMEL_TEST_MONGO_STOP", "STUMMEL_TEST_MONGO_START"] {
        assert!(
            std::env::var(name).is_ok(),
            "{name} must name a command (see scripts/test.sh)"
        );
    }
    let mongo = MongoDb::fresh().await;
    let mongo_uri = mongo_uri_for(&mongo);
    let redis = RedisServer::start();
    let redis_uri = redis.uri();
    let dir = tempfile::tempdir().unwrap();
    let mut env = vec![
        ("MONGO_URI", mongo_uri.as_str()),
        ("REDIS_URI", redis_uri.as_str()),
        // An election would be ridden out for this long; here the outage is real.
        ("MONGO_SERVER_SELECTION_TIMEOUT_MS", "2000"),
    ];
    env.extend(kms::secrets());
    let service = Service::start(dir.path(), &env);
    let base = service.base.clone();
    let http = kms::client(OUTAGE_ANSWER_CEILING);
    caught_up(&http, &base).await;
    let (_, token) = kms::trusted_identity(&http, &base, &redis_uri).await;
    let load = Load::start(vec![base.clone()], token.clone(), 0);
    load.wait_for(5).await;

    run_env_command("STUMMEL_TEST_MONGO_STOP");
    let outage = Instant::now();
    let mut slowest = Duration::ZERO;
    // Needs MongoDB: the machine list (documents) and the identity (idents).
    for _ in 0..3 {
        for request in [
            http.get(format!("{base}/api/v1/cvms")),
            http.get(format!("{base}/api/v1/ident/me")).header("x-ident", &token),
        ] {
            let (status, body, elapsed) = timed(request).await;
            kms::assert_unavailable(status, &body);
            slowest = slowest.max(elapsed);
        }
    }
    let (status, body) = ready(&http, &base).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["eventStore:mongodb"]["status"], "down", "{body}");
    assert_eq!(body["error"]["readModels:mongodb"]["status"], "down", "{body}");
    assert_eq!(body["info"]["readModels:redis"]["status"], "up", "{body}");
    // Does not need MongoDB: captchas live in Redis.
    let (status, body, _) = timed(http.get(format!("{base}/api/v1/captcha?scope=registration"))).await;
    assert_eq!(status, 200, "{body}");
    let during = load.acknowledged();
    // Past the server-selection timeout: requests now fail at once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, body, fast) = timed(http.get(format!("{base}/api/v1/cvms"))).await;
    kms::assert_unavailable(status, &body);

    run_env_command("STUMMEL_TEST_MONGO_START");
    let back = Instant::now();
    eventually(RECOVERY_CEILING, || async {
        let (status, _) = kms::call(http.get(format!("{base}/api/v1/cvms"))).await.ok()?;
        (status == 200).then_some(())
    })
    .await;
    let list_back = back.elapsed();
    caught_up(&http, &base).await;
    load.wait_for(during + 5).await;
    let (attempts, acknowledged) = load.finish().await;
    eprintln!(
        "mongodb outage: {:?} down, slowest 503 {slowest:?}, 503 after the grace period {fast:?}, \
         list back {list_back:?} after the restart, ready after {:?}; {} of {attempts} registrations acknowledged",
        back - outage,
        back.elapsed(),
        acknowledged.len()
    );
    assert_all_listed(&http, &base, &acknowledged).await;
    drop(service);
    mongo.drop_database().await;
}
