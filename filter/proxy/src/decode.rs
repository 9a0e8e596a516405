//! Streaming decoders for compressed bodies (`gzip`, `deflate`), so masking sees plain text and the
//! body leaves uncompressed. Anything else is refused by the caller.

use flate2::write::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};
use std::io::Write;

/// A content coding the filter can undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Deflate,
}

impl Coding {
    /// Parses a `content-encoding` value. `Ok(None)`: identity. `Err(())`: a coding we cannot decode
    /// (br, zstd, compress, several codings stacked).
    #[allow(clippy::result_unit_err)]
    pub fn parse(value: Option<&str>) -> Result<Option<Coding>, ()> {
        let Some(v) = value else { return Ok(None) };
        let codings: Vec<String> = v
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty() && s != "identity")
            .collect();
        match codings.as_slice() {
            [] => Ok(None),
            [one] if one == "gzip" || one == "x-gzip" => Ok(Some(Coding::Gzip)),
            [one] if one == "deflate" => Ok(Some(Coding::Deflate)),
            _ => Err(()),
        }
    }

    /// The name used in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        }
    }
}

enum Inner {
    Gzip(MultiGzDecoder<Vec<u8>>),
    Zlib(ZlibDecoder<Vec<u8>>),
    Raw(DeflateDecoder<Vec<u8>>),
    /// `deflate` is zlib-wrapped by the standard, raw by some servers: decided on the first two bytes.
    Sniff(Vec<u8>),
}

/// A streaming decoder.
pub struct Decoder {
    inner: Inner,
}

/// The compressed input is corrupt or truncated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError;

impl Decoder {
    pub fn new(c: Coding) -> Decoder {
        Decoder {
            inner: match c {
                Coding::Gzip => Inner::Gzip(MultiGzDecoder::new(Vec::new())),
                Coding::Deflate => Inner::Sniff(Vec::new()),
            },
        }
    }

    /// Decodes `input`, appending plain bytes to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
        if let Inner::Sniff(buf) = &mut self.inner {
            buf.extend_from_slice(input);
            if buf.len() < 2 {
                return Ok(());
            }
            let (a, b) = (buf[0], buf[1]);
            let zlib = a & 0x0f == 8 && (u16::from(a) << 8 | u16::from(b)) % 31 == 0;
            let pending = std::mem::take(buf);
            self.inner = if zlib {
                Inner::Zlib(ZlibDecoder::new(Vec::new()))
            } else {
                Inner::Raw(DeflateDecoder::new(Vec::new()))
            };
            return self.push(&pending, out);
        }
        let res = match &mut self.inner {
            Inner::Gzip(d) => d.write_all(input).and_then(|_| d.flush()).map(|_| d.get_mut()),
            Inner::Zlib(d) => d.write_all(input).and_then(|_| d.flush()).map(|_| d.get_mut()),
            Inner::Raw(d) => d.write_all(input).and_then(|_| d.flush()).map(|_| d.get_mut()),
            Inner::Sniff(_) => return Ok(()),
        };
        let buf = res.map_err(|_| DecodeError)?;
        out.append(buf);
        Ok(())
    }

    /// Ends the input; a truncated stream is an error.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), DecodeError> {
        let res = match &mut self.inner {
            Inner::Gzip(d) => d.try_finish().map(|_| d.get_mut()),
            Inner::Zlib(d) => d.try_finish().map(|_| d.get_mut()),
            Inner::Raw(d) => d.try_finish().map(|_| d.get_mut()),
            Inner::Sniff(b) if b.is_empty() => return Ok(()),
            Inner::Sniff(_) => return Err(DecodeError),
        };
        let buf = res.map_err(|_| DecodeError)?;
        out.append(buf);
        Ok(())
    }
}
