//! Engine throughput (criterion, `Throughput::Bytes`): text, JSON, NDJSON, SSE, dense and adversarial
//! inputs at several chunk sizes, the JSON field masker alone, and policy compile time.
//!
//!   cargo bench --bench engine

mod inputs;
mod masking;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::sync::Arc;
use streammask_engine::{Format, Ruleset};

const SIZE: usize = 1 << 20;

fn policy(json: &str) -> Arc<Ruleset> {
    let env = |_: &str| Some("bench-secret-0123456789abcdef0123456789abcdef".to_string());
    Arc::new(Ruleset::from_json(json, &env).expect("bench policy"))
}

fn example_policy() -> Arc<Ruleset> {
    policy(include_str!("../envoy/policies/example.json"))
}

fn formats(c: &mut Criterion) {
    let p = example_policy();
    let cases: Vec<(&str, Format, Vec<u8>)> = vec![
        ("text_clean", Format::Text, inputs::text(SIZE, 4096)),
        ("json_clean", Format::Json, inputs::json(SIZE, 4096)),
        ("ndjson_clean", Format::Ndjson, inputs::ndjson(SIZE, 4096)),
        ("sse_clean", Format::Sse, inputs::sse(SIZE, 4096)),
        ("text_dense", Format::Text, inputs::text(SIZE, 256)),
        ("json_dense", Format::Json, inputs::json(SIZE, 256)),
        ("adversarial", Format::Text, inputs::adversarial(SIZE)),
    ];
    let mut out = Vec::with_capacity(SIZE * 2);
    for (name, f, input) in &cases {
        let mut g = c.benchmark_group(*name);
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.sample_size(10);
        for chunk in [64usize, 1024, 16 << 10, 64 << 10] {
            g.bench_with_input(BenchmarkId::from_parameter(chunk), &chunk, |b, &chunk| {
                b.iter(|| masking::run(&p, *f, black_box(input), chunk, &mut out))
            });
        }
        g.finish();
    }
}

fn linear(c: &mut Criterion) {
    let p = example_policy();
    let mut out = Vec::new();
    let mut g = c.benchmark_group("dense_linearity");
    g.sample_size(10);
    for size in [256usize << 10, 1 << 20, 4 << 20] {
        let input = inputs::text(size, 256);
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::from_parameter(size), &input, |b, input| {
            b.iter(|| masking::run(&p, Format::Text, black_box(input), 16 << 10, &mut out))
        });
    }
    g.finish();
}

fn fields(c: &mut Criterion) {
    // the JSON field masker alone (no rules), and fields + rules
    let only = policy(
        r#"{"rules":[],"fields":[{"name":"notes","keys":["note"]},{"name":"skus","paths":["$.items[*].sku"],"action":{"type":"mask","keep_last":2}}]}"#,
    );
    let both = policy(
        r#"{"rules":[{"detector":"credit_card"},{"detector":"email"},{"detector":"us_ssn"}],"fields":[{"name":"notes","keys":["note"]},{"name":"skus","paths":["$.items[*].sku"],"action":{"type":"mask","keep_last":2}}]}"#,
    );
    let input = inputs::json(SIZE, 4096);
    let mut out = Vec::new();
    let mut g = c.benchmark_group("json_fields");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.sample_size(10);
    g.bench_function("fields_only", |b| {
        b.iter(|| masking::run(&only, Format::Json, black_box(&input), 16 << 10, &mut out))
    });
    g.bench_function("fields_and_rules", |b| {
        b.iter(|| masking::run(&both, Format::Json, black_box(&input), 16 << 10, &mut out))
    });
    g.finish();
}

fn compile(c: &mut Criterion) {
    let mut g = c.benchmark_group("policy_compile");
    g.sample_size(10);
    let five = r#"{"rules":[{"detector":"credit_card"},{"detector":"email"},{"detector":"us_ssn"},{"detector":"iban"},{"detector":"phone_number"}]}"#.to_string();
    let many: Vec<String> = (0..500)
        .map(|i| format!(r#"{{"name":"p{i}","pattern":"ID{i:03}-[0-9]{{6}}"}}"#))
        .collect();
    let five_hundred = format!(r#"{{"rules":[{}]}}"#, many.join(","));
    g.bench_function("5_rules", |b| {
        b.iter(|| Ruleset::from_json(black_box(&five), &|_| None).map(|_| ()))
    });
    g.bench_function("500_rules", |b| {
        b.iter(|| Ruleset::from_json(black_box(&five_hundred), &|_| None).map(|_| ()))
    });
    g.bench_function("default_policy", |b| {
        b.iter(|| Ruleset::from_json("{}", &|_| None).map(|_| ()))
    });
    g.finish();
}

/// A throwaway reference for issue 15's comparison: one `regex` alternation for the five
/// detectors of `FIVE_RULES` and a Luhn check for cards, over the whole body at once (not
/// streaming, no JSON, no readings, no look-alike checks): what a naive masker costs.
struct Naive {
    re: regex::bytes::Regex,
}

impl Naive {
    fn new() -> Naive {
        let re = regex::bytes::Regex::new(
            r"(?x-u)
              (?P<card>\b[0-9](?:[\ -]?[0-9]){12,18}\b)
             |(?P<email>\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b)
             |(?P<ssn>\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b)
             |(?P<iban>\b[A-Z]{2}[0-9]{2}(?:\ ?[A-Z0-9]{4}){3,7}(?:\ ?[A-Z0-9]{1,3})?\b)
             |(?P<phone>\+1\ \([0-9]{3}\)\ [0-9]{3}-[0-9]{4})",
        )
        .expect("naive regex");
        Naive { re }
    }

    fn mask(&self, input: &[u8], out: &mut Vec<u8>) {
        out.clear();
        let mut last = 0;
        for c in self.re.captures_iter(input) {
            let Some(m) = c.get(0) else { continue };
            out.extend_from_slice(&input[last..m.start()]);
            if c.name("card").is_some() && !luhn(m.as_bytes()) {
                out.extend_from_slice(m.as_bytes());
            } else {
                out.extend(std::iter::repeat_n(b'*', m.len()));
            }
            last = m.end();
        }
        out.extend_from_slice(&input[last..]);
    }
}

fn luhn(s: &[u8]) -> bool {
    let mut sum = 0;
    for (i, d) in s
        .iter()
        .rev()
        .filter(|b| b.is_ascii_digit())
        .map(|b| u32::from(b - b'0'))
        .enumerate()
    {
        sum += if i % 2 == 1 {
            if d * 2 > 9 {
                d * 2 - 9
            } else {
                d * 2
            }
        } else {
            d
        };
    }
    sum % 10 == 0
}

/// Issue 15's PII-dense records (every ~600-byte record holds five values of interest) in three
/// forms: the engine with the 5-rule policy and with `{}` (every detector), and the naive reference.
fn records(c: &mut Criterion) {
    let five = policy(inputs::FIVE_RULES);
    let all = policy("{}");
    let naive = Naive::new();
    let mut out = Vec::with_capacity(SIZE * 2);
    for (name, form, format) in [
        ("records_json_array", inputs::RecordForm::JsonArray, Format::Json),
        ("records_ndjson", inputs::RecordForm::Ndjson, Format::Ndjson),
        ("records_text", inputs::RecordForm::Text, Format::Text),
    ] {
        let input = inputs::records(SIZE, form);
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.sample_size(10);
        g.bench_function("five_rules", |b| {
            b.iter(|| masking::run(&five, format, black_box(&input), 16 << 10, &mut out))
        });
        g.bench_function("default_policy", |b| {
            b.iter(|| masking::run(&all, format, black_box(&input), 16 << 10, &mut out))
        });
        g.bench_function("naive_regex_reference", |b| {
            b.iter(|| naive.mask(black_box(&input), &mut out))
        });
        g.finish();
    }
}

criterion_group!(benches, formats, linear, fields, compile, records);
criterion_main!(benches);
