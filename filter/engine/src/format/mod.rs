//! Body formats: how a body is cut into the values the rules see.

pub(crate) mod json;
pub(crate) mod sse;
pub(crate) mod text;

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
}

impl Format {
    /// Parses a format name from the policy or the command line.
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "text" => Format::Text,
            "json" => Format::Json,
            "ndjson" | "jsonl" => Format::Ndjson,
            "sse" => Format::Sse,
            _ => return None,
        })
    }

    /// The format a (lower-case, parameter-free) media type implies.
    pub fn for_media_type(media: &str) -> Format {
        let sub = media.split_once('/').map_or("", |(_, s)| s);
        match sub {
            "x-ndjson" | "ndjson" | "jsonl" | "x-jsonlines" | "jsonlines" | "json-seq" => Format::Ndjson,
            "event-stream" => Format::Sse,
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
        }
    }
}
