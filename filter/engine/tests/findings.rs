#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The findings log: keyed fingerprints and offsets, never values.

use std::sync::Arc;
use streammask_engine::{Format, Masker, Ruleset};

const KEY: &str = "ops-test-key-0123456789abcdef0123456789abcdef";

#[test]
fn the_findings_log_has_keyed_fingerprints_and_offsets_never_values() {
    let json = r#"{"rules":[{"detector":"credit_card"}],"fields":[{"name":"ids","keys":["id"]}],"findings_log":true,"tokenize":{"key_id":"k1","secret_env":"K"}}"#;
    let p = Arc::new(Ruleset::from_json(json, &|_| Some(KEY.to_string())).unwrap());
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
    let e = Ruleset::from_json(r#"{"findings_log":true}"#, &|_| None)
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
        let p = Arc::new(Ruleset::from_json(&json, &|_| None).unwrap());
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
    let e = Ruleset::from_json(
        &format!(r#"{{"findings_log":true,"tokenize":{{{keys},"fingerprint_key_id":"k9"}}}}"#),
        &|_| None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("tokenize.fingerprint_key_id: no key with id \"k9\""), "{e}");
}
