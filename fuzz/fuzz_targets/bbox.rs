//! Any `bbox` filter value: a box within range, or refused.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Some(b) = projections::rsql::parse_bounding_box(text) {
        assert!(b.min_lng < b.max_lng && b.min_lat < b.max_lat);
    }
});
