#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! `fpe`: for every digit detector, generated valid values come out different, still valid (Luhn
//! and issuer prefix, IBAN mod 97, SSN ranges, a listed phone form), with the kept digits and
//! separators in place, the same however the body is chunked, and `detokenize` gives the input
//! back. Config checks: the minimum domain and the fallback.

use proptest::prelude::*;
use std::sync::Arc;
use streammask_engine::{mask_all, Format, Masker, Ruleset};

const SECRET: &str = "fpe-test-secret-0123456789abcdef0123456789";

const POLICY: &str = r#"{
  "rules": [
    {"name": "cards", "detector": "credit_card", "action": {"type": "fpe", "keep_first": 6, "keep_last": 4, "fallback": {"type": "mask", "keep_first": 6, "keep_last": 4}}},
    {"name": "ibans", "detector": "iban", "action": {"type": "fpe", "keep_last": 4, "fallback": {"type": "redact"}}},
    {"name": "ssns", "detector": "us_ssn", "action": {"type": "fpe"}},
    {"name": "phones", "detector": "phone_number", "action": {"type": "fpe", "keep_first": 1, "fallback": {"type": "redact"}}},
    {"name": "accounts", "pattern": "ACCT-[0-9]{8,12}", "action": {"type": "fpe"}}
  ],
  "fields": [{"name": "amounts", "keys": ["amount_id"], "action": {"type": "fpe", "fallback": {"type": "redact"}}}],
  "tokenize": {"key_id": "k7", "secret": "fpe-test-secret-0123456789abcdef0123456789"}
}"#;

fn policy() -> Ruleset {
    Ruleset::from_json(POLICY, &|_| None).unwrap()
}

fn luhn(d: &[u8]) -> bool {
    let mut sum = 0;
    for (i, &c) in d.iter().rev().enumerate() {
        let mut v = u32::from(c - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

fn iban_ok(s: &str) -> bool {
    let a: Vec<u8> = s.bytes().filter(u8::is_ascii_alphanumeric).collect();
    let mut r = 0u32;
    for &b in a[4..].iter().chain(&a[..4]) {
        let v = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        r = if v >= 10 { (r * 100 + v) % 97 } else { (r * 10 + v) % 97 };
    }
    r == 1
}

fn digits(s: &str) -> Vec<u8> {
    s.bytes().filter(u8::is_ascii_digit).collect()
}

/// A valid 16-digit card (Visa, Mastercard, Discover) or 19-digit Visa, grouped or compact.
fn card() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["4", "51", "55", "6011", "2221"]),
        any::<u64>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(prefix, seed, grouped, long)| {
            let len = if long && prefix == "4" { 19 } else { 16 };
            let mut d: Vec<u8> = prefix.bytes().collect();
            let mut x = seed;
            while d.len() < len - 1 {
                d.push(b'0' + (x % 10) as u8);
                x = x / 10 + 7_919;
            }
            let check = (0..10u8).map(|c| b'0' + c).find(|&c| {
                let mut t = d.clone();
                t.push(c);
                luhn(&t)
            });
            d.push(check.unwrap());
            let s = String::from_utf8(d).unwrap();
            if grouped {
                s.as_bytes()
                    .chunks(4)
                    .map(|c| std::str::from_utf8(c).unwrap())
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                s
            }
        })
}

/// A valid German (all digits) or Dutch (bank code letters) IBAN, grouped by fours.
fn iban() -> impl Strategy<Value = String> {
    (any::<u64>(), any::<bool>()).prop_map(|(seed, dutch)| {
        let (cc, bban) = if dutch {
            ("NL", format!("ABNA{:010}", seed % 10_000_000_000))
        } else {
            ("DE", format!("{:018}", seed % 1_000_000_000_000_000_000))
        };
        let mut r = 0u32;
        for b in format!("{bban}{cc}00").bytes() {
            let v = if b.is_ascii_digit() {
                u32::from(b - b'0')
            } else {
                u32::from(b - b'A') + 10
            };
            r = if v >= 10 { (r * 100 + v) % 97 } else { (r * 10 + v) % 97 };
        }
        let compact = format!("{cc}{:02}{bban}", 98 - r);
        compact
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(" ")
    })
}

fn ssn() -> impl Strategy<Value = String> {
    (1u32..900, 1u32..100, 1u32..10_000)
        .prop_filter("never issued", |(a, _, _)| *a != 666)
        .prop_map(|(a, g, s)| format!("{a:03}-{g:02}-{s:04}"))
}

fn phone() -> impl Strategy<Value = String> {
    (200u32..1000, 200u32..1000, 0u32..10_000).prop_map(|(a, e, n)| format!("+1 ({a}) {e}-{n:04}"))
}

/// The values of `text` in order, as `mask_all` found them: here, every masked body holds the
/// generated value at the same place (format preserving), so it is cut out by position.
fn value_at(out: &str, at: usize, len: usize) -> &str {
    &out[at..at + len]
}

fn detokenize(masked: &[u8], f: Format) -> Vec<u8> {
    let rs = Arc::new(policy().into_detokenizer(None));
    mask_all(&rs, f, masked).0
}

fn stream(p: &Arc<Ruleset>, f: Format, input: &[u8], cut: usize) -> Vec<u8> {
    let mut m = Masker::new(p.clone(), f);
    let mut out = Vec::new();
    for c in input.chunks(cut.max(1)) {
        m.push(c, &mut out);
    }
    m.finish(&mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn every_digit_detector_round_trips_and_stays_valid(c in card(), i in iban(), s in ssn(), ph in phone(), acct in 10_000_000u64..999_999_999_999, cut in 1usize..64) {
        let p = Arc::new(policy());
        let text = format!("card {c}; iban {i}; ssn {s}; phone {ph}; ACCT-{acct} end\n");
        let out = mask_all(&p, Format::Text, text.as_bytes()).0;
        let o = String::from_utf8(out.clone()).unwrap();
        prop_assert_eq!(o.len(), text.len(), "length kept: {}", o);
        prop_assert_eq!(stream(&p, Format::Text, text.as_bytes(), cut), out.clone(), "chunk invariant");
        let (ca, ia, sa, pa) = (text.find(&c).unwrap(), text.find(&i).unwrap(), text.find(&s).unwrap(), text.find(&ph).unwrap());
        // cards: new middle, same issuer prefix and last four, Luhn-valid
        let c2 = value_at(&o, ca, c.len());
        prop_assert_ne!(c2, c.as_str());
        let (d, d2) = (digits(&c), digits(c2));
        prop_assert!(luhn(&d2), "{} fails Luhn", c2);
        prop_assert_eq!(&d2[..6], &d[..6]);
        prop_assert_eq!(&d2[d2.len() - 4..], &d[d.len() - 4..]);
        prop_assert_eq!(c2.matches(' ').count(), c.matches(' ').count());
        // IBANs: valid mod 97, country code and last four kept
        let i2 = value_at(&o, ia, i.len());
        prop_assert_ne!(i2, i.as_str());
        prop_assert!(iban_ok(i2), "{} fails mod 97", i2);
        prop_assert_eq!(&i2[..2], &i[..2]);
        prop_assert_eq!(&i2[i2.len() - 4..], &i[i.len() - 4..]);
        // SSNs: outside the never-issued ranges
        let s2 = value_at(&o, sa, s.len());
        prop_assert_ne!(s2, s.as_str());
        let area: u32 = s2[..3].parse().unwrap();
        prop_assert!(area != 0 && area != 666 && area < 900, "{}", s2);
        prop_assert!(&s2[4..6] != "00" && &s2[7..] != "0000", "{}", s2);
        // phones: still a listed form, country code kept
        let p2 = value_at(&o, pa, ph.len());
        prop_assert!(p2.starts_with("+1 (") && p2.as_bytes()[4] >= b'2', "{}", p2);
        let raw_acct = format!("ACCT-{acct}");
        prop_assert!(!o.contains(&raw_acct));
        // reversal
        prop_assert_eq!(String::from_utf8(detokenize(&out, Format::Text)).unwrap(), text);
    }

    #[test]
    fn json_numbers_stay_numbers_and_round_trip(n in 100_000u64..u64::MAX / 10, c in card()) {
        let p = Arc::new(policy());
        let body = format!(r#"{{"amount_id":{n},"card":"{c}","list":[{n}]}}"#);
        let out = mask_all(&p, Format::Json, body.as_bytes()).0;
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        // a number, unless the result starts with 0 (then a string of the same digits)
        match &v["amount_id"] {
            serde_json::Value::Number(x) => prop_assert_ne!(x.to_string(), n.to_string()),
            serde_json::Value::String(s) => prop_assert!(s.starts_with('0') && s.len() == n.to_string().len()),
            other => prop_assert!(false, "{}", other),
        }
        let back = detokenize(&out, Format::Json);
        let b: serde_json::Value = serde_json::from_slice(&back).unwrap();
        let want: serde_json::Value = serde_json::from_str(&body).unwrap();
        prop_assert_eq!(&b["card"], &want["card"]);
        if v["amount_id"].is_number() {
            prop_assert_eq!(&b["amount_id"], &want["amount_id"]);
        } else {
            prop_assert_eq!(b["amount_id"].as_str().unwrap(), n.to_string());
        }
    }
}

#[test]
fn different_rules_and_keys_give_different_values_and_the_same_key_the_same() {
    let p = Arc::new(policy());
    let a = mask_all(&p, Format::Text, b"4111 1111 1111 1111").0;
    let b = mask_all(&Arc::new(policy()), Format::Text, b"4111 1111 1111 1111").0;
    assert_eq!(a, b, "deterministic across instances");
    let other_key = POLICY.replace(SECRET, "another-secret-0123456789abcdef0123456789");
    let c = mask_all(
        &Arc::new(Ruleset::from_json(&other_key, &|_| None).unwrap()),
        Format::Text,
        b"4111 1111 1111 1111",
    )
    .0;
    assert_ne!(a, c);
    let renamed = POLICY.replace("\"cards\"", "\"payment-cards\"");
    let d = mask_all(
        &Arc::new(Ruleset::from_json(&renamed, &|_| None).unwrap()),
        Format::Text,
        b"4111 1111 1111 1111",
    )
    .0;
    assert_ne!(a, d, "the rule name is part of the tweak");
    // an Amex with keep 6 + 4 has 5 free digits: the fallback masks it
    assert_eq!(mask_all(&p, Format::Text, b"378282246310005").0, b"378282*****0005");
}

#[test]
fn fpe_config_errors_name_the_problem() {
    let err = |json: &str| {
        Ruleset::from_json(json, &|_| None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let key = r#""tokenize": {"key_id": "k", "secret": "fpe-test-secret-0123456789abcdef0123456789"}"#;
    let e = err(&format!(
        r#"{{"rules": [{{"detector": "us_ssn", "action": {{"type": "fpe", "keep_last": 4}}}}], {key}}}"#
    ));
    assert!(
        e.contains("rules[0].action: FF1 needs at least 6 digits left to encrypt"),
        "{e}"
    );
    let e = err(&format!(
        r#"{{"rules": [{{"detector": "email", "action": {{"type": "fpe"}}}}], {key}}}"#
    ));
    assert!(e.contains("fpe encrypts digits"), "{e}");
    let e = err(&format!(
        r#"{{"fields": [{{"name": "f", "keys": ["k"], "action": {{"type": "fpe"}}}}], {key}}}"#
    ));
    assert!(e.contains("fields[0].action: FF1 needs at least 6 digits"), "{e}");
    let e = err(r#"{"rules": [{"detector": "credit_card", "action": {"type": "fpe"}}]}"#);
    assert!(e.contains("fpe needs a key"), "{e}");
    let e = err(&format!(
        r#"{{"rules": [{{"detector": "credit_card", "action": {{"type": "fpe", "fallback": {{"type": "fpe"}}}}}}], {key}}}"#
    ));
    assert!(e.contains("a fallback cannot be fpe itself"), "{e}");
    // with a fallback the short SSN rule is accepted
    assert!(err(&format!(r#"{{"rules": [{{"detector": "us_ssn", "action": {{"type": "fpe", "keep_last": 4, "fallback": {{"type": "redact"}}}}}}], {key}}}"#)).is_empty());
}

#[test]
fn values_fpe_cannot_take_get_the_fallback_never_their_digits() {
    let p = Arc::new(policy());
    // digits of another script in a field value: the fallback (redact), not a half-encrypted value
    let out = mask_all(&p, Format::Json, "{\"amount_id\":\"1234567８9\"}".as_bytes()).0;
    assert_eq!(String::from_utf8(out).unwrap(), r#"{"amount_id":"[REDACTED]"}"#);
    // more than 64 digits
    let long = "7".repeat(80);
    let out = mask_all(&p, Format::Json, format!("{{\"amount_id\":\"{long}\"}}").as_bytes()).0;
    assert_eq!(String::from_utf8(out).unwrap(), r#"{"amount_id":"[REDACTED]"}"#);
}
