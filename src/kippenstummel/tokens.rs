//! Short-lived single-use secrets: captcha challenges and transfer tokens,
//! plus fixed-window rate limits. Redis when configured (key layout of spec
//! 16.3, no prefix), otherwise process memory. Every check-and-change is one
//! atomic step (a Lua script in Redis, one lock in memory), so a captcha or a
//! transfer token can never be used twice, even by simultaneous requests.

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::Script;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
#[error("token store: {0}")]
pub struct TokenStoreError(pub String);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    pub text: String,
    pub scope: String,
    /// Wrong answers so far; the challenge dies at the limit.
    #[serde(default)]
    pub failures: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptchaCheck {
    /// Right text and scope: the challenge is consumed.
    Passed,
    /// Unknown, expired, wrong text or wrong scope.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub identity: String,
    #[serde(rename = "encryptedSecret")]
    pub encrypted_secret: String,
    pub used: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    Redeemed(Transfer),
    AlreadyUsed,
    Unknown,
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn put_challenge(&self, id: &str, challenge: &Challenge, ttl: Duration) -> Result<(), TokenStoreError>;
    /// Checks an answer; a wrong answer counts, and the challenge is deleted
    /// after `max_failures` wrong answers.
    async fn check_challenge(
        &self,
        id: &str,
        text: &str,
        scope: &str,
        max_failures: u32,
    ) -> Result<CaptchaCheck, TokenStoreError>;
    /// Stores a transfer unless the token exists already (then false).
    async fn put_transfer(&self, token: &str, transfer: &Transfer, ttl: Duration) -> Result<bool, TokenStoreError>;
    /// First call returns the transfer and marks it used (fresh TTL); later calls: AlreadyUsed.
    async fn redeem_transfer(&self, token: &str, ttl: Duration) -> Result<Redemption, TokenStoreError>;
    /// Counts a hit on `key`; true while at most `limit` hits fell in the current window.
    async fn hit(&self, key: &str, limit: u64, window: Duration) -> Result<bool, TokenStoreError>;
    /// Stores `value` under `key` for `ttl` unless the key holds a value
    /// already; returns the value the key holds afterwards (the first
    /// writer's, when several race).
    async fn put_once(&self, key: &str, value: &str, ttl: Duration) -> Result<String, TokenStoreError>;
    /// Marks `key` for `ttl`; true when it was not marked already.
    async fn mark_once(&self, key: &str, ttl: Duration) -> Result<bool, TokenStoreError>;
}

/// Keyv's envelope, as the original stored it: `{"value": ..., "expires": ms}`.
#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    value: T,
    expires: i64,
}

fn envelope<T: Serialize>(value: T, ttl: Duration) -> String {
    let expires = chrono::Utc::now().timestamp_millis() + ttl.as_millis() as i64;
    serde_json::to_string(&Envelope { value, expires }).expect("serializable")
}

pub fn captcha_key(id: &str) -> String {
    format!("captcha:{id}")
}

pub fn transfer_key(token: &str) -> String {
    format!("transfer:{token}")
}

const CHECK_CHALLENGE: &str = r#"
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local env = cjson.decode(raw)
local v = env['value']
if v['text'] == ARGV[1] and v['scope'] == ARGV[2] then
  redis.call('DEL', KEYS[1]); return 1
end
v['failures'] = (tonumber(v['failures']) or 0) + 1
if v['failures'] >= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], cjson.encode(env), 'KEEPTTL')
end
return 0
"#;

// The transfer's value is a JSON *string* inside the envelope, as Keyv wrote it.
const REDEEM_TRANSFER: &str = r#"
local raw = redis.call('GET', KEYS[1])
if not raw then return {'unknown', ''} end
local env = cjson.decode(raw)
local t = cjson.decode(env['value'])
if t['used'] then return {'used', ''} end
t['used'] = true
env['value'] = cjson.encode(t)
env['expires'] = tonumber(ARGV[2])
redis.call('SET', KEYS[1], cjson.encode(env), 'PX', ARGV[1])
return {'ok', raw}
"#;

const HIT: &str = r#"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"#;

pub struct RedisTokens {
    conn: ConnectionManager,
    check: Script,
    redeem: Script,
    hit: Script,
}

impl RedisTokens {
    pub fn new(conn: ConnectionManager) -> Self {
        Self {
            conn,
            check: Script::new(CHECK_CHALLENGE),
            redeem: Script::new(REDEEM_TRANSFER),
            hit: Script::new(HIT),
        }
    }
}

fn store_error(e: impl std::fmt::Display) -> TokenStoreError {
    TokenStoreError(e.to_string())
}

impl RedisTokens {
    /// `SET key value PX ttl NX`: true when this call stored the value.
    async fn set_new(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, TokenStoreError> {
        let set: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .arg("NX")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(store_error)?;
        Ok(set.is_some())
    }
}

#[async_trait]
impl TokenStore for RedisTokens {
    async fn put_challenge(&self, id: &str, challenge: &Challenge, ttl: Duration) -> Result<(), TokenStoreError> {
        redis::cmd("SET")
            .arg(captcha_key(id))
            .arg(envelope(challenge, ttl))
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(store_error)
    }

    async fn check_challenge(
        &self,
        id: &str,
        text: &str,
        scope: &str,
        max_failures: u32,
    ) -> Result<CaptchaCheck, TokenStoreError> {
        let passed: i64 = self
            .check
            .key(captcha_key(id))
            .arg(text)
            .arg(scope)
            .arg(max_failures)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(store_error)?;
        Ok(if passed == 1 {
            CaptchaCheck::Passed
        } else {
            CaptchaCheck::Failed
        })
    }

    async fn put_transfer(&self, token: &str, transfer: &Transfer, ttl: Duration) -> Result<bool, TokenStoreError> {
        let value = serde_json::to_string(transfer).map_err(store_error)?;
        self.set_new(&transfer_key(token), &envelope(value, ttl), ttl).await
    }

    async fn redeem_transfer(&self, token: &str, ttl: Duration) -> Result<Redemption, TokenStoreError> {
        let expires = chrono::Utc::now().timestamp_millis() + ttl.as_millis() as i64;
        let (status, raw): (String, String) = self
            .redeem
            .key(transfer_key(token))
            .arg(ttl.as_millis() as u64)
            .arg(expires)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(store_error)?;
        match status.as_str() {
            "ok" => {
                let env: Envelope<String> = serde_json::from_str(&raw).map_err(store_error)?;
                Ok(Redemption::Redeemed(
                    serde_json::from_str(&env.value).map_err(store_error)?,
                ))
            }
            "used" => Ok(Redemption::AlreadyUsed),
            _ => Ok(Redemption::Unknown),
        }
    }

    async fn hit(&self, key: &str, limit: u64, window: Duration) -> Result<bool, TokenStoreError> {
        let count: u64 = self
            .hit
            .key(format!("ratelimit:{key}"))
            .arg(window.as_millis() as u64)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(store_error)?;
        Ok(count <= limit)
    }

    async fn put_once(&self, key: &str, value: &str, ttl: Duration) -> Result<String, TokenStoreError> {
        if self.set_new(key, value, ttl).await? {
            return Ok(value.to_owned());
        }
        let stored: Option<String> = redis::cmd("GET")
            .arg(key)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(store_error)?;
        // Expired between the two calls: ours is as good as any.
        Ok(stored.unwrap_or_else(|| value.to_owned()))
    }

    async fn mark_once(&self, key: &str, ttl: Duration) -> Result<bool, TokenStoreError> {
        self.set_new(key, "1", ttl).await
    }
}

enum Entry {
    Challenge(Challenge),
    Transfer(Transfer),
    Counter(u64),
    Text(String),
}

/// Process-memory token store for the embedded default (one instance).
#[derive(Default)]
pub struct MemoryTokens {
    entries: Mutex<HashMap<String, (Entry, Instant)>>,
}

impl MemoryTokens {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, (Entry, Instant)>) -> T) -> T {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        entries.retain(|_, (_, expires)| *expires > now);
        f(&mut entries)
    }
}

#[async_trait]
impl TokenStore for MemoryTokens {
    async fn put_challenge(&self, id: &str, challenge: &Challenge, ttl: Duration) -> Result<(), TokenStoreError> {
        self.with(|e| {
            e.insert(
                captcha_key(id),
                (Entry::Challenge(challenge.clone()), Instant::now() + ttl),
            )
        });
        Ok(())
    }

    async fn check_challenge(
        &self,
        id: &str,
        text: &str,
        scope: &str,
        max_failures: u32,
    ) -> Result<CaptchaCheck, TokenStoreError> {
        Ok(self.with(|entries| {
            let key = captcha_key(id);
            let Some((Entry::Challenge(challenge), _)) = entries.get_mut(&key) else {
                return CaptchaCheck::Failed;
            };
            if challenge.text == text && challenge.scope == scope {
                entries.remove(&key);
                return CaptchaCheck::Passed;
            }
            challenge.failures += 1;
            if challenge.failures >= max_failures {
                entries.remove(&key);
            }
            CaptchaCheck::Failed
        }))
    }

    async fn put_transfer(&self, token: &str, transfer: &Transfer, ttl: Duration) -> Result<bool, TokenStoreError> {
        Ok(self.with(|entries| {
            let key = transfer_key(token);
            if entries.contains_key(&key) {
                return false;
            }
            entries.insert(key, (Entry::Transfer(transfer.clone()), Instant::now() + ttl));
            true
        }))
    }

    async fn redeem_transfer(&self, token: &str, ttl: Duration) -> Result<Redemption, TokenStoreError> {
        Ok(self.with(|entries| match entries.get_mut(&transfer_key(token)) {
            Some((Entry::Transfer(transfer), expires)) if !transfer.used => {
                let found = transfer.clone();
                transfer.used = true;
                *expires = Instant::now() + ttl;
                Redemption::Redeemed(found)
            }
            Some((Entry::Transfer(_), _)) => Redemption::AlreadyUsed,
            _ => Redemption::Unknown,
        }))
    }

    async fn hit(&self, key: &str, limit: u64, window: Duration) -> Result<bool, TokenStoreError> {
        Ok(self.with(|entries| {
            let entry = entries
                .entry(format!("ratelimit:{key}"))
                .or_insert_with(|| (Entry::Counter(0), Instant::now() + window));
            match &mut entry.0 {
                Entry::Counter(n) => {
                    *n += 1;
                    *n <= limit
                }
                _ => false,
            }
        }))
    }

    async fn put_once(&self, key: &str, value: &str, ttl: Duration) -> Result<String, TokenStoreError> {
        Ok(self.with(|entries| {
            let entry = entries
                .entry(key.to_owned())
                .or_insert_with(|| (Entry::Text(value.to_owned()), Instant::now() + ttl));
            match &entry.0 {
                Entry::Text(stored) => stored.clone(),
                _ => value.to_owned(),
            }
        }))
    }

    async fn mark_once(&self, key: &str, ttl: Duration) -> Result<bool, TokenStoreError> {
        Ok(self.with(|entries| {
            if entries.contains_key(key) {
                return false;
            }
            entries.insert(key.to_owned(), (Entry::Counter(1), Instant::now() + ttl));
            true
        }))
    }
}
