//! Bounded, streaming decoders for the HTTP content codings `gzip`, `deflate`, `br` and `zstd`, so
//! masking sees plain text and the body leaves uncompressed. Anything else is refused by the caller
//! ([`Coding::parse`] says which).
//!
//! All four decoders are pure Rust (flate2 on miniz_oxide, brotli-decompressor, ruzstd), so the
//! module builds for `wasm32-wasip1`.
//!
//! # Invariants
//!
//! - **Nothing grows with the decoded size.** Decoded bytes are produced into one fixed output
//!   window of `DecodeLimits::output_window` bytes and handed to `emit` before more is decoded. What
//!   a decoder holds is bounded by: the output window, the coding's back-reference window (32 KiB
//!   for gzip/deflate, at most `max_window` for br and zstd) plus its tables, and for zstd one
//!   decoded block (128 KiB) in ruzstd's buffer and one buffered block of compressed input (at most
//!   128 KiB + 7 bytes). [`Decoder::memory`] reports it. Measured: about 80 KiB for gzip/deflate,
//!   the window plus about 80 KiB for br, the window plus 0.3–0.6 MiB for zstd.
//! - **Limits are checked as bytes are produced**, before each window is handed over: a window that
//!   would take the stream past `max_total` decoded bytes, or past `max_ratio` decoded bytes per
//!   compressed byte consumed (once more than `ratio_floor` bytes were decoded), is not handed over
//!   and decoding stops. A decompression bomb therefore costs at most `ratio_floor` plus one window of
//!   output and no allocation proportional to what it would inflate to.
//! - **zstd output lags by up to one frame window**: ruzstd keeps the last `window` decoded bytes
//!   of a frame for back-references and only hands them over once more is decoded or the frame
//!   ends (a body smaller than its frame window comes out whole at the end of the frame). gzip,
//!   deflate and br hand over everything decoded at each `push`.
//! - **Windows are checked before they are allocated**: a brotli stream's WBITS (first byte, RFC
//!   7932 §9.1) and a zstd frame's window (its header) are read before the decoder sees them; a
//!   window above `max_window`, and brotli's large-window extension, are refused.
//! - **Any split of the input gives the same result**: `push` takes the compressed stream in pieces
//!   of any size, down to one byte (headers, trailers and zstd blocks split anywhere).
//! - **Errors are final**: after an `Err`, every later `push`/`finish` returns the same error and
//!   emits nothing; the decoder's memory is released at once.
//! - **No panics** on any input: every slice access here is checked (a panic in the proxy is an
//!   outage). The decoders underneath are fuzzed upstream; the tests feed them damaged streams in
//!   every split.
//!
//! # Strictness
//!
//! gzip: the header is checked (ID, CM 8, reserved flags, FNAME/FCOMMENT at most 1024 bytes, the
//! FHCRC when present), as is each member's trailer (CRC32 and ISIZE); members may follow each
//! other; anything else after a member is `Corrupt`. deflate: zlib-wrapped or raw, told apart by the
//! first two bytes; bytes after the end are `Corrupt`. br: bytes after the end are `Corrupt`. zstd:
//! several frames and skippable frames; the content checksum and the declared content size are
//! checked; dictionaries are not supported (`Corrupt`). An input that ends inside a stream is
//! `Truncated`. A body with no bytes at all is accepted as empty for every coding.

use brotli_decompressor::{BrotliDecompressStream, BrotliResult, BrotliState, SliceWrapper, StandardAlloc};
use flate2::{Crc, Decompress, FlushDecompress, Status};
use ruzstd::decoding::errors::FrameDecoderError;
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};
use std::io::Read;

/// A content coding the filter can undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// `gzip` / `x-gzip` (RFC 1952), one or more members.
    Gzip,
    /// `deflate`: zlib-wrapped (RFC 1950) by the standard, raw deflate (RFC 1951) by some servers.
    Deflate,
    /// `br` (RFC 7932).
    Brotli,
    /// `zstd` (RFC 8878).
    Zstd,
}

impl Coding {
    /// Parses a `content-encoding` value. `Ok(None)`: identity (absent, empty, `identity`). `Err(())`:
    /// a coding we cannot decode (compress, several codings stacked, unknown). Accepts `gzip`,
    /// `x-gzip`, `deflate`, `br`, `zstd` (case-insensitive, surrounding spaces).
    #[allow(clippy::result_unit_err)]
    pub fn parse(value: Option<&str>) -> Result<Option<Coding>, ()> {
        let Some(v) = value else { return Ok(None) };
        let mut found = None;
        for part in v.split(',').map(str::trim) {
            if part.is_empty() || part.eq_ignore_ascii_case("identity") {
                continue;
            }
            let coding = if part.eq_ignore_ascii_case("gzip") || part.eq_ignore_ascii_case("x-gzip") {
                Coding::Gzip
            } else if part.eq_ignore_ascii_case("deflate") {
                Coding::Deflate
            } else if part.eq_ignore_ascii_case("br") {
                Coding::Brotli
            } else if part.eq_ignore_ascii_case("zstd") {
                Coding::Zstd
            } else {
                return Err(());
            };
            if found.is_some() {
                // Several codings stacked.
                return Err(());
            }
            found = Some(coding);
        }
        Ok(found)
    }

    /// `"gzip"`, `"deflate"`, `"br"`, `"zstd"` (metric label).
    pub fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
        }
    }
}

/// Bounds on one stream's decoding.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Total decoded bytes per stream.
    pub max_total: u64,
    /// Decoded bytes per compressed byte consumed, checked cumulatively inside the decode loop once
    /// `ratio_floor` bytes were decoded.
    pub max_ratio: u64,
    /// Decoded bytes below which the ratio is not checked (small bodies compress very well).
    pub ratio_floor: u64,
    /// Largest back-reference window a stream may ask for (brotli window, zstd frame window).
    /// Deflate's is 32 KiB.
    pub max_window: usize,
    /// Size of the output windows handed to `emit` (tens of KiB; at least 1 is used).
    pub output_window: usize,
}

impl Default for DecodeLimits {
    /// 1 GiB in total, at most 100:1 past the first MiB, windows up to 8 MiB, 32 KiB output windows.
    fn default() -> Self {
        DecodeLimits {
            max_total: 1 << 30,
            max_ratio: 100,
            ratio_floor: 1 << 20,
            max_window: 8 << 20,
            output_window: 32 << 10,
        }
    }
}

/// Why decoding stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The compressed data is invalid (bad header, bad checksum, garbage after the end).
    Corrupt,
    /// The input ended before the compressed stream did.
    Truncated,
    /// More than `max_total` decoded bytes.
    TooLarge,
    /// More than `max_ratio` decoded bytes per compressed byte (a decompression bomb).
    Ratio,
    /// The stream asks for a window larger than `max_window`.
    Window,
    /// `emit` asked to stop.
    Stopped,
}

impl DecodeError {
    /// The metric/log label: `decode_error`, `truncated`, `decoded_size`, `decode_ratio`,
    /// `decode_window`, `stopped`.
    pub fn reason(self) -> &'static str {
        match self {
            DecodeError::Corrupt => "decode_error",
            DecodeError::Truncated => "truncated",
            DecodeError::TooLarge => "decoded_size",
            DecodeError::Ratio => "decode_ratio",
            DecodeError::Window => "decode_window",
            DecodeError::Stopped => "stopped",
        }
    }
}

/// What `emit` is: takes one window of decoded bytes, returns false to stop.
type Emit<'a> = dyn FnMut(&[u8]) -> bool + 'a;

/// The output window and the counters every coding shares; the limits are enforced here.
struct Sink {
    limits: DecodeLimits,
    /// Bytes handed to `emit`.
    decoded: u64,
    /// Compressed bytes consumed by the decoder.
    consumed: u64,
    /// The output window, allocated on the first input.
    window: Vec<u8>,
}

impl Sink {
    /// The output window, allocated on first use (`output_window` bytes, at least 1).
    fn window(&mut self) -> &mut [u8] {
        if self.window.is_empty() {
            self.window = vec![0; self.limits.output_window.max(1)];
        }
        &mut self.window
    }

    /// Hands the first `n` bytes of the window to `emit`, unless they would break a limit.
    fn deliver(&mut self, n: usize, emit: &mut Emit<'_>) -> Result<(), DecodeError> {
        if n == 0 {
            return Ok(());
        }
        let data = self.window.get(..n).ok_or(DecodeError::Corrupt)?;
        let next = self.decoded.saturating_add(n as u64);
        if next > self.limits.max_total {
            return Err(DecodeError::TooLarge);
        }
        if next > self.limits.ratio_floor && next > self.consumed.saturating_mul(self.limits.max_ratio) {
            return Err(DecodeError::Ratio);
        }
        self.decoded = next;
        if emit(data) {
            Ok(())
        } else {
            Err(DecodeError::Stopped)
        }
    }
}

/// Heap held by a miniz_oxide inflate state (32 KiB dictionary + Huffman tables), rounded up; the
/// tests check it against the allocator.
const INFLATE_STATE: usize = 48 << 10;

/// Runs `z` over `input` until the input is used up (and pending output flushed) or the deflate
/// stream ends. Returns the bytes of `input` used and whether the stream ended. Decoded bytes go
/// through the sink's window (and into `crc` when given).
fn inflate(
    z: &mut Decompress,
    mut input: &[u8],
    sink: &mut Sink,
    mut crc: Option<&mut Crc>,
    emit: &mut Emit<'_>,
) -> Result<(usize, bool), DecodeError> {
    let mut used_total = 0;
    loop {
        let (in0, out0) = (z.total_in(), z.total_out());
        let window = sink.window();
        let room = window.len();
        let status = z
            .decompress(input, window, FlushDecompress::None)
            .map_err(|_| DecodeError::Corrupt)?;
        let used = usize::try_from(z.total_in().wrapping_sub(in0)).map_err(|_| DecodeError::Corrupt)?;
        let produced = usize::try_from(z.total_out().wrapping_sub(out0)).map_err(|_| DecodeError::Corrupt)?;
        if produced > room {
            return Err(DecodeError::Corrupt);
        }
        input = input.get(used..).ok_or(DecodeError::Corrupt)?;
        used_total += used;
        sink.consumed += used as u64;
        if let Some(c) = crc.as_deref_mut() {
            c.update(sink.window.get(..produced).ok_or(DecodeError::Corrupt)?);
        }
        sink.deliver(produced, emit)?;
        if status == Status::StreamEnd {
            return Ok((used_total, true));
        }
        if used == 0 && produced == 0 {
            // No progress: all input is inside the inflater and nothing is pending. With input left
            // this cannot happen on a valid stream.
            return if input.is_empty() {
                Ok((used_total, false))
            } else {
                Err(DecodeError::Corrupt)
            };
        }
        if input.is_empty() && produced < room {
            // Everything given was used and the output did not fill the window: nothing is pending.
            return Ok((used_total, false));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// gzip

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
/// Longest FNAME or FCOMMENT accepted (bytes before the NUL).
const MAX_HEADER_STRING: usize = 1024;

/// Where the gzip header parser is (RFC 1952 §2.3), in header order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum HeadStep {
    /// ID1 ID2 CM FLG MTIME(4) XFL OS.
    Fixed,
    /// FEXTRA's 2-byte XLEN.
    ExtraLen,
    /// FEXTRA's payload (skipped).
    Extra,
    /// FNAME, NUL-terminated.
    Name,
    /// FCOMMENT, NUL-terminated.
    Comment,
    /// FHCRC: the low 16 bits of the CRC32 of the header bytes before it.
    Hcrc,
    Done,
}

/// A gzip member header parser that takes its bytes in any split, holding no buffer.
struct GzHeader {
    step: HeadStep,
    /// Bytes of the current step seen so far; in `Extra`, bytes still to skip.
    n: usize,
    flags: u8,
    /// Little-endian accumulator for XLEN and the CRC16.
    acc: u16,
    /// CRC32 of the header bytes, for FHCRC.
    crc: Crc,
}

impl GzHeader {
    fn new() -> GzHeader {
        GzHeader {
            step: HeadStep::Fixed,
            n: 0,
            flags: 0,
            acc: 0,
            crc: Crc::new(),
        }
    }

    /// No byte of this header was seen (a clean boundary between members).
    fn fresh(&self) -> bool {
        self.step == HeadStep::Fixed && self.n == 0
    }

    /// The step after `step`, skipping fields the flags say are absent.
    fn after(&self, step: HeadStep) -> HeadStep {
        let candidates = [
            (HeadStep::ExtraLen, FEXTRA),
            (HeadStep::Name, FNAME),
            (HeadStep::Comment, FCOMMENT),
            (HeadStep::Hcrc, FHCRC),
        ];
        candidates
            .iter()
            .find(|(s, flag)| *s > step && self.flags & flag != 0)
            .map_or(HeadStep::Done, |(s, _)| *s)
    }

    fn enter(&mut self, step: HeadStep) {
        self.step = step;
        self.n = 0;
        self.acc = 0;
    }

    /// Takes header bytes from `input`; returns how many were used (all of them unless the header
    /// ended inside `input`). `step == Done` afterwards when the header is complete.
    fn feed(&mut self, input: &[u8]) -> Result<usize, DecodeError> {
        let mut i = 0;
        while self.step != HeadStep::Done {
            if self.step == HeadStep::Extra {
                let rest = input.get(i..).unwrap_or_default();
                let k = self.n.min(rest.len());
                self.crc.update(rest.get(..k).unwrap_or_default());
                self.n -= k;
                i += k;
                if self.n == 0 {
                    let next = self.after(HeadStep::Extra);
                    self.enter(next);
                    continue;
                }
                break;
            }
            let Some(&b) = input.get(i) else { break };
            i += 1;
            if self.step != HeadStep::Hcrc {
                self.crc.update(&[b]);
            }
            match self.step {
                HeadStep::Fixed => {
                    let ok = match self.n {
                        0 => b == 0x1f,
                        1 => b == 0x8b,
                        2 => b == 8,
                        3 => {
                            self.flags = b;
                            b & 0xe0 == 0
                        }
                        _ => true,
                    };
                    if !ok {
                        return Err(DecodeError::Corrupt);
                    }
                    self.n += 1;
                    if self.n == 10 {
                        let next = self.after(HeadStep::Fixed);
                        self.enter(next);
                    }
                }
                HeadStep::ExtraLen => {
                    self.acc |= u16::from(b) << (8 * self.n);
                    self.n += 1;
                    if self.n == 2 {
                        let xlen = usize::from(self.acc);
                        if xlen == 0 {
                            let next = self.after(HeadStep::Extra);
                            self.enter(next);
                        } else {
                            self.enter(HeadStep::Extra);
                            self.n = xlen;
                        }
                    }
                }
                HeadStep::Name | HeadStep::Comment => {
                    if b == 0 {
                        let next = self.after(self.step);
                        self.enter(next);
                    } else {
                        self.n += 1;
                        if self.n > MAX_HEADER_STRING {
                            return Err(DecodeError::Corrupt);
                        }
                    }
                }
                HeadStep::Hcrc => {
                    self.acc |= u16::from(b) << (8 * self.n);
                    self.n += 1;
                    if self.n == 2 {
                        if self.acc != (self.crc.sum() & 0xffff) as u16 {
                            return Err(DecodeError::Corrupt);
                        }
                        self.enter(HeadStep::Done);
                    }
                }
                HeadStep::Extra | HeadStep::Done => {}
            }
        }
        Ok(i)
    }
}

/// Where a gzip stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GzPhase {
    /// A member header (or, when the parser is fresh, the end of the stream).
    Header,
    /// The member's deflate data.
    Body,
    /// The member's 8-byte trailer (CRC32, ISIZE).
    Trailer,
}

/// gzip: members one after another, each header, deflate data, trailer.
struct Gzip {
    phase: GzPhase,
    header: GzHeader,
    inflate: Decompress,
    /// CRC32 and length (mod 2^32) of the current member's decoded bytes.
    crc: Crc,
    trailer: [u8; 8],
    trailer_len: usize,
    /// Members completed.
    members: u64,
}

impl Gzip {
    fn new() -> Gzip {
        Gzip {
            phase: GzPhase::Header,
            header: GzHeader::new(),
            inflate: Decompress::new(false),
            crc: Crc::new(),
            trailer: [0; 8],
            trailer_len: 0,
            members: 0,
        }
    }

    fn push(&mut self, mut input: &[u8], sink: &mut Sink, emit: &mut Emit<'_>) -> Result<(), DecodeError> {
        while !input.is_empty() {
            match self.phase {
                GzPhase::Header => {
                    let used = self.header.feed(input)?;
                    sink.consumed += used as u64;
                    input = input.get(used..).unwrap_or_default();
                    if self.header.step == HeadStep::Done {
                        self.inflate.reset(false);
                        self.crc.reset();
                        self.phase = GzPhase::Body;
                    }
                }
                GzPhase::Body => {
                    let (used, ended) = inflate(&mut self.inflate, input, sink, Some(&mut self.crc), emit)?;
                    input = input.get(used..).unwrap_or_default();
                    if ended {
                        self.phase = GzPhase::Trailer;
                        self.trailer_len = 0;
                    }
                }
                GzPhase::Trailer => {
                    let free = self.trailer.get_mut(self.trailer_len..).unwrap_or_default();
                    let k = free.len().min(input.len());
                    free.get_mut(..k)
                        .unwrap_or_default()
                        .copy_from_slice(input.get(..k).unwrap_or_default());
                    self.trailer_len += k;
                    sink.consumed += k as u64;
                    input = input.get(k..).unwrap_or_default();
                    if self.trailer_len == 8 {
                        let [c0, c1, c2, c3, s0, s1, s2, s3] = self.trailer;
                        if u32::from_le_bytes([c0, c1, c2, c3]) != self.crc.sum()
                            || u32::from_le_bytes([s0, s1, s2, s3]) != self.crc.amount()
                        {
                            return Err(DecodeError::Corrupt);
                        }
                        self.members += 1;
                        self.header = GzHeader::new();
                        self.phase = GzPhase::Header;
                    }
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), DecodeError> {
        if self.phase == GzPhase::Header && self.header.fresh() {
            Ok(())
        } else {
            Err(DecodeError::Truncated)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// deflate

/// deflate: zlib-wrapped or raw, decided on the first two bytes.
struct Deflate {
    /// The first byte while the second has not arrived.
    first: Option<u8>,
    /// The inflater, once the wrapping is known.
    inflate: Option<Decompress>,
    ended: bool,
}

impl Deflate {
    /// Whether two bytes start a zlib stream (RFC 1950: CM 8, FCHECK makes CMF·FLG a multiple of 31).
    fn is_zlib(b0: u8, b1: u8) -> bool {
        b0 & 0x0f == 8 && ((u16::from(b0) << 8) | u16::from(b1)) % 31 == 0
    }

    fn push(&mut self, mut input: &[u8], sink: &mut Sink, emit: &mut Emit<'_>) -> Result<(), DecodeError> {
        if self.ended {
            return if input.is_empty() {
                Ok(())
            } else {
                Err(DecodeError::Corrupt)
            };
        }
        if self.inflate.is_none() {
            let Some((&b, rest)) = input.split_first() else {
                return Ok(());
            };
            let Some(b0) = self.first else {
                // The first byte: keep it until the second arrives.
                self.first = Some(b);
                return self.push(rest, sink, emit);
            };
            self.first = None;
            self.inflate = Some(Decompress::new(Deflate::is_zlib(b0, b)));
            // Feed the held byte, then everything from the second byte on.
            self.feed(&[b0], sink, emit)?;
        }
        if !self.ended {
            let used = self.feed(input, sink, emit)?;
            input = input.get(used..).unwrap_or_default();
        }
        if self.ended && !input.is_empty() {
            return Err(DecodeError::Corrupt);
        }
        Ok(())
    }

    fn feed(&mut self, input: &[u8], sink: &mut Sink, emit: &mut Emit<'_>) -> Result<usize, DecodeError> {
        let Some(z) = self.inflate.as_mut() else {
            return Err(DecodeError::Corrupt);
        };
        let (used, ended) = inflate(z, input, sink, None, emit)?;
        if ended {
            self.ended = true;
        }
        Ok(used)
    }

    fn finish(&mut self, sink: &Sink) -> Result<(), DecodeError> {
        if self.ended || (sink.consumed == 0 && self.first.is_none()) {
            Ok(())
        } else {
            Err(DecodeError::Truncated)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// brotli

type BrState = BrotliState<StandardAlloc, StandardAlloc, StandardAlloc>;

/// The window a brotli stream asks for, from its first byte (RFC 7932 §9.1, WBITS; the seven bits
/// fit in the first byte). `None`: the large-window extension (`0010001`), which we refuse.
fn brotli_window_bits(b0: u8) -> Option<u32> {
    if b0 & 1 == 0 {
        return Some(16);
    }
    let n = u32::from((b0 >> 1) & 7);
    if n != 0 {
        return Some(17 + n);
    }
    match u32::from((b0 >> 4) & 7) {
        0 => Some(17),
        1 => None,
        m => Some(8 + m),
    }
}

/// brotli through brotli-decompressor's streaming state (strict: no large window).
struct Brotli {
    state: BrState,
    /// The window (WBITS) was checked.
    checked: bool,
    ended: bool,
}

impl Brotli {
    fn new() -> Brotli {
        Brotli {
            state: BrState::new_strict(
                StandardAlloc::default(),
                StandardAlloc::default(),
                StandardAlloc::default(),
            ),
            checked: false,
            ended: false,
        }
    }

    fn push(&mut self, input: &[u8], sink: &mut Sink, emit: &mut Emit<'_>) -> Result<(), DecodeError> {
        if self.ended {
            return if input.is_empty() {
                Ok(())
            } else {
                Err(DecodeError::Corrupt)
            };
        }
        let Some(&b0) = input.first() else { return Ok(()) };
        if !self.checked {
            let bits = brotli_window_bits(b0).ok_or(DecodeError::Window)?;
            if (1usize << bits) > sink.limits.max_window {
                return Err(DecodeError::Window);
            }
            self.checked = true;
        }
        let mut available_in = input.len();
        let mut input_offset = 0usize;
        loop {
            let window = sink.window();
            let mut available_out = window.len();
            let mut output_offset = 0usize;
            let mut total_out = 0usize;
            let before = input_offset;
            let result = BrotliDecompressStream(
                &mut available_in,
                &mut input_offset,
                input,
                &mut available_out,
                &mut output_offset,
                window,
                &mut total_out,
                &mut self.state,
            );
            let used = input_offset.checked_sub(before).ok_or(DecodeError::Corrupt)?;
            sink.consumed += used as u64;
            sink.deliver(output_offset, emit)?;
            match result {
                BrotliResult::ResultSuccess => {
                    self.ended = true;
                    // A brotli stream is self-delimiting: whole bytes after it are garbage.
                    return if available_in == 0 {
                        Ok(())
                    } else {
                        Err(DecodeError::Corrupt)
                    };
                }
                BrotliResult::NeedsMoreOutput => {
                    if used == 0 && output_offset == 0 {
                        return Err(DecodeError::Corrupt);
                    }
                }
                BrotliResult::NeedsMoreInput => {
                    if available_in == 0 {
                        return Ok(());
                    }
                    if used == 0 && output_offset == 0 {
                        return Err(DecodeError::Corrupt);
                    }
                }
                BrotliResult::ResultFailure => return Err(DecodeError::Corrupt),
            }
        }
    }

    fn finish(&mut self, sink: &Sink) -> Result<(), DecodeError> {
        if self.ended || sink.consumed == 0 {
            Ok(())
        } else {
            Err(DecodeError::Truncated)
        }
    }

    /// Heap the state holds: the ring buffer (the window) and the Huffman tables and context maps.
    fn memory(&self) -> usize {
        use std::mem::size_of_val;
        let s = &self.state;
        let groups = [&s.literal_hgroup, &s.insert_copy_hgroup, &s.distance_hgroup];
        let tables: usize = groups
            .iter()
            .map(|g| size_of_val(g.codes.slice()) + size_of_val(g.htrees.slice()))
            .sum();
        std::mem::size_of::<BrState>()
            + size_of_val(s.ringbuffer.slice())
            + size_of_val(s.context_map.slice())
            + size_of_val(s.context_modes.slice())
            + size_of_val(s.dist_context_map.slice())
            + size_of_val(s.custom_dict.slice())
            + size_of_val(s.context_map_table.slice())
            + size_of_val(s.block_type_length_state.block_type_trees.slice())
            + size_of_val(s.block_type_length_state.block_len_trees.slice())
            + tables
    }
}

// ---------------------------------------------------------------------------------------------
// zstd

/// The zstd frame magic number.
const ZSTD_MAGIC: u32 = 0xFD2F_B528;
/// A zstd block never holds more than 128 KiB (compressed or decoded).
const ZSTD_MAX_BLOCK: usize = 128 << 10;
/// ruzstd's FSE and Huffman tables and fixed state (measured: about 13 KiB), rounded up.
const ZSTD_TABLES: usize = 32 << 10;

/// The unit the zstd parser waits for next; each is at most 128 KiB + 7 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ZPhase {
    /// The 4-byte magic number of the next frame (or the end of the stream).
    Magic,
    /// The 4-byte payload size of a skippable frame.
    SkipSize,
    /// Skipping a skippable frame's payload (bytes left; never buffered).
    Skip(u64),
    /// The frame header descriptor.
    Descriptor,
    /// The rest of the frame header: `len` bytes (window descriptor, dictionary id, content size).
    HeaderRest { fhd: u8, len: usize },
    /// A 3-byte block header.
    BlockHeader,
    /// A block's content (`len` bytes, plus the 4-byte checksum after the last block).
    Block { header: [u8; 3], len: usize, last: bool },
}

impl ZPhase {
    /// Bytes the unit needs.
    fn need(self) -> usize {
        match self {
            ZPhase::Magic | ZPhase::SkipSize => 4,
            ZPhase::Skip(_) => 0,
            ZPhase::Descriptor => 1,
            ZPhase::HeaderRest { len, .. } | ZPhase::Block { len, .. } => len,
            ZPhase::BlockHeader => 3,
        }
    }
}

/// zstd through ruzstd's frame decoder, fed whole blocks: the parser here reads frame and block
/// headers so ruzstd only ever sees complete units (it cannot resume inside one).
struct Zstd {
    dec: FrameDecoder,
    phase: ZPhase,
    /// A unit that arrived in pieces (at most 128 KiB + 7 bytes).
    buf: Vec<u8>,
    /// The current frame: whether a checksum follows the last block, the declared content size,
    /// the bytes it produced.
    checksum: bool,
    content_size: Option<u64>,
    frame_out: u64,
    /// The largest window of the frames so far (ruzstd keeps its buffer's capacity across frames);
    /// `None` before the first frame header (ruzstd has allocated nothing).
    window: Option<u64>,
    /// The largest compressed block so far (ruzstd keeps a buffer of that size).
    max_block: usize,
}

impl Zstd {
    fn new(limits: &DecodeLimits) -> Zstd {
        let mut dec = FrameDecoder::new();
        dec.set_max_window_size(limits.max_window as u64);
        Zstd {
            dec,
            phase: ZPhase::Magic,
            buf: Vec::new(),
            checksum: false,
            content_size: None,
            frame_out: 0,
            window: None,
            max_block: 0,
        }
    }

    fn push(&mut self, mut input: &[u8], sink: &mut Sink, emit: &mut Emit<'_>) -> Result<(), DecodeError> {
        loop {
            if let ZPhase::Skip(left) = self.phase {
                let k = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                input = input.get(k..).unwrap_or_default();
                sink.consumed += k as u64;
                let left = left - k as u64;
                self.phase = if left == 0 { ZPhase::Magic } else { ZPhase::Skip(left) };
                if left != 0 {
                    return Ok(());
                }
                continue;
            }
            let need = self.phase.need();
            let unit: &[u8] = if self.buf.is_empty() && input.len() >= need {
                let (unit, rest) = input.split_at(need);
                input = rest;
                unit
            } else {
                let k = need.saturating_sub(self.buf.len()).min(input.len());
                self.buf.reserve_exact(k);
                self.buf.extend_from_slice(input.get(..k).unwrap_or_default());
                input = input.get(k..).unwrap_or_default();
                if self.buf.len() < need {
                    return Ok(());
                }
                &self.buf
            };
            sink.consumed += unit.len() as u64;
            if let ZPhase::Block { len, .. } = self.phase {
                self.max_block = self.max_block.max(len);
            }
            let phase = Zstd::unit(
                self.phase,
                unit,
                &mut self.dec,
                sink,
                emit,
                &mut self.checksum,
                &mut self.content_size,
                &mut self.frame_out,
                &mut self.window,
            )?;
            self.phase = phase;
            self.buf.clear();
            if input.is_empty() && self.phase.need() > 0 {
                return Ok(());
            }
        }
    }

    /// Processes one complete unit of `phase`; returns the next phase.
    #[allow(clippy::too_many_arguments)]
    fn unit(
        phase: ZPhase,
        unit: &[u8],
        dec: &mut FrameDecoder,
        sink: &mut Sink,
        emit: &mut Emit<'_>,
        checksum: &mut bool,
        content_size: &mut Option<u64>,
        frame_out: &mut u64,
        window: &mut Option<u64>,
    ) -> Result<ZPhase, DecodeError> {
        match phase {
            ZPhase::Magic => {
                let magic = le_u64(unit) as u32;
                if magic == ZSTD_MAGIC {
                    Ok(ZPhase::Descriptor)
                } else if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
                    Ok(ZPhase::SkipSize)
                } else {
                    Err(DecodeError::Corrupt)
                }
            }
            ZPhase::SkipSize => Ok(ZPhase::Skip(le_u64(unit))),
            ZPhase::Skip(_) => Ok(ZPhase::Magic),
            ZPhase::Descriptor => {
                let fhd = unit.first().copied().ok_or(DecodeError::Corrupt)?;
                if fhd & 0x08 != 0 {
                    // The reserved bit must be zero.
                    return Err(DecodeError::Corrupt);
                }
                let single = fhd & 0x20 != 0;
                let did = [0, 1, 2, 4][usize::from(fhd & 3)];
                let len = usize::from(!single) + did + fcs_len(fhd);
                Ok(ZPhase::HeaderRest { fhd, len })
            }
            ZPhase::HeaderRest { fhd, .. } => {
                let single = fhd & 0x20 != 0;
                let fcs_bytes = fcs_len(fhd);
                let fcs_field = unit.get(unit.len().saturating_sub(fcs_bytes)..).unwrap_or_default();
                let fcs = le_u64(fcs_field) + if fcs_bytes == 2 { 256 } else { 0 };
                let w = if single {
                    fcs
                } else {
                    let wd = unit.first().copied().ok_or(DecodeError::Corrupt)?;
                    let base = 1u64 << (10 + u32::from(wd >> 3));
                    base + (base / 8) * u64::from(wd & 7)
                };
                if w > sink.limits.max_window as u64 {
                    return Err(DecodeError::Window);
                }
                // The whole header again, for ruzstd (at most 4 + 1 + 13 bytes).
                let mut header = [0u8; 18];
                let total = 5 + unit.len();
                let head = header.get_mut(..total).ok_or(DecodeError::Corrupt)?;
                head.get_mut(..4)
                    .unwrap_or_default()
                    .copy_from_slice(&ZSTD_MAGIC.to_le_bytes());
                if let Some(d) = head.get_mut(4) {
                    *d = fhd;
                }
                head.get_mut(5..).unwrap_or_default().copy_from_slice(unit);
                let mut src: &[u8] = head;
                dec.reset(&mut src).map_err(|e| match e {
                    FrameDecoderError::WindowSizeTooBig { .. } => DecodeError::Window,
                    _ => DecodeError::Corrupt,
                })?;
                if !src.is_empty() {
                    return Err(DecodeError::Corrupt);
                }
                *checksum = fhd & 0x04 != 0;
                *content_size = (fcs_bytes > 0).then_some(fcs);
                *frame_out = 0;
                *window = Some(window.map_or(w, |old| old.max(w)));
                Ok(ZPhase::BlockHeader)
            }
            ZPhase::BlockHeader => {
                let h = le_u64(unit);
                let last = h & 1 == 1;
                let size = usize::try_from(h >> 3).map_err(|_| DecodeError::Corrupt)?;
                let content = match (h >> 1) & 3 {
                    0 | 2 => size,
                    1 => 1,
                    _ => return Err(DecodeError::Corrupt),
                };
                if size > ZSTD_MAX_BLOCK {
                    return Err(DecodeError::Corrupt);
                }
                let mut header = [0u8; 3];
                header.copy_from_slice(unit.get(..3).ok_or(DecodeError::Corrupt)?);
                let len = content + if last && *checksum { 4 } else { 0 };
                Ok(ZPhase::Block { header, len, last })
            }
            ZPhase::Block { header, last, .. } => {
                let mut src = Read::chain(&header[..], unit);
                dec.decode_blocks(&mut src, BlockDecodingStrategy::UptoBlocks(1))
                    .map_err(|_| DecodeError::Corrupt)?;
                let (a, b) = src.into_inner();
                if !a.is_empty() || !b.is_empty() || dec.is_finished() != last {
                    return Err(DecodeError::Corrupt);
                }
                // Hand over what the block made (all of it after the last block; otherwise what
                // exceeds the window ruzstd keeps for back-references).
                loop {
                    let n = dec.read(sink.window()).map_err(|_| DecodeError::Corrupt)?;
                    if n == 0 {
                        break;
                    }
                    *frame_out += n as u64;
                    sink.deliver(n, emit)?;
                }
                if !last {
                    return Ok(ZPhase::BlockHeader);
                }
                if *checksum {
                    match (dec.get_checksum_from_data(), dec.get_calculated_checksum()) {
                        (Some(a), Some(b)) if a == b => {}
                        _ => return Err(DecodeError::Corrupt),
                    }
                }
                if content_size.is_some_and(|n| n != *frame_out) {
                    return Err(DecodeError::Corrupt);
                }
                Ok(ZPhase::Magic)
            }
        }
    }

    fn finish(&mut self) -> Result<(), DecodeError> {
        if self.phase == ZPhase::Magic && self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Truncated)
        }
    }

    /// An estimate of ruzstd's heap from the largest window and block so far, plus the unit buffer:
    /// the ring buffer that holds the window and one decoded block (rounded the way ruzstd grows
    /// it: to a power of two past 256 KiB of slack), one compressed block, the literals and
    /// sequences of one block, the tables. (A hostile block can make ruzstd hold up to about 1 MiB
    /// more of sequences for the moment it takes to refuse it.)
    fn memory(&self) -> usize {
        let base = std::mem::size_of::<Zstd>() + self.buf.capacity();
        let Some(w) = self.window else { return base };
        let w = usize::try_from(w).unwrap_or(usize::MAX);
        let block = w.min(ZSTD_MAX_BLOCK);
        let need = w.saturating_add(block);
        let slack = 2 * ZSTD_MAX_BLOCK;
        let ring = if need <= slack {
            need.next_power_of_two()
        } else {
            (need - slack)
                .checked_next_power_of_two()
                .unwrap_or(usize::MAX)
                .saturating_add(slack)
        };
        base.saturating_add(ring)
            .saturating_add(self.max_block)
            .saturating_add(2 * block)
            .saturating_add(ZSTD_TABLES)
    }
}

/// The size of a zstd frame's Frame_Content_Size field, from its descriptor.
fn fcs_len(fhd: u8) -> usize {
    match fhd >> 6 {
        0 => usize::from(fhd & 0x20 != 0),
        1 => 2,
        2 => 4,
        _ => 8,
    }
}

/// A little-endian number of up to 8 bytes.
fn le_u64(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .take(8)
        .enumerate()
        .fold(0, |acc, (i, &b)| acc | (u64::from(b) << (8 * i)))
}

// ---------------------------------------------------------------------------------------------
// The decoder

/// The coding-specific state.
enum Inner {
    Gzip(Box<Gzip>),
    Deflate(Box<Deflate>),
    Brotli(Box<Brotli>),
    Zstd(Box<Zstd>),
    /// Finished or failed: nothing held.
    Released,
}

/// A streaming decoder for one body: bounded memory, limits checked as bytes are produced.
pub struct Decoder {
    inner: Inner,
    sink: Sink,
    /// The first error, returned again by every later call.
    error: Option<DecodeError>,
    /// `finish` returned Ok.
    finished: bool,
}

impl Decoder {
    /// A decoder for `coding` under `limits`. Allocates only the coding's small state; the output
    /// window is allocated with the first input.
    pub fn new(coding: Coding, limits: DecodeLimits) -> Decoder {
        let inner = match coding {
            Coding::Gzip => Inner::Gzip(Box::new(Gzip::new())),
            Coding::Deflate => Inner::Deflate(Box::new(Deflate {
                first: None,
                inflate: None,
                ended: false,
            })),
            Coding::Brotli => Inner::Brotli(Box::new(Brotli::new())),
            Coding::Zstd => Inner::Zstd(Box::new(Zstd::new(&limits))),
        };
        Decoder {
            inner,
            sink: Sink {
                limits,
                decoded: 0,
                consumed: 0,
                window: Vec::new(),
            },
            error: None,
            finished: false,
        }
    }

    /// Decodes `input` (any split of the compressed stream). Decoded bytes are handed to `emit` in
    /// windows of at most `limits.output_window` bytes, each before more is decoded, so no buffer
    /// grows with the decoded size. `emit` returns false to stop (then `Err(Stopped)`). Limits are
    /// checked as bytes are produced.
    pub fn push(&mut self, input: &[u8], emit: &mut dyn FnMut(&[u8]) -> bool) -> Result<(), DecodeError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if input.is_empty() {
            return Ok(());
        }
        if self.finished {
            // Bytes after the end of the body.
            return Err(self.fail(DecodeError::Corrupt));
        }
        let sink = &mut self.sink;
        let result = match &mut self.inner {
            Inner::Gzip(g) => g.push(input, sink, emit),
            Inner::Deflate(d) => d.push(input, sink, emit),
            Inner::Brotli(b) => b.push(input, sink, emit),
            Inner::Zstd(z) => z.push(input, sink, emit),
            Inner::Released => Err(DecodeError::Corrupt),
        };
        result.map_err(|e| self.fail(e))
    }

    /// The compressed input ended: a stream that is not complete is `Truncated`. Nothing is
    /// pending at this point (every `push` hands over all it can), so `emit` is not called; it is
    /// taken for symmetry with `push`. Calling it again returns the same result.
    pub fn finish(&mut self, emit: &mut dyn FnMut(&[u8]) -> bool) -> Result<(), DecodeError> {
        let _ = emit;
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.finished {
            return Ok(());
        }
        let result = match &mut self.inner {
            Inner::Gzip(g) => g.finish(),
            Inner::Deflate(d) => d.finish(&self.sink),
            Inner::Brotli(b) => b.finish(&self.sink),
            Inner::Zstd(z) => z.finish(),
            Inner::Released => Ok(()),
        };
        match result {
            Ok(()) => {
                self.finished = true;
                self.release();
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Decoded bytes so far (handed to `emit`).
    pub fn decoded(&self) -> u64 {
        self.sink.decoded
    }

    /// Compressed bytes consumed so far.
    pub fn consumed(&self) -> u64 {
        self.sink.consumed
    }

    /// Bytes of memory this decoder holds now (windows, tables, buffered input, output window), for
    /// a memory budget. Exact for the output window and buffered input, from the decoder's own
    /// allocations for brotli, an upper estimate for the inflater and for ruzstd's scratch.
    pub fn memory(&self) -> usize {
        let inner = match &self.inner {
            Inner::Gzip(_) => std::mem::size_of::<Gzip>() + INFLATE_STATE,
            Inner::Deflate(d) => std::mem::size_of::<Deflate>() + if d.inflate.is_some() { INFLATE_STATE } else { 0 },
            Inner::Brotli(b) => std::mem::size_of::<Brotli>() + b.memory(),
            Inner::Zstd(z) => z.memory(),
            Inner::Released => 0,
        };
        std::mem::size_of::<Decoder>() + self.sink.window.capacity() + inner
    }

    /// Records the first error and releases everything held.
    fn fail(&mut self, e: DecodeError) -> DecodeError {
        self.error = Some(e);
        self.release();
        e
    }

    fn release(&mut self) {
        self.inner = Inner::Released;
        self.sink.window = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    //! Round trips for every coding under any split of the input (including 1-byte pushes, and a
    //! property test over split points and data), the strictness rules (headers, trailers,
    //! checksums, garbage, truncation), the limits (ratio, total, window, stop), and memory: bombs
    //! decoded with a counting allocator, `memory()` checked against what is really allocated.

    use super::*;
    use proptest::prelude::*;
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;
    use std::io::Write;
    use std::sync::OnceLock;

    // -----------------------------------------------------------------------------------------
    // A counting allocator: live and peak heap bytes of the current thread (tests run in
    // parallel threads).

    struct Counting;

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
        static PEAK: Cell<isize> = const { Cell::new(0) };
    }

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            let _ = LIVE.try_with(|c| {
                let now = c.get() + l.size() as isize;
                c.set(now);
                let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
            });
            unsafe { System.alloc(l) }
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            let _ = LIVE.try_with(|c| c.set(c.get() - l.size() as isize));
            unsafe { System.dealloc(p, l) }
        }
    }

    #[global_allocator]
    static A: Counting = Counting;

    fn live() -> isize {
        LIVE.with(Cell::get)
    }

    /// Starts a peak measurement from now; returns the baseline.
    fn start_peak() -> isize {
        let now = live();
        PEAK.with(|p| p.set(now));
        now
    }

    fn peak_since(base: isize) -> usize {
        (PEAK.with(Cell::get) - base).max(0) as usize
    }

    // -----------------------------------------------------------------------------------------
    // Encoders and data

    /// What to encode with: `deflate` has two wrappings.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Kind {
        Gzip,
        Zlib,
        Raw,
        Br,
        Zstd,
    }

    const KINDS: [Kind; 5] = [Kind::Gzip, Kind::Zlib, Kind::Raw, Kind::Br, Kind::Zstd];

    impl Kind {
        fn coding(self) -> Coding {
            match self {
                Kind::Gzip => Coding::Gzip,
                Kind::Zlib | Kind::Raw => Coding::Deflate,
                Kind::Br => Coding::Brotli,
                Kind::Zstd => Coding::Zstd,
            }
        }
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn raw(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn br_params(quality: i32, lgwin: i32, large: bool) -> brotli::enc::BrotliEncoderParams {
        brotli::enc::BrotliEncoderParams {
            quality,
            lgwin,
            large_window: large,
            ..Default::default()
        }
    }

    fn br_with(mut src: impl std::io::Read, quality: i32, lgwin: i32, large: bool) -> Vec<u8> {
        let mut out = Vec::new();
        brotli::BrotliCompress(&mut src, &mut out, &br_params(quality, lgwin, large)).unwrap();
        out
    }

    fn br(data: &[u8]) -> Vec<u8> {
        br_with(data, 9, 22, false)
    }

    fn zstd(data: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
    }

    fn encode(kind: Kind, data: &[u8]) -> Vec<u8> {
        match kind {
            Kind::Gzip => gzip(data),
            Kind::Zlib => zlib(data),
            Kind::Raw => raw(data),
            Kind::Br => br(data),
            Kind::Zstd => zstd(data),
        }
    }

    /// A small deterministic generator (xorshift64*).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut r = Rng(seed | 1);
        (0..n).map(|_| r.next() as u8).collect()
    }

    /// JSON-ish lines with card numbers and e-mails: what the filter really decodes.
    fn text(n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 128);
        let mut i = 0u64;
        while out.len() < n {
            out.extend_from_slice(
                format!(
                    "{{\"id\":{i},\"email\":\"user{}@example.com\",\"card\":\"4111 1111 1111 {:04}\",\"note\":\"the quick brown fox\"}}\n",
                    i * 37 % 1000,
                    i * 7919 % 10000
                )
                .as_bytes(),
            );
            i += 1;
        }
        out.truncate(n);
        out
    }

    /// The text the libzstd fixtures below were made from (`zstd -19 --check` and
    /// `zstd -3 --check --zstd=wlog=10`, zstd 1.5.4).
    fn fixture_text() -> Vec<u8> {
        (0..100u64)
            .map(|i| {
                format!(
                    "{i:05} the quick brown fox jumps over the lazy dog {} {{\"card\":\"4111 1111 1111 {:04}\"}}\n",
                    i * i % 9973,
                    i * 7919 % 10000
                )
            })
            .collect::<String>()
            .into_bytes()
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    // -----------------------------------------------------------------------------------------
    // Running a decoder

    /// What a run produced.
    struct Run {
        result: Result<(), DecodeError>,
        out: Vec<u8>,
        decoded: u64,
        consumed: u64,
        /// Largest `memory()` seen after a push.
        memory: usize,
        /// Number of `emit` calls.
        windows: usize,
    }

    /// Decodes `input` cut at `cuts` (positions, any order), then finishes; checks each window
    /// against the limit.
    fn run_cuts(coding: Coding, limits: DecodeLimits, input: &[u8], cuts: &[usize]) -> Run {
        let mut points: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
        points.push(input.len());
        points.sort_unstable();
        let mut d = Decoder::new(coding, limits);
        let mut out = Vec::new();
        let mut windows = 0;
        let mut memory = d.memory();
        let mut emit = |w: &[u8]| {
            assert!(
                !w.is_empty() && w.len() <= limits.output_window.max(1),
                "window of {} bytes",
                w.len()
            );
            windows += 1;
            out.extend_from_slice(w);
            true
        };
        let mut start = 0;
        let mut result = Ok(());
        for p in points {
            result = d.push(&input[start..p], &mut emit);
            memory = memory.max(d.memory());
            start = p;
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            result = d.finish(&mut emit);
        }
        Run {
            result,
            out,
            decoded: d.decoded(),
            consumed: d.consumed(),
            memory,
            windows,
        }
    }

    /// Decodes `input` in pieces of `piece` bytes.
    fn run_pieces(coding: Coding, limits: DecodeLimits, input: &[u8], piece: usize) -> Run {
        let cuts: Vec<usize> = (1..input.len().div_ceil(piece.max(1))).map(|i| i * piece).collect();
        run_cuts(coding, limits, input, &cuts)
    }

    fn small_windows() -> DecodeLimits {
        DecodeLimits {
            output_window: 1000,
            ..DecodeLimits::default()
        }
    }

    /// Asserts a full, exact round trip with the counters right.
    fn assert_round_trip(coding: Coding, limits: DecodeLimits, compressed: &[u8], plain: &[u8], run: &Run) {
        assert_eq!(run.result, Ok(()), "{coding:?}");
        assert!(
            run.out == plain,
            "{coding:?}: output differs ({} vs {} bytes)",
            run.out.len(),
            plain.len()
        );
        assert_eq!(run.decoded, plain.len() as u64);
        assert_eq!(run.consumed, compressed.len() as u64, "{coding:?}: consumed");
        if !plain.is_empty() {
            assert!(run.windows >= plain.len().div_ceil(limits.output_window));
        }
    }

    // -----------------------------------------------------------------------------------------
    // Coding, limits, errors

    #[test]
    fn parse_accepts_the_four_codings_and_identity() {
        assert_eq!(Coding::parse(None), Ok(None));
        assert_eq!(Coding::parse(Some("")), Ok(None));
        assert_eq!(Coding::parse(Some("  ")), Ok(None));
        assert_eq!(Coding::parse(Some("identity")), Ok(None));
        assert_eq!(Coding::parse(Some(" IDENTITY ")), Ok(None));
        assert_eq!(Coding::parse(Some("gzip")), Ok(Some(Coding::Gzip)));
        assert_eq!(Coding::parse(Some(" GZip ")), Ok(Some(Coding::Gzip)));
        assert_eq!(Coding::parse(Some("x-gzip")), Ok(Some(Coding::Gzip)));
        assert_eq!(Coding::parse(Some("X-GZIP")), Ok(Some(Coding::Gzip)));
        assert_eq!(Coding::parse(Some("deflate")), Ok(Some(Coding::Deflate)));
        assert_eq!(Coding::parse(Some("Deflate")), Ok(Some(Coding::Deflate)));
        assert_eq!(Coding::parse(Some("br")), Ok(Some(Coding::Brotli)));
        assert_eq!(Coding::parse(Some(" BR")), Ok(Some(Coding::Brotli)));
        assert_eq!(Coding::parse(Some("zstd")), Ok(Some(Coding::Zstd)));
        assert_eq!(Coding::parse(Some("ZSTD ")), Ok(Some(Coding::Zstd)));
        // identity next to a coding is no coding at all.
        assert_eq!(Coding::parse(Some("gzip, identity")), Ok(Some(Coding::Gzip)));
    }

    #[test]
    fn parse_refuses_stacked_and_unknown_codings() {
        for v in [
            "gzip, br",
            "gzip,gzip",
            "br, zstd",
            "deflate, gzip",
            "compress",
            "x-compress",
            "lz4",
            "gzip;q=1",
            "xz",
        ] {
            assert_eq!(Coding::parse(Some(v)), Err(()), "{v}");
        }
    }

    #[test]
    fn names_reasons_and_defaults() {
        assert_eq!(
            [Coding::Gzip, Coding::Deflate, Coding::Brotli, Coding::Zstd].map(Coding::name),
            ["gzip", "deflate", "br", "zstd"]
        );
        use DecodeError::*;
        assert_eq!(
            [Corrupt, Truncated, TooLarge, Ratio, Window, Stopped].map(DecodeError::reason),
            [
                "decode_error",
                "truncated",
                "decoded_size",
                "decode_ratio",
                "decode_window",
                "stopped"
            ]
        );
        let l = DecodeLimits::default();
        assert_eq!((l.max_total, l.max_ratio, l.ratio_floor), (1 << 30, 100, 1 << 20));
        assert_eq!((l.max_window, l.output_window), (8 << 20, 32 << 10));
    }

    // -----------------------------------------------------------------------------------------
    // Round trips

    #[test]
    fn every_coding_round_trips_with_one_byte_pushes() {
        let limits = small_windows();
        for plain in [text(20_000), random_bytes(5_000, 7), Vec::new(), b"x".to_vec()] {
            for kind in KINDS {
                let c = encode(kind, &plain);
                let run = run_pieces(kind.coding(), limits, &c, 1);
                assert_round_trip(kind.coding(), limits, &c, &plain, &run);
            }
        }
    }

    #[test]
    fn every_coding_round_trips_at_random_splits_and_in_one_piece() {
        let mut rng = Rng(99);
        for plain in [text(300_000), random_bytes(200_000, 3)] {
            for kind in KINDS {
                let c = encode(kind, &plain);
                for limits in [DecodeLimits::default(), small_windows()] {
                    let one = run_cuts(kind.coding(), limits, &c, &[]);
                    assert_round_trip(kind.coding(), limits, &c, &plain, &one);
                    for _ in 0..4 {
                        let cuts: Vec<usize> = (0..rng.below(40)).map(|_| rng.below(c.len() + 1)).collect();
                        let run = run_cuts(kind.coding(), limits, &c, &cuts);
                        assert_round_trip(kind.coding(), limits, &c, &plain, &run);
                    }
                    for piece in [7, 4096, 16 << 10] {
                        let run = run_pieces(kind.coding(), limits, &c, piece);
                        assert_round_trip(kind.coding(), limits, &c, &plain, &run);
                    }
                }
            }
        }
    }

    #[test]
    fn brotli_round_trips_at_every_quality_and_small_windows() {
        let plain = text(100_000);
        for (q, lgwin) in [(0, 10), (1, 16), (5, 18), (11, 22), (11, 10)] {
            let c = br_with(&plain[..], q, lgwin, false);
            for piece in [1, 333, 1 << 20] {
                let run = run_pieces(Coding::Brotli, small_windows(), &c, piece);
                assert_round_trip(Coding::Brotli, small_windows(), &c, &plain, &run);
            }
        }
    }

    #[test]
    fn libzstd_frames_decode_single_segment_and_many_blocks() {
        let plain = fixture_text();
        for hex in [LIBZSTD_L19, LIBZSTD_WLOG10] {
            let c = unhex(hex);
            for piece in [1, 2, 3, 100, 1 << 20] {
                let run = run_pieces(Coding::Zstd, small_windows(), &c, piece);
                assert_round_trip(Coding::Zstd, small_windows(), &c, &plain, &run);
            }
        }
        // Its checksum is checked: flip a bit of it.
        let mut bad = unhex(LIBZSTD_WLOG10);
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(
            run_pieces(Coding::Zstd, small_windows(), &bad, 1).result,
            Err(DecodeError::Corrupt)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// The output is the original whatever the split of the compressed stream.
        #[test]
        fn any_split_gives_the_original(
            data in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..3000),
                proptest::collection::vec(proptest::sample::select(b"ab \n{}:\"0129xyz".to_vec()), 0..20_000),
            ],
            cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..24),
            kind in proptest::sample::select(KINDS.to_vec()),
            window in 1usize..5000,
        ) {
            let c = encode(kind, &data);
            let cuts: Vec<usize> = cuts.iter().map(|i| i.index(c.len() + 1)).collect();
            let limits = DecodeLimits { output_window: window, ..DecodeLimits::default() };
            let run = run_cuts(kind.coding(), limits, &c, &cuts);
            prop_assert_eq!(run.result, Ok(()));
            prop_assert!(run.out == data);
            prop_assert_eq!(run.consumed, c.len() as u64);
        }

        /// Damaged streams never panic, never break a limit, and end the same way whatever the
        /// split; gzip (CRC32) only succeeds with the original.
        #[test]
        fn damaged_streams_fail_cleanly_whatever_the_split(
            data in proptest::collection::vec(proptest::sample::select(b"ab \n{}:\"0129".to_vec()), 1..6000),
            flips in proptest::collection::vec((any::<proptest::sample::Index>(), 1u8..=255), 0..4),
            cut in any::<proptest::sample::Index>(),
            truncate in any::<bool>(),
            cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..16),
            kind in proptest::sample::select(KINDS.to_vec()),
        ) {
            let mut c = encode(kind, &data);
            for (i, x) in &flips {
                let i = i.index(c.len());
                c[i] ^= x;
            }
            if truncate {
                c.truncate(cut.index(c.len() + 1));
            }
            let limits = DecodeLimits { max_total: 10_000, output_window: 512, ..DecodeLimits::default() };
            let cuts: Vec<usize> = cuts.iter().map(|i| i.index(c.len() + 1)).collect();
            let whole = run_cuts(kind.coding(), limits, &c, &[]);
            let split = run_cuts(kind.coding(), limits, &c, &cuts);
            let bytes = run_pieces(kind.coding(), limits, &c, 1);
            prop_assert_eq!(whole.result, split.result);
            prop_assert_eq!(whole.result, bytes.result);
            for r in [&whole, &split, &bytes] {
                prop_assert!(r.decoded <= limits.max_total);
                prop_assert!(r.memory < (10 << 20));
                if r.result.is_ok() {
                    prop_assert!(r.out == whole.out);
                    // gzip always carries a CRC32; zstd's content checksum is optional in the
                    // frame header, so a flipped header bit can turn it off and a damaged frame
                    // then decodes to other bytes (which are masked like any body)
                    if kind == Kind::Gzip {
                        prop_assert!(r.out == data);
                    }
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // gzip

    /// One gzip member with the optional header fields, built by hand.
    fn gzip_member(
        data: &[u8],
        extra: Option<&[u8]>,
        name: Option<&[u8]>,
        comment: Option<&[u8]>,
        hcrc: bool,
    ) -> Vec<u8> {
        let mut flags = 0;
        let mut h = vec![0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 0, 3];
        if let Some(x) = extra {
            flags |= FEXTRA;
            h.extend_from_slice(&(x.len() as u16).to_le_bytes());
            h.extend_from_slice(x);
        }
        if let Some(n) = name {
            flags |= FNAME;
            h.extend_from_slice(n);
            h.push(0);
        }
        if let Some(c) = comment {
            flags |= FCOMMENT;
            h.extend_from_slice(c);
            h.push(0);
        }
        if hcrc {
            flags |= FHCRC;
        }
        h[3] = flags;
        if hcrc {
            let mut crc = Crc::new();
            crc.update(&h);
            h.extend_from_slice(&((crc.sum() & 0xffff) as u16).to_le_bytes());
        }
        h.extend_from_slice(&raw(data));
        let mut crc = Crc::new();
        crc.update(data);
        h.extend_from_slice(&crc.sum().to_le_bytes());
        h.extend_from_slice(&(data.len() as u32).to_le_bytes());
        h
    }

    #[test]
    fn gzip_headers_with_every_optional_field() {
        let plain = text(5000);
        let extra = vec![b'E'; 300];
        let cases = [
            gzip_member(&plain, Some(&extra), None, None, false),
            gzip_member(&plain, Some(b""), None, None, false),
            gzip_member(&plain, None, Some(b"body.json"), None, false),
            gzip_member(&plain, None, None, Some(b"a comment"), false),
            gzip_member(&plain, None, None, None, true),
            gzip_member(&plain, Some(&extra), Some(b"n"), Some(b""), true),
            gzip_member(
                &plain,
                None,
                Some(&[b'n'; MAX_HEADER_STRING]),
                Some(&[b'c'; MAX_HEADER_STRING]),
                true,
            ),
        ];
        for c in &cases {
            for piece in [1, 2, 5, 64, 1 << 20] {
                let run = run_pieces(Coding::Gzip, small_windows(), c, piece);
                assert_round_trip(Coding::Gzip, small_windows(), c, &plain, &run);
            }
        }
    }

    #[test]
    fn gzip_bad_headers_are_corrupt() {
        let plain = text(1000);
        let good = gzip_member(&plain, Some(b"xy"), Some(b"name"), Some(b"comment"), true);
        let mut cases = Vec::new();
        for (i, v) in [(0, 0x1e), (1, 0x8c), (2, 7), (3, good[3] | 0x20), (3, good[3] | 0x80)] {
            let mut c = good.clone();
            c[i] = v;
            cases.push(c);
        }
        // A wrong header CRC16 (it sits right before the deflate data).
        let mut c = good.clone();
        let hlen = good.len() - raw(&plain).len() - 8;
        c[hlen - 1] ^= 0x40;
        cases.push(c);
        // FNAME / FCOMMENT one byte over the limit.
        cases.push(gzip_member(
            &plain,
            None,
            Some(&[b'n'; MAX_HEADER_STRING + 1]),
            None,
            false,
        ));
        cases.push(gzip_member(
            &plain,
            None,
            None,
            Some(&[b'c'; MAX_HEADER_STRING + 1]),
            false,
        ));
        for c in &cases {
            for piece in [1, 1 << 20] {
                assert_eq!(
                    run_pieces(Coding::Gzip, small_windows(), c, piece).result,
                    Err(DecodeError::Corrupt)
                );
            }
        }
        // A name that never ends is refused after 1 KiB, not buffered.
        let mut endless = gzip_member(b"", None, Some(b""), None, false)[..10].to_vec();
        endless.extend(std::iter::repeat_n(b'n', 100_000));
        let run = run_pieces(Coding::Gzip, small_windows(), &endless, 1);
        assert_eq!(run.result, Err(DecodeError::Corrupt));
        assert!(run.consumed <= 10 + MAX_HEADER_STRING as u64 + 1);
    }

    #[test]
    fn gzip_members_follow_each_other() {
        let (a, b) = (text(3000), random_bytes(2000, 5));
        let mut c = gzip(&a);
        c.extend_from_slice(&gzip_member(&b, None, Some(b"second"), None, true));
        c.extend_from_slice(&gzip(b""));
        let mut plain = a.clone();
        plain.extend_from_slice(&b);
        for piece in [1, 3, 1000, 1 << 20] {
            let run = run_pieces(Coding::Gzip, small_windows(), &c, piece);
            assert_round_trip(Coding::Gzip, small_windows(), &c, &plain, &run);
        }
    }

    #[test]
    fn gzip_checksum_and_size_are_checked() {
        let plain = text(10_000);
        let good = gzip(&plain);
        let n = good.len();
        for at in [n - 8, n - 5, n - 4, n - 1] {
            let mut c = good.clone();
            c[at] ^= 1;
            for piece in [1, 1 << 20] {
                assert_eq!(
                    run_pieces(Coding::Gzip, small_windows(), &c, piece).result,
                    Err(DecodeError::Corrupt),
                    "{at}"
                );
            }
        }
    }

    #[test]
    fn gzip_garbage_after_a_member_is_corrupt() {
        let plain = text(2000);
        for tail in [&b"garbage"[..], b"\0", b"\0\0\0\0\0\0\0\0", b"\x1f\x8c", b"\n"] {
            let mut c = gzip(&plain);
            c.extend_from_slice(tail);
            for piece in [1, 1 << 20] {
                let run = run_pieces(Coding::Gzip, small_windows(), &c, piece);
                assert_eq!(run.result, Err(DecodeError::Corrupt), "{tail:?}");
                // The member before it was decoded and handed over.
                assert!(run.out == plain);
            }
        }
        // Garbage in a later push, after the stream looked complete.
        let mut d = Decoder::new(Coding::Gzip, DecodeLimits::default());
        d.push(&gzip(&plain), &mut |_| true).unwrap();
        assert_eq!(d.push(b"x", &mut |_| true), Err(DecodeError::Corrupt));
        assert_eq!(d.finish(&mut |_| true), Err(DecodeError::Corrupt));
        // The start of a next member that never completes is a truncation.
        let mut c = gzip(&plain);
        c.extend_from_slice(b"\x1f\x8b");
        assert_eq!(
            run_pieces(Coding::Gzip, small_windows(), &c, 1).result,
            Err(DecodeError::Truncated)
        );
    }

    /// Every proper prefix of a stream is `Truncated` at finish, for every coding.
    #[test]
    fn every_prefix_is_truncated() {
        let plain = text(3000);
        for kind in KINDS {
            let c = encode(kind, &plain);
            for n in 1..c.len() {
                let run = run_cuts(kind.coding(), small_windows(), &c[..n], &[]);
                assert_eq!(
                    run.result,
                    Err(DecodeError::Truncated),
                    "{kind:?} prefix {n} of {}",
                    c.len()
                );
            }
        }
    }

    #[test]
    fn an_empty_body_is_empty_for_every_coding() {
        for kind in KINDS {
            let mut d = Decoder::new(kind.coding(), DecodeLimits::default());
            let mut calls = 0;
            d.push(b"", &mut |_| {
                calls += 1;
                true
            })
            .unwrap();
            d.finish(&mut |_| {
                calls += 1;
                true
            })
            .unwrap();
            assert_eq!((calls, d.decoded(), d.consumed()), (0, 0, 0));
            // finish again: the same answer; data after the end: corrupt.
            assert_eq!(d.finish(&mut |_| true), Ok(()));
            assert_eq!(d.push(b"\x1f", &mut |_| true), Err(DecodeError::Corrupt));
        }
    }

    // -----------------------------------------------------------------------------------------
    // deflate

    #[test]
    fn deflate_takes_zlib_and_raw_with_the_first_two_bytes_split() {
        let plain = text(20_000);
        let (z, r) = (zlib(&plain), raw(&plain));
        assert!(Deflate::is_zlib(z[0], z[1]));
        assert!(!Deflate::is_zlib(r[0], r[1]));
        for c in [&z, &r] {
            // The two deciding bytes in separate pushes, then the rest.
            let run = run_cuts(Coding::Deflate, small_windows(), c, &[1, 2]);
            assert_round_trip(Coding::Deflate, small_windows(), c, &plain, &run);
            let run = run_cuts(Coding::Deflate, small_windows(), c, &[1]);
            assert_round_trip(Coding::Deflate, small_windows(), c, &plain, &run);
            // An empty push between them changes nothing.
            let mut d = Decoder::new(Coding::Deflate, small_windows());
            let mut out = Vec::new();
            let mut emit = |w: &[u8]| {
                out.extend_from_slice(w);
                true
            };
            d.push(&c[..1], &mut emit).unwrap();
            d.push(b"", &mut emit).unwrap();
            d.push(&c[1..], &mut emit).unwrap();
            d.finish(&mut emit).unwrap();
            assert!(out == plain);
        }
        // The usual zlib headers.
        for h in [[0x78, 0x01], [0x78, 0x5e], [0x78, 0x9c], [0x78, 0xda], [0x48, 0x0d]] {
            assert!(Deflate::is_zlib(h[0], h[1]), "{h:?}");
        }
    }

    #[test]
    fn deflate_checks_adler_and_refuses_bytes_after_the_end() {
        let plain = text(5000);
        let mut z = zlib(&plain);
        let n = z.len();
        z[n - 1] ^= 1;
        assert_eq!(
            run_pieces(Coding::Deflate, small_windows(), &z, 1).result,
            Err(DecodeError::Corrupt)
        );
        for c in [zlib(&plain), raw(&plain)] {
            let mut c = c;
            c.extend_from_slice(b"tail");
            for piece in [1, 1 << 20] {
                assert_eq!(
                    run_pieces(Coding::Deflate, small_windows(), &c, piece).result,
                    Err(DecodeError::Corrupt)
                );
            }
        }
        // One byte is never a whole stream.
        assert_eq!(
            run_cuts(Coding::Deflate, small_windows(), b"x", &[]).result,
            Err(DecodeError::Truncated)
        );
    }

    // -----------------------------------------------------------------------------------------
    // brotli and zstd strictness

    #[test]
    fn brotli_refuses_bytes_after_the_end_and_damage() {
        let plain = text(5000);
        let mut c = br(&plain);
        c.extend_from_slice(b"x");
        for piece in [1, 1 << 20] {
            assert_eq!(
                run_pieces(Coding::Brotli, small_windows(), &c, piece).result,
                Err(DecodeError::Corrupt)
            );
        }
        // WBITS 16, not last, MNIBBLES 3 (metadata), then the reserved bit set.
        let junk = [0x1c, 0, 0, 0];
        assert_eq!(
            run_pieces(Coding::Brotli, small_windows(), &junk, 1).result,
            Err(DecodeError::Corrupt)
        );
    }

    #[test]
    fn brotli_window_bits_follow_rfc_7932() {
        // Encoders write exactly these first bytes' low bits for each lgwin.
        for lgwin in 10..=24 {
            let c = br_with(&b"hello hello hello"[..], 5, lgwin, false);
            assert_eq!(brotli_window_bits(c[0]), Some(lgwin as u32), "lgwin {lgwin}");
        }
        let c = br_with(&b"hello"[..], 5, 26, true);
        assert_eq!(brotli_window_bits(c[0]), None);
    }

    /// A zstd frame by hand: descriptor `fhd`, the header fields in `rest`, then `blocks`.
    fn zstd_frame(fhd: u8, rest: &[u8], blocks: &[u8]) -> Vec<u8> {
        let mut f = ZSTD_MAGIC.to_le_bytes().to_vec();
        f.push(fhd);
        f.extend_from_slice(rest);
        f.extend_from_slice(blocks);
        f
    }

    /// A raw block.
    fn raw_block(data: &[u8], last: bool) -> Vec<u8> {
        let h = ((data.len() as u32) << 3) | u32::from(last);
        let mut b = h.to_le_bytes()[..3].to_vec();
        b.extend_from_slice(data);
        b
    }

    fn skippable(n: usize) -> Vec<u8> {
        let mut f = 0x184D_2A5Au32.to_le_bytes().to_vec();
        f.extend_from_slice(&(n as u32).to_le_bytes());
        f.extend(std::iter::repeat_n(0xAAu8, n));
        f
    }

    #[test]
    fn zstd_takes_several_frames_and_skippable_frames() {
        let (a, b) = (text(50_000), random_bytes(3000, 11));
        let mut c = skippable(0);
        c.extend_from_slice(&zstd(&a));
        c.extend_from_slice(&skippable(300_000));
        c.extend_from_slice(&zstd(&b));
        // Hand-made: single segment with a 1-byte content size, an empty raw block then data.
        c.extend_from_slice(&zstd_frame(
            0x20,
            &[4],
            &[raw_block(b"", false), raw_block(b"abcd", true)].concat(),
        ));
        c.extend_from_slice(&skippable(5));
        let mut plain = [a, b].concat();
        plain.extend_from_slice(b"abcd");
        for piece in [1, 4, 5000, 1 << 20] {
            let run = run_pieces(Coding::Zstd, small_windows(), &c, piece);
            assert_round_trip(Coding::Zstd, small_windows(), &c, &plain, &run);
            // Skipped payloads are never buffered.
            assert!(run.memory < 2 << 20, "memory {}", run.memory);
        }
    }

    #[test]
    fn zstd_damage_is_corrupt() {
        let plain = text(20_000);
        let good = zstd(&plain);
        let mut cases = Vec::new();
        // Checksum.
        let mut c = good.clone();
        let n = c.len();
        c[n - 2] ^= 0x10;
        cases.push(c);
        // Reserved descriptor bit.
        let mut c = good.clone();
        c[4] |= 0x08;
        cases.push(c);
        // Declared content size differs from the content.
        cases.push(zstd_frame(0x20, &[5], &raw_block(b"abcd", true)));
        cases.push(zstd_frame(0x20, &[3], &raw_block(b"abcd", true)));
        // Reserved block type; block over 128 KiB.
        cases.push(zstd_frame(0x20, &[4], &[0x07, 0, 0, 0]));
        cases.push(zstd_frame(
            0x00,
            &[0x58],
            &(((128u32 << 10) + 1) << 3 | 1).to_le_bytes()[..3],
        ));
        // A dictionary we do not have.
        cases.push(zstd_frame(0x21, &[7, 4], &raw_block(b"abcd", true)));
        // Not a frame after a frame.
        cases.push([good.clone(), b"garbage!".to_vec()].concat());
        for c in &cases {
            for piece in [1, 1 << 20] {
                assert_eq!(
                    run_pieces(Coding::Zstd, small_windows(), c, piece).result,
                    Err(DecodeError::Corrupt)
                );
            }
        }
        assert_eq!(
            run_pieces(
                Coding::Zstd,
                small_windows(),
                &zstd_frame(0x20, &[4], &raw_block(b"abcd", true)),
                1
            )
            .out,
            b"abcd"
        );
    }

    // -----------------------------------------------------------------------------------------
    // Limits

    /// 64 MiB of zeros, compressed once per coding (streamed from `io::repeat`).
    fn bomb(kind: Kind) -> &'static [u8] {
        const SIZE: u64 = 64 << 20;
        static BOMBS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
        let bombs = BOMBS.get_or_init(|| {
            let zeros = || std::io::Read::take(std::io::repeat(0), SIZE);
            let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            std::io::copy(&mut zeros(), &mut g).unwrap();
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
            std::io::copy(&mut zeros(), &mut z).unwrap();
            let mut r = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
            std::io::copy(&mut zeros(), &mut r).unwrap();
            let mut zs = Vec::new();
            ruzstd::encoding::compress(zeros(), &mut zs, ruzstd::encoding::CompressionLevel::Fastest);
            vec![
                g.finish().unwrap(),
                z.finish().unwrap(),
                r.finish().unwrap(),
                br_with(zeros(), 5, 22, false),
                zs,
            ]
        });
        &bombs[KINDS.iter().position(|k| *k == kind).unwrap()]
    }

    #[test]
    fn bombs_stop_at_the_ratio_floor_with_small_memory() {
        let limits = DecodeLimits::default();
        for kind in KINDS {
            let c = bomb(kind);
            // In one piece and in 16 KiB pieces as a proxy sees them; in 1-byte pieces so
            // `memory()` can be read while the decoder is busy (it is released on the error).
            for piece in [c.len(), 16 << 10, 1] {
                let base = start_peak();
                let mut d = Decoder::new(kind.coding(), limits);
                let mut windows = 0usize;
                let mut emit = |w: &[u8]| {
                    windows += 1;
                    w.len() <= limits.output_window
                };
                let mut result = Ok(());
                let mut memory = 0;
                for p in c.chunks(piece) {
                    result = d.push(p, &mut emit);
                    memory = memory.max(d.memory());
                    if result.is_err() {
                        break;
                    }
                }
                let heap = peak_since(base);
                eprintln!(
                    "bomb {kind:?}: {} compressed bytes in pieces of {piece}: {result:?} after {} decoded bytes, {} consumed; \
                     memory() peak {memory}, heap peak {heap}",
                    c.len(),
                    d.decoded(),
                    d.consumed(),
                );
                assert_eq!(result, Err(DecodeError::Ratio), "{kind:?}");
                assert!(d.decoded() > limits.ratio_floor - 2 * limits.output_window as u64);
                assert!(d.decoded() <= limits.ratio_floor + 2 * limits.output_window as u64);
                // Nothing near 64 MiB: the deflate window and tables, brotli's 4 MiB window and
                // ruzstd's buffers are all there is.
                let bound = match kind {
                    Kind::Gzip | Kind::Zlib | Kind::Raw => 256 << 10,
                    Kind::Br => (4 << 20) + (512 << 10),
                    Kind::Zstd => 3 << 20,
                };
                assert!(heap < bound, "{kind:?}: heap peak {heap}");
                assert!(memory < bound + (64 << 10), "{kind:?}: memory() {memory}");
                if piece == 1 {
                    assert!(
                        memory as isize >= heap as isize - (16 << 10),
                        "{kind:?}: memory() {memory} < heap {heap}"
                    );
                }
                // After the error everything is released.
                assert!(d.memory() <= std::mem::size_of::<Decoder>());
            }
        }
    }

    #[test]
    fn ratio_is_not_checked_below_the_floor_and_is_configurable() {
        let zeros = vec![0u8; 900 << 10];
        for kind in KINDS {
            let c = encode(kind, &zeros);
            let run = run_cuts(kind.coding(), DecodeLimits::default(), &c, &[]);
            assert_round_trip(kind.coding(), DecodeLimits::default(), &c, &zeros, &run);
            let strict = DecodeLimits {
                ratio_floor: 64 << 10,
                max_ratio: 5,
                ..DecodeLimits::default()
            };
            let run = run_cuts(kind.coding(), strict, &c, &[]);
            assert_eq!(run.result, Err(DecodeError::Ratio), "{kind:?}");
            assert!(run.decoded <= (64 << 10) + strict.output_window as u64);
        }
    }

    #[test]
    fn max_total_is_enforced_before_a_window_is_handed_over() {
        let plain = random_bytes(300_000, 17);
        for kind in KINDS {
            let c = encode(kind, &plain);
            for piece in [1 << 20, 4096] {
                let limits = DecodeLimits {
                    max_total: 100_000,
                    ..small_windows()
                };
                let run = run_pieces(kind.coding(), limits, &c, piece);
                assert_eq!(run.result, Err(DecodeError::TooLarge), "{kind:?}");
                assert!(run.decoded <= 100_000 && run.decoded > 100_000 - 1000);
                assert!(run.out == plain[..run.out.len()]);
                // Exactly at the limit is fine.
                let limits = DecodeLimits {
                    max_total: plain.len() as u64,
                    ..small_windows()
                };
                assert_round_trip(
                    kind.coding(),
                    limits,
                    &c,
                    &plain,
                    &run_pieces(kind.coding(), limits, &c, piece),
                );
            }
        }
    }

    #[test]
    fn brotli_windows_above_the_limit_are_refused_before_allocation() {
        let plain = text(1000);
        // lgwin 24 (16 MiB) against the default 8 MiB; the large-window extension; lgwin 22
        // against a 1 MiB limit.
        let cases = [
            (br_with(&plain[..], 5, 24, false), DecodeLimits::default()),
            (
                br_with(&plain[..], 5, 26, true),
                DecodeLimits {
                    max_window: 1 << 30,
                    ..DecodeLimits::default()
                },
            ),
            (
                br_with(&plain[..], 5, 22, false),
                DecodeLimits {
                    max_window: 1 << 20,
                    ..DecodeLimits::default()
                },
            ),
        ];
        for (c, limits) in &cases {
            for piece in [1, 1 << 20] {
                let base = start_peak();
                let run = run_pieces(Coding::Brotli, *limits, c, piece);
                assert_eq!(run.result, Err(DecodeError::Window));
                assert_eq!(run.decoded, 0);
                assert!(peak_since(base) < 256 << 10, "heap {}", peak_since(base));
            }
        }
        // The same 16 MiB-window stream decodes when the limit allows it.
        let limits = DecodeLimits {
            max_window: 16 << 20,
            ..DecodeLimits::default()
        };
        let run = run_pieces(Coding::Brotli, limits, &cases[0].0, 1);
        assert_round_trip(Coding::Brotli, limits, &cases[0].0, &plain, &run);
    }

    #[test]
    fn zstd_windows_above_the_limit_are_refused_before_allocation() {
        // Window_Descriptor 0x70: 2^(10+14) = 16 MiB; single segment with a 100 MiB content size;
        // the largest descriptor (exponent 31, mantissa 7).
        let block = raw_block(b"abcd", true);
        let cases = [
            zstd_frame(0x00, &[0x70], &block),
            zstd_frame(0xA0, &(100u32 << 20).to_le_bytes(), &block),
            zstd_frame(0x00, &[0xFF], &block),
        ];
        for c in &cases {
            for piece in [1, 1 << 20] {
                let base = start_peak();
                let run = run_pieces(Coding::Zstd, DecodeLimits::default(), c, piece);
                assert_eq!(run.result, Err(DecodeError::Window));
                assert!(peak_since(base) < 256 << 10, "heap {}", peak_since(base));
            }
        }
        // A window right at the limit is fine.
        let at = zstd_frame(0x00, &[0x68], &block);
        let run = run_pieces(Coding::Zstd, DecodeLimits::default(), &at, 1);
        assert_round_trip(Coding::Zstd, DecodeLimits::default(), &at, b"abcd", &run);
        // A lower limit refuses what the default takes.
        let c = zstd(&text(200_000));
        let limits = DecodeLimits {
            max_window: 16 << 10,
            ..DecodeLimits::default()
        };
        assert_eq!(
            run_pieces(Coding::Zstd, limits, &c, 1 << 20).result,
            Err(DecodeError::Window)
        );
    }

    #[test]
    fn stop_from_emit_ends_decoding_for_good() {
        let plain = text(200_000);
        for kind in KINDS {
            let c = encode(kind, &plain);
            let mut d = Decoder::new(kind.coding(), small_windows());
            let mut calls = 0;
            let mut emit = |_: &[u8]| {
                calls += 1;
                calls < 2
            };
            assert_eq!(d.push(&c, &mut emit), Err(DecodeError::Stopped), "{kind:?}");
            assert_eq!(d.push(&c, &mut emit), Err(DecodeError::Stopped));
            assert_eq!(d.finish(&mut emit), Err(DecodeError::Stopped));
            assert_eq!(calls, 2, "{kind:?}");
            assert!(d.decoded() <= 2000);
            assert!(d.memory() <= std::mem::size_of::<Decoder>());
        }
    }

    // -----------------------------------------------------------------------------------------
    // Memory

    /// `memory()` is never below what the decoder really has on the heap, and everything is
    /// freed when it is dropped.
    #[test]
    fn memory_covers_the_real_heap() {
        let plain = text(3 << 20);
        let mut streams: Vec<(Kind, Vec<u8>)> = KINDS.iter().map(|&k| (k, encode(k, &plain))).collect();
        // Large windows: brotli 16 MiB (several metablocks, so the ring is not shrunk), zstd 8 MiB
        // (raw blocks of random data under Window_Descriptor 0x68), and small ones.
        let noise = random_bytes(10 << 20, 23);
        streams.push((Kind::Br, br_with(&plain[..], 11, 24, false)));
        streams.push((Kind::Br, br_with(&noise[..], 1, 24, false)));
        streams.push((Kind::Br, br_with(&plain[..], 5, 10, false)));
        let chunks: Vec<&[u8]> = noise.chunks(ZSTD_MAX_BLOCK).collect();
        let blocks: Vec<u8> = chunks
            .iter()
            .enumerate()
            .flat_map(|(i, c)| raw_block(c, i + 1 == chunks.len()))
            .collect();
        streams.push((Kind::Zstd, zstd_frame(0x00, &[0x68], &blocks)));
        streams.push((Kind::Zstd, unhex(LIBZSTD_WLOG10)));
        let limits = DecodeLimits {
            max_window: 16 << 20,
            ..DecodeLimits::default()
        };
        for (kind, c) in &streams {
            for piece in [1 << 10, 64 << 10] {
                let base = live();
                let mut d = Decoder::new(kind.coding(), limits);
                let mut seen = 0u64;
                let mut emit = |w: &[u8]| {
                    seen += w.len() as u64;
                    true
                };
                let (mut max_heap, mut max_memory) = (0isize, 0usize);
                for p in c.chunks(piece) {
                    d.push(p, &mut emit).unwrap();
                    let heap = live() - base;
                    assert!(
                        heap <= d.memory() as isize,
                        "{kind:?}: heap {heap} > memory() {} after {} bytes",
                        d.memory(),
                        d.consumed()
                    );
                    max_heap = max_heap.max(heap);
                    max_memory = max_memory.max(d.memory());
                }
                d.finish(&mut emit).unwrap();
                drop(d);
                // (Checked before printing: captured output is heap too.)
                assert_eq!(live(), base, "{kind:?}: leak");
                eprintln!(
                    "memory {kind:?} ({} bytes, pieces of {piece}): heap peak {max_heap}, memory() peak {max_memory}",
                    c.len()
                );
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Fixtures made by libzstd 1.5.4 from `fixture_text()`.

    const LIBZSTD_L19: &str = concat!(
        "28b52ffd646a20e51400163a761870bb710054a9feffffffc0ffbf28a54c32c904b0feef1e0b890064006500b5c9adea6973",
        "14b479e53d3eaa96ba41d1bba8e3cd2fbdd090b4f2d35ef4b85a675027365be3b0e48ab571e494a4aa44f81461298f29f3b8",
        "9494543ee7e991890a0a12b758436e1b800f02b68d01485ac00001072a103020c04380055020e140000e1d083ca880208384",
        "00162640c0d020c00609090244d020a14281000e0c30c0402100820517022c73abe4bc2845b1b5763cf5c95e242e5de5617a",
        "143d9495894125f587adb94927f7f976ce34112bacb6669b145bd483639abccacb39d252eed685f434583406cde18e2db2f0",
        "c58dcc560bca8ba66a0c4d43418aea8c8be4f3cbd4482f97ed239e60ab12c4dffeb17868540d093a67a2b4dcd2132ec25b79",
        "43fafcb85a26f7a61859913d96f712bec4585acb497fcd9e22aa57044dcda668c9829de04cd91e3bdb2139aa8bf223282858",
        "6e8cef78302e16912ee4fd9c55cfa66ad4201a7ad3d629b89793924d3a618c18003e0820557054d5efde8bc2a49a6bdcee6c",
        "5d1695aee4147e1079ee974f4116f24dad7ea412c7e9465ab1c66c4d75e8f60c8514d565c631be622e64483bf2a25c369ee9",
        "14d18324ca9db7c2e4e55c25367fc45de8be4a1fd34ef1a96ac9d8c4cfc8a515d28b04812ba8114011c3f7d8e3e12bc30112",
        "4020289c0284e05f35fcf303eacc2072b84d454e72c9492ed91d118780041290400224908004b26840040212484002094840",
        "0212c8ca8d3802279ce084139ce004279cc5056d0c2626b7a9e424971cc925bb23720848400212484002094840160d882020",
        "81044820014943460241415a793e212fcc243c212fcc4c78425e9849788b9b52ca0d931ce5ce958317c9193b076f89987627",
        "2d460a50054801525ca04b0114b2606fd3aad0bff889ea621ae015020f3594e0",
    );
    const LIBZSTD_WLOG10: &str = concat!(
        "28b52ffd44006a20f40500b2881c1e50c5b40d5047c303e6e4c8d088d6965455d554a597567687998e997d5627a9f19cde6f",
        "3cfe9cfed5693355ad4cdd56d62fab54dbdb9b56b1babaf27276ae5caba9dffc0702d0efbf22016adac22080c32bb0e62895",
        "45d19c08bb4763f1206ec208c790b036b80473781ce7182087888801262080d382a80347b08c5aed23b29bb9a476b36958be",
        "a08671f38232cccd0bda30375b50c3cecdd782364cb819ca821ad6cd856944979693616edec2b4c884b0e3d80222eaa0683f",
        "196c0300d3c50ccaf9d469733da9aed49d94ea13ae5c888ae94af12a3be9264db93229edc58aac36a95dbc36a5556aa16a65",
        "edd42a57c25595b025100053b86419cd75c9821be6661b6b304696a1c1185946735db28ce6ba64c10d73b38d1ae6e66534d7",
        "250b6e989b17dc30372fb8c102bc030013c60ca99ebea934f5fe9a9cf20b9fb95033e1532f5dd54fe465c4c6fcaabeae4ec9",
        "d7c52bbfb213b3f65aa5969b37a9558ba87819212520d07b745e34c359196c83811157f6b0c1c0c8007bd86080112c7b34d7",
        "2536b6c11859860663e4329aeb926534974b96d15c97c293616e5e46735d6219b6c0027c0400c348142bfba931b17252f5ab",
        "dd549b30ad4a5d2a5bf98bad2b576f52c5a959e9d751b14254a8d7b59eb6536a54d59588d92a8f21616d7009e6f038ce3140",
        "8e131103014817eeefbf22016adac22080539dce08012420f0953545646499cd75c9329beb928534b74b96d95c972cb3b92e",
        "5966735db22023cbf232361823cb6cae4b96d95c97f46594a5eb4063b6c5029c030053460d87ea29f19776c26c55992b575e",
        "53b22a4d954fb5babb09735552acdecac8ddb872d7e2736ab5521db71771719fb88edae947c5bc442420f0b50e035966735d",
        "b290e6bac41ecd75c98534d7250b69ae4b96d95c972c63833b465be16dd873f315b28d7089656c304696d95c972c0309b19c",
        "030053c60da83525c5e54c6de45fd515776a5d9ad44a5e5caaacab92da54b5c9ba29e9aa2fa51a55b9d76ad5a91637ea4aaa",
        "17f389af50bf88ca00092320e0f70df66cae70e76b78371823cb6cae4b96d95c97d8a3b95db290e6ba6421cd75c9429aeb92",
        "656c30466cbcc11859c606636419981e0b24030013450b6ba9b5d989d54abd5ab5d2a6aa856a35295e8a172a56dca997759d",
        "793975aa6544d6e5852997d5d79711311010231000f56cae3becd95c77d8b3b9ee0871c35c67bb8d70873d9beb0e7b36d71d",
        "f66cae3b42dc30b7856e235c1ccee6ba381c9b452c030023050bd8bd5273ad56aa54add65d4a5727852bad3ea7af6ed6d4bc",
        "7829655edb4b2dafc44e5e7fe2d5df455e9cf8fe241000086e98eb6cb711eeb06773dd61cfe6bac39ecd7547881be63adb6d",
        "843becd95c77d8b3b92e0e67735dcce086b9ce761be11601cd01002402203233303939323130323239393430313439393630",
        "30363939383033393831227d0a0d1000f66cae8bc3d95c1787b3b9eeb06773ddc0570f3594e0",
    );
}
