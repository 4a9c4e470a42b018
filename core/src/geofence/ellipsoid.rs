//! WGS-84 as the geofence code uses it: geodetic degrees to Earth-centred Earth-fixed (ECEF)
//! metres, the local east/north frame at a fix, and chord-to-arc conversion.
//!
//! Everything in this file is per query or per vertex at build time; nothing here allocates.
//! All heights are zero: fixes and fences live on the ellipsoid surface, which is what
//! "distance along the ground" means for a clock-in fix. Trigonometry goes through `libm`,
//! not the platform's math library, so a phone and the server place a fix to the same bits.

/// WGS-84 semi-major axis, metres.
pub(crate) const A: f64 = 6_378_137.0;
/// WGS-84 flattening.
const F: f64 = 1.0 / 298.257_223_563;
/// First eccentricity squared, `f (2 − f)`.
const E2: f64 = F * (2.0 - F);
/// The smallest radius of curvature anywhere on the ellipsoid: the meridional radius at the
/// equator, `a (1 − e²)`, about 6 335 439 m. Any surface patch bulges above the chord plane
/// of its rim by at most `D² / (8 ρ_min)` for a rim of chord diameter `D`.
pub(crate) const RHO_MIN: f64 = A * (1.0 - E2);
/// IUGG mean Earth radius `(2a + b) / 3`, used to turn a chord into an arc length.
///
/// For a chord `c` between two surface points the geodesic is `c + c³ / (24 ρ²)` plus higher
/// orders, with `ρ` the normal-section radius in that direction (6 335 to 6 400 km). Using one
/// mean radius for `ρ` errs by less than 0.2 mm up to 10 km and 0.1 m at 200 km.
const R_MEAN: f64 = 6_371_008.771_415;

/// ECEF position of a point on the ellipsoid surface.
pub(crate) fn to_ecef(lon_deg: f64, lat_deg: f64) -> [f64; 3] {
    let (sin_lat, cos_lat) = libm::sincos(lat_deg.to_radians());
    let (sin_lon, cos_lon) = libm::sincos(lon_deg.to_radians());
    ecef_from_trig(sin_lat, cos_lat, sin_lon, cos_lon)
}

fn ecef_from_trig(sin_lat: f64, cos_lat: f64, sin_lon: f64, cos_lon: f64) -> [f64; 3] {
    // Prime-vertical radius of curvature N(φ).
    let n = A / (1.0 - E2 * sin_lat * sin_lat).sqrt();
    [
        n * cos_lat * cos_lon,
        n * cos_lat * sin_lon,
        n * (1.0 - E2) * sin_lat,
    ]
}

/// A fix and its local frame: the ECEF position and the east and north unit vectors of the
/// tangent plane there. Built once per query with one `sin_cos` each for latitude and
/// longitude; every vertex is then placed in the frame by dot products alone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame {
    /// The fix in ECEF metres.
    pub x: [f64; 3],
    east: [f64; 2],
    north: [f64; 3],
}

impl Frame {
    /// The frame at a fix, or `None` when the coordinates are not a point on Earth
    /// (non-finite, or latitude outside ±90°). Longitude may be any finite value.
    pub(crate) fn new(lon_deg: f64, lat_deg: f64) -> Option<Frame> {
        if !lon_deg.is_finite() || !lat_deg.is_finite() || lat_deg.abs() > 90.0 {
            return None;
        }
        let (sin_lat, cos_lat) = libm::sincos(lat_deg.to_radians());
        let (sin_lon, cos_lon) = libm::sincos(lon_deg.to_radians());
        Some(Frame {
            x: ecef_from_trig(sin_lat, cos_lat, sin_lon, cos_lon),
            // The east vector has no z component.
            east: [-sin_lon, cos_lon],
            north: [-sin_lat * cos_lon, -sin_lat * sin_lon, cos_lat],
        })
    }

    /// `p − x`: an ECEF point relative to the fix (still in ECEF axes).
    #[inline(always)]
    pub(crate) fn rel(&self, p: &[f64; 3]) -> [f64; 3] {
        [p[0] - self.x[0], p[1] - self.x[1], p[2] - self.x[2]]
    }

    /// The east and north components of a fix-relative vector: its orthogonal projection on
    /// the tangent plane at the fix.
    #[inline(always)]
    pub(crate) fn east_north(&self, d: &[f64; 3]) -> [f64; 2] {
        [
            self.east[0] * d[0] + self.east[1] * d[1],
            self.north[0] * d[0] + self.north[1] * d[1] + self.north[2] * d[2],
        ]
    }
}

/// Arc length for a chord between two surface points, on the mean sphere:
/// `2 R asin(c / 2R)`. Monotonic and never less than `c`, so a chord lower bound is also an
/// arc lower bound.
#[inline]
pub(crate) fn arc_from_chord(chord_m: f64) -> f64 {
    2.0 * R_MEAN * libm::asin((chord_m / (2.0 * R_MEAN)).min(1.0))
}

#[inline(always)]
pub(crate) fn dot(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

#[inline(always)]
pub(crate) fn sub(a: &[f64; 3], b: &[f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecef_of_reference_points() {
        let p = to_ecef(0.0, 0.0);
        assert_eq!(p, [A, 0.0, 0.0]);
        let q = to_ecef(90.0, 0.0);
        assert!((q[0]).abs() < 1e-9 && (q[1] - A).abs() < 1e-9 && q[2] == 0.0);
        // The pole sits at the semi-minor axis b = a (1 − f).
        let n = to_ecef(0.0, 90.0);
        assert!(
            n[0].abs() < 1e-9 && (n[2] - A * (1.0 - F)).abs() < 1e-6,
            "{n:?}"
        );
    }

    #[test]
    fn frame_axes_are_orthonormal_and_horizontal() {
        for &(lon, lat) in &[(114.17, 22.28), (-70.6, -33.4), (10.75, 59.9), (179.9, 0.0)] {
            let f = Frame::new(lon, lat).unwrap();
            let east = [f.east[0], f.east[1], 0.0];
            assert!((dot(&east, &east) - 1.0).abs() < 1e-15);
            assert!((dot(&f.north, &f.north) - 1.0).abs() < 1e-15);
            assert!(dot(&east, &f.north).abs() < 1e-15);
            // A point 0.001° north of the fix projects onto north only, by a meridian arc of
            // 110.57 m (equator) to 111.69 m (pole).
            let d = f.rel(&to_ecef(lon, lat + 0.001));
            let [e, n] = f.east_north(&d);
            assert!(e.abs() < 1e-6 && (110.5..111.7).contains(&n), "{e} {n}");
        }
    }

    #[test]
    fn invalid_fixes_have_no_frame() {
        assert!(Frame::new(f64::NAN, 22.0).is_none());
        assert!(Frame::new(114.0, f64::INFINITY).is_none());
        assert!(Frame::new(114.0, 90.5).is_none());
        assert!(Frame::new(114.0, -90.0).is_some());
        assert!(Frame::new(540.0, 10.0).is_some());
    }

    #[test]
    fn arc_is_at_least_the_chord() {
        assert_eq!(arc_from_chord(0.0), 0.0);
        // 10 km: the arc is longer by c³ / (24 R²), about 1 mm.
        let c = 10_000.0;
        let arc = arc_from_chord(c);
        let excess = c.powi(3) / (24.0 * R_MEAN * R_MEAN);
        assert!((arc - c - excess).abs() < 1e-9, "{arc}");
        // Antipodal chord: half the mean circumference.
        assert!((arc_from_chord(2.0 * R_MEAN) - std::f64::consts::PI * R_MEAN).abs() < 1e-6);
    }
}
