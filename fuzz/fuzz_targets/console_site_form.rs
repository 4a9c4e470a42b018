//! The console's site form (`POST /console/sites/{site_id}`, URL-encoded fields) over the
//! example policy's first site, then the core's validation of the policy with the edited
//! site, as the console does before saving a draft. Contract: no panic; a site the core
//! accepts, shown again as a form and saved unchanged, is the same site.
#![no_main]

use daka_core::Policy;
use daka_fuzz::policy_doc;
use daka_server::console::policy::{read_site_form, resave_site_form};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let doc = policy_doc();
    let base = &doc["sites"][0];
    let Ok(site) = read_site_form(base, data) else {
        return;
    };
    let mut edited = doc.clone();
    edited["sites"][0] = site.clone();
    if Policy::from_json(&edited.to_string()).is_err() {
        return;
    }
    let again = resave_site_form(&site)
        .unwrap_or_else(|fields| panic!("a valid site's own form is refused: {fields:?}"));
    assert_eq!(again, site, "re-saving the form changed the site");
});
