//! Engine throughput (criterion, `Throughput::Bytes`): text, JSON, NDJSON, SSE, dense and adversarial
//! inputs at several chunk sizes, the JSON field masker alone, and policy compile time.
//!
//!   cargo bench --bench engine

mod inputs;

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
                b.iter(|| inputs::run(&p, *f, black_box(input), chunk, &mut out))
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
            b.iter(|| inputs::run(&p, Format::Text, black_box(input), 16 << 10, &mut out))
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
        b.iter(|| inputs::run(&only, Format::Json, black_box(&input), 16 << 10, &mut out))
    });
    g.bench_function("fields_and_rules", |b| {
        b.iter(|| inputs::run(&both, Format::Json, black_box(&input), 16 << 10, &mut out))
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

criterion_group!(benches, formats, linear, fields, compile);
criterion_main!(benches);
