//! Throttling of registrations and repositionings by credibility
//! (spec 9.1 band tables, 9.5 decision).
//!
//! The caller counts the identity's actions of the last day and finds the
//! newest one; this module decides.

use chrono::{DateTime, Duration, Utc};

/// The throttled action; each has its own band table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottledAction {
    Registration,
    Repositioning,
}

/// What a credibility band allows for one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// Minimum time since the previous action.
    pub cooldown_minutes: i64,
    /// Actions allowed within one day.
    pub daily_limit: u32,
}

/// An inclusive credibility band and its allowances.
struct Band {
    min: f64,
    max: f64,
    registration: Allowance,
    repositioning: Allowance,
}

const fn allow(cooldown_minutes: i64, daily_limit: u32) -> Allowance {
    Allowance {
        cooldown_minutes,
        daily_limit,
    }
}

const BANDS: [Band; 4] = [
    Band {
        min: 0.0,
        max: 25.0,
        registration: allow(90, 1),
        repositioning: allow(120, 0),
    },
    Band {
        min: 26.0,
        max: 50.0,
        registration: allow(60, 3),
        repositioning: allow(90, 1),
    },
    Band {
        min: 51.0,
        max: 75.0,
        registration: allow(10, 5),
        repositioning: allow(30, 2),
    },
    Band {
        min: 76.0,
        max: 100.0,
        registration: allow(5, 8),
        repositioning: allow(10, 5),
    },
];

/// Used for any credibility outside every band: negative, above 100, NaN,
/// or fractional between two bands (25.5). Kept from the original although
/// it is more lenient than the lowest band (spec 19, bug 11).
const FALLBACK: Allowance = allow(30, 1);

/// The allowance for `action` at `credibility` (bands match `min ≤ c ≤ max`,
/// so 10.5 is in 0–25 but 25.5 is in none).
pub fn allowance(action: ThrottledAction, credibility: f64) -> Allowance {
    BANDS
        .iter()
        .find(|band| credibility >= band.min && credibility <= band.max)
        .map_or(FALLBACK, |band| match action {
            ThrottledAction::Registration => band.registration,
            ThrottledAction::Repositioning => band.repositioning,
        })
}

/// What the decision needs to know about the acting identity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottleInput {
    /// Trusted identities (set by admins) are never throttled.
    pub trusted: bool,
    /// The stored credibility rating.
    pub credibility: f64,
    /// The identity's actions of this kind within the last day.
    pub actions_in_last_day: u32,
    /// When the identity's newest action of this kind happened (any age).
    pub last_action_at: Option<DateTime<Utc>>,
}

/// Should this action be refused with `THROTTLED_ERROR`?
///
/// Throttled while the cooldown since the last action has not elapsed, or
/// once the day's allowance is used up. The original compares
/// `count > limit`, which allows `limit + 1` actions a day and one
/// reposition even in the "0 per day" band (spec 19, bug 11). This port
/// implements the intended `count >= limit`: the daily allowance is exactly
/// `limit`, and the 0–25 band cannot reposition at all.
pub fn is_throttled(action: ThrottledAction, input: &ThrottleInput, now: DateTime<Utc>) -> bool {
    if input.trusted {
        return false;
    }
    let allowance = allowance(action, input.credibility);
    let daily_allowance_used_up = input.actions_in_last_day >= allowance.daily_limit;
    let cooling_down = input
        .last_action_at
        .is_some_and(|last| now - last < Duration::minutes(allowance.cooldown_minutes));
    daily_allowance_used_up || cooling_down
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use ThrottledAction::{Registration, Repositioning};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
    }

    fn input(credibility: f64, actions_in_last_day: u32, last_action_at: Option<DateTime<Utc>>) -> ThrottleInput {
        ThrottleInput {
            trusted: false,
            credibility,
            actions_in_last_day,
            last_action_at,
        }
    }

    #[test]
    fn band_edges_of_all_four_tables() {
        let table = [
            // credibility, registration (cooldown, limit), repositioning (cooldown, limit)
            (0.0, (90, 1), (120, 0)),
            (25.0, (90, 1), (120, 0)),
            (26.0, (60, 3), (90, 1)),
            (50.0, (60, 3), (90, 1)),
            (51.0, (10, 5), (30, 2)),
            (75.0, (10, 5), (30, 2)),
            (76.0, (5, 8), (10, 5)),
            (100.0, (5, 8), (10, 5)),
        ];
        for (credibility, (reg_cooldown, reg_limit), (repo_cooldown, repo_limit)) in table {
            assert_eq!(
                allowance(Registration, credibility),
                allow(reg_cooldown, reg_limit),
                "{credibility}"
            );
            assert_eq!(
                allowance(Repositioning, credibility),
                allow(repo_cooldown, repo_limit),
                "{credibility}"
            );
        }
    }

    #[test]
    fn fractional_values_inside_a_band_match_it() {
        assert_eq!(allowance(Registration, 10.5), allow(90, 1));
        assert_eq!(allowance(Repositioning, 99.9), allow(10, 5));
    }

    #[test]
    fn off_table_credibility_falls_back() {
        for credibility in [-1.0, -0.001, 25.5, 50.2, 75.9, 100.5, 101.0, f64::NAN] {
            assert_eq!(allowance(Registration, credibility), allow(30, 1), "{credibility}");
            assert_eq!(allowance(Repositioning, credibility), allow(30, 1), "{credibility}");
        }
    }

    #[test]
    fn the_fallback_is_more_lenient_than_the_lowest_band() {
        assert_eq!(allowance(Repositioning, 25.0).daily_limit, 0);
        assert_eq!(allowance(Repositioning, 25.5).daily_limit, 1);
        assert_eq!(allowance(Registration, 25.0).cooldown_minutes, 90);
        assert_eq!(allowance(Registration, 25.5).cooldown_minutes, 30);
    }

    #[test]
    fn daily_allowance_is_exactly_the_limit() {
        // 51–75: five registrations a day.
        assert!(!is_throttled(Registration, &input(60.0, 4, None), now()));
        assert!(is_throttled(Registration, &input(60.0, 5, None), now()));
        assert!(is_throttled(Registration, &input(60.0, 50, None), now()));
        // 76–100: eight.
        assert!(!is_throttled(Registration, &input(100.0, 7, None), now()));
        assert!(is_throttled(Registration, &input(100.0, 8, None), now()));
    }

    #[test]
    fn the_zero_reposition_band_never_repositions() {
        assert!(is_throttled(Repositioning, &input(25.0, 0, None), now()));
        assert!(!is_throttled(Repositioning, &input(26.0, 0, None), now()));
        assert!(is_throttled(Repositioning, &input(26.0, 1, None), now()));
    }

    #[test]
    fn cooldown_edges() {
        // 26–50 registration cooldown: 60 minutes.
        let at = |minutes_ago: i64| Some(now() - Duration::minutes(minutes_ago));
        assert!(is_throttled(Registration, &input(40.0, 0, at(59)), now()));
        assert!(is_throttled(
            Registration,
            &input(40.0, 0, Some(now() - Duration::minutes(60) + Duration::milliseconds(1))),
            now()
        ));
        assert!(
            !is_throttled(Registration, &input(40.0, 0, at(60)), now()),
            "exactly the cooldown is allowed"
        );
        assert!(!is_throttled(Registration, &input(40.0, 0, at(24 * 60)), now()));
        // The same minutes are too few for repositioning (90 minutes in this band).
        assert!(is_throttled(Repositioning, &input(40.0, 0, at(60)), now()));
        assert!(!is_throttled(Repositioning, &input(40.0, 0, at(90)), now()));
    }

    #[test]
    fn a_last_action_in_the_future_is_still_cooling_down() {
        assert!(is_throttled(
            Registration,
            &input(90.0, 0, Some(now() + Duration::minutes(1))),
            now()
        ));
    }

    #[test]
    fn cooldown_and_limit_are_independent() {
        // Within the limit but too recent (original test: credibility 10, last one 10 s ago).
        assert!(is_throttled(
            Registration,
            &input(10.0, 0, Some(now() - Duration::seconds(10))),
            now()
        ));
        // Cooled down but over the limit (credibility 10, 50 today, last one 2 h ago).
        assert!(is_throttled(
            Registration,
            &input(10.0, 50, Some(now() - Duration::hours(2))),
            now()
        ));
        // Credibility 80, nothing today.
        assert!(!is_throttled(Registration, &input(80.0, 0, None), now()));
    }

    #[test]
    fn trusted_identities_bypass_everything() {
        let flooding = ThrottleInput {
            trusted: true,
            credibility: 0.0,
            actions_in_last_day: 1000,
            last_action_at: Some(now()),
        };
        assert!(!is_throttled(Registration, &flooding, now()));
        assert!(!is_throttled(Repositioning, &flooding, now()));
        let untrusted = ThrottleInput {
            trusted: false,
            ..flooding
        };
        assert!(is_throttled(Registration, &untrusted, now()));
    }
}
