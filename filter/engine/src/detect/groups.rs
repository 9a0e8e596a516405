//! Digit groups and their readings, shared by the detectors of grouped numbers (cards, phones).
//!
//! A candidate such as `1234 4111 1111 1111 1111` is a run of digit groups. A *reading* is a
//! contiguous range of those groups, starting where a group starts (with a `+` or `(` right before
//! it) and ending where a group ends (with its `)`). Digits that can be read two ways — one long
//! grouped number, or two values side by side — are read every way: each reading a detector
//! accepts is a value, and overlapping readings make one span. So `4111111111111111 5555555555554444`
//! is two cards, `1234 4111 1111 1111 1111` holds one, and digits no reading accepts stay as they are.
//!
//! # Invariants
//! - At most [`MAX_GROUPS`] groups per candidate: detector regexes bound their candidates far
//!   below that (a card candidate holds at most 64 digits).
//! - A candidate the regex cut at its length bound (the run goes on after it) only offers starts
//!   whose every reading fits inside it ([`Groups::safe_starts`]); the search resumes at the first
//!   start left out, so no reading straddles the cut unseen.

use super::{boundary, Verdict};

/// Groups kept per candidate.
pub(crate) const MAX_GROUPS: usize = 64;

/// One group of digits.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Group {
    /// Where a reading starting at this group starts (a `+` or `(` right before it included).
    pub(crate) lead: usize,
    /// First digit.
    pub(crate) start: usize,
    /// After the last digit.
    pub(crate) end: usize,
    /// Where a reading ending at this group ends (its closing `)` included).
    pub(crate) trail: usize,
    /// Opened by `(` (and closed by `)` when `trail > end`).
    pub(crate) paren: bool,
    /// Preceded by `+`.
    pub(crate) plus: bool,
}

impl Group {
    pub(crate) fn digits(&self) -> usize {
        self.end - self.start
    }
    /// A parenthesised group that is properly closed.
    pub(crate) fn closed(&self) -> bool {
        self.paren && self.trail == self.end + 1
    }
}

/// The groups of a candidate.
pub(crate) struct Groups {
    pub(crate) g: [Group; MAX_GROUPS],
    pub(crate) n: usize,
}

impl Groups {
    /// Splits `hay[s..e]` into digit groups; `+`, `(` and `)` attach to the group they touch.
    pub(crate) fn parse(hay: &[u8], s: usize, e: usize) -> Groups {
        let mut gs = Groups {
            g: [Group::default(); MAX_GROUPS],
            n: 0,
        };
        let mut i = s;
        while i < e && gs.n < MAX_GROUPS {
            if !hay[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let start = i;
            while i < e && hay[i].is_ascii_digit() {
                i += 1;
            }
            let mut lead = start;
            let mut paren = false;
            let mut plus = false;
            if lead > s && hay[lead - 1] == b'(' {
                lead -= 1;
                paren = true;
            }
            if lead > s && hay[lead - 1] == b'+' {
                lead -= 1;
                plus = true;
            }
            let mut trail = i;
            if paren && i < e && hay[i] == b')' {
                trail = i + 1;
            }
            gs.g[gs.n] = Group {
                lead,
                start,
                end: i,
                trail,
                paren,
                plus,
            };
            gs.n += 1;
        }
        gs
    }

    /// The bytes between group `k` and group `k + 1`.
    pub(crate) fn sep<'a>(&self, hay: &'a [u8], k: usize) -> &'a [u8] {
        let a = self.g[k].trail;
        let b = self.g[k + 1].lead.max(a);
        &hay[a..b]
    }

    /// When the regex stopped inside a longer run (`cut`), the groups that may start a reading
    /// (every reading of at most `max_read` bytes from them fits before `e`), and the lead of the
    /// first group left out; otherwise every group.
    pub(crate) fn safe_starts(&self, e: usize, cut: bool, max_read: usize) -> (usize, Option<usize>) {
        if !cut {
            return (self.n, None);
        }
        let k = (0..self.n).find(|&k| self.g[k].lead + max_read > e).unwrap_or(self.n);
        (k, (k < self.n).then(|| self.g[k].lead))
    }
}

/// Whether the regex candidate ending at `e` was cut by its length bound: the digits (or a
/// separator and a digit) go on right after it.
pub(crate) fn cut_at(hay: &[u8], e: usize, seps: &[u8]) -> bool {
    match boundary::after(hay, e) {
        Some(b) if b.is_ascii_digit() => true,
        Some(b) if seps.contains(&b) => matches!(boundary::after(hay, e + 1), Some(d) if d.is_ascii_digit()),
        _ => false,
    }
}

/// The first span of overlapping accepted readings among starts `0..starts`, as a verdict.
///
/// `accept(i, j)` says whether groups `i..=j` are a value (the caller checks format, checksum and
/// context). The span starts at the leftmost accepted reading and grows by every accepted reading
/// that starts inside it. `resume` is where the rule searches next when the starts were limited by
/// a cut (see [`Groups::safe_starts`]).
pub(crate) fn first_span(
    gs: &Groups,
    starts: usize,
    resume: Option<usize>,
    e: usize,
    mut accept: impl FnMut(usize, usize) -> bool,
) -> Verdict {
    let mut span: Option<(usize, usize)> = None;
    for i in 0..starts {
        let lead = gs.g[i].lead;
        if let Some((_, b)) = span {
            if lead >= b {
                break;
            }
        }
        for j in (i..gs.n).rev() {
            if accept(i, j) {
                let t = gs.g[j].trail;
                span = Some(match span {
                    None => (lead, t),
                    Some((a, b)) => (a, b.max(t)),
                });
                break;
            }
        }
    }
    match (span, resume) {
        (Some((a, b)), Some(r)) => Verdict::AcceptThen(a, b, r.min(b)),
        (Some((a, b)), None) => Verdict::Accept(a, b),
        (None, Some(r)) => Verdict::Reject { resume: r },
        (None, None) => Verdict::Reject { resume: e },
    }
}
