//! Per-route policies, HTTP settings, header and query-string rules.

use super::*;
use streammask_engine::mask_all;

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
    let (out0, _) = mask_all(&s.get(0).unwrap().ruleset, Format::Text, body);
    let (out1, _) = mask_all(&s.get(1).unwrap().ruleset, Format::Text, body);
    assert_eq!(out0, b"card 411111******1111 mail jane@example.com");
    assert!(String::from_utf8_lossy(&out1).starts_with("card [REDACTED] mail tok_k1_"));
    assert_eq!(s.get(2).unwrap().mode, Mode::Report);
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
fn query_parameters_named_as_secrets_or_field_keys_are_masked_whole() {
    let s = set(r#"{"fields": [{"name": "ids", "keys": ["user_id"]}], "query": {"detect": false, "params": ["t"]}}"#);
    let p = s.get(0).unwrap();
    let (path, hits) = p
        .mask_path("/login?user=jane&password=hunter2&user_id=42&ok=1")
        .unwrap();
    assert_eq!(
        path,
        "/login?user=jane&password=%5BREDACTED%5D&user_id=%5BREDACTED%5D&ok=1"
    );
    assert_eq!(hits.total(), 2);
}

fn errors(json: &str) -> Vec<String> {
    match HttpPolicy::from_json(json, &|_| None) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn top_level_settings_are_validated() {
    let e = errors(r#"{"mode":"audit","on_error":"ignore","directions":["inbound"],"content_types":["json"]}"#);
    assert!(e.iter().any(|m| m.starts_with("mode: unknown mode")), "{e:?}");
    assert!(e.iter().any(|m| m.starts_with("on_error: unknown value")), "{e:?}");
    assert!(e.iter().any(|m| m.starts_with("directions[0]")), "{e:?}");
    assert!(e.iter().any(|m| m.starts_with("content_types[0]")), "{e:?}");
    // the rule set's problems keep their paths, next to the proxy's
    let e = errors(r#"{"rules":[{"detector":"emial"}],"limits":{"max_depth":0,"max_paused_bytes":1}}"#);
    assert!(
        e.iter().any(|m| m.starts_with("rules[0].detector: unknown detector")),
        "{e:?}"
    );
    assert!(e.iter().any(|m| m.starts_with("limits.max_depth")), "{e:?}");
    assert!(e.iter().any(|m| m.starts_with("limits.max_paused_bytes")), "{e:?}");
    let e = errors(r#"{"rules":[{"detector":"email"}],"headers":[{"name":"email","headers":["x-a"]}]}"#);
    assert!(
        e.iter().any(|m| m.starts_with("headers[0].name: duplicate name")),
        "{e:?}"
    );
    let e = errors(r#"{"nonsense": 1}"#);
    assert!(
        e.iter()
            .any(|m| m.starts_with(". ") || m.contains("unknown field `nonsense`")),
        "{e:?}"
    );
}

#[test]
fn content_types_choose_formats() {
    let p = HttpPolicy::from_json(r#"{"formats":{"application/vnd.acme":"json"},"content_types":["application/json","text/*","application/vnd.acme","application/*+json"]}"#, &|_| None).unwrap();
    assert_eq!(
        p.format_for(Some("application/json; charset=utf-8")),
        Some(Format::Json)
    );
    assert_eq!(p.format_for(Some("application/problem+json")), Some(Format::Json));
    assert_eq!(p.format_for(Some("text/event-stream")), Some(Format::Sse));
    assert_eq!(p.format_for(Some("text/plain")), Some(Format::Text));
    assert_eq!(p.format_for(Some("application/vnd.acme")), Some(Format::Json));
    assert_eq!(p.format_for(Some("image/png")), None);
    assert_eq!(p.format_for(None), Some(Format::Text));
    let d = HttpPolicy::builtin_default();
    assert_eq!(d.format_for(Some("application/x-ndjson")), Some(Format::Ndjson));
    assert_eq!(d.format_for(Some("application/octet-stream")), None);
    assert_eq!(d.route(Some("application/octet-stream"), false), Route::Sniff);
    let off = HttpPolicy::from_json(r#"{"sniff": false}"#, &|_| None).unwrap();
    assert_eq!(off.route(Some("application/octet-stream"), false), Route::Pass);
    assert_eq!(off.route(None, false), Route::Scan(Format::Text));
}

#[test]
fn bulk_guards_are_checked_and_named() {
    let s = set(
        r#"{"rules": [{"name": "cards", "detector": "credit_card", "max_values_per_stream": 5, "on_exceed": "block"}, {"detector": "email"}],
            "fields": [{"name": "ids", "keys": ["id"], "max_values_per_stream": 0}],
            "limits": {"max_values_per_stream": 100}}"#,
    );
    let p = s.get(0).unwrap();
    let guards: Vec<(&str, u64, bool)> = p.budgets.iter().map(|b| (p.budget_name(b), b.max, b.block)).collect();
    assert_eq!(guards, [("cards", 5, true), ("ids", 0, false), ("all", 100, false)]);
    let e = PolicySet::from_json(
        r#"{"rules": [{"detector": "email", "on_exceed": "block"}, {"name": "all", "detector": "credit_card", "max_values_per_stream": 2, "on_exceed": "drop"}],
            "limits": {"max_values_per_stream": 3, "on_exceed": "stop"},
            "policies": {"p": {"fields": [{"name": "f", "keys": ["k"], "max_values_per_stream": 1099511627777}]}}}"#,
        &|_| None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("rules[0].on_exceed: has no effect without \"max_values_per_stream\""),
        "{e}"
    );
    assert!(e.contains("rules[1].on_exceed: unknown value \"drop\""), "{e}");
    assert!(e.contains("limits.on_exceed: unknown value \"stop\""), "{e}");
    assert!(
        e.contains("policies.p.fields[0].max_values_per_stream: use 0-1099511627776"),
        "{e}"
    );
    let e = PolicySet::from_json(
        r#"{"rules": [{"name": "all", "detector": "credit_card"}], "limits": {"max_values_per_stream": 3}}"#,
        &|_| None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("limits.max_values_per_stream: the body-wide guard counts under the name \"all\""),
        "{e}"
    );
}
