//! Shared test rig: private Redis servers, fresh MongoDB databases, the
//! service binary on a free port.
#![allow(dead_code)]

pub mod kms;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use stummel::event_store::{EventRepository, MongoEventStore, SqliteEventStore, SyncMode};
use stummel::read_store::{MongoReadStore, RedisReadStore, SqliteReadStore};

pub const MONGO_ENV: &str = "STUMMEL_TEST_MONGO_URI";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A redis-server of our own: free port, temporary directory, no persistence
/// (or an fsync-always append-only file, for stop/restart tests). Killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    persistent: bool,
    dir: tempfile::TempDir,
}

impl RedisServer {
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// A server that keeps its data across [`RedisServer::stop`] and
    /// [`RedisServer::restart`], as a production Redis with AOF does.
    pub fn start_persistent() -> Self {
        Self::start_with(true)
    }

    fn start_with(persistent: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..5 {
            let port = free_port();
            if let Some(child) = Self::spawn(dir.path(), port, persistent) {
                return Self {
                    child: Some(child),
                    port,
                    persistent,
                    dir,
                };
            }
        }
        panic!("could not start redis-server");
    }

    /// Starts redis-server on `port`; None when it exits (port taken meanwhile).
    fn spawn(dir: &Path, port: u16, persistent: bool) -> Option<Child> {
        let persistence: &[&str] = if persistent {
            &["--appendonly", "yes", "--appendfsync", "always"]
        } else {
            &["--appendonly", "no"]
        };
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(persistence)
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/test.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return None;
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(child);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    pub fn uri(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops the server the way an operator does (SIGTERM) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-s", "TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and directory.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop it first");
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.is_none() {
            self.child = Self::spawn(self.dir.path(), self.port, self.persistent);
            assert!(
                Instant::now() < deadline,
                "redis-server did not restart on port {}",
                self.port
            );
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The MongoDB server under test. The MongoDB tests are `#[ignore]`d and
/// only run with `--include-ignored`, which scripts/test.sh passes when the
/// variable is set; run without it, they fail rather than pass silently.
pub fn mongo_uri() -> String {
    std::env::var(MONGO_ENV).unwrap_or_else(|_| panic!("{MONGO_ENV} must name a MongoDB server to run this test"))
}

/// The test server's URI with `mongo`'s database as the default database
/// (what the service's MONGO_URI should be to use that database).
pub fn mongo_uri_for(mongo: &MongoDb) -> String {
    let base = mongo_uri();
    let (prefix, query) = base.split_once('?').map_or((base.as_str(), ""), |(p, q)| (p, q));
    let prefix = prefix.trim_end_matches('/');
    // mongodb://user:pw@host:port/db → drop an existing path (the part after the third slash).
    let prefix = match prefix.match_indices('/').nth(2) {
        Some((i, _)) => &prefix[..i],
        None => prefix,
    };
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{prefix}/{}{query}", mongo.db.name())
}

/// A fresh database on the test server; [`MongoDb::drop_database`] removes it.
pub struct MongoDb {
    pub client: mongodb::Client,
    pub db: mongodb::Database,
}

impl MongoDb {
    pub async fn fresh() -> Self {
        let client = mongodb::Client::with_uri_str(mongo_uri())
            .await
            .expect("valid STUMMEL_TEST_MONGO_URI");
        let name = format!("stummel_test_{}", uuid::Uuid::new_v4().simple());
        let db = client.database(&name);
        Self { client, db }
    }

    pub async fn drop_database(&self) {
        self.db.drop().await.expect("drop test database");
    }
}

pub fn embedded_events(dir: &Path) -> EventRepository {
    EventRepository::embedded(SqliteEventStore::open(dir, SyncMode::Normal).unwrap())
        .with_upcasters(stummel::upcasters::all())
}

pub async fn mongo_events(mongo: &MongoDb) -> EventRepository {
    EventRepository::mongo(
        MongoEventStore::with_database(mongo.client.clone(), mongo.db.clone())
            .await
            .unwrap(),
    )
    .with_upcasters(stummel::upcasters::all())
}

pub fn embedded_reads(dir: &Path) -> SqliteReadStore {
    SqliteReadStore::open(dir).unwrap()
}

pub async fn redis_reads(redis: &RedisServer) -> RedisReadStore {
    RedisReadStore::connect(&redis.uri(), "test:", Duration::from_secs(5))
        .await
        .unwrap()
}

pub async fn mongo_reads(mongo: &MongoDb) -> MongoReadStore {
    MongoReadStore::new(mongo.client.clone(), mongo.db.clone())
        .await
        .unwrap()
}

/// The `stummel` binary running `args` with `env` (and nothing inherited
/// that could point it at real servers).
pub fn stummel(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stummel"));
    command.args(args);
    for name in [
        "MONGO_URI",
        "REDIS_URI",
        "NODE_ENV",
        "PORT",
        "DATA_DIR",
        "RUST_LOG",
        "LOG_LEVEL",
    ] {
        command.env_remove(name);
    }
    command.env("CONFIG_DIR", "/nonexistent-stummel-config");
    // Tests are a deployment of their own kind; with MongoDB or Redis the
    // service refuses to guess NODE_ENV. (An empty value counts as unset.)
    command.env("NODE_ENV", "test");
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

/// A running `stummel serve`; SIGKILLed on drop unless stopped.
pub struct Service {
    pub child: Child,
    pub base: String,
}

impl Service {
    /// Starts `stummel serve` on a free port and waits until it listens.
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::spawn(data_dir, env, None)
    }

    /// [`Service::start`], collecting what the process writes to stderr (its logs).
    pub fn start_logged(data_dir: &Path, env: &[(&str, &str)]) -> (Self, std::sync::Arc<std::sync::Mutex<String>>) {
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        (Self::spawn(data_dir, env, Some(log.clone())), log)
    }

    fn spawn(data_dir: &Path, env: &[(&str, &str)], log: Option<std::sync::Arc<std::sync::Mutex<String>>>) -> Self {
        let dir = data_dir.to_str().unwrap().to_owned();
        let mut all = vec![("PORT", "0"), ("DATA_DIR", dir.as_str()), ("PROJECTION_POLL_MS", "50")];
        all.extend_from_slice(env);
        let mut child = stummel(&["serve"], &all)
            .stdout(Stdio::piped())
            .stderr(if log.is_some() { Stdio::piped() } else { Stdio::null() })
            .spawn()
            .unwrap();
        if let Some(log) = log {
            let stderr = child.stderr.take().unwrap();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(address) = line.strip_prefix("stummel listening on http://") {
                        let port = address.rsplit(':').next().unwrap();
                        break format!("http://127.0.0.1:{port}");
                    }
                }
                _ => {
                    let status = child.wait().unwrap();
                    panic!("stummel serve exited before listening: {status}");
                }
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, base }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit; panics after `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "stummel did not exit within {timeout:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it returns Some or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "condition not met within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
