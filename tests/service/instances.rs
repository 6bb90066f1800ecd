//! Several `stummel serve` processes on one MongoDB database and one Redis.

use crate::outages::{assert_all_listed, Load};
use crate::support::kms;
use crate::support::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const LEASE_TTL_MS: u64 = 2_000;

/// Every projection of the instance at `base` is live (it holds the lease)
/// and caught up.
async fn all_live(http: &reqwest::Client, base: &str, within: Duration) -> Value {
    eventually(within, || async {
        let (status, body) = kms::call(http.get(format!("{base}/api/ready"))).await.ok()?;
        let projections: Vec<&Value> = body["details"]
            .as_object()?
            .iter()
            .filter(|(k, _)| k.starts_with("projection:"))
            .map(|(_, v)| v)
            .collect();
        let live = !projections.is_empty() && projections.iter().all(|p| p["state"] == "live" && p["lag"] == 0);
        (status == 200 && live).then_some(body)
    })
    .await
}

/// What a client sees: the machine list, map views at several zooms, the
/// leaderboard, the KMC list, the identity's own view.
async fn answers(http: &reqwest::Client, base: &str, token: &str) -> Vec<(String, Value)> {
    let admin = format!("Bearer {}", kms::admin_token());
    let mut paths: Vec<String> = (0..6)
        .map(|page| format!("/api/v1/cvms?page={page}&perPage=50"))
        .collect();
    for (bottom_left, top_right, zoom) in [
        ("47.5,7.5", "48.6,9.0", 8),
        ("47.99,7.99", "48.1,8.8", 12),
        ("47.99,7.99", "48.1,8.8", 14),
        ("47.999,7.999", "48.02,8.05", 18),
    ] {
        paths.push(format!(
            "/api/v1/cvms/within?bottomLeft={bottom_left}&topRight={top_right}&zoom={zoom}"
        ));
    }
    paths.push("/api/v1/ident/leaderboard".into());
    let mut found = Vec::new();
    for path in paths {
        let (status, body) = kms::call(http.get(format!("{base}{path}"))).await.unwrap();
        assert_eq!(status, 200, "{path}: {body}");
        found.push((path, body));
    }
    for (path, headers) in [
        ("/api/v1/kmc/cvms?perPage=50", ("Authorization", admin.as_str())),
        ("/api/v1/ident/me", ("x-ident", token)),
        ("/api/v1/karma/me", ("x-ident", token)),
    ] {
        let (status, mut body) = kms::call(http.get(format!("{base}{path}")).header(headers.0, headers.1))
            .await
            .unwrap();
        assert_eq!(status, 200, "{path}: {body}");
        // Activity time changes with every request, not with the data.
        if let Some(me) = body.as_object_mut() {
            me.remove("lastActiveAt");
        }
        found.push((path.to_owned(), body));
    }
    found
}

/// A captcha issued by one instance and answered at the other, a transfer
/// token created at one and redeemed (once) at the other: these live in
/// Redis, shared by every instance. Returns the identity's token.
async fn identity_across(http: &reqwest::Client, a: &str, b: &str, redis_uri: &str) -> String {
    let (status, captcha) = kms::call(http.get(format!("{a}/api/v1/captcha?scope=registration")))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let id = captcha["id"].as_str().unwrap();
    let stamp = format!("{id}:{}", kms::captcha_text(redis_uri, id).await);
    let (status, body) = kms::call(http.get(format!("{b}/api/v1/ident")).header("x-captcha", &stamp))
        .await
        .unwrap();
    assert_eq!(status, 200, "the captcha of one instance is valid at the other: {body}");
    let identity = body["identity"].as_str().unwrap().to_owned();
    let credentials = json!({"identity": identity, "secret": body["secret"]});
    let (status, body) = kms::call(http.post(format!("{a}/api/v1/ident")).json(&credentials))
        .await
        .unwrap();
    assert_eq!(status, 201, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    // Used once at b: the same captcha is gone for a too.
    let (status, _) = kms::call(http.get(format!("{a}/api/v1/ident")).header("x-captcha", &stamp))
        .await
        .unwrap();
    assert_eq!(status, 403, "a captcha is single-use across instances");

    let (status, captcha) = kms::call(http.get(format!("{b}/api/v1/captcha?scope=transfer")))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let id = captcha["id"].as_str().unwrap();
    let stamp = format!("{id}:{}", kms::captcha_text(redis_uri, id).await);
    let (status, created) = kms::call(
        http.post(format!("{a}/api/v1/ident/transfer"))
            .header("x-ident", &token)
            .header("x-captcha", &stamp)
            .json(&json!({"identity": identity, "encryptedSecret": "blob"})),
    )
    .await
    .unwrap();
    assert_eq!(status, 201, "{created}");
    let transfer = created["token"].as_str().unwrap();
    let (status, _) = kms::call(http.get(format!("{b}/api/v1/ident/transfer/{transfer}")))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let (status, _) = kms::call(http.get(format!("{a}/api/v1/ident/transfer/{transfer}")))
        .await
        .unwrap();
    assert_eq!(status, 409, "a transfer token is redeemed once across instances");

    let (status, body) = kms::call(
        http.patch(format!("{b}/api/v1/kmc/ident/{identity}"))
            .bearer_auth(kms::admin_token())
            .json(&json!({"trusted": true})),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs STUMMEL_TEST_MONGO_URI"]
async fn two_instances_share_one_database_and_survive_a_sigkill() {
    let mongo = MongoDb::fresh().await;
    let mongo_uri = mongo_uri_for(&mongo);
    let redis = RedisServer::start();
    let redis_uri = redis.uri();
    let lease_ttl = LEASE_TTL_MS.to_string();
    let env = |instance: &'static str| {
        let mut env = vec![
            ("MONGO_URI", mongo_uri.clone()),
            ("REDIS_URI", redis_uri.clone()),
            ("PROJECTION_LEASE_TTL_MS", lease_ttl.clone()),
            ("INSTANCE_ID", instance.to_owned()),
        ];
        env.extend(kms::secrets().map(|(k, v)| (k, v.to_owned())));
        env
    };
    let start = |dir: &std::path::Path, instance: &'static str| {
        let env = env(instance);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Service::start(dir, &env)
    };
    let (dir_a, dir_b, dir_c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let mut a = start(dir_a.path(), "instance-a");
    let b = start(dir_b.path(), "instance-b");
    let http = kms::client(Duration::from_secs(20));
    let token = identity_across(&http, &a.base, &b.base, &redis_uri).await;

    // Commands at both; one instance is killed mid-load.
    let load = Load::start(vec![a.base.clone(), b.base.clone()], token.clone(), 0);
    load.wait_for(30).await;
    // The victim runs projections (it started first), so the kill leaves
    // leases behind that only expiry frees.
    let (_, ready_a) = kms::call(http.get(format!("{}/api/ready", a.base))).await.unwrap();
    let held_by_a = ready_a["details"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, v)| k.starts_with("projection:") && v["state"] == "live")
        .count();
    assert!(held_by_a > 0, "{ready_a}");
    a.child.kill().unwrap(); // SIGKILL: no lease released, batches cut off
    a.child.wait().unwrap();
    let killed = Instant::now();
    let at_kill = load.acknowledged();
    load.wait_for(at_kill + 20).await;
    let (attempts, acknowledged) = load.finish().await;

    // The survivor takes over every projection once the dead leases expire.
    all_live(
        &http,
        &b.base,
        Duration::from_millis(3 * LEASE_TTL_MS) + Duration::from_secs(20),
    )
    .await;
    let failover = killed.elapsed();
    assert_all_listed(&http, &b.base, &acknowledged).await;
    let live = answers(&http, &b.base, &token).await;

    // The survivor's models equal a full rebuild from the log...
    let cli_env = env("replay");
    let data_dir = dir_c.path().to_str().unwrap().to_owned();
    let mut cli_env: Vec<(&str, &str)> = cli_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    cli_env.push(("DATA_DIR", data_dir.as_str()));
    let replay = stummel(&["replay", "--all", "--quiet"], &cli_env).output().unwrap();
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    all_live(&http, &b.base, Duration::from_secs(20)).await;
    let rebuilt = answers(&http, &b.base, &token).await;
    assert_eq!(live, rebuilt, "live models differ from a full rebuild");

    // ...and a new instance answers every query exactly as the survivor does.
    let c = start(dir_c.path(), "instance-c");
    eventually(Duration::from_secs(20), || async {
        let (status, _) = kms::call(http.get(format!("{}/api/ready", c.base))).await.ok()?;
        (status == 200).then_some(())
    })
    .await;
    assert_eq!(answers(&http, &c.base, &token).await, rebuilt);
    eprintln!(
        "two instances: {} of {attempts} registrations acknowledged ({at_kill} before the kill), \
         {held_by_a} projections ran on the killed instance, the survivor was live on every projection \
         {failover:?} after the kill (lease TTL {LEASE_TTL_MS} ms)",
        acknowledged.len()
    );
    drop((b, c));
    mongo.drop_database().await;
}

#[tokio::test]
#[ignore = "needs STUMMEL_TEST_MONGO_URI"]
async fn mongodb_without_redis_warns_that_it_is_single_instance_only() {
    let mongo = MongoDb::fresh().await;
    let uri = mongo_uri_for(&mongo);
    let dir = tempfile::tempdir().unwrap();
    let (service, log) = Service::start_logged(dir.path(), &[("MONGO_URI", uri.as_str())]);
    let warned = eventually(Duration::from_secs(10), || async {
        let log = log.lock().unwrap().clone();
        log.lines()
            .find(|l| l.contains("WARN") && l.contains("single-instance only"))
            .map(str::to_owned)
    })
    .await;
    assert!(warned.contains("REDIS_URI"), "{warned}");
    drop(service);
    mongo.drop_database().await;

    // With Redis, no such warning.
    let redis = RedisServer::start();
    let mongo = MongoDb::fresh().await;
    let uri = mongo_uri_for(&mongo);
    let (service, log) = Service::start_logged(
        dir.path(),
        &[("MONGO_URI", uri.as_str()), ("REDIS_URI", redis.uri().as_str())],
    );
    eventually(Duration::from_secs(10), || async {
        kms::call(reqwest::Client::new().get(service.url("/api/ready")))
            .await
            .ok()
            .filter(|(status, _)| *status == 200)
    })
    .await;
    assert!(!log.lock().unwrap().contains("single-instance"));
    drop(service);
    mongo.drop_database().await;
}
