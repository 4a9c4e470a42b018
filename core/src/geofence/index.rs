//! [`GeofenceIndex`]: the searches over a policy's prepared fences.
//!
//! Every search computes the same thing, the minimum over allowed fences of the signed
//! distance, ties going to the lower site index, and turns it into a verdict. Only the order
//! in which fences are looked at, and which are skipped as provably too far, differ:
//!
//! * [`GeofenceIndex::locate`]: a branch-and-bound descent of an R-tree (rstar, bulk
//!   loaded) over the fences' ECEF boxes. At each node the children are sorted by box
//!   distance and visited nearest first; a child whose box is farther than the best signed
//!   distance found so far cannot hold a better fence (see `fence.rs` for why the box distance
//!   is a strict lower bound), and neither can any child after it. The fix's own fences come
//!   first, so a fix inside a site usually costs one fence evaluation and one path down the
//!   tree. The walk needs no heap and no allocation; on the benchmark it measured two to
//!   four times faster than rstar's best-first `nearest_neighbor_iter`. Fences of sites the
//!   filter rejects are stepped over; after [`SKIP_BUDGET`] of them the walk gives up on the
//!   tree and evaluates the allowed sites directly, which bounds the cost for an employee
//!   whose few sites are far away to one filter call per site.
//! * [`GeofenceIndex::locate_sites`]: for an explicit site list. A short list (the usual
//!   employee, at a few stores) is evaluated directly without touching the tree: box
//!   distances for its fences, the nearest box's fence first, then only fences whose box is
//!   within the best distance. A long list runs the tree walk with a bitset filter.
//! * [`GeofenceIndex::locate_linear`]: every allowed fence, exactly. The reference and the
//!   benchmark baseline.
//!
//! Since every path evaluates each fence that could win with the same function, and the
//! reduction (minimum, lower site index on ties) does not depend on order, all paths return
//! identical [`Location`]s; the property tests check this.

use std::ops::ControlFlow;

use rstar::{AABB, ParentNode, RStarInsertionStrategy, RTree, RTreeNode, RTreeObject, RTreeParams};

use super::ellipsoid::Frame;
use super::fence::{FenceSet, box_distance2};
use super::{Location, Presence, SiteDistance, presence};
use crate::policy::{Policy, PresenceRule, SiteIdx};

/// Fences of rejected sites the tree walk steps over before it evaluates the allowed sites
/// directly instead.
pub(crate) const SKIP_BUDGET: usize = 64;
/// Site lists whose sites have at most this many fences in all are evaluated directly.
const DIRECT_MAX_FENCES: usize = 48;

/// Target children per R-tree node.
const NODE_SIZE: usize = 6;
/// The walk's buffer for one node's children. rstar's bulk loading splits each of the three
/// axes into `ceil(clusters^(1/3))` slabs, so a node can hold up to 8 children with a node
/// size of 6; the buffer leaves room, and a node with more is still searched correctly.
const MAX_CHILDREN: usize = 16;

/// R-tree shape: rstar's defaults, spelled out because the walk's buffer depends on them.
#[derive(Debug, Clone, Copy)]
struct Params;

impl RTreeParams for Params {
    const MIN_SIZE: usize = 3;
    const MAX_SIZE: usize = NODE_SIZE;
    const REINSERTION_COUNT: usize = 1;
    type DefaultInsertionStrategy = RStarInsertionStrategy;
}

/// A fence's ECEF box in the R-tree.
#[derive(Debug, Clone)]
struct FenceBox {
    envelope: AABB<[f64; 3]>,
    fence: usize,
}

impl RTreeObject for FenceBox {
    type Envelope = AABB<[f64; 3]>;

    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

/// A policy's fences, prepared for fast, accuracy-aware location checks. Build it once per
/// policy version with [`GeofenceIndex::new`]; it is immutable, `Send` and `Sync`.
#[derive(Debug, Clone)]
pub struct GeofenceIndex {
    set: FenceSet,
    tree: RTree<FenceBox, Params>,
}

// The index is shared between threads (a server answers many devices from one policy);
// this fails to compile if it ever stops being `Send + Sync`.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<GeofenceIndex>();
};

/// The running minimum of the distance to a fence grown by its site's tolerance (the signed
/// distance less the tolerance), with the signed distance to the fence itself and the site;
/// ties go to the lower site index.
#[derive(Debug, Clone, Copy)]
struct Best {
    found: Option<(f64, f64, SiteIdx)>,
    /// The largest tolerance of any site: a fence whose box is `b` away is at least
    /// `b − max_tolerance` from its grown outline.
    max_tolerance: f64,
}

impl Best {
    fn new(max_tolerance: f64) -> Best {
        Best {
            found: None,
            max_tolerance,
        }
    }

    #[inline]
    fn offer(&mut self, distance: f64, tolerance: f64, site: SiteIdx) {
        let key = distance - tolerance;
        match self.found {
            Some((k, _, s)) if k < key || (k == key && s <= site) => {}
            _ => self.found = Some((key, distance, site)),
        }
    }

    /// Whether a fence whose box is at squared distance `box_d2` can be skipped: its signed
    /// distance then exceeds the box distance, so its grown distance exceeds the box
    /// distance less the largest tolerance, which exceeds the best so far.
    #[inline]
    fn excludes(&self, box_d2: f64) -> bool {
        match self.found {
            None => false,
            Some((k, _, _)) => {
                let reach = k + self.max_tolerance;
                if reach < 0.0 {
                    box_d2 > 0.0
                } else {
                    box_d2 > reach * reach
                }
            }
        }
    }

    fn into_location(self, accuracy_m: f64) -> Location {
        // A negative or NaN accuracy proves nothing: it is treated as an infinite circle,
        // which can be neither wholly inside a fence nor clear of it.
        let a = if accuracy_m >= 0.0 {
            accuracy_m
        } else {
            f64::INFINITY
        };
        match self.found {
            // No allowed fence at all: the circle touches none of them.
            None => Location {
                presence: Presence::Outside,
                nearest: None,
            },
            Some((key, d, site)) => Location {
                presence: if key <= -a {
                    Presence::Inside
                } else if key > a {
                    Presence::Outside
                } else {
                    Presence::Uncertain
                },
                nearest: Some(SiteDistance {
                    site,
                    signed_distance_m: d,
                }),
            },
        }
    }
}

/// The answer for a fix that is not a point on Earth.
fn invalid_fix() -> Location {
    Location {
        presence: Presence::Uncertain,
        nearest: None,
    }
}

/// One branch-and-bound descent of the R-tree for [`GeofenceIndex::locate`].
struct Walk<'a, F> {
    index: &'a GeofenceIndex,
    x: [f64; 3],
    frame: &'a Frame,
    allowed: &'a F,
    best: Best,
    /// Fences of rejected sites seen so far.
    skipped: usize,
}

impl<F: Fn(SiteIdx) -> bool> Walk<'_, F> {
    /// Visits a node's children nearest box first, skipping every child whose box is
    /// farther than the best distance found. Breaks when the skip budget runs out.
    fn node(&mut self, node: &ParentNode<FenceBox>) -> ControlFlow<()> {
        let children = node.children();
        let mut order = [(0.0, 0usize); MAX_CHILDREN];
        let n = children.len().min(MAX_CHILDREN);
        for (i, child) in children[..n].iter().enumerate() {
            let d2 = match child {
                RTreeNode::Parent(p) => envelope_distance2(&p.envelope(), &self.x),
                RTreeNode::Leaf(b) => envelope_distance2(&b.envelope, &self.x),
            };
            // Insertion sort: at most MAX_CHILDREN entries.
            let mut j = i;
            while j > 0 && order[j - 1].0 > d2 {
                order[j] = order[j - 1];
                j -= 1;
            }
            order[j] = (d2, i);
        }
        for &(d2, i) in &order[..n] {
            if self.best.excludes(d2) {
                break;
            }
            match &children[i] {
                RTreeNode::Parent(p) => self.node(p)?,
                RTreeNode::Leaf(b) => self.leaf(b.fence)?,
            }
        }
        // Should a node ever have more children than the buffer, the rest are still
        // searched, unsorted.
        for child in &children[n..] {
            match child {
                RTreeNode::Parent(p) => {
                    if !self
                        .best
                        .excludes(envelope_distance2(&p.envelope(), &self.x))
                    {
                        self.node(p)?
                    }
                }
                RTreeNode::Leaf(b) => {
                    if !self.best.excludes(envelope_distance2(&b.envelope, &self.x)) {
                        self.leaf(b.fence)?
                    }
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn leaf(&mut self, fence: usize) -> ControlFlow<()> {
        let set = &self.index.set;
        let site = set.fences[fence].site;
        if (self.allowed)(site) {
            self.best.offer(
                set.signed_distance(fence, self.frame),
                set.site_tolerance[site],
                site,
            );
        } else {
            self.skipped += 1;
            if self.skipped > SKIP_BUDGET {
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }
}

#[inline(always)]
fn envelope_distance2(b: &AABB<[f64; 3]>, x: &[f64; 3]) -> f64 {
    box_distance2(&b.lower(), &b.upper(), x)
}

impl GeofenceIndex {
    /// Prepares every fence of the policy: densified, converted to ECEF, boxed and indexed.
    pub fn new(policy: &Policy) -> GeofenceIndex {
        let grow_areas = matches!(policy.thresholds.presence, PresenceRule::Probability { .. });
        let set = FenceSet::new(
            policy
                .sites
                .iter()
                .map(|s| (s.fences.as_slice(), s.tolerance_m)),
            grow_areas,
        );
        let boxes = set
            .fences
            .iter()
            .enumerate()
            .map(|(fence, f)| FenceBox {
                envelope: AABB::from_corners(f.lo, f.hi),
                fence,
            })
            .collect();
        GeofenceIndex {
            set,
            tree: RTree::bulk_load_with_params(boxes),
        }
    }

    /// Number of sites, as in the policy.
    pub fn site_count(&self) -> usize {
        self.set.site_count()
    }

    /// Number of fences over all sites.
    pub fn fence_count(&self) -> usize {
        self.set.fences.len()
    }

    /// Accuracy-aware three-way verdict over the sites `allowed` accepts.
    ///
    /// `lon`/`lat` are WGS-84 degrees, `accuracy_m` the 68 % radius in metres (0 is allowed).
    /// A non-finite fix or a latitude beyond ±90° gives `Uncertain` with no nearest site; a
    /// negative or NaN accuracy gives `Uncertain` (or `Outside` when no site is allowed).
    pub fn locate(
        &self,
        lon: f64,
        lat: f64,
        accuracy_m: f64,
        allowed: impl Fn(SiteIdx) -> bool,
    ) -> Location {
        let Some(frame) = Frame::new(lon, lat) else {
            return invalid_fix();
        };
        let mut walk = Walk {
            index: self,
            x: frame.x,
            frame: &frame,
            allowed: &allowed,
            best: Best::new(self.set.max_tolerance),
            skipped: 0,
        };
        if walk.node(self.tree.root()).is_break() {
            // Too many rejected sites near the fix: evaluate the allowed ones directly.
            let mut best = walk.best;
            let sites: Vec<SiteIdx> = (0..self.set.site_count()).filter(|&s| allowed(s)).collect();
            let fences = sites.iter().flat_map(|&s| self.set.fences_of(s));
            self.search_fences(&frame, fences, &mut best);
            return best.into_location(accuracy_m);
        }
        walk.best.into_location(accuracy_m)
    }

    /// The same verdict as [`GeofenceIndex::locate`] over an explicit list of allowed sites
    /// (an employee's `sites`). Short lists are checked directly, without the tree, so an
    /// employee allowed at a handful of sites costs a handful of fence checks however many
    /// sites the policy has. A long list runs the tree walk, after one pass over the list to
    /// build a bitset. Indexes beyond the policy's sites are ignored; duplicates are
    /// harmless.
    pub fn locate_sites(&self, lon: f64, lat: f64, accuracy_m: f64, sites: &[SiteIdx]) -> Location {
        let Some(frame) = Frame::new(lon, lat) else {
            return invalid_fix();
        };
        let n = self.set.site_count();
        let valid = || sites.iter().copied().filter(move |&s| s < n);
        let fence_total: usize = valid().map(|s| self.set.fences_of(s).len()).sum();
        if fence_total <= DIRECT_MAX_FENCES {
            let mut best = Best::new(self.set.max_tolerance);
            self.search_fences(
                &frame,
                valid().flat_map(|s| self.set.fences_of(s)),
                &mut best,
            );
            return best.into_location(accuracy_m);
        }
        let mut bits = vec![0u64; n.div_ceil(64)];
        for s in valid() {
            bits[s / 64] |= 1 << (s % 64);
        }
        self.locate(lon, lat, accuracy_m, |s| {
            bits[s / 64] & (1 << (s % 64)) != 0
        })
    }

    /// The probability, rounded to four decimals, that a fix at `lon`/`lat` with 68 %
    /// accuracy radius `accuracy_m` is inside `site`'s fences grown by the site's tolerance
    /// (see `presence.rs` for the error model and the integral), given the fix's signed
    /// distance to the site's fences as [`Location::nearest`] reported it. A site with
    /// several fences takes the highest of their probabilities (a lower bound on being inside
    /// any of them where grown fences overlap). `None` when the index was built for a policy
    /// under the accuracy-circle rule, or the fix is not a point on Earth.
    pub fn presence_probability(
        &self,
        lon: f64,
        lat: f64,
        accuracy_m: f64,
        nearest: &SiteDistance,
    ) -> Option<f64> {
        if !self.set.has_areas() || nearest.site >= self.set.site_count() {
            return None;
        }
        let frame = Frame::new(lon, lat)?;
        let sigma = presence::sigma_from_accuracy(accuracy_m);
        let tolerance = self.set.site_tolerance[nearest.site];
        if let Some(settled) =
            presence::settled_by_distance(nearest.signed_distance_m, tolerance, sigma)
        {
            return Some(settled);
        }
        let best = self
            .set
            .fences_of(nearest.site)
            .map(|f| self.set.area_probability(f, &frame, sigma))
            .fold(0.0, f64::max);
        Some(presence::round_probability(best))
    }

    /// Same answer as [`GeofenceIndex::locate`] by computing the exact distance to every
    /// fence of every allowed site: the reference and the benchmark baseline.
    pub fn locate_linear(
        &self,
        lon: f64,
        lat: f64,
        accuracy_m: f64,
        allowed: impl Fn(SiteIdx) -> bool,
    ) -> Location {
        let Some(frame) = Frame::new(lon, lat) else {
            return invalid_fix();
        };
        let mut best = Best::new(self.set.max_tolerance);
        for site in (0..self.set.site_count()).filter(|&s| allowed(s)) {
            for f in self.set.fences_of(site) {
                best.offer(
                    self.set.signed_distance(f, &frame),
                    self.set.site_tolerance[site],
                    site,
                );
            }
        }
        best.into_location(accuracy_m)
    }

    /// Direct search over a list of fences: the nearest box's fence first, which usually
    /// settles the answer, then every fence whose box is not excluded by the best so far.
    fn search_fences(
        &self,
        frame: &Frame,
        fences: impl Iterator<Item = usize> + Clone,
        best: &mut Best,
    ) {
        let nearest = fences
            .clone()
            .map(|f| (self.set.box_distance2(f, &frame.x), f))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        let Some((_, first)) = nearest else {
            return;
        };
        let offer = |best: &mut Best, f: usize| {
            let site = self.set.fences[f].site;
            best.offer(
                self.set.signed_distance(f, frame),
                self.set.site_tolerance[site],
                site,
            );
        };
        offer(best, first);
        for f in fences {
            if f != first && !best.excludes(self.set.box_distance2(f, &frame.x)) {
                offer(best, f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geofence::tests::{circle, policy};

    fn max_children(node: &ParentNode<FenceBox>) -> usize {
        node.children()
            .iter()
            .map(|c| match c {
                RTreeNode::Parent(p) => max_children(p),
                RTreeNode::Leaf(_) => 0,
            })
            .fold(node.children().len(), usize::max)
    }

    #[test]
    fn bulk_loaded_nodes_fit_the_walk_buffer() {
        for n in [1, 7, 50, 300, 2_000, 12_345] {
            let sites = (0..n)
                .map(|i| {
                    let (lon, lat) = (
                        113.0 + (i % 97) as f64 * 0.013,
                        22.1 + (i / 97) as f64 * 0.009,
                    );
                    vec![circle(lon, lat, 50.0)]
                })
                .collect();
            let index = GeofenceIndex::new(&policy(sites));
            let widest = max_children(index.tree.root());
            assert!(
                widest <= MAX_CHILDREN,
                "{n} fences: a node with {widest} children"
            );
        }
    }
}
