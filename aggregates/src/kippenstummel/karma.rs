//! Karma: a running score of an identity's contributions (spec 12.5).
//!
//! Each action appends a history entry `{type, delta, occurredAt, cvmId}`
//! and adds `delta` to the amount; this module only knows the deltas.

use serde::{Deserialize, Serialize};

/// Karma amount of a freshly issued identity.
pub const INITIAL_KARMA: i64 = 100;

/// What earned (or cost) karma. Serialised as the history entry's `type`.
///
/// `ReportReceived` goes to a machine's creator when someone reports it. The
/// original never grants it (spec 19, bug 7: the job is never enqueued);
/// the delta is 0 all the same, so fixing the plumbing only adds history
/// entries, not karma.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KarmaAction {
    Registration,
    UpvoteReceived,
    DownvoteReceived,
    UpvoteCast,
    DownvoteCast,
    ReportCast,
    ReportReceived,
}

impl KarmaAction {
    /// All actions, in the order the spec lists them.
    pub const ALL: [Self; 7] = [
        Self::Registration,
        Self::UpvoteReceived,
        Self::DownvoteReceived,
        Self::UpvoteCast,
        Self::DownvoteCast,
        Self::ReportCast,
        Self::ReportReceived,
    ];

    /// The history `type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::UpvoteReceived => "upvote_received",
            Self::DownvoteReceived => "downvote_received",
            Self::UpvoteCast => "upvote_cast",
            Self::DownvoteCast => "downvote_cast",
            Self::ReportCast => "report_cast",
            Self::ReportReceived => "report_received",
        }
    }

    /// The four vote actions: the only ones neutralised when someone votes on
    /// their own machine.
    pub fn is_vote(self) -> bool {
        matches!(
            self,
            Self::UpvoteReceived | Self::DownvoteReceived | Self::UpvoteCast | Self::DownvoteCast
        )
    }
}

/// Karma change for `action`. Votes on one's own machine earn nothing
/// (`is_self_interaction`), though the history entry is still written.
pub fn delta(action: KarmaAction, is_self_interaction: bool) -> i64 {
    if is_self_interaction && action.is_vote() {
        return 0;
    }
    match action {
        KarmaAction::Registration => 5,
        KarmaAction::UpvoteReceived => 15,
        KarmaAction::DownvoteReceived => -10,
        KarmaAction::UpvoteCast | KarmaAction::DownvoteCast => 2,
        KarmaAction::ReportCast | KarmaAction::ReportReceived => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_for_others_machines() {
        let table = [
            (KarmaAction::Registration, 5),
            (KarmaAction::UpvoteReceived, 15),
            (KarmaAction::DownvoteReceived, -10),
            (KarmaAction::UpvoteCast, 2),
            (KarmaAction::DownvoteCast, 2),
            (KarmaAction::ReportCast, 0),
            (KarmaAction::ReportReceived, 0),
        ];
        for (action, expected) in table {
            assert_eq!(delta(action, false), expected, "{action:?}");
        }
    }

    #[test]
    fn self_interaction_neutralises_only_votes() {
        for action in [
            KarmaAction::UpvoteReceived,
            KarmaAction::DownvoteReceived,
            KarmaAction::UpvoteCast,
            KarmaAction::DownvoteCast,
        ] {
            assert_eq!(delta(action, true), 0, "{action:?}");
        }
        assert_eq!(delta(KarmaAction::Registration, true), 5);
        assert_eq!(delta(KarmaAction::ReportCast, true), 0);
        assert_eq!(delta(KarmaAction::ReportReceived, true), 0);
    }

    #[test]
    fn serde_names_are_the_history_types() {
        let expected = [
            "registration",
            "upvote_received",
            "downvote_received",
            "upvote_cast",
            "downvote_cast",
            "report_cast",
            "report_received",
        ];
        for (action, name) in KarmaAction::ALL.into_iter().zip(expected) {
            assert_eq!(serde_json::to_value(action).unwrap(), name);
            assert_eq!(action.as_str(), name);
            assert_eq!(serde_json::from_value::<KarmaAction>(name.into()).unwrap(), action);
        }
    }

    #[test]
    fn unknown_types_are_rejected() {
        assert!(serde_json::from_value::<KarmaAction>("upvote".into()).is_err());
    }

    #[test]
    fn a_new_identity_starts_with_100_and_one_upvote_received_makes_115() {
        assert_eq!(INITIAL_KARMA + delta(KarmaAction::UpvoteReceived, false), 115);
    }
}
