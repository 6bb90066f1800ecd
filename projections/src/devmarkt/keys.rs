//! Devmarkt aggregate ids: `<epoch>/<natural id>`.
//!
//! The epoch is 0 in production and grows with every QA reseed (spec 12:
//! "all sequences restart at 1"): an event log is never rewritten, so a
//! reseed starts fresh aggregates under a new prefix instead. The epoch is
//! digits only, so splitting at the first `/` is unambiguous whatever the
//! natural id (a template name) contains.

/// The aggregate id of `natural` (template name, `type:number`, application id) in `epoch`.
pub fn aggregate_id(epoch: u64, natural: impl std::fmt::Display) -> String {
    format!("{epoch}/{natural}")
}

/// `(epoch, natural id)` of an aggregate id; `None` for ids without an epoch.
pub fn split(aggregate_id: &str) -> Option<(u64, &str)> {
    let (epoch, natural) = aggregate_id.split_once('/')?;
    Some((epoch.parse().ok()?, natural))
}

/// The key prefix of every document of `epoch`.
pub fn prefix(epoch: u64) -> String {
    format!("{epoch}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_names_with_slashes() {
        let id = aggregate_id(3, "a/b c");
        assert_eq!(id, "3/a/b c");
        assert_eq!(split(&id), Some((3, "a/b c")));
        assert_eq!(split("nope"), None);
        assert_eq!(split("x/1"), None);
    }
}
