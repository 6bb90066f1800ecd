//! Any filter text: parsed, translated for every field set, evaluated and
//! turned into a MongoDB query without a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use projections::rsql::FieldSet;

fuzz_target!(|text: &str| {
    let doc = serde_json::json!({
        "aggregateId": "3f0e5a4c-1b2d-4c3e-8f4a-5b6c7d8e9f01", "score": 3, "imported": true,
        "createdAt": "2026-01-01T00:00:00.000Z", "position": {"type": "Point", "coordinates": [8.4, 49.0]},
    });
    for set in [FieldSet::public_cvm(), FieldSet::kmc_cvm(), FieldSet::public_ident(), FieldSet::kmc_ident()] {
        if let Ok(filter) = set.compile(text) {
            let _ = filter.matches(&doc);
            let _ = filter.to_mongo();
        }
    }
});
