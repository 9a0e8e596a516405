//! Simple JSON paths for field rules: `$.user.email`, `$.items[*].card`, `$['odd key'][0]`, `$.*`.
//!
//! # Invariants
//! - A parsed path has at least one segment (the root itself is refused) and starts at `$`; every
//!   other shape is an error that says what is wrong and shows an example.
//! - A key after `.` runs to the next `.` or `[` and is taken literally (`*` alone means any key);
//!   a bracket holds `*`, a `u32` index, or a key in single or double quotes that cannot contain
//!   `]`. Keys are compared as raw bytes, exactly (no case folding, no unescaping).

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathSeg {
    /// An object member with this exact key.
    Key(Box<[u8]>),
    /// Any object member.
    AnyKey,
    /// An array element at this index.
    Index(u32),
    /// Any array element.
    AnyIndex,
}

/// Parses a path, or says what is wrong with it.
pub(crate) fn parse_path(p: &str) -> Result<Vec<PathSeg>, String> {
    let bad = |why: &str| format!("invalid path {p:?}: {why}; use e.g. \"$.user.email\" or \"$.items[*].card\"");
    let b = p.as_bytes();
    if b.first() != Some(&b'$') {
        return Err(bad("it must start with '$'"));
    }
    let mut i = 1;
    let mut segs = Vec::new();
    while i < b.len() {
        match b[i] {
            b'.' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j] != b'.' && b[j] != b'[' {
                    j += 1;
                }
                let name = &p[start..j];
                if name.is_empty() {
                    return Err(bad("empty member name"));
                }
                segs.push(if name == "*" {
                    PathSeg::AnyKey
                } else {
                    PathSeg::Key(name.as_bytes().into())
                });
                i = j;
            }
            b'[' => {
                let close = p[i..].find(']').map(|k| i + k).ok_or_else(|| bad("missing ']'"))?;
                let inner = &p[i + 1..close];
                let seg = if inner == "*" {
                    PathSeg::AnyIndex
                } else if let Some(q) = inner
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
                {
                    PathSeg::Key(q.as_bytes().into())
                } else if let Ok(n) = inner.parse::<u32>() {
                    PathSeg::Index(n)
                } else {
                    return Err(bad("brackets hold *, an index or a quoted key"));
                };
                segs.push(seg);
                i = close + 1;
            }
            _ => return Err(bad("expected '.' or '['")),
        }
    }
    if segs.is_empty() {
        return Err(bad("the root itself cannot be a field"));
    }
    Ok(segs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_into_segments() {
        assert_eq!(
            parse_path("$.items[*].card").unwrap(),
            vec![
                PathSeg::Key(b"items".as_slice().into()),
                PathSeg::AnyIndex,
                PathSeg::Key(b"card".as_slice().into())
            ]
        );
        assert_eq!(
            parse_path("$['a b'][2]").unwrap(),
            vec![PathSeg::Key(b"a b".as_slice().into()), PathSeg::Index(2)]
        );
        assert!(parse_path("user.email").is_err());
        assert!(parse_path("$.a[").is_err());
        assert!(parse_path("$").is_err());
    }
}
