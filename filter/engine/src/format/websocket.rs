//! WebSocket messages (RFC 6455 §5) after an upgrade: the frames of one direction of a connection,
//! as a proxy receives them (any split, frames coalesced or cut anywhere, headers included).
//!
//! - **Text messages** (opcode 1 and its continuations) are unmasked with the frame's key, masked as
//!   JSON when the message opens with `{` or `[` (with field rules; a message that does not parse
//!   falls back to text rules, as bodies do) and as text otherwise, with one masker for the whole
//!   message, so a value split across fragments or reads is found.
//! - The output is re-fragmented, as §5.4 allows an intermediary that negotiated no extension:
//!   what the masker has decided when a read ends (or before a control frame passes) leaves as one
//!   frame of the current message (opcode 1 for its first, 0 after, FIN on the last), masked with
//!   the key of the client's latest frame when the frames come from the client. Bytes the masker
//!   holds back (a value that may go on) wait for the next fragment.
//! - **Control frames** (close, ping, pong) and **binary messages** pass byte for byte, in order;
//!   control frames may arrive inside a fragmented text message and still pass at once. A binary
//!   message (or any data frame) that starts while a text message is open ends that message first.
//! - Frames no endpoint may send when no extension was negotiated (the proxy removes
//!   `sec-websocket-extensions` from the upgrade request so none is) cannot be read: a reserved
//!   bit set (an extension's encoding, such as compression), a reserved opcode, a continuation of
//!   no message. They are **dropped**, header and payload, and counted (`dropped`): their bytes
//!   could hold a value in a form no rule reads, and a conforming receiver fails the connection on
//!   them anyway.
//! - A text message holds back at most `limit` bytes (see [`WsMasker::new`]): past it the held bytes
//!   are decided as the end of the message would decide them (a JSON field value held whole is
//!   redacted), never passed raw, and the rest of the message is replaced by [`CUT_MARKER`] (it may
//!   be the rest of the same value); a UTF-8 character cut there is dropped, so the message stays
//!   valid UTF-8.
//! - Client frames leave masked with a fresh key per frame (RFC 6455 §5.3), derived from the
//!   client's own key of its latest frame and a counter.
//!
//! # Invariants
//! - Every input byte is part of a frame passed unchanged (control, binary), of a text frame's
//!   payload, which goes through the message's masker, or of a dropped frame; header bytes of text
//!   frames are rebuilt, never copied, so lengths always describe the payload that follows.
//! - For any split of the input, the messages the output frames carry (payloads unmasked and
//!   joined per message) are the same: the maskers keep the streaming contract of `Masker`, and the
//!   format of a message is decided by its first non-blank byte, which no split can change.
//! - No output frame is empty except the final fragment of a message whose masker held nothing
//!   back, and an empty text message (which is forwarded as one).

use crate::config::Ruleset;
use crate::format::body::BodyStream;
use crate::format::Format;
use crate::masker::BodyMasker;
use crate::search::scan::{cut_char_len, Stats};
use std::sync::Arc;

/// The longest frame header: 2 bytes, a 64-bit length and a masking key.
const MAX_HEADER: usize = 14;

/// Blank bytes before a text message's first byte that are held while its format is undecided;
/// past them the message is text.
const MAX_LEAD: usize = 64;

/// Held-back bytes per text message when the caller sets no limit.
pub const DEFAULT_HELD_LIMIT: usize = 64 * 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Payload of a text message: masked.
    Text,
    /// Passed as it is (control frames, binary messages).
    Pass,
    /// Dropped, header and payload (frames that cannot be read).
    Drop,
}

#[derive(Clone, Copy)]
struct Frame {
    fin: bool,
    key: Option<[u8; 4]>,
    len: u64,
    done: u64,
    kind: Kind,
}

/// A text message in progress.
struct Message {
    /// Decided once the first non-blank byte is seen.
    masker: Option<BodyMasker>,
    lead: Vec<u8>,
    /// A frame of this message has been sent (later ones are continuations).
    started: bool,
    /// The client's latest masking key (client-to-server only).
    key: Option<[u8; 4]>,
    /// The message held more than the limit: its held bytes were decided, the rest is dropped.
    cut: bool,
    /// Its opcode: 1 (text), or 2 (binary, when binary messages are scanned).
    opcode: u8,
}

/// What replaces the rest of a text message that held more than the limit.
pub const CUT_MARKER: &[u8] = b"[streammask: message cut]";

/// Counts of what went through one direction.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WsCounts {
    /// Text messages completed.
    pub text_messages: u64,
    /// Frames passed unchanged (control, binary, and their continuations).
    pub passed_frames: u64,
    /// Frames dropped unread: a reserved bit (an extension's encoding), a reserved opcode, a
    /// continuation of no message.
    pub dropped: u64,
    /// Times a text message's held-back bytes reached the limit and were decided early.
    pub held_limit: u64,
    /// Payload bytes of text messages read (unmasked).
    pub text_bytes: u64,
}

/// Masks the text messages of one direction of a WebSocket connection.
pub struct WsMasker {
    policy: Arc<Ruleset>,
    stats: Stats,
    counts: WsCounts,
    /// Frames come from the client (masked, and the output is masked too).
    from_client: bool,
    limit: usize,
    header: Vec<u8>,
    frame: Option<Frame>,
    msg: Option<Message>,
    /// A binary message is in progress: its continuations pass.
    binary: bool,
    /// Binary messages are scanned as text messages are (see [`WsMasker::scan_binary`]).
    scan_binary: bool,
    /// Decided bytes of the current text message, not yet sent as a frame.
    pending: Vec<u8>,
    scratch: Vec<u8>,
    /// Frames sent masked so far (each gets its own key).
    keys_used: u64,
}

impl WsMasker {
    /// A masker for the frames one side sends: `from_client` for the client's (masked) frames.
    /// `limit` bounds the bytes a text message may hold back (0: [`DEFAULT_HELD_LIMIT`]).
    pub fn new(policy: Arc<Ruleset>, from_client: bool, limit: usize) -> WsMasker {
        WsMasker {
            stats: Stats::for_policy(&policy),
            policy,
            counts: WsCounts::default(),
            from_client,
            limit: if limit == 0 { DEFAULT_HELD_LIMIT } else { limit },
            header: Vec::with_capacity(MAX_HEADER),
            frame: None,
            msg: None,
            binary: false,
            scan_binary: false,
            pending: Vec::new(),
            scratch: Vec::new(),
            keys_used: 0,
        }
    }

    /// Scans binary messages too, as text rules see bytes (for protocols that send text in
    /// binary frames); by default they pass unchanged.
    pub fn scan_binary(mut self, on: bool) -> WsMasker {
        self.scan_binary = on;
        self
    }

    /// What was found so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// What passed so far.
    pub fn counts(&self) -> WsCounts {
        self.counts
    }

    /// Bytes held: an incomplete header and what the current message's masker holds back.
    pub fn held_back(&self) -> usize {
        let m = self
            .msg
            .as_ref()
            .map_or(0, |m| m.lead.len() + m.masker.as_ref().map_or(0, BodyMasker::held_back));
        self.header.len() + m + self.pending.len()
    }

    /// Takes the next bytes of the stream and appends what can leave now to `out`.
    pub fn push(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while !input.is_empty() {
            let Some(mut f) = self.frame else {
                input = self.read_header(input, out);
                continue;
            };
            let n = usize::try_from(f.len - f.done).unwrap_or(usize::MAX).min(input.len());
            let (now, rest) = input.split_at(n);
            match f.kind {
                Kind::Pass => out.extend_from_slice(now),
                Kind::Text => self.text_payload(now, f.key, f.done),
                Kind::Drop => {}
            }
            f.done += n as u64;
            input = rest;
            self.frame = Some(f);
            if f.done == f.len {
                self.end_frame(f, out);
            }
        }
        self.flush(out);
    }

    /// Reads header bytes; once a header is whole, starts its frame (a passed frame's header goes
    /// on at once, after what the current text message has decided).
    fn read_header<'a>(&mut self, input: &'a [u8], out: &mut Vec<u8>) -> &'a [u8] {
        let need = |h: &[u8]| -> usize {
            if h.len() < 2 {
                return 2;
            }
            let ext = match h[1] & 0x7f {
                126 => 2,
                127 => 8,
                _ => 0,
            };
            2 + ext + if h[1] & 0x80 != 0 { 4 } else { 0 }
        };
        let mut i = 0;
        while i < input.len() && self.header.len() < need(&self.header) {
            self.header.push(input[i]);
            i += 1;
        }
        if self.header.len() < need(&self.header) {
            return &input[i..];
        }
        let h = &self.header;
        let (b0, b1) = (h[0], h[1]);
        let (len, at) = match b1 & 0x7f {
            126 => (u64::from(u16::from_be_bytes([h[2], h[3]])), 4),
            127 => {
                let mut l = [0u8; 8];
                l.copy_from_slice(&h[2..10]);
                (u64::from_be_bytes(l), 10)
            }
            l => (u64::from(l), 2),
        };
        let key = (b1 & 0x80 != 0).then(|| [h[at], h[at + 1], h[at + 2], h[at + 3]]);
        let fin = b0 & 0x80 != 0;
        let opcode = b0 & 0x0f;
        let reserved = b0 & 0x70 != 0;
        let kind = match opcode {
            _ if reserved => Kind::Drop,
            1 => Kind::Text,
            2 if self.scan_binary => Kind::Text,
            0 if self.msg.is_some() => Kind::Text,
            0 if self.binary => Kind::Pass,
            2 | 8..=10 => Kind::Pass,
            _ => Kind::Drop,
        };
        let control = opcode >= 8;
        if !control && (opcode != 0 || kind == Kind::Drop) && self.msg.is_some() {
            // a new message (or a frame that cannot belong to one) while a text message is open:
            // the peer broke the protocol; the open message is decided and closed first
            self.finish_message(out);
        }
        match kind {
            Kind::Text => {
                let msg = self.msg.get_or_insert_with(|| Message {
                    masker: None,
                    lead: Vec::new(),
                    started: false,
                    key: None,
                    cut: false,
                    opcode,
                });
                if key.is_some() {
                    msg.key = key;
                }
            }
            Kind::Pass => {
                self.flush(out);
                if !control {
                    self.binary = !fin;
                }
                self.counts.passed_frames += 1;
                out.extend_from_slice(&self.header);
            }
            Kind::Drop => {
                if !control {
                    self.binary = false;
                }
                self.counts.dropped += 1;
            }
        }
        self.header.clear();
        let f = Frame {
            fin,
            key,
            len,
            done: 0,
            kind,
        };
        self.frame = Some(f);
        if len == 0 {
            self.end_frame(f, out);
        }
        &input[i..]
    }

    /// Unmasks payload bytes (the frame's first `done` bytes are behind them) into the message's
    /// masker.
    fn text_payload(&mut self, bytes: &[u8], key: Option<[u8; 4]>, done: u64) {
        self.counts.text_bytes += bytes.len() as u64;
        let Some(k) = key else {
            // server frames are not masked: their payload goes to the masker as it is
            self.message_bytes(bytes);
            return;
        };
        let mut data = std::mem::take(&mut self.scratch);
        data.clear();
        let off = (done % 4) as usize;
        data.extend(bytes.iter().enumerate().map(|(j, b)| b ^ k[(off + j) % 4]));
        self.message_bytes(&data);
        self.scratch = data;
    }

    /// Feeds decoded bytes of the current text message to its masker (deciding its format first).
    fn message_bytes(&mut self, mut data: &[u8]) {
        let policy = Arc::clone(&self.policy);
        let Some(msg) = self.msg.as_mut() else {
            return;
        };
        if msg.cut {
            return;
        }
        if msg.masker.is_none() {
            let blanks = data.iter().take_while(|b| b.is_ascii_whitespace()).count();
            msg.lead.extend_from_slice(&data[..blanks]);
            data = &data[blanks..];
            if data.is_empty() && msg.lead.len() <= MAX_LEAD {
                return;
            }
            let format = match data.first() {
                Some(b'{' | b'[') if msg.opcode == 1 => Format::Json,
                _ => Format::Text,
            };
            let mut m = BodyMasker::of_format(&policy, format);
            let lead = std::mem::take(&mut msg.lead);
            m.push(&policy, &lead, &mut self.stats, &mut self.pending);
            msg.masker = Some(m);
        }
        if let Some(m) = msg.masker.as_mut() {
            m.push(&policy, data, &mut self.stats, &mut self.pending);
            if m.held_back() > self.limit {
                // too much held: decided now as the message's end would decide it, and the rest
                // of the message is dropped (it may be the rest of the same value)
                m.finish(&policy, &mut self.stats, &mut self.pending);
                let keep = self.pending.len() - cut_char_len(&self.pending);
                self.pending.truncate(keep);
                self.pending.extend_from_slice(CUT_MARKER);
                self.counts.held_limit += 1;
                msg.cut = true;
            }
        }
    }

    fn end_frame(&mut self, f: Frame, out: &mut Vec<u8>) {
        self.frame = None;
        if f.kind == Kind::Text && f.fin {
            self.finish_message(out);
        }
    }

    /// Ends the current text message: everything its masker holds is decided and leaves in its
    /// final frame.
    fn finish_message(&mut self, out: &mut Vec<u8>) {
        let Some(mut msg) = self.msg.take() else {
            return;
        };
        if msg.cut {
            let opcode = if msg.started { 0 } else { msg.opcode };
            self.emit(out, true, opcode, msg.key);
            self.counts.text_messages += 1;
            return;
        }
        let policy = Arc::clone(&self.policy);
        let mut m = msg
            .masker
            .take()
            .unwrap_or_else(|| BodyMasker::of_format(&policy, Format::Text));
        let lead = std::mem::take(&mut msg.lead);
        m.push(&policy, &lead, &mut self.stats, &mut self.pending);
        m.finish(&policy, &mut self.stats, &mut self.pending);
        let opcode = if msg.started { 0 } else { msg.opcode };
        self.emit(out, true, opcode, msg.key);
        self.counts.text_messages += 1;
    }

    /// Sends what the current text message has decided as a non-final frame of it.
    fn flush(&mut self, out: &mut Vec<u8>) {
        if self.pending.is_empty() {
            return;
        }
        let Some(msg) = self.msg.as_mut() else {
            return;
        };
        let opcode = if msg.started { 0 } else { msg.opcode };
        msg.started = true;
        let key = msg.key;
        self.emit(out, false, opcode, key);
    }

    /// Appends `pending` as one frame (masked, when the frames come from the client, with a key
    /// of its own derived from the client's `key`).
    fn emit(&mut self, out: &mut Vec<u8>, fin: bool, opcode: u8, key: Option<[u8; 4]>) {
        let key = match key {
            Some(k) if self.from_client => {
                self.keys_used += 1;
                Some(frame_key(k, self.keys_used))
            }
            _ => None,
        };
        write_frame(out, fin, opcode, key, &self.pending);
        self.pending.clear();
    }
}

/// A masking key for the `n`th frame sent on a client's behalf: the client's own (unpredictable)
/// key and the counter through a 64-bit mixer (SplitMix64's finaliser), so no two frames share a
/// key and none can be predicted without the client's.
fn frame_key(client: [u8; 4], n: u64) -> [u8; 4] {
    let mut z = (u64::from(u32::from_le_bytes(client)) << 32 ^ n).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let b = z.to_le_bytes();
    [b[0], b[1], b[2], b[3]]
}

/// Appends one frame: header (the shortest length form) and the payload, masked with `key` if given.
pub fn write_frame(out: &mut Vec<u8>, fin: bool, opcode: u8, key: Option<[u8; 4]>, payload: &[u8]) {
    out.push(if fin { 0x80 } else { 0 } | (opcode & 0x0f));
    let m = if key.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(m | n as u8),
        n if n <= 0xffff => {
            out.push(m | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(m | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match key {
        Some(k) => {
            out.extend_from_slice(&k);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
}
