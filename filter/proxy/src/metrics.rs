//! Metric names and ids. Names are built so that Envoy's `stats_tags` can lift the rule, direction
//! and reason into Prometheus labels (see `envoy/envoy.yaml`):
//!
//! | stat name | Prometheus | meaning |
//! | --- | --- | --- |
//! | `streammask.values_masked.policy.P.rule.R.direction.D` | `streammask_values_masked{policy,rule,direction}` | values replaced (bodies, headers, query strings) |
//! | `streammask.values_reported.policy.P.rule.R.direction.D` | `streammask_values_reported{policy,rule,direction}` | values found in report mode (not replaced) |
//! | `streammask.bytes_scanned.direction.D` | `streammask_bytes_scanned{direction}` | body bytes scanned (after decompression) |
//! | `streammask.streams_scanned.direction.D` | `streammask_streams_scanned{direction}` | bodies scanned |
//! | `streammask.streams_skipped.reason.X.direction.D` | `streammask_streams_skipped{reason,direction}` | bodies not scanned, by reason |
//! | `streammask.streams_blocked.reason.X.direction.D` | `streammask_streams_blocked{reason,direction}` | bodies stopped, by reason |
//! | `streammask.streams_passed_unmasked.reason.X.direction.D` | `streammask_streams_passed_unmasked{reason,direction}` | errors let through because `on_error` is `pass`, or because the stream is in report mode |
//! | `streammask.json_fallbacks.direction.D` | `streammask_json_fallbacks{direction}` | malformed JSON scanned as text |
//! | `streammask.streams_decompressed.direction.D` | `streammask_streams_decompressed{direction}` | gzip, deflate, br and zstd bodies decoded for scanning |
//! | `streammask.bulk_exceeded.policy.P.rule.R.outcome.O.direction.D` | `streammask_bulk_exceeded{policy,rule,outcome,direction}` | bodies that crossed a bulk-exposure guard (`max_values_per_stream`; rule `all` for the body-wide one), by outcome: `blocked`, `reported`, `would_block` (report mode) |
//! | `streammask.body_time_us.direction.D` (histogram) | `streammask_body_time_us_bucket{direction,le}` | microseconds the filter spent on one scanned body (reading, decoding, masking, writing; summed over its callbacks) |
//! | `streammask.held_bytes.direction.D` (histogram) | `streammask_held_bytes_bucket{direction,le}` | the most bytes of one scanned body held back at once (in filter memory or paused in the proxy), waiting for what follows |
//! | `streammask.vm_memory_bytes` (gauge) | `streammask_vm_memory_bytes` | the wasm VM's linear memory, written at a body end when it changed (last VM to report) |
//!
//! # Invariants
//! - Every metric is defined once, at configuration time; a definition the host refuses leaves
//!   `None`, and that counter is then skipped: metrics never make a stream fail.
//! - `labels[p]` belongs to policy `p` of the set, and its `masked[l]` / `reported[l]` to label
//!   `l` of that policy's `Labels` (rules, fields, then header and query rules), in that order.
//! - Each `Skip` and `Fail` has exactly one reason name (`SKIPS`, `FAILS`); the stat names are a
//!   public contract (dashboards, `stats_tags`): extend, never rename.

use crate::host::{Dir, RootHost};
use crate::policy::PolicySet;

/// Why a body was not scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The policy does not scan this direction.
    Direction,
    /// The content type is not one the policy scans.
    ContentType,
    /// The body cannot have content (HEAD, 1xx, 204, 304) or is empty.
    NoBody,
    /// A protocol upgrade (WebSocket, CONNECT): not HTTP bodies any more.
    Upgrade,
    /// The policy has no rule and no field rule: no body can change, so none is read.
    NothingToFind,
}

/// Why a body was blocked (or, with `on_error: pass`, passed unmasked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fail {
    /// A content coding the filter cannot decode.
    Encoding,
    /// Corrupt or truncated compressed data.
    Decode,
    /// The host could not give the body (NGINX temp-file request bodies).
    Unreadable,
    /// A host call failed, or the stream reached a state it should not.
    Internal,
    /// Trailers arrived while bytes were held in filter memory (cannot be written any more).
    TrailerTail,
    /// A compressed body inflated more than `limits.max_expansion_ratio` per compressed byte.
    DecodeRatio,
    /// A compressed body inflated past `limits.max_decoded_bytes`.
    DecodedSize,
    /// A brotli or zstd body asked for a window larger than `limits.max_decode_window_bytes`.
    DecodeWindow,
    /// A compressed body ended before its compressed stream did.
    Truncated,
    /// One body chunk inflated past `limits.max_decoded_bytes_per_chunk`.
    ChunkLimit,
    /// The filter's memory in this VM would pass `limits.max_memory_bytes`.
    Memory,
    /// A bulk-exposure guard with `on_exceed: block` was crossed (`max_values_per_stream`).
    Bulk,
}

impl Fail {
    /// Limits and hostile input: always blocked, whatever `on_error` says (passing the body would
    /// hand an attacker the unmasked bytes, and decoding it further is the attack).
    pub fn always_blocks(self) -> bool {
        matches!(
            self,
            Fail::DecodeRatio | Fail::DecodedSize | Fail::DecodeWindow | Fail::ChunkLimit | Fail::Memory | Fail::Bulk
        )
    }
}

const SKIPS: [(Skip, &str); 5] = [
    (Skip::Direction, "direction"),
    (Skip::ContentType, "content_type"),
    (Skip::NoBody, "no_body"),
    (Skip::Upgrade, "upgrade"),
    (Skip::NothingToFind, "nothing_to_find"),
];
const FAILS: [(Fail, &str); 12] = [
    (Fail::Encoding, "encoding"),
    (Fail::Decode, "decode_error"),
    (Fail::Unreadable, "unreadable_body"),
    (Fail::Internal, "internal"),
    (Fail::TrailerTail, "trailer_tail"),
    (Fail::DecodeRatio, "decode_ratio"),
    (Fail::DecodedSize, "decoded_size"),
    (Fail::DecodeWindow, "decode_window"),
    (Fail::Truncated, "truncated"),
    (Fail::ChunkLimit, "chunk_limit"),
    (Fail::Memory, "memory"),
    (Fail::Bulk, "bulk_values"),
];

/// What crossing a bulk-exposure guard did: the stream was blocked, the crossing was only
/// reported (`on_exceed: report`), or the stream is in report mode and would have been blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Blocked,
    Reported,
    WouldBlock,
}

const OUTCOMES: [(Outcome, &str); 3] = [
    (Outcome::Blocked, "blocked"),
    (Outcome::Reported, "reported"),
    (Outcome::WouldBlock, "would_block"),
];

impl Outcome {
    /// The outcome's name (metric label and log word).
    pub fn name(self) -> &'static str {
        OUTCOMES.iter().find(|(o, _)| *o == self).map_or("reported", |(_, n)| n)
    }
}

/// Counter ids per label (rule, field, header rule, query rule) of one policy, for one direction.
#[derive(Debug, Clone, Default)]
pub struct LabelMetrics {
    pub masked: Vec<Option<u32>>,
    pub reported: Vec<Option<u32>>,
    /// Per bulk-exposure guard of the policy (`HttpPolicy::budgets` order), per outcome.
    pub bulk: Vec<[Option<u32>; 3]>,
}

impl LabelMetrics {
    /// The counter of guard `b` crossed with `o`.
    pub fn bulk(&self, b: usize, o: Outcome) -> Option<u32> {
        let i = OUTCOMES.iter().position(|(k, _)| *k == o)?;
        self.bulk.get(b).and_then(|ids| ids[i])
    }
}

/// Counter ids for one direction.
#[derive(Debug, Clone, Default)]
pub struct DirMetrics {
    pub bytes_scanned: Option<u32>,
    pub streams_scanned: Option<u32>,
    pub json_fallbacks: Option<u32>,
    pub decompressed: Option<u32>,
    /// Histogram: microseconds spent on one scanned body.
    pub body_time: Option<u32>,
    /// Histogram: the most bytes one scanned body held back at once.
    pub held_bytes: Option<u32>,
    skipped: [Option<u32>; 5],
    blocked: [Option<u32>; 12],
    passed: [Option<u32>; 12],
}

impl DirMetrics {
    pub fn skipped(&self, s: Skip) -> Option<u32> {
        SKIPS.iter().position(|(k, _)| *k == s).and_then(|i| self.skipped[i])
    }
    pub fn blocked(&self, f: Fail) -> Option<u32> {
        FAILS.iter().position(|(k, _)| *k == f).and_then(|i| self.blocked[i])
    }
    pub fn passed(&self, f: Fail) -> Option<u32> {
        FAILS.iter().position(|(k, _)| *k == f).and_then(|i| self.passed[i])
    }
}

/// Every counter the filter increments; a failed definition leaves `None` (the counter is skipped,
/// the filter still works).
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    pub request: DirMetrics,
    pub response: DirMetrics,
    /// Per policy (index as in the policy set): (request, response) label counters.
    pub labels: Vec<(LabelMetrics, LabelMetrics)>,
    /// Gauge: the wasm VM's linear memory, sampled when a body ends.
    pub vm_memory: Option<u32>,
}

impl Metrics {
    pub fn dir(&self, d: Dir) -> &DirMetrics {
        match d {
            Dir::Request => &self.request,
            Dir::Response => &self.response,
        }
    }

    /// Label counters of policy `policy` in direction `d`.
    pub fn labels(&self, policy: usize, d: Dir) -> Option<&LabelMetrics> {
        self.labels.get(policy).map(|(rq, rs)| match d {
            Dir::Request => rq,
            Dir::Response => rs,
        })
    }

    /// Defines every counter for the policies of `set`.
    pub fn define(host: &mut dyn RootHost, set: &PolicySet) -> Metrics {
        let mut def = |name: String, histogram: bool| {
            let r = if histogram {
                host.define_histogram(&name)
            } else {
                host.define_counter(&name)
            };
            match r {
                Ok(id) => Some(id),
                Err(e) => {
                    log::warn!("streammask: cannot define metric {name}: {e}");
                    None
                }
            }
        };
        let mut labels = Vec::new();
        for (idx, pname) in set.names().enumerate() {
            let Some(policy) = set.get(idx) else { continue };
            let mut per_dir = |d: &str| {
                let mut m = LabelMetrics::default();
                for r in policy.label_names() {
                    m.masked.push(def(
                        format!("streammask.values_masked.policy.{pname}.rule.{r}.direction.{d}"),
                        false,
                    ));
                    m.reported.push(def(
                        format!("streammask.values_reported.policy.{pname}.rule.{r}.direction.{d}"),
                        false,
                    ));
                }
                for b in &policy.budgets {
                    let r = policy.budget_name(b);
                    let mut ids = [None; 3];
                    for (id, (_, o)) in ids.iter_mut().zip(OUTCOMES.iter()) {
                        *id = def(
                            format!("streammask.bulk_exceeded.policy.{pname}.rule.{r}.outcome.{o}.direction.{d}"),
                            false,
                        );
                    }
                    m.bulk.push(ids);
                }
                m
            };
            let rq = per_dir("request");
            let rs = per_dir("response");
            labels.push((rq, rs));
        }
        let mut dir = |d: &str| {
            let mut m = DirMetrics {
                bytes_scanned: def(format!("streammask.bytes_scanned.direction.{d}"), false),
                streams_scanned: def(format!("streammask.streams_scanned.direction.{d}"), false),
                json_fallbacks: def(format!("streammask.json_fallbacks.direction.{d}"), false),
                decompressed: def(format!("streammask.streams_decompressed.direction.{d}"), false),
                body_time: def(format!("streammask.body_time_us.direction.{d}"), true),
                held_bytes: def(format!("streammask.held_bytes.direction.{d}"), true),
                ..DirMetrics::default()
            };
            for (i, (_, s)) in SKIPS.iter().enumerate() {
                m.skipped[i] = def(format!("streammask.streams_skipped.reason.{s}.direction.{d}"), false);
            }
            for (i, (_, f)) in FAILS.iter().enumerate() {
                m.blocked[i] = def(format!("streammask.streams_blocked.reason.{f}.direction.{d}"), false);
                m.passed[i] = def(
                    format!("streammask.streams_passed_unmasked.reason.{f}.direction.{d}"),
                    false,
                );
            }
            m
        };
        let request = dir("request");
        let response = dir("response");
        let vm_memory = match host.define_gauge("streammask.vm_memory_bytes") {
            Ok(id) => Some(id),
            Err(e) => {
                log::warn!("streammask: cannot define metric streammask.vm_memory_bytes: {e}");
                None
            }
        };
        Metrics {
            request,
            response,
            labels,
            vm_memory,
        }
    }
}
