//! Any `/cvms/within` parameters (bottomLeft, topRight, zoom; each maybe
//! absent): refused, or a viewport whose tiles are few enough to read.
#![no_main]
use libfuzzer_sys::fuzz_target;
use projections::supercluster::{TileRange, MAX_VIEWPORT_TILES};
use stummel::kippenstummel::validation::viewport;

fuzz_target!(|input: (Option<&str>, Option<&str>, Option<&str>)| {
    let (bottom_left, top_right, zoom) = input;
    if let Ok(v) = viewport(bottom_left, top_right, zoom) {
        assert!((8.0..=18.0).contains(&v.zoom));
        if v.zoom.fract() == 0.0 {
            if let Some(range) = TileRange::of_viewport((v.west, v.south), (v.east, v.north), v.zoom as u8) {
                assert!(range.count() <= MAX_VIEWPORT_TILES);
            }
        }
    }
});
