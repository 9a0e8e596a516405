//! Per-stream logic: decide in the headers callbacks whether and how each body is scanned, then mask
//! every body chunk as it passes, by the portable rules of `docs/hosts.md`.
//!
//! - Headers: skip bodies that cannot have content or are not textual; remove `content-length`
//!   (the length changes) and `content-encoding` (gzip/deflate are decoded); refuse other codings
//!   with a clean local reply while the headers are still ours.
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

use crate::decode::{Coding, DecodeError, DecodeLimits, Decoder};
use crate::host::{Caps, Dir, Host, Level};
use crate::metrics::{Fail, Metrics, Skip};
use crate::policy::{HttpPolicy, Mode, OnError, PolicySet};
use std::rc::Rc;
use std::sync::Arc;
use streammask_engine::{parse_media_type, FormatRouter, Masker, MetaHits, Route};

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
    pending: Vec<u8>,
    out: Vec<u8>,
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

/// How a body is masked, from its `content-type` header(s): two that disagree (a misconfigured
/// upstream) make it a body whose format is sniffed, like an untyped one. A header sent twice
/// reaches the filter as two values (the header map) or as one comma-joined value (Envoy's HTTP/1
/// codec joins them).
fn route_for(host: &dyn Host, d: Dir, p: &HttpPolicy) -> Route {
    let values = host.header_values(d, "content-type").unwrap_or_default();
    let types: Vec<&str> = values.iter().flat_map(|v| split_list(v)).collect();
    let mut media: Vec<String> = types.iter().map(|v| parse_media_type(v).0).collect();
    media.dedup();
    if media.len() > 1 && p.sniff {
        return Route::Sniff;
    }
    p.route(types.first().copied(), false)
}

/// The elements of a comma-separated header value, commas inside quotes kept.
fn split_list(v: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in v.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(v[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(v[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

fn route_name(r: &Route) -> &'static str {
    match r {
        Route::Scan(f) => f.name(),
        Route::Multipart(_) => "multipart",
        Route::Sniff => "sniffed",
        Route::Pass => "pass",
    }
}

/// The decoder's bounds from the policy's limits.
fn decode_limits(p: &HttpPolicy) -> DecodeLimits {
    let l = &p.limits;
    DecodeLimits {
        max_total: l.max_decoded_bytes,
        max_ratio: l.max_expansion_ratio,
        ratio_floor: 1 << 20,
        max_window: usize::try_from(l.max_decode_window_bytes).unwrap_or(usize::MAX),
        output_window: 32 << 10,
    }
}

/// The blocking reason for a decoder error.
fn decode_fail(e: DecodeError) -> Fail {
    match e {
        DecodeError::Corrupt => Fail::Decode,
        DecodeError::Truncated => Fail::Truncated,
        DecodeError::TooLarge => Fail::DecodedSize,
        DecodeError::Ratio => Fail::DecodeRatio,
        DecodeError::Window => Fail::DecodeWindow,
        DecodeError::Stopped => Fail::Internal,
    }
}

/// FNV-1a, for a stable rollout bucket from the request id.
fn bucket(s: &str) -> u8 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    (h % 100) as u8
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

    fn count(&self, host: &mut dyn Host, id: Option<u32>, by: u64) {
        if let (Some(id), true) = (id, by > 0) {
            // A failed increment only loses a count; it must not fail the stream.
            let _ = host.increment(id, by);
        }
    }

    fn skip(&mut self, host: &mut dyn Host, d: Dir, why: Skip) -> Next {
        let id = self.shared.metrics.dir(d).skipped(why);
        self.count(host, id, 1);
        *self.body_mut(d) = Body::Skip;
        Next::Continue
    }

    /// `on_error: pass`: the body goes through untouched from here on, and that is counted.
    fn pass_unmasked(&mut self, host: &mut dyn Host, d: Dir, why: Fail, detail: &str) -> Next {
        let id = self.shared.metrics.dir(d).passed(why);
        self.count(host, id, 1);
        host.log(
            Level::Warn,
            &format!(
                "streammask: {} body passed unmasked (on_error: pass): {detail}",
                d.name()
            ),
        );
        *self.body_mut(d) = Body::Skip;
        Next::Continue
    }

    /// A failure while the headers are still ours: a clean local reply, or (`on_error: pass`) the
    /// body goes through untouched.
    fn fail_headers(&mut self, host: &mut dyn Host, d: Dir, why: Fail, detail: &str) -> Next {
        let shared = self.shared.clone();
        let m = shared.metrics.dir(d);
        if self.policy.on_error == OnError::Pass {
            return self.pass_unmasked(host, d, why, detail);
        }
        self.count(host, m.blocked(why), 1);
        host.log(Level::Warn, &format!("streammask: {} blocked: {detail}", d.name()));
        let status = match (d, why) {
            (Dir::Request, Fail::Encoding) => 415,
            (Dir::Request, Fail::Unreadable) => 413,
            (Dir::Request, _) => 500,
            (Dir::Response, _) => 502,
        };
        let body = format!("streammask: {detail}\n");
        if let Err(e) = host.send_response(status, &[("content-type", "text/plain")], body.as_bytes()) {
            host.log(Level::Error, &format!("streammask: cannot send local reply: {e}"));
        }
        *self.body_mut(d) = Body::Dropping;
        Next::Pause
    }

    /// Request headers: strip `accept-encoding`, decide the request body's fate.
    pub fn on_request_headers(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Next {
        let shared = self.shared.clone();
        let authority = host
            .header(Dir::Request, ":authority")
            .ok()
            .flatten()
            .or_else(|| host.header(Dir::Request, "host").ok().flatten())
            .unwrap_or_default();
        let path = host.header(Dir::Request, ":path").ok().flatten().unwrap_or_default();
        let method_raw = host.header(Dir::Request, ":method").ok().flatten().unwrap_or_default();
        let (pidx, policy) = shared.set.select(&authority, &path, &method_raw);
        self.pidx = pidx;
        self.policy = policy.clone();
        let policy = self.policy.clone();
        let p = &*policy;
        if p.strip_accept_encoding {
            if let Err(e) = host.remove_header(Dir::Request, "accept-encoding") {
                host.log(Level::Debug, &format!("streammask: cannot remove accept-encoding: {e}"));
            }
        }
        let method = method_raw.trim().to_ascii_lowercase();
        self.head = method == "head";
        self.enforce = p.mode == Mode::Enforce
            && (p.enforce_percent >= 100
                || host
                    .header(Dir::Request, "x-request-id")
                    .ok()
                    .flatten()
                    .is_some_and(|id| bucket(&id) < p.enforce_percent));
        if let Some(blocked) = self.mask_headers(host, Dir::Request) {
            return blocked;
        }
        if p.has_query_rule() {
            if let Some((new_path, hits)) = p.mask_path(&path) {
                if let Some(blocked) = self.apply_meta(host, Dir::Request, ":path", &new_path, &hits) {
                    return blocked;
                }
            }
        }
        let upgrade = method == "connect" || host.header(Dir::Request, "upgrade").ok().flatten().is_some();
        if upgrade {
            self.skip(host, Dir::Response, Skip::Upgrade);
            return self.skip(host, Dir::Request, Skip::Upgrade);
        }
        if end_of_stream {
            return self.skip(host, Dir::Request, Skip::NoBody);
        }
        if !p.request {
            return self.skip(host, Dir::Request, Skip::Direction);
        }
        self.begin(host, Dir::Request)
    }

    /// Response headers: skip what cannot or need not be scanned, refuse what cannot be decoded.
    pub fn on_response_headers(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Next {
        let policy = self.policy.clone();
        let p = &*policy;
        if let Some(blocked) = self.mask_headers(host, Dir::Response) {
            return blocked;
        }
        if matches!(self.resp, Body::Skip) {
            return Next::Continue; // an upgrade decided at request time
        }
        let status: u32 = host
            .header(Dir::Response, ":status")
            .ok()
            .flatten()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(200);
        if status == 101 {
            return self.skip(host, Dir::Response, Skip::Upgrade);
        }
        if end_of_stream || self.head || (100..200).contains(&status) || status == 204 || status == 304 {
            return self.skip(host, Dir::Response, Skip::NoBody);
        }
        if !p.response {
            return self.skip(host, Dir::Response, Skip::Direction);
        }
        self.begin(host, Dir::Response)
    }

    /// Header rules of the selected policy, for direction `d`. Returns `Some` when the stream was
    /// refused (a header could not be rewritten).
    fn mask_headers(&mut self, host: &mut dyn Host, d: Dir) -> Option<Next> {
        let policy = self.policy.clone();
        for name in policy.header_names(d == Dir::Request) {
            let Ok(Some(value)) = host.header(d, name) else {
                continue;
            };
            if let Some((new, hits)) = policy.mask_header(d == Dir::Request, name, &value) {
                if let Some(blocked) = self.apply_meta(host, d, name, &new, &hits) {
                    return Some(blocked);
                }
            }
        }
        None
    }

    /// Writes a masked header (enforce mode) and counts what was found. Returns `Some` when the
    /// stream was refused because the masked value could not be written (the raw one would go on).
    fn apply_meta(&mut self, host: &mut dyn Host, d: Dir, name: &str, value: &str, hits: &MetaHits) -> Option<Next> {
        let shared = self.shared.clone();
        if let Some(labels) = shared.metrics.labels(self.pidx, d) {
            let ids = if self.enforce { &labels.masked } else { &labels.reported };
            for (label, n) in &hits.0 {
                self.count(host, ids.get(label.index()).copied().flatten(), *n);
            }
        }
        host.log(
            Level::Debug,
            &format!(
                "streammask: {} header {name}: {} value(s) {}",
                d.name(),
                hits.total(),
                if self.enforce { "masked" } else { "found (report mode)" }
            ),
        );
        if self.enforce {
            if let Err(e) = host.set_header(d, name, value) {
                host.log(Level::Error, &format!("streammask: cannot rewrite {name}: {e}"));
                return Some(self.fail_headers(host, d, Fail::Internal, "a header could not be masked"));
            }
        }
        None
    }

    fn begin(&mut self, host: &mut dyn Host, d: Dir) -> Next {
        let shared = self.shared.clone();
        let policy = self.policy.clone();
        let p = &*policy;
        let route = route_for(host, d, p);
        if route == Route::Pass {
            return self.skip(host, d, Skip::ContentType);
        }
        let ce = host.header(d, "content-encoding").ok().flatten();
        let coding = match Coding::parse(ce.as_deref()) {
            Ok(c) => c,
            Err(()) => {
                let detail = format!(
                    "content-encoding {:?} cannot be scanned; gzip, deflate, br and zstd are decoded",
                    ce.unwrap_or_default()
                );
                return self.fail_headers(host, d, Fail::Encoding, &detail);
            }
        };
        let declared = host
            .header(d, "content-length")
            .ok()
            .flatten()
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared == Some(0) {
            return self.skip(host, d, Skip::NoBody);
        }
        let enforce = self.enforce;
        if enforce || coding.is_some() {
            // The body changes length (and encoding): the old headers would lie.
            let mut ok = host.remove_header(d, "content-length").is_ok();
            if coding.is_some() {
                ok &= host.remove_header(d, "content-encoding").is_ok();
            }
            if !ok {
                return self.fail_headers(host, d, Fail::Internal, "cannot remove content-length");
            }
        }
        let m = shared.metrics.dir(d);
        self.count(host, m.streams_scanned, 1);
        if coding.is_some() {
            self.count(host, m.decompressed, 1);
        }
        *self.body_mut(d) = Body::Scan(Box::new(Scan {
            masker: Masker::for_route(policy.ruleset.clone(), &route, policy.clone()),
            decoder: coding.map(|c| Decoder::new(c, decode_limits(p))),
            enforce,
            declared,
            seen: 0,
            scanned: 0,
            held_in_host: 0,
            paused: false,
            pending: Vec::new(),
            out: Vec::new(),
        }));
        host.log(
            Level::Debug,
            &format!(
                "streammask: scanning {} body as {}{}{}",
                d.name(),
                route_name(&route),
                coding.map_or(String::new(), |c| format!(" (decoding {})", c.name())),
                if enforce { "" } else { " in report mode" }
            ),
        );
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

    fn on_body(&mut self, host: &mut dyn Host, d: Dir, size: usize, eos: bool) -> Next {
        match self.body_mut(d) {
            Body::Scan(_) => {}
            Body::Dropping => return self.drop_chunk(host, d, size, eos),
            _ => return Next::Continue,
        }
        match self.scan_chunk(host, d, size, eos) {
            Ok(next) => next,
            Err(why) => self.fail_body(host, d, why, size, eos),
        }
    }

    fn scan_chunk(&mut self, host: &mut dyn Host, d: Dir, size: usize, eos: bool) -> Result<Next, Fail> {
        let shared = self.shared.clone();
        let caps = shared.caps;
        let max_paused = self.policy.limits.max_paused_bytes;
        let limits = self.policy.limits;
        let Body::Scan(scan) = self.body_mut(d) else {
            return Ok(Next::Continue);
        };
        let chunk = if size == 0 {
            Vec::new()
        } else {
            match host.body(d, size) {
                Ok(Some(b)) => b,
                Ok(None) => return Err(Fail::Unreadable),
                Err(_) => return Err(Fail::Internal),
            }
        };
        // Under a Pause the host re-delivers what we left in its buffer, then the new bytes.
        let new = chunk.get(scan.held_in_host..).ok_or(Fail::Internal)?;
        scan.seen += new.len() as u64;
        let end = eos || scan.declared.is_some_and(|n| scan.seen >= n);
        scan.out.clear();
        let h: &dyn Host = &*host;
        let over_budget = || h.memory_in_use() > limits.max_memory_bytes;
        if let Some(dec) = scan.decoder.as_mut() {
            // Decoded windows are masked one by one, so nothing grows with the decoded size but the
            // output of this chunk, which is bounded (it leaves in one host call).
            let (masker, out, scanned) = (&mut scan.masker, &mut scan.out, &mut scan.scanned);
            let mut stop: Option<Fail> = None;
            let mut this_chunk = 0u64;
            let mut emit = |w: &[u8]| -> bool {
                this_chunk += w.len() as u64;
                if this_chunk > limits.max_decoded_bytes_per_chunk {
                    stop = Some(Fail::ChunkLimit);
                    return false;
                }
                masker.push(w, out);
                *scanned += w.len() as u64;
                if over_budget() {
                    stop = Some(Fail::Memory);
                    return false;
                }
                true
            };
            let r = dec
                .push(new, &mut emit)
                .and_then(|()| if end { dec.finish(&mut emit) } else { Ok(()) });
            if let Err(e) = r {
                return Err(stop.unwrap_or_else(|| decode_fail(e)));
            }
        } else {
            scan.masker.push(new, &mut scan.out);
            scan.scanned += new.len() as u64;
            if over_budget() {
                return Err(Fail::Memory);
            }
        }
        if end {
            scan.masker.finish(&mut scan.out);
        }
        if !scan.enforce {
            // Report mode: count, change nothing.
            if end {
                self.finish(host, d);
            }
            return Ok(Next::Continue);
        }
        let hold = caps.repeated_body_pause && !end && scan.masker.held() > 0;
        let next = if hold && scan.pending.len() + scan.out.len() <= max_paused {
            // Keep the decided bytes in the host, paused, so a trailers callback can still append
            // the tail; they are released with the next chunk that leaves nothing held.
            scan.pending.extend_from_slice(&scan.out);
            if scan.pending != chunk {
                host.set_body(d, &scan.pending).map_err(|_| Fail::Internal)?;
            }
            scan.held_in_host = scan.pending.len();
            scan.paused = true;
            Next::Pause
        } else {
            // Release everything decided; without paused bytes the output is written as it is
            // (no extra copy of a large chunk).
            let data: &[u8] = if scan.pending.is_empty() {
                &scan.out
            } else {
                scan.pending.extend_from_slice(&scan.out);
                &scan.pending
            };
            if data != chunk.as_slice() && !(size == 0 && data.is_empty()) {
                host.set_body(d, data).map_err(|_| Fail::Internal)?;
            }
            scan.pending.clear();
            scan.held_in_host = 0;
            scan.paused = false;
            Next::Continue
        };
        if end {
            self.finish(host, d);
        }
        Ok(next)
    }

    fn on_trailers(&mut self, host: &mut dyn Host, d: Dir) -> Next {
        let Body::Scan(scan) = self.body_mut(d) else {
            return Next::Continue;
        };
        scan.out.clear();
        let mut failed = None;
        if let Some(dec) = scan.decoder.as_mut() {
            let (masker, out) = (&mut scan.masker, &mut scan.out);
            if let Err(e) = dec.finish(&mut |w: &[u8]| {
                masker.push(w, out);
                true
            }) {
                failed = Some(decode_fail(e));
            }
        }
        scan.masker.finish(&mut scan.out);
        if scan.enforce && failed.is_none() {
            scan.pending.extend_from_slice(&scan.out);
            if scan.paused {
                if host.set_body(d, &scan.pending).is_err() {
                    failed = Some(Fail::TrailerTail);
                }
            } else if !scan.out.is_empty() {
                // Bytes held in filter memory cannot be written once trailers arrived.
                failed = Some(Fail::TrailerTail);
            }
        }
        match failed {
            None => {
                self.finish(host, d);
                Next::Continue
            }
            Some(why) => {
                let id = self.shared.metrics.dir(d).blocked(why);
                self.count(host, id, 1);
                host.log(
                    Level::Error,
                    &format!(
                        "streammask: {} body tail could not be written before trailers; the body is incomplete",
                        d.name()
                    ),
                );
                *self.body_mut(d) = Body::Dropping;
                Next::Continue
            }
        }
    }

    /// Counts what a finished body held.
    fn finish(&mut self, host: &mut dyn Host, d: Dir) {
        let shared = self.shared.clone();
        let m = shared.metrics.dir(d);
        let Body::Scan(scan) = std::mem::replace(self.body_mut(d), Body::Done) else {
            return;
        };
        let stats = scan.masker.stats();
        let policy = self.policy.clone();
        let hits = stats.hits().iter();
        let empty = crate::metrics::LabelMetrics::default();
        let labels = shared.metrics.labels(self.pidx, d).unwrap_or(&empty);
        let ids = if scan.enforce { &labels.masked } else { &labels.reported };
        let mut summary = String::new();
        for ((n, id), name) in hits.zip(ids).zip(policy.label_names()) {
            self.count(host, *id, *n);
            if *n > 0 {
                summary.push_str(&format!(" {name}={n}"));
            }
        }
        if policy.ruleset.findings_log && stats.total() > 0 {
            host.log(
                Level::Info,
                &findings_line(&shared.set, self.pidx, &policy, d, scan.enforce, &stats),
            );
        }
        self.count(host, m.bytes_scanned, scan.scanned);
        if let Some(id) = shared.metrics.vm_memory {
            let bytes = host.vm_memory_bytes();
            let last = &shared.vm_memory_recorded;
            if bytes > 0 && last.load(std::sync::atomic::Ordering::Relaxed) != bytes && host.record(id, bytes).is_ok() {
                last.store(bytes, std::sync::atomic::Ordering::Relaxed);
            }
        }
        self.count(host, m.json_fallbacks, stats.json_fallbacks + stats.depth_fallbacks);
        host.log(
            Level::Debug,
            &format!(
                "streammask: {} body done: {} bytes scanned, {}{}",
                d.name(),
                scan.scanned,
                if scan.enforce {
                    "masked"
                } else {
                    "would mask (report mode)"
                },
                if summary.is_empty() {
                    " nothing".to_string()
                } else {
                    summary
                }
            ),
        );
    }

    /// A failure after bytes may have left: reset the stream where the host can, otherwise drop
    /// every further byte. `on_error: pass` lets the rest through (not for decode errors: the
    /// encoding header is gone, the raw bytes would be garbage).
    fn fail_body(&mut self, host: &mut dyn Host, d: Dir, why: Fail, size: usize, eos: bool) -> Next {
        let shared = self.shared.clone();
        let m = shared.metrics.dir(d);
        // decode errors cannot pass (the encoding header is gone, raw bytes would be garbage) and
        // limits never do (passing would hand the attacker the body; decoding on is the attack)
        let passable = !matches!(why, Fail::Decode | Fail::Truncated) && !why.always_blocks();
        if self.policy.on_error == OnError::Pass && passable {
            return self.pass_unmasked(host, d, why, "an error after the body started");
        }
        self.count(host, m.blocked(why), 1);
        host.log(
            Level::Error,
            &format!("streammask: {} body blocked mid-stream ({why:?})", d.name()),
        );
        *self.body_mut(d) = Body::Dropping;
        if d == Dir::Request || shared.caps.local_reply_resets_stream {
            let status = if why == Fail::Unreadable { 413 } else { 502 };
            if host
                .send_response(status, &[("content-type", "text/plain")], b"streammask: body blocked\n")
                .is_ok()
            {
                return Next::Pause;
            }
        }
        self.drop_chunk(host, d, size, eos)
    }

    fn drop_chunk(&mut self, host: &mut dyn Host, d: Dir, size: usize, eos: bool) -> Next {
        // Never leave an eos call empty (NGINX would never complete the response).
        let data: &[u8] = if eos { BLOCKED_MARKER } else { b"" };
        if size > 0 || eos {
            if let Err(e) = host.set_body(d, data) {
                host.log(Level::Error, &format!("streammask: cannot drop blocked bytes: {e}"));
            }
        }
        Next::Continue
    }
}

/// The findings log line: one JSON object per body with counts per label and, per finding, the
/// label, the body offset and a keyed fingerprint. Never a value.
fn findings_line(
    set: &PolicySet,
    pidx: usize,
    policy: &HttpPolicy,
    d: Dir,
    enforce: bool,
    stats: &streammask_engine::Stats,
) -> String {
    let labels = policy.ruleset.labels();
    let counts: Vec<String> = labels
        .iter()
        .map(|(l, name)| (stats.hits_of(l), name))
        .filter(|(n, _)| *n > 0)
        .map(|(n, name)| format!("\"{name}\":{n}"))
        .collect();
    let findings: Vec<String> = stats
        .findings
        .iter()
        .map(|f| {
            let fp: String = f.fingerprint.iter().map(|b| format!("{b:02x}")).collect();
            format!(
                "{{\"rule\":\"{}\",\"offset\":{},\"fp\":\"{fp}\"}}",
                labels.name(f.label),
                f.offset
            )
        })
        .collect();
    format!(
        "streammask findings {{\"policy\":\"{}\",\"direction\":\"{}\",\"mode\":\"{}\",\"counts\":{{{}}},\"findings\":[{}],\"dropped\":{}}}",
        set.names().nth(pidx).unwrap_or("default"),
        d.name(),
        if enforce { "enforce" } else { "report" },
        counts.join(","),
        findings.join(","),
        stats.findings_dropped
    )
}
