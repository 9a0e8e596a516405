//! Body formats: how a body is cut into the values the rules see.
//!
//! # Invariants
//! - The engine never routes by HTTP itself: which format a body or part gets comes from the
//!   [`FormatRouter`] the host implements; [`Format::for_media_type`] is total (unknown types are
//!   `Text`) and [`parse_media_type`] lower-cases the media type and drops its parameters.
//! - [`Format::name`] and [`Format::parse`] agree (every name parses back to its format; `jsonl`
//!   is one more spelling of `ndjson`): the names are the policy's and the metrics' vocabulary.
//! - A `boundary` is returned only when it has 1-70 characters (RFC 2046), quotes trimmed.

pub(crate) mod body;
pub(crate) mod form;
pub(crate) mod json;
pub(crate) mod multipart;
pub(crate) mod rawmap;
pub mod sniff;
pub(crate) mod sse;
pub(crate) mod text;
pub mod websocket;

/// The format of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Rules over the bytes, line by line.
    Text,
    /// One JSON document (or a sequence of them): fields by key/path, rules on string values and numbers.
    Json,
    /// JSON values, one per line; a bad line falls back to text rules until its end.
    Ndjson,
    /// Server-sent events: `data:` payloads that are JSON go through the JSON masker, the rest through text rules.
    Sse,
    /// `application/x-www-form-urlencoded`: names and values decoded, masked, re-encoded where changed.
    Form,
}

impl Format {
    /// Parses a format name from the policy or the command line.
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "text" => Format::Text,
            "json" => Format::Json,
            "ndjson" | "jsonl" => Format::Ndjson,
            "sse" => Format::Sse,
            "form" => Format::Form,
            _ => return None,
        })
    }

    /// The format a (lower-case, parameter-free) media type implies.
    pub fn for_media_type(media: &str) -> Format {
        let sub = media.split_once('/').map_or("", |(_, s)| s);
        match sub {
            "x-ndjson" | "ndjson" | "jsonl" | "x-jsonlines" | "jsonlines" | "json-seq" => Format::Ndjson,
            "event-stream" => Format::Sse,
            "x-www-form-urlencoded" => Format::Form,
            "json" => Format::Json,
            s if s.ends_with("+json") => Format::Json,
            _ => Format::Text,
        }
    }

    /// The name used in policies and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Sse => "sse",
            Format::Form => "form",
        }
    }
}

/// How a body, or a part of a multipart body, is masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Scanned as this format.
    Scan(Format),
    /// A multipart body with this boundary: each part is routed by its own headers.
    Multipart(Box<[u8]>),
    /// The format is decided from the first bytes (JSON, NDJSON, form, UTF-8 text), or the
    /// bytes pass unchanged when they are none of these.
    Sniff,
    /// Passes unchanged.
    Pass,
}

/// Chooses how a body or part is masked from its media type. The engine knows no HTTP: the
/// proxy implements this from its policy (content types, sniffing, multipart file parts), and a
/// multipart body asks it for each part.
pub trait FormatRouter: Send + Sync {
    /// `content_type`: a `content-type` value (with parameters), `None` when absent. `file`: a
    /// multipart part that carries a file name.
    fn route(&self, content_type: Option<&str>, file: bool) -> Route;

    /// The new value of header `name` (lower case) of a multipart part, and what was found in it,
    /// if the host masks that header (a proxy's header rules). None by default.
    fn part_header(&self, name: &str, value: &str) -> Option<(String, crate::config::MetaHits)> {
        let _ = (name, value);
        None
    }
}

/// The media type of a `content-type` value (lower case, no parameters) and its `boundary`.
pub fn parse_media_type(value: &str) -> (String, Option<Box<[u8]>>) {
    let mut parts = value.split(';');
    let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let boundary = parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim().trim_matches('"');
        // RFC 2046: 1-70 characters
        (!v.is_empty() && v.len() <= 70).then(|| v.as_bytes().to_vec().into_boxed_slice())
    });
    (media, boundary)
}
