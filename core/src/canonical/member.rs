//! Finding one top-level member in canonical JSON text, so that a signed item written out
//! once can yield both forms that are signed and hashed: the whole item, and the item less its
//! `sig` member (a canonical object less one member is the canonical object of the rest).

use std::ops::Range;

/// The byte range of the top-level member `name` of the canonical JSON object `text`, with
/// the comma that separates it from its neighbour (the one before it, or the one after it if
/// it is the first member), so that cutting the range out leaves the canonical object of the
/// other members. `None` if `text` is not an object or has no such top-level member; members
/// of the same name in nested objects and text inside strings are skipped.
///
/// `text` must be canonical (no whitespace between tokens), as the writer makes it; this
/// reads structure only and checks nothing else.
pub(crate) fn top_level_member(text: &[u8], name: &str) -> Option<Range<usize>> {
    if text.first() != Some(&b'{') {
        return None;
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    // Where the current top-level member starts (after `{` or `,`), and whether the member
    // before it ended with a comma at that position.
    let mut member_start = 1usize;
    let mut found: Option<usize> = None;
    for (i, &b) in text.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => {
                if depth == 1 && i == member_start && found.is_none() {
                    let key = text.get(i + 1..i + 1 + name.len())?;
                    if key == name.as_bytes() && text.get(i + 1 + name.len()) == Some(&b'"') {
                        found = Some(i);
                    }
                }
                in_string = true;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    let start = found?;
                    // The last member: take the comma before it, if any.
                    return Some(if start > 1 { start - 1..i } else { start..i });
                }
            }
            b',' if depth == 1 => {
                if let Some(start) = found {
                    // Not the last member: take the comma after it if it is the first, else
                    // the comma before it.
                    return Some(if start > 1 {
                        start - 1..i
                    } else {
                        start..i + 1
                    });
                }
                member_start = i + 1;
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::top_level_member;

    fn cut(text: &str, name: &str) -> Option<String> {
        let range = top_level_member(text.as_bytes(), name)?;
        Some([&text[..range.start], &text[range.end..]].concat())
    }

    #[test]
    fn cuts_the_member_wherever_it_stands() {
        assert_eq!(
            cut(r#"{"a":1,"sig":"x","z":2}"#, "sig").unwrap(),
            r#"{"a":1,"z":2}"#
        );
        assert_eq!(cut(r#"{"sig":"x","z":2}"#, "sig").unwrap(), r#"{"z":2}"#);
        assert_eq!(cut(r#"{"a":1,"sig":"x"}"#, "sig").unwrap(), r#"{"a":1}"#);
        assert_eq!(cut(r#"{"sig":"x"}"#, "sig").unwrap(), "{}");
        assert_eq!(
            cut(r#"{"a":[1,{"b":2}],"sig":{"c":[3]}}"#, "sig").unwrap(),
            r#"{"a":[1,{"b":2}]}"#
        );
    }

    #[test]
    fn skips_nested_members_strings_and_longer_names() {
        // A nested `sig`, a string holding `"sig":` (escaped quotes), and `sigma`.
        let text = r#"{"a":{"sig":"n"},"b":"\",\"sig\":\"","sigma":1,"sig":"top","t":[{"sig":2}]}"#;
        assert_eq!(
            cut(text, "sig").unwrap(),
            r#"{"a":{"sig":"n"},"b":"\",\"sig\":\"","sigma":1,"t":[{"sig":2}]}"#
        );
    }

    #[test]
    fn none_without_the_member_or_an_object() {
        assert_eq!(cut(r#"{"a":{"sig":1}}"#, "sig"), None);
        assert_eq!(cut(r#"["sig"]"#, "sig"), None);
        assert_eq!(cut("", "sig"), None);
        assert_eq!(cut(r#"{"sig":1"#, "sig"), None);
        assert_eq!(cut("}}", "sig"), None);
    }
}
