//! End-to-end: the built streammask.wasm in the real Envoy, in front of the demo upstream, driven
//! by curl over HTTP/1.1 and h2c. Assertions are on what the client and the upstream received and
//! on Envoy's own log and statistics.

mod support;

use serde_json::Value;
use std::io::Read;
use std::time::Duration;
use support::*;

fn direct(path: &str) -> Vec<u8> {
    curl(&["-s", &format!("http://127.0.0.1:{}{}", upstream(), path)])
        .out
        .stdout
}

#[test]
fn json_ndjson_sse_and_text_responses_are_masked_and_clean_values_stay_identical() {
    let e = envoy();
    // JSON: valid, same structure, clean values byte-identical, sensitive ones masked
    let (status, headers, body) = get(&e.url("/api/users"), &[]);
    assert_eq!(status, 200);
    assert!(
        !headers.contains("content-length: 562"),
        "content-length of the unmasked body kept"
    );
    assert_no_raw("json", &body);
    let masked: Value = serde_json::from_slice(&body).expect("valid JSON");
    let orig: Value = serde_json::from_slice(&direct("/api/users")).unwrap();
    let (m0, o0) = (&masked["users"][0], &orig["users"][0]);
    for clean in ["name", "plan", "created", "id"] {
        assert_eq!(m0[clean], o0[clean], "clean field {clean} changed");
    }
    assert_eq!(masked["users"][1]["version"], "1.2.3");
    assert_eq!(m0["card"], "4111 11** **** 1111");
    assert_eq!(
        masked["users"][1]["card"], "555555******4444",
        "a card sent as a JSON number"
    );
    assert_eq!(m0["ssn"], "[REDACTED]");
    assert!(m0["email"].as_str().unwrap().starts_with("tok_k1_"));
    assert!(m0["user_id"].as_str().unwrap().starts_with("tok_k1_"));

    // NDJSON: every line valid JSON, masked
    let body = curl(&["-s", &e.url("/logs.ndjson?lines=20&delay_ms=5")]).out.stdout;
    assert_no_raw("ndjson", &body);
    let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 20);
    for (i, l) in lines.iter().enumerate() {
        let v: Value = serde_json::from_slice(l).expect("valid NDJSON line");
        assert_eq!(v["latency_ms"], 10 + i as u64);
        assert_eq!(v["card"], "4111-11**-****-1111");
        assert!(!v["msg"].as_str().unwrap().contains("@example.com"));
    }

    // SSE: framing kept, data masked
    let body = curl(&["-s", &e.url("/events?n=3&delay_ms=50")]).body_string();
    assert_no_raw("sse", body.as_bytes());
    assert_eq!(body.matches("event: payment\n").count(), 3);
    assert_eq!(body.matches("\"card\":\"4111 11** **** 1111\"").count(), 3);
    assert!(!body.contains("buyer1@example.com"));

    // text: the clean line is byte-identical
    let body = curl(&["-s", &e.url("/text")]).body_string();
    assert_no_raw("text", body.as_bytes());
    assert!(body.contains("\nclean line: version 1.2.3, total $1,234.56, id 550e8400-e29b-41d4-a716-446655440000\n"));
}

#[test]
fn one_byte_chunks_and_a_card_split_across_chunks_are_masked_whole() {
    let e = envoy();
    let body = curl(&["-s", &e.url("/bytes")]).body_string();
    assert_no_raw("1-byte chunks", body.as_bytes());
    assert!(body.contains("card 4111 11** **** 1111 exp 12/29"), "{body}");
    let body = curl(&["-s", &e.url("/split")]).body_string();
    assert_eq!(
        body.len(),
        r#"{"note":"paid with 4111 11** **** 1111 thanks","email":"tok_k1_"#.len() + 26 + 2
    );
    assert!(
        body.starts_with(r#"{"note":"paid with 4111 11** **** 1111 thanks","email":"tok_k1_"#),
        "{body}"
    );
}

#[test]
fn request_bodies_never_reach_the_upstream_raw() {
    let e = envoy();
    let doc = std::fs::read(root().join("tests/data/request.json")).unwrap();
    let file = root().join("tests/data/request.json").display().to_string();
    for (id, extra) in [
        ("chunked", vec!["-H", "Transfer-Encoding: chunked"]),
        ("length", vec![]),
    ] {
        let url = e.url(&format!("/record/{id}-{}", rand_suffix()));
        let mut args = vec![
            "-s",
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "--data-binary",
        ];
        let at = format!("@{file}");
        args.push(&at);
        args.extend(extra.iter().copied());
        args.push(&url);
        let r = curl(&args).body_string();
        assert!(r.starts_with("stored "), "{r}");
        let path = url.split_once(&format!(":{}", e.port)).unwrap().1.to_string();
        let got = direct(&path);
        assert!(!got.is_empty());
        assert_no_raw(&format!("upstream ({id} upload)"), &got);
        let v: Value = serde_json::from_slice(&got).expect("the upstream got valid JSON");
        assert_eq!(v["payment"]["card"], "4111 11** **** 1111");
        assert_eq!(v["comment"], "please ship by friday");
        assert!(doc.len() > 100);
    }
}

#[test]
fn sse_events_reach_the_client_in_real_time() {
    let e = envoy();
    let lines = stream_lines(&["-sN", &e.url("/events?n=4&delay_ms=1000")]);
    let data: Vec<&(Duration, String)> = lines.iter().filter(|(_, l)| l.starts_with("data: ")).collect();
    assert_eq!(data.len(), 4);
    let mut report = Vec::new();
    for (i, (at, line)) in data.iter().enumerate() {
        assert!(!line.contains("@example.com") && !line.contains("4111 1111"), "{line}");
        let v: Value = serde_json::from_str(line.trim_start_matches("data: ").trim()).unwrap();
        let sent = v["sent_ms"].as_u64().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        // the line was read at `at`; it left the upstream at `sent`: latency = arrival - sent
        let arrival = now - (lines.last().unwrap().0 - *at).as_millis() as u64;
        let latency = arrival.saturating_sub(sent);
        report.push(latency);
        assert!(
            latency < 500,
            "event {i} arrived {latency} ms after it was sent (buffered?)"
        );
    }
    println!("SSE per-event latency through Envoy + streammask (ms): {report:?}");
    let gaps: Vec<u128> = data.windows(2).map(|w| (w[1].0 - w[0].0).as_millis()).collect();
    for g in &gaps {
        assert!(
            *g > 700,
            "events arrived together ({gaps:?} ms apart): the stream was buffered"
        );
    }
}

#[test]
fn http2_downstream_and_a_response_with_trailers() {
    let e = envoy();
    let (status, _, body) = get(&e.url("/api/users"), &["--http2-prior-knowledge"]);
    assert_eq!(status, 200);
    assert_no_raw("h2c", &body);
    serde_json::from_slice::<Value>(&body).expect("valid JSON over h2");

    for _ in 0..5 {
        let (status, headers, body) = get(&e.url("/trailers"), &["--http2-prior-knowledge"]);
        assert_eq!(status, 200);
        let s = String::from_utf8(body).unwrap();
        let v: Value = serde_json::from_str(&s).unwrap_or_else(|_| panic!("bytes lost or extra before trailers: {s}"));
        assert_eq!(v["card"], "4111 11** **** 1111");
        assert_eq!(
            v["tail"], "ends in a word",
            "the tail held at the trailers boundary was lost"
        );
        assert!(v["email"].as_str().unwrap().starts_with("tok_k1_"));
        assert!(headers.contains("x-checksum: abc123"), "trailers lost: {headers}");
    }
    // the same over HTTP/1.1 downstream (trailers dropped by Envoy's HTTP/1 codec, body intact)
    let body = curl(&["-s", &e.url("/trailers")]).body_string();
    assert!(body.ends_with("\"tail\":\"ends in a word\"}"), "{body}");
}

#[test]
fn compressed_upstream_bodies_are_decoded_or_blocked_and_bodiless_responses_pass() {
    let e = envoy();
    for path in ["/gzip", "/deflate", "/brotli", "/zstd"] {
        let (status, headers, body) = get(&e.url(path), &[]);
        assert_eq!(status, 200, "{path}");
        assert!(!headers.contains("content-encoding"), "{path}: {headers}");
        assert_no_raw(path, &body);
        let v = serde_json::from_slice::<Value>(&body).expect("decoded JSON");
        assert_eq!(v["users"][0]["card"], "4111 11** **** 1111", "{path}");
    }
    let (status, _, body) = get(&e.url("/compress"), &[]);
    assert_eq!(status, 502);
    assert!(String::from_utf8_lossy(&body).contains("content-encoding \"compress\" cannot be scanned"));
    assert!(!body.windows(4).any(|w| w == b"4111"));
    let (status, headers, _) = get(&e.url("/api/users"), &["-I"]);
    assert_eq!(status, 200);
    assert!(
        headers.contains("content-length: 562"),
        "HEAD keeps the upstream's length: {headers}"
    );
    let (status, _, body) = get(&e.url("/empty"), &[]);
    assert_eq!(status, 204);
    assert!(body.is_empty());
}

#[test]
fn responses_are_compressed_for_clients_after_masking() {
    let e = envoy();
    let (status, headers, body) = get(&e.url("/api/users"), &["-H", "accept-encoding: gzip"]);
    assert_eq!(status, 200);
    assert!(headers.contains("content-encoding: gzip"), "{headers}");
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut plain).unwrap();
    assert_no_raw("gzip for the client", &plain);
    assert!(String::from_utf8_lossy(&plain).contains("4111 11** **** 1111"));
}

#[test]
fn a_200_mb_streamed_body_passes_and_envoy_memory_does_not_grow_with_body_size() {
    let e = start_envoy(EnvoyOpts {
        log_level: "wasm:info",
        ..EnvoyOpts::default()
    });
    let run = |mb: u64| {
        let r = curl(&[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{size_download}",
            &e.url(&format!("/big?mb={mb}")),
        ]);
        r.body_string()
    };
    assert_eq!(run(20), format!("200 {}", 20u64 << 20));
    let before = e.rss_kib();
    assert_eq!(
        run(200),
        format!("200 {}", 200u64 << 20),
        "no 413/500 and every byte delivered"
    );
    let after = e.rss_kib();
    println!("Envoy RSS after a 20 MiB body: {before} KiB; after a 200 MiB body: {after} KiB");
    assert!(
        after < before + 64 * 1024,
        "Envoy grew by {} KiB over a 200 MiB body",
        after.saturating_sub(before)
    );
    let sample = curl(&["-s", &e.url("/big?mb=1")]).body_string();
    assert_eq!(sample.matches("card 4111 11** **** 1111").count(), 16);
    assert!(!sample.contains("4111 1111 1111 1111"));
}

#[test]
fn an_invalid_policy_makes_envoy_reject_the_filter_and_name_the_json_path() {
    let policy = r#"{"rules": [{"name": "orders", "pattern": "ORD-\\d+"}, {"detector": "credit_kard"}]}"#;
    let log = match try_start_envoy(EnvoyOpts {
        policy: Some(policy),
        ..EnvoyOpts::default()
    }) {
        Ok(e) => panic!("Envoy started with an invalid policy; log:\n{}", e.log()),
        Err(log) => log,
    };
    assert!(log.contains("rules[0].pattern: unbounded repetition"), "{log}");
    assert!(
        log.contains("rules[1].detector: unknown detector \"credit_kard\""),
        "{log}"
    );
    // each problem at error level, the verdict at critical (the log facade's critical target)
    assert!(
        log.lines()
            .any(|l| l.contains("[error]") && l.contains("invalid configuration: rules[0].pattern")),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("[critical]") && l.contains("configuration rejected (2 problem(s))")),
        "{log}"
    );
}

#[test]
fn a_missing_token_key_is_a_configuration_error_not_a_silent_pass() {
    let log = match try_start_envoy(EnvoyOpts {
        env: vec![],
        ..EnvoyOpts::default()
    }) {
        Ok(e) => panic!("Envoy started without the token key; log:\n{}", e.log()),
        Err(log) => log,
    };
    assert!(
        log.contains("tokenize.secret_env: environment variable \"STREAMMASK_TOKEN_KEY\" is not set"),
        "{log}"
    );
}

#[test]
fn tokens_are_identical_across_requests_and_across_both_worker_threads() {
    // the per-stream debug lines name the worker thread that ran the filter
    let policy = example_policy_with(serde_json::json!({"debug_log": true}));
    let e = start_envoy(EnvoyOpts {
        policy: Some(&policy),
        ..EnvoyOpts::default()
    });
    let mut tokens = std::collections::BTreeSet::new();
    for _ in 0..30 {
        let body = curl(&["-s", &e.url("/api/users")]).out.stdout;
        let v: Value = serde_json::from_slice(&body).unwrap();
        tokens.insert(v["users"][0]["email"].as_str().unwrap().to_string());
    }
    assert_eq!(tokens.len(), 1, "different tokens for one value: {tokens:?}");
    // which worker threads ran the filter: the thread id is the third field of each log line
    let log = e.log();
    let threads: std::collections::BTreeSet<&str> = log
        .lines()
        .filter(|l| l.contains("response body done"))
        .filter_map(|l| l.split(']').nth(1))
        .collect();
    assert!(threads.len() >= 2, "only one worker served the requests: {threads:?}");
}

#[test]
fn prometheus_shows_the_documented_counters_with_the_right_counts() {
    let e = start_envoy(EnvoyOpts::default());
    for _ in 0..3 {
        curl(&["-s", "-o", "/dev/null", &e.url("/api/users")]);
    }
    curl(&["-s", "-o", "/dev/null", &e.url("/compress")]);
    // an image response is not scanned
    curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-X",
        "POST",
        "--data-binary",
        "x",
        "-H",
        "content-type: image/png",
        &e.url("/record/bin"),
    ]);
    curl(&["-s", "-o", "/dev/null", &e.url("/record/bin?ct=image%2Fpng")]);
    curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-X",
        "POST",
        "--data-binary",
        "4111111111111111",
        "-H",
        "content-type: text/plain",
        &e.url("/count"),
    ]);
    // the readiness probe in start_envoy made one /api/users request too
    let n = 4;
    assert_eq!(
        e.prom("streammask_values_masked{policy=\"default\",rule=\"cards\",direction=\"response\"}"),
        3 * n
    );
    assert_eq!(
        e.prom("streammask_values_masked{policy=\"default\",rule=\"emails\",direction=\"response\"}"),
        3 * n
    );
    assert_eq!(
        e.prom("streammask_values_masked{policy=\"default\",rule=\"user-ids\",direction=\"response\"}"),
        2 * n
    );
    assert_eq!(
        e.prom("streammask_values_masked{policy=\"default\",rule=\"cards\",direction=\"request\"}"),
        1
    );
    assert!(e.prom("streammask_bytes_scanned{direction=\"response\"}") >= 562 * n);
    assert_eq!(
        e.prom("streammask_streams_blocked{reason=\"encoding\",direction=\"response\"}"),
        1
    );
    assert_eq!(
        e.prom("streammask_streams_skipped{reason=\"content_type\",direction=\"response\"}"),
        1
    );
    assert!(e.prom("streammask_streams_scanned{direction=\"response\"}") >= n);
    assert!(e.prom("streammask_streams_skipped{reason=\"no_body\",direction=\"request\"}") >= n);
    assert_eq!(
        e.prom("streammask_streams_skipped{reason=\"content_type\",direction=\"request\"}"),
        1
    );
    // the histograms: one value per scanned body, after Envoy's next stats flush (5 s)
    let scanned = e.prom("streammask_streams_scanned{direction=\"response\"}");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while e.prom("streammask_body_time_us_count{direction=\"response\"}") < scanned {
        assert!(
            std::time::Instant::now() < deadline,
            "no body time histogram after 15 s: {}",
            curl(&["-s", &e.admin_url("/stats/prometheus?filter=streammask_body_time")]).body_string()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(e.prom("streammask_body_time_us_count{direction=\"response\"}"), scanned);
    assert_eq!(e.prom("streammask_held_bytes_count{direction=\"response\"}"), scanned);
    // the byte-sized buckets of envoy.yaml apply, and every body held less than their last bound
    let buckets = curl(&["-s", &e.admin_url("/stats/prometheus?filter=held_bytes")]).body_string();
    assert!(
        buckets.contains("streammask_held_bytes_bucket{direction=\"response\",le=\"4096\"}"),
        "{buckets}"
    );
    assert!(e.prom("streammask_held_bytes_bucket{direction=\"response\",le=\"4194304\"}") == scanned);
    // Envoy logs wasm at debug here, but the policy did not ask for per-stream debug lines
    let log = e.log();
    assert!(log.contains("streammask: policy default loaded"), "{log}");
    assert!(
        !log.contains("streammask: response body done"),
        "debug lines without debug_log:\n{log}"
    );
}

#[test]
fn envoy_debug_log_contains_no_raw_values_and_no_secret() {
    let policy = example_policy_with(serde_json::json!({"debug_log": true}));
    let e = start_envoy(EnvoyOpts {
        policy: Some(&policy),
        log_level: "wasm:trace",
        ..EnvoyOpts::default()
    });
    for p in [
        "/api/users",
        "/text",
        "/bytes",
        "/split",
        "/gzip",
        "/compress",
        "/logs.ndjson?lines=3&delay_ms=1",
        "/events?n=2&delay_ms=1",
    ] {
        curl(&["-s", "-o", "/dev/null", &e.url(p)]);
    }
    curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "--data-binary",
        "@tests/data/request.json",
        &e.url("/record/log"),
    ]);
    let log = e.log();
    assert!(
        log.contains("streammask: response body done"),
        "the filter did not log at debug level:\n{log}"
    );
    for raw in RAW_VALUES {
        // the access log prints paths, not bodies; no raw value may appear anywhere
        assert!(!log.contains(raw), "raw value {raw:?} in Envoy's log");
    }
    assert!(!log.contains(TOKEN_KEY), "the token secret is in Envoy's log");
    let dump = curl(&["-s", &e.admin_url("/config_dump")]).body_string();
    assert!(!dump.contains(TOKEN_KEY), "the token secret is in /config_dump");
}

#[test]
fn compressed_request_bodies_are_decoded_masked_and_sent_plain() {
    use std::io::Write;
    let e = envoy();
    let plain = std::fs::read(root().join("tests/data/request.json")).unwrap();
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&plain).unwrap();
    let gz = root().join(format!("target/e2e/request-{}.json.gz", std::process::id()));
    std::fs::write(&gz, z.finish().unwrap()).unwrap();
    let id = format!("gz-{}", rand_suffix());
    let at = format!("@{}", gz.display());
    let r = curl(&[
        "-s",
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-H",
        "content-encoding: gzip",
        "--data-binary",
        &at,
        &e.url(&format!("/record/{id}")),
    ]);
    assert!(r.body_string().starts_with("stored "), "{}", r.body_string());
    let got = direct(&format!("/record/{id}"));
    assert_no_raw("gzip request at the upstream", &got);
    let v: Value = serde_json::from_slice(&got).expect("the upstream got plain JSON");
    assert_eq!(v["comment"], "please ship by friday");
    // brotli and zstd requests are decoded too
    for (coding, data) in [("br", brotli_bytes(&plain)), ("zstd", zstd_bytes(&plain))] {
        let file = root().join(format!("target/e2e/request-{}.json.{coding}", std::process::id()));
        std::fs::write(&file, data).unwrap();
        let id = format!("{coding}-{}", rand_suffix());
        let at = format!("@{}", file.display());
        let ce = format!("content-encoding: {coding}");
        let r = curl(&[
            "-s",
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "-H",
            &ce,
            "--data-binary",
            &at,
            &e.url(&format!("/record/{id}")),
        ]);
        assert!(r.body_string().starts_with("stored "), "{coding}: {}", r.body_string());
        let got = direct(&format!("/record/{id}"));
        assert_no_raw(&format!("{coding} request at the upstream"), &got);
        let v: Value = serde_json::from_slice(&got).expect("the upstream got plain JSON");
        assert_eq!(v["comment"], "please ship by friday");
    }
    // an encoding the filter cannot decode is refused before the upstream sees anything
    let id = format!("compress-{}", rand_suffix());
    let (status, _, _) = get(
        &e.url(&format!("/record/{id}")),
        &[
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "-H",
            "content-encoding: compress",
            "--data-binary",
            "xyz",
        ],
    );
    assert_eq!(status, 415);
    assert!(direct(&format!("/record/{id}")).starts_with(b"no such record"));
}

#[test]
fn report_mode_leaves_bodies_byte_identical_while_the_counters_count() {
    let policy = std::fs::read_to_string(root().join("envoy/policies/example.json"))
        .unwrap()
        .replacen('{', "{\n  \"mode\": \"report\",", 1);
    let e = start_envoy(EnvoyOpts {
        policy: Some(&policy),
        ..EnvoyOpts::default()
    });
    let (status, headers, body) = get(&e.url("/api/users"), &[]);
    assert_eq!(status, 200);
    assert_eq!(body, direct("/api/users"), "report mode changed the body");
    assert!(
        headers.contains("content-length: 562"),
        "report mode changed the headers: {headers}"
    );
    // readiness probe + this request
    assert_eq!(
        e.prom("streammask_values_reported{policy=\"default\",rule=\"cards\",direction=\"response\"}"),
        6
    );
    assert_eq!(
        e.prom("streammask_values_masked{policy=\"default\",rule=\"cards\",direction=\"response\"}"),
        0
    );
    // a compressed body stays compressed, with its headers; it is decoded only to be counted
    let reported = || e.prom("streammask_values_reported{policy=\"default\",rule=\"cards\",direction=\"response\"}");
    let before = reported();
    let _ = get(&e.url("/api/users"), &[]);
    let per_body = reported() - before;
    assert!(per_body > 0);
    let (status, headers, body) = get(&e.url("/gzip"), &[]);
    assert_eq!(status, 200);
    assert_eq!(body, direct("/gzip"), "report mode changed a gzip body");
    assert!(
        headers.contains("content-encoding: gzip"),
        "report mode dropped content-encoding: {headers}"
    );
    assert_eq!(
        reported(),
        before + 2 * per_body,
        "the gzip body (the same JSON) was not counted"
    );
    // a body it cannot decode passes whole (report mode never cuts), counted
    let out = std::process::Command::new("curl")
        .args(["-s", "-o", "-", &e.url("/gzip-corrupt")])
        .output()
        .unwrap();
    assert!(out.status.success(), "report mode cut a body it could not decode");
    assert_eq!(out.stdout, direct("/gzip-corrupt"));
    assert_eq!(
        e.prom("streammask_streams_passed_unmasked{reason=\"decode_error\",direction=\"response\"}"),
        1
    );
}

#[test]
fn a_stream_that_hits_an_internal_error_is_blocked_not_passed() {
    // decoding fails in the middle of the body, after bytes already left: Envoy resets the stream
    let e = start_envoy(EnvoyOpts::default());
    let out = std::process::Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}", &e.url("/gzip-corrupt")])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "curl saw a complete response: the stream was not cut"
    );
    let body = String::from_utf8_lossy(&out.stdout);
    assert_no_raw("a body cut by a decode error", body.as_bytes());
    assert_eq!(
        e.prom("streammask_streams_blocked{reason=\"decode_error\",direction=\"response\"}"),
        1
    );
    // the next requests work (the VM is fine, nothing stuck)
    let (status, _, body) = get(&e.url("/api/users"), &[]);
    assert_eq!(status, 200);
    assert_no_raw("after a blocked stream", &body);
}

/// The example policy with extra top-level settings merged in.
fn example_policy_with(extra: Value) -> String {
    let mut p: Value =
        serde_json::from_slice(&std::fs::read(root().join("envoy/policies/example.json")).unwrap()).unwrap();
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    serde_json::to_string_pretty(&p).unwrap()
}

#[test]
fn two_routes_with_two_policies_behave_differently_in_one_envoy() {
    let policy = example_policy_with(serde_json::json!({
        "policies": {"audit": {"mode": "report", "rules": [{"name": "cards", "detector": "credit_card"}]}},
        "routes": [{"name": "text-audit", "path_prefix": "/text", "policy": "audit"}]
    }));
    let e = start_envoy(EnvoyOpts {
        policy: Some(&policy),
        ..EnvoyOpts::default()
    });
    let masked = curl(&["-s", &e.url("/api/users")]).out.stdout;
    assert_no_raw("default route", &masked);
    let audited = curl(&["-s", &e.url("/text")]).out.stdout;
    assert_eq!(audited, direct("/text"), "the report-mode route changed the body");
    assert_eq!(
        e.prom("streammask_values_reported{policy=\"audit\",rule=\"cards\",direction=\"response\"}"),
        1
    );
    assert!(e.prom("streammask_values_masked{policy=\"default\",rule=\"cards\",direction=\"response\"}") >= 3);
    assert_eq!(
        e.prom("streammask_values_masked{policy=\"audit\",rule=\"cards\",direction=\"response\"}"),
        0
    );
}

#[test]
fn query_string_and_header_values_are_masked_before_the_upstream_sees_them() {
    let policy = example_policy_with(serde_json::json!({
        "headers": [{"name": "user-headers", "headers": ["x-user-email", "cookie", "set-cookie"]}],
        "query": {"params": ["token"], "action": {"type": "redact", "replacement": "x"}}
    }));
    let e = start_envoy(EnvoyOpts {
        policy: Some(&policy),
        ..EnvoyOpts::default()
    });
    let id = format!("q{}", rand_suffix());
    let (status, headers, _) = get(
        &e.url(&format!(
            "/meta/{id}?email=jane.doe%40example.com&token=s3cr3t-t0ken&q=shoes"
        )),
        &[
            "-H",
            "x-user-email: jane.doe@example.com",
            "-H",
            "cookie: theme=dark; card=4111111111111111",
        ],
    );
    assert_eq!(status, 200);
    let seen = String::from_utf8(direct(&format!("/meta-read/{id}"))).unwrap();
    assert_no_raw("what the upstream received", seen.as_bytes());
    assert!(
        !seen.contains("jane.doe%40example.com") && !seen.contains("s3cr3t-t0ken"),
        "{seen}"
    );
    assert!(seen.contains("&token=x&q=shoes"), "{seen}");
    assert!(seen.contains("cookie: theme=dark; card=411111******1111"), "{seen}");
    assert!(seen.contains("x-user-email: tok_k1_"), "{seen}");
    assert!(
        headers.contains("set-cookie: session=411111******1111; path=/; httponly"),
        "{headers}"
    );
}

#[test]
fn the_findings_log_correlates_without_raw_values() {
    let policy = example_policy_with(serde_json::json!({"findings_log": true}));
    let e = start_envoy(EnvoyOpts {
        policy: Some(&policy),
        log_level: "wasm:info",
        ..EnvoyOpts::default()
    });
    curl(&["-s", "-o", "/dev/null", &e.url("/text")]);
    curl(&["-s", "-o", "/dev/null", &e.url("/text")]);
    let log = e.log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("streammask findings ")).collect();
    assert!(lines.len() >= 2, "no findings lines:\n{log}");
    let json = |l: &str| -> Value { serde_json::from_str(l.split("streammask findings ").nth(1).unwrap()).unwrap() };
    let (a, b) = (json(lines[lines.len() - 2]), json(lines[lines.len() - 1]));
    assert_eq!(
        a["findings"], b["findings"],
        "the same body gives the same offsets and fingerprints"
    );
    assert_eq!(a["counts"]["cards"], 1);
    for raw in RAW_VALUES {
        assert!(!log.contains(raw), "{raw} in the log");
    }
}

#[test]
fn prometheus_scrapes_envoy_and_every_dashboard_and_alert_query_has_series() {
    for tool in ["prometheus", "promtool"] {
        assert!(
            std::process::Command::new(tool).arg("--version").output().is_ok(),
            "{tool} not found: install Debian's prometheus package (apt-get install prometheus)"
        );
    }
    let alerts = root().join("envoy/observability/alerts.yml");
    let check = std::process::Command::new("promtool")
        .arg("check")
        .arg("rules")
        .arg(&alerts)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "promtool: {}",
        String::from_utf8_lossy(&check.stdout)
    );

    // the example policy with a body-wide bulk guard in report mode, so its series exist too
    let policy =
        example_policy_with(serde_json::json!({"limits": {"max_values_per_stream": 3, "on_exceed": "report"}}));
    let e = start_envoy(EnvoyOpts {
        policy: Some(&policy),
        ..EnvoyOpts::default()
    });
    for p in ["/api/users", "/text", "/gzip", "/compress", "/empty", "/gzip-corrupt"] {
        let _ = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", &e.url(p)])
            .output();
    }
    let port = free_port();
    let dir = root().join(format!("target/e2e/prometheus-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: [{}]\nscrape_configs:\n- job_name: envoy\n  metrics_path: /stats/prometheus\n  static_configs: [{{targets: ['127.0.0.1:{}']}}]\n",
            alerts.display(),
            e.admin
        ),
    )
    .unwrap();
    let mut cmd = std::process::Command::new("prometheus");
    cmd.arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::fs::File::create(dir.join("log")).unwrap())
        .stderr(std::fs::File::create(dir.join("err")).unwrap());
    let child = spawn_tied(cmd).unwrap();
    let _guard = Proc {
        child,
        log: dir.join("err"),
    };
    let api = |q: &str| -> Value {
        let out = std::process::Command::new("curl")
            .args([
                "-s",
                "-G",
                &format!("http://127.0.0.1:{port}/api/v1/query"),
                "--data-urlencode",
                &format!("query={q}"),
            ])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    };
    // wait for a few scrapes
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let r = api("count_over_time(streammask_streams_scanned[1m])");
        if r["data"]["result"].as_array().is_some_and(|a| {
            a.iter()
                .any(|s| s["value"][1].as_str().unwrap_or("0").parse::<f64>().unwrap_or(0.0) >= 3.0)
        }) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Prometheus did not scrape Envoy: {}",
            std::fs::read_to_string(dir.join("err")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // every dashboard query returns series
    let dash: Value = serde_json::from_slice(
        &std::fs::read(root().join("envoy/observability/grafana/dashboards/streammask.json")).unwrap(),
    )
    .unwrap();
    let mut n = 0;
    for panel in dash["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().unwrap() {
            let q = t["expr"].as_str().unwrap().replace("[5m]", "[1m]");
            let r = api(&q);
            assert_eq!(r["status"], "success", "{q}: {r}");
            assert!(
                !r["data"]["result"].as_array().unwrap().is_empty(),
                "dashboard query returns no series: {q}"
            );
            n += 1;
        }
    }
    // every metric the loaded alert rules name returns series
    let out = std::process::Command::new("curl")
        .args(["-s", &format!("http://127.0.0.1:{port}/api/v1/rules")])
        .output()
        .unwrap();
    let rules: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut alerts_seen = 0;
    for g in rules["data"]["groups"].as_array().unwrap() {
        for rule in g["rules"].as_array().unwrap() {
            alerts_seen += 1;
            let q = rule["query"].as_str().unwrap();
            let metrics: std::collections::BTreeSet<&str> = q
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("streammask_"))
                .collect();
            assert!(!metrics.is_empty(), "{q}");
            for m in metrics {
                let r = api(&format!("count({m})"));
                assert!(
                    !r["data"]["result"].as_array().unwrap().is_empty(),
                    "alert {} names {m}, which Envoy does not export",
                    rule["name"]
                );
            }
        }
    }
    assert_eq!(alerts_seen, 5);
    println!("{n} dashboard queries and {alerts_seen} alert rules checked against a real Prometheus");
}

/// The rows of the detection issue (values side by side, look-alikes, new forms), with the
/// default policy `{}`, in both directions through the real Envoy.
#[test]
fn adjacent_values_and_look_alikes_give_the_documented_output_in_both_directions() {
    let e = default_policy_envoy();
    let rows: &[(&str, &str, &str)] = &[
        ("text/plain", "4111111111111111 5555555555554444", "411111******1111 555555******4444"),
        ("text/plain", "219-09-9999 219-09-9999", "***-**-9999 ***-**-9999"),
        ("text/plain", "(415) 555-2671 4111111111111111", "(***) ***-**71 411111******1111"),
        ("text/plain", "id 67cb419c-8609-4837-9241-c661a547cbdf", "id 67cb419c-8609-4837-9241-c661a547cbdf"),
        ("text/plain", "Order 1234 5678 9012", "Order 1234 5678 9012"),
        ("text/plain", "BG80 BNBG 9661 1020 3456 79", "BG80 BNBG 9661 1020 3456 79"),
        ("text/plain", "3714 4963 5398 434", "3714 4963 5398 434"),
        ("text/plain", "SD 20241 440-600-5124", "SD 20241 ***-***-**24"),
        ("text/plain", "AL47-2121-1009-0000-0002-3569-8741", "AL**-****-****-****-****-****-8741"),
        (
            "text/plain",
            "xoxe-1-My0xLTc1NjE4NDU4NzYtMjA4ODE4Mzk4NDItNzU2MzU0NjE0ODI xoxe.xoxp-1-Mi0yLTc1NjE4NDU4NzYtMjA4ODE4Mzk4NDItNzU2MzU0NjE0ODI",
            "[REDACTED] [REDACTED]",
        ),
        (
            "text/plain; charset=utf-8",
            "user@xn--d1acufc.xn--p1ai jane@exämple.de",
            "u***@**--*******.**--*1ai j***@******e.de",
        ),
        (
            "application/json",
            r#"{"password":"hunter2","api_key":"abc123def456","client_secret":"s3cr3t-value-xyz","aws_secret_access_key":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}"#,
            r#"{"password":"[REDACTED]","api_key":"[REDACTED]","client_secret":"[REDACTED]","aws_secret_access_key":"[REDACTED]"}"#,
        ),
        (
            "text/plain",
            "AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "[REDACTED]:[REDACTED]",
        ),
        (
            "text/plain",
            "postgres://admin:S3cretPass@db.example.com:5432/app",
            "postgres://admin:[REDACTED]@db.example.com:5432/app",
        ),
    ];
    for (i, (ct, input, want)) in rows.iter().enumerate() {
        let id = format!("row{i}-{}", rand_suffix());
        // response: stored straight at the upstream, read back through Envoy
        let stored = curl(&[
            "-s",
            "--data-binary",
            input,
            &format!("http://127.0.0.1:{}/record/{id}", upstream()),
        ])
        .body_string();
        assert!(stored.starts_with("stored "), "{stored}");
        let ct_q: String = ct.replace(' ', "%20").replace(';', "%3B").replace('/', "%2F");
        let got = curl(&["-s", &e.url(&format!("/record/{id}?ct={ct_q}"))]).body_string();
        assert_eq!(&got, want, "response row {i}: {input}\nlog:\n{}", e.log());
        // request: sent through Envoy, read straight from the upstream
        let rid = format!("req{i}-{}", rand_suffix());
        let r = curl(&[
            "-s",
            "-H",
            &format!("content-type: {ct}"),
            "--data-binary",
            input,
            &e.url(&format!("/record/{rid}")),
        ])
        .body_string();
        assert!(r.starts_with("stored "), "{r}");
        let upstream_got = String::from_utf8(direct(&format!("/record/{rid}"))).unwrap();
        assert_eq!(&upstream_got, want, "request row {i}: {input}");
    }
}

/// Form bodies, `application/octet-stream` bodies and a response with two `content-type`
/// headers, through the real Envoy, with the default policy.
#[test]
fn form_octet_stream_and_conflicting_type_bodies_are_masked_in_both_directions() {
    let e = default_policy_envoy();
    let form = "card=4111+1111+1111+1111&email=jane%40example.com&c2=4111111111111111";
    let form_masked = "card=4111+11**+****+1111&email=j***%40*******.com&c2=411111******1111";
    let json = r#"{"card":"4111111111111111"}"#;
    let json_masked = r#"{"card":"411111******1111"}"#;
    let cases: &[(&str, &str, &str, Option<&str>)] = &[
        ("application/x-www-form-urlencoded", form, form_masked, None),
        ("application/octet-stream", json, json_masked, None),
        ("image/png", json, json_masked, Some("application/json")),
    ];
    for (ct, input, want, ct2) in cases {
        // response: stored at the upstream, served through Envoy with the content type(s)
        let id = format!("fmt-{}", rand_suffix());
        let stored = curl(&[
            "-s",
            "--data-binary",
            input,
            &format!("http://127.0.0.1:{}/record/{id}", upstream()),
        ])
        .body_string();
        assert!(stored.starts_with("stored "), "{stored}");
        let enc = |s: &str| s.replace('/', "%2F");
        let mut path = format!("/record/{id}?ct={}", enc(ct));
        if let Some(c2) = ct2 {
            path.push_str(&format!("&ct2={}", enc(c2)));
        }
        let (status, headers, body) = get(&e.url(&path), &[]);
        assert_eq!(status, 200);
        if ct2.is_some() {
            // Envoy joins a header sent twice into one comma-separated value
            assert!(
                headers.contains("content-type: image/png,application/json"),
                "{headers}"
            );
        }
        assert_eq!(
            String::from_utf8_lossy(&body),
            *want,
            "response {ct} {ct2:?}\nlog:\n{}",
            e.log()
        );
        // request: sent through Envoy with the content type(s), read back from the upstream
        let rid = format!("fmtreq-{}", rand_suffix());
        let url = e.url(&format!("/record/{rid}"));
        let h1 = format!("content-type: {ct}");
        let mut args = vec!["-s", "-H", h1.as_str()];
        let h2 = ct2.map(|c| format!("content-type: {c}"));
        if let Some(h) = &h2 {
            args.extend(["-H", h.as_str()]);
        }
        args.extend(["--data-binary", input, url.as_str()]);
        let r = curl(&args).body_string();
        assert!(r.starts_with("stored "), "{r}");
        let got = String::from_utf8(direct(&format!("/record/{rid}"))).unwrap();
        assert_eq!(got, *want, "request {ct} {ct2:?}");
    }
}

fn brotli_bytes(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 20);
        std::io::Write::write_all(&mut w, data).unwrap();
    }
    out
}

fn zstd_bytes(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

/// The filter's memory budget: a stream whose decoded output would take the filter past it is
/// blocked (counted with reason `memory`); the VM stays, and the next requests are masked. The
/// expansion-ratio and per-chunk limits are raised out of the way so that memory is what stops it.
#[test]
fn a_stream_past_the_memory_budget_is_blocked_and_the_vm_stays() {
    let policy = std::fs::read_to_string(root().join("envoy/policies/example.json"))
        .unwrap()
        .replacen(
            '{',
            "{\n  \"limits\": {\"max_memory_bytes\": 33554432, \"max_expansion_ratio\": 100000, \"max_decoded_bytes_per_chunk\": 1073741824},",
            1,
        );
    let e = start_envoy(EnvoyOpts {
        policy: Some(&policy),
        concurrency: 1,
        log_level: "wasm:info",
        ..EnvoyOpts::default()
    });
    for _ in 0..3 {
        // 512 MiB of zeros in a few KiB of zstd: one chunk inflates past the 32 MiB budget
        // (curl fails: the stream is reset mid-body)
        let r = std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{size_download}",
                &e.url("/bomb?enc=zstd&mb=512"),
            ])
            .output()
            .unwrap();
        let got: u64 = String::from_utf8_lossy(&r.stdout).trim().parse().unwrap_or(0);
        assert!(got < 64 << 20, "{got} bytes came through");
        let (status, _, body) = get(&e.url("/api/users"), &[]);
        assert_eq!(status, 200, "after a blocked stream\n{}", e.log());
        assert_no_raw("after a blocked stream", &body);
    }
    let blocked = e.prom("streammask_streams_blocked{reason=\"memory\",direction=\"response\"}");
    assert!(blocked >= 3, "memory blocks: {blocked}\n{}", e.log());
    let log = e.log();
    for crash in ["Uncaught", "RuntimeError", "panicked", "wasm_fail_stream"] {
        assert!(!log.contains(crash), "{crash} in the log");
    }
}

#[test]
fn a_body_over_the_bulk_guard_is_stopped_and_bodies_within_it_pass() {
    let policy = r#"{
  "rules": [
    {"name": "cards", "detector": "credit_card", "max_values_per_stream": 3, "on_exceed": "block"},
    {"detector": "email", "action": {"type": "redact"}}
  ],
  "limits": {"max_values_per_stream": 1, "on_exceed": "report"}
}"#;
    let e = start_envoy(EnvoyOpts {
        policy: Some(policy),
        concurrency: 1,
        log_level: "wasm:info",
        ..EnvoyOpts::default()
    });
    // ~48 cards in one JSON response: the stream stops at the fourth (curl sees a reset)
    let r = std::process::Command::new("curl")
        .args(["-s", &e.url("/sized?bytes=200000")])
        .output()
        .unwrap();
    assert!(!r.status.success(), "the response should be cut, not completed");
    let got = String::from_utf8_lossy(&r.stdout);
    assert_no_raw("a response over the bulk guard", &r.stdout);
    assert!(got.len() < 200_000, "{} bytes came through", got.len());
    assert!(got.matches("4111 11** **** 1111").count() <= 3, "{got}");
    // two cards: within the guard, complete and masked
    let (status, _, body) = get(&e.url("/sized?bytes=8192"), &[]);
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&body).expect("a complete JSON body");
    assert!(v.as_array().is_some_and(|a| a.len() > 10));
    let s = String::from_utf8_lossy(&body);
    assert_eq!(s.matches("4111 11** **** 1111").count(), 2, "{s}");
    assert_no_raw("a response within the bulk guard", &body);
    // a request body with six cards never reaches the upstream
    let id = format!("bulk-{}", rand_suffix());
    let upload: String = (0..6).map(|i| format!("row {i}: 4111111111111111\n")).collect();
    let r = curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "POST",
        "-H",
        "content-type: text/plain",
        "--data-binary",
        &upload,
        &e.url(&format!("/record/{id}")),
    ]);
    assert_eq!(r.body_string(), "403");
    assert_no_raw("the upstream after a blocked upload", &direct(&format!("/record/{id}")));
    assert!(!String::from_utf8_lossy(&direct(&format!("/record/{id}"))).contains("row 0"));
    let prom = |s: &str| e.prom(s);
    assert!(
        prom(r#"streammask_bulk_exceeded{policy="default",rule="cards",outcome="blocked",direction="response"}"#) >= 1,
        "{}",
        e.log()
    );
    assert_eq!(
        prom(r#"streammask_bulk_exceeded{policy="default",rule="cards",outcome="blocked",direction="request"}"#),
        1
    );
    assert!(
        prom(r#"streammask_bulk_exceeded{policy="default",rule="all",outcome="reported",direction="response"}"#) >= 2
    );
    assert!(prom(r#"streammask_streams_blocked{reason="bulk_values",direction="response"}"#) >= 1);
    let log = e.log();
    assert!(
        log.contains(
            "streammask: bulk guard: response body of policy default holds more than 3 values of cards (blocked)"
        ),
        "{log}"
    );
    assert_no_raw("the proxy log", log.as_bytes());
    for crash in ["Uncaught", "RuntimeError", "panicked", "wasm_fail_stream"] {
        assert!(!log.contains(crash), "{crash} in the log");
    }
}

fn luhn_ok(s: &str) -> bool {
    let d: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &v)| {
            if i % 2 == 1 {
                if v * 2 > 9 {
                    v * 2 - 9
                } else {
                    v * 2
                }
            } else {
                v
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[test]
fn fpe_values_through_envoy_stay_valid_and_key_holders_reverse_them() {
    let policy = std::fs::read_to_string(root().join("envoy/policies/fpe.json")).unwrap();
    let e = start_envoy(EnvoyOpts {
        policy: Some(&policy),
        concurrency: 2,
        ..EnvoyOpts::default()
    });
    let (status, _, body) = get(&e.url("/api/users"), &[]);
    assert_eq!(status, 200);
    assert_no_raw("an fpe response", &body);
    let v: Value = serde_json::from_slice(&body).expect("valid JSON");
    let u = &v["users"][0];
    let card = u["card"].as_str().unwrap();
    assert_ne!(card, "4111 1111 1111 1111");
    assert!(
        card.starts_with("4111 11") && card.ends_with(" 1111") && card.len() == 19,
        "{card}"
    );
    assert!(luhn_ok(card), "{card} fails the Luhn check");
    // the card written as a JSON number stays a number (Luhn-valid, same prefix)
    let n = v["users"][1]["card"].as_u64().expect("still a JSON number").to_string();
    assert!(
        n.starts_with("555555") && n.ends_with("4444") && n != "5555555555554444" && luhn_ok(&n),
        "{n}"
    );
    let ssn = u["ssn"].as_str().unwrap();
    assert!(ssn != "123-45-6789" && ssn.len() == 11 && &ssn[3..4] == "-", "{ssn}");
    // the same value gives the same result on every worker and request
    for _ in 0..6 {
        let (_, _, again) = get(&e.url("/api/users"), &[]);
        assert_eq!(again, body, "fpe is deterministic");
    }
    // key holders reverse it with the same policy (the engine `streammask detokenize` runs)
    let rs = streammask_engine::Ruleset::from_json(&policy, &|_| Some(TOKEN_KEY.to_string()))
        .unwrap()
        .into_detokenizer(None);
    let back = streammask_engine::mask_all(&std::sync::Arc::new(rs), streammask_engine::Format::Json, &body).0;
    let b: Value = serde_json::from_slice(&back).unwrap();
    assert_eq!(b["users"][0]["card"], "4111 1111 1111 1111");
    assert_eq!(b["users"][0]["ssn"], "123-45-6789");
    assert_eq!(b["users"][0]["iban"], "DE89 3704 0044 0532 0130 00");
    assert_eq!(b["users"][1]["card"], 5555555555554444u64);
}

/// A real WebSocket server and client (Python `websockets`) through Envoy: text messages in both
/// directions (one frame, fragmented with a value cut across fragments, JSON with a field rule,
/// 100 KB frames) are masked; the client's permessage-deflate offer never reaches the server, so
/// frames stay readable; pings pass; the close handshake completes with 1000 on both sides.
#[test]
fn websocket_messages_are_masked_both_ways_through_envoy() {
    let env = envoy();
    let series = |rule: &str, d: &str| {
        format!("streammask_values_masked{{policy=\"default\",rule=\"{rule}\",direction=\"{d}\"}}")
    };
    let cards_before = (
        env.prom(&series("cards", "request")),
        env.prom(&series("cards", "response")),
    );
    let out = std::process::Command::new(venv_python())
        .arg(root().join("scripts/ws_chat.py"))
        .args([
            "check",
            &format!("ws://127.0.0.1:{}/ws/chat", env.port),
            &ws_upstream_port().to_string(),
        ])
        .output()
        .expect("run scripts/ws_chat.py");
    assert!(
        out.status.success(),
        "ws_chat.py failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        env.log()
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let strings = |x: &Value| -> Vec<String> {
        x.as_array()
            .unwrap_or_else(|| panic!("not a list: {x}"))
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let server = &v["server"];
    // compression was offered by the client and removed on the way: nothing negotiated
    assert_eq!(server["offered_extensions"], Value::Null, "{v}");
    assert_eq!(server["negotiated"], Value::Null, "{v}");
    assert_eq!(v["client_negotiated"], Value::Null, "{v}");
    // what the server received
    let got = strings(&server["received"]);
    assert_eq!(got.len(), 5, "{got:?}");
    assert_eq!(got[0], "client: card 4111 11** **** 1111");
    assert!(
        got[1].starts_with("my email is tok_k1_") && got[1].ends_with(" ok"),
        "{}",
        got[1]
    );
    let json: Value = serde_json::from_str(&got[2]).expect("a JSON message stays JSON");
    assert!(json["user_id"].as_str().unwrap().starts_with("tok_k1_"), "{json}");
    assert_eq!(json["card"], "411111******1111");
    assert_eq!(json["note"], "call [REDACTED]");
    assert!(
        got[3].len() == 100_022 && got[3].ends_with(" card 411111******1111"),
        "{}",
        &got[3][100_000..]
    );
    assert_eq!(got[4], "bye");
    for m in &got {
        assert_no_raw("upstream WebSocket message", m.as_bytes());
    }
    // what the client received: the server's echoes and its own answers, masked on the way back
    let back = strings(&v["client_received"]);
    assert_eq!(back.len(), 8, "{back:?}");
    assert_eq!(
        back[5],
        "agent: refund sent to card 5555 55** **** 4444, receipt to ".to_string() + &got[1][12..got[1].len() - 3]
    );
    assert_eq!(
        back[6],
        "agent: your SSN on file is [REDACTED] and card 4111 11** **** 1111, ok?"
    );
    assert!(back[7].ends_with(" card 411111******1111"), "{}", &back[7][100_000..]);
    for m in &back {
        assert_no_raw("client WebSocket message", m.as_bytes());
    }
    assert_eq!(v["client_close_code"], 1000, "{v}");
    assert_eq!(server["close_code"], 1000, "{v}");
    // counted per direction as the messages passed (other tests may add to the same counters:
    // at least this exchange's cards)
    assert!(
        env.prom(&series("cards", "request")) >= cards_before.0 + 3,
        "request cards not counted"
    );
    assert!(
        env.prom(&series("cards", "response")) >= cards_before.1 + 3,
        "response cards not counted"
    );
    // and nothing of it in the proxy's log (debug level for the wasm component)
    assert_no_raw("Envoy log after the WebSocket exchange", env.log().as_bytes());
}

/// The deepest inputs the filter accepts run within the VM's stack (the wasm build links a
/// 256 KiB stack, `.cargo/config.toml`): a user pattern nested to the parser's limit compiles in
/// the VM at startup, and request and response bodies nested 2,000 deep are masked (past the JSON
/// depth limit, text rules apply).
#[test]
fn the_deepest_pattern_and_bodies_the_filter_accepts_fit_the_vm_stack() {
    let deep = format!("{}ZQ[0-9]{{6}}{}", "(?:".repeat(60), ")".repeat(60));
    let mut p: Value =
        serde_json::from_slice(&std::fs::read(root().join("envoy/policies/example.json")).unwrap()).unwrap();
    p["rules"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "deep", "pattern": deep, "action": {"type": "redact"}}));
    let policy = serde_json::to_string_pretty(&p).unwrap();
    let e = start_envoy(EnvoyOpts {
        policy: Some(&policy),
        ..EnvoyOpts::default()
    });
    let body = format!(
        "{}{{\"note\":\"ZQ123456 card 4111 1111 1111 1111\"}}{}",
        "[".repeat(2000),
        "]".repeat(2000)
    );
    let id = format!("deep-{}", std::process::id());
    let out = curl(&[
        "-s",
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "--data-binary",
        &body,
        &e.url(&format!("/record/{id}")),
    ]);
    assert!(out.out.status.success());
    let stored = direct(&format!("/record/{id}"));
    let s = String::from_utf8_lossy(&stored);
    assert!(
        !s.contains("ZQ123456") && !s.contains("4111 1111 1111 1111"),
        "request body: {}",
        &s[1990..s.len().min(2100)]
    );
    assert!(s.starts_with(&"[".repeat(2000)), "the request body lost its structure");
    let back = curl(&["-s", &e.url(&format!("/record/{id}?ct=application%2Fjson"))])
        .out
        .stdout;
    let b = String::from_utf8_lossy(&back);
    assert!(
        b.starts_with(&"[".repeat(2000)) && b.ends_with(&"]".repeat(2000)),
        "response: {}",
        b.len()
    );
    assert!(!b.contains("4111 1111 1111 1111"));
    // the VM is fine afterwards
    let (status, _, users) = get(&e.url("/api/users"), &[]);
    assert_eq!(status, 200);
    assert_no_raw("after the deep bodies", &users);
}
