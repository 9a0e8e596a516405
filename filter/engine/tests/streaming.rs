#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! The central property: for any input and any way to cut it into chunks (down to single bytes),
//! the streamed output equals masking the whole input at once, in every format. Plus the leak
//! properties: valid JSON stays valid and no raw value survives.

use proptest::prelude::*;
use std::sync::Arc;
use streammask_engine::{mask_all, Format, Masker, Ruleset};

const SECRET: &str = "0123456789abcdef0123456789abcdef-test-only";

fn policy() -> Arc<Ruleset> {
    policy_with("")
}

/// The same rules plus one that can match across a newline (text is then decided line by line).
fn policy_newline() -> Arc<Ruleset> {
    policy_with(NEWLINE_RULE)
}

const NEWLINE_RULE: &str = r#"{"name": "spaced", "pattern": "PIN\\s{1,3}[0-9]{4}"},"#;

fn policy_with(extra_rule: &str) -> Arc<Ruleset> {
    Arc::new(Ruleset::from_json(&policy_json(extra_rule), &|_| None).unwrap())
}

fn policy_json(extra_rule: &str) -> String {
    format!(
        r#"{{
        "rules": [
            {extra_rule}
            {{"detector": "private_key"}},
            {{"detector": "jwt"}},
            {{"detector": "aws_access_key_id"}},
            {{"detector": "credit_card"}},
            {{"detector": "iban"}},
            {{"detector": "us_ssn", "action": {{"type": "redact"}}}},
            {{"detector": "email", "action": {{"type": "tokenize"}}}},
            {{"detector": "phone_number"}},
            {{"detector": "ipv4"}},
            {{"detector": "ipv6"}},
            {{"detector": "url_password"}},
            {{"name": "orders", "pattern": "ORD-[0-9]{{10}}", "action": {{"type": "redact", "replacement": "[order]"}}}},
            {{"name": "bare-ssn", "pattern": "[0-9]{{9}}", "near": ["ssn", "social"], "within": 24}}
        ],
        "fields": [
            {{"name": "user-ids", "keys": ["user_id", "userId"], "action": {{"type": "tokenize"}}}},
            {{"name": "cards", "paths": ["$.items[*].card", "$.payment"], "action": {{"type": "mask", "keep_last": 4}}}}
        ],
        "tokenize": {{"key_id": "k1", "secret": "{SECRET}"}}
    }}"#
    )
}

const VALUES: &[&str] = &[
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "5555555555554444",
    "jane.doe@example.com",
    "J.Smith+news@mail.example.co.uk",
    "123-45-6789",
    "DE89 3704 0044 0532 0130 00",
    "+1 (415) 555-2671",
    "203.0.113.42",
    "2001:db8:85a3::8a2e:370:7334",
    "+44 20 7946 0958",
    "postgres://admin:S3cretPass@db.example.com:5432/app",
    "020 7946 0958",
    "ORD-1234567890",
    "AKIAIOSFODNN7EXAMPLE",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
];

const FILLER: &[&str] = &[
    " ",
    "\n",
    "\r\n",
    "hello",
    "4111",
    " 1111",
    "-",
    "@",
    ".",
    "ssn: ",
    "ssn 123456789",
    "12345",
    "é",
    "日本",
    "\u{1F600}",
    "\"",
    "\\",
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "data: ",
    "data: {\"a\":",
    "event: x\n",
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n",
    "-----END PRIVATE KEY-----\n",
    "\u{0}",
    "2024-11-30",
    "T12:00:00Z",
    "https://",
    "@h",
    "u:p",
    "fe80::",
    ":1:2:3:4:5",
    "(02) ",
    "0",
    "password: ",
    "Cvv2=",
    "api_key=\"",
    "client-secret : '",
    "v1.2.3",
    "0.5",
    "ORD-12345",
];

fn text_input() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => prop::sample::select(VALUES).prop_map(|s| s.as_bytes().to_vec()),
        5 => prop::sample::select(FILLER).prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..6),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value as V;
    let leaf = prop_oneof![
        prop::sample::select(VALUES).prop_map(|s| V::String(s.to_string())),
        prop::sample::select(VALUES).prop_map(|s| V::String(format!("note {s} end"))),
        "[a-z ]{0,12}".prop_map(V::String),
        any::<i64>().prop_map(V::from),
        Just(V::from(4111111111111111u64)),
        Just(V::from(1.5f64)),
        Just(V::Bool(true)),
        Just(V::Null),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(
                        &["user_id", "userId", "email", "note", "items", "card", "payment", "ssn", "a"][..]
                    ),
                    inner
                ),
                0..5
            )
            .prop_map(|kv| serde_json::Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

/// Serialises with some characters escaped as `\uXXXX`, the way other encoders do.
fn escaped(v: &serde_json::Value, escape_at: bool) -> Vec<u8> {
    let s = v.to_string();
    if escape_at {
        s.replace('@', "\\u0040").replace(' ', "\\u0020").into_bytes()
    } else {
        s.into_bytes()
    }
}

fn stream(p: &Arc<Ruleset>, f: Format, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut m = Masker::new(p.clone(), f);
    let mut out = Vec::new();
    let mut last = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.sort_unstable();
    for c in points {
        m.push(&input[last..c], &mut out);
        last = c;
    }
    m.push(&input[last..], &mut out);
    m.finish(&mut out);
    out
}

fn one_byte_chunks(p: &Arc<Ruleset>, f: Format, input: &[u8]) -> Vec<u8> {
    let mut m = Masker::new(p.clone(), f);
    let mut out = Vec::new();
    for b in input {
        m.push(std::slice::from_ref(b), &mut out);
    }
    m.finish(&mut out);
    out
}

/// Both test policies, each with its oracle: the same policy with every rule searched by its
/// plain regex over all bytes (no runs, no clusters).
fn with_oracles() -> Vec<(Arc<Ruleset>, Arc<Ruleset>)> {
    ["", NEWLINE_RULE]
        .map(|extra| {
            let plain = Ruleset::from_json(&policy_json(extra), &|_| None)
                .unwrap()
                .without_prefilters();
            (policy_with(extra), Arc::new(plain))
        })
        .to_vec()
}

const FORMATS: [Format; 4] = [Format::Text, Format::Json, Format::Ndjson, Format::Sse];

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn any_chunking_of_any_text_gives_the_whole_input_output(input in text_input(), cuts in prop::collection::vec(any::<usize>(), 0..12)) {
        for (p, f) in [policy(), policy_newline()].into_iter().flat_map(|p| FORMATS.map(|f| (p.clone(), f))) {
            let whole = mask_all(&p, f, &input).0;
            prop_assert_eq!(&stream(&p, f, &input, &cuts), &whole, "format {:?}", f);
            prop_assert_eq!(&one_byte_chunks(&p, f, &input), &whole, "format {:?} 1-byte", f);
        }
    }

    #[test]
    fn any_chunking_of_json_gives_the_whole_input_output_and_valid_json(v in json_value(), esc in any::<bool>(), cuts in prop::collection::vec(any::<usize>(), 0..12)) {
        let p = policy();
        let input = escaped(&v, esc);
        let whole = mask_all(&p, Format::Json, &input).0;
        prop_assert_eq!(&stream(&p, Format::Json, &input, &cuts), &whole);
        prop_assert_eq!(&one_byte_chunks(&p, Format::Json, &input), &whole);
        let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&whole);
        prop_assert!(parsed.is_ok(), "invalid JSON out: {}", String::from_utf8_lossy(&whole));
        let out = String::from_utf8_lossy(&whole);
        for raw in ["4111 1111 1111 1111", "4111-1111-1111-1111", "5555555555554444", "4111111111111111", "jane.doe@example.com", "123-45-6789", "ORD-1234567890", "AKIAIOSFODNN7EXAMPLE"] {
            prop_assert!(!out.contains(raw), "{} leaked in {}", raw, out);
        }
    }

    #[test]
    fn ndjson_and_sse_framings_are_chunk_invariant(vs in prop::collection::vec(json_value(), 1..6), garbage in prop::collection::vec(text_input(), 0..3), cuts in prop::collection::vec(any::<usize>(), 0..16)) {
        let p = policy();
        let mut nd = Vec::new();
        let mut sse = Vec::new();
        for (i, v) in vs.iter().enumerate() {
            nd.extend_from_slice(v.to_string().as_bytes());
            nd.push(b'\n');
            sse.extend_from_slice(format!("id: {i}\ndata: {v}\n\n").as_bytes());
            if let Some(g) = garbage.get(i) {
                nd.extend_from_slice(g);
                nd.push(b'\n');
                sse.extend_from_slice(b"data: ");
                sse.extend_from_slice(g);
                sse.extend_from_slice(b"\n\n");
            }
        }
        for (f, input) in [(Format::Ndjson, &nd), (Format::Sse, &sse)] {
            let whole = mask_all(&p, f, input).0;
            prop_assert_eq!(&stream(&p, f, input, &cuts), &whole, "{:?}", f);
            prop_assert_eq!(&one_byte_chunks(&p, f, input), &whole, "{:?}", f);
        }
    }
}

/// More digit clusters than the scanner keeps in one buffer: the values past the list are found by
/// each rule's own search, with the same result whatever the chunking.
#[test]
fn values_past_the_digit_cluster_list_are_masked_in_any_chunking() {
    let p = policy();
    let mut body = Vec::new();
    for i in 0..3000 {
        body.extend_from_slice(format!("{:03}a", i % 1000).as_bytes());
        if i % 700 == 699 {
            body.extend_from_slice(b" card 4111 1111 1111 1111 ssn 123-45-6789 ip 203.0.113.42 ");
        }
    }
    let (whole, _) = mask_all(&p, Format::Text, &body);
    let text = String::from_utf8_lossy(&whole);
    assert_eq!(text.matches("4111 1111 1111 1111").count(), 0, "a card passed");
    assert_eq!(text.matches("123-45-6789").count(), 0, "an SSN passed");
    assert_eq!(text.matches("203.0.113.42").count(), 0, "an IP passed");
    assert_eq!(text.matches("card ").count(), 4);
    for chunk in [1usize, 7, 512, 4096, 1 << 20] {
        let mut m = Masker::new(p.clone(), Format::Text);
        let mut out = Vec::new();
        for c in body.chunks(chunk) {
            m.push(c, &mut out);
        }
        m.finish(&mut out);
        assert!(out == whole, "chunk size {chunk} changed the output");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    /// The prefilters (runs of a rule's bytes, digit clusters) change nothing but speed: the output
    /// equals that of the same policy searching every rule's regex over all bytes.
    #[test]
    fn prefilters_give_the_plain_search_output(input in text_input(), v in json_value(), cuts in prop::collection::vec(any::<usize>(), 0..8)) {
        let json = v.to_string().into_bytes();
        for (fast, plain) in with_oracles() {
            for f in FORMATS {
                for body in [&input, &json] {
                    let want = mask_all(&plain, f, body).0;
                    prop_assert_eq!(stream(&fast, f, body, &cuts), want, "format {:?}", f);
                }
            }
        }
    }
}

/// The output up to where the value that crosses the guard starts, streamed in chunks; `None`
/// when the guard is never crossed.
fn cut_output(p: &Arc<Ruleset>, f: Format, input: &[u8], cuts: &[usize]) -> Option<Vec<u8>> {
    let mut m = Masker::new(p.clone(), f);
    m.watch(p.budgets());
    let mut sent = Vec::new();
    let mut at = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.push(input.len());
    points.sort_unstable();
    for &end in &points {
        let mut out = Vec::new();
        m.push(&input[at..end], &mut out);
        if end == input.len() {
            m.finish(&mut out);
        }
        sent.extend_from_slice(&out);
        if let Some(c) = m.cut() {
            sent.truncate(usize::try_from(c).unwrap().min(sent.len()));
            return Some(sent);
        }
        at = end;
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    /// Where a bulk-exposure guard is crossed does not depend on how the body was cut: the output
    /// before the crossing value is the same for any chunking, and is a prefix of the masked body.
    #[test]
    fn the_bulk_guard_cut_is_chunk_invariant(v in json_value(), input in text_input(), max in 0u64..4, cuts in prop::collection::vec(any::<usize>(), 0..12)) {
        let json = policy_json("").replacen(
            r#"{"detector": "credit_card"}"#,
            &format!(r#"{{"detector": "credit_card", "max_values_per_stream": {max}, "on_exceed": "block"}}"#),
            1,
        );
        let p = Arc::new(Ruleset::from_json(&json, &|_| None).unwrap());
        let cards = "4111 1111 1111 1111 and 5555555555554444, 4111-1111-1111-1111\n".repeat(3);
        let mut text = input.clone();
        text.extend_from_slice(cards.as_bytes());
        let budget = p.budgets()[0];
        for (f, body) in [(Format::Text, text), (Format::Json, v.to_string().into_bytes())] {
            let whole = cut_output(&p, f, &body, &[]);
            prop_assert_eq!(&cut_output(&p, f, &body, &cuts), &whole, "format {:?}", f);
            let (all, stats) = mask_all(&p, f, &body);
            match &whole {
                // what is kept is the masked body up to the crossing value
                Some(kept) => prop_assert!(all.starts_with(kept) && kept.len() < all.len(), "{}", String::from_utf8_lossy(kept)),
                None => prop_assert!(!stats.exceeds(&budget)),
            }
        }
    }
}

/// Long values whose rules search only their start (`Detector::search`): JWTs with payloads up to
/// and past their 8,192-byte bound, and a field's text form with strings up to and past 4,096
/// units, streamed at many chunk sizes: the same output as the whole input, and no raw token.
#[test]
fn long_values_found_by_their_start_stream_like_the_whole_input() {
    let p = policy();
    let b64 = |n: usize, c: u8| String::from_utf8(vec![c; n]).unwrap();
    let jwt = |n: usize| format!("eyJhbGciOiJIUzI1NiJ9.eyJ{}.sig_{}", b64(n, b'p'), b64(40, b's'));
    let mut text = String::new();
    for n in [20, 3000, 8192, 8193] {
        // the payload's run after its `eyJ`: within the 8,192 bound for all but the last
        text.push_str(&format!("token {} end\n", jwt(n)));
    }
    text.push_str(&format!(
        "user_id: x \"user_id\": \"{}\" and \"userId\": \"{}\"\n",
        b64(4000, b'u'),
        b64(4100, b'v')
    ));
    let input = text.as_bytes();
    let (whole, _) = streammask_engine::mask_all(&p, Format::Text, input);
    let w = String::from_utf8_lossy(&whole);
    for n in [20, 3000, 8192] {
        assert!(!w.contains(&jwt(n)), "a JWT with a {n}-byte payload passed");
    }
    assert!(
        w.contains(&jwt(8193)),
        "a payload over the bound is not a JWT by the pattern"
    );
    assert!(!w.contains(&b64(4000, b'u')), "a 4,000-unit field value passed");
    assert!(
        w.contains(&b64(4100, b'v')),
        "a field value over 4,096 units is not the field's by the pattern"
    );
    for size in [1, 7, 64, 1000, 4096, 9000] {
        let cuts: Vec<usize> = (size..input.len()).step_by(size).collect();
        assert!(
            stream(&p, Format::Text, input, &cuts) == whole,
            "chunks of {size} bytes"
        );
    }
}
