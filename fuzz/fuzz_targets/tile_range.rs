//! Any corners and zoom: the range is sized without being walked, and a
//! range within the limit is walked to exactly its size.
#![no_main]
use libfuzzer_sys::fuzz_target;
use projections::supercluster::{TileRange, MAX_VIEWPORT_TILES};

fuzz_target!(|input: ([f64; 4], u8)| {
    let ([west, south, east, north], zoom) = input;
    if let Some(range) = TileRange::of_viewport((west, south), (east, north), zoom % 32) {
        let count = range.count();
        if count <= MAX_VIEWPORT_TILES {
            assert_eq!(range.tiles().count() as u64, count);
        }
    }
});
