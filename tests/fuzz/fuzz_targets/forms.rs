//! Form, multipart and sniffed bodies: any input, any chunking, the same output as the whole
//! body at once; no panic on any byte sequence (broken escapes, boundaries cut anywhere, header
//! blocks that never end, nested multipart).
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use streammask_engine::{FormatRouter, Masker};
use streammask_proxy::policy::HttpPolicy;

fn policy() -> &'static Arc<HttpPolicy> {
    static P: OnceLock<Arc<HttpPolicy>> = OnceLock::new();
    P.get_or_init(|| {
        Arc::new(
            HttpPolicy::from_json(
                r#"{"fields":[{"name":"f","keys":["user_id","note"]}],"multipart":{"file_parts":"all"},
                    "headers":[{"name":"h","headers":["x-secret"]}]}"#,
                &|_| None,
            )
            .expect("fuzz policy"),
        )
    })
}

const TYPES: &[&str] = &[
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=XyZ",
    "multipart/mixed; boundary=\"a b\"",
    "application/octet-stream",
];

fn run(p: &Arc<HttpPolicy>, ct: &str, input: &[u8], sizes: u8) -> Vec<u8> {
    let route = p.route(Some(ct), false);
    let mut m = Masker::for_route(p.ruleset.clone(), &route, p.clone());
    let mut out = Vec::new();
    if sizes == 0 {
        m.push(input, &mut out);
    } else {
        let (mut i, mut k) = (0usize, usize::from(sizes));
        while i < input.len() {
            let n = 1 + (k % 13);
            k = k.wrapping_mul(31).wrapping_add(7);
            let end = (i + n).min(input.len());
            m.push(&input[i..end], &mut out);
            i = end;
        }
    }
    m.finish(&mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (ctl, input) = data.split_at(2);
    let ct = TYPES[usize::from(ctl[0]) % TYPES.len()];
    let p = policy();
    let whole = run(p, ct, input, 0);
    assert_eq!(run(p, ct, input, ctl[1] | 1), whole, "{ct}");
});
