//! Geometry helpers with the original's exact formulas (spec 9.9).

/// Earth radius used by every distance in the original, in km.
pub const EARTH_RADIUS_KM: f64 = 6371.0;

/// A WGS84 position in degrees.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    pub longitude: f64,
    pub latitude: f64,
}

impl Position {
    pub fn new(longitude: f64, latitude: f64) -> Self {
        Self { longitude, latitude }
    }
}

/// Haversine great-circle distance in km.
pub fn km(a: Position, b: Position) -> f64 {
    let d_lat = (b.latitude - a.latitude).to_radians();
    let d_lon = (b.longitude - a.longitude).to_radians();
    let h = (d_lat / 2.0).sin().powi(2)
        + a.latitude.to_radians().cos() * b.latitude.to_radians().cos() * (d_lon / 2.0).sin().powi(2);
    let c = 2.0 * h.sqrt().atan2((1.0 - h).sqrt());
    EARTH_RADIUS_KM * c
}

/// Speed in km/h between `a` (at `then_ms`) and `b` (at `now_ms`), epoch
/// milliseconds. Same-millisecond timestamps give ±Infinity or NaN, as in
/// the original.
pub fn speed_kmh(a: Position, b: Position, then_ms: f64, now_ms: f64) -> f64 {
    km(a, b) / ((now_ms - then_ms) / 3_600_000.0)
}

/// Exponentially weighted moving average: `alpha·current + (1−alpha)·previous`.
pub fn ewma(previous: f64, current: f64, alpha: f64) -> f64 {
    alpha * current + (1.0 - alpha) * previous
}

/// JavaScript's `Math.round`: halves go towards +infinity.
pub fn js_round(x: f64) -> f64 {
    (x + 0.5).floor()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_matches_known_distances() {
        let karlsruhe = Position::new(8.40395, 49.0092);
        assert_eq!(km(karlsruhe, karlsruhe), 0.0);
        // One degree of latitude on this sphere.
        let one_degree = km(Position::new(0.0, 0.0), Position::new(0.0, 1.0));
        assert!((one_degree - 111.194_926_644_558_74).abs() < 1e-9, "{one_degree}");
        let berlin = Position::new(13.405, 52.52);
        let d = km(karlsruhe, berlin);
        assert!((d - 523.0).abs() < 5.0, "{d}");
    }

    #[test]
    fn js_rounding_goes_up_on_halves() {
        assert_eq!(js_round(2.5), 3.0);
        assert_eq!(js_round(-2.5), -2.0);
        assert_eq!(js_round(-2.6), -3.0);
        assert_eq!(js_round(0.49999), 0.0);
    }

    #[test]
    fn ewma_weights_the_current_value() {
        assert!((ewma(10.0, 20.0, 0.1) - 11.0).abs() < 1e-12);
        assert_eq!(ewma(0.0, 1.0, 0.2), 0.2);
    }
}
