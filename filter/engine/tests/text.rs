#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! Text bodies: streaming behaviour users can see (what is held back, what is not), UTF-8, and
//! private-key regions.

use std::sync::Arc;
use streammask_engine::{mask_all, Format, Masker, Ruleset};

fn default_policy() -> Arc<Ruleset> {
    Arc::new(Ruleset::builtin_default())
}

#[test]
fn card_split_across_chunks_is_masked_whole() {
    let mut m = Masker::new(default_policy(), Format::Text);
    let mut out = Vec::new();
    m.push(b"pay with 4111 11", &mut out);
    assert!(
        !String::from_utf8_lossy(&out).contains("4111"),
        "the start of a card was released early"
    );
    m.push(b"11 1111 1111 today\n", &mut out);
    m.finish(&mut out);
    assert_eq!(String::from_utf8(out).unwrap(), "pay with 4111 11** **** 1111 today\n");
}

#[test]
fn a_complete_line_is_never_held_back() {
    let mut m = Masker::new(default_policy(), Format::Text);
    let mut out = Vec::new();
    m.push(b"line one 4111\nline two\n", &mut out);
    assert_eq!(out, b"line one 4111\nline two\n");
    assert_eq!(m.held_back(), 0);
}

#[test]
fn clean_text_is_released_at_once_except_a_possible_match_prefix() {
    let mut m = Masker::new(default_policy(), Format::Text);
    let mut out = Vec::new();
    m.push(b"hello world, order total is 12", &mut out);
    // "12" could begin a number; everything before it is out.
    assert!(String::from_utf8_lossy(&out).starts_with("hello world, order total is"));
    assert!(m.held_back() <= 3, "held {}", m.held_back());
}

#[test]
fn invalid_utf8_passes_through_unharmed_and_output_never_splits_a_character() {
    let p = default_policy();
    let input = b"bad \xff\xfe bytes \xe6\x97\xa5\xe6\x9c\xac ok 4111111111111111\n".to_vec();
    let (whole, _) = mask_all(&p, Format::Text, &input);
    assert_eq!(
        whole,
        b"bad \xff\xfe bytes \xe6\x97\xa5\xe6\x9c\xac ok 411111******1111\n".to_vec()
    );
    // "日" is bytes 13..16 and "本" 16..19: no emission may end inside them.
    let mut m = Masker::new(p, Format::Text);
    let mut out = Vec::new();
    for b in &input[..24] {
        m.push(std::slice::from_ref(b), &mut out);
        assert!(
            ![14, 15, 17, 18].contains(&out.len()),
            "emission split a character: {out:?}"
        );
    }
}

#[test]
fn private_key_is_masked_while_it_streams() {
    let p = default_policy();
    let mut m = Masker::new(p, Format::Text);
    let mut out = Vec::new();
    m.push(b"key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n", &mut out);
    let first = out.len();
    m.push(b"secretlinetwo\nsecretlinethree\n", &mut out);
    m.push(b"-----END RSA PRIVATE KEY-----\nafter 4111111111111111\n", &mut out);
    m.finish(&mut out);
    let s = String::from_utf8(out).unwrap();
    assert!(first > 0);
    assert_eq!(s, "key:\n[REDACTED]\nafter 411111******1111\n");
}

#[test]
fn an_unterminated_private_key_is_masked_to_the_end() {
    let (out, _) = mask_all(
        &default_policy(),
        Format::Text,
        b"-----BEGIN PRIVATE KEY-----\nAAAA\nBBBB 4111111111111111",
    );
    assert_eq!(out, b"[REDACTED]");
}

#[test]
fn masking_is_linear_on_adversarial_digit_runs() {
    // a long run of digits with single spaces: many near-miss card candidates
    let body: String = (0..20_000)
        .map(|i| {
            if i % 5 == 4 {
                ' '
            } else {
                char::from(b'0' + (i % 10) as u8)
            }
        })
        .collect();
    let (out, _) = mask_all(&default_policy(), Format::Text, body.as_bytes());
    assert_eq!(out.len(), body.len());
}

#[test]
fn a_value_at_the_end_of_a_line_is_released_with_the_line() {
    let mut m = Masker::new(default_policy(), Format::Text);
    let mut out = Vec::new();
    m.push(b"data: card 4111111111111111\n", &mut out);
    assert_eq!(out, b"data: card 411111******1111\n");
    assert_eq!(m.held_back(), 0);
}

#[test]
fn a_secret_keys_action_streams_in_text_and_applies_whole_in_json() {
    // as the README says: in text the value is masked as it streams, so `keep_last` cannot apply
    // and `tokenize` redacts; in JSON the value is captured whole and gets the action as written
    let env = |k: &str| (k == "K").then(|| "k".repeat(40));
    let mask =
        Arc::new(Ruleset::from_json(r#"{"secret_keys": {"action": {"type": "mask", "keep_last": 2}}}"#, &env).unwrap());
    let tok = Arc::new(
        Ruleset::from_json(
            r#"{"secret_keys": {"action": {"type": "tokenize"}}, "tokenize": {"key_id": "k1", "secret_env": "K"}}"#,
            &env,
        )
        .unwrap(),
    );
    let text = |p: &Arc<Ruleset>, f: Format, s: &str| String::from_utf8(mask_all(p, f, s.as_bytes()).0).unwrap();
    assert_eq!(
        text(&mask, Format::Text, "password=hunter22 x\n"),
        "password=******** x\n"
    );
    assert_eq!(
        text(&mask, Format::Json, r#"{"password":"hunter22"}"#),
        r#"{"password":"******22"}"#
    );
    assert_eq!(
        text(&tok, Format::Text, "password=hunter22 x\n"),
        "password=[REDACTED] x\n"
    );
    let json = text(&tok, Format::Json, r#"{"password":"hunter22"}"#);
    assert!(json.starts_with(r#"{"password":"tok_k1_"#), "{json}");
}
