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
//! - A candidate the regex cut (the digits go on after it) only offers starts whose every reading
//!   fits inside it ([`Groups::safe_starts`]); the search resumes at the first start left out, so
//!   no reading straddles the cut unseen. Each detector's regex matches, from any position where
//!   one of its readings starts, at least as far as that reading goes.

use super::{boundary, Verdict};

/// Groups kept per candidate.
pub(crate) const MAX_GROUPS: usize = 64;

/// One group of digits, as offsets from the candidate start (candidates are short: see
/// [`MAX_SPAN`]), so a whole candidate's groups fit in a few hundred bytes on the stack.
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

/// Candidates longer than this are looked at in their first `MAX_SPAN` bytes (the detectors'
/// regexes bound their candidates below it).
pub(crate) const MAX_SPAN: usize = 255;

#[derive(Clone, Copy, Default)]
struct Packed {
    lead: u8,
    start: u8,
    end: u8,
    trail: u8,
    flags: u8,
}

/// The groups of a candidate.
pub(crate) struct Groups {
    base: usize,
    g: [Packed; MAX_GROUPS],
    pub(crate) n: usize,
}

impl Groups {
    /// Splits `hay[s..e]` into digit groups; `+`, `(` and `)` attach to the group they touch.
    pub(crate) fn parse(hay: &[u8], s: usize, e: usize) -> Groups {
        let e = e.min(s + MAX_SPAN).min(hay.len());
        let mut gs = Groups {
            base: s,
            g: [Packed::default(); MAX_GROUPS],
            n: 0,
        };
        let span = hay.get(s..e).unwrap_or_default();
        let mut i = 0;
        while gs.n < MAX_GROUPS {
            // the next run of digits, as offsets in `span`
            let Some(p) = span[i..].iter().position(u8::is_ascii_digit) else {
                break;
            };
            let start = i + p;
            let end = start
                + span[start..]
                    .iter()
                    .position(|b| !b.is_ascii_digit())
                    .unwrap_or(span.len() - start);
            i = end;
            let mut lead = start;
            let mut flags = 0u8;
            if lead > 0 && span[lead - 1] == b'(' {
                lead -= 1;
                flags |= 1;
            }
            if lead > 0 && span[lead - 1] == b'+' {
                lead -= 1;
                flags |= 2;
            }
            let trail = if flags & 1 != 0 && span.get(end) == Some(&b')') {
                end + 1
            } else {
                end
            };
            // offsets fit: everything lies within MAX_SPAN of `s`
            gs.g[gs.n] = Packed {
                lead: lead as u8,
                start: start as u8,
                end: end as u8,
                trail: trail as u8,
                flags,
            };
            gs.n += 1;
        }
        gs
    }

    /// Group `k` (absolute positions).
    #[inline]
    pub(crate) fn get(&self, k: usize) -> Group {
        let p = self.g[k];
        let b = self.base;
        Group {
            lead: b + usize::from(p.lead),
            start: b + usize::from(p.start),
            end: b + usize::from(p.end),
            trail: b + usize::from(p.trail),
            paren: p.flags & 1 != 0,
            plus: p.flags & 2 != 0,
        }
    }

    /// Groups `i..=j`.
    pub(crate) fn range(&self, i: usize, j: usize) -> impl Iterator<Item = Group> + '_ {
        (i..=j).map(|k| self.get(k))
    }

    /// The bytes between group `k` and group `k + 1`.
    pub(crate) fn sep<'a>(&self, hay: &'a [u8], k: usize) -> &'a [u8] {
        let a = self.get(k).trail;
        let b = self.get(k + 1).lead.max(a);
        &hay[a..b]
    }

    /// When the regex stopped inside a longer run (`cut`), the groups that may start a reading
    /// (every reading of at most `max_read` bytes from them fits before `e`), and the lead of the
    /// first group left out; otherwise every group. The first group always may: the regex
    /// matched as far as any reading from there can go (each detector's regex holds its longest
    /// reading).
    pub(crate) fn safe_starts(&self, e: usize, cut: bool, max_read: usize) -> (usize, Option<usize>) {
        if !cut {
            return (self.n, None);
        }
        let k = (1..self.n).find(|&k| self.get(k).lead + max_read > e).unwrap_or(self.n);
        (k, (k < self.n).then(|| self.get(k).lead))
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
/// `start_ok(i)` says whether a reading may start at group `i` at all (its neighbour before), and
/// `accept(i, j)` whether groups `i..=j` are a value (format, checksum, the neighbour after);
/// readings longer than `max_read` bytes are not offered. The span starts at the leftmost accepted reading and grows by every accepted reading
/// that starts inside it. `resume` is where the rule searches next when the starts were limited by
/// a cut (see [`Groups::safe_starts`]).
pub(crate) fn first_span(
    gs: &Groups,
    starts: usize,
    resume: Option<usize>,
    e: usize,
    max_read: usize,
    start_ok: impl Fn(usize) -> bool,
    mut accept: impl FnMut(usize, usize) -> bool,
) -> Verdict {
    let mut span: Option<(usize, usize)> = None;
    // where the last group ends: once a span reaches it, no later reading can grow the span
    let end_of_last = gs.n.checked_sub(1).map_or(0, |k| gs.get(k).trail);
    for i in 0..starts {
        let lead = gs.get(i).lead;
        if let Some((_, b)) = span {
            if lead >= b || b >= end_of_last {
                break;
            }
        }
        if !start_ok(i) {
            continue;
        }
        // the last group a reading of at most `max_read` bytes from here can end at
        let last = (i..gs.n).take_while(|&j| gs.get(j).trail - lead <= max_read).last();
        let Some(last) = last else { continue };
        // once a span is open, only readings that reach past its end can change it
        let lo = match span {
            Some((_, b)) => (i..=last).find(|&j| gs.get(j).trail > b).unwrap_or(last + 1),
            None => i,
        };
        for j in (lo..=last).rev() {
            if accept(i, j) {
                let t = gs.get(j).trail;
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
