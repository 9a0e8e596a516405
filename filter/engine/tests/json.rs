#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! JSON masking: fields by key and path, rules on strings and numbers, escapes, validity, and the
//! text fallback for malformed or too-deep JSON.

use serde_json::{json, Value};
use std::sync::Arc;
use streammask_engine::{mask_all, Format, Ruleset};

const SECRET: &str = "0123456789abcdef0123456789abcdef-test-only";

fn policy(extra: &str) -> Arc<Ruleset> {
    let json = format!(
        r#"{{
        "rules": [
            {{"detector": "credit_card"}},
            {{"detector": "email", "action": {{"type": "redact", "replacement": "<email>"}}}},
            {{"name": "bare-ssn", "pattern": "[0-9]{{9}}", "near": ["ssn"], "within": 16, "action": {{"type": "redact"}}}}
        ],
        "fields": [
            {{"name": "user-ids", "keys": ["user_id"], "action": {{"type": "tokenize"}}}},
            {{"name": "secrets", "keys": ["password"]}},
            {{"name": "nested", "paths": ["$.items[*].card", "$.profile.address"], "action": {{"type": "mask", "keep_last": 2}}}}
        ],
        "tokenize": {{"key_id": "k1", "secret": "{SECRET}"}}
        {extra}
    }}"#
    );
    Arc::new(Ruleset::from_json(&json, &|_| None).unwrap())
}

fn mask(doc: &str) -> (String, streammask_engine::Stats) {
    let (out, stats) = mask_all(&policy(""), Format::Json, doc.as_bytes());
    (String::from_utf8(out).unwrap(), stats)
}

#[test]
fn field_keys_mask_whole_values_of_any_type() {
    let doc = json!({"user_id": "u-12345", "password": "hunter2", "other": "keep me", "n": 5}).to_string();
    let (out, stats) = mask(&doc);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["user_id"].as_str().unwrap().starts_with("tok_k1_"));
    assert_eq!(v["password"], "[REDACTED]");
    assert_eq!(v["other"], "keep me");
    assert_eq!(v["n"], 5);
    // the user's field for "password" wins over the built-in secret_keys field (last)
    assert_eq!(stats.field_hits(), vec![1, 1, 0, 0]);
}

#[test]
fn the_users_field_rule_applies_inside_a_value_redacted_by_key_name() {
    // `api_key` is a built-in secret key; the user's own rules still name values inside it
    let doc = r#"{"api_key":{"password":true,"user_id":"u1","flag":true,"v":"abc","n":null}}"#;
    let (out, stats) = mask(doc);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["api_key"]["password"], "[REDACTED]", "{out}");
    assert!(
        v["api_key"]["user_id"].as_str().unwrap().starts_with("tok_k1_"),
        "{out}"
    );
    assert_eq!(v["api_key"]["flag"], true, "{out}");
    assert_eq!(v["api_key"]["v"], "[REDACTED]", "{out}");
    assert_eq!(v["api_key"]["n"], Value::Null, "{out}");
    assert_eq!(stats.field_hits(), vec![1, 1, 0, 1]);
}

#[test]
fn key_decisions_hold_for_many_keys_in_any_order() {
    // more distinct keys than the per-stream key memo has slots, secret and field keys among
    // them, each seen several times in different orders and lengths (also over the memo's limit)
    // plain keys of the lengths of the secret and field keys below, so some share a memo slot
    let mut keys: Vec<String> = [3usize, 7, 9, 11]
        .iter()
        .flat_map(|&w| (0..150).map(move |i| format!("{i:0w$}")))
        .collect();
    keys.extend(
        [
            "password",
            "user_id",
            "x_api_key",
            "DB_PASSWORD",
            "passwordHint2",
            "pwd",
        ]
        .map(String::from),
    );
    keys.push("a_very_long_key_name_that_ends_in_client_secret".into());
    keys.push("a_very_long_key_name_that_is_not_secret_at_all".into());
    let secret = |k: &str| {
        matches!(
            k,
            "x_api_key" | "DB_PASSWORD" | "pwd" | "a_very_long_key_name_that_ends_in_client_secret"
        )
    };
    for round in 0..3usize {
        let mut order = keys.clone();
        order.rotate_left(round * 37 % keys.len());
        if round == 1 {
            order.reverse();
        }
        // written by hand: a serde_json map would sort the keys
        let body: Vec<String> = order.iter().map(|k| format!("\"{k}\":\"v-1\"")).collect();
        let (out, _) = mask(&format!("{{{}}}", body.join(",")));
        let v: Value = serde_json::from_str(&out).unwrap();
        for k in &keys {
            let got = v[k.as_str()].as_str().unwrap();
            match k.as_str() {
                "password" => assert_eq!(got, "[REDACTED]", "{k}"),
                "user_id" => assert!(got.starts_with("tok_k1_"), "{k}: {got}"),
                k if secret(k) => assert_eq!(got, "[REDACTED]", "{k}"),
                _ => assert_eq!(got, "v-1", "{k}"),
            }
        }
    }
}

#[test]
fn field_on_a_container_masks_every_scalar_inside_and_keeps_keys() {
    let doc = r#"{"password":{"old":"a1","new":["b2",33,true,null]}}"#;
    let (out, _) = mask(doc);
    assert_eq!(
        out,
        r#"{"password":{"old":"[REDACTED]","new":["[REDACTED]","[REDACTED]","[REDACTED]",null]}}"#
    );
}

#[test]
fn paths_select_nested_values() {
    let doc =
        r#"{"items":[{"card":"ab-1234","x":"1234"},{"card":9876}],"profile":{"address":"1 Main St"},"address":"free"}"#;
    let (out, _) = mask(doc);
    assert_eq!(
        out,
        r#"{"items":[{"card":"**-**34","x":"1234"},{"card":"**76"}],"profile":{"address":"* **** St"},"address":"free"}"#
    );
}

#[test]
fn same_value_gives_the_same_token_everywhere() {
    let a = mask(r#"{"user_id":"42"}"#).0;
    let b = mask(r#"[{"user_id":"42"},{"user_id":"42"}]"#).0;
    let tok = serde_json::from_str::<Value>(&a).unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(b.matches(&tok).count(), 2);
}

#[test]
fn rules_apply_to_strings_after_unescaping_and_keep_clean_escapes_byte_identical() {
    let doc = r#"{"note":"mail jane\u002edoe\u0040example.com now","clean":"caf\u00e9 \"quoted\" \\ \/"}"#;
    let (out, stats) = mask(doc);
    assert_eq!(
        out,
        r#"{"note":"mail <email> now","clean":"caf\u00e9 \"quoted\" \\ \/"}"#
    );
    assert_eq!(stats.rule_hits()[1], 1);
}

#[test]
fn a_card_sent_as_a_number_becomes_a_masked_string() {
    let (out, _) = mask(r#"{"pan":4111111111111111,"qty":3,"price":12.5}"#);
    assert_eq!(out, r#"{"pan":"411111******1111","qty":3,"price":12.5}"#);
}

#[test]
fn near_keywords_see_the_key_of_the_value() {
    let (out, _) = mask(r#"{"ssn":"123456789","order":"123456789"}"#);
    assert_eq!(out, r#"{"ssn":"[REDACTED]","order":"123456789"}"#);
}

#[test]
fn keys_are_scanned_too() {
    let (out, _) = mask(r#"{"jane@example.com":{"ok":1}}"#);
    assert_eq!(out, r#"{"<email>":{"ok":1}}"#);
}

#[test]
fn clean_json_is_byte_identical_whitespace_and_all() {
    let doc = "{\n  \"a\" : [ 1 , 2.50, -3e2, true, false, null ],\n\t\"b\": \"x\\ty\"\r\n}\n";
    assert_eq!(mask(doc).0, doc);
}

#[test]
fn malformed_json_falls_back_to_text_rules_for_the_rest() {
    let (out, stats) = mask(r#"{"a": oops 4111 1111 1111 1111 jane@example.com"#);
    assert_eq!(out, r#"{"a": oops 4111 11** **** 1111 <email>"#);
    assert_eq!(stats.json_fallbacks, 1);
}

#[test]
fn a_field_value_cut_by_malformed_json_is_still_masked() {
    let (out, _) = mask("{\"password\": \"hunter2\nrest");
    assert!(!out.contains("hunter2"), "{out}");
}

#[test]
fn a_field_value_longer_than_the_limit_is_redacted_whole() {
    let long = "x".repeat(10_000);
    let doc = json!({"password": long, "user_id": long}).to_string();
    let (out, _) = mask(&doc);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["password"], "[REDACTED]");
    assert_eq!(v["user_id"], "[REDACTED]");
}

#[test]
fn nesting_past_the_limit_falls_back_to_text() {
    let p = policy(r#", "limits": {"max_depth": 4}"#);
    let doc = r#"[[[[[ "4111111111111111" ]]]]]"#;
    let (out, stats) = mask_all(&p, Format::Json, doc.as_bytes());
    assert_eq!(String::from_utf8(out).unwrap(), r#"[[[[[ "411111******1111" ]]]]]"#);
    assert_eq!(stats.depth_fallbacks, 1);
}

#[test]
fn ndjson_recovers_on_the_next_line() {
    let p = policy("");
    let body = "{\"user_id\":\"1\"}\nnot json 4111111111111111\n{\"password\":\"x\"}\n";
    let (out, stats) = mask_all(&p, Format::Ndjson, body.as_bytes());
    let out = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("{\"user_id\":\"tok_k1_"));
    assert_eq!(lines[1], "not json 411111******1111");
    assert_eq!(lines[2], "{\"password\":\"[REDACTED]\"}");
    assert_eq!(stats.json_fallbacks, 1);
}

#[test]
fn sse_json_data_lines_use_fields_and_other_lines_use_text_rules() {
    let p = policy("");
    let body = "event: user\ndata: {\"user_id\":\"7\",\"note\":\"jane@example.com\"}\n\ndata: plain jane@example.com\n: comment 4111111111111111\n\n";
    let (out, _) = mask_all(&p, Format::Sse, body.as_bytes());
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with("event: user\ndata: {\"user_id\":\"tok_k1_"), "{out}");
    assert!(out.contains("\"note\":\"<email>\"}\n\n"), "{out}");
    assert!(
        out.ends_with("data: plain <email>\n: comment 411111******1111\n\n"),
        "{out}"
    );
}

#[test]
fn concatenated_documents_are_all_masked_as_json() {
    let (out, stats) = mask(r#"{"user_id":"u-1","n":1}{"user_id":"u-2"} [{"password":"p"}]"#);
    assert!(
        !out.contains("u-1") && !out.contains("u-2") && !out.contains("\"p\""),
        "{out}"
    );
    assert_eq!(stats.json_fallbacks, 0);
    assert_eq!(stats.field_hits()[0], 2);
}

#[test]
fn key_based_fields_still_apply_in_text_and_after_a_json_fallback() {
    let p = policy("");
    let (out, stats) = mask_all(
        &p,
        Format::Text,
        br#"log: {"user_id": "u-42", "password":"hunter2", "x": "keep"} and "password" : 12345"#,
    );
    let out = String::from_utf8(out).unwrap();
    assert!(
        !out.contains("u-42") && !out.contains("hunter2") && !out.contains("12345"),
        "{out}"
    );
    assert!(out.contains(r#""x": "keep""#), "{out}");
    assert_eq!(stats.field_hits()[..2], [1, 2]);
    // JSON inside a JSON string
    let (out, _) = mask(r#"{"payload":"{\"password\": \"hunter2\"}"}"#);
    assert!(!out.contains("hunter2"), "{out}");
    // malformed JSON: the text fallback still masks the field
    let (out, _) = mask(r#"{"a": oops, "password": "hunter2"}"#);
    assert!(!out.contains("hunter2"), "{out}");
}
