//! WebSocket connections: after an upgrade the body callbacks carry frames (Envoy with
//! `upgrade_configs: [{upgrade_type: websocket}]`), one callback per socket read, with no end of
//! stream. Each direction's frames go through the engine's `WsMasker` and leave as soon as they
//! are read: never a Pause (the host would buffer the connection up to its per-stream limit).
//!
//! - The upgrade request loses `sec-websocket-extensions` (in enforce mode), so no extension
//!   (compression) is negotiated and every frame stays readable; frames that still carry one are
//!   dropped by the engine. In report mode nothing is changed: frames an extension encodes are
//!   then not counted, and a log line says how many were passed unread.
//! - Only an upgrade request without a body is taken (a WebSocket handshake is a bodiless GET;
//!   HTTP/2 extended CONNECT reaches filters converted to that form by Envoy's codec), so no
//!   request bytes before the `101` are read as frames.
//! - Counts: `streams_scanned` once per direction at the `101`, values masked (or reported) per
//!   rule, `bytes_scanned` (text payload bytes) and `json_fallbacks` after every read, so a
//!   connection that stays open for hours still shows up; a warning when frames are dropped or a
//!   message is cut at `max_ws_held_bytes` (counts only, never bytes). No findings log line
//!   (there is no end of body to write it at).
//! - Where the host does not deliver frames (`Caps::websocket_frames` off: ngx_wasm_module) or
//!   `websocket` is off, the connection passes untouched and `skipped{reason="upgrade"}` counts it.
//!
//! # Invariants
//! - A direction in `Body::Ws` writes back every read whose output differs (in enforce mode), and
//!   on a failed read or write drops every further byte of that direction: frames never pass
//!   unread.
//! - The request side is set up only from the request headers of a WebSocket upgrade; the
//!   response side keeps it only when the status is `101`, otherwise both go back to the HTTP path.

use super::{count, Body, Next, StreamFilter};
use crate::host::{Dir, Host};
use crate::metrics::Fail;
use crate::policy::HttpPolicy;
use streammask_engine::WsMasker;

pub(super) struct Ws {
    masker: WsMasker,
    enforce: bool,
    out: Vec<u8>,
    /// Hits already counted, per label.
    reported: Vec<u64>,
    /// Engine counts and JSON fallbacks already reported.
    counts: streammask_engine::WsCounts,
    fallbacks: u64,
}

impl Ws {
    fn new(p: &HttpPolicy, from_client: bool, enforce: bool) -> Ws {
        Ws {
            masker: WsMasker::new(p.ruleset.clone(), from_client, p.limits.max_ws_held_bytes)
                .scan_binary(p.websocket_binary),
            enforce,
            out: Vec::new(),
            reported: Vec::new(),
            counts: streammask_engine::WsCounts::default(),
            fallbacks: 0,
        }
    }
}

/// Whether the request headers ask for a WebSocket upgrade: `upgrade: websocket` (HTTP/1.1), or
/// an extended CONNECT with `:protocol: websocket` (HTTP/2).
fn asks_websocket(host: &dyn Host, method: &str) -> bool {
    let is_ws = |v: Option<String>| v.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("websocket")));
    is_ws(host.header(Dir::Request, "upgrade").ok().flatten())
        || (method == "connect" && is_ws(host.header(Dir::Request, ":protocol").ok().flatten()))
}

impl StreamFilter {
    /// At the request headers of an upgrade: sets both directions up for WebSocket masking and
    /// removes the extension offer, if this host delivers frames and the policy masks them.
    /// `false`: the caller lets the connection pass as any upgrade.
    pub(super) fn websocket_upgrade(&mut self, host: &mut dyn Host, method: &str) -> bool {
        let p = self.policy.clone();
        if !p.websocket || !self.shared.caps.websocket_frames || p.ruleset.finds_nothing() || !(p.request || p.response)
        {
            return false;
        }
        if !asks_websocket(host, method) {
            return false;
        }
        let read = |name: &str| host.header(Dir::Request, name).ok().flatten();
        let has_body = read("transfer-encoding").is_some()
            || read("content-length").is_some_and(|v| v.trim().parse::<u64>().map_or(true, |n| n > 0));
        if has_body {
            return false;
        }
        if self.enforce && host.remove_header(Dir::Request, "sec-websocket-extensions").is_err() {
            // an extension could be negotiated and its frames could not be read
            log::warn!("streammask: cannot remove sec-websocket-extensions; WebSocket not masked");
            return false;
        }
        self.req = Body::Ws(Box::new(Ws::new(&p, true, self.enforce)));
        self.resp = Body::Ws(Box::new(Ws::new(&p, false, self.enforce)));
        // a direction the policy does not scan passes, as its bodies would
        if !p.request {
            self.skip(host, Dir::Request, crate::metrics::Skip::Direction);
        }
        if !p.response {
            self.skip(host, Dir::Response, crate::metrics::Skip::Direction);
        }
        true
    }

    /// At the response headers of a WebSocket upgrade: `101` keeps both directions on frames;
    /// anything else is an ordinary response (and the request had no frames).
    pub(super) fn websocket_answer(&mut self, host: &mut dyn Host, status: u32) -> bool {
        if status == 101 {
            for d in [Dir::Request, Dir::Response] {
                if matches!(self.body_mut(d), Body::Ws(_)) {
                    count(host, self.shared.metrics.dir(d).streams_scanned, 1);
                }
            }
            if self.policy.debug_log {
                log::debug!("streammask: WebSocket upgraded: masking messages both ways");
            }
            return true;
        }
        // refused: the request had no body; the response is an ordinary one
        if matches!(self.req, Body::Ws(_)) {
            self.req = Body::Done;
        }
        if matches!(self.resp, Body::Ws(_)) {
            self.resp = Body::Idle;
        }
        false
    }

    /// One read of a WebSocket direction: masked and written back, counted, never paused.
    pub(super) fn on_ws(&mut self, host: &mut dyn Host, d: Dir, size: usize) -> Next {
        if size == 0 {
            return Next::Continue;
        }
        let data = match host.body(d, size) {
            Ok(Some(b)) => b,
            _ => return self.ws_fail(host, d, Fail::Unreadable, size),
        };
        let pidx = self.pidx;
        let shared = self.shared.clone();
        let Body::Ws(ws) = self.body_mut(d) else {
            return Next::Continue;
        };
        ws.out.clear();
        ws.masker.push(&data, &mut ws.out);
        let write = ws.enforce && ws.out != data;
        let enforce = ws.enforce;
        let hits = ws.masker.stats().hits();
        ws.reported.resize(hits.len(), 0);
        let empty = crate::metrics::LabelMetrics::default();
        let labels = shared.metrics.labels(pidx, d).unwrap_or(&empty);
        let ids = if enforce { &labels.masked } else { &labels.reported };
        for ((n, seen), id) in hits.iter().zip(ws.reported.iter_mut()).zip(ids) {
            count(host, *id, n.saturating_sub(*seen));
            *seen = *n;
        }
        let m = shared.metrics.dir(d);
        let (now, was) = (ws.masker.counts(), ws.counts);
        count(host, m.bytes_scanned, now.text_bytes.saturating_sub(was.text_bytes));
        let stats = ws.masker.stats();
        let fallbacks = stats.json_fallbacks + stats.depth_fallbacks;
        count(host, m.json_fallbacks, fallbacks.saturating_sub(ws.fallbacks));
        ws.fallbacks = fallbacks;
        if now.dropped > was.dropped {
            log::warn!(
                "streammask: WebSocket {}: {} frame(s) dropped unread (reserved bits, a reserved opcode or a continuation of no message)",
                d.name(),
                now.dropped - was.dropped
            );
        }
        if now.held_limit > was.held_limit {
            log::warn!(
                "streammask: WebSocket {}: a message held more than limits.max_ws_held_bytes; its rest was cut",
                d.name()
            );
        }
        ws.counts = now;
        if write {
            let out = std::mem::take(&mut ws.out);
            let ok = host.set_body(d, &out).is_ok();
            if let Body::Ws(ws) = self.body_mut(d) {
                ws.out = out;
            }
            if !ok {
                return self.ws_fail(host, d, Fail::Internal, size);
            }
        }
        Next::Continue
    }

    /// A read or write failed: nothing of this direction may pass unread from here on.
    fn ws_fail(&mut self, host: &mut dyn Host, d: Dir, why: Fail, size: usize) -> Next {
        log::error!(
            "streammask: WebSocket {} frames cannot be masked ({why:?}): dropping them",
            d.name()
        );
        let id = self.shared.metrics.dir(d).blocked(why);
        count(host, id, 1);
        *self.body_mut(d) = Body::Dropping;
        self.drop_chunk(host, d, size, false)
    }
}
