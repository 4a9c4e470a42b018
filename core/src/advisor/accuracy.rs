//! The reported-accuracy distribution, the fix error model, and the seeded random numbers
//! under both.
//!
//! Random numbers come from SplitMix64 (Steele, Lea and Flood, 2014), written out here so the
//! sequence for a seed is fixed by this file and not by a dependency's version. Normal
//! deviates use Marsaglia's polar method (one `ln` and one `sqrt` per pair, no trigonometry).

use serde::Serialize;

/// `2·ln(1/0.32)`: for a circular 2-D Gaussian with per-axis standard deviation σ, the radius
/// holding 68 % of the probability is `σ·sqrt(2·ln(1/0.32))` ≈ 1.5096 σ.
fn radius68_per_sigma() -> f64 {
    (2.0 * (1.0f64 / 0.32).ln()).sqrt()
}

/// Per-axis standard deviation, in metres, of the error of a fix that reports accuracy
/// `accuracy_m` (its 68 % radius): `accuracy_m / 1.5096`.
pub fn sigma_for_accuracy(accuracy_m: f64) -> f64 {
    accuracy_m / radius68_per_sigma()
}

/// How the accuracy radius that phones report is distributed: log-normal, clipped.
///
/// A drawn accuracy is `median_m · exp(spread · z)` with `z` standard normal, then clipped to
/// `min_m..=max_m`. The default, [`AccuracyModel::urban_phone`], is a phone in a dense city
/// street: median 15 m, spread 0.5 (so half the fixes between 10.7 and 21 m, 95 % between 5.6
/// and 40 m), clipped to 3..=100 m.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AccuracyModel {
    /// Median reported accuracy, metres; greater than 0.
    pub median_m: f64,
    /// Standard deviation of the accuracy's natural logarithm; 0 makes every fix report
    /// `median_m`. At least 0, at most 3.
    pub spread: f64,
    /// Smallest accuracy drawn, metres (draws below are raised to it); greater than 0.
    pub min_m: f64,
    /// Largest accuracy drawn, metres (draws above are lowered to it); at least `min_m`.
    pub max_m: f64,
}

impl Default for AccuracyModel {
    fn default() -> Self {
        AccuracyModel::urban_phone()
    }
}

impl AccuracyModel {
    /// Urban phone accuracy: median 15 m, spread 0.5, clipped to 3..=100 m.
    pub fn urban_phone() -> AccuracyModel {
        AccuracyModel {
            median_m: 15.0,
            spread: 0.5,
            min_m: 3.0,
            max_m: 100.0,
        }
    }

    /// Checks the numbers; the error names the field and says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!(
                    "{name} must be a finite number greater than 0 (got {v})"
                ))
            }
        };
        positive("accuracy median", self.median_m)?;
        positive("accuracy minimum", self.min_m)?;
        positive("accuracy maximum", self.max_m)?;
        if !(self.spread.is_finite() && (0.0..=3.0).contains(&self.spread)) {
            return Err(format!(
                "accuracy spread must be between 0 and 3 (got {})",
                self.spread
            ));
        }
        if self.max_m < self.min_m {
            return Err(format!(
                "accuracy maximum {} m is below the minimum {} m",
                self.max_m, self.min_m
            ));
        }
        Ok(())
    }

    /// One line for people: "accuracy log-normal, median 15 m, spread 0.5, clipped to 3–100 m".
    pub fn describe(&self) -> String {
        format!(
            "reported accuracy log-normal, median {} m, spread {} (ln), clipped to {}–{} m",
            self.median_m, self.spread, self.min_m, self.max_m
        )
    }

    /// Draws one reported accuracy, metres.
    pub(super) fn draw(&self, rng: &mut Rng) -> f64 {
        let a = self.median_m * (self.spread * rng.normal()).exp();
        a.clamp(self.min_m, self.max_m)
    }
}

/// SplitMix64: a 64-bit state, one addition and a mix per number; passes BigCrush.
#[derive(Debug, Clone)]
pub(super) struct Rng {
    state: u64,
}

impl Rng {
    /// A generator for `seed` and stream `stream` (e.g. a site's index): streams of one seed
    /// are independent of one another, so one site's samples do not depend on the others.
    pub(super) fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng {
            state: seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03),
        };
        // Mix once so that neighbouring seeds start far apart.
        r.next_u64();
        r
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, 53 random bits.
    pub(super) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`.
    pub(super) fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// A standard normal deviate (Marsaglia's polar method; the second deviate of each pair
    /// is dropped to keep the state a single number).
    pub(super) fn normal(&mut self) -> f64 {
        loop {
            let u = 2.0 * self.uniform() - 1.0;
            let v = 2.0 * self.uniform() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                return u * (-2.0 * s.ln() / s).sqrt();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_68_percent_radius_is_the_reported_accuracy() {
        // Share of 2-D errors within the accuracy radius: 68 % by construction.
        let mut rng = Rng::new(7, 0);
        let n = 200_000;
        let sigma = sigma_for_accuracy(10.0);
        let inside = (0..n)
            .filter(|_| {
                let (x, y) = (sigma * rng.normal(), sigma * rng.normal());
                x.hypot(y) <= 10.0
            })
            .count();
        let share = inside as f64 / n as f64;
        assert!((share - 0.68).abs() < 0.005, "{share}");
    }

    #[test]
    fn urban_accuracy_has_its_documented_median_and_range() {
        let model = AccuracyModel::urban_phone();
        let mut rng = Rng::new(1, 2);
        let mut draws: Vec<f64> = (0..50_001).map(|_| model.draw(&mut rng)).collect();
        draws.sort_by(f64::total_cmp);
        let median = draws[25_000];
        assert!((median - 15.0).abs() < 0.3, "{median}");
        let within_5_40 = draws.iter().filter(|a| (5.0..=40.0).contains(*a)).count();
        assert!(within_5_40 as f64 / draws.len() as f64 > 0.93);
        assert!(draws[0] >= 3.0 && draws[draws.len() - 1] <= 100.0);
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = {
            let mut r = Rng::new(42, 3);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let mut r = Rng::new(42, 3);
        assert_eq!(a, (0..4).map(|_| r.next_u64()).collect::<Vec<_>>());
        let mut other = Rng::new(42, 4);
        assert_ne!(a[0], other.next_u64());
    }

    #[test]
    fn bad_models_are_refused_by_name() {
        let mut m = AccuracyModel::urban_phone();
        m.median_m = 0.0;
        assert!(m.validate().unwrap_err().contains("median"));
        let mut m = AccuracyModel::urban_phone();
        m.spread = f64::NAN;
        assert!(m.validate().unwrap_err().contains("spread"));
        let mut m = AccuracyModel::urban_phone();
        m.max_m = 2.0;
        assert!(m.validate().unwrap_err().contains("maximum"));
        assert!(AccuracyModel::urban_phone().validate().is_ok());
    }
}
