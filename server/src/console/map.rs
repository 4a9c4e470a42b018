//! Site maps drawn on the server as SVG, on a plain projected background so that they work
//! on an intranet without a tile server.
//!
//! The projection is local and equirectangular around the middle of what is drawn: one SVG
//! user unit is one metre, `x` to the east and `y` to the south (SVG's way), so a fence's
//! tolerance is drawn exactly as a stroke of twice its width with round joins around the
//! fence (the fence grown by the tolerance). The `<svg>` carries the projection's origin and
//! scale (`data-lat0`, `data-lon0`, `data-kx`, `data-ky`: metres per degree) for the drawing
//! script. Over a few kilometres the projection's error is far below a metre.

/// Metres per degree of latitude (mean).
const M_PER_DEG_LAT: f64 = 110_574.0;
/// Metres per degree of longitude at the equator.
const M_PER_DEG_LON: f64 = 111_320.0;

/// A shape in degrees.
#[derive(Debug, Clone)]
pub enum Shape {
    /// A polygon: exterior ring then holes, each a list of `(lat, lon)`.
    Polygon(Vec<Vec<(f64, f64)>>),
    /// A circle: centre `(lat, lon)` and radius in metres.
    Circle((f64, f64), f64),
}

/// A reported position and its accuracy.
#[derive(Debug, Clone, Copy)]
pub struct Fix {
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Accuracy radius, metres.
    pub accuracy_m: f64,
}

/// One fence as drawn.
#[derive(Debug, Clone)]
pub struct FenceView {
    /// Position in the site's fence list (`data-fence`).
    pub index: usize,
    /// `polygon` or `circle`.
    pub kind: &'static str,
    /// SVG path of a polygon (rings, even-odd).
    pub d: String,
    /// Centre x of a circle, metres.
    pub cx: String,
    /// Centre y of a circle, metres.
    pub cy: String,
    /// Radius of a circle, metres.
    pub r: String,
    /// Radius of the grown circle, metres.
    pub grown_r: String,
}

/// A line of the metre grid.
#[derive(Debug, Clone)]
pub struct GridLine {
    /// Start x.
    pub x1: String,
    /// Start y.
    pub y1: String,
    /// End x.
    pub x2: String,
    /// End y.
    pub y2: String,
}

/// Everything the map template draws.
#[derive(Debug, Clone)]
pub struct MapView {
    /// The `viewBox`.
    pub view_box: String,
    /// Projection origin latitude.
    pub lat0: String,
    /// Projection origin longitude.
    pub lon0: String,
    /// Metres per degree of longitude at the origin.
    pub kx: String,
    /// Metres per degree of latitude.
    pub ky: String,
    /// Background rectangle: x, y, width, height.
    pub bg: [String; 4],
    /// The grid.
    pub grid: Vec<GridLine>,
    /// Grid spacing, metres.
    pub step_m: u32,
    /// Font size in metres.
    pub font: String,
    /// Line width for thin strokes, metres.
    pub thin: String,
    /// The fences.
    pub fences: Vec<FenceView>,
    /// Twice the tolerance: the grown fence's stroke width, metres; `0` without tolerance.
    pub grow_width: String,
    /// Whether there is a tolerance to draw.
    pub has_tolerance: bool,
    /// Scale bar: x, y, length, label x, label y.
    pub scale: [String; 5],
    /// North arrow path and the position of its `N`.
    pub north: (String, String, String),
    /// The fix: centre x, centre y, accuracy radius, dot radius.
    pub fix: Option<[String; 4]>,
    /// Background tiles, when a tile server is configured ([`add_tiles`]).
    pub tiles: Vec<Tile>,
    /// The projection and view as numbers: origin latitude and longitude, metres per degree
    /// of longitude, and the view box (x, y, width, height).
    pub geometry: (f64, f64, f64, [f64; 4]),
}

/// A background tile placed in the map's metres.
#[derive(Debug, Clone)]
pub struct Tile {
    /// The tile's URL.
    pub href: String,
    /// Left edge.
    pub x: String,
    /// Top edge.
    pub y: String,
    /// Width.
    pub width: String,
    /// Height.
    pub height: String,
}

/// Most tiles drawn behind one map.
const MAX_TILES: u32 = 36;

/// Checks a tile URL template: `http://` or `https://`, with `{z}`, `{x}` and `{y}`; its
/// origin (`https://host[:port]`) for the content security policy.
pub fn tile_origin(template: &str) -> Result<String, String> {
    let url = url::Url::parse(&template.replace(['{', '}'], ""))
        .map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http:// or https:// URL".into());
    }
    for part in ["{z}", "{x}", "{y}"] {
        if !template.contains(part) {
            return Err(format!("must contain {part}"));
        }
    }
    if template.contains(['"', '\'', ' ', '<', '>']) {
        return Err("must not contain quotes, spaces or angle brackets".into());
    }
    Ok(url.origin().ascii_serialization())
}

/// Places the web-mercator tiles of `template` (`…/{z}/{x}/{y}.png`) that cover the map
/// behind it, at a zoom giving about three tiles across.
pub fn add_tiles(map: &mut MapView, template: &str) {
    let (lat0, lon0, kx, [vx, vy, w, h]) = map.geometry;
    let across = 40_075_016.0 * lat0.to_radians().cos() * 3.0 / w;
    let z = across.log2().round().clamp(1.0, 19.0) as u32;
    let n = f64::from(1u32 << z);
    let to_lat = |y: f64| lat0 - y / M_PER_DEG_LAT;
    let to_lon = |x: f64| lon0 + x / kx;
    let tx = |lon: f64| ((lon + 180.0) / 360.0 * n).floor();
    let ty = |lat: f64| {
        let r = lat.to_radians();
        ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor()
    };
    let lon_of = |x: f64| x / n * 360.0 - 180.0;
    let lat_of = |y: f64| {
        (std::f64::consts::PI * (1.0 - 2.0 * y / n))
            .sinh()
            .atan()
            .to_degrees()
    };
    let (x0, x1) = (tx(to_lon(vx)), tx(to_lon(vx + w)));
    let (y0, y1) = (ty(to_lat(vy)), ty(to_lat(vy + h)));
    if (x1 - x0 + 1.0) * (y1 - y0 + 1.0) > f64::from(MAX_TILES) {
        return;
    }
    let mut y = y0;
    while y <= y1 {
        let mut x = x0;
        while x <= x1 {
            let (left, top) = project(lat0, lon0, kx, lat_of(y), lon_of(x));
            let (right, bottom) = project(lat0, lon0, kx, lat_of(y + 1.0), lon_of(x + 1.0));
            map.tiles.push(Tile {
                href: template
                    .replace("{z}", &z.to_string())
                    .replace("{x}", &(x as u64).to_string())
                    .replace("{y}", &(y as u64).to_string()),
                x: f(left),
                y: f(top),
                width: f(right - left),
                height: f(bottom - top),
            });
            x += 1.0;
        }
        y += 1.0;
    }
}

fn f(v: f64) -> String {
    format!("{v:.2}")
}

/// Projects `(lat, lon)` to metres around `(lat0, lon0)`, y to the south.
fn project(lat0: f64, lon0: f64, kx: f64, lat: f64, lon: f64) -> (f64, f64) {
    ((lon - lon0) * kx, -(lat - lat0) * M_PER_DEG_LAT)
}

/// A grid step giving about five to ten lines over `extent` metres.
fn nice_step(extent: f64) -> f64 {
    let raw = extent / 6.0;
    let mut best = 1.0;
    for m in [
        1.0, 2.0, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0, 200.0, 250.0, 500.0, 1000.0, 2000.0, 5000.0,
        10000.0, 20000.0,
    ] {
        if m <= raw {
            best = m;
        }
    }
    best
}

/// Draws `shapes` (grown by `tolerance_m`) and an optional fix.
pub fn draw(shapes: &[Shape], tolerance_m: f64, fix: Option<Fix>) -> MapView {
    // Bounding box in degrees.
    let mut pts: Vec<(f64, f64)> = Vec::new();
    for s in shapes {
        match s {
            Shape::Polygon(rings) => pts.extend(rings.iter().flatten().copied()),
            Shape::Circle(c, _) => pts.push(*c),
        }
    }
    if let Some(x) = fix {
        pts.push((x.lat, x.lon));
    }
    if pts.is_empty() {
        pts.push((0.0, 0.0));
    }
    let (mut lat_min, mut lat_max, mut lon_min, mut lon_max) =
        (90.0f64, -90.0f64, 180.0f64, -180.0f64);
    for (la, lo) in &pts {
        lat_min = lat_min.min(*la);
        lat_max = lat_max.max(*la);
        lon_min = lon_min.min(*lo);
        lon_max = lon_max.max(*lo);
    }
    let lat0 = (lat_min + lat_max) / 2.0;
    let lon0 = (lon_min + lon_max) / 2.0;
    let kx = M_PER_DEG_LON * lat0.to_radians().cos();
    let p = |lat: f64, lon: f64| project(lat0, lon0, kx, lat, lon);
    // Extent in metres, circles and the fix's accuracy included.
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    let mut grow = |x: f64, y: f64, r: f64| {
        x0 = x0.min(x - r);
        y0 = y0.min(y - r);
        x1 = x1.max(x + r);
        y1 = y1.max(y + r);
    };
    for s in shapes {
        match s {
            Shape::Polygon(rings) => {
                for (la, lo) in rings.iter().flatten() {
                    let (x, y) = p(*la, *lo);
                    grow(x, y, tolerance_m);
                }
            }
            Shape::Circle((la, lo), r) => {
                let (x, y) = p(*la, *lo);
                grow(x, y, r + tolerance_m);
            }
        }
    }
    if let Some(x) = fix {
        let (cx, cy) = p(x.lat, x.lon);
        grow(cx, cy, x.accuracy_m.min(5000.0));
    }
    if x0 > x1 {
        (x0, y0, x1, y1) = (-50.0, -50.0, 50.0, 50.0);
    }
    // At least 100 m across, a margin all round, 3:2.
    let cx = (x0 + x1) / 2.0;
    let cy = (y0 + y1) / 2.0;
    let mut w = (x1 - x0).max(100.0) * 1.3;
    let mut h = (y1 - y0).max(100.0) * 1.3;
    if w / h < 1.5 {
        w = h * 1.5;
    } else {
        h = w / 1.5;
    }
    let (vx, vy) = (cx - w / 2.0, cy - h / 2.0);
    let step = nice_step(w);
    let mut grid = Vec::new();
    let mut gx = (vx / step).ceil() * step;
    while gx < vx + w {
        grid.push(GridLine {
            x1: f(gx),
            y1: f(vy),
            x2: f(gx),
            y2: f(vy + h),
        });
        gx += step;
    }
    let mut gy = (vy / step).ceil() * step;
    while gy < vy + h {
        grid.push(GridLine {
            x1: f(vx),
            y1: f(gy),
            x2: f(vx + w),
            y2: f(gy),
        });
        gy += step;
    }
    let font = w / 40.0;
    let fences = shapes
        .iter()
        .enumerate()
        .map(|(index, s)| match s {
            Shape::Polygon(rings) => {
                let mut d = String::new();
                for ring in rings {
                    for (i, (la, lo)) in ring.iter().enumerate() {
                        let (x, y) = p(*la, *lo);
                        d.push_str(&format!(
                            "{}{:.2} {:.2} ",
                            if i == 0 { "M" } else { "L" },
                            x,
                            y
                        ));
                    }
                    d.push_str("Z ");
                }
                FenceView {
                    index,
                    kind: "polygon",
                    d: d.trim_end().to_owned(),
                    cx: String::new(),
                    cy: String::new(),
                    r: String::new(),
                    grown_r: String::new(),
                }
            }
            Shape::Circle((la, lo), r) => {
                let (x, y) = p(*la, *lo);
                FenceView {
                    index,
                    kind: "circle",
                    d: String::new(),
                    cx: f(x),
                    cy: f(y),
                    r: f(*r),
                    grown_r: f(r + tolerance_m),
                }
            }
        })
        .collect();
    let sx = vx + w * 0.04;
    let sy = vy + h * 0.93;
    let nx = vx + w * 0.94;
    let ny = vy + h * 0.06;
    let a = w * 0.02;
    let north = (
        format!(
            "M{:.2} {:.2} L{:.2} {:.2} L{:.2} {:.2} L{:.2} {:.2} Z",
            nx,
            ny,
            nx + a,
            ny + 3.0 * a,
            nx,
            ny + 2.2 * a,
            nx - a,
            ny + 3.0 * a
        ),
        f(nx),
        f(ny + 3.0 * a + font),
    );
    MapView {
        view_box: format!("{:.2} {:.2} {:.2} {:.2}", vx, vy, w, h),
        lat0: format!("{lat0:.7}"),
        lon0: format!("{lon0:.7}"),
        kx: format!("{kx:.3}"),
        ky: format!("{M_PER_DEG_LAT:.3}"),
        bg: [f(vx), f(vy), f(w), f(h)],
        grid,
        step_m: step as u32,
        font: f(font),
        thin: f(w / 600.0),
        fences,
        grow_width: f(2.0 * tolerance_m),
        has_tolerance: tolerance_m > 0.0,
        scale: [
            f(sx),
            f(sy),
            f(step),
            f(sx + step / 2.0),
            f(sy - font * 0.6),
        ],
        north,
        fix: fix.map(|x| {
            let (cx, cy) = p(x.lat, x.lon);
            [f(cx), f(cy), f(x.accuracy_m.min(5000.0)), f(w / 150.0)]
        }),
        tiles: Vec::new(),
        geometry: (lat0, lon0, kx, [vx, vy, w, h]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_circle_is_drawn_in_metres_around_its_centre() {
        let m = draw(&[Shape::Circle((22.35683, 114.13152), 150.0)], 10.0, None);
        assert_eq!(m.fences[0].cx, "0.00");
        assert_eq!(m.fences[0].r, "150.00");
        assert_eq!(m.fences[0].grown_r, "160.00");
        assert_eq!(m.grow_width, "20.00");
        assert!(m.step_m >= 20 && m.step_m <= 100, "{}", m.step_m);
    }

    #[test]
    fn tiles_cover_the_map_and_templates_are_checked() {
        let mut m = draw(&[Shape::Circle((22.35683, 114.13152), 150.0)], 0.0, None);
        add_tiles(&mut m, "https://tiles.example/{z}/{x}/{y}.png");
        assert!(!m.tiles.is_empty() && m.tiles.len() <= 36);
        assert!(m.tiles[0].href.starts_with("https://tiles.example/"));
        let z: u32 = m.tiles[0].href.split('/').nth(3).unwrap().parse().unwrap();
        assert!((14..=19).contains(&z), "{z}");
        assert_eq!(
            tile_origin("https://tiles.example:8443/{z}/{x}/{y}.png").unwrap(),
            "https://tiles.example:8443"
        );
        assert!(tile_origin("https://tiles.example/{z}/{x}.png").is_err());
        assert!(tile_origin("javascript:{z}{x}{y}").is_err());
    }
}
