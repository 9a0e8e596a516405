#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! Form, multipart and sniffed bodies: any chunking gives the whole-body output; a masked form
//! re-parses to the same names with no raw value left; a masked multipart body keeps every
//! delimiter and header block; sniffing picks the format the bytes have.

use proptest::prelude::*;
use std::sync::Arc;
use streammask_engine::{parse_media_type, sniff_format, Format, FormatRouter, Masker, Route, Ruleset};

const SECRET: &str = "0123456789abcdef0123456789abcdef-test-only";

fn policy() -> Arc<Ruleset> {
    let json = format!(
        r#"{{"fields":[{{"name":"user-ids","keys":["user_id"],"action":{{"type":"tokenize"}}}}],
            "tokenize":{{"key_id":"k1","secret":"{SECRET}"}}}}"#
    );
    Arc::new(Ruleset::from_json(&json, &|_| None).unwrap())
}

/// The routing a proxy does by default (its own tests cover its settings): textual types are
/// scanned, untyped and octet-stream bodies sniffed, file parts scanned only when textual.
struct Router;

impl FormatRouter for Router {
    fn route(&self, content_type: Option<&str>, file: bool) -> Route {
        let untyped = if file { Route::Pass } else { Route::Sniff };
        let Some(ct) = content_type else { return untyped };
        let (media, boundary) = parse_media_type(ct);
        if media.is_empty() || media == "application/octet-stream" {
            return untyped;
        }
        if media.starts_with("multipart/") {
            return boundary.map_or(Route::Scan(Format::Text), Route::Multipart);
        }
        if media.starts_with("text/") || media.ends_with("json") || media.ends_with("x-www-form-urlencoded") {
            return Route::Scan(Format::for_media_type(&media));
        }
        Route::Pass
    }
}

fn run(p: &Arc<Ruleset>, ct: &str, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let route = Router.route(Some(ct), false);
    let mut m = Masker::for_route(p.clone(), &route, Arc::new(Router));
    let mut out = Vec::new();
    let mut at = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    for c in cuts {
        let c = c.max(at);
        m.push(&input[at..c], &mut out);
        at = c;
    }
    m.push(&input[at..], &mut out);
    m.finish(&mut out);
    out
}

fn one_byte_chunks(p: &Arc<Ruleset>, ct: &str, input: &[u8]) -> Vec<u8> {
    let cuts: Vec<usize> = (1..input.len()).collect();
    run(p, ct, input, &cuts)
}

const VALUES: &[&str] = &[
    "4111 1111 1111 1111",
    "4111111111111111",
    "jane.doe@example.com",
    "123-45-6789",
    "+1 (415) 555-2671",
    "DE89 3704 0044 0532 0130 00",
    "hello world",
    "a&b=c",
    "100%",
    "%zz",
    "",
    "é ü",
];

/// Form encoding as browsers write it (space as `+`), sometimes with `%20`, sometimes raw.
fn encode(s: &str, style: u8) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(char::from(b)),
            b' ' if style == 0 => out.push('+'),
            b'@' | b'(' | b')' if style == 2 => out.push(char::from(b)),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The reference decoder (`application/x-www-form-urlencoded` parsing as in the URL standard).
fn decode(s: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let dec = |x: &[u8]| -> Vec<u8> {
        let mut o = Vec::new();
        let mut i = 0;
        while i < x.len() {
            match x[i] {
                b'+' => o.push(b' '),
                b'%' if i + 2 < x.len() => {
                    match std::str::from_utf8(&x[i + 1..i + 3])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                    {
                        Some(v) => {
                            o.push(v);
                            i += 2;
                        }
                        None => o.push(b'%'),
                    }
                }
                b => o.push(b),
            }
            i += 1;
        }
        o
    };
    s.split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut it = p.splitn(2, |&b| b == b'=');
            let k = it.next().unwrap_or(b"");
            let v = it.next().unwrap_or(b"");
            (dec(k), dec(v))
        })
        .collect()
}

fn form_body() -> impl Strategy<Value = (Vec<(String, String)>, u8)> {
    let name = prop::sample::select(&["card", "email", "q", "password", "user_id", "note", "x y", "a%2Bb"][..]);
    let value = prop_oneof![
        prop::sample::select(VALUES).prop_map(String::from),
        prop::sample::select(VALUES).prop_map(|v| format!("note {v} end")),
    ];
    (
        prop::collection::vec((name.prop_map(String::from), value), 1..6),
        0u8..3,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn form_bodies_mask_the_same_in_any_chunking_and_reparse_to_the_same_names(
        (pairs, style) in form_body(),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        let p = policy();
        let body: String = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", if k.contains('%') { k.clone() } else { encode(k, style) }, encode(v, style)))
            .collect::<Vec<_>>()
            .join("&");
        let ct = "application/x-www-form-urlencoded";
        let whole = run(&p, ct, body.as_bytes(), &[]);
        prop_assert_eq!(&run(&p, ct, body.as_bytes(), &cuts), &whole);
        prop_assert_eq!(&one_byte_chunks(&p, ct, body.as_bytes()), &whole);
        let before = decode(body.as_bytes());
        let after = decode(&whole);
        prop_assert_eq!(before.len(), after.len(), "{} -> {}", body, String::from_utf8_lossy(&whole));
        for ((k0, v0), (k1, v1_bytes)) in before.iter().zip(&after) {
            prop_assert_eq!(k0, k1);
            let v1 = String::from_utf8_lossy(v1_bytes);
            for raw in ["4111 1111 1111 1111", "4111111111111111", "jane.doe@example.com", "123-45-6789", "555-2671", "3704 0044 0532"] {
                prop_assert!(!v1.contains(raw), "{} left raw in {}", raw, v1);
            }
            if k0 == b"password" && !v0.is_empty() {
                prop_assert_eq!(v1.as_ref(), "[REDACTED]");
            }
            if k0 == b"user_id" && !v0.is_empty() {
                prop_assert!(v1.starts_with("tok_k1_"));
            }
            let clean = String::from_utf8_lossy(v0);
            if ["hello world", "a&b=c", "100%", "%zz", "é ü"].contains(&clean.as_ref()) && k0 != b"password" && k0 != b"user_id" {
                prop_assert_eq!(v0, v1_bytes);
            }
        }
    }
}

fn multipart_body(parts: &[(String, Option<&str>, Option<&str>, String)], boundary: &str, crlf: bool) -> String {
    let nl = if crlf { "\r\n" } else { "\n" };
    let mut s = format!("preamble 4111111111111111{nl}");
    for (name, file, ct, content) in parts {
        s.push_str(&format!("--{boundary}{nl}"));
        match file {
            Some(f) => s.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"{nl}"
            )),
            None => s.push_str(&format!("Content-Disposition: form-data; name=\"{name}\"{nl}")),
        }
        if let Some(ct) = ct {
            s.push_str(&format!("Content-Type: {ct}{nl}"));
        }
        s.push_str(nl);
        s.push_str(content);
        s.push_str(nl);
    }
    s.push_str(&format!("--{boundary}--{nl}epilogue jane.doe@example.com{nl}"));
    s
}

fn part() -> impl Strategy<Value = (String, Option<&'static str>, Option<&'static str>, String)> {
    let name = prop::sample::select(&["card", "email", "password", "note", "doc"][..]).prop_map(String::from);
    let file = prop::option::of(prop::sample::select(&["a.txt", "b.json", "c.png"][..]));
    let ct = prop::option::of(prop::sample::select(
        &[
            "text/plain",
            "application/json",
            "image/png",
            "application/x-www-form-urlencoded",
        ][..],
    ));
    let content = prop_oneof![
        prop::sample::select(VALUES).prop_map(String::from),
        prop::sample::select(VALUES).prop_map(|v| format!("{{\"note\":\"{v}\"}}")),
        prop::sample::select(VALUES).prop_map(|v| format!("line one\r\n--not-the-boundary {v}\r\n-")),
    ];
    (name, file, ct, content)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn multipart_bodies_mask_the_same_in_any_chunking_and_keep_every_delimiter(
        parts in prop::collection::vec(part(), 1..5),
        crlf in any::<bool>(),
        close in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let p = policy();
        let boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
        let mut body = multipart_body(&parts, boundary, crlf);
        if !close {
            // a body that ends without its close delimiter
            body.truncate(body.find(&format!("--{boundary}--")).unwrap_or(body.len()));
        }
        let ct = format!("multipart/form-data; boundary={boundary}");
        let whole = run(&p, &ct, body.as_bytes(), &[]);
        prop_assert_eq!(&run(&p, &ct, body.as_bytes(), &cuts), &whole);
        prop_assert_eq!(&one_byte_chunks(&p, &ct, body.as_bytes()), &whole);
        let out = String::from_utf8_lossy(&whole);
        // every delimiter and header line is still there, in order
        let marks = |s: &str| -> Vec<String> {
            s.lines().filter(|l| l.starts_with("--") && l.contains(boundary) || l.starts_with("Content-")).map(String::from).collect()
        };
        prop_assert_eq!(marks(&body), marks(&out));
        // part by part: scanned parts lose their values, binary parts are byte-identical
        let nl = if crlf { "\r\n" } else { "\n" };
        let sections: Vec<&str> = out.split(&format!("{nl}--{boundary}")).collect();
        for (i, (name, file, ct, content)) in parts.iter().enumerate() {
            let Some(section) = sections.get(i + 1) else { break };
            let Some((_, got)) = section.split_once(&format!("{nl}{nl}")) else { continue };
            // without a close delimiter the last part runs to the end of the body
            let got = if !close && i + 1 == parts.len() { got.strip_suffix(nl).unwrap_or(got) } else { got };
            let passes = name != "password" && (matches!(ct, Some("image/png")) || (file.is_some() && ct.is_none()));
            if passes {
                prop_assert_eq!(got, content.as_str());
            } else {
                for raw in ["4111 1111 1111 1111", "4111111111111111", "jane.doe@example.com", "123-45-6789"] {
                    prop_assert!(!got.contains(raw), "{} left raw in part {}: {:?}", raw, name, got);
                }
            }
        }
        prop_assert!(!out.contains("preamble 4111111111111111"));
        prop_assert!(!close || !out.contains("epilogue jane.doe@example.com"));
    }
}

#[test]
fn a_password_part_is_redacted_and_a_binary_file_part_passes() {
    let p = policy();
    let body = multipart_body(
        &[
            ("password".into(), None, None, "hunter2".into()),
            (
                "img".into(),
                Some("c.png"),
                Some("image/png"),
                "4111111111111111".into(),
            ),
            (
                "doc".into(),
                Some("a.json"),
                Some("application/json"),
                "{\"card\":\"4111111111111111\"}".into(),
            ),
        ],
        "XyZ",
        true,
    );
    let out = String::from_utf8(run(&p, "multipart/form-data; boundary=XyZ", body.as_bytes(), &[])).unwrap();
    assert!(out.contains("\r\n\r\n[REDACTED]\r\n--XyZ"), "{out}");
    assert!(out.contains("image/png\r\n\r\n4111111111111111\r\n"), "{out}");
    assert!(out.contains("{\"card\":\"411111******1111\"}"), "{out}");
}

#[test]
fn sniffing_picks_the_format_the_bytes_have() {
    assert_eq!(sniff_format(b"  {\"a\": 1}", true), Some(Format::Json));
    assert_eq!(sniff_format(b"{\"a\":1}\n{\"b\":2}\n", true), Some(Format::Ndjson));
    assert_eq!(sniff_format(b"card=4111&x=y+z", true), Some(Format::Form));
    assert_eq!(sniff_format("plain text, é\n".as_bytes(), true), Some(Format::Text));
    assert_eq!(sniff_format(b"\x89PNG\r\n\x1a\n\0\0", true), None);
    assert_eq!(sniff_format(b"GIF89a\x01\x00\x01\x00\x80\x00", true), None);
    // a character cut by the sniff window is still text
    assert_eq!(sniff_format(&"é".as_bytes()[..1], false), Some(Format::Text));
    assert_eq!(sniff_format(&"é".as_bytes()[..1], true), None);
}

#[test]
fn an_octet_stream_body_is_masked_as_what_it_holds_and_binary_passes() {
    let p = policy();
    let json = br#"{"card":"4111111111111111"}"#;
    assert_eq!(
        one_byte_chunks(&p, "application/octet-stream", json),
        br#"{"card":"411111******1111"}"#
    );
    let png = b"\x89PNG\r\n\x1a\n4111111111111111".to_vec();
    assert_eq!(one_byte_chunks(&p, "application/octet-stream", &png), png);
}
