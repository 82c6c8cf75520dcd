//! The `t1578` CLI's input reader (and the portal CSV format it reads) as a library: the
//! binary uses it, and so do the fuzz targets under `fuzz/`, which feed it arbitrary (and
//! arbitrarily truncated) files.

pub mod capture;
pub mod input;
pub mod portal_csv;
pub mod staged;

/// Printable form of an untrusted string: control characters escaped, at most `max` chars.
pub fn escape(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if out.chars().count() >= max {
            out.push('…');
            break;
        }
        // Control characters could drive the terminal; bidirectional and zero-width format
        // characters could make one principal name read as another.
        if c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
        {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
