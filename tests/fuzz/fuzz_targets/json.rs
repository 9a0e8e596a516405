//! Valid JSON in, valid JSON out; no raw value of a field rule survives.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use streammask_engine::{mask_all, Format, Ruleset};

fn policy() -> &'static Arc<Ruleset> {
    static P: OnceLock<Arc<Ruleset>> = OnceLock::new();
    P.get_or_init(|| {
        let json = r#"{"rules":[{"detector":"credit_card"},{"detector":"email"}],
            "fields":[{"name":"secret","keys":["secret"],"action":{"type":"redact","replacement":"X"}}]}"#;
        Arc::new(Ruleset::from_json(json, &|_| None).expect("fuzz policy"))
    })
}

/// Every scalar under a `secret` key must be the field rule's replacement (nulls stay null).
fn check_secrets(v: &serde_json::Value, under: bool) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                check_secrets(x, under || k == "secret");
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| check_secrets(x, under)),
        serde_json::Value::Null => {}
        other if under => assert_eq!(other, &serde_json::Value::String("X".into()), "a field value survived"),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    if serde_json::from_slice::<serde_json::Value>(data).is_err() {
        return;
    }
    // nesting beyond the default limit falls back to text by design
    let (out, stats) = mask_all(policy(), Format::Json, data);
    if stats.depth_fallbacks > 0 {
        return;
    }
    let parsed: serde_json::Value = serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("invalid JSON out ({e}): {}", String::from_utf8_lossy(&out)));
    check_secrets(&parsed, false);
});
