//! Wi-Fi presence: a scanned access point whose BSSID is on a site's allow-list proves the
//! device is at that site, on its own, whatever GPS says (GPS is weakest exactly where Wi-Fi is
//! strongest: indoors, in basements, between towers).
//!
//! BSSIDs are compared in the normal form `aa:bb:cc:dd:ee:ff`; [`normalize_bssid`] accepts
//! `:` or `-` separators and either case, and nothing else.

use std::collections::HashMap;

use crate::policy::{Policy, SiteIdx};

/// Maps allow-listed BSSIDs to the sites that list them.
#[derive(Debug, Clone, Default)]
pub struct WifiIndex {
    sites_by_bssid: HashMap<String, Vec<SiteIdx>>,
}

/// A scanned BSSID that matched an allowed site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WifiMatch {
    /// Index of the matching site in [`Policy::sites`].
    pub site: SiteIdx,
    /// The scanned BSSID that matched, normalised to `aa:bb:cc:dd:ee:ff`.
    pub bssid: String,
}

impl WifiIndex {
    /// Indexes the Wi-Fi allow-lists of every site in `policy`.
    pub fn new(policy: &Policy) -> WifiIndex {
        let mut sites_by_bssid: HashMap<String, Vec<SiteIdx>> = HashMap::new();
        for (idx, site) in policy.sites.iter().enumerate() {
            for bssid in &site.wifi_bssids {
                sites_by_bssid.entry(bssid.clone()).or_default().push(idx);
            }
        }
        WifiIndex { sites_by_bssid }
    }

    /// The first scanned BSSID (in scan order) on the allow-list of a site `allowed` accepts.
    /// `scanned` must already be normalised.
    pub fn find(&self, scanned: &[String], allowed: impl Fn(SiteIdx) -> bool) -> Option<WifiMatch> {
        scanned.iter().find_map(|bssid| {
            let sites = self.sites_by_bssid.get(bssid)?;
            let site = *sites.iter().find(|&&s| allowed(s))?;
            Some(WifiMatch {
                site,
                bssid: bssid.clone(),
            })
        })
    }
}

/// Normalises a BSSID to `aa:bb:cc:dd:ee:ff`, or `None` if it is not six hex pairs separated
/// consistently by `:` or `-`.
pub fn normalize_bssid(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    if bytes.len() != 17 {
        return None;
    }
    let sep = bytes[2];
    if sep != b':' && sep != b'-' {
        return None;
    }
    let mut out = String::with_capacity(17);
    for (i, &b) in bytes.iter().enumerate() {
        if i % 3 == 2 {
            if b != sep {
                return None;
            }
            out.push(':');
        } else if b.is_ascii_hexdigit() {
            out.push(b.to_ascii_lowercase() as char);
        } else {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_separators_and_case() {
        assert_eq!(
            normalize_bssid("AA-BB-CC-0D-EE-FF").as_deref(),
            Some("aa:bb:cc:0d:ee:ff")
        );
        assert_eq!(
            normalize_bssid("aa:bb:cc:0d:ee:ff").as_deref(),
            Some("aa:bb:cc:0d:ee:ff")
        );
    }

    #[test]
    fn refuses_anything_else() {
        for bad in [
            "",
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:ff:00",
            "aa:bb-cc:dd:ee:ff",
            "gg:bb:cc:dd:ee:ff",
            "aabb.ccdd.eeff.",
            "aa:bb:cc:dd:ee:f\u{e9}",
            "aa bb cc dd ee ff",
        ] {
            assert_eq!(normalize_bssid(bad), None, "{bad:?}");
        }
    }
}
