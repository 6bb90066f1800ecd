//! The Redis read-model store.
//!
//! Layout under the configured prefix (default `stummel:`):
//! - `rm:{projection}:g{generation}:d:{collection}` hash: key → JSON document
//! - `rm:{projection}:g{generation}:z:{set}` sorted set
//! - `rm:{projection}:g{generation}:checkpoint` last applied position
//! - `rm:{projection}:active` JSON `{generation, version}` read by queries
//! - `rm:{projection}:generation` counter for fresh generations
//! - `lease:{name}` lease owner, with a TTL
//!
//! A batch commit is one Lua script: it checks the checkpoint (fencing a
//! runner that lost its lease), applies every change and moves the
//! checkpoint, atomically.

use super::{other, unavailable};
use async_trait::async_trait;
use projections::{ActiveModel, Change, Namespace, ReadStore, StoreError};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use serde_json::Value;
use std::time::Duration;

const COMMIT: &str = r#"
local found = tonumber(redis.call('GET', KEYS[1]) or '0')
if found ~= tonumber(ARGV[1]) then
  return {'fenced', tostring(found)}
end
local prefix = ARGV[3]
local i = 4
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'put' then
    redis.call('HSET', prefix .. 'd:' .. ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]); i = i + 4
  elseif op == 'del' then
    redis.call('HDEL', prefix .. 'd:' .. ARGV[i + 1], ARGV[i + 2]); i = i + 3
  elseif op == 'zadd' then
    redis.call('ZADD', prefix .. 'z:' .. ARGV[i + 1], ARGV[i + 3], ARGV[i + 2]); i = i + 4
  elseif op == 'zrem' then
    redis.call('ZREM', prefix .. 'z:' .. ARGV[i + 1], ARGV[i + 2]); i = i + 3
  else
    return redis.error_reply('unknown change ' .. op)
  end
end
redis.call('SET', KEYS[1], ARGV[2])
return {'ok', ARGV[2]}
"#;

const TAKE_LEASE: &str = r#"
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2]); return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"#;

const RELEASE_LEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

pub struct RedisReadStore {
    /// Requests and small writes: fails within the request timeout.
    conn: ConnectionManager,
    /// Batch commits: one Lua script may run long on a big rebuild batch,
    /// and a client-side timeout there would only make the (already applied)
    /// batch look failed.
    bulk: ConnectionManager,
    prefix: String,
    commit: Script,
    take_lease: Script,
    release_lease: Script,
}

/// How long a batch commit may take before it counts as failed.
const BULK_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection that fails fast while Redis is down and reconnects as soon
/// as it is back. The redis crate's defaults wait for an answer forever and
/// retry a lost connection six times with exponential backoff (~6 s, all
/// requests queued behind it, then failed until the next attempt): with
/// Redis stopped, a captcha request hung for over a minute. Here every
/// connection attempt is bounded by `connect`, every answer by `answer`, and
/// the next request after a failed reconnect starts a fresh one — so
/// recovery follows within a request or two of Redis returning.
async fn connection(
    client: redis::Client,
    connect: Duration,
    answer: Duration,
) -> redis::RedisResult<ConnectionManager> {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(connect)
        .set_response_timeout(answer)
        // No retry inside the manager: its backoff starts at 1 s, which every
        // queued request would wait out. The next request reconnects instead.
        .set_number_of_retries(0);
    ConnectionManager::new_with_config(client, config).await
}

impl RedisReadStore {
    /// Connects to `uri`; fails when Redis does not answer within
    /// `startup_timeout`. Requests then fail after 1 s without an answer.
    pub async fn connect(uri: &str, prefix: &str, startup_timeout: Duration) -> Result<Self, StoreError> {
        Self::connect_with(uri, prefix, startup_timeout, Duration::from_secs(1)).await
    }

    /// [`RedisReadStore::connect`] with the request timeout (REDIS_TIMEOUT_MS).
    pub async fn connect_with(
        uri: &str,
        prefix: &str,
        startup_timeout: Duration,
        request_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let client = redis::Client::open(uri).map_err(|e| unavailable(format!("invalid REDIS_URI: {e}")))?;
        let connect = async {
            let conn = connection(client.clone(), request_timeout, request_timeout).await?;
            let bulk = connection(client, request_timeout, BULK_TIMEOUT.max(request_timeout)).await?;
            Ok::<_, redis::RedisError>((conn, bulk))
        };
        let (conn, bulk) = tokio::time::timeout(startup_timeout, connect)
            .await
            .map_err(|_| unavailable(format!("no answer from Redis within {startup_timeout:?}")))?
            .map_err(unavailable)?;
        let store = Self {
            conn,
            bulk,
            prefix: prefix.to_owned(),
            commit: Script::new(COMMIT),
            take_lease: Script::new(TAKE_LEASE),
            release_lease: Script::new(RELEASE_LEASE),
        };
        store.ping().await?;
        Ok(store)
    }

    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    fn generation_prefix(&self, ns: &Namespace) -> String {
        format!("{}rm:{}:g{}:", self.prefix, ns.projection, ns.generation)
    }

    fn doc_key(&self, ns: &Namespace, collection: &str) -> String {
        format!("{}d:{collection}", self.generation_prefix(ns))
    }

    fn set_key(&self, ns: &Namespace, set: &str) -> String {
        format!("{}z:{set}", self.generation_prefix(ns))
    }

    fn checkpoint_key(&self, ns: &Namespace) -> String {
        format!("{}checkpoint", self.generation_prefix(ns))
    }

    fn active_key(&self, projection: &str) -> String {
        format!("{}rm:{projection}:active", self.prefix)
    }
}

#[async_trait]
impl ReadStore for RedisReadStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let pong: String = redis::cmd("PING")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(unavailable(format!("PING answered {pong}")))
        }
    }

    async fn get_doc(&self, ns: &Namespace, collection: &str, key: &str) -> Result<Option<Value>, StoreError> {
        let raw: Option<String> = self
            .conn
            .clone()
            .hget(self.doc_key(ns, collection), key)
            .await
            .map_err(unavailable)?;
        raw.map(|r| serde_json::from_str(&r).map_err(other)).transpose()
    }

    /// One `HMGET` on the collection's hash.
    async fn get_docs(
        &self,
        ns: &Namespace,
        collection: &str,
        keys: &[String],
    ) -> Result<Vec<Option<Value>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new()); // HMGET needs at least one field
        }
        let raw: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.doc_key(ns, collection))
            .arg(keys)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        raw.into_iter()
            .map(|r| r.map(|r| serde_json::from_str(&r).map_err(other)).transpose())
            .collect()
    }

    async fn list_docs(&self, ns: &Namespace, collection: &str) -> Result<Vec<(String, Value)>, StoreError> {
        let raw: Vec<(String, String)> = self
            .conn
            .clone()
            .hgetall(self.doc_key(ns, collection))
            .await
            .map_err(unavailable)?;
        let mut docs = raw
            .into_iter()
            .map(|(k, v)| Ok((k, serde_json::from_str(&v).map_err(other)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        docs.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(docs)
    }

    async fn zscore(&self, ns: &Namespace, set: &str, member: &str) -> Result<Option<f64>, StoreError> {
        self.conn
            .clone()
            .zscore(self.set_key(ns, set), member)
            .await
            .map_err(unavailable)
    }

    async fn zrange_desc(
        &self,
        ns: &Namespace,
        set: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(String, f64)>, StoreError> {
        let Some((start, stop)) = redis_range(offset, limit) else {
            return Ok(Vec::new());
        };
        // ZREVRANGE orders equal scores by member descending, as documented.
        self.conn
            .clone()
            .zrevrange_withscores(self.set_key(ns, set), start, stop)
            .await
            .map_err(unavailable)
    }

    async fn zrange_asc(
        &self,
        ns: &Namespace,
        set: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(String, f64)>, StoreError> {
        let Some((start, stop)) = redis_range(offset, limit) else {
            return Ok(Vec::new());
        };
        // ZRANGE orders equal scores by member ascending.
        self.conn
            .clone()
            .zrange_withscores(self.set_key(ns, set), start, stop)
            .await
            .map_err(unavailable)
    }

    async fn zcard(&self, ns: &Namespace, set: &str) -> Result<u64, StoreError> {
        self.conn
            .clone()
            .zcard(self.set_key(ns, set))
            .await
            .map_err(unavailable)
    }

    async fn checkpoint(&self, ns: &Namespace) -> Result<u64, StoreError> {
        let found: Option<u64> = self
            .conn
            .clone()
            .get(self.checkpoint_key(ns))
            .await
            .map_err(unavailable)?;
        Ok(found.unwrap_or(0))
    }

    async fn commit(&self, ns: &Namespace, expected: u64, new: u64, changes: &[Change]) -> Result<(), StoreError> {
        let mut invocation = self.commit.prepare_invoke();
        invocation
            .key(self.checkpoint_key(ns))
            .arg(expected)
            .arg(new)
            .arg(self.generation_prefix(ns));
        for change in changes {
            match change {
                Change::PutDoc { collection, key, doc } => {
                    invocation.arg("put").arg(collection).arg(key).arg(doc.to_string())
                }
                Change::DeleteDoc { collection, key } => invocation.arg("del").arg(collection).arg(key),
                Change::ZAdd { set, member, score } => invocation.arg("zadd").arg(set).arg(member).arg(*score),
                Change::ZRem { set, member } => invocation.arg("zrem").arg(set).arg(member),
            };
        }
        let (status, value): (String, String) = invocation
            .invoke_async(&mut self.bulk.clone())
            .await
            .map_err(unavailable)?;
        if status == "fenced" {
            return Err(StoreError::Fenced {
                expected,
                found: value.parse().unwrap_or(0),
            });
        }
        Ok(())
    }

    async fn active(&self, projection: &str) -> Result<Option<ActiveModel>, StoreError> {
        let raw: Option<String> = self
            .conn
            .clone()
            .get(self.active_key(projection))
            .await
            .map_err(unavailable)?;
        raw.map(|r| serde_json::from_str(&r).map_err(other)).transpose()
    }

    async fn activate(&self, projection: &str, model: ActiveModel) -> Result<(), StoreError> {
        let raw = serde_json::to_string(&model).map_err(other)?;
        self.conn
            .clone()
            .set(self.active_key(projection), raw)
            .await
            .map_err(unavailable)
    }

    async fn next_generation(&self, projection: &str) -> Result<u64, StoreError> {
        self.conn
            .clone()
            .incr(format!("{}rm:{projection}:generation", self.prefix), 1)
            .await
            .map_err(unavailable)
    }

    async fn drop_generation(&self, ns: &Namespace) -> Result<(), StoreError> {
        let pattern = format!("{}*", self.generation_prefix(ns));
        let mut conn = self.bulk.clone();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            if !keys.is_empty() {
                let _: () = redis::cmd("UNLINK")
                    .arg(keys)
                    .query_async(&mut conn)
                    .await
                    .map_err(unavailable)?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    async fn try_lease(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let held: i64 = self
            .take_lease
            .key(format!("{}lease:{name}", self.prefix))
            .arg(owner)
            .arg(ttl.as_millis() as u64)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(held == 1)
    }

    async fn release_lease(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        let _: i64 = self
            .release_lease
            .key(format!("{}lease:{name}", self.prefix))
            .arg(owner)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

/// Inclusive Redis indexes of a page (negative indexes would count from the end).
fn redis_range(offset: usize, limit: usize) -> Option<(isize, isize)> {
    let (offset, limit) = projections::bounded_range(offset, limit)?;
    Some((offset as isize, (offset + limit - 1) as isize))
}
