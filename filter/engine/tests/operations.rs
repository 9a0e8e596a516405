#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Per-route policies, header and query-string rules, and the findings log.

use std::sync::Arc;
use streammask_engine::{mask_all, Format, Masker, Policy, PolicySet};

const KEY: &str = "ops-test-key-0123456789abcdef0123456789abcdef";

fn set(json: &str) -> PolicySet {
    PolicySet::from_json(json, &|k| (k == "K").then(|| KEY.to_string())).unwrap_or_else(|e| panic!("{e}"))
}

const ROUTED: &str = r#"{
  "rules": [{"detector": "credit_card"}],
  "tokenize": {"key_id": "k1", "secret_env": "K"},
  "policies": {
    "strict": {"rules": [{"detector": "credit_card", "action": {"type": "redact"}}, {"detector": "email", "action": {"type": "tokenize"}}]},
    "audit": {"mode": "report", "rules": [{"detector": "credit_card"}]}
  },
  "routes": [
    {"name": "payments", "path_prefix": "/payments/", "methods": ["POST", "PUT"], "policy": "strict"},
    {"host": "*.internal.example.com", "policy": "audit"},
    {"path_regex": "^/v[0-9]+/users/[0-9]+$", "policy": "strict"}
  ]
}"#;

#[test]
fn the_first_matching_route_chooses_the_policy() {
    let s = set(ROUTED);
    assert_eq!(s.names().collect::<Vec<_>>(), ["default", "strict", "audit"]);
    assert_eq!(s.select("shop.example.com", "/payments/42?x=1", "POST").0, 1);
    assert_eq!(
        s.select("shop.example.com", "/payments/42", "GET").0,
        0,
        "method must match"
    );
    assert_eq!(s.select("api.internal.example.com:8443", "/payments/1", "GET").0, 2);
    assert_eq!(
        s.select("internal.example.com", "/", "GET").0,
        0,
        "*.x needs a subdomain"
    );
    assert_eq!(s.select("a.example.com", "/v2/users/17", "GET").0, 1);
    assert_eq!(s.select("a.example.com", "/v2/users/17/orders", "GET").0, 0);
}

#[test]
fn two_routes_mask_the_same_body_differently() {
    let s = set(ROUTED);
    let body = b"card 4111111111111111 mail jane@example.com";
    let (out0, _) = mask_all(s.get(0).unwrap(), Format::Text, body);
    let (out1, _) = mask_all(s.get(1).unwrap(), Format::Text, body);
    assert_eq!(out0, b"card 411111******1111 mail jane@example.com");
    assert!(String::from_utf8_lossy(&out1).starts_with("card [REDACTED] mail tok_k1_"));
    assert_eq!(s.get(2).unwrap().mode, streammask_engine::Mode::Report);
}

#[test]
fn route_and_policy_errors_name_their_paths() {
    let e = PolicySet::from_json(
        r#"{"policies": {"p": {"rules": [{"detector": "emial"}]}, "default": {}}, "routes": [{"policy": "nope", "path_prefix": "x"}, {"policy": "p"}]}"#,
        &|_| None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("policies.p.rules[0].detector: unknown detector"), "{e}");
    assert!(e.contains("policies.default"), "{e}");
    assert!(e.contains("routes[0].policy: no policy named \"nope\""), "{e}");
    assert!(
        e.contains("routes[0].path_prefix: a path prefix starts with '/'"),
        "{e}"
    );
    assert!(e.contains("routes[1]: a route needs"), "{e}");
    let e = PolicySet::from_json(
        r#"{"policies": {"p": {"routes": [{"policy": "default", "methods": ["GET"]}]}}}"#,
        &|_| None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("policies.p.routes: routes and named policies can only be set at the top level"),
        "{e}"
    );
}

const META: &str = r#"{
  "rules": [{"detector": "email", "action": {"type": "tokenize"}}, {"detector": "credit_card"}],
  "headers": [
    {"name": "user-headers", "headers": ["x-user-email", "set-cookie", "cookie"]},
    {"name": "session", "headers": ["x-session"], "direction": "request", "action": {"type": "redact"}}
  ],
  "query": {"params": ["token", "ssn"], "action": {"type": "redact", "replacement": "x"}},
  "tokenize": {"key_id": "k1", "secret_env": "K"}
}"#;

#[test]
fn header_values_are_masked_by_detectors_or_whole() {
    let s = set(META);
    let p = s.get(0).unwrap();
    let (v, hits) = p.mask_header(true, "x-user-email", "Jane@Example.com").unwrap();
    assert!(v.starts_with("tok_k1_"));
    assert_eq!(hits.total(), 1);
    assert!(
        p.mask_header(true, "x-user-email", "nobody").is_none(),
        "clean values stay untouched"
    );
    let (v, _) = p.mask_header(true, "x-session", "abc123").unwrap();
    assert_eq!(v, "[REDACTED]");
    assert!(
        p.mask_header(false, "x-session", "abc123").is_none(),
        "the rule is request-only"
    );
    let (v, _) = p
        .mask_header(false, "set-cookie", "mail=jane@example.com; Path=/; HttpOnly")
        .unwrap();
    assert!(
        v.starts_with("mail=tok_k1_") && v.ends_with("; Path=/; HttpOnly"),
        "{v}"
    );
    let (v, _) = p.mask_header(true, "cookie", "a=1; card=4111111111111111").unwrap();
    assert_eq!(v, "a=1; card=411111******1111");
    let labels: Vec<&str> = p.label_names().collect();
    assert_eq!(
        labels,
        [
            "email",
            "credit_card",
            "secret_keys",
            "user-headers",
            "session",
            "query"
        ]
    );
}

#[test]
fn query_values_are_decoded_masked_and_reencoded_only_where_they_change() {
    let s = set(META);
    let p = s.get(0).unwrap();
    let (path, hits) = p
        .mask_path("/search?q=shoes&email=jane%40example.com&token=s3cr3t&page=2#top")
        .unwrap();
    assert!(path.starts_with("/search?q=shoes&email=tok_k1_"), "{path}");
    assert!(path.ends_with("&token=x&page=2#top"), "{path}");
    assert_eq!(hits.total(), 2);
    assert!(p.mask_path("/search?q=shoes&page=2").is_none());
    assert!(p.mask_path("/plain/path").is_none());
    let (path, _) = p.mask_path("/p?card=4111+1111+1111+1111").unwrap();
    assert_eq!(path, "/p?card=4111%2011**%20****%201111");
}

#[test]
fn the_findings_log_has_keyed_fingerprints_and_offsets_never_values() {
    let json = r#"{"rules":[{"detector":"credit_card"}],"fields":[{"name":"ids","keys":["id"]}],"findings_log":true,"tokenize":{"key_id":"k1","secret_env":"K"}}"#;
    let p = Arc::new(Policy::from_json(json, &|_| Some(KEY.to_string())).unwrap());
    let body = br#"{"id":"u-1","note":"paid 4111111111111111","other":"4111-1111-1111-1111"}"#;
    let mut m = Masker::new(p.clone(), Format::Json);
    let mut out = Vec::new();
    m.push(body, &mut out);
    m.finish(&mut out);
    let st = m.stats();
    assert_eq!(st.findings.len(), 3);
    let (f_id, f1, f2) = (&st.findings[0], &st.findings[1], &st.findings[2]);
    assert_eq!(p.labels().name(f_id.label), "ids", "the field's label");
    assert_eq!(f_id.offset, 7);
    assert_eq!(&body[f1.offset as usize..f1.offset as usize + 16], b"4111111111111111");
    assert_eq!(
        f1.fingerprint, f2.fingerprint,
        "the same card in two formats correlates"
    );
    // a policy without a key cannot log findings (no unkeyed hashes)
    let e = Policy::from_json(r#"{"findings_log":true}"#, &|_| None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("findings_log"), "{e}");
}

#[test]
fn fingerprint_key_id_chooses_the_key_of_findings_fingerprints() {
    let keys = r#""keys":[{"id":"k1","secret":"first-key-0123456789abcdef0123456789abcdef"},{"id":"k2","secret":"second-key-0123456789abcdef0123456789abcdef"}],"active":"k2""#;
    let fp = |extra: &str| {
        let json =
            format!(r#"{{"rules":[{{"detector":"credit_card"}}],"findings_log":true,"tokenize":{{{keys}{extra}}}}}"#);
        let p = Arc::new(Policy::from_json(&json, &|_| None).unwrap());
        let mut m = Masker::new(p, Format::Text);
        let mut out = Vec::new();
        m.push(b"card 4111111111111111\n", &mut out);
        m.finish(&mut out);
        m.stats().findings[0].fingerprint
    };
    let active = fp("");
    let k1 = fp(r#","fingerprint_key_id":"k1""#);
    let k2 = fp(r#","fingerprint_key_id":"k2""#);
    assert_eq!(active, k2, "by default the active key");
    assert_ne!(k1, k2, "the named key");
    let e = Policy::from_json(
        &format!(r#"{{"findings_log":true,"tokenize":{{{keys},"fingerprint_key_id":"k9"}}}}"#),
        &|_| None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("tokenize.fingerprint_key_id: no key with id \"k9\""), "{e}");
}
