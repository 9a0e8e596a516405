#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Hostile and odd input, each with a defined outcome. Sizes are the ones users worry about; the
//! engine streams, so memory stays bounded (asserted through `Masker::held`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::time::Instant;

/// Counts heap bytes allocated and freed by the current thread, to report what a compiled policy
/// costs (tests run in parallel threads).
struct Counting;

thread_local! {
    static LIVE: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = LIVE.try_with(|c| c.set(c.get() + l.size() as isize));
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        let _ = LIVE.try_with(|c| c.set(c.get() - l.size() as isize));
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;
use streammask_engine::{mask_all, Format, Masker, Ruleset};

fn default_policy() -> Arc<Ruleset> {
    Arc::new(Ruleset::builtin_default())
}

/// Streams `total` bytes produced by `gen` through a masker in 64 KiB chunks, checking that the
/// hold-back stays bounded; returns the output length and a sample of the output's tail.
fn stream(p: &Arc<Ruleset>, f: Format, total: usize, mut gen: impl FnMut(usize, &mut Vec<u8>)) -> (usize, usize) {
    let mut m = Masker::new(p.clone(), f);
    let mut chunk = Vec::with_capacity(64 << 10);
    let mut out = Vec::with_capacity(128 << 10);
    let (mut sent, mut produced, mut max_held) = (0usize, 0usize, 0usize);
    while sent < total {
        chunk.clear();
        gen(sent, &mut chunk);
        chunk.truncate(total - sent);
        sent += chunk.len();
        out.clear();
        m.push(&chunk, &mut out);
        produced += out.len();
        max_held = max_held.max(m.held_back());
    }
    out.clear();
    m.finish(&mut out);
    produced += out.len();
    (produced, max_held)
}

#[test]
fn a_100_mb_body_without_a_newline_streams_with_bounded_memory() {
    let p = default_policy();
    let block: Vec<u8> = b"lorem ipsum dolor sit amet card 4111 1111 1111 1111 ".repeat(1260);
    let (n, held) = stream(&p, Format::Text, 100 << 20, |_, c| {
        c.extend_from_slice(&block[..(64 << 10).min(block.len())])
    });
    assert_eq!(n, 100 << 20, "length-preserving masks keep the length");
    assert!(held <= p.max_hold_back(), "held {held} > bound {}", p.max_hold_back());
}

#[test]
fn every_byte_a_digit_is_not_a_card_and_memory_stays_bounded() {
    let p = default_policy();
    let (n, held) = stream(&p, Format::Text, 20 << 20, |i, c| {
        c.extend((0..65536).map(|k| b'0' + ((i + k) % 10) as u8))
    });
    assert_eq!(n, 20 << 20);
    assert!(held <= p.max_hold_back(), "held {held}");
    let (out, stats) = mask_all(&p, Format::Text, &b"7".repeat(100_000));
    assert_eq!(stats.total(), 0, "a digit run glued on both sides is no card");
    assert_eq!(out, b"7".repeat(100_000));
}

#[test]
fn json_nested_100000_levels_deep_falls_back_to_text_without_recursion() {
    let p = default_policy();
    let mut doc = "[".repeat(100_000);
    doc.push_str("\"4111111111111111\"");
    doc.push_str(&"]".repeat(100_000));
    let (out, stats) = mask_all(&p, Format::Json, doc.as_bytes());
    assert_eq!(stats.depth_fallbacks, 1);
    assert!(!String::from_utf8_lossy(&out).contains("4111111111111111"));
    assert_eq!(out.len(), doc.len());
}

#[test]
fn a_50_mb_json_string_value_streams_and_is_scanned() {
    let p = default_policy();
    let total = 50 << 20;
    let (n, held) = stream(&p, Format::Json, total + 2, |i, c| {
        if i == 0 {
            c.extend_from_slice(b"{\"blob\":\"");
        }
        while c.len() < 65536 {
            c.extend_from_slice(b"abc 4111 1111 1111 1111 def ");
        }
        if i + c.len() >= total {
            c.truncate(total - i);
            c.extend_from_slice(b"\"}");
        }
    });
    assert!(n >= total, "{n}");
    assert!(held <= p.max_hold_back() + 64, "held {held}");
}

#[test]
fn a_match_on_every_line_is_linear() {
    let p = default_policy();
    let line = b"user jane.doe@example.com paid 4111 1111 1111 1111 from 203.0.113.42\n";
    let small = line.repeat(10_000);
    let big = line.repeat(100_000);
    let t = Instant::now();
    let (out_small, s1) = mask_all(&p, Format::Text, &small);
    let t_small = t.elapsed();
    let t = Instant::now();
    let (out_big, s2) = mask_all(&p, Format::Text, &big);
    let t_big = t.elapsed();
    assert_eq!(s1.total(), 30_000);
    assert_eq!(s2.total(), 300_000);
    assert!(!String::from_utf8_lossy(&out_big).contains("4111 1111 1111 1111"));
    assert_eq!(
        (out_small.len(), out_big.len()),
        (small.len(), big.len()),
        "masks keep lengths"
    );
    // not a timing assertion on speed, a sanity bound against quadratic behaviour (100x for 10x input)
    assert!(
        t_big < t_small * 40 + std::time::Duration::from_millis(500),
        "{t_small:?} vs {t_big:?}"
    );
}

#[test]
fn nul_bytes_crlf_and_lf_are_handled_alike() {
    let p = default_policy();
    let (a, _) = mask_all(
        &p,
        Format::Text,
        b"card\x004111111111111111\x00end\r\nnext 4111111111111111\r\n",
    );
    assert_eq!(a, b"card\x00411111******1111\x00end\r\nnext 411111******1111\r\n");
    let (j, _) = mask_all(&p, Format::Ndjson, b"{\"a\":\"4111111111111111\"}\r\n{\"b\":1}\r\n");
    assert_eq!(j, b"{\"a\":\"411111******1111\"}\r\n{\"b\":1}\r\n");
}

#[test]
fn a_body_that_claims_json_and_is_not_is_masked_as_text() {
    let p = default_policy();
    let (out, stats) = mask_all(
        &p,
        Format::Json,
        b"<html>card 4111111111111111 mail jane@example.com</html>",
    );
    assert_eq!(stats.json_fallbacks, 1);
    assert_eq!(out, b"<html>card 411111******1111 mail j***@*******.com</html>");
}

#[test]
fn an_empty_body_gives_an_empty_output_in_every_format() {
    let p = default_policy();
    for f in [Format::Text, Format::Json, Format::Ndjson, Format::Sse] {
        assert_eq!(mask_all(&p, f, b"").0, b"");
    }
}

#[test]
fn invalid_utf8_is_passed_through_and_json_stays_json() {
    let p = default_policy();
    let (out, _) = mask_all(&p, Format::Text, b"\xff\xfe\xfd 4111111111111111 \xc3");
    assert_eq!(out, b"\xff\xfe\xfd 411111******1111 \xc3");
    let (out, _) = mask_all(&p, Format::Json, b"{\"a\":\"\xff 4111111111111111\"}");
    assert_eq!(out, b"{\"a\":\"\xff 411111******1111\"}");
}

#[test]
fn a_policy_with_1000_rules_compiles_in_bounded_time_and_works() {
    let rules: Vec<String> = (0..1000)
        .map(|i| format!(r#"{{"name":"r{i}","pattern":"K{i:04}-[0-9]{{6}}"}}"#))
        .collect();
    let json = format!(r#"{{"rules":[{}]}}"#, rules.join(","));
    let before = LIVE.with(|c| c.get());
    let t = Instant::now();
    let p = Arc::new(Ruleset::from_json(&json, &|_| None).unwrap());
    let took = t.elapsed();
    let heap = (LIVE.with(|c| c.get()) - before).max(0) as usize;
    println!("1000-rule policy: compiled in {took:?}, {} KiB of heap", heap / 1024);
    assert!(took.as_secs() < 30, "{took:?}");
    assert!(heap < 512 << 20, "{heap} bytes");
    let (out, stats) = mask_all(&p, Format::Text, b"id K0999-123456 and K0001-654321");
    assert_eq!(out, b"id [REDACTED] and [REDACTED]");
    assert_eq!(stats.total(), 2);
}

#[test]
fn hostile_patterns_are_refused_or_run_in_linear_time() {
    // catastrophic-backtracking shapes are linear in this regex engine
    let p = Arc::new(Ruleset::from_json(r#"{"rules":[{"name":"evil","pattern":"(a|a){1,20}b"}]}"#, &|_| None).unwrap());
    let t = Instant::now();
    let (_, stats) = mask_all(&p, Format::Text, &b"a".repeat(1 << 20));
    assert_eq!(stats.total(), 0);
    assert!(t.elapsed().as_secs() < 20);
    // enormous compiled sizes and unbounded lengths are refused with a message
    for bad in [r#"(?:\w{1,100}){1,100}"#, r#"[a-z]+"#, r#"(x{1,1000}){1,1000}"#] {
        let json = format!(
            r#"{{"rules":[{{"name":"bad","pattern":{}}}]}}"#,
            serde_json::to_string(bad).unwrap()
        );
        let e = Ruleset::from_json(&json, &|_| None).unwrap_err();
        assert!(e.0[0].path == "rules[0].pattern", "{e}");
    }
}
