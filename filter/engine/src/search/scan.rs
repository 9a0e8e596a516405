//! The scanner: finds rule matches in a byte stream that arrives in pieces, and decides each byte
//! exactly as it would if the whole stream had arrived at once (chunk invariance).
//!
//! # How it stays chunk-invariant
//! For each rule the scanner keeps a search position and looks for the rule's leftmost match from
//! there. A match found in the buffered bytes is *final* only when more input could not change it:
//! a byte that cannot occur in any match of the rule follows it, or the rule's longest possible match
//! already fits, or the stream (or the line) ended. A non-final match, and any trailing run of bytes
//! that could begin a match, is held back; everything before the earliest held position is decided
//! and given to the [`Sink`].
//!
//! # Overlapping values
//! Matches of different rules (and successive readings of one rule) that overlap are one value:
//! the match that starts first (the longest on a tie, then the earlier rule) opens a *span*, every
//! match that starts inside the span joins it and extends it, and the span is replaced with the
//! first match's action once every rule is known to start nothing more inside it. Each match is
//! counted under its own rule. Each rule's own sequence of matches depends only on the input (a
//! rule searches on from where its own match told it to), never on other rules or on chunking.
//! Private-key regions are the exception: the BEGIN line opens a region at once, and other
//! matches it covers keep only their uncovered rest.
//!
//! Each rule is searched with its own regex, so each keeps the regex engine's literal prefilters
//! (an email search jumps from `@` to `@`); a single union of all rules was measured 50x slower
//! (its lazy DFA thrashes on the counted repetitions). The regex runs only where a match can be:
//! inside runs of the rule's byte class that hold a trigger byte and enough bytes and digits
//! ([`Pattern::find`]), and for the digit-based rules inside the digit clusters one shared pass finds
//! (`update_clusters`, `find_in_clusters`). Both are checked against the plain search by tests.
//!
//! # Limits
//! Memory is the rules' longest match plus `lookbehind` bytes of context, whatever the stream length.
//!
//! # Invariants
//! - Finality (`is_final`): under [`Poll::Partial`] a match is taken only once `LOOK_AHEAD` (40)
//!   bytes follow it (or a newline does, for a rule whose class has no newline) and either a byte
//!   after it is outside the rule's class or its longest possible match plus `LOOK_AHEAD` fits
//!   before the buffer end; [`Poll::Line`] and [`Poll::End`] make every match final. A rule whose
//!   regex finds only the start of a value (`Detector::search`: JWTs, field rules' text forms) has
//!   the whole pattern's length bound and class, so a final match has the whole value in the
//!   buffer, and its validator reads it on from there (its accepted end may lie past the match).
//! - Hold-back: per rule, a non-final match and the tail a match could still start in (`tight`:
//!   the trailing class run within the last `max_len + LOOK_AHEAD` bytes, see `Pattern::hold_from`)
//!   are held; only bytes before the earliest held position (a candidate's start or a rule's
//!   `frontier`) reach the [`Sink`], and a `Partial` poll never cuts a UTF-8 character there.
//! - A rule's candidates come only from its own search, validator and `near` check over the input;
//!   other rules' values only trim or drop a candidate they cover (`trim_candidates`). Overlaps are
//!   resolved when emitted: leftmost start, then longest, then earlier rule; every match is counted
//!   under its own rule's label.
//! - A region (private key, secret value) opens as soon as its match is taken and is masked with
//!   `Action::apply_streaming` as bytes arrive, never buffered whole; a secret value ends at the
//!   byte `ValueEnd` finds (that byte stays), a private key after its END match or at `Poll::End`.
//! - The seed passed to `reset` is context only, never emitted; `compact` keeps at most
//!   `lookbehind` bytes before the earliest held position.

use crate::config::{Label, Ruleset};
use crate::detect::boundary::LOOK_AHEAD;
use crate::detect::secret_keys::ValueEnd;
use crate::detect::Verdict;
use crate::search::pattern::Pattern;
use regex_automata::Input;

/// Where decided bytes go.
pub(crate) trait Sink {
    /// Unchanged bytes.
    fn keep(&mut self, bytes: &[u8]);
    /// A replaced value: `original` is what matched, `replacement` what takes its place.
    fn replace(&mut self, original: &[u8], replacement: &[u8]);
    /// Bytes written so far to the output this sink appends to (where the next byte goes).
    fn written(&self) -> usize;
}

/// A sink that appends to a vector.
pub(crate) struct VecSink<'a>(pub(crate) &'a mut Vec<u8>);

impl Sink for VecSink<'_> {
    fn keep(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    fn replace(&mut self, _original: &[u8], replacement: &[u8]) {
        self.0.extend_from_slice(replacement);
    }
    fn written(&self) -> usize {
        self.0.len()
    }
}

/// How much of the buffer a poll may decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Poll {
    /// More bytes may follow: hold back what could still be part of a match.
    Partial,
    /// A line ended: no match continues past here, but a private-key region stays open.
    Line,
    /// The value or stream ended.
    End,
}

/// Counters a stream reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Values found, per label of the policy (see [`Labels`](crate::config::Labels)).
    hits: Vec<u64>,
    rules: std::ops::Range<usize>,
    fields: std::ops::Range<usize>,
    host: std::ops::Range<usize>,
    /// Times the JSON masker met malformed JSON and fell back to text rules.
    pub json_fallbacks: u64,
    /// JSON nesting limit reached (then text rules apply).
    pub depth_fallbacks: u64,
    /// Findings for the findings log (only when the policy asks for it), at most [`MAX_FINDINGS`].
    pub findings: Vec<Finding>,
    /// Findings not kept because the list was full.
    pub findings_dropped: u64,
    /// The format a sniffed body was found to have (`None`: not sniffed, or binary).
    pub sniffed: Option<crate::format::Format>,
    /// Thresholds to watch (a label, or every value with `None`; values allowed): the output
    /// position of the value that crosses one is recorded (see [`Stats::cut`]).
    watch: Vec<(Option<Label>, u64)>,
    /// A watched threshold was crossed and its output position is not recorded yet.
    armed: bool,
    /// Where in the output the value that crossed a watched threshold starts.
    cut: Option<usize>,
}

/// At most this many findings are kept per stream.
pub const MAX_FINDINGS: usize = 64;

/// One value found: which label, where, and a keyed fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What found it.
    pub label: Label,
    /// Byte offset of the value in the body (approximate inside JSON strings with escapes).
    pub offset: u64,
    /// First 64 bits of HMAC-SHA256(key, normalised value): correlates incidents, reveals nothing.
    pub fingerprint: [u8; 8],
}

impl Stats {
    pub(crate) fn for_policy(p: &Ruleset) -> Stats {
        Stats {
            hits: vec![0; p.labels.len()],
            rules: p.labels.rule_range(),
            fields: p.labels.field_range(),
            host: p.labels.host_range(),
            json_fallbacks: 0,
            depth_fallbacks: 0,
            findings: Vec::new(),
            findings_dropped: 0,
            sniffed: None,
            watch: Vec::new(),
            armed: false,
            cut: None,
        }
    }

    /// Watches these thresholds (label or every value, values allowed).
    pub(crate) fn watch(&mut self, thresholds: Vec<(Option<Label>, u64)>) {
        self.watch = thresholds;
    }

    /// Where the value that crossed a watched threshold starts, as an index into the output
    /// vector of the call that crossed it; `None` while none was crossed (see [`crate::Masker::cut`]
    /// for the offset in the whole output).
    pub(crate) fn cut(&self) -> Option<usize> {
        self.cut
    }

    /// Records `at` (the output length before the value just counted is written) as the cut, when
    /// the value crossed a watched threshold.
    #[inline]
    pub(crate) fn mark(&mut self, at: usize) {
        if self.armed {
            self.armed = false;
            self.cut = Some(at);
        }
    }

    /// Values found per label, in label order.
    pub fn hits(&self) -> &[u64] {
        &self.hits
    }

    /// Values found under one label.
    pub fn hits_of(&self, l: Label) -> u64 {
        self.hits.get(l.index()).copied().unwrap_or(0)
    }

    /// Values found per rule, in policy order.
    pub fn rule_hits(&self) -> &[u64] {
        self.hits.get(self.rules.clone()).unwrap_or_default()
    }

    /// Values masked per field rule, in policy order.
    pub fn field_hits(&self) -> &[u64] {
        self.hits.get(self.fields.clone()).unwrap_or_default()
    }

    /// Values masked under the host's labels (a proxy's header rules, in multipart part headers).
    pub fn host_hits(&self) -> &[u64] {
        self.hits.get(self.host.clone()).unwrap_or_default()
    }

    fn add(&mut self, l: Label, n: u64) {
        if let Some(h) = self.hits.get_mut(l.index()) {
            *h += n;
        }
        if !self.watch.is_empty() && self.cut.is_none() && !self.armed {
            let total = self.total();
            self.armed = self.watch.iter().any(|&(w, max)| match w {
                Some(w) => self.hits_of(w) > max,
                None => total > max,
            });
        }
    }

    /// Counts a value of rule `r` under its label (and records a finding when the policy logs
    /// findings).
    pub(crate) fn hit_rule(&mut self, p: &Ruleset, r: usize, offset: u64, value: &[u8]) {
        let Some(rule) = p.rules.get(r) else { return };
        self.add(rule.label, 1);
        if p.findings_log {
            self.finding(p, rule.label, offset, rule.normalize, value);
        }
    }

    /// Counts a value of field rule `f`.
    pub(crate) fn hit_field(&mut self, p: &Ruleset, f: usize, offset: u64, value: &[u8]) {
        let label = p.labels.field(f);
        self.add(label, 1);
        if p.findings_log {
            self.finding(p, label, offset, crate::detect::Normalize::None, value);
        }
    }

    /// Adds what a header rewrite found (a multipart part's headers).
    pub(crate) fn add_meta(&mut self, hits: &crate::config::MetaHits) {
        for &(l, n) in &hits.0 {
            self.add(l, n);
        }
    }

    fn finding(&mut self, p: &Ruleset, label: Label, offset: u64, norm: crate::detect::Normalize, value: &[u8]) {
        let Some(key) = &p.fingerprint_key else { return };
        if self.findings.len() >= MAX_FINDINGS {
            self.findings_dropped += 1;
            return;
        }
        let mac = key.mac128(b"finding", &crate::token::normalize(norm, value));
        let mut fingerprint = [0u8; 8];
        fingerprint.copy_from_slice(&mac[..8]);
        self.findings.push(Finding {
            label,
            offset,
            fingerprint,
        });
    }

    /// Total values found.
    pub fn total(&self) -> u64 {
        self.hits.iter().sum()
    }

    /// Whether this body holds more values than the bulk-exposure guard `b` allows.
    pub fn exceeds(&self, b: &crate::config::Budget) -> bool {
        let n = match b.label {
            Some(l) => self.hits_of(l),
            None => self.total(),
        };
        n > b.max
    }
}

#[derive(Clone, Copy)]
struct RuleState {
    /// Absolute position where this rule's next search starts.
    next: u64,
    /// An accepted, final match waiting for its turn.
    cand: Option<(u64, u64)>,
    /// Where this rule searches on once `cand` is taken (its end, or earlier: `Verdict::AcceptThen`).
    resume: u64,
    /// No match of this rule starts before here (valid when `cand` is none).
    frontier: u64,
    /// Buffer end at the last search; equal to the current end means nothing new to search.
    searched_end: u64,
    /// Whether that search treated the end of the buffer as the end of the value.
    searched_fin: bool,
    /// End of the closed run of class bytes the last match was found in (0: none); a search that
    /// resumes inside it goes straight to the regex (see `Pattern::find`).
    run_end: u64,
    /// The trailing run of class bytes as `tight` last found it: (its start, the buffer end then),
    /// absolute. The buffer only grows at its end between resets, so the next call looks only at
    /// the bytes after it.
    tail: (u64, u64),
}

/// A maximal run of the cluster class holding a digit (see `ClusterSpec`), in absolute positions.
#[derive(Clone, Copy)]
struct Cluster {
    start: u64,
    end: u64,
    digits: u32,
    /// Rules (bit `r % 64`) whose trigger bytes occur in the cluster.
    rules: u64,
}

/// At most this many clusters are kept per stream (16 KiB); past them rules search on their own.
const MAX_CLUSTERS: usize = 512;

/// Overlapping matches being gathered into one replacement (see "Overlapping values").
#[derive(Clone, Copy)]
struct Span {
    start: u64,
    end: u64,
    /// The rule whose action replaces the span.
    rule: usize,
}

struct Region {
    rule: usize,
    seen: usize,
    search_from: u64,
    /// A secret value (masked up to the byte that ends it) rather than a private key (masked
    /// up to and including its END line).
    until: Option<ValueEnd>,
    /// A backslash at the end of what was searched (quoted values).
    escaped: bool,
}

/// A streaming matcher over one byte stream (a text body, or one JSON string value).
pub(crate) struct Scanner {
    buf: Vec<u8>,
    base: u64,
    emit: u64,
    states: Vec<RuleState>,
    region: Option<Region>,
    span: Option<Span>,
    scratch: Vec<u8>,
    /// Rules (bit `r % 64`) whose trigger bytes occur somewhere in `buf`.
    mask: u64,
    /// Start of the bytes fed since the mask was last updated.
    fed: Option<usize>,
    /// ASCII digits in `buf` (counted with the mask).
    digits: usize,
    /// Body offset of the first byte after the seed (for findings).
    origin: u64,
    seed_len: u64,
    /// The rule states still describe the previous value (see `reset_at`).
    stale: bool,
    /// Digit clusters found so far, in order; the last may still grow (`end == clustered_to`).
    clusters: Vec<Cluster>,
    /// Bytes before this have been grouped into clusters.
    clustered_to: u64,
}

impl Scanner {
    pub(crate) fn new(policy: &Ruleset) -> Scanner {
        let mut s = Scanner {
            buf: Vec::new(),
            base: 0,
            emit: 0,
            states: Vec::with_capacity(policy.rules.len()),
            region: None,
            span: None,
            scratch: Vec::new(),
            mask: 0,
            fed: None,
            digits: 0,
            origin: 0,
            seed_len: 0,
            stale: false,
            clusters: Vec::new(),
            clustered_to: 0,
        };
        s.states.resize(
            policy.rules.len(),
            RuleState {
                next: 0,
                cand: None,
                resume: 0,
                frontier: 0,
                searched_end: u64::MAX,
                searched_fin: false,
                run_end: 0,
                tail: (0, 0),
            },
        );
        s
    }

    /// Starts a new value. `seed` is context (e.g. the JSON key) that rules with `near` keywords see
    /// before the value; it is never emitted.
    pub(crate) fn reset(&mut self, seed: &[u8]) {
        self.reset_at(seed, 0);
    }

    /// [`reset`](Self::reset), saying where in the body the value starts (for findings).
    pub(crate) fn reset_at(&mut self, seed: &[u8], origin: u64) {
        self.origin = origin;
        self.seed_len = seed.len() as u64;
        self.buf.clear();
        self.mask = 0;
        self.digits = 0;
        self.fed = Some(0);
        self.buf.extend_from_slice(seed);
        self.base = 0;
        self.emit = seed.len() as u64;
        // the rule states are reset by the first poll: a value that is never polled (the JSON fast
        // path for strings no rule can match) costs no per-rule work
        self.stale = true;
        self.region = None;
        self.span = None;
        self.clusters.clear();
        self.clustered_to = 0;
    }

    fn reset_states(&mut self) {
        self.stale = false;
        for st in &mut self.states {
            *st = RuleState {
                next: self.emit,
                cand: None,
                resume: self.emit,
                frontier: self.emit,
                searched_end: u64::MAX,
                searched_fin: false,
                run_end: 0,
                tail: (0, 0),
            };
        }
    }

    /// Appends bytes of the stream.
    #[inline]
    pub(crate) fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        self.fed = self.fed.or(Some(self.buf.len() - data.len()));
    }

    /// Folds bytes fed since the last poll into the trigger mask.
    fn update_mask(&mut self, policy: &Ruleset) {
        if let Some(from) = self.fed.take() {
            let (m, d) = policy.triggers_and_digits(&self.buf[from.min(self.buf.len())..]);
            self.mask |= m;
            self.digits += d;
        }
    }

    /// Groups the bytes fed since the last poll into digit clusters (one pass for every clustered
    /// rule). Stops early, leaving the rest to each rule's own search, when the list is full.
    fn update_clusters(&mut self, policy: &Ruleset) {
        let Some(spec) = &policy.clusters else { return };
        let (base, len) = (self.base, self.buf.len());
        let buf = &self.buf[..];
        let table = &policy.trigger_table;
        let mut i = (self.clustered_to.max(base) - base) as usize;
        let mut bound = base;
        if let Some(last) = self.clusters.last_mut() {
            bound = last.end.max(base);
            if last.end == self.clustered_to && last.end > base {
                // the last cluster touched the end of the buffer: it may go on
                while i < len && spec.class.contains(buf[i]) {
                    last.digits += u32::from(buf[i].is_ascii_digit());
                    last.rules |= table[usize::from(buf[i])];
                    i += 1;
                }
                last.end = base + i as u64;
                bound = last.end;
            }
        }
        while i < len && self.clusters.len() < MAX_CLUSTERS {
            let Some(t) = crate::search::pattern::find_digit(&buf[i..]) else {
                i = len;
                break;
            };
            let t = i + t;
            let lo = (bound - base) as usize;
            let mut a = t;
            while a > lo && spec.class.contains(buf[a - 1]) {
                a -= 1;
            }
            let mut b = a;
            let (mut digits, mut rules) = (0u32, 0u64);
            for &x in &buf[a..] {
                if !spec.class.contains(x) {
                    break;
                }
                digits += u32::from(x.is_ascii_digit());
                rules |= table[usize::from(x)];
                b += 1;
            }
            i = b;
            bound = base + b as u64;
            // a closed cluster too small for every clustered rule is of no use
            if b == len || (digits as usize >= spec.min_digits && b - a >= spec.min_len) {
                self.clusters.push(Cluster {
                    start: base + a as u64,
                    end: base + b as u64,
                    digits,
                    rules,
                });
            }
        }
        self.clustered_to = base + i as u64;
    }

    /// Bytes fed but not yet given to the sink.
    pub(crate) fn held_back(&self) -> usize {
        (self.end() - self.emit) as usize
    }

    #[inline]
    fn end(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    #[inline]
    fn rel(&self, abs: u64) -> usize {
        (abs - self.base) as usize
    }

    /// Decides as much of the buffer as `mode` allows and hands it to `sink`.
    pub(crate) fn poll(&mut self, policy: &Ruleset, mode: Poll, stats: &mut Stats, sink: &mut dyn Sink) {
        let fin = mode != Poll::Partial;
        if self.stale {
            self.reset_states();
        }
        self.update_mask(policy);
        self.update_clusters(policy);
        if fin
            && policy.prefilter
            && policy.all_triggered
            && self.region.is_none()
            && self.span.is_none()
            && policy.none_eligible(self.mask, self.digits, self.buf.len())
            && self.states.iter().all(|s| s.cand.is_none())
        {
            // For every rule a trigger byte is missing, or there are too few digits or bytes for a
            // match: nothing can match; the value (or line) is decided as is.
            let end = self.end();
            let a = self.rel(self.emit);
            sink.keep(&self.buf[a..]);
            self.emit = end;
            for st in &mut self.states {
                st.next = end;
                st.frontier = end;
                st.searched_end = end;
                st.searched_fin = true;
            }
            self.compact(policy.lookbehind);
            return;
        }
        loop {
            self.refresh(policy, fin);
            if self.region.is_some() {
                if self.poll_region(policy, mode, sink) {
                    continue;
                }
                break;
            }
            if let Some(span) = self.span {
                if self.absorb(policy, span, stats) {
                    continue;
                }
                // A rule that may still start a value inside the span: wait for more input.
                if self.states.iter().any(|st| st.cand.is_none() && st.frontier < span.end) {
                    break;
                }
                self.close_span(policy, span, stats, sink);
                continue;
            }
            // Leftmost start wins; at the same start the longer value, then the earlier rule.
            let mut best: Option<(u64, u64, usize)> = None;
            let mut front = self.end();
            for (r, st) in self.states.iter().enumerate() {
                match st.cand {
                    Some((s, e)) => {
                        if best.is_none_or(|(bs, be, _)| s < bs || (s == bs && e > be)) {
                            best = Some((s, e, r));
                        }
                    }
                    None => front = front.min(st.frontier),
                }
            }
            match best {
                Some((s, _, r)) if s < front => self.open(policy, r, stats, sink),
                _ => {
                    let mut p = best.map_or(front, |(s, _, _)| s.min(front)).max(self.emit);
                    if !fin {
                        p = self.char_boundary(p);
                    }
                    let (a, b) = (self.rel(self.emit), self.rel(p));
                    sink.keep(&self.buf[a..b]);
                    self.emit = p;
                    break;
                }
            }
        }
        self.compact(policy.lookbehind);
    }

    /// Moves `p` back to the start of a UTF-8 character that `p` would cut (at most 3 bytes).
    fn char_boundary(&self, p: u64) -> u64 {
        let (lo, r) = (self.rel(self.emit), self.rel(p));
        p - cut_char_len(&self.buf[lo..r]) as u64
    }

    /// Drops bytes no rule needs any more: everything more than `lookbehind` bytes before the
    /// earliest of `emit`, a candidate's start and a rule's next search position.
    fn compact(&mut self, lookbehind: usize) {
        let mut keep_from = self.emit;
        for st in &self.states {
            keep_from = keep_from.min(st.cand.map_or(st.next, |(s, _)| s));
        }
        let cut = self.rel(keep_from.max(self.base)).saturating_sub(lookbehind);
        if cut > 0 {
            self.buf.drain(..cut);
            self.base += cut as u64;
            let base = self.base;
            let gone = self.clusters.partition_point(|c| c.end <= base);
            self.clusters.drain(..gone);
            // the dropped bytes may have set bits: recount over what is left (little)
            self.mask = 0;
            self.digits = 0;
            self.fed = Some(0);
        }
    }

    /// Brings every rule's candidate or frontier up to date with the buffer.
    fn refresh(&mut self, policy: &Ruleset, fin: bool) {
        let end = self.end();
        let need = |st: &RuleState| st.cand.is_none() && (st.searched_end != end || (fin && !st.searched_fin));
        if !self.states.iter().any(need) {
            return;
        }
        for r in 0..self.states.len() {
            if need(&self.states[r]) {
                self.find_candidate(policy, r, fin);
            }
        }
    }

    /// Searches rule `r` on from its position: leaves it either a final, validated candidate
    /// (`cand`) or a `frontier` before which it can start no value, holding back a non-final match.
    fn find_candidate(&mut self, policy: &Ruleset, r: usize, fin: bool) {
        let Some(rule) = policy.rules.get(r) else {
            return;
        };
        let end = self.end();
        let base = self.base;
        let emit = self.emit;
        let mask = self.mask;
        let digits = self.digits;
        let buf = &self.buf[..];
        let clusters = &self.clusters[..];
        let clustered_to = self.clustered_to;
        let st = &mut self.states[r];
        st.searched_end = end;
        st.searched_fin = fin;
        loop {
            let from = (st.next - base) as usize;
            if from > buf.len() {
                st.frontier = st.next;
                return;
            }
            let too_short = (fin && buf.len() - from < rule.pattern.min_len) || digits < rule.pattern.min_digits;
            // A match lies wholly in the buffer and contains a trigger byte: none, no match (a match
            // still running past the end is covered by `tight`).
            let absent = policy.prefilter && rule.pattern.trigger.is_some() && mask & (1u64 << (r % 64)) == 0;
            let found = if too_short || absent {
                None
            } else {
                let clustered = policy.clusters.as_ref().is_some_and(|c| c.rules.get(r) == Some(&true));
                if !policy.prefilter {
                    rule.pattern.regex.search(&Input::new(buf).range(from..))
                } else if clustered {
                    find_in_clusters(&rule.pattern, buf, base, from, r, clusters, clustered_to)
                } else {
                    let mut run = (st.run_end > st.next).then(|| (st.run_end - base) as usize);
                    let m = rule.pattern.find(buf, from, &mut run);
                    st.run_end = run.map_or(0, |b| base + b as u64);
                    m
                }
            };
            let Some(m) = found else {
                let f = if fin {
                    end
                } else {
                    base + tight(buf, base, from, &rule.pattern, &mut st.tail) as u64
                };
                st.next = f.max(st.next);
                st.frontier = st.next;
                return;
            };
            let (s, e) = (m.start(), m.end());
            if !fin && !is_final(buf, s, e, &rule.pattern) {
                // More input may complete a match that starts before this one (an alternation
                // whose earlier branch needs more bytes): hold from wherever one could start.
                let t = tight(buf, base, from, &rule.pattern, &mut st.tail);
                st.next = base + s.min(t) as u64;
                st.frontier = st.next;
                return;
            }
            let verdict = match rule.validate {
                Some(v) => v(buf, s, e),
                None => Verdict::Accept(s, e),
            };
            let (s2, e2, resume) = match verdict {
                Verdict::Accept(s2, e2) => (s2, e2, e2),
                Verdict::AcceptThen(s2, e2, r) => (s2, e2, r.min(e2)),
                Verdict::Reject { resume } => {
                    st.next = base + resume.max(s + 1) as u64;
                    continue;
                }
            };
            if !(s2 >= s && e2 > s2 && e2 <= buf.len()) {
                st.next = base + e.max(s + 1) as u64;
                continue;
            }
            let near_ok = rule.near.as_ref().is_none_or(|(ac, within)| {
                let lo = s2.saturating_sub(*within);
                ac.find(&buf[lo..s2]).is_some()
            });
            let (cs, ce) = (base + s2 as u64, base + e2 as u64);
            if !near_ok {
                // a validator that read the value on (`Detector::search`) ended it at `e2`
                st.next = base + e.max(e2).max(s + 1) as u64;
                continue;
            }
            let resume = base + resume.max(s + 1) as u64;
            if ce > emit {
                st.cand = Some((cs.max(emit), ce));
                st.resume = resume;
                st.frontier = cs.max(emit);
                return;
            }
            st.next = resume;
        }
    }

    /// Takes rule `r`'s candidate, which starts before anything else can: a private-key region
    /// opens at once; any other value opens a span (see "Overlapping values").
    fn open(&mut self, policy: &Ruleset, r: usize, stats: &mut Stats, sink: &mut dyn Sink) {
        let Some((s, e)) = self.states[r].cand else {
            return;
        };
        let Some(rule) = policy.rules.get(r) else {
            return;
        };
        let (a, b, c) = (self.rel(self.emit), self.rel(s), self.rel(e));
        sink.keep(&self.buf[a..b]);
        self.emit = s;
        let offset = (self.origin + s).saturating_sub(self.seed_len);
        // a secret value is not whole yet: it is counted, never fingerprinted
        let value = if rule.value_region { &[][..] } else { &self.buf[b..c] };
        stats.hit_rule(policy, r, offset, value);
        stats.mark(sink.written());
        let st = &mut self.states[r];
        st.cand = None;
        st.next = st.resume;
        st.searched_end = u64::MAX;
        if rule.opens_region() {
            self.scratch.clear();
            let mut seen = 0;
            rule.action
                .apply_streaming(&self.buf[b..c], &mut seen, true, &mut self.scratch);
            sink.replace(&self.buf[b..c], &self.scratch);
            self.emit = e;
            self.region = Some(Region {
                rule: r,
                seen,
                search_from: e,
                until: rule.value_region.then(|| ValueEnd::of(&self.buf, b)),
                escaped: false,
            });
            self.trim_candidates();
            return;
        }
        self.span = Some(Span {
            start: s,
            end: e,
            rule: r,
        });
    }

    /// Joins every candidate that starts inside the open span to it (counted under its own rule).
    /// Returns whether anything joined (the joined rules then search on).
    fn absorb(&mut self, policy: &Ruleset, mut span: Span, stats: &mut Stats) -> bool {
        let mut joined = false;
        for r in 0..self.states.len() {
            let Some((s, e)) = self.states[r].cand else { continue };
            let region = policy.rules.get(r).is_some_and(|x| x.opens_region());
            if s >= span.end || region {
                continue;
            }
            let offset = (self.origin + s).saturating_sub(self.seed_len);
            let (a, b) = (self.rel(s), self.rel(e));
            stats.hit_rule(policy, r, offset, &self.buf[a..b]);
            span.end = span.end.max(e);
            let st = &mut self.states[r];
            st.cand = None;
            st.next = st.resume;
            st.searched_end = u64::MAX;
            joined = true;
        }
        self.span = Some(span);
        joined
    }

    /// Replaces the span with its first rule's action.
    fn close_span(&mut self, policy: &Ruleset, span: Span, stats: &mut Stats, sink: &mut dyn Sink) {
        self.span = None;
        let Some(rule) = policy.rules.get(span.rule) else {
            return;
        };
        let (b, c) = (self.rel(span.start.max(self.emit)), self.rel(span.end));
        self.scratch.clear();
        rule.action.apply(&self.buf[b..c], &mut self.scratch);
        // a value that joined the span (`absorb`) and crossed a watched threshold cuts here
        stats.mark(sink.written());
        sink.replace(&self.buf[b..c], &self.scratch);
        self.emit = span.end;
        self.trim_candidates();
    }

    /// Candidates that start before `emit` (covered by an accepted value or a key region) lose the
    /// covered part; those entirely covered are dropped and their rule searches on after them.
    /// Each rule's own sequence of values never depends on other rules, which keeps the result
    /// independent of chunking.
    fn trim_candidates(&mut self) {
        let emit = self.emit;
        for st in &mut self.states {
            if let Some((s, e)) = st.cand {
                if e <= emit {
                    st.cand = None;
                    st.next = st.next.max(e);
                    st.searched_end = u64::MAX;
                } else if s < emit {
                    st.cand = Some((emit, e));
                    st.frontier = emit;
                }
            }
        }
    }

    /// Masks an open region (a private key, a secret value). Returns true when it closed.
    fn poll_region(&mut self, policy: &Ruleset, mode: Poll, sink: &mut dyn Sink) -> bool {
        let Some(reg) = self.region.as_mut() else {
            return true;
        };
        let Some(rule) = policy.rules.get(reg.rule) else {
            self.region = None;
            return true;
        };
        let fin = mode != Poll::Partial;
        let from = (reg.search_from - self.base) as usize;
        let (stop, closes) = if let Some(until) = reg.until {
            // a secret value: masked up to the byte that ends it, which stays
            match until.find(&self.buf[from..], &mut reg.escaped) {
                Some(i) => (from + i, true),
                None => (self.buf.len(), mode == Poll::End),
            }
        } else {
            let Some(endp) = rule.region_end.as_ref() else {
                self.region = None;
                return true;
            };
            let found = endp.regex.search(&Input::new(&self.buf[..]).range(from..));
            match found {
                Some(m) if fin || is_final(&self.buf, m.start(), m.end(), endp) => (m.end(), true),
                Some(m) => (m.start(), false),
                None if mode == Poll::End => (self.buf.len(), true),
                None if fin => (self.buf.len(), false),
                None => (tight(&self.buf, self.base, from, endp, &mut (0, 0)), false),
            }
        };
        let a = (self.emit - self.base) as usize;
        let stop = stop.max(a);
        self.scratch.clear();
        rule.action
            .apply_streaming(&self.buf[a..stop], &mut reg.seen, false, &mut self.scratch);
        sink.replace(&self.buf[a..stop], &self.scratch);
        self.emit = self.base + stop as u64;
        reg.search_from = self.emit;
        self.trim_candidates();
        if closes {
            self.region = None;
            return true;
        }
        false
    }
}

/// Bytes at the end of `b` that start a UTF-8 character `b` does not hold whole (0 to 3); bytes
/// that start no valid character count as whole.
pub(crate) fn cut_char_len(b: &[u8]) -> usize {
    for back in 1..=b.len().min(4) {
        let x = b[b.len() - back];
        if x & 0xC0 == 0x80 {
            continue;
        }
        let need = match x {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => 1,
        };
        return if need > back { back } else { 0 };
    }
    0
}

/// [`Pattern::find`] for a clustered rule: the regex runs only inside clusters that hold the rule's
/// trigger, digits and length; past the clusters found so far (the list was full), the rule's own
/// search takes over at `clustered_to`, which is always the end of a run.
fn find_in_clusters(
    p: &Pattern,
    buf: &[u8],
    base: u64,
    from: usize,
    r: usize,
    clusters: &[Cluster],
    clustered_to: u64,
) -> Option<regex_automata::Match> {
    let from_abs = base + from as u64;
    let bit = 1u64 << (r % 64);
    let k = clusters.partition_point(|c| c.end <= from_abs);
    for c in &clusters[k..] {
        let a = c.start.max(from_abs);
        if c.rules & bit == 0 || (c.digits as usize) < p.min_digits || ((c.end - a) as usize) < p.min_len {
            continue;
        }
        let (lo, hi) = ((a - base) as usize, (c.end - base) as usize);
        // The cluster still open at the end of the buffer is searched again at every poll while it
        // is held: there the regex alone is cheaper than splitting it into runs each time.
        let m = if hi == buf.len() {
            p.regex.search(&Input::new(buf).range(lo..hi))
        } else {
            p.find_in(buf, lo, hi)
        };
        if m.is_some() {
            return m;
        }
    }
    let rest = (clustered_to.max(from_abs) - base) as usize;
    if rest < buf.len() {
        return p.find(buf, rest, &mut None);
    }
    None
}

/// Where a match not yet complete could start: the bytes from there on are held back.
///
/// `tail` remembers the trailing run of class bytes between calls (see `RuleState::tail`): the
/// bytes it covered are not looked at again, so holding back over a long run costs its new bytes
/// only, not the whole window at every poll.
fn tight(buf: &[u8], base: u64, from: usize, p: &Pattern, tail: &mut (u64, u64)) -> usize {
    let len = buf.len();
    let lo = from.max(len.saturating_sub(p.max_len + LOOK_AHEAD));
    let end = base + len as u64;
    // bytes before `seen` were looked at by the last call (the buffer then ended there)
    let seen = if tail.1 >= base && tail.1 <= end {
        (tail.1 - base) as usize
    } else {
        0
    };
    let mut i = len;
    while i > lo && i > seen && p.class.contains(buf[i - 1]) {
        i -= 1;
    }
    if i == seen && seen > lo {
        // every new byte is in the class: the run goes on from where it started then (all class
        // bytes), and further back if that call stopped at its own lower bound
        i = usize::try_from(tail.0.saturating_sub(base))
            .unwrap_or(usize::MAX)
            .clamp(lo, seen);
        while i > lo && p.class.contains(buf[i - 1]) {
            i -= 1;
        }
    }
    *tail = (base + i as u64, end);
    p.hold_from_run(buf, i)
}

/// Can more input change the match found at `[s, e)`, or what its validator sees?
///
/// Validators look at most `LOOK_AHEAD` bytes past a match and never past a newline, so a match
/// is decided once that much follows it, or a newline does (a line that ends a chunk is never held
/// back for the next one), and no longer match can start there.
fn is_final(buf: &[u8], s: usize, e: usize, p: &Pattern) -> bool {
    let len = buf.len();
    let window = &buf[e.min(len)..len.min(e + LOOK_AHEAD)];
    let line_end = !p.class.has_newline() && memchr::memchr(b'\n', window).is_some();
    if len < e + LOOK_AHEAD && !line_end {
        return false;
    }
    len - s > p.max_len + LOOK_AHEAD || buf[e..].iter().any(|&b| !p.class.contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// `tight` with its remembered run gives what a fresh look at the whole window gives, over
        /// any sequence of appends, front drains (compaction) and search positions.
        #[test]
        fn tight_with_its_memo_is_the_plain_hold_back(
            ops in prop::collection::vec((prop::collection::vec(prop::sample::select(b"aZ09 .-@:=_/\\n+(".to_vec()), 0..40), 0usize..30, 0usize..1000), 1..40),
        ) {
            let pats: Vec<Pattern> = crate::detect::DETECTORS
                .iter()
                .map(|d| crate::search::pattern::compile(&crate::search::pattern::parse_with(d.pattern, false, 1 << 16, false).unwrap()).unwrap())
                .collect();
            for p in &pats {
                let (mut buf, mut base, mut tail) = (Vec::new(), 0u64, (0u64, 0u64));
                for (bytes, drain, from_seed) in &ops {
                    buf.extend_from_slice(bytes);
                    let cut = (*drain).min(buf.len());
                    if cut > 20 {
                        buf.drain(..cut);
                        base += cut as u64;
                    }
                    let from = from_seed % (buf.len() + 1);
                    let lo = from.max(buf.len().saturating_sub(p.max_len + LOOK_AHEAD));
                    prop_assert_eq!(tight(&buf, base, from, p, &mut tail), p.hold_from(&buf, lo));
                }
            }
        }
    }
}
