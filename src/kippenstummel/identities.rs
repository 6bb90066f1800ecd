//! Identity use cases (spec 4.1–4.9, 5.2, 12): what the endpoints do,
//! independent of HTTP parsing.

use super::captcha;
use super::idents::{IdentDoc, UsernameChange};
use super::tokens::{CaptchaCheck, Challenge, Redemption, Transfer};
use super::Kippenstummel;
use crate::event_store::{CommandError, CommandMetadata};
use crate::http::error::{self, ApiError};
use aggregates::kippenstummel::ident::IdentCommand;
use aggregates::kippenstummel::username::suffix_from_random;
use chrono::{DateTime, Duration, Utc};
use projections::kippenstummel::{credibility, karma};
use rand::RngCore;
use serde_json::Value;

/// Wrong answers after which a captcha challenge is deleted (the original
/// allowed unlimited retries: bug 15).
pub const CAPTCHA_MAX_FAILURES: u32 = 3;
/// Redemption attempts per client and minute (transfer tokens).
pub const REDEEM_LIMIT_PER_MINUTE: u64 = 20;
/// Default of `POST /ident` attempts per client and minute
/// (`LOGIN_LIMIT_PER_MINUTE`). Each one costs a bcrypt
/// verification (~50 ms of a core); a device logs in about once a week
/// (`IDENT_EXPIRES_IN`), so this is far above honest use, NAT included,
/// and keeps one client from turning the endpoint into a CPU burner.
pub const LOGIN_LIMIT_PER_MINUTE: u64 = 30;
/// Default of `GET /captcha` calls per client and minute
/// (`CAPTCHA_LIMIT_PER_MINUTE`): a person needs one per registration or
/// transfer; each renders an image and stores a challenge for its TTL.
pub const CAPTCHA_LIMIT_PER_MINUTE: u64 = 30;
/// `lastActiveAt` is only rewritten when older than this (IDENT_LAST_ACTIVE_DELAY).
pub const LAST_ACTIVE_GRANULARITY_MINUTES: i64 = 15;

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    buffer.iter().map(|b| format!("{b:02x}")).collect()
}

pub struct IdentInfo {
    pub doc: IdentDoc,
    pub credibility: i64,
    pub karma: i64,
}

fn metadata(reference: &str) -> CommandMetadata {
    CommandMetadata::new(error::current_request_id(), Some(reference.to_owned()), Utc::now())
}

impl Kippenstummel {
    /// `GET /captcha`: rendering costs CPU and every challenge is stored
    /// until it expires, so both are limited per client.
    pub async fn new_captcha(&self, scope: &str, client: &str) -> Result<captcha::Challenge, ApiError> {
        self.rate_limit("captcha", client, self.captcha_limit).await?;
        let challenge = self.cpu_bound(captcha::generate).await?;
        let stored = Challenge {
            text: challenge.text.clone(),
            scope: scope.to_owned(),
            failures: 0,
        };
        self.tokens
            .put_challenge(&challenge.id, &stored, self.captcha_ttl)
            .await
            .map_err(ApiError::unavailable)?;
        Ok(challenge)
    }

    /// The `x-captcha` guard (spec 3.2): consumes the challenge on success.
    pub async fn check_captcha(&self, stamp: Option<&str>, scope: &str) -> Result<(), ApiError> {
        let (id, text) = super::auth::parse_stamp(stamp).map_err(|problem| match problem {
            super::auth::StampProblem::Missing => ApiError::new(error::INVALID_CAPTCHA_STAMP),
            super::auth::StampProblem::Malformed => ApiError::new(error::MALFORMED_CAPTCHA_STAMP),
        })?;
        match self
            .tokens
            .check_challenge(id, text, scope, CAPTCHA_MAX_FAILURES)
            .await
            .map_err(ApiError::unavailable)?
        {
            CaptchaCheck::Passed => Ok(()),
            CaptchaCheck::Failed => Err(ApiError::new(error::INVALID_CAPTCHA_STAMP)),
        }
    }

    /// The identity of an `x-ident` header that must be present and valid (IdentGuard).
    pub async fn require_identity(&self, header: Option<&str>) -> Result<IdentDoc, ApiError> {
        let token = header.ok_or_else(|| ApiError::new(error::INVALID_IDENT_TOKEN))?;
        let identity = self
            .ident_tokens
            .verify(token)
            .map_err(|_| ApiError::new(error::INVALID_IDENT_TOKEN))?;
        self.idents
            .get(&identity)
            .await
            .map_err(ApiError::unavailable)?
            .ok_or_else(|| ApiError::new(error::UNKNOWN_IDENTITY))
    }

    /// The identity of an optional `x-ident` header (AnonymousGuard): a bad
    /// or unknown token is just anonymous; a store failure is not.
    pub async fn optional_identity(&self, header: Option<&str>) -> Result<Option<IdentDoc>, ApiError> {
        let Some(identity) = header.and_then(|token| self.ident_tokens.verify(token).ok()) else {
            return Ok(None);
        };
        self.idents.get(&identity).await.map_err(ApiError::unavailable)
    }

    /// The admin guard (spec 3.3).
    pub fn require_admin(&self, authorization: Option<&str>) -> Result<String, ApiError> {
        self.admin_tokens
            .verify_header(authorization)
            .map_err(|_| ApiError::new(error::UNAUTHENTICATED))
    }

    /// Refreshes `lastActiveAt` of a valid token's identity in the
    /// background; never delays or fails the request (spec 3.4).
    pub fn track_activity(self: &std::sync::Arc<Self>, header: Option<&str>) {
        let Some(identity) = header.and_then(|token| self.ident_tokens.verify(token).ok()) else {
            return;
        };
        let this = self.clone();
        tokio::spawn(async move {
            let now = Utc::now();
            let stale_before = now - Duration::minutes(LAST_ACTIVE_GRANULARITY_MINUTES);
            if let Err(error) = this.idents.touch(&identity, now, stale_before).await {
                tracing::debug!(%error, "last-active update failed");
            }
        });
    }

    /// `GET /ident` after the captcha: a new identity and its one-time secret.
    pub async fn issue_identity(&self) -> Result<(String, String), ApiError> {
        let identity = uuid::Uuid::new_v4().to_string();
        let secret = random_hex(64);
        let to_hash = secret.clone();
        let secret_hash = self
            .cpu_bound(move || bcrypt::hash(to_hash, 10))
            .await?
            .map_err(ApiError::internal)?;
        let now = Utc::now();
        // Time-ordered, so the leaderboard's tie-break is "oldest first".
        let reference = uuid::Uuid::now_v7().simple().to_string();
        let doc = IdentDoc {
            identity: identity.clone(),
            secret_hash,
            reference: reference.clone(),
            username: None,
            suffix: None,
            trusted: false,
            last_active_at: now,
            created_at: now,
            updated_at: now,
        };
        self.idents.insert(&doc).await.map_err(ApiError::unavailable)?;
        let registered = self
            .ident_commands
            .execute(
                &reference,
                IdentCommand::Register { issued_at: now },
                &metadata(&reference),
            )
            .await;
        if let Err(e) = registered {
            // Without its event the identity would have no karma or credibility: undo.
            let _ = self.idents.delete(&identity).await;
            return Err(ApiError::internal(e));
        }
        Ok((identity, secret))
    }

    /// `POST /ident`: a token for matching credentials.
    /// Runs CPU-bound work (bcrypt, captcha images) on the blocking pool, at
    /// most one per core at a time: the pool has hundreds of threads, and
    /// unbounded concurrent hashing would take every core from every other
    /// request.
    async fn cpu_bound<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let _slot = self.cpu_slots.acquire().await.map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(work).await.map_err(ApiError::internal)
    }

    /// Counts one attempt of `action` by `client`; 429 past `limit` per minute.
    async fn rate_limit(&self, action: &str, client: &str, limit: u64) -> Result<(), ApiError> {
        let allowed = self
            .tokens
            .hit(&format!("{action}:{client}"), limit, std::time::Duration::from_secs(60))
            .await
            .map_err(ApiError::unavailable)?;
        if allowed {
            Ok(())
        } else {
            Err(ApiError::new(error::THROTTLED))
        }
    }

    pub async fn login(&self, identity: &str, secret: &str, client: &str) -> Result<String, ApiError> {
        self.rate_limit("login", client, self.login_limit).await?;
        let doc = self
            .idents
            .get(identity)
            .await
            .map_err(ApiError::unavailable)?
            .ok_or_else(|| ApiError::new(error::UNKNOWN_IDENTITY))?;
        let (secret, hash) = (secret.to_owned(), doc.secret_hash.clone());
        let matches = self
            .cpu_bound(move || bcrypt::verify(secret, &hash).unwrap_or(false))
            .await?;
        if !matches {
            return Err(ApiError::new(error::UNKNOWN_IDENTITY));
        }
        Ok(self.ident_tokens.issue(&doc.identity, Utc::now()))
    }

    /// Karma amount and credibility rating of an identity, from the read models.
    pub async fn info(&self, doc: IdentDoc) -> Result<IdentInfo, ApiError> {
        let (karma, credibility) = self.scores(&doc.reference).await?;
        Ok(IdentInfo {
            doc,
            credibility,
            karma,
        })
    }

    async fn scores(&self, reference: &str) -> Result<(i64, i64), ApiError> {
        let karma_amount = match self.active(karma::NAME).await.map_err(ApiError::unavailable)? {
            Some(ns) => self
                .read_models
                .get_doc(&ns, karma::KARMA, reference)
                .await
                .map_err(ApiError::unavailable)?
                .and_then(|d| d["amount"].as_i64()),
            None => None,
        };
        let rating = match self.active(credibility::NAME).await.map_err(ApiError::unavailable)? {
            Some(ns) => self
                .read_models
                .get_doc(&ns, credibility::CREDIBILITY, reference)
                .await
                .map_err(ApiError::unavailable)?
                .and_then(|d| d["rating"].as_f64()),
            None => None,
        };
        // A brand-new identity whose registration the projectors have not
        // applied yet has the initial values.
        Ok((
            karma_amount.unwrap_or(aggregates::kippenstummel::karma::INITIAL_KARMA),
            rating.unwrap_or(aggregates::kippenstummel::credibility::INITIAL_RATING) as i64,
        ))
    }

    /// `PATCH /ident/me` with a validated username (`None` clears it).
    pub async fn set_username(&self, doc: &IdentDoc, username: Option<&str>) -> Result<(), ApiError> {
        let now = Utc::now();
        let change = match (username, &doc.suffix) {
            (None, _) => self.idents.set_username(&doc.identity, None, None, now).await,
            (Some(name), Some(_)) => self.idents.set_username(&doc.identity, Some(name), None, now).await,
            (Some(name), None) => {
                // First username: draw suffixes until the pair is free.
                let mut outcome = Ok(UsernameChange::Taken);
                for _ in 0..50 {
                    let suffix = suffix_from_random(rand::rng().next_u32());
                    outcome = self
                        .idents
                        .set_username(&doc.identity, Some(name), Some(&suffix), now)
                        .await;
                    if !matches!(outcome, Ok(UsernameChange::Taken)) {
                        break;
                    }
                }
                outcome
            }
        };
        match change.map_err(ApiError::unavailable)? {
            UsernameChange::Done => Ok(()),
            UsernameChange::Taken => Err(ApiError::new(error::USERNAME_ALREADY_EXISTS)),
            UsernameChange::Unknown => Err(ApiError::new(error::UNKNOWN_IDENTITY)),
        }
    }

    /// `POST /ident/transfer`: a single-use token for the encrypted secret.
    pub async fn request_transfer(&self, doc: &IdentDoc, encrypted_secret: &str) -> Result<String, ApiError> {
        let transfer = Transfer {
            identity: doc.identity.clone(),
            encrypted_secret: encrypted_secret.to_owned(),
            used: false,
        };
        for _ in 0..5 {
            // 128 bits: not guessable within a token's lifetime (the original had 32, bug 15).
            let token = random_hex(16);
            if self
                .tokens
                .put_transfer(&token, &transfer, self.transfer_ttl)
                .await
                .map_err(ApiError::unavailable)?
            {
                return Ok(token);
            }
        }
        Err(ApiError::internal("no free transfer token after 5 draws"))
    }

    /// `GET /ident/transfer/:token`: exactly one redemption succeeds.
    pub async fn redeem_transfer(&self, token: &str, client: &str) -> Result<Transfer, ApiError> {
        self.rate_limit("redeem", client, REDEEM_LIMIT_PER_MINUTE).await?;
        match self
            .tokens
            .redeem_transfer(token, self.transfer_ttl)
            .await
            .map_err(ApiError::unavailable)?
        {
            Redemption::Redeemed(transfer) => Ok(transfer),
            Redemption::AlreadyUsed => Err(ApiError::new(error::TRANSFER_TOKEN_ALREADY_USED)),
            Redemption::Unknown => Err(ApiError::new(error::NOT_FOUND)),
        }
    }

    /// `GET /ident/leaderboard`: identities with positive karma, highest first.
    pub async fn leaderboard(&self, offset: usize, limit: usize) -> Result<(Vec<IdentInfo>, u64), ApiError> {
        let Some(ns) = self.active(karma::NAME).await.map_err(ApiError::unavailable)? else {
            return Ok((Vec::new(), 0));
        };
        let ranked = self
            .read_models
            .zrange_asc(&ns, karma::LEADERBOARD, offset, limit)
            .await
            .map_err(ApiError::unavailable)?;
        let total = self
            .read_models
            .zcard(&ns, karma::LEADERBOARD)
            .await
            .map_err(ApiError::unavailable)?;
        let references: Vec<String> = ranked.iter().map(|(r, _)| r.clone()).collect();
        let docs = self
            .idents
            .get_by_reference(&references)
            .await
            .map_err(ApiError::unavailable)?;
        let entries = ranked
            .into_iter()
            .filter_map(|(reference, score)| {
                let doc = docs.iter().find(|d| d.reference == reference)?.clone();
                Some(IdentInfo {
                    doc,
                    karma: -score as i64,
                    credibility: 0,
                })
            })
            .collect();
        Ok((entries, total))
    }

    /// `GET /karma/me`: the caller's karma history, newest first.
    pub async fn karma_history(&self, doc: &IdentDoc) -> Result<Vec<Value>, ApiError> {
        let Some(ns) = self.active(karma::NAME).await.map_err(ApiError::unavailable)? else {
            return Ok(Vec::new());
        };
        let stored = self
            .read_models
            .get_doc(&ns, karma::KARMA, &doc.reference)
            .await
            .map_err(ApiError::unavailable)?;
        let mut history = stored
            .and_then(|d| d.get("history").and_then(Value::as_array).cloned())
            .unwrap_or_default();
        history.reverse();
        Ok(history)
    }

    /// KMC `DELETE /kmc/ident/:id`: deletes the identity document (the only
    /// link from the identity to its reference) and erases the reference's
    /// read-model data through the log. Unknown ids are fine (200).
    pub async fn erase(&self, identity: &str) -> Result<(), ApiError> {
        let Some(doc) = self.idents.delete(identity).await.map_err(ApiError::unavailable)? else {
            return Ok(());
        };
        match self
            .ident_commands
            .execute(&doc.reference, IdentCommand::Erase, &metadata(&doc.reference))
            .await
        {
            Ok(()) | Err(CommandError::Rejected(_)) => Ok(()),
            Err(e) => Err(ApiError::internal(e)),
        }
    }

    pub async fn set_trusted(&self, identity: &str, trusted: bool) -> Result<bool, ApiError> {
        self.idents
            .set_trusted(identity, trusted, Utc::now())
            .await
            .map_err(ApiError::unavailable)
    }

    pub async fn all_identities(&self) -> Result<Vec<IdentInfo>, ApiError> {
        let docs = self.idents.all().await.map_err(ApiError::unavailable)?;
        let mut infos = Vec::with_capacity(docs.len());
        for doc in docs {
            infos.push(self.info(doc).await?);
        }
        Ok(infos)
    }
}

pub fn iso(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
