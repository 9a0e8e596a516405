//! Compiling one regex: bounded length, no empty matches, a size cap, and the set of bytes a match
//! can contain (which tells the scanner how much of a chunk's tail could still be a match).
//!
//! # Invariants
//! - `parse_with` refuses every unbounded pattern and every one longer than its `max_bytes` (user
//!   patterns: [`MAX_USER_MATCH_BYTES`]), and user patterns that can match the empty string; a regex
//!   whose NFA exceeds `NFA_SIZE_LIMIT` fails to compile instead of being built.
//! - The facts derived from the HIR err only on the safe side: every byte of every match is in
//!   `class` (a non-ASCII Unicode range adds all of `0x80..=0xFF`), every match holds a `trigger`
//!   byte, at least `min_len` bytes and `min_digits` ASCII digits (raised by `compile_rule` to the
//!   detector's own minimum, then a bound on accepted values, not on regex matches).
//! - [`Pattern::find`] (and [`Pattern::find_in`], over a range that ends a cluster run) returns
//!   the match the plain regex search from the same start would return (proptest
//!   `find_in_runs_is_the_plain_search`, and the scanner's oracle test for anchors and `run_ok`);
//!   `hold_from` never lies after the start of a match the end of the buffer could still complete.

use regex_automata::{meta, Input};
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
    pub(crate) fn union(&self, o: &ByteSet) -> ByteSet {
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
    /// The literals every match starts with, when the pattern has a small finite set of them (a
    /// key name, `AKIA`, `-----BEGIN`): a match still open at the buffer end starts where one of
    /// them starts, so only from there is the tail held back (see [`Pattern::hold_from`]).
    pub(crate) prefixes: Option<Prefixes>,
    /// Bytes of which every match holds one, at most `before` bytes after the match start and
    /// `after` bytes before its end (`key: value` rules: the `:` or `=`); when set, the regex runs
    /// only in windows around them (see [`Pattern::find`]).
    pub(crate) anchor: Option<Anchor>,
    /// The detector's necessary condition on a run of `class` bytes (see `Detector::run_ok`):
    /// a run that fails it holds no value the validator accepts and is not searched.
    pub(crate) run_ok: Option<fn(&[u8]) -> bool>,
}

/// See [`Pattern::anchor`].
#[derive(Clone)]
pub(crate) struct Anchor {
    pub(crate) bytes: (u8, u8),
    pub(crate) before: usize,
    pub(crate) after: usize,
    /// The key terms a match starts with, lower case without `_`, `-`, `.` or blanks, sorted: a
    /// match that has not reached its anchor yet starts where one of them starts.
    pub(crate) terms: Vec<Vec<u8>>,
    /// The same terms, searched from the end of a key.
    keys: crate::detect::secret_keys::KeyTerms,
    /// The first byte of each term (a set of 256 bits) and the longest term: an open key starts
    /// with one of these bytes and, normalised, is never longer than `longest`.
    first: [u64; 4],
    longest: usize,
    /// The bytes `key_before` can accept right before an anchor: a term's last letter (either
    /// case), a separator, a blank or a quote. Most anchors (the colons of a time) fail this test.
    ends: [u64; 4],
}

impl Anchor {
    /// The anchor for `key: value` rules with these normalised key terms.
    pub(crate) fn new(bytes: (u8, u8), before: usize, after: usize, mut terms: Vec<Vec<u8>>) -> Anchor {
        terms.sort();
        terms.dedup();
        let mut first = [0u64; 4];
        let mut before_set = [0u64; 4];
        let add = |set: &mut [u64; 4], b: u8| set[usize::from(b >> 6)] |= 1 << (b & 63);
        for t in &terms {
            if let Some(&b) = t.first() {
                add(&mut first, b);
            }
            if let Some(&b) = t.last() {
                add(&mut before_set, b.to_ascii_lowercase());
                add(&mut before_set, b.to_ascii_uppercase());
            }
        }
        for b in [b'_', b'-', b'.', b' ', b'\t', b'"', b'\''] {
            add(&mut before_set, b);
        }
        Anchor {
            bytes,
            before,
            after,
            keys: crate::detect::secret_keys::KeyTerms::new(&terms),
            longest: terms.iter().map(Vec::len).max().unwrap_or(0),
            first,
            ends: before_set,
            terms,
        }
    }

    /// Whether a match could hold the anchor byte at `k`: before it, after at most 16 blanks and
    /// a quote, the bytes end with a key term (letters and digits compared in lower case, `_`,
    /// `-`, `.` and blanks between them skipped). Every match has its key there, so an anchor
    /// that fails this (the colons of `12:00:00`, a URL's `https:`) holds none.
    pub(crate) fn key_before(&self, buf: &[u8], k: usize) -> bool {
        match k.checked_sub(1).map(|j| buf[j]) {
            Some(b) if self.ends[usize::from(b >> 6)] & (1 << (b & 63)) != 0 => {}
            _ => return false,
        }
        let mut i = k;
        let mut blanks = 0;
        while i > 0 && matches!(buf[i - 1], b' ' | b'\t') && blanks < 16 {
            i -= 1;
            blanks += 1;
        }
        if i > 0 && matches!(buf[i - 1], b'"' | b'\'') {
            i -= 1;
        }
        self.keys.ends_at(buf, i)
    }

    /// The first position from which `open_key` can hold at the end of `buf`, not before `lo`:
    /// a tail with more than `longest` letters and digits is never an open key, so positions
    /// before the last `longest + 1` of them need not be tried.
    fn open_key_floor(&self, buf: &[u8], lo: usize) -> usize {
        let mut n = 0;
        let mut i = buf.len();
        while i > lo {
            if buf[i - 1].is_ascii_alphanumeric() {
                n += 1;
                if n > self.longest {
                    return i;
                }
            }
            i -= 1;
        }
        lo
    }

    /// Whether `tail` (the end of the buffer) could be the start of a match that has not reached
    /// its anchor: a term, or the start of one, maybe followed by a quote and blanks.
    ///
    /// Cost: a byte-set lookup for most positions; otherwise at most `longest` letters and digits
    /// are compared (a longer key starts no term), so trying every position of the hold-back
    /// window stays linear in it.
    fn open_key(&self, tail: &[u8]) -> bool {
        let Some(&b0) = tail.first() else {
            return false;
        };
        let l0 = b0.to_ascii_lowercase();
        if !b0.is_ascii_alphanumeric() || self.first[usize::from(l0 >> 6)] & (1 << (l0 & 63)) == 0 {
            return false;
        }
        let mut norm = [0u8; 64];
        let mut n = 0;
        let mut quoted = false;
        for &b in tail {
            match b {
                b'"' | b'\'' if !quoted => quoted = true,
                b' ' | b'\t' => {}
                _ if quoted => return false,
                b'_' | b'-' | b'.' => {}
                b if b.is_ascii_alphanumeric() && n < norm.len() => {
                    if n == self.longest {
                        return false;
                    }
                    norm[n] = b.to_ascii_lowercase();
                    n += 1;
                }
                _ => return false,
            }
        }
        let t = &norm[..n];
        let i = self.terms.partition_point(|x| x.as_slice() < t);
        // a term starting with `t`, or (after a quote or blanks) exactly a term
        self.terms.get(i).is_some_and(|x| x.starts_with(t))
    }
}

/// The literal prefixes of a pattern's matches, sorted, with a searcher for them.
pub(crate) struct Prefixes {
    sorted: Vec<Vec<u8>>,
    finder: aho_corasick::AhoCorasick,
    longest: usize,
    /// The first byte of each literal (a set of 256 bits): most positions start none.
    first: [u64; 4],
}

impl Prefixes {
    fn new(hir: &Hir) -> Option<Prefixes> {
        use regex_syntax::hir::literal::{ExtractKind, Extractor};
        let seq = Extractor::new().kind(ExtractKind::Prefix).extract(hir);
        let lits = seq.literals()?;
        if lits.is_empty() || lits.iter().any(|l| l.as_bytes().is_empty()) {
            return None;
        }
        let mut sorted: Vec<Vec<u8>> = lits.iter().map(|l| l.as_bytes().to_vec()).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let longest = sorted.iter().map(Vec::len).max().unwrap_or(0);
        let finder = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(&sorted)
            .ok()?;
        let mut first = [0u64; 4];
        for l in &sorted {
            if let Some(&b) = l.first() {
                first[usize::from(b >> 6)] |= 1 << (b & 63);
            }
        }
        Some(Prefixes {
            sorted,
            finder,
            longest,
            first,
        })
    }

    /// Whether `tail` is the start of one of the literals (a literal cut by the buffer end).
    fn starts_some(&self, tail: &[u8]) -> bool {
        let Some(&b) = tail.first() else {
            return false;
        };
        if self.first[usize::from(b >> 6)] & (1 << (b & 63)) == 0 {
            return false;
        }
        let i = self.sorted.partition_point(|l| l.as_slice() < tail);
        self.sorted.get(i).is_some_and(|l| l.starts_with(tail))
    }
}

impl Pattern {
    /// Where a match of this pattern that is not complete at the end of `buf` could start, at or
    /// after `lo`, given that every match lies in a run of `class` bytes: the start of the
    /// trailing class run, moved on to the first place a literal prefix starts (whole, or cut by
    /// the end of the buffer). `buf.len()` when none can.
    #[cfg(test)]
    pub(crate) fn hold_from(&self, buf: &[u8], lo: usize) -> usize {
        let mut i = buf.len();
        while i > lo && self.class.contains(buf[i - 1]) {
            i -= 1;
        }
        self.hold_from_run(buf, i)
    }

    /// [`hold_from`](Self::hold_from) given `i`, where the trailing run of class bytes starts
    /// (not before its lower bound).
    pub(crate) fn hold_from_run(&self, buf: &[u8], i: usize) -> usize {
        let len = buf.len();
        if let Some(a) = &self.anchor {
            // an open match either holds an anchor in its last `after` bytes (and starts at most
            // `before` bytes before it) or has not reached one yet (and is a key so far)
            let lo = i.max(len.saturating_sub(a.before + a.after + 1));
            let tail = len.saturating_sub(a.after + 1).max(lo);
            let with_anchor = memchr::memchr2(a.bytes.0, a.bytes.1, &buf[tail..])
                .map(|k| (tail + k).saturating_sub(a.before).max(lo));
            let key_lo = a.open_key_floor(buf, len.saturating_sub(a.before).max(lo));
            let open_key = (key_lo..len).find(|&p| a.open_key(&buf[p..]));
            return with_anchor.into_iter().chain(open_key).min().unwrap_or(len);
        }
        let Some(px) = &self.prefixes else {
            return i;
        };
        let whole = px.finder.find(&buf[i..]).map_or(len, |m| i + m.start());
        let cut_lo = len.saturating_sub(px.longest.saturating_sub(1)).max(i);
        let cut = (cut_lo..len).find(|&k| px.starts_some(&buf[k..])).unwrap_or(len);
        whole.min(cut)
    }

    /// The leftmost-first match starting at or after `from` in `buf`, as a search of the whole of
    /// `buf[from..]` would find it, but with the regex run only where a match can be.
    ///
    /// Every byte of a match is in `class` and every match holds a trigger byte, at least
    /// `min_len` bytes and `min_digits` digits. So a match lies inside one maximal run of class
    /// bytes that has all of these, and the regex is searched only in such runs. Within a run the
    /// answer is the same as over the whole buffer: no match crosses the byte that ends the run, and
    /// the regex sees the bytes around the run for its look-around assertions.
    ///
    /// `run`: on entry, `Some(b)` says `[from, b)` lies in a run already found to qualify (a
    /// rule resuming after a rejected candidate); on return, the end of the run the match was found
    /// in, when a byte outside `class` closes that run (so later bytes cannot change it).
    pub(crate) fn find(&self, buf: &[u8], from: usize, run: &mut Option<usize>) -> Option<regex_automata::Match> {
        if let Some(a) = &self.anchor {
            *run = None;
            return self.find_anchored(buf, from, a);
        }
        let Some(trigger) = self.trigger else {
            *run = None;
            return self.regex.search(&Input::new(buf).range(from..));
        };
        let mut i = from;
        if let Some(b) = run.take().filter(|&b| from < b && b < buf.len()) {
            if let Some(m) = self.regex.search(&Input::new(buf).range(from..b)) {
                *run = Some(b);
                return Some(m);
            }
            i = b;
        }
        while i < buf.len() {
            let t = i + trigger.find(buf.get(i..)?)?;
            let mut a = t;
            while a > i && self.class.contains(buf[a - 1]) {
                a -= 1;
            }
            let mut b = t + 1;
            while b < buf.len() && self.class.contains(buf[b]) {
                b += 1;
            }
            let span = &buf[a..b];
            if span.len() >= self.min_len
                && (self.min_digits == 0 || span.iter().filter(|x| x.is_ascii_digit()).count() >= self.min_digits)
                && self.run_ok.is_none_or(|ok| ok(span))
            {
                if let Some(m) = self.regex.search(&Input::new(buf).range(a..b)) {
                    *run = (b < buf.len()).then_some(b);
                    return Some(m);
                }
            }
            i = b;
        }
        None
    }

    /// [`Pattern::find`] for a pattern with an anchor: every match holds an anchor byte `k` and
    /// lies in `[k - before, k + after]`, so for the anchors in order the first window with a match
    /// has the leftmost match (a window without one proves no match holds its anchor); the window
    /// is then widened to every match that could start before the one found.
    fn find_anchored(&self, buf: &[u8], from: usize, a: &Anchor) -> Option<regex_automata::Match> {
        let hay = buf.get(from..)?;
        for k in memchr::memchr2_iter(a.bytes.0, a.bytes.1, hay).map(|k| from + k) {
            if !a.key_before(buf, k) {
                continue;
            }
            let lo = k.saturating_sub(a.before).max(from);
            let hi = (k + a.after + 1).min(buf.len());
            if let Some(m) = self.regex.search(&Input::new(buf).range(lo..hi)) {
                let wide = (m.start() + self.max_len).min(buf.len()).max(hi);
                return self.regex.search(&Input::new(buf).range(lo..wide));
            }
        }
        None
    }

    /// The leftmost-first match in `buf[a..b)`, where `b` ends a run of the cluster class (so no
    /// match of this pattern crosses it): the regex runs only in the runs of this pattern's own
    /// class inside, that have enough bytes and digits.
    pub(crate) fn find_in(&self, buf: &[u8], a: usize, b: usize) -> Option<regex_automata::Match> {
        let mut i = a;
        while i < b {
            while i < b && !self.class.contains(buf[i]) {
                i += 1;
            }
            let start = i;
            let mut digits = 0;
            while i < b && self.class.contains(buf[i]) {
                digits += usize::from(buf[i].is_ascii_digit());
                i += 1;
            }
            if i - start >= self.min_len.max(1)
                && digits >= self.min_digits
                && self.run_ok.is_none_or(|ok| ok(&buf[start..i]))
            {
                if let Some(m) = self.regex.search(&Input::new(buf).range(start..i)) {
                    return Some(m);
                }
            }
        }
        None
    }
}

/// Rules that are searched through *digit clusters*: maximal runs of bytes of `class` (the union
/// of their classes) that hold a digit. One pass over the bytes finds the clusters for all of them,
/// instead of one trigger search per rule: a match of such a rule holds a digit and only bytes of
/// `class`, so it lies inside one cluster.
pub(crate) struct ClusterSpec {
    pub(crate) class: ByteSet,
    /// Per rule: searched through clusters.
    pub(crate) rules: Vec<bool>,
    /// Clusters with fewer digits, or shorter, are of no use to any of these rules.
    pub(crate) min_digits: usize,
    pub(crate) min_len: usize,
}

impl ClusterSpec {
    /// Rules with a trigger, at least one digit in every match and no lower-case letters (which
    /// would make clusters as long as words) or non-ASCII bytes in their class share clusters;
    /// `None` if fewer than two do.
    pub(crate) fn new<'a>(patterns: impl Iterator<Item = &'a Pattern>) -> Option<ClusterSpec> {
        let mut class = ByteSet::default();
        let (mut min_digits, mut min_len) = (usize::MAX, usize::MAX);
        let rules: Vec<bool> = patterns
            .map(|p| {
                let ok = p.trigger.is_some()
                    && p.min_digits >= 1
                    && !p.class.bytes().any(|b| b.is_ascii_lowercase() || b >= 0x80);
                if ok {
                    class = class.union(&p.class);
                    min_digits = min_digits.min(p.min_digits);
                    min_len = min_len.min(p.min_len);
                }
                ok
            })
            .collect();
        (rules.iter().filter(|&&x| x).count() >= 2).then_some(ClusterSpec {
            class,
            rules,
            min_digits,
            min_len,
        })
    }
}

/// The first ASCII digit in `hay`.
#[inline]
pub(crate) fn find_digit(hay: &[u8]) -> Option<usize> {
    find_ranges(hay, [(b'0', 9)])
}

/// A set of bytes every match contains one of, with the fastest way to look for it.
#[derive(Clone, Copy)]
pub(crate) enum Trigger {
    One(u8),
    Two(u8, u8),
    Three(u8, u8, u8),
    /// `used` (at most [`MAX_RANGES`]) ranges of bytes (`[0-9]`, `[-0-9]`) as `(lo, span)`,
    /// searched with a vectorisable test; unused slots repeat the first range.
    Ranges {
        used: usize,
        ranges: [(u8, u8); MAX_RANGES],
    },
    Set(ByteSet),
}

impl Trigger {
    /// The trigger bytes.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        match *self {
            Trigger::One(a) => vec![a],
            Trigger::Two(a, b) => vec![a, b],
            Trigger::Three(a, b, c) => vec![a, b, c],
            Trigger::Ranges { ranges: r, .. } => {
                let mut v: Vec<u8> = r.iter().flat_map(|&(lo, span)| lo..=lo.saturating_add(span)).collect();
                v.sort_unstable();
                v.dedup();
                v
            }
            Trigger::Set(s) => s.bytes().collect(),
        }
    }

    fn from_set(s: ByteSet) -> Trigger {
        let v: Vec<u8> = s.bytes().collect();
        match v.as_slice() {
            [a] => Trigger::One(*a),
            [a, b] => Trigger::Two(*a, *b),
            [a, b, c] => Trigger::Three(*a, *b, *c),
            _ => {
                // the set as ranges of consecutive bytes
                let mut ranges: Vec<(u8, u8)> = Vec::new();
                for &b in &v {
                    match ranges.last_mut() {
                        Some((lo, span)) if usize::from(*lo) + usize::from(*span) + 1 == usize::from(b) => *span += 1,
                        _ => ranges.push((b, 0)),
                    }
                }
                match ranges.first() {
                    Some(&first) if ranges.len() <= MAX_RANGES => {
                        let mut r = [first; MAX_RANGES];
                        r[..ranges.len()].copy_from_slice(&ranges);
                        Trigger::Ranges {
                            used: ranges.len(),
                            ranges: r,
                        }
                    }
                    _ => Trigger::Set(s),
                }
            }
        }
    }

    /// The first trigger byte in `hay`.
    #[inline]
    pub(crate) fn find(&self, hay: &[u8]) -> Option<usize> {
        match *self {
            Trigger::One(a) => memchr::memchr(a, hay),
            Trigger::Two(a, b) => memchr::memchr2(a, b, hay),
            Trigger::Three(a, b, c) => memchr::memchr3(a, b, c, hay),
            // test only the ranges used, rounded up (the slots past them repeat the first range)
            Trigger::Ranges { used, ranges: r } => match used {
                1 => find_ranges(hay, [r[0]]),
                2 => find_ranges(hay, [r[0], r[1]]),
                3 | 4 => find_ranges(hay, [r[0], r[1], r[2], r[3]]),
                _ => find_ranges(hay, r),
            },
            Trigger::Set(s) => hay.iter().position(|&b| s.contains(b)),
        }
    }
}

/// Ranges a [`Trigger::Ranges`] holds at most.
pub(crate) const MAX_RANGES: usize = 8;

/// The first byte of `hay` in one of `ranges` (`(lo, span)`: `lo..=lo + span`). Blocks of 32 bytes
/// are tested without branches (the compiler vectorises the test, SSE2/AVX2 natively and simd128
/// in wasm), then the block that has one is searched.
#[inline]
fn find_ranges<const N: usize>(hay: &[u8], ranges: [(u8, u8); N]) -> Option<usize> {
    const BLOCK: usize = 32;
    let hit = |b: u8| {
        ranges
            .iter()
            .fold(false, |acc, &(lo, span)| acc | (b.wrapping_sub(lo) <= span))
    };
    let mut blocks = hay.chunks_exact(BLOCK);
    let mut at = 0;
    for block in &mut blocks {
        if block.iter().fold(false, |acc, &b| acc | hit(b)) {
            return block.iter().position(|&b| hit(b)).map(|i| at + i);
        }
        at += BLOCK;
    }
    blocks.remainder().iter().position(|&b| hit(b)).map(|i| at + i)
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
        // digits are everywhere in API bodies (ids, timestamps, prices): a digit trigger is a poor one
        b'0'..=b'9' => 200,
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

/// The values a rule takes from `hay` as a whole (what the scanner takes at `Poll::End`): the
/// regex searched on from where each verdict says, the validator's accepted ranges in order.
/// Test-only: checks a `compile_searching` pair (short regex and reading validator) against the
/// whole pattern and its own validator.
#[cfg(test)]
pub(crate) fn values_of(regex: &meta::Regex, v: crate::detect::Validate, hay: &[u8]) -> Vec<(usize, usize)> {
    use crate::detect::Verdict;
    let (mut pos, mut out) = (0, Vec::new());
    while pos <= hay.len() {
        let Some(m) = regex.search(&Input::new(hay).range(pos..)) else {
            break;
        };
        pos = match v(hay, m.start(), m.end()) {
            Verdict::Accept(a, b) => {
                out.push((a, b));
                b
            }
            Verdict::AcceptThen(a, b, r) => {
                out.push((a, b));
                r
            }
            Verdict::Reject { resume } => resume,
        }
        .max(m.start() + 1);
    }
    out
}

/// Builds the regex of `pattern` as the engine builds one (test-only).
#[cfg(test)]
pub(crate) fn regex_of(pattern: &str) -> meta::Regex {
    meta::Builder::new()
        .configure(meta_config())
        .build_from_hir(&parse_with(pattern, false, usize::MAX, false).expect("parses"))
        .expect("compiles")
}

/// Compiles HIR into a pattern.
pub(crate) fn compile(hir: &Hir) -> Result<Pattern, String> {
    compile_searching(hir, hir)
}

/// Compiles a pattern whose facts (length bounds, class, trigger, prefixes, digits) are those of
/// `hir` but whose regex is `search`: a short pattern every match of `hir` starts with a match of
/// (at the same start), for patterns whose long bounded repetitions would make an NFA of megabytes
/// (`{8,8192}` is 8,192 copies of its class). The rule's validator then reads the rest of the value
/// from the buffer: since the facts are the whole pattern's, a search match is final only when
/// everything the whole pattern could match from its start is in the buffer.
pub(crate) fn compile_searching(hir: &Hir, search: &Hir) -> Result<Pattern, String> {
    let props = hir.properties();
    let regex = meta::Builder::new()
        .configure(meta_config())
        .build_from_hir(search)
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
        prefixes: Prefixes::new(hir),
        anchor: None,
        run_ok: None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every built-in detector's regex, and user patterns with look-around and alternation.
    fn patterns() -> Vec<Pattern> {
        let mut pats: Vec<String> = crate::detect::DETECTORS.iter().map(|d| d.pattern.to_string()).collect();
        pats.extend(
            [
                r"\bORD-[0-9]{4}-[0-9]{6}\b",
                r"(?m)^id=[0-9]{3,8}$",
                r"[0-9]{2,4}|x[0-9]{1,2}",
                r"(?:ab|a)[0-9]{0,3}c",
            ]
            .map(String::from),
        );
        pats.iter()
            .map(|p| compile(&parse_with(p, false, 1 << 16, false).unwrap_or_else(|e| panic!("{p}: {e}"))))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Detector examples, near misses and single bytes, in any order.
    fn hay() -> impl Strategy<Value = Vec<u8>> {
        let mut pieces: Vec<Vec<u8>> = crate::detect::DETECTORS
            .iter()
            .map(|d| d.example.replace("\\n", "\n").into_bytes())
            .collect();
        for p in [
            "ORD-2024-000123",
            "id=123",
            "id=12345678",
            "x12",
            "ab1c",
            "abc",
            "4111 1111 1111 1112",
            "2024-11-30T12:00:00Z",
            "v1.2.3.4",
            "+44 20 7946 0958",
            "a@b.co",
        ] {
            pieces.push(p.as_bytes().to_vec());
        }
        for &b in b"0123456789 -.:()+@_aAxyz=\n\"" {
            pieces.push(vec![b]);
        }
        proptest::collection::vec(proptest::sample::select(pieces), 0..24).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn find_in_runs_is_the_plain_search(h in hay(), from_seed in 0usize..200, resume in any::<bool>()) {
            for p in patterns() {
                let from = from_seed.min(h.len());
                let plain = p.regex.search(&Input::new(&h[..]).range(from..)).map(|m| (m.start(), m.end()));
                let mut run = None;
                let got = p.find(&h, from, &mut run).map(|m| (m.start(), m.end()));
                prop_assert_eq!(got, plain);
                // resuming inside the run the match was found in gives the plain answer too
                if let (true, Some((s, _)), Some(b)) = (resume, got, run) {
                    let from2 = s + 1;
                    let plain2 = p.regex.search(&Input::new(&h[..]).range(from2..)).map(|m| (m.start(), m.end()));
                    let mut run2 = Some(b);
                    let got2 = p.find(&h, from2, &mut run2).map(|m| (m.start(), m.end()));
                    prop_assert_eq!(got2, plain2);
                }
            }
        }
    }
}
