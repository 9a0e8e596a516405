//! Per-stream logic: decide in the headers callbacks whether and how each body is scanned, then mask
//! every body chunk as it passes, by the portable rules of `docs/hosts.md`.
//!
//! - Headers: skip bodies that cannot have content or are not textual; remove `content-length`
//!   (the length changes) and `content-encoding` (gzip, deflate, br and zstd are decoded; one
//!   coding, not stacked ones); refuse other codings with a clean local reply while the headers
//!   are still ours.
//! - Body: read the chunk whole from offset 0, mask it, write it back as a full replacement (only
//!   when it changed). End of stream is any of: eos on a data call, a separate 0-byte eos call, the
//!   declared Content-Length reached (NGINX never says eos then), or the trailers callback (Envoy).
//! - Where the held-back tail lives: on hosts that allow repeated Pauses (Envoy) a stream pauses
//!   while a tail is held, so the tail is still writable if trailers end the stream; the paused bytes
//!   are bounded by `limits.max_paused_bytes`, past which they are released and the tail moves to
//!   filter memory. Elsewhere the tail lives in filter memory.
//! - Errors fail closed: a local reply while headers are ours, otherwise the stream is reset (Envoy)
//!   or every further byte is dropped (NGINX). With `on_error: pass` the body goes through unmasked
//!   and the event is counted.
//!
//! # Layout
//! - this file: the stream's state (`Body` per direction) and the callbacks the glue calls.
//! - `headers`: route selection, rollout, header and query rules, and the decision made from the
//!   headers (skip, refuse, or scan with a decoder).
//! - `body`: reading, decoding, masking and writing chunks, the pause bookkeeping, trailers, the
//!   end-of-body counts, failures after bytes left.
//! - `findings`: the findings log line.
//! - `websocket`: the frames of an upgraded WebSocket connection, both directions.
//!
//! # Invariants
//! - A direction's `Body` only moves forward: `Idle` → `Skip` | `Scan` | `Dropping` | `Ws`,
//!   `Scan` → `Done` | `Dropping` | `Skip` (`on_error: pass`), `Ws` → `Dropping` (or back to
//!   `Idle`/`Done` when the upgrade is refused); no state lets unscanned bytes through except
//!   `Skip`, which is decided from the headers or by `on_error: pass` and counted.
//! - Bytes written back are always a full replacement from offset 0; a chunk that did not change
//!   is not written.

mod body;
mod findings;
mod headers;
mod websocket;

use crate::decode::Decoder;
use crate::host::{Caps, Dir, Host};
use crate::metrics::{Fail, Metrics, Skip};
use crate::policy::{HttpPolicy, PolicySet};
use std::rc::Rc;
use std::sync::Arc;
use streammask_engine::Masker;

/// What a callback tells the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Continue,
    Pause,
}

/// What every stream of a VM shares: the compiled policies, the counters, the host's capabilities.
pub struct Shared {
    pub set: Arc<PolicySet>,
    pub metrics: Metrics,
    pub caps: Caps,
    /// The VM memory size last written to the gauge: it is written again only when it changes (one
    /// host call fewer per stream; linear memory only grows).
    pub vm_memory_recorded: std::sync::atomic::AtomicU64,
}

/// Appended when a body is cut on a host that cannot reset a stream, so the client sees why.
pub const BLOCKED_MARKER: &[u8] = b"\n[streammask: body blocked]\n";

struct Scan {
    masker: Masker,
    decoder: Option<Decoder>,
    enforce: bool,
    declared: Option<u64>,
    seen: u64,
    scanned: u64,
    /// Bytes at the start of the host's buffer that we wrote before pausing (already masked).
    held_in_host: usize,
    /// Whether the last body callback returned Pause.
    paused: bool,
    /// Masked output kept in the host's buffer under a Pause.
    paused_out: Vec<u8>,
    out: Vec<u8>,
    /// Per bulk-exposure guard of the policy: crossed already in this body (counted once).
    crossed: Vec<bool>,
    /// Nanoseconds spent on this body in callbacks that ended (only with the time histogram).
    busy_ns: u64,
    /// When the callback being processed started (host clock), if it was read.
    started: Option<u64>,
    /// The most bytes held back at once (in filter memory or paused in the host).
    held_max: u64,
}

enum Body {
    /// Not decided yet (headers not seen).
    Idle,
    /// Passes untouched.
    Skip,
    /// Scanned.
    Scan(Box<Scan>),
    /// Finished; any later call (Envoy's 0-byte eos after Content-Length) passes.
    Done,
    /// Blocked after bytes left: every further byte is dropped.
    Dropping,
    /// A WebSocket direction after an upgrade: frames masked as they pass (see `websocket`).
    Ws(Box<websocket::Ws>),
}

/// One HTTP stream.
pub struct StreamFilter {
    shared: Rc<Shared>,
    /// The policy this stream's route selected (the default until request headers arrive).
    policy: Arc<HttpPolicy>,
    pidx: usize,
    req: Body,
    resp: Body,
    head: bool,
    enforce: bool,
}

/// Adds `by` to a counter (nothing for 0: hosts reject that). A failed increment only loses a
/// count; it must not fail the stream.
fn count(host: &mut dyn Host, id: Option<u32>, by: u64) {
    if let (Some(id), true) = (id, by > 0) {
        let _ = host.increment(id, by);
    }
}

impl StreamFilter {
    pub fn new(shared: Rc<Shared>) -> StreamFilter {
        let policy = shared
            .set
            .get(0)
            .cloned()
            .unwrap_or_else(|| Arc::new(HttpPolicy::builtin_default()));
        StreamFilter {
            shared,
            policy,
            pidx: 0,
            req: Body::Idle,
            resp: Body::Idle,
            head: false,
            enforce: true,
        }
    }

    fn body_mut(&mut self, d: Dir) -> &mut Body {
        match d {
            Dir::Request => &mut self.req,
            Dir::Response => &mut self.resp,
        }
    }

    fn skip(&mut self, host: &mut dyn Host, d: Dir, why: Skip) -> Next {
        let id = self.shared.metrics.dir(d).skipped(why);
        count(host, id, 1);
        *self.body_mut(d) = Body::Skip;
        Next::Continue
    }

    /// `on_error: pass`: the body goes through untouched from here on, and that is counted.
    fn pass_unmasked(&mut self, host: &mut dyn Host, d: Dir, why: Fail, detail: &str) -> Next {
        let id = self.shared.metrics.dir(d).passed(why);
        count(host, id, 1);
        log::warn!(
            "streammask: {} body passed unmasked ({}): {detail}",
            d.name(),
            if self.enforce { "on_error: pass" } else { "report mode" }
        );
        *self.body_mut(d) = Body::Skip;
        Next::Continue
    }

    pub fn on_request_body(&mut self, host: &mut dyn Host, size: usize, end_of_stream: bool) -> Next {
        self.on_body(host, Dir::Request, size, end_of_stream)
    }

    pub fn on_response_body(&mut self, host: &mut dyn Host, size: usize, end_of_stream: bool) -> Next {
        self.on_body(host, Dir::Response, size, end_of_stream)
    }

    pub fn on_request_trailers(&mut self, host: &mut dyn Host) -> Next {
        self.on_trailers(host, Dir::Request)
    }

    pub fn on_response_trailers(&mut self, host: &mut dyn Host) -> Next {
        self.on_trailers(host, Dir::Response)
    }
}
