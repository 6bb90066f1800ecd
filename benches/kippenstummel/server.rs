//! The release binary under test: `stummel replay` and `stummel serve` on
//! the benchmark's stores, and the server's resident memory.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const JWT_SECRET: &str = "bench-admin-secret-0123456789";

/// Where the service keeps its events and read models.
#[derive(Clone)]
pub enum Backend {
    /// SQLite files in the DATA_DIR.
    Embedded,
    /// This MongoDB URI (with database and options).
    Mongo(String),
}

impl Backend {
    pub fn label(&self) -> &'static str {
        match self {
            Backend::Embedded => "embedded",
            Backend::Mongo(_) => "mongodb",
        }
    }

    /// `stummel` with this backend's environment, run inside `dir` so no
    /// `.env` file of the checkout is read.
    pub fn stummel(&self, dir: &Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_stummel"));
        command
            .current_dir(dir)
            .env("DATA_DIR", dir)
            .env("NODE_ENV", "development")
            .env("LOG_LEVEL", "warn")
            .env("JWT_SECRET", JWT_SECRET)
            .env_remove("MONGO_URI")
            .env_remove("REDIS_URI");
        if let Backend::Mongo(uri) = self {
            command.env("MONGO_URI", uri);
        }
        command
    }
}

/// Runs `stummel replay ARGS` and prints its report lines and the wall-clock time.
pub fn replay(backend: &Backend, dir: &Path, args: &[&str]) -> Duration {
    let label = format!("stummel replay {}", args.join(" "));
    let cpu_before = children_cpu_seconds();
    let started = Instant::now();
    let output = backend
        .stummel(dir)
        .arg("replay")
        .args(args)
        .arg("--quiet")
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "{label} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        println!("kippenstummel/{}/replay: {line}", backend.label());
    }
    println!(
        "kippenstummel/{}/replay: `{label}` took {elapsed:.2?} in all, {:.1} s of CPU",
        backend.label(),
        children_cpu_seconds() - cpu_before
    );
    elapsed
}

/// CPU time (user + system) of the waited-for child processes so far: on a
/// machine whose cores are shared, this varies less than the wall clock.
fn children_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // After "pid (comm) ": state is field 3; cutime and cstime are fields 16 and 17.
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // Linux reports them in clock ticks of 1/100 s (USER_HZ).
    (ticks(13) + ticks(14)) / 100.0
}

/// `stummel serve` on a free port; killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    pub fn start(backend: &Backend, dir: &Path) -> Self {
        let mut child = backend
            .stummel(dir)
            .arg("serve")
            .env("PORT", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let port = loop {
            let line = lines.next().expect("stummel serve exited before listening").unwrap();
            if let Some(address) = line.strip_prefix("stummel listening on http://") {
                break address.rsplit(':').next().unwrap().parse::<u16>().unwrap();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, port }
    }

    /// The server's resident set size now (`VmRSS`), in MiB.
    pub fn rss_mib(&self) -> f64 {
        rss_kib(self.child.id()) as f64 / 1024.0
    }

    /// Samples the resident set size every 100 ms until the sampler is dropped.
    pub fn sample_rss(&self) -> RssSampler {
        let (stop, peak) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let pid = self.child.id();
        let (s, p) = (stop.clone(), peak.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        RssSampler { stop, peak }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
}

impl RssSampler {
    /// The highest resident set size seen so far, in MiB.
    pub fn peak_mib(&self) -> f64 {
        self.peak.load(Ordering::Relaxed) as f64 / 1024.0
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// An admin JWT the server accepts (HS256 with [`JWT_SECRET`]).
pub fn admin_token() -> String {
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &serde_json::json!({"sub": "bench"}),
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    format!("Bearer {token}")
}
