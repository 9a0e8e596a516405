//! The body side of a stream: each chunk read whole, decoded in bounded windows, masked and written
//! back; the held-back tail kept in the host (paused) or in filter memory; trailers; the counts at
//! the end of a body; failures after bytes left.
//!
//! # Invariants
//! - Bytes leave in input order: each write is the paused output kept in the host (`paused_out`)
//!   followed by this chunk's decided output, as a full replacement; what the host re-delivers
//!   after a Pause (`held_in_host`) is skipped, so no byte is masked twice or lost.
//! - A body pauses only on hosts with `repeated_body_pause`, before its end, while the masker
//!   holds bytes and the paused output stays within `max_paused_bytes`; otherwise everything
//!   decided is released. Report mode never writes a body.
//! - Decoded output is bounded per chunk (`max_decoded_bytes_per_chunk`) and memory is checked
//!   after every window; those limits and decode errors always block, whatever `on_error` says.
//! - A body ends once (`Scan` → `Done`, counted once per label, as masked or reported) or turns
//!   `Dropping`: every later byte is dropped, and an eos call gets `BLOCKED_MARKER`, never nothing.

use super::findings::findings_line;
use super::{count, Body, Next, StreamFilter, BLOCKED_MARKER};
use crate::decode::DecodeError;
use crate::host::{Dir, Host};
use crate::metrics::{Fail, Outcome};
use crate::policy::OnError;
use streammask_engine::{Budget, Masker};

/// The bulk-exposure guards of one body while a chunk is masked.
struct Guard<'a> {
    budgets: &'a [Budget],
    crossed: &'a mut [bool],
    enforce: bool,
    /// Guards crossed for the first time in this chunk.
    newly: Vec<usize>,
    /// Where the output is cut: where the value that crossed a blocking guard starts.
    cut: Option<usize>,
}

impl<'a> Guard<'a> {
    fn new(budgets: &'a [Budget], crossed: &'a mut [bool], enforce: bool) -> Guard<'a> {
        Guard {
            budgets,
            crossed,
            enforce,
            newly: Vec::new(),
            cut: None,
        }
    }

    /// Checks the guards after output grew from `before` bytes; true when a blocking guard was
    /// crossed (the cut is where the masker saw the crossing value start, else `before`).
    /// Checks the guards after a call that appended `out[before..]`, which starts at `offset` in
    /// the body's whole output; true when a blocking guard was crossed (the cut is where the
    /// masker saw the crossing value start, within this output; at its start if it cannot tell).
    fn check(&mut self, masker: &Masker, before: usize, offset: u64, out: &[u8]) -> bool {
        for (i, b) in self.budgets.iter().enumerate() {
            let Some(seen) = self.crossed.get_mut(i) else { continue };
            if !*seen && masker.stats().exceeds(b) {
                *seen = true;
                self.newly.push(i);
                if b.block && self.enforce && self.cut.is_none() {
                    let within = masker
                        .cut()
                        .and_then(|c| c.checked_sub(offset))
                        .and_then(|c| usize::try_from(c).ok());
                    self.cut = Some(within.map_or(before, |c| before.saturating_add(c).min(out.len())));
                }
            }
        }
        self.cut.is_some()
    }

    /// Masks `input` into `out` and checks the guards. False when a blocking guard was crossed.
    fn push(&mut self, masker: &mut Masker, input: &[u8], out: &mut Vec<u8>) -> bool {
        let (before, offset) = (out.len(), masker.bytes_out());
        masker.push(input, out);
        self.budgets.is_empty() || !self.check(masker, before, offset, out)
    }

    /// Ends the body's masking into `out`, then checks the guards.
    fn finish(&mut self, masker: &mut Masker, out: &mut Vec<u8>) {
        let (before, offset) = (out.len(), masker.bytes_out());
        masker.finish(out);
        if !self.budgets.is_empty() {
            self.check(masker, before, offset, out);
        }
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

impl StreamFilter {
    pub(super) fn on_body(&mut self, host: &mut dyn Host, d: Dir, size: usize, eos: bool) -> Next {
        match self.body_mut(d) {
            Body::Scan(_) => {}
            Body::Ws(_) => return self.on_ws(host, d, size),
            Body::Dropping => return self.drop_chunk(host, d, size, eos),
            _ => return Next::Continue,
        }
        self.clock_start(host, d);
        let r = self.scan_chunk(host, d, size, eos);
        self.clock_stop(host, d);
        match r {
            Ok(next) => next,
            Err(why) => self.fail_body(host, d, why, size, eos),
        }
    }

    /// Notes when this callback's work on a scanned body started (when the time histogram is on).
    fn clock_start(&mut self, host: &dyn Host, d: Dir) {
        if self.shared.metrics.dir(d).body_time.is_none() {
            return;
        }
        if let Body::Scan(scan) = self.body_mut(d) {
            scan.started = host.now_nanos().ok();
        }
    }

    /// Adds the time since `clock_start` to the body's total, if the body is still being scanned.
    fn clock_stop(&mut self, host: &dyn Host, d: Dir) {
        if let Body::Scan(scan) = self.body_mut(d) {
            if let Some(t0) = scan.started.take() {
                if let Ok(t1) = host.now_nanos() {
                    scan.busy_ns += t1.saturating_sub(t0);
                }
            }
        }
    }

    /// Reads, decodes and masks one chunk and writes (or, under a Pause, keeps) what was decided;
    /// ends the body when this call ends it. `Err` leaves the failure to `fail_body`.
    fn scan_chunk(&mut self, host: &mut dyn Host, d: Dir, size: usize, eos: bool) -> Result<Next, Fail> {
        let caps = self.shared.caps;
        let max_paused = self.policy.limits.max_paused_bytes;
        let limits = self.policy.limits;
        let policy = self.policy.clone();
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
        if scan.decoder.is_none() {
            // the output is about as long as the input: one allocation, not a doubling series
            // (each step of which holds the old and the new block at once)
            scan.out.reserve(new.len() + new.len() / 8 + 64);
        }
        let mut guard = Guard::new(&policy.budgets, &mut scan.crossed, scan.enforce);
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
                let whole = guard.push(masker, w, out);
                *scanned += w.len() as u64;
                if !whole {
                    stop = Some(Fail::Bulk);
                    return false;
                }
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
                let why = stop.unwrap_or_else(|| decode_fail(e));
                if why != Fail::Bulk {
                    return Err(why);
                }
            }
        } else {
            let whole = guard.push(&mut scan.masker, new, &mut scan.out);
            scan.scanned += new.len() as u64;
            // a crossed blocking guard is handled first (counted and logged, then the body stops)
            if whole && over_budget() {
                return Err(Fail::Memory);
            }
        }
        if end && guard.cut.is_none() {
            guard.finish(&mut scan.masker, &mut scan.out);
        }
        let (newly, cut) = (std::mem::take(&mut guard.newly), guard.cut);
        if !newly.is_empty() {
            self.bulk_crossed(host, d, &newly);
        }
        if let Some(cut) = cut {
            return Err(self.cut_body(host, d, cut, eos));
        }
        let Body::Scan(scan) = self.body_mut(d) else {
            return Ok(Next::Continue);
        };
        if !scan.enforce {
            // Report mode: count, change nothing.
            if end {
                self.finish(host, d);
            }
            return Ok(Next::Continue);
        }
        let held = scan.masker.held_back() as u64;
        let hold = caps.repeated_body_pause && !end && held > 0;
        let next = if hold && scan.paused_out.len() + scan.out.len() <= max_paused {
            // Keep the decided bytes in the host, paused, so a trailers callback can still append
            // the tail; they are released with the next chunk that leaves nothing held.
            scan.paused_out.extend_from_slice(&scan.out);
            if scan.paused_out != chunk {
                host.set_body(d, &scan.paused_out).map_err(|_| Fail::Internal)?;
            }
            scan.held_in_host = scan.paused_out.len();
            scan.paused = true;
            scan.held_max = scan.held_max.max(held + scan.paused_out.len() as u64);
            Next::Pause
        } else {
            // Release everything decided; without paused bytes the output is written as it is
            // (no extra copy of a large chunk).
            let data: &[u8] = if scan.paused_out.is_empty() {
                &scan.out
            } else {
                scan.paused_out.extend_from_slice(&scan.out);
                &scan.paused_out
            };
            if data != chunk.as_slice() && !(size == 0 && data.is_empty()) {
                host.set_body(d, data).map_err(|_| Fail::Internal)?;
            }
            scan.paused_out.clear();
            scan.held_in_host = 0;
            scan.paused = false;
            // a stream keeps no output buffer between callbacks: with many streams open,
            // retained capacity is what fills the VM's memory (allocating again is cheap next to
            // masking what fills it)
            scan.out = Vec::new();
            scan.paused_out = Vec::new();
            scan.held_max = scan.held_max.max(held);
            Next::Continue
        };
        if end {
            self.finish(host, d);
        }
        Ok(next)
    }

    /// Counts and logs the bulk-exposure guards crossed for the first time (indexes into the
    /// policy's `budgets`): blocked, reported, or (report mode) would have blocked.
    fn bulk_crossed(&mut self, host: &mut dyn Host, d: Dir, newly: &[usize]) {
        let empty = crate::metrics::LabelMetrics::default();
        let labels = self.shared.metrics.labels(self.pidx, d).unwrap_or(&empty);
        for &i in newly {
            let Some(b) = self.policy.budgets.get(i) else { continue };
            let outcome = match (b.block, self.enforce) {
                (true, true) => Outcome::Blocked,
                (true, false) => Outcome::WouldBlock,
                (false, _) => Outcome::Reported,
            };
            count(host, labels.bulk(i, outcome), 1);
            log::warn!(
                "streammask: bulk guard: {} body of policy {} holds more than {} values of {} ({})",
                d.name(),
                self.shared.set.names().nth(self.pidx).unwrap_or("default"),
                b.max,
                self.policy.budget_name(b),
                outcome.name()
            );
        }
    }

    /// A blocking bulk-exposure guard was crossed: what was decided before the piece that crossed
    /// it leaves (masked), nothing after it does. Returns the failure that stops the stream.
    fn cut_body(&mut self, host: &mut dyn Host, d: Dir, cut: usize, eos: bool) -> Fail {
        let Body::Scan(scan) = self.body_mut(d) else {
            return Fail::Bulk;
        };
        scan.out.truncate(cut);
        let mut data = std::mem::take(&mut scan.paused_out);
        data.extend_from_slice(&scan.out);
        if eos {
            // never an eos call without its end: the client sees the body was stopped
            data.extend_from_slice(BLOCKED_MARKER);
        }
        if let Err(e) = host.set_body(d, &data) {
            log::error!("streammask: cannot write the body cut by the bulk guard: {e}");
            // fall back to dropping the whole chunk
            let _ = host.set_body(d, if eos { BLOCKED_MARKER } else { b"" });
        }
        Fail::Bulk
    }

    pub(super) fn on_trailers(&mut self, host: &mut dyn Host, d: Dir) -> Next {
        self.clock_start(host, d);
        let next = self.trailers(host, d);
        self.clock_stop(host, d);
        next
    }

    fn trailers(&mut self, host: &mut dyn Host, d: Dir) -> Next {
        let policy = self.policy.clone();
        let Body::Scan(scan) = self.body_mut(d) else {
            return Next::Continue;
        };
        scan.out.clear();
        let mut failed = None;
        let mut guard = Guard::new(&policy.budgets, &mut scan.crossed, scan.enforce);
        if let Some(dec) = scan.decoder.as_mut() {
            let (masker, out) = (&mut scan.masker, &mut scan.out);
            if let Err(e) = dec.finish(&mut |w: &[u8]| guard.push(masker, w, out)) {
                failed = Some(decode_fail(e));
            }
        }
        if guard.cut.is_none() {
            guard.finish(&mut scan.masker, &mut scan.out);
        }
        if let Some(cut) = guard.cut {
            // the tail from the crossing on never leaves
            scan.out.truncate(cut);
            failed = Some(Fail::Bulk);
        }
        let newly = std::mem::take(&mut guard.newly);
        if !newly.is_empty() {
            self.bulk_crossed(host, d, &newly);
        }
        let Body::Scan(scan) = self.body_mut(d) else {
            return Next::Continue;
        };
        if scan.enforce && failed.is_none() {
            scan.paused_out.extend_from_slice(&scan.out);
            if scan.paused {
                if host.set_body(d, &scan.paused_out).is_err() {
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
                count(host, id, 1);
                if why == Fail::Bulk {
                    log::error!("streammask: {} body tail withheld by the bulk guard", d.name());
                } else {
                    log::error!(
                        "streammask: {} body tail could not be written before trailers; the body is incomplete",
                        d.name()
                    );
                }
                *self.body_mut(d) = Body::Dropping;
                Next::Continue
            }
        }
    }

    /// Counts what a finished body held.
    fn finish(&mut self, host: &mut dyn Host, d: Dir) {
        let Body::Scan(scan) = std::mem::replace(self.body_mut(d), Body::Done) else {
            return;
        };
        let m = self.shared.metrics.dir(d);
        let stats = scan.masker.stats();
        let policy = self.policy.clone();
        let hits = stats.hits().iter();
        let empty = crate::metrics::LabelMetrics::default();
        let labels = self.shared.metrics.labels(self.pidx, d).unwrap_or(&empty);
        let ids = if scan.enforce { &labels.masked } else { &labels.reported };
        let mut summary = String::new();
        for ((n, id), name) in hits.zip(ids).zip(policy.label_names()) {
            count(host, *id, *n);
            if *n > 0 && policy.debug_log {
                summary.push_str(&format!(" {name}={n}"));
            }
        }
        if policy.ruleset.findings_log && stats.total() > 0 {
            log::info!(
                "{}",
                findings_line(&self.shared.set, self.pidx, &policy, d, scan.enforce, stats)
            );
        }
        count(host, m.bytes_scanned, scan.scanned);
        if let Some(id) = m.body_time {
            let mut ns = scan.busy_ns;
            if let Some(t0) = scan.started {
                if let Ok(t1) = host.now_nanos() {
                    ns += t1.saturating_sub(t0);
                }
            }
            let _ = host.record(id, ns / 1000);
        }
        if let Some(id) = m.held_bytes {
            let _ = host.record(id, scan.held_max);
        }
        if let Some(id) = self.shared.metrics.vm_memory {
            let bytes = host.vm_memory_bytes();
            let last = &self.shared.vm_memory_recorded;
            if bytes > 0 && last.load(std::sync::atomic::Ordering::Relaxed) != bytes && host.record(id, bytes).is_ok() {
                last.store(bytes, std::sync::atomic::Ordering::Relaxed);
            }
        }
        count(host, m.json_fallbacks, stats.json_fallbacks + stats.depth_fallbacks);
        if policy.debug_log {
            log::debug!(
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
            );
        }
    }

    /// A failure after bytes may have left: reset the stream where the host can, otherwise drop
    /// every further byte. `on_error: pass` lets the rest through (not for decode errors: the
    /// encoding header is gone, the raw bytes would be garbage; nor for a limit, see
    /// `Fail::always_blocks`).
    fn fail_body(&mut self, host: &mut dyn Host, d: Dir, why: Fail, size: usize, eos: bool) -> Next {
        let m = self.shared.metrics.dir(d);
        // decode errors cannot pass (the encoding header is gone, raw bytes would be garbage) and
        // limits never do (passing would hand the attacker the body; decoding on is the attack)
        let passable = !matches!(why, Fail::Decode | Fail::Truncated) && !why.always_blocks();
        if self.policy.on_error == OnError::Pass && passable {
            return self.pass_unmasked(host, d, why, "an error after the body started");
        }
        if !self.enforce {
            // report mode: the bytes so far went out as they came; the rest does too
            return self.pass_unmasked(host, d, why, "an error after the body started (report mode)");
        }
        count(host, m.blocked(why), 1);
        log::error!("streammask: {} body blocked mid-stream ({why:?})", d.name());
        *self.body_mut(d) = Body::Dropping;
        if d == Dir::Request || self.shared.caps.local_reply_resets_stream {
            let status = match why {
                Fail::Unreadable => 413,
                Fail::Bulk if d == Dir::Request => 403,
                _ => 502,
            };
            if host
                .send_response(status, &[("content-type", "text/plain")], b"streammask: body blocked\n")
                .is_ok()
            {
                return Next::Pause;
            }
        }
        if why == Fail::Bulk {
            // this chunk already holds what leaves (`cut_body`); later chunks are dropped
            return Next::Continue;
        }
        self.drop_chunk(host, d, size, eos)
    }

    /// Replaces the chunk with nothing (with `BLOCKED_MARKER` at eos); an empty non-eos call is
    /// left alone.
    pub(super) fn drop_chunk(&mut self, host: &mut dyn Host, d: Dir, size: usize, eos: bool) -> Next {
        // Never leave an eos call empty (NGINX would never complete the response).
        let data: &[u8] = if eos { BLOCKED_MARKER } else { b"" };
        if size > 0 || eos {
            if let Err(e) = host.set_body(d, data) {
                log::error!("streammask: cannot drop blocked bytes: {e}");
            }
        }
        Next::Continue
    }
}
