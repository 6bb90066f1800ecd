//! The spherical Mercator projection into the unit square that supercluster clusters in.
//!
//! These are supercluster 8.0.1's `lngX`, `latY`, `xLng` and `yLat`, with the operations in the
//! same order as the JavaScript and V8's `Math` functions, so every intermediate result rounds
//! the same way.

use std::f64::consts::PI;

use super::jsmath;

/// Longitude → x in [0, 1] (`lngX`).
pub(crate) fn lng_x(lng: f64) -> f64 {
    lng / 360.0 + 0.5
}

/// Latitude → y in [0, 1], north at 0 (`latY`). Beyond ±85.0511° the result is clamped;
/// ±90° divides by zero on purpose and lands on the clamp, as in JavaScript. NaN stays NaN
/// (`clamp` keeps NaN, like JavaScript's `y < 0 ? 0 : y > 1 ? 1 : y`).
pub(crate) fn lat_y(lat: f64) -> f64 {
    let sin = jsmath::sin(lat * PI / 180.0);
    let y = 0.5 - 0.25 * jsmath::log((1.0 + sin) / (1.0 - sin)) / PI;
    y.clamp(0.0, 1.0)
}

/// x in [0, 1] → longitude (`xLng`).
pub(crate) fn x_lng(x: f64) -> f64 {
    (x - 0.5) * 360.0
}

/// y in [0, 1] → latitude (`yLat`).
pub(crate) fn y_lat(y: f64) -> f64 {
    let y2 = (180.0 - y * 360.0) * PI / 180.0;
    360.0 * jsmath::atan(jsmath::exp(y2)) / PI - 90.0
}

/// supercluster stores projected input points with `Math.fround`, i.e. rounded to the nearest
/// float32 (ties to even, which is what an `f64 as f32` cast does) and widened back to a double.
pub(crate) fn fround(value: f64) -> f64 {
    f64::from(value as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_the_corners_of_the_map() {
        assert_eq!(lng_x(-180.0), 0.0);
        assert_eq!(lng_x(0.0), 0.5);
        assert_eq!(lng_x(180.0), 1.0);
        assert_eq!(lat_y(0.0), 0.5);
        assert_eq!(lat_y(90.0), 0.0, "north pole clamps to the top edge");
        assert_eq!(lat_y(-90.0), 1.0, "south pole clamps to the bottom edge");
        assert!(lat_y(f64::NAN).is_nan());
    }

    #[test]
    fn inverse_projection_round_trips() {
        for lat in [-85.0, -40.5, 0.0, 12.25, 49.0092, 85.0] {
            assert!((y_lat(lat_y(lat)) - lat).abs() < 1e-9, "lat {lat}");
        }
        assert!((x_lng(lng_x(8.5)) - 8.5).abs() < 1e-12);
    }

    #[test]
    fn fround_rounds_to_float32() {
        assert_eq!(fround(0.1), 0.10000000149011612);
        assert_eq!(fround(0.5), 0.5);
    }
}
