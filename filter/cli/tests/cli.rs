#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The `streammask` command: `check`, `mask` on a realistic NDJSON sample, `detokenize`, `detectors`.

use std::io::Write;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_streammask");
const KEY: &str = "cli-test-key-0123456789abcdef0123456789abcdef";

fn dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn mask(chunk: Option<usize>) -> (String, String) {
    let mut args = vec![
        "mask".to_string(),
        "--policy".into(),
        dir().join("sample-policy.json").display().to_string(),
    ];
    args.extend(["--format".into(), "ndjson".into()]);
    if let Some(c) = chunk {
        args.extend(["--chunk-size".into(), c.to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = run_with(&args, &std::fs::read(dir().join("sample.ndjson")).unwrap());
    assert_eq!(code, 0, "{err}");
    (out, err)
}

#[test]
fn mask_on_a_realistic_ndjson_sample_leaks_nothing_and_is_chunk_invariant() {
    let (whole, summary) = mask(None);
    let (bytewise, _) = mask(Some(1));
    assert_eq!(whole, bytewise, "--chunk-size 1 differs from the whole input");
    for raw in [
        "4111111111111111",
        "4111 1111 1111 1111",
        "5555-5555-5555-4444",
        "4012888888881881",
        "jane.doe@example.com",
        "John.Roe@Example.org",
        "x.y@mail.example.net",
        "(415) 555-2671",
        "20 7946 0958",
        "DE89 3704 0044 0532 0130 00",
        "GB82WEST12345698765432",
        "123-45-6789",
        "078-05-1120",
        "u-1001",
        "u-1002",
        "u-1003",
    ] {
        assert!(!whole.contains(raw), "{raw} leaked:\n{whole}");
    }
    let lines: Vec<serde_json::Value> = whole
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON line"))
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["card"], "411111******1111");
    assert_eq!(lines[1]["card"], "5555-55**-****-4444");
    assert_eq!(
        lines[2]["card"], "401288******1881",
        "a card as a JSON number becomes a masked string"
    );
    assert_eq!(lines[2]["contact"]["email"], "[REDACTED]");
    assert!(lines[0]["user_id"].as_str().unwrap().starts_with("tok_k1_"));
    assert!(lines[2]["userId"].as_str().unwrap().starts_with("tok_k1_"));
    // clean values untouched, byte for byte
    let input = std::fs::read_to_string(dir().join("sample.ndjson")).unwrap();
    assert_eq!(whole.lines().nth(3), input.lines().nth(3), "the clean line changed");
    for clean in [
        "\"ts\":\"2024-11-30T12:00:02Z\"",
        "\"version\":\"2.4.1\"",
        "\"status\":\"retry\"",
        "\"latency_ms\":12",
    ] {
        assert!(whole.contains(clean), "{clean} changed");
    }
    assert!(summary.contains("cards=4"), "{summary}");
}

#[test]
fn check_reports_every_error_with_its_path_and_exits_1() {
    let mut f = tempfile("bad.json");
    f.1.write_all(br#"{"rules":[{"name":"x","pattern":"[0-9]+"},{"detector":"emial"}],"modee":"report"}"#)
        .unwrap();
    let out = Command::new(BIN).args(["check", &f.0]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field `modee`"), "{err}");
    let mut g = tempfile("bad2.json");
    g.1.write_all(br#"{"rules":[{"name":"x","pattern":"[0-9]+"},{"detector":"emial"}]}"#)
        .unwrap();
    let out = Command::new(BIN).args(["check", &g.0]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rules[0].pattern: unbounded repetition"), "{err}");
    assert!(err.contains("rules[1].detector: unknown detector \"emial\""), "{err}");
    let ok = Command::new(BIN)
        .args(["check", &dir().join("sample-policy.json").display().to_string()])
        .env("SAMPLE_TOKEN_KEY", KEY)
        .output()
        .unwrap();
    assert!(ok.status.success());
    assert!(
        !String::from_utf8_lossy(&ok.stdout).contains(KEY),
        "check printed the secret"
    );
}

#[test]
fn check_works_without_the_secret_and_names_the_variables_the_proxy_needs() {
    let policy = dir().join("sample-policy.json").display().to_string();
    // no key in the environment: still checked, the variable named
    let out = Command::new(BIN)
        .args(["check", &policy])
        .env_remove("SAMPLE_TOKEN_KEY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(": ok ("), "{stdout}");
    assert!(
        stdout.contains("the proxy must provide SAMPLE_TOKEN_KEY (not set here"),
        "{stdout}"
    );
    // --require-env makes a missing variable an error, with one message (no "add tokenize")
    let out = Command::new(BIN)
        .args(["check", "--require-env", &policy])
        .env_remove("SAMPLE_TOKEN_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SAMPLE_TOKEN_KEY"), "{err}");
    assert!(
        !err.contains("add \"tokenize\""),
        "suggests adding what is there: {err}"
    );
    // usage errors exit 2
    let out = Command::new(BIN).args(["mask"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(BIN).args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("streammask"));
}

#[test]
fn detectors_lists_every_builtin_with_a_masked_example() {
    let out = Command::new(BIN).arg("detectors").output().unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    for d in [
        "credit_card",
        "email",
        "us_ssn",
        "iban",
        "phone_number",
        "ipv4",
        "ipv6",
        "jwt",
        "aws_access_key_id",
        "github_token",
        "slack_token",
        "stripe_key",
        "google_api_key",
        "private_key",
    ] {
        assert!(s.contains(d), "{d} missing");
    }
    assert!(s.contains("\"4111 11** **** 1111\""));
}

fn tempfile(name: &str) -> (String, std::fs::File) {
    let p = std::env::temp_dir().join(format!("streammask-cli-{}-{name}", std::process::id()));
    let f = std::fs::File::create(&p).unwrap();
    (p.display().to_string(), f)
}

/// Runs the command with `input` on standard input; (exit code, stdout, stderr).
fn run_with(args: &[&str], input: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env("STREAMMASK_TOKEN_KEY", KEY)
        .env("SAMPLE_TOKEN_KEY", KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // a command that refuses its arguments exits before reading its input: a closed pipe then is
    // its answer, not a failure of the test (the exit code and stderr say what happened)
    if let Err(e) = child.stdin.take().unwrap().write_all(input) {
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe,
            "writing the command's input: {e}"
        );
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn detokenize_reverses_fpe_values_and_nothing_else() {
    let policy = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../envoy/policies/fpe.json")
        .display()
        .to_string();
    let body = br#"{"users":[{"card":"4111 1111 1111 1111","ssn":"123-45-6789","iban":"DE89 3704 0044 0532 0130 00","email":"jane@example.com","amex":"378282246310005"}]}"#;
    let (code, masked, err) = run_with(&["mask", "--policy", &policy, "--format", "json"], body);
    assert_eq!(code, 0, "{err}");
    for raw in [
        "4111 1111 1111 1111",
        "123-45-6789",
        "DE89 3704 0044 0532 0130 00",
        "jane@example.com",
    ] {
        assert!(!masked.contains(raw), "{raw} in {masked}");
    }
    let (code, back, err) = run_with(
        &["detokenize", "--policy", &policy, "--format", "json"],
        masked.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&back).unwrap();
    let u = &v["users"][0];
    assert_eq!(u["card"], "4111 1111 1111 1111");
    assert_eq!(u["ssn"], "123-45-6789");
    assert_eq!(u["iban"], "DE89 3704 0044 0532 0130 00");
    // a token and a fallback mask cannot be reversed: they stay as masked
    assert!(u["email"].as_str().unwrap().starts_with("tok_k1_"));
    assert_eq!(u["amex"], "378282*****0005");
    assert!(err.contains("detokenized: 3 values"), "{err}");
    // only one rule
    let (_, only, _) = run_with(
        &["detokenize", "--policy", &policy, "--format", "json", "--rule", "ssn"],
        masked.as_bytes(),
    );
    let w: serde_json::Value = serde_json::from_str(&only).unwrap();
    assert_eq!(w["users"][0]["ssn"], "123-45-6789");
    assert_ne!(w["users"][0]["card"], "4111 1111 1111 1111");
    // a rule that is not fpe, and a policy without fpe
    let (code, _, err) = run_with(&["detokenize", "--policy", &policy, "--rule", "emails"], b"");
    assert_eq!(code, 2);
    assert!(
        err.contains("not an fpe rule") && err.contains("cards, ssn, iban"),
        "{err}"
    );
    let sample = dir().join("sample-policy.json").display().to_string();
    let (code, _, err) = run_with(&["detokenize", "--policy", &sample], b"");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("has no rule or field rule with an fpe action"), "{err}");
}

#[test]
fn detokenize_after_a_key_rotation_needs_the_key_id() {
    let (p, f) = tempfile("rotated.json");
    drop(f);
    let path = std::path::PathBuf::from(&p);
    let policy = |active: &str| {
        format!(
            r#"{{"rules": [{{"name": "cards", "detector": "credit_card", "action": {{"type": "fpe", "keep_first": 6, "keep_last": 4, "fallback": {{"type": "redact"}}}}}}],
                "tokenize": {{"keys": [{{"id": "k1", "secret": "old-secret-0123456789abcdef0123456789ab"}}, {{"id": "k2", "secret": "new-secret-0123456789abcdef0123456789ab"}}], "active": "{active}"}}}}"#
        )
    };
    std::fs::write(&path, policy("k1")).unwrap();
    let (code, masked, err) = run_with(&["mask", "--policy", &p], b"card 4111 1111 1111 1111\n");
    assert_eq!(code, 0, "{err}");
    // the policy moved on to k2
    std::fs::write(&path, policy("k2")).unwrap();
    let (code, _, err) = run_with(&["detokenize", "--policy", &p], masked.as_bytes());
    assert_eq!(code, 1);
    assert!(
        err.contains("several tokenize keys (k1, k2)") && err.contains("--key-id"),
        "{err}"
    );
    let (code, back, err) = run_with(&["detokenize", "--policy", &p, "--key-id", "k1"], masked.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert_eq!(back, "card 4111 1111 1111 1111\n");
    let (code, _, err) = run_with(&["detokenize", "--policy", &p, "--key-id", "k9"], masked.as_bytes());
    assert_eq!(code, 1);
    assert!(err.contains("no tokenize key \"k9\""), "{err}");
    let _ = std::fs::remove_file(&path);
}
