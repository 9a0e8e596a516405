#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! Table-driven detector corpus (`data/detectors.json`): every positive is found and masked in text
//! and inside a JSON string, with one digit changed a checksum detector no longer matches, and every
//! near-miss passes through byte-identical.

use serde_json::Value;
use std::sync::Arc;
use streammask_engine::{mask_all, Format, Ruleset};

fn policy_for(detector: &str) -> Arc<Ruleset> {
    let json = format!(r#"{{"rules":[{{"detector":"{detector}","action":{{"type":"redact","replacement":"<X>"}}}}]}}"#);
    Arc::new(Ruleset::from_json(&json, &|_| None).unwrap())
}

fn corpus() -> Vec<Value> {
    let text = include_str!("data/detectors.json");
    serde_json::from_str::<Value>(text).unwrap().as_array().unwrap().clone()
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Changes one digit (the middle one) of a value.
fn one_digit_changed(v: &str) -> Option<String> {
    let idx: Vec<usize> = v
        .char_indices()
        .filter(|(_, c)| c.is_ascii_digit())
        .map(|(i, _)| i)
        .collect();
    let i = *idx.get(idx.len() / 2)?;
    let mut b = v.as_bytes().to_vec();
    b[i] = if b[i] == b'9' { b'0' } else { b[i] + 1 };
    String::from_utf8(b).ok()
}

#[test]
fn every_builtin_detector_has_corpus_entries() {
    let c = corpus();
    for d in streammask_engine::detect::DETECTORS {
        assert!(c.iter().any(|e| e["detector"] == d.name), "no corpus for {}", d.name);
    }
}

#[test]
fn positives_are_masked_in_text_and_json_strings() {
    for entry in corpus() {
        let det = entry["detector"].as_str().unwrap();
        let p = policy_for(det);
        // contextual detectors (a secret next to its key id, a URL's password) say what remains
        let expect = entry.get("expect").map(|_| strings(&entry, "expect"));
        for (i, v) in strings(&entry, "positive").into_iter().enumerate() {
            let masked = expect.as_ref().map_or("<X>".to_string(), |x| x[i].clone());
            let input = format!("before {v} after\n");
            let (out, stats) = mask_all(&p, Format::Text, input.as_bytes());
            let out = String::from_utf8(out).unwrap();
            assert_eq!(stats.rule_hits(), vec![1], "{det}: {v:?} not found in text: {out:?}");
            assert_eq!(out, format!("before {masked} after\n"), "{det}: {v:?}");

            let doc = serde_json::json!({"note": format!("value: {v}")}).to_string();
            let (out, stats) = mask_all(&p, Format::Json, doc.as_bytes());
            let out = String::from_utf8(out).unwrap();
            assert_eq!(stats.rule_hits(), vec![1], "{det}: {v:?} not found in JSON: {out}");
            let parsed: Value = serde_json::from_str(&out).unwrap();
            assert_eq!(parsed["note"], format!("value: {masked}"), "{det}");
        }
    }
}

#[test]
fn one_changed_digit_breaks_a_checksum_match() {
    for entry in corpus().into_iter().filter(|e| e["checksum"] == true) {
        let det = entry["detector"].as_str().unwrap();
        let p = policy_for(det);
        for v in strings(&entry, "positive") {
            let Some(bad) = one_digit_changed(&v) else { continue };
            let input = format!("value {bad} end");
            let (out, stats) = mask_all(&p, Format::Text, input.as_bytes());
            assert_eq!(stats.rule_hits(), vec![0], "{det}: {bad:?} (from {v:?}) still matched");
            assert_eq!(out, input.as_bytes());
        }
    }
}

#[test]
fn near_misses_pass_through_untouched() {
    for entry in corpus() {
        let det = entry["detector"].as_str().unwrap();
        let p = policy_for(det);
        for v in strings(&entry, "negative") {
            let input = format!("x {v} y\n");
            let (out, stats) = mask_all(&p, Format::Text, input.as_bytes());
            assert_eq!(
                String::from_utf8_lossy(&out),
                input,
                "{det}: near-miss {v:?} was changed"
            );
            assert_eq!(stats.rule_hits(), vec![0], "{det}: {v:?}");
        }
    }
}

#[test]
fn default_policy_leaves_typical_clean_values_alone() {
    let p = Arc::new(Ruleset::builtin_default());
    let clean = [
        "id 550e8400-e29b-41d4-a716-446655440000 at 2024-11-30T12:34:56.789Z",
        "sha d41d8cd98f00b204e9800998ecf8427e version 1.2.3 and v2.0.0-beta.1",
        "price $1,234.56 qty 3 order ORD-2024-000123 ts 1700000000000",
        "temperature 21.5 ratio 0.618033988749895 count 12345",
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    ];
    for c in clean {
        let (out, stats) = mask_all(&p, Format::Text, c.as_bytes());
        assert_eq!(String::from_utf8_lossy(&out), c);
        assert_eq!(stats.total(), 0, "{c}");
    }
}
