//! The headers side of a stream: which policy, whether the body is scanned, how (format, decoder),
//! and header and query rules.
//!
//! # Invariants
//! - The policy and the rollout decision are made once, at request headers, and serve both
//!   directions: `enforce` holds when the mode is `enforce` and either `enforce_percent` is 100 or
//!   the FNV-1a bucket of `x-request-id` is below it (no request id: report mode below 100).
//! - Report mode rewrites no header value, path or body, and what was found counts as reported,
//!   not masked.
//! - Fail closed while the headers are ours: a header or path that cannot be rewritten, a coding
//!   that cannot be decoded, or a header that cannot be removed gives a local reply (request: 415
//!   for a coding, else 500; response: 502), or with `on_error: pass` a counted, unmasked body.
//! - Before a body is scanned, `content-length` is removed when the body may change (enforce) or
//!   is decoded, and `content-encoding` with it when decoded (in report mode too).

use super::{count, Body, Next, Scan, StreamFilter};
use crate::decode::{Coding, DecodeLimits, Decoder};
use crate::host::{Dir, Host};
use crate::metrics::{Fail, Skip};
use crate::policy::{HttpPolicy, Mode, OnError};
use streammask_engine::{parse_media_type, FormatRouter, Masker, MetaHits, Route};

/// How a body is masked, from its `content-type` header(s): two that disagree (a misconfigured
/// upstream) make it a body whose format is sniffed, like an untyped one, when the policy sniffs;
/// otherwise the first one decides. A header sent twice
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
    /// A failure while the headers are still ours: a clean local reply, or (`on_error: pass`) the
    /// body goes through untouched.
    fn fail_headers(&mut self, host: &mut dyn Host, d: Dir, why: Fail, detail: &str) -> Next {
        let m = self.shared.metrics.dir(d);
        // report mode never changes traffic: what it cannot scan passes, counted
        if self.policy.on_error == OnError::Pass || !self.enforce {
            return self.pass_unmasked(host, d, why, detail);
        }
        count(host, m.blocked(why), 1);
        log::warn!("streammask: {} blocked: {detail}", d.name());
        let status = match (d, why) {
            (Dir::Request, Fail::Encoding) => 415,
            (Dir::Request, Fail::Unreadable) => 413,
            (Dir::Request, _) => 500,
            (Dir::Response, _) => 502,
        };
        let body = format!("streammask: {detail}\n");
        if let Err(e) = host.send_response(status, &[("content-type", "text/plain")], body.as_bytes()) {
            log::error!("streammask: cannot send local reply: {e}");
        }
        *self.body_mut(d) = Body::Dropping;
        Next::Pause
    }

    /// Request headers: select the policy, decide rollout, strip `accept-encoding` (when the policy
    /// says so), apply header and query rules, decide the request body's fate.
    pub fn on_request_headers(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Next {
        // each header read is a host call: the host and path only when a route or a query rule
        // needs them
        let set = &self.shared.set;
        let read = |host: &dyn Host, name: &str| host.header(Dir::Request, name).ok().flatten();
        let authority = if set.routes_read_host() {
            read(host, ":authority")
                .or_else(|| read(host, "host"))
                .unwrap_or_default()
        } else {
            String::new()
        };
        let mut path = set.routes_read_path().then(|| read(host, ":path").unwrap_or_default());
        let method_raw = read(host, ":method").unwrap_or_default();
        let (pidx, policy) = set.select(&authority, path.as_deref().unwrap_or(""), &method_raw);
        let policy = policy.clone();
        self.pidx = pidx;
        self.policy = policy.clone();
        let p = &*policy;
        if p.strip_accept_encoding {
            if let Err(e) = host.remove_header(Dir::Request, "accept-encoding") {
                log::debug!("streammask: cannot remove accept-encoding: {e}");
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
            let path = path.get_or_insert_with(|| read(host, ":path").unwrap_or_default());
            if let Some((new_path, hits)) = p.mask_path(path) {
                if let Some(blocked) = self.apply_meta(host, Dir::Request, ":path", &new_path, &hits) {
                    return blocked;
                }
            }
        }
        let upgrade = method == "connect" || host.header(Dir::Request, "upgrade").ok().flatten().is_some();
        if upgrade && self.websocket_upgrade(host, &method) {
            return Next::Continue;
        }
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
        if let Some(blocked) = self.mask_headers(host, Dir::Response) {
            return blocked;
        }
        let ws = matches!(self.req, Body::Ws(_)) || matches!(self.resp, Body::Ws(_));
        if matches!(self.resp, Body::Skip) && !ws {
            return Next::Continue; // an upgrade decided at request time
        }
        let status: u32 = host
            .header(Dir::Response, ":status")
            .ok()
            .flatten()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(200);
        if ws && (self.websocket_answer(host, status) || matches!(self.resp, Body::Skip)) {
            return Next::Continue;
        }
        if status == 101 {
            return self.skip(host, Dir::Response, Skip::Upgrade);
        }
        if end_of_stream || self.head || (100..200).contains(&status) || status == 204 || status == 304 {
            return self.skip(host, Dir::Response, Skip::NoBody);
        }
        if !self.policy.response {
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
        if let Some(labels) = self.shared.metrics.labels(self.pidx, d) {
            let ids = if self.enforce { &labels.masked } else { &labels.reported };
            for (label, n) in &hits.0 {
                count(host, ids.get(label.index()).copied().flatten(), *n);
            }
        }
        if self.policy.debug_log {
            log::debug!(
                "streammask: {} header {name}: {} value(s) {}",
                d.name(),
                hits.total(),
                if self.enforce { "masked" } else { "found (report mode)" }
            );
        }
        if self.enforce {
            if let Err(e) = host.set_header(d, name, value) {
                log::error!("streammask: cannot rewrite {name}: {e}");
                return Some(self.fail_headers(host, d, Fail::Internal, "a header could not be masked"));
            }
        }
        None
    }

    /// Decides a body that may be scanned: skipped (route `Pass`, `content-length: 0`), refused (a
    /// coding that cannot be decoded), or `Body::Scan` with its masker and decoder.
    fn begin(&mut self, host: &mut dyn Host, d: Dir) -> Next {
        let p = &*self.policy;
        if p.ruleset.finds_nothing() {
            // nothing to find: the body is not read, copied or rewritten, its headers stay
            return self.skip(host, d, Skip::NothingToFind);
        }
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
        if enforce {
            // The body changes length (and encoding): the old headers would lie. In report mode
            // the bytes pass as they came (a compressed body stays compressed, decoded only to
            // be counted), so the headers stay too.
            let mut ok = host.remove_header(d, "content-length").is_ok();
            if coding.is_some() {
                ok &= host.remove_header(d, "content-encoding").is_ok();
            }
            if !ok {
                return self.fail_headers(host, d, Fail::Internal, "cannot remove content-length");
            }
        }
        let m = self.shared.metrics.dir(d);
        count(host, m.streams_scanned, 1);
        if coding.is_some() {
            count(host, m.decompressed, 1);
        }
        let mut masker = Masker::for_route(self.policy.ruleset.clone(), &route, self.policy.clone());
        if enforce {
            // where a blocking guard is crossed, the body is cut
            let blocking: Vec<_> = self.policy.budgets.iter().filter(|b| b.block).copied().collect();
            if !blocking.is_empty() {
                masker.watch(&blocking);
            }
        }
        *self.body_mut(d) = Body::Scan(Box::new(Scan {
            masker,
            decoder: coding.map(|c| Decoder::new(c, decode_limits(p))),
            enforce,
            declared,
            seen: 0,
            scanned: 0,
            held_in_host: 0,
            paused: false,
            paused_out: Vec::new(),
            out: Vec::new(),
            crossed: vec![false; self.policy.budgets.len()],
            busy_ns: 0,
            started: None,
            held_max: 0,
        }));
        if self.policy.debug_log {
            log::debug!(
                "streammask: scanning {} body as {}{}{}",
                d.name(),
                route_name(&route),
                coding.map_or(String::new(), |c| format!(" (decoding {})", c.name())),
                if enforce { "" } else { " in report mode" }
            );
        }
        Next::Continue
    }
}
