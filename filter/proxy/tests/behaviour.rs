#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! The per-stream logic under both hosts' semantics: every test runs against the Envoy fake and the
//! ngx_wasm_module fake (where the scenario exists on that host).

mod fakes;

use fakes::{run, shared, Exchange, Framing, Kind};
use std::io::Write;

const POLICY: &str = r#"{
    "rules": [
        {"detector": "credit_card"},
        {"detector": "email", "action": {"type": "tokenize"}},
        {"detector": "us_ssn", "action": {"type": "redact"}}
    ],
    "fields": [{"name": "user-ids", "keys": ["user_id"], "action": {"type": "tokenize"}}],
    "tokenize": {"key_id": "k1", "secret_env": "STREAMMASK_TOKEN_KEY"}
}"#;

const BOTH: [Kind; 2] = [Kind::Envoy, Kind::Ngx];

fn chunks(s: &[u8], n: usize) -> Vec<Vec<u8>> {
    s.chunks(n.max(1)).map(<[u8]>::to_vec).collect()
}

fn json_resp(body: &[u8], n: usize, framing: Framing) -> Exchange<'static> {
    Exchange {
        resp_headers: vec![("content-type", "application/json".into())],
        resp_chunks: chunks(body, n),
        resp_framing: framing,
        ..Exchange::default()
    }
}

const BODY: &[u8] = br#"{"user_id":"u-1","card":"4111 1111 1111 1111","email":"Jane@Example.com","ssn":"123-45-6789","ok":"clean value"}"#;

fn assert_masked(out: &[u8]) {
    let s = String::from_utf8_lossy(out);
    for raw in ["4111 1111 1111 1111", "Jane@Example.com", "123-45-6789", "\"u-1\""] {
        assert!(!s.contains(raw), "{raw} leaked: {s}");
    }
    let v: serde_json::Value = serde_json::from_slice(out).unwrap_or_else(|e| panic!("invalid JSON ({e}): {s}"));
    assert_eq!(v["card"], "4111 11** **** 1111");
    assert_eq!(v["ssn"], "[REDACTED]");
    assert_eq!(v["ok"], "clean value");
    assert!(v["email"].as_str().unwrap().starts_with("tok_k1_"));
}

#[test]
fn json_response_is_masked_at_every_chunk_size_and_framing() {
    for kind in BOTH {
        let (sh, names) = shared(kind, POLICY);
        for framing in [Framing::Chunked, Framing::Length, Framing::H2EndStream] {
            for n in [1, 2, 7, 16, 64, 1000] {
                let out = run(kind, &sh, &names, json_resp(BODY, n, framing));
                assert_eq!(out.client_status, 200);
                assert_masked(&out.client_body);
                assert!(
                    !out.resp_headers.contains_key("content-length"),
                    "{kind:?} kept content-length"
                );
            }
        }
    }
}

#[test]
fn tokens_are_the_same_on_both_hosts() {
    let a = run(
        Kind::Envoy,
        &shared(Kind::Envoy, POLICY).0,
        &shared(Kind::Envoy, POLICY).1,
        json_resp(BODY, 5, Framing::Chunked),
    );
    let (sh, names) = shared(Kind::Ngx, POLICY);
    let b = run(Kind::Ngx, &sh, &names, json_resp(BODY, 9, Framing::Length));
    assert_eq!(a.client_body, b.client_body);
}

#[test]
fn request_bodies_are_masked_before_the_upstream_sees_them() {
    for kind in BOTH {
        let (sh, names) = shared(kind, POLICY);
        for framing in [Framing::Chunked, Framing::Length] {
            let ex = Exchange {
                method: "POST",
                req_headers: vec![("content-type", "application/json".into())],
                req_chunks: chunks(BODY, 3),
                req_framing: framing,
                ..Exchange::default()
            };
            let out = run(kind, &sh, &names, ex);
            assert_masked(&out.upstream_body);
            assert!(!out.req_headers.contains_key("content-length"));
            assert_eq!(
                out.counters["streammask.values_masked.policy.default.rule.credit_card.direction.request"],
                1
            );
        }
    }
}

#[test]
fn accept_encoding_is_removed_from_requests() {
    for kind in BOTH {
        let (sh, names) = shared(kind, POLICY);
        let ex = Exchange {
            req_headers: vec![("accept-encoding", "gzip, br".into())],
            ..json_resp(BODY, 10, Framing::Chunked)
        };
        let out = run(kind, &sh, &names, ex);
        assert!(!out.req_headers.contains_key("accept-encoding"));
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A gzip JSON response with a Content-Length, in 11-byte chunks.
fn gzip_json_resp(z: &[u8]) -> Exchange<'static> {
    Exchange {
        resp_headers: vec![
            ("content-type", "application/json".into()),
            ("content-encoding", "gzip".into()),
        ],
        resp_chunks: chunks(z, 11),
        resp_framing: Framing::Length,
        ..Exchange::default()
    }
}

#[test]
fn gzip_responses_are_decoded_masked_and_sent_plain() {
    for kind in BOTH {
        let (sh, names) = shared(kind, POLICY);
        let z = gzip(BODY);
        let ex = gzip_json_resp(&z);
        let out = run(kind, &sh, &names, ex);
        assert_masked(&out.client_body);
        assert!(!out.resp_headers.contains_key("content-encoding"));
        assert_eq!(out.counters["streammask.streams_decompressed.direction.response"], 1);
    }
}

#[test]
fn an_encoding_that_cannot_be_decoded_gets_a_clean_502_not_raw_bytes() {
    for kind in BOTH {
        let (sh, names) = shared(kind, POLICY);
        let ex = Exchange {
            resp_headers: vec![
                ("content-type", "application/json".into()),
                ("content-encoding", "compress".into()),
            ],
            resp_chunks: vec![b"\x1f\x9d\x90raw".to_vec()],
            ..Exchange::default()
        };
        let out = run(kind, &sh, &names, ex);
        assert_eq!(out.client_status, 502);
        assert!(!out.client_body.windows(3).any(|w| w == b"raw"));
        assert_eq!(
            out.counters["streammask.streams_blocked.reason.encoding.direction.response"],
            1
        );
    }
}

#[test]
fn corrupt_gzip_mid_stream_is_blocked_not_passed() {
    for kind in BOTH {
        let (sh, names) = shared(kind, POLICY);
        let mut z = gzip(&BODY.repeat(50));
        let mid = z.len() / 2;
        for b in &mut z[mid..mid + 20] {
            *b ^= 0x5a;
        }
        let ex = Exchange {
            resp_headers: vec![
                ("content-type", "application/json".into()),
                ("content-encoding", "gzip".into()),
            ],
            resp_chunks: chunks(&z, 64),
            ..Exchange::default()
        };
        let out = run(kind, &sh, &names, ex);
        assert_eq!(
            out.counters["streammask.streams_blocked.reason.decode_error.direction.response"], 1,
            "{kind:?}"
        );
        match kind {
            Kind::Envoy => assert!(out.reset),
            Kind::Ngx => assert!(out.client_body.ends_with(streammask_proxy::stream::BLOCKED_MARKER)),
        }
        assert!(!String::from_utf8_lossy(&out.client_body).contains("4111 1111 1111 1111"));
    }
}

#[test]
fn bodies_that_cannot_have_content_or_are_not_text_pass_untouched() {
    for kind in BOTH {
        let (sh, names) = shared(kind, POLICY);
        let head = Exchange {
            method: "HEAD",
            ..json_resp(b"", 1, Framing::Length)
        };
        let out = run(kind, &sh, &names, head);
        assert_eq!(out.client_status, 200);
        let png = Exchange {
            resp_headers: vec![("content-type", "image/png".into())],
            resp_chunks: vec![b"\x89PNG 4111 1111 1111 1111".to_vec()],
            ..Exchange::default()
        };
        let out = run(kind, &sh, &names, png);
        assert_eq!(out.client_body, b"\x89PNG 4111 1111 1111 1111");
        assert_eq!(
            out.counters["streammask.streams_skipped.reason.content_type.direction.response"],
            1
        );
        let no_content = Exchange {
            status: 204,
            resp_headers: vec![("content-type", "application/json".into())],
            ..Exchange::default()
        };
        let out = run(kind, &sh, &names, no_content);
        assert_eq!(
            out.counters["streammask.streams_skipped.reason.no_body.direction.response"],
            1
        );
    }
}

#[test]
fn report_mode_leaves_compressed_and_undecodable_bodies_and_their_headers_as_they_came() {
    let policy = POLICY.replacen('{', r#"{"mode": "report","#, 1);
    let z = gzip(BODY);
    for kind in BOTH {
        let (sh, names) = shared(kind, &policy);
        // gzip: decoded only to count; the client gets the compressed bytes and their headers
        let ex = gzip_json_resp(&z);
        let out = run(kind, &sh, &names, ex);
        assert_eq!(out.client_body, z, "{kind:?}");
        assert_eq!(
            out.resp_headers.get("content-encoding").map(String::as_str),
            Some("gzip")
        );
        assert_eq!(
            out.resp_headers.get("content-length").map(String::as_str),
            Some(z.len().to_string().as_str())
        );
        assert_eq!(
            out.counters["streammask.values_reported.policy.default.rule.credit_card.direction.response"],
            1
        );
        // a coding the filter cannot decode, and a truncated gzip body: passed as they came, counted
        for (coding, body, reason) in [
            ("compress", b"\x1f\x9d\x90raw".to_vec(), "encoding"),
            ("gzip", z[..z.len() - 12].to_vec(), "truncated"),
        ] {
            let ex = Exchange {
                resp_headers: vec![
                    ("content-type", "application/json".into()),
                    ("content-encoding", coding.into()),
                ],
                resp_chunks: chunks(&body, 7),
                ..Exchange::default()
            };
            let out = run(kind, &sh, &names, ex);
            assert_eq!(out.client_status, 200, "{kind:?} {coding}");
            assert!(!out.reset, "{kind:?} {coding}");
            assert_eq!(out.client_body, body, "{kind:?} {coding}");
            assert_eq!(
                out.resp_headers.get("content-encoding").map(String::as_str),
                Some(coding)
            );
            assert_eq!(
                out.counters[&format!("streammask.streams_passed_unmasked.reason.{reason}.direction.response")],
                1,
                "{kind:?} {coding}"
            );
            assert!(
                !out.counters
                    .keys()
                    .any(|k| k.starts_with("streammask.streams_blocked") && out.counters[k] > 0),
                "{kind:?} {coding}: {:?}",
                out.counters
            );
        }
    }
}

#[test]
fn report_mode_changes_nothing_and_counts() {
    let policy = POLICY.replacen('{', r#"{"mode": "report","#, 1);
    for kind in BOTH {
        let (sh, names) = shared(kind, &policy);
        let out = run(kind, &sh, &names, json_resp(BODY, 13, Framing::Length));
        assert_eq!(out.client_body, BODY);
        assert!(
            out.resp_headers.contains_key("content-length"),
            "report mode must not touch headers"
        );
        assert_eq!(
            out.counters["streammask.values_reported.policy.default.rule.credit_card.direction.response"],
            1
        );
        assert_eq!(
            out.counters["streammask.values_reported.policy.default.rule.user-ids.direction.response"],
            1
        );
        assert!(!out
            .counters
            .contains_key("streammask.values_masked.policy.default.rule.credit_card.direction.response"));
    }
}

#[test]
fn trailers_end_the_body_without_losing_or_leaking_the_tail_on_envoy() {
    let (sh, names) = shared(Kind::Envoy, POLICY);
    let text = b"card 4111 1111 1111 1111 and the tail ends with letters";
    for n in [1, 3, 8, 20, 1000] {
        let ex = Exchange {
            resp_headers: vec![("content-type", "text/plain".into())],
            resp_chunks: chunks(text, n),
            resp_framing: Framing::H2Trailers,
            ..Exchange::default()
        };
        let out = run(Kind::Envoy, &sh, &names, ex);
        assert_eq!(
            out.client_body, b"card 4111 11** **** 1111 and the tail ends with letters",
            "chunk {n}"
        );
    }
}

#[test]
fn ngx_content_length_bodies_end_at_the_declared_length() {
    let (sh, names) = shared(Kind::Ngx, POLICY);
    let text = b"ends with a card 4111111111111111";
    let ex = Exchange {
        resp_headers: vec![("content-type", "text/plain".into())],
        resp_chunks: chunks(text, 10),
        resp_framing: Framing::Length,
        ..Exchange::default()
    };
    let out = run(Kind::Ngx, &sh, &names, ex);
    assert_eq!(out.client_body, b"ends with a card 411111******1111");
}

#[test]
fn an_unreadable_request_body_is_refused() {
    let (sh, names) = shared(Kind::Ngx, POLICY);
    let ex = Exchange {
        method: "POST",
        req_headers: vec![("content-type", "application/json".into())],
        req_chunks: vec![BODY.to_vec()],
        unreadable_request: true,
        ..Exchange::default()
    };
    let out = run(Kind::Ngx, &sh, &names, ex);
    assert_eq!(out.client_status, 413);
    assert!(out.upstream_body.is_empty());
}

#[test]
fn on_error_pass_lets_an_undecodable_body_through_and_counts_it() {
    let policy = POLICY.replacen('{', r#"{"on_error": "pass","#, 1);
    for kind in BOTH {
        let (sh, names) = shared(kind, &policy);
        let ex = Exchange {
            resp_headers: vec![
                ("content-type", "text/plain".into()),
                ("content-encoding", "compress".into()),
            ],
            resp_chunks: vec![b"opaque".to_vec()],
            ..Exchange::default()
        };
        let out = run(kind, &sh, &names, ex);
        assert_eq!(out.client_body, b"opaque");
        assert_eq!(
            out.counters["streammask.streams_passed_unmasked.reason.encoding.direction.response"],
            1
        );
    }
}

#[test]
fn sse_events_leave_as_soon_as_they_are_complete() {
    for kind in BOTH {
        let (sh, names) = shared(kind, POLICY);
        let ex = Exchange {
            resp_headers: vec![("content-type", "text/event-stream".into())],
            resp_chunks: vec![
                b"data: {\"email\":\"a@example.com\"}\n\n".to_vec(),
                b"data: card 4111 1111 ".to_vec(),
                b"1111 1111\n\n".to_vec(),
            ],
            ..Exchange::default()
        };
        let out = run(kind, &sh, &names, ex);
        let s = String::from_utf8(out.client_body).unwrap();
        assert!(s.starts_with("data: {\"email\":\"tok_k1_"), "{s}");
        assert!(s.ends_with("data: card 4111 11** **** 1111\n\n"), "{s}");
    }
}

#[test]
fn metric_names_cover_every_rule_and_direction() {
    let (_, names) = shared(Kind::Envoy, POLICY);
    for r in ["credit_card", "email", "us_ssn", "user-ids"] {
        for d in ["request", "response"] {
            assert!(names.contains(&format!(
                "streammask.values_masked.policy.default.rule.{r}.direction.{d}"
            )));
        }
    }
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len(), "duplicate metric names");
}

const ROUTED: &str = r#"{
    "rules": [{"detector": "credit_card"}],
    "headers": [{"name": "user-headers", "headers": ["x-user-email", "set-cookie"]}],
    "query": {"params": ["token"]},
    "policies": {
        "payments": {"rules": [{"detector": "credit_card", "action": {"type": "redact"}}, {"detector": "email"}],
                      "findings_log": true},
        "shadow": {"mode": "report", "rules": [{"detector": "credit_card"}]}
    },
    "routes": [
        {"path_prefix": "/pay", "policy": "payments"},
        {"host": "shadow.example.com", "policy": "shadow"}
    ],
    "tokenize": {"key_id": "k1", "secret_env": "STREAMMASK_TOKEN_KEY"}
}"#;

fn text_exchange(path: &str, host: &str, body: &[u8]) -> Exchange<'static> {
    Exchange {
        req_headers: vec![(":path", path.to_string()), (":authority", host.to_string())],
        resp_headers: vec![("content-type", "text/plain".into())],
        resp_chunks: chunks(body, 5),
        ..Exchange::default()
    }
}

#[test]
fn routes_choose_the_policy_per_request() {
    for kind in BOTH {
        let (sh, names) = shared(kind, ROUTED);
        let body = b"card 4111111111111111 by jane@example.com";
        let def = run(kind, &sh, &names, text_exchange("/shop", "a.example.com", body));
        assert_eq!(def.client_body, b"card 411111******1111 by jane@example.com");
        let pay = run(kind, &sh, &names, text_exchange("/pay/now", "a.example.com", body));
        // the named policy inherits the top-level key, so emails default to tokens there
        assert!(
            pay.client_body.starts_with(b"card [REDACTED] by tok_k1_"),
            "{:?}",
            String::from_utf8_lossy(&pay.client_body)
        );
        assert_eq!(
            pay.counters["streammask.values_masked.policy.payments.rule.credit_card.direction.response"],
            1
        );
        let shadow = run(kind, &sh, &names, text_exchange("/pay/now", "shadow.example.com", body));
        assert!(
            shadow.client_body.starts_with(b"card [REDACTED]"),
            "the first route wins"
        );
        let shadow = run(kind, &sh, &names, text_exchange("/x", "shadow.example.com", body));
        assert_eq!(shadow.client_body, body.to_vec(), "report mode changes nothing");
        assert_eq!(
            shadow.counters["streammask.values_reported.policy.shadow.rule.credit_card.direction.response"],
            1
        );
    }
}

#[test]
fn query_strings_and_header_values_are_masked_before_the_upstream_sees_them() {
    for kind in BOTH {
        let (sh, names) = shared(kind, ROUTED);
        let ex = Exchange {
            req_headers: vec![
                (":path", "/search?card=4111111111111111&token=abc&q=x".to_string()),
                (":authority", "a.example.com".to_string()),
                ("x-user-email", "card 4111-1111-1111-1111".to_string()),
            ],
            resp_headers: vec![
                ("content-type", "text/plain".into()),
                ("set-cookie", "c=4111111111111111; Path=/; Secure".into()),
            ],
            resp_chunks: vec![b"ok".to_vec()],
            ..Exchange::default()
        };
        let out = run(kind, &sh, &names, ex);
        assert_eq!(
            out.req_headers[":path"],
            "/search?card=411111******1111&token=%5BREDACTED%5D&q=x"
        );
        assert_eq!(out.req_headers["x-user-email"], "card 4111-11**-****-1111");
        assert_eq!(out.resp_headers["set-cookie"], "c=411111******1111; Path=/; Secure");
        assert_eq!(
            out.counters["streammask.values_masked.policy.default.rule.query.direction.request"],
            1
        );
        assert_eq!(
            out.counters["streammask.values_masked.policy.default.rule.credit_card.direction.request"],
            2
        );
        assert_eq!(
            out.counters["streammask.values_masked.policy.default.rule.credit_card.direction.response"],
            1
        );
    }
}

#[test]
fn the_findings_log_line_has_rules_offsets_and_fingerprints_but_no_value() {
    let (sh, names) = shared(Kind::Envoy, ROUTED);
    let out = run(
        Kind::Envoy,
        &sh,
        &names,
        text_exchange("/pay", "a.example.com", b"x 4111111111111111 y jane@example.com"),
    );
    let line = out
        .logs
        .iter()
        .find(|(_, m)| m.starts_with("streammask findings "))
        .map(|(_, m)| m.clone())
        .expect("a findings line");
    let v: serde_json::Value = serde_json::from_str(line.trim_start_matches("streammask findings ")).unwrap();
    assert_eq!(v["policy"], "payments");
    assert_eq!(v["counts"]["credit_card"], 1);
    assert_eq!(v["findings"][0]["rule"], "credit_card");
    assert_eq!(v["findings"][0]["offset"], 2);
    assert_eq!(v["findings"][0]["fp"].as_str().unwrap().len(), 16);
    for (_, m) in &out.logs {
        assert!(
            !m.contains("4111111111111111") && !m.contains("jane@example.com"),
            "a value in the log: {m}"
        );
    }
}

#[test]
fn enforce_percent_enforces_a_stable_share_of_streams() {
    let policy = POLICY.replacen('{', r#"{"enforce_percent": 30,"#, 1);
    let (sh, names) = shared(Kind::Envoy, &policy);
    let mut enforced = 0;
    for i in 0..200 {
        let ex = Exchange {
            req_headers: vec![("x-request-id", format!("req-{i}"))],
            ..json_resp(BODY, 50, Framing::Chunked)
        };
        let a = run(Kind::Envoy, &sh, &names, ex);
        let ex = Exchange {
            req_headers: vec![("x-request-id", format!("req-{i}"))],
            ..json_resp(BODY, 7, Framing::Chunked)
        };
        let b = run(Kind::Envoy, &sh, &names, ex);
        assert_eq!(
            a.client_body, b.client_body,
            "the same request id must get the same decision"
        );
        if a.client_body != BODY {
            enforced += 1;
        }
    }
    assert!((40..=80).contains(&enforced), "{enforced} of 200 enforced for 30%");
}

#[test]
fn a_header_that_cannot_be_rewritten_refuses_the_request_instead_of_passing_it_raw() {
    for kind in BOTH {
        let (sh, names) = shared(kind, ROUTED);
        let ex = Exchange {
            req_headers: vec![
                (":path", "/x".to_string()),
                ("x-user-email", "card 4111111111111111".to_string()),
            ],
            fail_header_writes: true,
            ..json_resp(BODY, 10, Framing::Chunked)
        };
        let out = run(kind, &sh, &names, ex);
        assert_eq!(out.client_status, 500, "{kind:?}");
        assert!(out.upstream_body.is_empty());
        assert_eq!(
            out.counters["streammask.streams_blocked.reason.internal.direction.request"],
            1
        );
    }
}

#[test]
fn form_bodies_are_decoded_masked_and_stay_valid_form_encoding_both_ways() {
    let form = b"card=4111+1111+1111+1111&email=jane%40example.com&c2=4111111111111111&password=hunter2&q=hello+world";
    for kind in BOTH {
        let (sh, names) = shared(kind, "{}");
        for n in [1, 3, 16, 1000] {
            // request (NGINX delivers it whole; the fake does as its host does)
            let out = run(
                kind,
                &sh,
                &names,
                Exchange {
                    method: "POST",
                    req_headers: vec![("content-type", "application/x-www-form-urlencoded".into())],
                    req_chunks: chunks(form, n),
                    ..Exchange::default()
                },
            );
            let got = String::from_utf8(out.upstream_body.clone()).unwrap();
            assert_eq!(
                got, "card=4111+11**+****+1111&email=j***%40*******.com&c2=411111******1111&password=%5BREDACTED%5D&q=hello+world",
                "{kind:?} request, chunks of {n}"
            );
            // response
            let out = run(
                kind,
                &sh,
                &names,
                Exchange {
                    resp_headers: vec![(
                        "content-type",
                        "application/x-www-form-urlencoded; charset=utf-8".into(),
                    )],
                    resp_chunks: chunks(form, n),
                    ..Exchange::default()
                },
            );
            assert_eq!(
                String::from_utf8(out.client_body).unwrap(),
                got,
                "{kind:?} response, chunks of {n}"
            );
        }
    }
}

#[test]
fn octet_stream_json_and_conflicting_content_types_are_sniffed_and_masked() {
    let json = br#"{"card":"4111111111111111","ok":"clean"}"#;
    let masked = br#"{"card":"411111******1111","ok":"clean"}"#;
    for kind in BOTH {
        let (sh, names) = shared(kind, "{}");
        for n in [1, 5, 1000] {
            for headers in [
                vec![("content-type", "application/octet-stream".to_string())],
                vec![],
                vec![
                    ("content-type", "image/png".to_string()),
                    ("content-type", "application/json".to_string()),
                ],
            ] {
                let out = run(
                    kind,
                    &sh,
                    &names,
                    Exchange {
                        resp_headers: headers.clone(),
                        resp_chunks: chunks(json, n),
                        resp_framing: Framing::Length,
                        ..Exchange::default()
                    },
                );
                assert_eq!(out.client_body, masked, "{kind:?} response {headers:?} chunks of {n}");
                assert!(!out.resp_headers.contains_key("content-length"), "{kind:?} {headers:?}");
                let out = run(
                    kind,
                    &sh,
                    &names,
                    Exchange {
                        method: "POST",
                        req_headers: headers.clone(),
                        req_chunks: chunks(json, n),
                        ..Exchange::default()
                    },
                );
                assert_eq!(out.upstream_body, masked, "{kind:?} request {headers:?} chunks of {n}");
            }
        }
        // binary content typed as octet-stream passes byte-identical
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR4111111111111111".to_vec();
        let out = run(
            kind,
            &sh,
            &names,
            Exchange {
                resp_headers: vec![("content-type", "application/octet-stream".into())],
                resp_chunks: chunks(&png, 4),
                ..Exchange::default()
            },
        );
        assert_eq!(out.client_body, png, "{kind:?}");
        // with sniffing off an octet-stream body passes, as before
        let (sh_off, names_off) = shared(kind, r#"{"sniff": false}"#);
        let out = run(
            kind,
            &sh_off,
            &names_off,
            Exchange {
                resp_headers: vec![("content-type", "application/octet-stream".into())],
                resp_chunks: chunks(json, 7),
                ..Exchange::default()
            },
        );
        assert_eq!(out.client_body, json, "{kind:?}");
    }
}

#[test]
fn multipart_uploads_are_masked_part_by_part_and_keep_their_boundaries() {
    let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\njane@example.com\r\n--XyZ\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nhunter2\r\n--XyZ\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"a.json\"\r\nContent-Type: application/json\r\n\r\n{\"card\":\"4111111111111111\"}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"img\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG4111111111111111\r\n--XyZ--\r\n";
    let want = b"--XyZ\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nj***@*******.com\r\n--XyZ\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n[REDACTED]\r\n--XyZ\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"a.json\"\r\nContent-Type: application/json\r\n\r\n{\"card\":\"411111******1111\"}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"img\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG4111111111111111\r\n--XyZ--\r\n";
    for kind in BOTH {
        let (sh, names) = shared(kind, "{}");
        for n in [1, 2, 9, 64, 4096] {
            let out = run(
                kind,
                &sh,
                &names,
                Exchange {
                    method: "POST",
                    req_headers: vec![("content-type", "multipart/form-data; boundary=XyZ".into())],
                    req_chunks: chunks(body, n),
                    ..Exchange::default()
                },
            );
            assert_eq!(
                String::from_utf8_lossy(&out.upstream_body),
                String::from_utf8_lossy(want),
                "{kind:?} chunks of {n}"
            );
        }
    }
}

#[test]
fn a_comma_joined_content_type_pair_is_sniffed_like_two_headers() {
    let json = br#"{"card":"4111111111111111"}"#;
    for kind in BOTH {
        let (sh, names) = shared(kind, "{}");
        let out = run(
            kind,
            &sh,
            &names,
            Exchange {
                resp_headers: vec![("content-type", "image/png,application/json".into())],
                resp_chunks: chunks(json, 3),
                ..Exchange::default()
            },
        );
        assert_eq!(out.client_body, br#"{"card":"411111******1111"}"#, "{kind:?}");
        // a quoted comma inside a parameter is no list
        let out = run(
            kind,
            &sh,
            &names,
            Exchange {
                resp_headers: vec![("content-type", "text/plain; x=\"a,b\"".into())],
                resp_chunks: chunks(b"card 4111111111111111", 3),
                ..Exchange::default()
            },
        );
        assert_eq!(out.client_body, b"card 411111******1111", "{kind:?}");
    }
}

fn compress(coding: &str, data: &[u8]) -> Vec<u8> {
    match coding {
        "gzip" => gzip(data),
        "deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "br" => {
            let mut out = Vec::new();
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 20);
                w.write_all(data).unwrap();
            }
            out
        }
        _ => ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest),
    }
}

/// The chaos test's hostile responses on both hosts: every bomb is blocked (Envoy: reset; NGINX:
/// the rest dropped and a marker) and counted, no raw card leaves, memory stays bounded.
#[test]
fn decompression_bombs_and_broken_bodies_are_blocked_on_both_hosts() {
    let mut plain = b"4111111111111111 ".to_vec();
    plain.resize(64 << 20, 0);
    for coding in ["gzip", "deflate", "br", "zstd"] {
        let z = compress(coding, &plain);
        for kind in BOTH {
            let (sh, names) = shared(kind, "{}");
            for n in [z.len(), 16 << 10, 512] {
                let out = run(
                    kind,
                    &sh,
                    &names,
                    Exchange {
                        resp_headers: vec![
                            ("content-type", "text/plain".into()),
                            ("content-encoding", coding.into()),
                        ],
                        resp_chunks: chunks(&z, n),
                        ..Exchange::default()
                    },
                );
                let ended = match kind {
                    Kind::Envoy => out.reset,
                    Kind::Ngx => out.client_body.ends_with(streammask_proxy::stream::BLOCKED_MARKER),
                };
                assert!(ended, "{kind:?} {coding} chunks of {n}: not blocked");
                assert!(
                    out.client_body.len() < 2 << 20,
                    "{kind:?} {coding}: {} bytes left",
                    out.client_body.len()
                );
                assert!(!out.client_body.windows(16).any(|w| w == b"4111111111111111"));
                assert_eq!(
                    out.counters["streammask.streams_blocked.reason.decode_ratio.direction.response"], 1,
                    "{kind:?} {coding}"
                );
            }
        }
    }
    // a truncated gzip body: the stream is cut, counted as truncated
    let z = gzip(BODY);
    for kind in BOTH {
        let (sh, names) = shared(kind, POLICY);
        let out = run(
            kind,
            &sh,
            &names,
            Exchange {
                resp_headers: vec![
                    ("content-type", "application/json".into()),
                    ("content-encoding", "gzip".into()),
                ],
                resp_chunks: chunks(&z[..z.len() - 6], 7),
                ..Exchange::default()
            },
        );
        assert_eq!(
            out.counters["streammask.streams_blocked.reason.truncated.direction.response"], 1,
            "{kind:?}"
        );
        assert!(!String::from_utf8_lossy(&out.client_body).contains("4111 1111 1111 1111"));
    }
    // 10,000 one-byte chunks, and a body that ends inside a value
    let text: Vec<u8> = b"card 4111 1111 1111 1111 mail jane.doe@example.com\n".repeat(200);
    for kind in BOTH {
        let (sh, names) = shared(kind, "{}");
        let out = run(
            kind,
            &sh,
            &names,
            Exchange {
                resp_headers: vec![("content-type", "text/plain".into())],
                resp_chunks: chunks(&text[..10_000], 1),
                ..Exchange::default()
            },
        );
        assert_eq!(out.client_body.len(), 10_000, "{kind:?}");
        assert!(!String::from_utf8_lossy(&out.client_body).contains("4111 1111 1111 1111"));
        let out = run(
            kind,
            &sh,
            &names,
            Exchange {
                resp_headers: vec![("content-type", "application/json".into())],
                resp_chunks: chunks(br#"{"note":"paid with 4111 1111 1111 1111"#, 5),
                ..Exchange::default()
            },
        );
        assert!(
            !String::from_utf8_lossy(&out.client_body).contains("4111 1111 1111 1111"),
            "{kind:?}"
        );
    }
}

#[test]
fn a_policy_that_can_find_nothing_does_not_read_bodies() {
    // no rule, no field rule, secret keys off: nothing can change, so no body is read or rewritten
    let nothing = r#"{"rules": [], "secret_keys": {"enabled": false}}"#;
    for kind in BOTH {
        let (sh, names) = shared(kind, nothing);
        let out = run(kind, &sh, &names, json_resp(BODY, 13, Framing::Length));
        assert_eq!(out.client_body, BODY, "{kind:?}");
        assert!(
            out.resp_headers.contains_key("content-length"),
            "{kind:?}: headers changed"
        );
        assert_eq!(
            out.counters["streammask.streams_skipped.reason.nothing_to_find.direction.response"],
            1
        );
        assert!(!out.counters.contains_key("streammask.bytes_scanned.direction.response"));
        // with secret keys on (the default), `"rules": []` still scans: a password is found
        let (sh, names) = shared(kind, r#"{"rules": []}"#);
        let body = br#"{"password":"hunter2"}"#;
        let out = run(kind, &sh, &names, json_resp(body, 5, Framing::Length));
        assert_eq!(out.client_body, br#"{"password":"[REDACTED]"}"#, "{kind:?}");
    }
}

#[test]
fn per_stream_debug_lines_only_when_the_policy_asks_and_never_with_a_value() {
    let with = POLICY.replacen('{', r#"{"debug_log": true,"#, 1);
    for kind in BOTH {
        let (sh, names) = shared(kind, POLICY);
        let out = run(kind, &sh, &names, json_resp(BODY, 7, Framing::Chunked));
        assert_masked(&out.client_body);
        let debug: Vec<&String> = out
            .logs
            .iter()
            .filter(|(l, _)| *l == log::Level::Debug)
            .map(|(_, m)| m)
            .collect();
        assert!(debug.is_empty(), "{kind:?}: debug lines without debug_log: {debug:?}");

        let (sh, names) = shared(kind, &with);
        let out = run(kind, &sh, &names, json_resp(BODY, 7, Framing::Chunked));
        assert_masked(&out.client_body);
        let lines: Vec<&String> = out.logs.iter().map(|(_, m)| m).collect();
        assert!(
            lines
                .iter()
                .any(|m| m.starts_with("streammask: scanning response body as json")),
            "{kind:?}: {lines:?}"
        );
        let done = lines
            .iter()
            .find(|m| m.starts_with("streammask: response body done"))
            .unwrap_or_else(|| panic!("{kind:?}: no body-done line: {lines:?}"));
        assert!(done.contains("credit_card=1") && done.contains("user-ids=1"), "{done}");
        for m in &lines {
            for raw in ["4111 1111 1111 1111", "Jane@Example.com", "123-45-6789", "u-1"] {
                assert!(!m.contains(raw), "{raw} in a log line: {m}");
            }
        }
    }
}

#[test]
fn each_scanned_body_records_its_time_and_held_bytes_once() {
    for kind in BOTH {
        let (sh, names) = shared(kind, POLICY);
        for n in [7, 4096] {
            let out = run(kind, &sh, &names, json_resp(BODY, n, Framing::Chunked));
            assert_masked(&out.client_body);
            let of = |name: &str| -> Vec<u64> {
                out.recorded
                    .iter()
                    .filter(|(m, _)| m == name)
                    .map(|(_, v)| *v)
                    .collect()
            };
            let time = of("streammask.body_time_us.direction.response");
            let held = of("streammask.held_bytes.direction.response");
            assert_eq!(time.len(), 1, "{kind:?} {n}: {:?}", out.recorded);
            assert_eq!(held.len(), 1, "{kind:?} {n}: {:?}", out.recorded);
            // the fake clock moves 0.7 ms a read: every callback of the body is counted
            let calls = BODY.len().div_ceil(n) as u64 + 1;
            match kind {
                Kind::Envoy => assert_eq!(time[0], calls * 700, "{kind:?} {n}"),
                // whole milliseconds: each callback counts 0 or 1 ms
                Kind::Ngx => assert!(time[0] <= calls * 1000, "{kind:?} {n}: {}", time[0]),
            }
            if n == 7 {
                // a card arriving 7 bytes at a time is held back over several chunks
                assert!(held[0] > 7, "{kind:?}: {}", held[0]);
            }
            // paused output counts as written (tokens are longer than the values they replace)
            assert!(held[0] <= 2 * BODY.len() as u64, "{kind:?} {n}: {}", held[0]);
            // the request had no body: nothing recorded for it
            assert!(of("streammask.body_time_us.direction.request").is_empty());
        }
        // a skipped body records nothing
        let out = run(
            kind,
            &sh,
            &names,
            Exchange {
                resp_headers: vec![("content-type", "image/png".into())],
                resp_chunks: chunks(BODY, 7),
                ..Exchange::default()
            },
        );
        assert!(
            !out.recorded
                .iter()
                .any(|(m, _)| m.contains("body_time") || m.contains("held_bytes")),
            "{kind:?}: {:?}",
            out.recorded
        );
    }
}

#[test]
fn host_calls_per_request_stay_few_and_route_headers_are_read_only_for_routes() {
    for kind in BOTH {
        // no routes, no query rule: neither the host nor the path is read
        let (sh, names) = shared(kind, POLICY);
        let out = run(kind, &sh, &names, json_resp(BODY, 4096, Framing::Length));
        assert_masked(&out.client_body);
        assert_eq!(
            out.headers_read,
            [":method", "upgrade", ":status", "content-encoding", "content-length"],
            "{kind:?}"
        );
        let total: usize = out.host_calls.values().sum();
        // 5 header reads, content-type (all values), accept-encoding and content-length removed,
        // one body read and write, 7 counters, two clock reads and two histogram values
        assert!(total <= 21, "{kind:?}: {total} host calls: {:?}", out.host_calls);
        let out = run(kind, &sh, &names, Exchange::default());
        assert_eq!(out.headers_read, [":method", "upgrade", ":status"], "{kind:?}");
        assert!(
            out.host_calls.values().sum::<usize>() <= 6,
            "{kind:?}: {:?}",
            out.host_calls
        );

        // routes on host and path: both are read (host first, path next)
        let (sh, names) = shared(kind, ROUTED);
        let out = run(kind, &sh, &names, text_exchange("/pay", "a.example.com", b"x"));
        assert_eq!(&out.headers_read[..3], [":authority", ":path", ":method"], "{kind:?}");
    }
}

#[test]
fn a_query_rule_without_routes_still_masks_the_path() {
    // the path is read only for a query rule here (no route needs it): it must still be masked
    let policy = POLICY.replacen('{', r#"{"query": {"params": ["token"]},"#, 1);
    for kind in BOTH {
        let (sh, names) = shared(kind, &policy);
        let ex = Exchange {
            req_headers: vec![(":path", "/s?card=4111111111111111&token=abc&q=x".to_string())],
            ..Exchange::default()
        };
        let out = run(kind, &sh, &names, ex);
        assert_eq!(
            out.req_headers[":path"], "/s?card=411111******1111&token=%5BREDACTED%5D&q=x",
            "{kind:?}"
        );
        assert!(!out.headers_read.iter().any(|h| h == ":authority"), "{kind:?}");
    }
}

/// NDJSON records, each with one card, padded to about `len` bytes.
fn card_records(n: usize, len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let pad = "x".repeat(len.saturating_sub(60));
        out.extend_from_slice(
            format!("{{\"id\":{i},\"card\":\"4111 1111 1111 1111\",\"note\":\"{pad}\"}}\n").as_bytes(),
        );
    }
    out
}

fn ndjson_resp(body: &[u8], n: usize) -> Exchange<'static> {
    Exchange {
        resp_headers: vec![("content-type", "application/x-ndjson".into())],
        resp_chunks: chunks(body, n),
        ..Exchange::default()
    }
}

const BULK_POLICY: &str = r#"{
    "rules": [
        {"name": "cards", "detector": "credit_card", "max_values_per_stream": 3, "on_exceed": "block"},
        {"detector": "email"}
    ]
}"#;

const MASKED_CARD: &str = "4111 11** **** 1111";

#[test]
fn a_body_over_the_bulk_guard_is_cut_where_it_crosses_and_the_stream_stops() {
    for kind in BOTH {
        // records longer than the guard's check interval: the cut falls right before the fourth card
        for (records, chunk) in [(2000, 64), (2000, 4096), (2000, 100_000)] {
            let (sh, names) = shared(kind, BULK_POLICY);
            let out = run(kind, &sh, &names, ndjson_resp(&card_records(10, records), chunk));
            let body = String::from_utf8_lossy(&out.client_body);
            assert!(!body.contains("4111 1111 1111 1111"), "{kind:?}: a card left unmasked");
            let left = body.matches(MASKED_CARD).count();
            match kind {
                // NGINX: what was decided before the fourth card leaves, then the marker
                Kind::Ngx => assert_eq!(left, 3, "chunk {chunk}"),
                // Envoy resets the stream: what it already forwarded is all the client gets
                Kind::Envoy => assert!(left <= 3, "chunk {chunk}: {left}"),
            }
            assert_eq!(
                out.counters["streammask.bulk_exceeded.policy.default.rule.cards.outcome.blocked.direction.response"],
                1,
                "{kind:?}"
            );
            assert_eq!(
                out.counters["streammask.streams_blocked.reason.bulk_values.direction.response"],
                1
            );
            match kind {
                Kind::Envoy => assert!(out.reset, "Envoy: the stream is reset"),
                Kind::Ngx => assert!(out.client_body.ends_with(streammask_proxy::stream::BLOCKED_MARKER)),
            }
            assert!(
                out.logs
                    .iter()
                    .any(|(_, l)| l.contains("bulk guard") && l.contains("cards") && l.contains("blocked")),
                "{:?}",
                out.logs
            );
        }
        // short records, many in one chunk: the cut is where the fourth card starts
        for chunk in [7, 512, 65536] {
            let (sh, names) = shared(kind, BULK_POLICY);
            let out = run(kind, &sh, &names, ndjson_resp(&card_records(500, 60), chunk));
            let body = String::from_utf8_lossy(&out.client_body);
            assert!(!body.contains("4111 1111 1111 1111"));
            match kind {
                Kind::Ngx => {
                    let kept =
                        body.strip_suffix(std::str::from_utf8(streammask_proxy::stream::BLOCKED_MARKER).unwrap());
                    let kept = kept.unwrap_or_else(|| panic!("no marker: {body}"));
                    assert_eq!(kept.matches(MASKED_CARD).count(), 3, "chunk {chunk}");
                    // everything up to the fourth card's value, nothing of it
                    assert!(kept.ends_with("{\"id\":3,\"card\":\""), "chunk {chunk}: {kept}");
                }
                Kind::Envoy => assert!(body.matches(MASKED_CARD).count() <= 3),
            }
        }
    }
}

#[test]
fn a_body_within_the_bulk_guard_is_masked_and_untouched_otherwise() {
    for kind in BOTH {
        let (sh, names) = shared(kind, BULK_POLICY);
        let body = card_records(3, 200);
        let out = run(kind, &sh, &names, ndjson_resp(&body, 50));
        let expected = String::from_utf8_lossy(&body).replace("4111 1111 1111 1111", MASKED_CARD);
        assert_eq!(String::from_utf8_lossy(&out.client_body), expected, "{kind:?}");
        assert!(!out.reset);
        assert!(!out
            .counters
            .keys()
            .any(|k| k.starts_with("streammask.bulk_exceeded") && out.counters[k] > 0));
    }
}

#[test]
fn report_and_report_mode_count_the_crossing_and_let_the_body_through() {
    for kind in BOTH {
        // on_exceed report: masked in full, counted and logged
        let report = BULK_POLICY.replace(r#""on_exceed": "block""#, r#""on_exceed": "report""#);
        let (sh, names) = shared(kind, &report);
        let body = card_records(10, 100);
        let out = run(kind, &sh, &names, ndjson_resp(&body, 64));
        assert_eq!(
            String::from_utf8_lossy(&out.client_body).matches(MASKED_CARD).count(),
            10,
            "{kind:?}"
        );
        assert_eq!(
            out.counters["streammask.bulk_exceeded.policy.default.rule.cards.outcome.reported.direction.response"],
            1
        );
        assert!(!out.reset);
        assert!(out
            .logs
            .iter()
            .any(|(_, l)| l.contains("bulk guard") && l.contains("reported")));
        // mode report: nothing changes; what would have been blocked is counted
        let (sh, names) = shared(kind, &BULK_POLICY.replacen('{', r#"{"mode": "report","#, 1));
        let out = run(kind, &sh, &names, ndjson_resp(&body, 64));
        assert_eq!(out.client_body, body, "{kind:?}: report mode changes nothing");
        assert_eq!(
            out.counters["streammask.bulk_exceeded.policy.default.rule.cards.outcome.would_block.direction.response"],
            1
        );
        assert!(
            !out.counters
                .contains_key("streammask.streams_blocked.reason.bulk_values.direction.response")
                || out.counters["streammask.streams_blocked.reason.bulk_values.direction.response"] == 0
        );
    }
}

#[test]
fn the_body_wide_guard_counts_every_rule_and_blocks_requests_with_403() {
    let policy = r#"{
        "rules": [{"detector": "credit_card"}, {"detector": "email"}],
        "limits": {"max_values_per_stream": 4, "on_exceed": "block"}
    }"#;
    for kind in BOTH {
        let (sh, names) = shared(kind, policy);
        let mut body = Vec::new();
        for i in 0..6 {
            body.extend_from_slice(format!("user{i}@example.com 4111111111111111\n").as_bytes());
        }
        let ex = Exchange {
            method: "POST",
            req_headers: vec![("content-type", "text/plain".into())],
            req_chunks: vec![body.clone()],
            ..Exchange::default()
        };
        let out = run(kind, &sh, &names, ex);
        assert_eq!(out.client_status, 403, "{kind:?}");
        let up = String::from_utf8_lossy(&out.upstream_body);
        assert!(
            !up.contains("4111111111111111") && !up.contains("@example.com"),
            "{kind:?}: {up}"
        );
        assert_eq!(
            out.counters["streammask.bulk_exceeded.policy.default.rule.all.outcome.blocked.direction.request"],
            1
        );
        // the same body in the response direction, within a larger limit, passes masked
        let (sh, names) = shared(
            kind,
            &policy.replace("\"max_values_per_stream\": 4", "\"max_values_per_stream\": 12"),
        );
        let out = run(
            kind,
            &sh,
            &names,
            Exchange {
                resp_headers: vec![("content-type", "text/plain".into())],
                resp_chunks: chunks(&body, 7),
                ..Exchange::default()
            },
        );
        assert!(!out.reset);
        assert_eq!(
            String::from_utf8_lossy(&out.client_body)
                .matches("411111******1111")
                .count(),
            6,
            "{kind:?}"
        );
    }
}

#[test]
fn a_gzip_body_over_the_bulk_guard_is_cut_in_its_decoded_form() {
    for kind in BOTH {
        let (sh, names) = shared(kind, BULK_POLICY);
        let z = gzip(&card_records(400, 60));
        let ex = Exchange {
            resp_headers: vec![
                ("content-type", "application/x-ndjson".into()),
                ("content-encoding", "gzip".into()),
            ],
            resp_chunks: chunks(&z, 97),
            ..Exchange::default()
        };
        let out = run(kind, &sh, &names, ex);
        let body = String::from_utf8_lossy(&out.client_body);
        assert!(!body.contains("4111 1111 1111 1111"), "{kind:?}: raw card");
        assert!(body.matches(MASKED_CARD).count() <= 3, "{kind:?}");
        assert_eq!(
            out.counters["streammask.bulk_exceeded.policy.default.rule.cards.outcome.blocked.direction.response"], 1,
            "{kind:?}"
        );
        if kind == Kind::Ngx {
            assert!(out.client_body.ends_with(streammask_proxy::stream::BLOCKED_MARKER));
            assert_eq!(body.matches(MASKED_CARD).count(), 3);
        }
    }
}

/// Frames as a peer writes them (client frames masked).
fn ws_frames(messages: &[&str], client: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let key = client.then_some([0x11, 0x22, 0x33, i as u8]);
        // each message in two fragments, the cut inside its first value
        let (a, b) = m.as_bytes().split_at(m.len() / 2);
        streammask_engine::write_frame(&mut out, false, 1, key, a);
        streammask_engine::write_frame(&mut out, true, 0, key, b);
    }
    out
}

/// The text messages of a frame stream, unmasked and joined.
fn ws_messages(mut b: &[u8]) -> Vec<String> {
    let (mut msgs, mut cur) = (Vec::new(), Vec::new());
    while b.len() >= 2 {
        let (len, mut at) = match b[1] & 0x7f {
            126 => (usize::from(u16::from_be_bytes([b[2], b[3]])), 4),
            l => (usize::from(l), 2),
        };
        let key = (b[1] & 0x80 != 0).then(|| {
            at += 4;
            [b[at - 4], b[at - 3], b[at - 2], b[at - 1]]
        });
        let mut p = b[at..at + len].to_vec();
        if let Some(k) = key {
            p.iter_mut().enumerate().for_each(|(i, x)| *x ^= k[i % 4]);
        }
        cur.extend_from_slice(&p);
        if b[0] & 0x80 != 0 {
            msgs.push(String::from_utf8(std::mem::take(&mut cur)).unwrap());
        }
        b = &b[at + len..];
    }
    msgs
}

#[test]
fn websocket_messages_are_masked_both_ways_on_envoy_and_left_alone_on_nginx() {
    let client = ws_frames(
        &[
            "pay with 4111 1111 1111 1111",
            r#"{"user_id":"u-1","note":"jane@example.com"}"#,
        ],
        true,
    );
    let server = ws_frames(&["your card 5555555555554444 is on file", "ssn 123-45-6789"], false);
    for kind in BOTH {
        let (sh, names) = shared(kind, POLICY);
        for read in [1, 3, 7, 4096] {
            let out = run(
                kind,
                &sh,
                &names,
                Exchange {
                    req_headers: vec![
                        ("upgrade", "websocket".into()),
                        ("connection", "Upgrade".into()),
                        (
                            "sec-websocket-extensions",
                            "permessage-deflate; client_max_window_bits".into(),
                        ),
                    ],
                    req_chunks: chunks(&client, read),
                    status: 101,
                    resp_chunks: chunks(&server, read),
                    ..Exchange::default()
                },
            );
            match kind {
                Kind::Envoy => {
                    assert!(
                        !out.req_headers.contains_key("sec-websocket-extensions"),
                        "extensions offered upstream"
                    );
                    let up = ws_messages(&out.upstream_body);
                    assert_eq!(up[0], "pay with 4111 11** **** 1111", "read {read}");
                    assert!(
                        up[1].starts_with(r#"{"user_id":"tok_k1_"#) && !up[1].contains("jane@"),
                        "{}",
                        up[1]
                    );
                    let down = ws_messages(&out.client_body);
                    assert_eq!(
                        down,
                        ["your card 555555******4444 is on file", "ssn [REDACTED]"],
                        "read {read}"
                    );
                    // client frames stay masked for the server
                    assert!(out.upstream_body[1] & 0x80 != 0);
                    assert_eq!(
                        out.counters["streammask.values_masked.policy.default.rule.credit_card.direction.response"], 1,
                        "read {read}"
                    );
                    assert_eq!(out.counters["streammask.streams_scanned.direction.request"], 1);
                }
                Kind::Ngx => {
                    // upgraded connections bypass NGINX's body filters: left alone, counted
                    assert_eq!(out.upstream_body, client);
                    assert_eq!(out.client_body, server);
                    assert_eq!(
                        out.counters["streammask.streams_skipped.reason.upgrade.direction.response"],
                        1
                    );
                }
            }
        }
        // `"websocket": false`: untouched everywhere
        let off = POLICY.replacen('{', r#"{"websocket": false,"#, 1);
        let (sh, names) = shared(kind, &off);
        let out = run(
            kind,
            &sh,
            &names,
            Exchange {
                req_headers: vec![("upgrade", "websocket".into())],
                req_chunks: chunks(&client, 5),
                status: 101,
                resp_chunks: chunks(&server, 5),
                ..Exchange::default()
            },
        );
        assert_eq!(out.upstream_body, client, "{kind:?}");
        assert_eq!(out.client_body, server, "{kind:?}");
    }
}

#[test]
fn websocket_upgrades_that_are_refused_have_a_body_or_report_are_handled_as_http() {
    let frames = ws_frames(&["pay with 4111 1111 1111 1111"], false);
    let (sh, names) = shared(Kind::Envoy, POLICY);
    // refused (403 with a JSON body): the response is scanned as an ordinary one
    let out = run(
        Kind::Envoy,
        &sh,
        &names,
        Exchange {
            req_headers: vec![("upgrade", "websocket".into())],
            status: 403,
            resp_headers: vec![("content-type", "application/json".into())],
            resp_chunks: vec![br#"{"card":"4111 1111 1111 1111"}"#.to_vec()],
            ..Exchange::default()
        },
    );
    assert_eq!(
        String::from_utf8_lossy(&out.client_body),
        r#"{"card":"4111 11** **** 1111"}"#
    );
    // an upgrade request with a body is not a WebSocket handshake: left alone as any upgrade
    let out = run(
        Kind::Envoy,
        &sh,
        &names,
        Exchange {
            req_headers: vec![("upgrade", "websocket".into()), ("content-length", "5".into())],
            req_chunks: vec![b"hello".to_vec()],
            status: 101,
            resp_chunks: vec![frames.clone()],
            ..Exchange::default()
        },
    );
    assert_eq!(out.client_body, frames);
    assert_eq!(
        out.counters["streammask.streams_skipped.reason.upgrade.direction.response"],
        1
    );
    // report mode: nothing changes, not even the extension offer; the value is counted
    let report = POLICY.replacen('{', r#"{"mode": "report","#, 1);
    let (sh, names) = shared(Kind::Envoy, &report);
    let out = run(
        Kind::Envoy,
        &sh,
        &names,
        Exchange {
            req_headers: vec![
                ("upgrade", "websocket".into()),
                ("sec-websocket-extensions", "permessage-deflate".into()),
            ],
            status: 101,
            resp_chunks: chunks(&frames, 4),
            ..Exchange::default()
        },
    );
    assert_eq!(out.client_body, frames);
    assert!(out.req_headers.contains_key("sec-websocket-extensions"));
    assert_eq!(
        out.counters["streammask.values_reported.policy.default.rule.credit_card.direction.response"],
        1
    );
}
