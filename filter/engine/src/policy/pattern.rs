//! Compiling one regex: bounded length, no empty matches, a size cap, and the set of bytes a match
//! can contain (which tells the scanner how much of a chunk's tail could still be a match).

use regex_automata::meta;
use regex_syntax::hir::{Class, Hir, HirKind};

/// The longest match a user pattern may have: it bounds how much a stream holds back.
pub const MAX_USER_MATCH_BYTES: usize = 4096;
/// Cap on a compiled regex (NFA) so that hostile patterns are refused, not built.
const NFA_SIZE_LIMIT: usize = 2 << 20;

/// A set of bytes.
#[derive(Clone, Copy, Default)]
pub(crate) struct ByteSet([u64; 4]);

impl ByteSet {
    #[inline]
    pub(crate) fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1u64 << (b & 63)) != 0
    }
    fn insert(&mut self, b: u8) {
        self.0[usize::from(b >> 6)] |= 1u64 << (b & 63);
    }
    fn union(&self, o: &ByteSet) -> ByteSet {
        ByteSet([
            self.0[0] | o.0[0],
            self.0[1] | o.0[1],
            self.0[2] | o.0[2],
            self.0[3] | o.0[3],
        ])
    }
    /// The members, in order.
    pub(crate) fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        (0u8..=255).filter(|&b| self.contains(b))
    }
    /// Whether the set holds `b'\n'`.
    pub(crate) fn has_newline(&self) -> bool {
        self.contains(b'\n')
    }
    fn insert_range(&mut self, lo: u8, hi: u8) {
        for b in lo..=hi {
            self.0[usize::from(b >> 6)] |= 1u64 << (b & 63);
        }
    }
}

/// A compiled, bounded regex.
pub(crate) struct Pattern {
    pub(crate) regex: meta::Regex,
    /// Longest possible match, in bytes.
    pub(crate) max_len: usize,
    /// Shortest possible match, in bytes.
    pub(crate) min_len: usize,
    /// Every byte that can occur inside a match.
    pub(crate) class: ByteSet,
    /// Bytes of which every match contains at least one (the rarest such set found), if any.
    pub(crate) trigger: Option<Trigger>,
    /// ASCII digits every match contains at least (a card needs 12): fewer in the buffer, no match.
    pub(crate) min_digits: usize,
}

/// A set of bytes every match contains one of, with the fastest way to look for it.
#[derive(Clone, Copy)]
pub(crate) enum Trigger {
    One(u8),
    Two(u8, u8),
    Three(u8, u8, u8),
    Set(ByteSet),
}

impl Trigger {
    /// The trigger bytes.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        match *self {
            Trigger::One(a) => vec![a],
            Trigger::Two(a, b) => vec![a, b],
            Trigger::Three(a, b, c) => vec![a, b, c],
            Trigger::Set(s) => s.bytes().collect(),
        }
    }

    fn from_set(s: ByteSet) -> Trigger {
        let v: Vec<u8> = s.bytes().collect();
        match v.as_slice() {
            [a] => Trigger::One(*a),
            [a, b] => Trigger::Two(*a, *b),
            [a, b, c] => Trigger::Three(*a, *b, *c),
            _ => Trigger::Set(s),
        }
    }

    /// Whether `hay` holds a trigger byte.
    #[inline]
    pub(crate) fn present(&self, hay: &[u8]) -> bool {
        match *self {
            Trigger::One(a) => memchr::memchr(a, hay).is_some(),
            Trigger::Two(a, b) => memchr::memchr2(a, b, hay).is_some(),
            Trigger::Three(a, b, c) => memchr::memchr3(a, b, c, hay).is_some(),
            Trigger::Set(s) => hay.iter().any(|&b| s.contains(b)),
        }
    }
}

/// Rough frequency of each byte in textual HTTP bodies (English text, JSON punctuation, digits),
/// used only to pick the rarest trigger set; any choice is correct, a rare one is fast.
fn frequency(b: u8) -> u32 {
    const LOWER: [u32; 26] = [
        82, 15, 28, 43, 127, 22, 20, 61, 70, 2, 8, 40, 24, 67, 75, 19, 1, 60, 63, 91, 28, 10, 24, 2, 20, 1,
    ];
    match b {
        b'a'..=b'z' => LOWER[usize::from(b - b'a')] * 10,
        b'A'..=b'Z' => LOWER[usize::from(b - b'A')] + 5,
        b'0'..=b'9' => 60,
        b' ' => 1500,
        b'"' | b',' | b':' => 150,
        b'.' | b'\n' | b'-' | b'/' => 80,
        b'{' | b'}' | b'[' | b']' | b'_' | b'=' => 40,
        b'@' => 1,
        0x80..=0xff => 20,
        _ => 10,
    }
}

fn cost(s: &ByteSet) -> u32 {
    s.bytes().map(frequency).sum()
}

/// The fewest ASCII digits any match of `hir` contains.
fn min_digits(hir: &Hir) -> usize {
    match hir.kind() {
        HirKind::Literal(lit) => lit.0.iter().filter(|b| b.is_ascii_digit()).count(),
        HirKind::Class(_) => {
            let mut s = ByteSet::default();
            collect_bytes(hir, &mut s);
            let all_digits = s.bytes().all(|b| b.is_ascii_digit());
            usize::from(all_digits && s.bytes().next().is_some())
        }
        HirKind::Repetition(r) => (r.min as usize).saturating_mul(min_digits(&r.sub)),
        HirKind::Capture(c) => min_digits(&c.sub),
        HirKind::Concat(v) => v.iter().map(min_digits).fold(0usize, usize::saturating_add),
        HirKind::Alternation(v) => v.iter().map(min_digits).min().unwrap_or(0),
        HirKind::Empty | HirKind::Look(_) => 0,
    }
}

/// A set of bytes of which every match of `hir` contains at least one, as rare as we can find.
fn required(hir: &Hir) -> Option<ByteSet> {
    match hir.kind() {
        HirKind::Literal(lit) => {
            let b = *lit.0.iter().min_by_key(|&&b| frequency(b))?;
            let mut s = ByteSet::default();
            s.insert(b);
            Some(s)
        }
        HirKind::Class(_) => {
            let mut s = ByteSet::default();
            collect_bytes(hir, &mut s);
            Some(s)
        }
        HirKind::Repetition(r) if r.min >= 1 => required(&r.sub),
        HirKind::Repetition(_) => None,
        HirKind::Capture(c) => required(&c.sub),
        HirKind::Concat(v) => v.iter().filter_map(required).min_by_key(cost),
        HirKind::Alternation(v) => {
            let mut acc = ByteSet::default();
            for h in v {
                acc = acc.union(&required(h)?);
            }
            Some(acc)
        }
        HirKind::Empty | HirKind::Look(_) => None,
    }
}

pub(crate) fn meta_config() -> meta::Config {
    meta::Config::new()
        .nfa_size_limit(Some(NFA_SIZE_LIMIT))
        .onepass_size_limit(Some(64 << 10))
        .hybrid_cache_capacity(128 << 10)
        .backtrack(false)
}

/// Parses a pattern into HIR, with the problems a user can fix spelled out.
pub(crate) fn parse(pat: &str, user: bool, max_bytes: usize) -> Result<Hir, String> {
    parse_with(pat, user, max_bytes, true)
}

/// [`parse`], optionally allowing byte classes that match invalid UTF-8 (internal patterns).
pub(crate) fn parse_with(pat: &str, user: bool, max_bytes: usize, utf8: bool) -> Result<Hir, String> {
    let hir = regex_syntax::ParserBuilder::new()
        .nest_limit(64)
        .utf8(utf8)
        .build()
        .parse(pat)
        .map_err(|e| {
            let text = e.to_string();
            let last = text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
            format!("invalid regex: {}", last.trim().trim_start_matches("error: "))
        })?;
    let props = hir.properties();
    if user && props.minimum_len() == Some(0) {
        return Err("pattern can match the empty string; require at least one character".into());
    }
    match props.maximum_len() {
        None => {
            let piece = unbounded_piece(&hir).unwrap_or_default();
            Err(format!(
                "unbounded repetition {piece:?}; bound it, e.g. \"{{1,64}}\" instead of \"+\" or \"*\", so the stream knows how much to hold back"
            ))
        }
        Some(n) if n > max_bytes => Err(format!(
            "pattern can match up to {n} bytes; at most {max_bytes} are allowed (lower its repetition bounds)"
        )),
        Some(_) => Ok(hir),
    }
}

/// Compiles HIR into a pattern.
pub(crate) fn compile(hir: &Hir) -> Result<Pattern, String> {
    let props = hir.properties();
    let regex = meta::Builder::new()
        .configure(meta_config())
        .build_from_hir(hir)
        .map_err(|e| format!("pattern is too large to compile ({e}); simplify it or lower its repetition bounds"))?;
    let mut class = ByteSet::default();
    collect_bytes(hir, &mut class);
    Ok(Pattern {
        regex,
        max_len: props.maximum_len().unwrap_or(MAX_USER_MATCH_BYTES),
        min_len: props.minimum_len().unwrap_or(0),
        class,
        trigger: required(hir).map(Trigger::from_set),
        min_digits: min_digits(hir),
    })
}

fn unbounded_piece(hir: &Hir) -> Option<String> {
    match hir.kind() {
        HirKind::Repetition(r) if r.max.is_none() => Some(hir.to_string()),
        HirKind::Repetition(r) => unbounded_piece(&r.sub),
        HirKind::Capture(c) => unbounded_piece(&c.sub),
        HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().find_map(unbounded_piece),
        _ => None,
    }
}

fn collect_bytes(hir: &Hir, set: &mut ByteSet) {
    match hir.kind() {
        HirKind::Literal(lit) => {
            for &b in lit.0.iter() {
                set.insert_range(b, b);
            }
        }
        HirKind::Class(Class::Bytes(c)) => {
            for r in c.ranges() {
                set.insert_range(r.start(), r.end());
            }
        }
        HirKind::Class(Class::Unicode(c)) => {
            for r in c.ranges() {
                let (lo, hi) = (u32::from(r.start()), u32::from(r.end()));
                if lo < 0x80 {
                    set.insert_range(lo as u8, hi.min(0x7f) as u8);
                }
                if hi >= 0x80 {
                    set.insert_range(0x80, 0xff);
                }
            }
        }
        HirKind::Repetition(r) => collect_bytes(&r.sub, set),
        HirKind::Capture(c) => collect_bytes(&c.sub, set),
        HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().for_each(|h| collect_bytes(h, set)),
        HirKind::Empty | HirKind::Look(_) => {}
    }
}
