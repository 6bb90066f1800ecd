//! Credibility of an identity: a 0–100 rating derived from its behaviour
//! (spec 12.4, credibility.md).
//!
//! Two steps, both pure:
//! 1. [`update_behaviour`] folds one interaction (a vote or a registration at
//!    a machine's position) into the stored [`Behaviour`] document.
//! 2. [`compute`] / [`evaluate`] port credlib's `computeCredibility`
//!    (`0.1.0-alpha.5`) rule by rule, quirks included.
//!
//! The original reads the wall clock inside every rule; here `now` is a
//! parameter, so one call sees one instant (the vectors in
//! `fixtures/credibility-vectors.json` are defined the same way). Time
//! differences are taken in whole milliseconds, like JavaScript `Date`s.
//!
//! `Math.min`/`Math.max` propagate NaN in JavaScript while `f64::min`/`max`
//! ignore it, so the port uses [`js_min`]/[`js_max`] to keep NaN inputs
//! producing a NaN rating, as in the original.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::geo::{self, js_round, Position};

/// Rating of a freshly issued identity (spec 12.1).
pub const INITIAL_RATING: f64 = 50.0;

const DAY_MS: f64 = 86_400_000.0;
/// Average intervals shorter than this (5 min) count as abuse.
const MIN_REASONABLE_INTERVAL_MS: f64 = 300_000.0;
/// Weight of the *previous* rating when smoothing (credlib's EWMA α).
const PREVIOUS_RATING_WEIGHT: f64 = 0.4;
/// EWMA α for the movement score (spec 12.4 step 2).
const MOVEMENT_SCORE_ALPHA: f64 = 0.2;
/// EWMA α for the average intervals (spec 12.4 steps 3 and 6).
const INTERVAL_ALPHA: f64 = 0.1;

// ---------------------------------------------------------------------------
// The stored behaviour document
// ---------------------------------------------------------------------------

/// `credibilities.behaviour`: everything the rating is computed from.
///
/// `Default` is the "all-zero behaviour (no dates/position)" a first
/// interaction starts from. Intervals are milliseconds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Behaviour {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_interaction_at: Option<DateTime<Utc>>,
    pub average_interaction_interval: f64,
    /// Stored as a GeoJSON `Point` (`[lng, lat]`), as in the original.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "geojson_point")]
    pub last_interaction_position: Option<Position>,
    /// Nominally in [0, 1]: an EWMA of "the last move was implausible".
    pub unrealistic_movement_score: f64,
    pub voting: VotingBehaviour,
    pub registration: RegistrationBehaviour,
}

/// `behaviour.voting`. `downvote_count` is stored but no rule reads it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VotingBehaviour {
    pub total_count: u32,
    pub upvote_count: u32,
    pub downvote_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_voted_at: Option<DateTime<Utc>>,
    pub average_voting_interval: f64,
}

/// `behaviour.registration`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationBehaviour {
    pub total_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_registration_at: Option<DateTime<Utc>>,
    pub average_registration_interval: f64,
}

/// (De)serialises `Option<Position>` as a GeoJSON point
/// `{"type":"Point","coordinates":[lng,lat]}`, the stored form of
/// `lastInteractionPosition`.
mod geojson_point {
    use serde::{de::Error as _, Deserialize, Deserializer, Serialize, Serializer};

    use super::Position;

    #[derive(Serialize, Deserialize)]
    struct Point {
        r#type: String,
        coordinates: [f64; 2],
    }

    pub fn serialize<S: Serializer>(position: &Option<Position>, serializer: S) -> Result<S::Ok, S::Error> {
        position
            .map(|p| Point {
                r#type: "Point".to_owned(),
                coordinates: [p.longitude, p.latitude],
            })
            .serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Position>, D::Error> {
        match Option::<Point>::deserialize(deserializer)? {
            None => Ok(None),
            Some(point) if point.r#type == "Point" => {
                let [longitude, latitude] = point.coordinates;
                Ok(Some(Position { longitude, latitude }))
            }
            Some(point) => Err(D::Error::custom(format!(
                "expected a GeoJSON Point, got type {:?}",
                point.r#type
            ))),
        }
    }
}

// ---------------------------------------------------------------------------
// Behaviour update (spec 12.4 steps 1–6)
// ---------------------------------------------------------------------------

/// The interaction that triggers a recomputation (`recompute.action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CredibilityAction {
    Upvote,
    Downvote,
    Registration,
}

/// Folds one interaction into the behaviour (spec 12.4 steps 2–6).
///
/// `machine_position` is the machine's position, not the device's: that is
/// what the original feeds into the movement test. Start a first interaction
/// from `Behaviour::default()` (step 1).
pub fn update_behaviour(
    mut behaviour: Behaviour,
    action: CredibilityAction,
    machine_position: Position,
    now: DateTime<Utc>,
) -> Behaviour {
    if let (Some(last_position), Some(last_at)) = (behaviour.last_interaction_position, behaviour.last_interaction_at) {
        let unrealistic = is_unrealistic_movement(last_position, machine_position, last_at, now);
        let observation = if unrealistic { 1.0 } else { 0.0 };
        behaviour.unrealistic_movement_score =
            geo::ewma(behaviour.unrealistic_movement_score, observation, MOVEMENT_SCORE_ALPHA);
    }
    if let Some(last_at) = behaviour.last_interaction_at {
        behaviour.average_interaction_interval =
            updated_average_interval(behaviour.average_interaction_interval, last_at, now);
    }
    behaviour.last_interaction_at = Some(now);
    behaviour.last_interaction_position = Some(machine_position);

    match action {
        CredibilityAction::Upvote | CredibilityAction::Downvote => {
            let voting = &mut behaviour.voting;
            voting.total_count = voting.total_count.saturating_add(1);
            if action == CredibilityAction::Upvote {
                voting.upvote_count = voting.upvote_count.saturating_add(1);
            } else {
                voting.downvote_count = voting.downvote_count.saturating_add(1);
            }
            if let Some(last_at) = voting.last_voted_at {
                voting.average_voting_interval = updated_average_interval(voting.average_voting_interval, last_at, now);
            }
            voting.last_voted_at = Some(now);
        }
        CredibilityAction::Registration => {
            let registration = &mut behaviour.registration;
            registration.total_count = registration.total_count.saturating_add(1);
            if let Some(last_at) = registration.last_registration_at {
                registration.average_registration_interval =
                    updated_average_interval(registration.average_registration_interval, last_at, now);
            }
            registration.last_registration_at = Some(now);
        }
    }
    behaviour
}

/// EWMA of the interval since `last_at`; an average of 0 (or less) means
/// "none yet", in which case the first interval seeds it.
fn updated_average_interval(average: f64, last_at: DateTime<Utc>, now: DateTime<Utc>) -> f64 {
    let elapsed = millis_between(last_at, now);
    let previous = if average > 0.0 { average } else { elapsed };
    geo::ewma(previous, elapsed, INTERVAL_ALPHA)
}

/// credlib's `isUnrealisticallyMovement`: is moving from `last` (at
/// `last_interaction_at`) to `current` (at `now`) faster than plausible for
/// that distance?
///
/// Kept quirks: the comparison is strict; a same-millisecond move over a
/// positive distance has infinite speed and counts as unrealistic (spec 19,
/// bug 32), no movement at the same millisecond is NaN and does not; a
/// `last_interaction_at` in the future gives a negative speed (not
/// unrealistic); the bands are not monotone (499 km/h over 499 km is
/// flagged, 501 km/h over 501 km is not).
pub fn is_unrealistic_movement(
    last: Position,
    current: Position,
    last_interaction_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    let distance_km = geo::km(last, current);
    let speed = geo::speed_kmh(last, current, epoch_millis(last_interaction_at), epoch_millis(now));
    speed > max_plausible_speed_kmh(distance_km)
}

/// Highest plausible speed for a move of `distance_km` (credibility.md §5).
pub fn max_plausible_speed_kmh(distance_km: f64) -> f64 {
    if distance_km < 1.0 {
        10.0
    } else if distance_km < 10.0 {
        50.0
    } else if distance_km < 100.0 {
        120.0
    } else if distance_km < 500.0 {
        200.0
    } else if distance_km < 1000.0 {
        700.0
    } else {
        900.0
    }
}

// ---------------------------------------------------------------------------
// computeCredibility (credibility.md §3–4)
// ---------------------------------------------------------------------------

/// The nine rules, in credlib's application order (which is also the trace
/// order and the floating-point summation order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredibilityRule {
    UnrealisticMovement,
    UnrealisticRegistrationBehaviour,
    UnrealisticVotingBehaviour,
    IdentityAge,
    RegistrationAbuse,
    VotingAbuse,
    InteractionFrequency,
    VotingBias,
    VoteRegistrationRatioBias,
}

impl CredibilityRule {
    /// All rules in application order.
    pub const ALL: [Self; 9] = [
        Self::UnrealisticMovement,
        Self::UnrealisticRegistrationBehaviour,
        Self::UnrealisticVotingBehaviour,
        Self::IdentityAge,
        Self::RegistrationAbuse,
        Self::VotingAbuse,
        Self::InteractionFrequency,
        Self::VotingBias,
        Self::VoteRegistrationRatioBias,
    ];

    /// The key credlib uses for this rule in its `trace` map.
    pub fn trace_name(self) -> &'static str {
        match self {
            Self::UnrealisticMovement => "unrealisticMovementPenalty",
            Self::UnrealisticRegistrationBehaviour => "unrealisticRegistrationBehaviourPenalty",
            Self::UnrealisticVotingBehaviour => "unrealisticVotingBehaviourPenalty",
            Self::IdentityAge => "identityAgePenalty",
            Self::RegistrationAbuse => "registrationAbusePenalty",
            Self::VotingAbuse => "votingAbusePenalty",
            Self::InteractionFrequency => "interactionFrequencyPenalty",
            Self::VotingBias => "votingBiasPenalty",
            Self::VoteRegistrationRatioBias => "voteRegistrationRatioBiasPenalty",
        }
    }

    /// This rule's raw delta (negative = penalty, positive = bonus).
    pub fn delta(self, behaviour: &Behaviour, age: IdentityAge) -> f64 {
        let voting = &behaviour.voting;
        let registration = &behaviour.registration;
        match self {
            Self::UnrealisticMovement => unrealistic_movement_delta(behaviour.unrealistic_movement_score),
            Self::UnrealisticRegistrationBehaviour => {
                volume_delta(f64::from(registration.total_count) / age.days(), 12.0, 4.0)
            }
            Self::UnrealisticVotingBehaviour => volume_delta(f64::from(voting.total_count) / age.days(), 30.0, 10.0),
            Self::IdentityAge => identity_age_delta(age.days()),
            Self::RegistrationAbuse => age.weighted_penalty(interval_penalty(
                registration.average_registration_interval,
                registration.total_count,
                20.0,
            )),
            Self::VotingAbuse => age.weighted_penalty(interval_penalty(
                voting.average_voting_interval,
                voting.total_count,
                20.0,
            )),
            Self::InteractionFrequency => age.weighted_penalty(interval_penalty(
                behaviour.average_interaction_interval,
                voting.total_count.saturating_add(registration.total_count),
                25.0,
            )),
            Self::VotingBias => voting_bias_delta(voting.upvote_count, voting.total_count),
            Self::VoteRegistrationRatioBias => ratio_bias_delta(voting.total_count, registration.total_count),
        }
    }
}

/// The identity's age at `now`: the input of rules 2–7.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdentityAge {
    /// `now − issuedAt` in milliseconds; negative for a future `issuedAt`.
    pub millis: f64,
}

impl IdentityAge {
    pub fn between(issued_at: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        Self {
            millis: millis_between(issued_at, now),
        }
    }

    /// Fractional days, clamped below at 1: anything younger than a day (or
    /// issued in the future) counts as exactly one day.
    pub fn days(self) -> f64 {
        js_max(self.millis / DAY_MS, 1.0)
    }

    /// Minutes, *not* clamped (negative for a future `issuedAt`).
    pub fn minutes(self) -> f64 {
        self.millis / 1000.0 / 60.0
    }

    /// Logistic weight that spares new identities the interval penalties.
    /// Half strength at 5 minutes (the source comment wrongly says 10).
    pub fn logistic_weight(self) -> f64 {
        1.0 / (1.0 + (-0.2 * (self.minutes() - 5.0)).exp())
    }

    /// `−round(w · penalty)`: the second rounding of rules 5–7.
    fn weighted_penalty(self, penalty: f64) -> f64 {
        -js_round(self.logistic_weight() * penalty)
    }
}

/// Rule 1. Only the multiplier is 50: a score above 1 is not capped.
fn unrealistic_movement_delta(score: f64) -> f64 {
    if score <= 0.0 {
        return 0.0;
    }
    -js_round(score * 50.0)
}

/// Rules 2 and 3: `−min(20 − exp(−(avg − midpoint)/spread), 20)`, not rounded.
/// The cap never binds, and for tiny positive averages the delta turns into a
/// small bonus (below e³ − 20 ≈ 0.0855), as in the original.
fn volume_delta(average_per_day: f64, midpoint: f64, spread: f64) -> f64 {
    if average_per_day <= 0.0 {
        return 0.0;
    }
    let penalty = 20.0 - (-(average_per_day - midpoint) / spread).exp();
    -js_min(penalty, 20.0)
}

/// Rule 4. A penalty for young identities that crosses zero at ≈11.5 days
/// and then becomes an unbounded bonus (+∞ from ≈1419.6 days on); only the
/// final clamp to 100 limits it. The original's `days < 0` guard is dead.
fn identity_age_delta(days: f64) -> f64 {
    let penalty = -8.0 * (1.0 + (days * 0.5).exp()).log10() + 20.0;
    -js_min(penalty, 20.0)
}

/// credlib's `penaltyForAverageInterval` with the 5-minute limit: an integer
/// in [0, cap] for sane inputs. A negative interval is not clamped (severity
/// above 1), and the scaling saturates at count 99, not 50 as commented.
pub fn interval_penalty(average_interval_ms: f64, count: u32, cap: f64) -> f64 {
    if count < 5 {
        return 0.0;
    }
    let severity = js_max(0.0, 1.0 - average_interval_ms / MIN_REASONABLE_INTERVAL_MS);
    let scaling = js_min(1.0, (f64::from(count) + 1.0).ln() / 100f64.ln());
    js_round(cap * severity * scaling)
}

/// Rule 8. Uncapped: inconsistent counts (more upvotes than votes) can give
/// far more than −20.
fn voting_bias_delta(upvotes: u32, votes: u32) -> f64 {
    if votes < 5 {
        return 0.0;
    }
    let ratio = f64::from(upvotes) / f64::from(votes);
    let bias = (0.5 - ratio).abs();
    -js_round((bias * 2.0).powi(2) * 20.0)
}

/// Rule 9. Fires as soon as either count reaches 5; zero registrations make
/// the ratio +∞ and the delta −20.
fn ratio_bias_delta(votes: u32, registrations: u32) -> f64 {
    const IDEAL_RATIO: f64 = 0.75;
    if votes < 5 && registrations < 5 {
        return 0.0;
    }
    let ratio = f64::from(votes) / f64::from(registrations);
    let bias = if ratio < IDEAL_RATIO {
        (IDEAL_RATIO - ratio) * 2.0
    } else {
        ratio - IDEAL_RATIO
    };
    -js_min(js_round(bias.powi(2)), 20.0)
}

/// One rule's contribution, as credlib records it in its trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RuleDelta {
    pub rule: CredibilityRule,
    pub delta: f64,
}

/// The full outcome of [`evaluate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Every rule's raw delta, in application order.
    pub deltas: [RuleDelta; 9],
    /// `100 + Σ deltas`, before rounding and clamping.
    pub raw_score: f64,
    /// The new rating (see [`compute`]).
    pub rating: f64,
}

/// credlib's `computeCredibility` with its trace.
///
/// `previous_rating` is the stored rating (credlib's `info.credibility`);
/// `issued_at` is when the identity was issued (the credibility document's
/// `createdAt`).
pub fn evaluate(
    behaviour: &Behaviour,
    previous_rating: f64,
    issued_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Evaluation {
    let age = IdentityAge::between(issued_at, now);
    let deltas = CredibilityRule::ALL.map(|rule| RuleDelta {
        rule,
        delta: rule.delta(behaviour, age),
    });
    let raw_score = deltas.iter().fold(100.0, |score, d| score + d.delta);
    Evaluation {
        deltas,
        raw_score,
        rating: normalise_and_smooth(raw_score, previous_rating),
    }
}

/// The new rating: an integer-valued number, normally 0–100.
///
/// Kept quirks: smoothing only happens for a previous rating `> 0` and is not
/// re-clamped (a previous 200 with a new 100 gives 140); NaN inputs (such as
/// a NaN movement score) give NaN.
pub fn compute(behaviour: &Behaviour, previous_rating: f64, issued_at: DateTime<Utc>, now: DateTime<Utc>) -> f64 {
    evaluate(behaviour, previous_rating, issued_at, now).rating
}

/// Step 3–4 of credlib's aggregation: round, clamp to 0..=100, then blend
/// `0.4 · previous + 0.6 · new` and round again.
fn normalise_and_smooth(raw_score: f64, previous_rating: f64) -> f64 {
    let score = js_max(0.0, js_min(100.0, js_round(raw_score)));
    if previous_rating > 0.0 {
        js_round(geo::ewma(score, previous_rating, PREVIOUS_RATING_WEIGHT))
    } else {
        score
    }
}

/// A stored credibility after one more interaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Recomputed {
    pub behaviour: Behaviour,
    pub rating: f64,
}

/// The whole `recompute` job (spec 12.4 steps 1–7): start from the stored
/// behaviour (or the all-zero one), fold in the interaction, rate it.
pub fn recompute(
    stored: Option<Behaviour>,
    previous_rating: f64,
    action: CredibilityAction,
    machine_position: Position,
    issued_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Recomputed {
    let behaviour = update_behaviour(stored.unwrap_or_default(), action, machine_position, now);
    let rating = compute(&behaviour, previous_rating, issued_at, now);
    Recomputed { behaviour, rating }
}

// ---------------------------------------------------------------------------
// JavaScript number helpers
// ---------------------------------------------------------------------------

/// `Math.min(a, b)`: NaN if either is NaN.
fn js_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// `Math.max(a, b)`: NaN if either is NaN.
fn js_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Epoch milliseconds, as `Date.getTime()` (sub-millisecond parts dropped).
fn epoch_millis(at: DateTime<Utc>) -> f64 {
    at.timestamp_millis() as f64
}

fn millis_between(earlier: DateTime<Utc>, later: DateTime<Utc>) -> f64 {
    epoch_millis(later) - epoch_millis(earlier)
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use serde_json::Value;

    use super::*;

    const VECTORS: &str = include_str!("../../../fixtures/credibility-vectors.json");

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
    }

    fn days_ago(days: f64) -> DateTime<Utc> {
        now() - Duration::milliseconds((days * DAY_MS) as i64)
    }

    fn minutes_ago(minutes: i64) -> DateTime<Utc> {
        now() - Duration::minutes(minutes)
    }

    fn votes(total: u32, up: u32, average_interval: f64) -> VotingBehaviour {
        VotingBehaviour {
            total_count: total,
            upvote_count: up,
            downvote_count: total.saturating_sub(up),
            last_voted_at: None,
            average_voting_interval: average_interval,
        }
    }

    fn registrations(total: u32, average_interval: f64) -> RegistrationBehaviour {
        RegistrationBehaviour {
            total_count: total,
            last_registration_at: None,
            average_registration_interval: average_interval,
        }
    }

    fn rule_delta(rule: CredibilityRule, behaviour: &Behaviour, issued_at: DateTime<Utc>) -> f64 {
        rule.delta(behaviour, IdentityAge::between(issued_at, now()))
    }

    /// Reads a fixture number; non-finite values are stored as strings.
    fn number(value: &Value) -> f64 {
        match value {
            Value::Number(n) => n.as_f64().unwrap(),
            Value::String(s) => s.parse().unwrap_or_else(|_| panic!("not a number: {s}")),
            other => panic!("not a number: {other}"),
        }
    }

    fn instant(value: &Value) -> DateTime<Utc> {
        value.as_str().unwrap().parse().unwrap()
    }

    /// Unrounded deltas (rules 2–4) may differ from V8 in the last bit: V8 and
    /// the platform libm implement `exp`/`log10` independently. Ratings must match exactly.
    fn close(actual: f64, expected: f64) -> bool {
        if expected.is_infinite() || expected.is_nan() {
            return actual == expected || (actual.is_nan() && expected.is_nan());
        }
        (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0)
    }

    // --- the fixture vectors -------------------------------------------------

    #[test]
    fn fixture_lists_the_rules_in_application_order() {
        let fixture: Value = serde_json::from_str(VECTORS).unwrap();
        let names: Vec<&str> = fixture["ruleOrder"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let ours: Vec<&str> = CredibilityRule::ALL.iter().map(|r| r.trace_name()).collect();
        assert_eq!(names, ours);
    }

    #[test]
    fn every_vector_reproduces_rating_raw_score_and_trace() {
        let fixture: Value = serde_json::from_str(VECTORS).unwrap();
        let vectors = fixture["vectors"].as_array().unwrap();
        assert_eq!(vectors.len(), 20);
        for vector in vectors {
            let name = vector["name"].as_str().unwrap();
            let behaviour: Behaviour = serde_json::from_value(vector["behaviour"].clone()).unwrap();
            let evaluation = evaluate(
                &behaviour,
                number(&vector["previousRating"]),
                instant(&vector["issuedAt"]),
                instant(&vector["now"]),
            );
            for RuleDelta { rule, delta } in evaluation.deltas {
                let expected = number(&vector["trace"][rule.trace_name()]);
                assert!(
                    close(delta, expected),
                    "{name}: {} = {delta}, expected {expected}",
                    rule.trace_name()
                );
            }
            let raw = number(&vector["rawScore"]);
            assert!(
                close(evaluation.raw_score, raw),
                "{name}: raw {} vs {raw}",
                evaluation.raw_score
            );
            assert_eq!(evaluation.rating, number(&vector["expected"]), "{name}");
        }
    }

    // --- shared quantities ---------------------------------------------------

    #[test]
    fn age_in_days_is_clamped_below_at_one() {
        assert_eq!(IdentityAge::between(now(), now()).days(), 1.0);
        assert_eq!(IdentityAge::between(days_ago(0.5), now()).days(), 1.0);
        assert_eq!(IdentityAge::between(days_ago(-3.0), now()).days(), 1.0);
        assert_eq!(IdentityAge::between(days_ago(2.5), now()).days(), 2.5);
    }

    #[test]
    fn age_in_minutes_is_not_clamped() {
        assert_eq!(IdentityAge::between(minutes_ago(-60), now()).minutes(), -60.0);
        assert_eq!(IdentityAge::between(minutes_ago(30), now()).minutes(), 30.0);
    }

    #[test]
    fn logistic_weight_is_half_at_five_minutes() {
        let weight = |minutes| IdentityAge::between(minutes_ago(minutes), now()).logistic_weight();
        assert_eq!(weight(5), 0.5);
        assert!((weight(0) - 0.268_94).abs() < 1e-5);
        assert!((weight(10) - 0.731_06).abs() < 1e-5);
        assert!((weight(-60) - 2.26e-6).abs() < 1e-8);
        assert_eq!(weight(24 * 60), 1.0);
    }

    #[test]
    fn interval_penalty_needs_five_interactions() {
        assert_eq!(interval_penalty(0.0, 4, 20.0), 0.0);
        // count 5: round(20 · 1 · 0.38908) = 8
        assert_eq!(interval_penalty(0.0, 5, 20.0), 8.0);
    }

    #[test]
    fn interval_penalty_severity_edges() {
        // Interval at or above 5 minutes: no severity.
        assert_eq!(interval_penalty(300_000.0, 99, 20.0), 0.0);
        assert_eq!(interval_penalty(1e9, 99, 20.0), 0.0);
        // Interval 0: full severity; count 99 saturates the scaling exactly.
        assert_eq!(interval_penalty(0.0, 99, 20.0), 20.0);
        assert_eq!(interval_penalty(0.0, 500, 20.0), 20.0);
        // Negative interval: severity 2, no upper clamp.
        assert_eq!(interval_penalty(-300_000.0, 99, 20.0), 40.0);
        // Half the limit: severity 0.5.
        assert_eq!(interval_penalty(150_000.0, 99, 20.0), 10.0);
    }

    #[test]
    fn interval_penalty_scaling_is_logarithmic_and_rounds_halves_up() {
        // count 9 scales by exactly 0.5: 25 · 0.5 = 12.5 rounds to 13.
        assert_eq!(interval_penalty(0.0, 9, 25.0), 13.0);
        // count 10: 20 · 0.52070 = 10.41 → 10; count 20: 20 · 0.66111 = 13.2 → 13.
        assert_eq!(interval_penalty(0.0, 10, 20.0), 10.0);
        assert_eq!(interval_penalty(0.0, 20, 20.0), 13.0);
    }

    // --- the rules -----------------------------------------------------------

    #[test]
    fn movement_rule_ignores_non_positive_scores_and_rounds_halves_up() {
        let delta = |score| {
            let behaviour = Behaviour {
                unrealistic_movement_score: score,
                ..Behaviour::default()
            };
            rule_delta(CredibilityRule::UnrealisticMovement, &behaviour, now())
        };
        assert_eq!(delta(0.0), 0.0);
        assert_eq!(delta(-0.5), 0.0);
        assert_eq!(delta(0.009), 0.0);
        assert_eq!(delta(0.01), -1.0);
        assert_eq!(delta(1.0), -50.0);
        assert_eq!(delta(2.5), -125.0);
        assert!(delta(f64::NAN).is_nan());
    }

    #[test]
    fn volume_rules_reach_minus_19_at_their_midpoints_and_flip_sign_near_zero() {
        let registration = |count, issued| {
            let behaviour = Behaviour {
                registration: registrations(count, 0.0),
                ..Behaviour::default()
            };
            rule_delta(CredibilityRule::UnrealisticRegistrationBehaviour, &behaviour, issued)
        };
        assert_eq!(registration(0, now()), 0.0);
        assert_eq!(registration(12, now()), -19.0);
        assert!((registration(1, now()) + 4.357_37).abs() < 1e-5);
        let bonus = registration(1, days_ago(200.0));
        assert!((bonus - 0.060_445_7).abs() < 1e-7, "{bonus}");

        let voting = |count, issued| {
            let behaviour = Behaviour {
                voting: votes(count, 0, 0.0),
                ..Behaviour::default()
            };
            rule_delta(CredibilityRule::UnrealisticVotingBehaviour, &behaviour, issued)
        };
        assert_eq!(voting(0, now()), 0.0);
        assert_eq!(voting(30, now()), -19.0);
        assert!((voting(5, now()) + 7.817_51).abs() < 1e-5);
        assert!((voting(1, days_ago(200.0)) - 0.075_496_7).abs() < 1e-7);
    }

    #[test]
    fn identity_age_rule_is_a_penalty_then_an_unbounded_bonus() {
        let delta = |issued| rule_delta(CredibilityRule::IdentityAge, &Behaviour::default(), issued);
        assert_eq!(delta(now()), -16.615_709_926_572_947);
        assert_eq!(
            delta(days_ago(-1.0)),
            delta(now()),
            "future identities count as one day old"
        );
        assert!((delta(days_ago(5.0)) + 11.040_019).abs() < 1e-6);
        assert!((delta(days_ago(11.0)) + 0.876_873).abs() < 1e-6);
        assert!((delta(days_ago(12.0)) - 0.854_737).abs() < 1e-6);
        assert!((delta(days_ago(100.0)) - 153.718).abs() < 1e-3);
        assert_eq!(delta(days_ago(1500.0)), f64::INFINITY);
    }

    #[test]
    fn abuse_rules_are_weighted_by_identity_age() {
        let behaviour = Behaviour {
            average_interaction_interval: 0.0,
            voting: votes(4, 2, 0.0),
            registration: registrations(5, 0.0),
            ..Behaviour::default()
        };
        let five_minutes = minutes_ago(5);
        // P = 8, halved to 4.
        assert_eq!(
            rule_delta(CredibilityRule::RegistrationAbuse, &behaviour, five_minutes),
            -4.0
        );
        // Four votes: below the count guard.
        assert_eq!(rule_delta(CredibilityRule::VotingAbuse, &behaviour, five_minutes), 0.0);
        // Nine interactions: P = 13, 0.5 · 13 = 6.5 rounds to 7 (second rounding).
        assert_eq!(
            rule_delta(CredibilityRule::InteractionFrequency, &behaviour, five_minutes),
            -7.0
        );
        // A day old: full weight.
        assert_eq!(
            rule_delta(CredibilityRule::InteractionFrequency, &behaviour, days_ago(1.0)),
            -13.0
        );
        // Issued in the future: weight ≈ 0.
        assert_eq!(
            rule_delta(CredibilityRule::RegistrationAbuse, &behaviour, minutes_ago(-60)),
            0.0
        );
    }

    #[test]
    fn voting_bias_rule() {
        let delta = |total, up| {
            let behaviour = Behaviour {
                voting: votes(total, up, 0.0),
                ..Behaviour::default()
            };
            rule_delta(CredibilityRule::VotingBias, &behaviour, now())
        };
        assert_eq!(delta(4, 4), 0.0, "fewer than five votes");
        assert_eq!(delta(5, 5), -20.0);
        assert_eq!(delta(10, 0), -20.0);
        assert_eq!(delta(10, 5), 0.0);
        assert_eq!(delta(10, 6), -1.0);
        assert_eq!(delta(10, 7), -3.0);
        assert_eq!(delta(10, 8), -7.0);
        assert_eq!(delta(5, 10), -180.0, "inconsistent counts are not capped");
    }

    #[test]
    fn vote_registration_ratio_rule_matches_the_measured_table() {
        let delta = |votes_cast, registered| {
            let behaviour = Behaviour {
                voting: votes(votes_cast, 0, 0.0),
                registration: registrations(registered, 0.0),
                ..Behaviour::default()
            };
            rule_delta(CredibilityRule::VoteRegistrationRatioBias, &behaviour, now())
        };
        let table = [
            (0, 5, -2.0),
            (1, 5, -1.0),
            (2, 5, 0.0),
            (3, 5, 0.0),
            (5, 5, 0.0),
            (7, 5, 0.0),
            (8, 5, -1.0),
            (10, 5, -2.0),
            (25, 5, -18.0),
            (26, 5, -20.0),
            (5, 0, -20.0),
            (4, 4, 0.0),
        ];
        for (votes_cast, registered, expected) in table {
            assert_eq!(delta(votes_cast, registered), expected, "({votes_cast}, {registered})");
        }
    }

    // --- aggregation -----------------------------------------------------------

    #[test]
    fn fresh_identity_scores_83_and_smoothing_needs_a_positive_previous_rating() {
        let fresh = Behaviour::default();
        assert_eq!(compute(&fresh, 0.0, now(), now()), 83.0);
        assert_eq!(compute(&fresh, -10.0, now(), now()), 83.0);
        // round(0.4 · 50 + 0.6 · 83) = round(69.8)
        assert_eq!(compute(&fresh, INITIAL_RATING, now(), now()), 70.0);
        assert_eq!(compute(&fresh, 100.0, now(), now()), 90.0);
    }

    #[test]
    fn raw_score_is_rounded_then_clamped_to_0_and_100() {
        let old = days_ago(200.0);
        let quiet = Behaviour::default();
        assert!(evaluate(&quiet, 0.0, old, now()).raw_score > 400.0);
        assert_eq!(compute(&quiet, 0.0, old, now()), 100.0);
        let frantic = Behaviour {
            unrealistic_movement_score: 3.0,
            ..Behaviour::default()
        };
        assert!(evaluate(&frantic, 0.0, now(), now()).raw_score < 0.0);
        assert_eq!(compute(&frantic, 0.0, now(), now()), 0.0);
    }

    #[test]
    fn smoothing_is_not_re_clamped_and_rounds_halves_up() {
        assert_eq!(compute(&Behaviour::default(), 200.0, days_ago(200.0), now()), 140.0);
        let frantic = Behaviour {
            unrealistic_movement_score: 3.0,
            ..Behaviour::default()
        };
        // 0.4 · 1.25 + 0.6 · 0 = 0.5 → 1
        assert_eq!(compute(&frantic, 1.25, now(), now()), 1.0);
    }

    #[test]
    fn nan_movement_score_gives_a_nan_rating() {
        let broken = Behaviour {
            unrealistic_movement_score: f64::NAN,
            ..Behaviour::default()
        };
        assert!(compute(&broken, 50.0, now(), now()).is_nan());
    }

    // --- movement test ---------------------------------------------------------

    #[test]
    fn speed_limits_by_distance_band() {
        assert_eq!(max_plausible_speed_kmh(0.999), 10.0);
        assert_eq!(max_plausible_speed_kmh(1.0), 50.0);
        assert_eq!(max_plausible_speed_kmh(10.0), 120.0);
        assert_eq!(max_plausible_speed_kmh(100.0), 200.0);
        assert_eq!(max_plausible_speed_kmh(499.9), 200.0);
        assert_eq!(max_plausible_speed_kmh(500.0), 700.0);
        assert_eq!(max_plausible_speed_kmh(1000.0), 900.0);
    }

    #[test]
    fn movement_bands_are_not_monotone() {
        let origin = Position::new(0.0, 0.0);
        let an_hour_ago = now() - Duration::hours(1);
        let near_499 = Position::new(0.0, 4.48);
        let near_501 = Position::new(0.0, 4.51);
        assert!(geo::km(origin, near_499) < 500.0 && geo::km(origin, near_501) > 500.0);
        assert!(is_unrealistic_movement(origin, near_499, an_hour_ago, now()));
        assert!(!is_unrealistic_movement(origin, near_501, an_hour_ago, now()));
    }

    #[test]
    fn walking_pace_is_realistic_and_running_a_kilometre_in_a_minute_is_not() {
        let start = Position::new(8.40395, 49.0092);
        let next_street = Position::new(8.40395, 49.0101); // ≈ 100 m
        assert!(!is_unrealistic_movement(
            start,
            next_street,
            now() - Duration::minutes(2),
            now()
        ));
        assert!(is_unrealistic_movement(
            start,
            next_street,
            now() - Duration::seconds(10),
            now()
        ));
    }

    #[test]
    fn same_millisecond_and_future_timestamps() {
        let a = Position::new(8.0, 49.0);
        let b = Position::new(8.001, 49.0);
        assert!(
            is_unrealistic_movement(a, b, now(), now()),
            "infinite speed counts as unrealistic"
        );
        assert!(!is_unrealistic_movement(a, a, now(), now()), "NaN speed does not");
        assert!(
            !is_unrealistic_movement(a, b, now() + Duration::seconds(1), now()),
            "negative speed does not"
        );
    }

    // --- behaviour update --------------------------------------------------------

    #[test]
    fn first_interaction_only_sets_timestamps_position_and_counters() {
        let position = Position::new(8.4, 49.0);
        let updated = update_behaviour(Behaviour::default(), CredibilityAction::Registration, position, now());
        assert_eq!(updated.last_interaction_at, Some(now()));
        assert_eq!(updated.last_interaction_position, Some(position));
        assert_eq!(updated.average_interaction_interval, 0.0);
        assert_eq!(updated.unrealistic_movement_score, 0.0);
        assert_eq!(updated.registration.total_count, 1);
        assert_eq!(updated.registration.last_registration_at, Some(now()));
        assert_eq!(updated.registration.average_registration_interval, 0.0);
        assert_eq!(updated.voting, VotingBehaviour::default());
    }

    #[test]
    fn votes_count_up_and_down_separately() {
        let position = Position::new(8.4, 49.0);
        let up = update_behaviour(Behaviour::default(), CredibilityAction::Upvote, position, now());
        assert_eq!(
            (up.voting.total_count, up.voting.upvote_count, up.voting.downvote_count),
            (1, 1, 0)
        );
        assert_eq!(up.voting.last_voted_at, Some(now()));
        let down = update_behaviour(up, CredibilityAction::Downvote, position, now() + Duration::minutes(10));
        assert_eq!(
            (
                down.voting.total_count,
                down.voting.upvote_count,
                down.voting.downvote_count
            ),
            (2, 1, 1)
        );
        assert_eq!(down.registration, RegistrationBehaviour::default());
    }

    #[test]
    fn first_interval_seeds_the_average_then_an_ewma_follows() {
        let position = Position::new(8.4, 49.0);
        let t0 = now();
        let first = update_behaviour(Behaviour::default(), CredibilityAction::Upvote, position, t0);
        let second = update_behaviour(first, CredibilityAction::Upvote, position, t0 + Duration::minutes(10));
        // prev = d when the average is 0: ewma(600 000, 600 000, 0.1)
        assert_eq!(second.average_interaction_interval, 600_000.0);
        assert_eq!(second.voting.average_voting_interval, 600_000.0);
        let third = update_behaviour(second, CredibilityAction::Upvote, position, t0 + Duration::minutes(30));
        // 0.1 · 1 200 000 + 0.9 · 600 000
        assert!((third.average_interaction_interval - 660_000.0).abs() < 1e-6);
        assert!((third.voting.average_voting_interval - 660_000.0).abs() < 1e-6);
        assert_eq!(third.registration.average_registration_interval, 0.0);
    }

    #[test]
    fn registration_interval_uses_the_last_registration_not_the_last_vote() {
        let position = Position::new(8.4, 49.0);
        let t0 = now();
        let mut behaviour = update_behaviour(Behaviour::default(), CredibilityAction::Registration, position, t0);
        behaviour = update_behaviour(behaviour, CredibilityAction::Upvote, position, t0 + Duration::hours(1));
        behaviour = update_behaviour(
            behaviour,
            CredibilityAction::Registration,
            position,
            t0 + Duration::hours(3),
        );
        assert_eq!(behaviour.registration.average_registration_interval, 3.0 * 3_600_000.0);
        // Interactions: 1 h then 2 h → 0.1 · 2 h + 0.9 · 1 h
        assert!((behaviour.average_interaction_interval - 1.1 * 3_600_000.0).abs() < 1e-6);
    }

    #[test]
    fn implausible_moves_feed_the_movement_score_ewma() {
        let t0 = now();
        let karlsruhe = Position::new(8.40395, 49.0092);
        let berlin = Position::new(13.405, 52.52);
        let mut behaviour = update_behaviour(Behaviour::default(), CredibilityAction::Upvote, karlsruhe, t0);
        behaviour = update_behaviour(behaviour, CredibilityAction::Upvote, berlin, t0 + Duration::minutes(5));
        assert!((behaviour.unrealistic_movement_score - 0.2).abs() < 1e-12);
        behaviour = update_behaviour(behaviour, CredibilityAction::Upvote, berlin, t0 + Duration::hours(5));
        assert!((behaviour.unrealistic_movement_score - 0.16).abs() < 1e-12);
    }

    #[test]
    fn recompute_starts_from_the_all_zero_behaviour() {
        let position = Position::new(8.4, 49.0);
        let recomputed = recompute(
            None,
            INITIAL_RATING,
            CredibilityAction::Registration,
            position,
            now(),
            now(),
        );
        assert_eq!(recomputed.behaviour.registration.total_count, 1);
        // One registration on day one: 100 − 4.357 − 16.616 = 79.03 → 79; round(20 + 47.4) = 67.
        assert_eq!(recomputed.rating, 67.0);
    }

    // --- serde -----------------------------------------------------------------

    #[test]
    fn behaviour_serialises_with_camel_case_and_a_geojson_point() {
        let behaviour = update_behaviour(
            Behaviour::default(),
            CredibilityAction::Upvote,
            Position::new(8.5, 49.25),
            Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap(),
        );
        let json = serde_json::to_value(&behaviour).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "lastInteractionAt": "2025-01-02T03:04:05Z",
                "averageInteractionInterval": 0.0,
                "lastInteractionPosition": { "type": "Point", "coordinates": [8.5, 49.25] },
                "unrealisticMovementScore": 0.0,
                "voting": {
                    "totalCount": 1, "upvoteCount": 1, "downvoteCount": 0,
                    "lastVotedAt": "2025-01-02T03:04:05Z", "averageVotingInterval": 0.0
                },
                "registration": { "totalCount": 0, "averageRegistrationInterval": 0.0 }
            })
        );
        let back: Behaviour = serde_json::from_value(json).unwrap();
        assert_eq!(back, behaviour);
    }

    #[test]
    fn a_non_point_position_is_rejected() {
        let json = serde_json::json!({
            "averageInteractionInterval": 0, "unrealisticMovementScore": 0,
            "lastInteractionPosition": { "type": "LineString", "coordinates": [1, 2] },
            "voting": { "totalCount": 0, "upvoteCount": 0, "downvoteCount": 0, "averageVotingInterval": 0 },
            "registration": { "totalCount": 0, "averageRegistrationInterval": 0 }
        });
        assert!(serde_json::from_value::<Behaviour>(json).is_err());
    }

    #[test]
    fn actions_use_the_job_payload_names() {
        assert_eq!(serde_json::to_value(CredibilityAction::Upvote).unwrap(), "upvote");
        assert_eq!(serde_json::to_value(CredibilityAction::Downvote).unwrap(), "downvote");
        assert_eq!(
            serde_json::from_value::<CredibilityAction>("registration".into()).unwrap(),
            CredibilityAction::Registration
        );
    }
}
