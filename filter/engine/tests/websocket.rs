#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! WebSocket frames: for any sequence of messages (text in JSON and plain forms, fragmented at any
//! byte, binary messages, control frames between fragments), from either side (client frames
//! masked with random keys), cut into reads anywhere (headers included), the messages the output
//! frames carry are the messages masked whole, control and binary frames pass byte for byte and in
//! order, and the client's output frames are masked.

use proptest::prelude::*;
use std::sync::Arc;
use streammask_engine::{mask_all, write_frame, Format, Ruleset, WsMasker};

fn policy() -> Arc<Ruleset> {
    let json = r#"{
        "rules": [
            {"detector": "credit_card", "action": {"type": "mask", "keep_first": 6, "keep_last": 4}},
            {"detector": "email", "action": {"type": "tokenize"}},
            {"detector": "us_ssn", "action": {"type": "redact"}},
            {"detector": "iban"}
        ],
        "fields": [{"name": "names", "keys": ["name"], "action": {"type": "redact"}}],
        "tokenize": {"key_id": "t1", "secret": "0123456789abcdef0123456789abcdef-test-only"}
    }"#;
    Arc::new(Ruleset::from_json(json, &|_| None).unwrap())
}

/// What a peer sends, one item at a time.
#[derive(Debug, Clone)]
enum Item {
    /// A text message cut into fragments at these payload offsets, with a ping after fragment `k`.
    Text {
        body: String,
        cuts: Vec<usize>,
        ping_after: Option<usize>,
    },
    Binary(Vec<u8>),
    Ping(Vec<u8>),
}

/// What the output is compared on.
#[derive(Debug, PartialEq)]
enum Seen {
    Text(Vec<u8>),
    /// A frame passed as it came (its bytes).
    Raw(Vec<u8>),
}

fn key(rng: &mut u64) -> Option<[u8; 4]> {
    *rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    Some((*rng >> 32).to_le_bytes()[..4].try_into().unwrap())
}

/// The bytes a peer sends, and the order of what it sent (messages in the clear, control and
/// binary frames as bytes).
fn encode(items: &[Item], client: bool, seed: u64) -> (Vec<u8>, Vec<Item>) {
    let mut rng = seed | 1;
    let mut out = Vec::new();
    for item in items {
        let mut k = || if client { key(&mut rng) } else { None };
        match item {
            Item::Text { body, cuts, ping_after } => {
                let b = body.as_bytes();
                let mut at: Vec<usize> = cuts.iter().map(|c| c % (b.len() + 1)).collect();
                at.sort_unstable();
                at.dedup();
                at.retain(|&c| c > 0 && c < b.len());
                let mut bounds = vec![0];
                bounds.extend(at);
                bounds.push(b.len());
                let n = bounds.len() - 1;
                for f in 0..n {
                    let opcode = if f == 0 { 1 } else { 0 };
                    write_frame(&mut out, f + 1 == n, opcode, k(), &b[bounds[f]..bounds[f + 1]]);
                    if *ping_after == Some(f) && f + 1 < n {
                        write_frame(&mut out, true, 9, k(), b"are you there");
                    }
                }
            }
            Item::Binary(data) => write_frame(&mut out, true, 2, k(), data),
            Item::Ping(data) => write_frame(&mut out, true, 9, k(), data),
        }
    }
    (out, items.to_vec())
}

/// Parses frames: text messages joined and unmasked, every other frame as its bytes. Checks the
/// mask bit of every frame against `client`.
fn decode(mut bytes: &[u8], client: bool) -> Vec<Seen> {
    let mut seen = Vec::new();
    let mut msg: Option<Vec<u8>> = None;
    while !bytes.is_empty() {
        let (b0, b1) = (bytes[0], bytes[1]);
        let (len, mut at) = match b1 & 0x7f {
            126 => (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
            127 => (u64::from_be_bytes(bytes[2..10].try_into().unwrap()) as usize, 10),
            l => (usize::from(l), 2),
        };
        assert_eq!(b1 & 0x80 != 0, client, "mask bit of a frame");
        let key = (b1 & 0x80 != 0).then(|| {
            let k: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
            at += 4;
            k
        });
        let frame = &bytes[..at + len];
        let mut payload = bytes[at..at + len].to_vec();
        if let Some(k) = key {
            payload.iter_mut().enumerate().for_each(|(i, b)| *b ^= k[i % 4]);
        }
        let (fin, opcode) = (b0 & 0x80 != 0, b0 & 0x0f);
        match opcode {
            1 => {
                assert!(msg.is_none(), "a text frame inside a message");
                msg = Some(payload);
            }
            0 if msg.is_some() => msg.as_mut().unwrap().extend_from_slice(&payload),
            _ => seen.push(Seen::Raw(frame.to_vec())),
        }
        if fin && matches!(opcode, 0 | 1) && msg.is_some() {
            seen.push(Seen::Text(msg.take().unwrap()));
        }
        bytes = &bytes[at + len..];
    }
    assert!(msg.is_none(), "a message left open");
    seen
}

/// What the output must carry: each text message masked whole (JSON when it opens with `{` or
/// `[`, else text), every other frame as sent.
fn expected(p: &Arc<Ruleset>, sent: &[u8], client: bool) -> Vec<Seen> {
    decode(sent, client)
        .into_iter()
        .map(|s| match s {
            Seen::Text(m) => {
                let first = m.iter().find(|b| !b.is_ascii_whitespace());
                let format = if matches!(first, Some(b'{' | b'[')) {
                    Format::Json
                } else {
                    Format::Text
                };
                Seen::Text(mask_all(p, format, &m).0)
            }
            raw => raw,
        })
        .collect()
}

fn run(p: &Arc<Ruleset>, sent: &[u8], client: bool, cuts: &[usize]) -> Vec<u8> {
    let mut ws = WsMasker::new(Arc::clone(p), client, 0);
    let mut out = Vec::new();
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (sent.len() + 1)).collect();
    at.sort_unstable();
    let mut last = 0;
    for c in at.into_iter().chain([sent.len()]) {
        ws.push(&sent[last..c], &mut out);
        last = c;
    }
    assert_eq!(ws.held_back(), 0, "bytes held after whole messages");
    out
}

fn text_body() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("4111 1111 1111 1111".to_string()),
        Just("jane.doe@example.com".to_string()),
        Just("123-45-6789".to_string()),
        Just("DE89 3704 0044 0532 0130 00".to_string()),
        Just("hello there".to_string()),
        Just("order 1234".to_string()),
        Just("é ü 漢字".to_string()),
        "[a-z ]{0,12}",
    ];
    let text = proptest::collection::vec(piece.clone(), 0..8).prop_map(|v| v.join(" "));
    let json = proptest::collection::vec(piece, 1..5).prop_map(|v| {
        let fields: Vec<String> = v
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if i == 0 {
                    format!(r#""name":"{s}""#)
                } else {
                    format!(r#""k{i}":"{s}""#)
                }
            })
            .collect();
        format!("{{{}}}", fields.join(","))
    });
    prop_oneof![text, json]
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        4 => (text_body(), proptest::collection::vec(any::<usize>(), 0..4), proptest::option::of(0usize..4))
            .prop_map(|(body, cuts, ping_after)| Item::Text { body, cuts, ping_after }),
        1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Item::Binary),
        1 => proptest::collection::vec(any::<u8>(), 0..10).prop_map(Item::Ping),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_reads_of_any_frames_carry_the_messages_masked_whole(
        items in proptest::collection::vec(item(), 1..6),
        client in any::<bool>(),
        seed in any::<u64>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        bytewise in any::<bool>(),
    ) {
        let p = policy();
        let (sent, _) = encode(&items, client, seed);
        let cuts = if bytewise { (1..sent.len()).collect() } else { cuts };
        let out = run(&p, &sent, client, &cuts);
        prop_assert_eq!(decode(&out, client), expected(&p, &sent, client));
    }
}

#[test]
fn a_card_split_across_fragments_and_reads_is_masked_and_the_frames_rebuilt() {
    let p = policy();
    for client in [false, true] {
        let items = [Item::Text {
            body: "card 4111 1111 1111 1111 and mail jane.doe@example.com".into(),
            cuts: vec![9, 12, 30],
            ping_after: Some(1),
        }];
        let (sent, _) = encode(&items, client, 7);
        for read in [1, 2, 3, 5, 64] {
            let cuts: Vec<usize> = (read..sent.len()).step_by(read).collect();
            let out = run(&p, &sent, client, &cuts);
            let seen = decode(&out, client);
            let text = seen
                .iter()
                .find_map(|s| match s {
                    Seen::Text(m) => Some(String::from_utf8(m.clone()).unwrap()),
                    Seen::Raw(_) => None,
                })
                .unwrap();
            assert!(text.starts_with("card 4111 11** **** 1111 and mail "), "{text}");
            assert!(!text.contains("jane.doe@example.com"), "{text}");
            // the ping passed, inside the message, before its end
            assert!(matches!(seen[0], Seen::Raw(ref f) if f[0] == 0x89), "{seen:?}");
        }
    }
}

#[test]
fn large_frames_use_the_long_length_forms() {
    let p = policy();
    let mut body = "x".repeat(70_000);
    body.push_str(" 4111111111111111");
    let items = [Item::Text {
        body,
        cuts: vec![],
        ping_after: None,
    }];
    let (sent, _) = encode(&items, true, 3);
    let out = run(&p, &sent, true, &[100, 65_536, 70_010]);
    match &decode(&out, true)[..] {
        [Seen::Text(m)] => assert!(m.ends_with(b" 411111******1111") && m.len() == 70_017),
        other => panic!("{other:?}"),
    }
}

#[test]
fn frames_no_endpoint_may_send_are_dropped_and_counted() {
    let p = policy();
    let mut sent = Vec::new();
    // RSV1 set: a permessage-deflate message that was never negotiated (here the card in clear)
    let mut f = Vec::new();
    write_frame(&mut f, false, 1, None, b"card 4111111111111111");
    f[0] |= 0x40;
    sent.extend_from_slice(&f);
    // its continuation (a continuation of no message), a reserved opcode, then a good message
    write_frame(&mut sent, true, 0, None, b" 5555555555554444");
    write_frame(&mut sent, true, 3, None, b"123-45-6789");
    write_frame(&mut sent, true, 1, None, b"ok");
    let mut ws = WsMasker::new(Arc::clone(&p), false, 0);
    let mut out = Vec::new();
    ws.push(&sent, &mut out);
    assert_eq!(decode(&out, false), [Seen::Text(b"ok".to_vec())]);
    assert_eq!(ws.counts().dropped, 3);
}

#[test]
fn a_binary_frame_inside_an_open_text_message_closes_it_first() {
    let p = policy();
    let mut sent = Vec::new();
    write_frame(&mut sent, false, 1, None, b"card 4111 1111 ");
    write_frame(&mut sent, true, 2, None, b"\x00\x01");
    write_frame(&mut sent, true, 0, None, b"1111 1111");
    write_frame(&mut sent, true, 1, None, b"next");
    for read in [1, 4, 1000] {
        let cuts: Vec<usize> = (read..sent.len()).step_by(read).collect();
        let out = run(&p, &sent, false, &cuts);
        // the open message ends before the binary frame; the stray continuation is dropped
        let seen = decode(&out, false);
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(matches!(&seen[0], Seen::Text(m) if m.starts_with(b"card ")), "{seen:?}");
        assert!(matches!(&seen[1], Seen::Raw(f) if f[0] == 0x82), "{seen:?}");
        assert_eq!(seen[2], Seen::Text(b"next".to_vec()));
    }
}

#[test]
fn a_cut_inside_a_character_keeps_the_message_valid_utf8() {
    let p = policy();
    // a JSON field value of 3-byte characters, held whole, crosses the limit mid-character
    let body = format!(r#"{{"name":"{}"}}"#, "漢".repeat(2000));
    for limit in [1024, 1025, 1026, 2000] {
        let (sent, _) = encode(
            &[Item::Text {
                body: body.clone(),
                cuts: vec![],
                ping_after: None,
            }],
            false,
            1,
        );
        let mut ws = WsMasker::new(Arc::clone(&p), false, limit);
        let mut out = Vec::new();
        for c in sent.chunks(997) {
            ws.push(c, &mut out);
        }
        let seen = decode(&out, false);
        let Seen::Text(m) = &seen[0] else { panic!("{seen:?}") };
        let text = std::str::from_utf8(m).expect("valid UTF-8");
        assert!(text.ends_with("[streammask: message cut]"), "{text}");
    }
}

#[test]
fn every_client_frame_leaves_with_a_key_of_its_own() {
    let p = policy();
    let items = [Item::Text {
        body: "a 4111 1111 1111 1111 b c d e f g".into(),
        cuts: vec![],
        ping_after: None,
    }];
    let (sent, _) = encode(&items, true, 9);
    let cuts: Vec<usize> = (1..sent.len()).collect();
    let out = run(&p, &sent, true, &cuts);
    let mut keys = Vec::new();
    let mut b = &out[..];
    while !b.is_empty() {
        let len = usize::from(b[1] & 0x7f);
        keys.push(b[2..6].to_vec());
        b = &b[6 + len..];
    }
    assert!(keys.len() > 1, "{keys:?}");
    let distinct: std::collections::HashSet<_> = keys.iter().collect();
    assert_eq!(distinct.len(), keys.len(), "{keys:?}");
}

#[test]
fn held_bytes_past_the_limit_are_decided_never_passed_raw() {
    let p = policy();
    // a JSON field value is held whole until it ends: a long one crosses a small limit
    let body = format!(r#"{{"name":"{}"}}"#, "a".repeat(5000));
    let items = [Item::Text {
        body,
        cuts: vec![100, 2000, 4000],
        ping_after: None,
    }];
    let (sent, _) = encode(&items, false, 1);
    let mut ws = WsMasker::new(Arc::clone(&p), false, 1024);
    let mut out = Vec::new();
    for c in sent.chunks(700) {
        ws.push(c, &mut out);
        assert!(ws.held_back() <= 1024 + 700, "held {}", ws.held_back());
    }
    let seen = decode(&out, false);
    let Seen::Text(m) = &seen[0] else { panic!() };
    assert!(
        !m.windows(64).any(|w| w == "a".repeat(64).as_bytes()),
        "raw field bytes passed"
    );
    assert!(
        m.ends_with(streammask_engine::WS_CUT_MARKER),
        "{:?}",
        String::from_utf8_lossy(m)
    );
    assert!(ws.counts().held_limit >= 1);
}

#[test]
fn binary_messages_pass_unless_scanned() {
    let p = policy();
    let mut sent = Vec::new();
    write_frame(&mut sent, false, 2, None, b"card 4111 1111 ");
    write_frame(&mut sent, true, 0, None, b"1111 1111 \x00\xff");
    for scan in [false, true] {
        let mut ws = WsMasker::new(Arc::clone(&p), false, 0).scan_binary(scan);
        let mut out = Vec::new();
        for c in sent.chunks(3) {
            ws.push(c, &mut out);
        }
        if scan {
            // one message again, still binary, the card masked across the fragments
            assert_eq!(out[0] & 0x0f, 2);
            let joined: Vec<u8> = decode(&out, false)
                .into_iter()
                .flat_map(|s| match s {
                    Seen::Raw(f) => f,
                    Seen::Text(t) => t,
                })
                .collect();
            let text = String::from_utf8_lossy(&joined);
            assert!(
                text.contains("4111 11** **** 1111") && !text.contains("4111 1111 1111"),
                "{text}"
            );
        } else {
            assert_eq!(out, sent);
        }
    }
}
