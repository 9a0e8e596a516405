//! Streaming equals whole-input masking for any input, any chunking and every format; and the
//! prefilters (runs, digit clusters) give what the plain regex search over all bytes gives.
//! The policy runs every built-in detector, the secrets-by-key rule, user patterns and fields.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use streammask_engine::{mask_all, Format, Masker, Ruleset};

/// Every built-in detector, then user patterns (one across newlines, one with `near`), fields.
fn policy_json() -> String {
    let detectors: Vec<String> = streammask_engine::detect::DETECTORS
        .iter()
        .map(|d| format!(r#"{{"detector":"{}"}}"#, d.name))
        .collect();
    format!(
        r#"{{"rules":[{},{{"name":"pin","pattern":"PIN\\s{{1,3}}[0-9]{{4}}"}},{{"name":"bare","pattern":"[0-9]{{9}}","near":["ssn"],"within":16}}],
            "fields":[{{"name":"f","keys":["user_id"]}},{{"name":"p","paths":["$.a[*].b"],"action":{{"type":"mask","keep_last":2}}}}]}}"#,
        detectors.join(",")
    )
}

fn policy() -> &'static Arc<Ruleset> {
    static P: OnceLock<Arc<Ruleset>> = OnceLock::new();
    P.get_or_init(|| Arc::new(Ruleset::from_json(&policy_json(), &|_| None).expect("fuzz policy")))
}

fn plain_policy() -> &'static Arc<Ruleset> {
    static P: OnceLock<Arc<Ruleset>> = OnceLock::new();
    P.get_or_init(|| {
        Arc::new(
            Ruleset::from_json(&policy_json(), &|_| None)
                .expect("fuzz policy")
                .without_prefilters(),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (ctl, input) = data.split_at(2);
    let format = [Format::Text, Format::Json, Format::Ndjson, Format::Sse][usize::from(ctl[0] % 4)];
    let p = policy();
    let whole = mask_all(p, format, input).0;
    assert_eq!(
        whole,
        mask_all(plain_policy(), format, input).0,
        "prefilters changed the output, format {format:?}"
    );
    // chunk sizes derived from the control byte: 1..=16, varying along the input
    let mut m = Masker::new(p.clone(), format);
    let mut out = Vec::new();
    let (mut i, mut k) = (0usize, usize::from(ctl[1]));
    while i < input.len() {
        let n = 1 + (k % 16);
        k = k.wrapping_mul(31).wrapping_add(7);
        let end = (i + n).min(input.len());
        m.push(&input[i..end], &mut out);
        i = end;
    }
    m.finish(&mut out);
    assert_eq!(out, whole, "format {format:?}");
});
