//! Engine throughput, natively and inside a wasm VM, with identical inputs.
//!
//!   cargo run --release -p streammask-wasm-bench                       (native)
//!   cargo build --release --target wasm32-wasip1 -p streammask-wasm-bench
//!   node benches/wasm-engine/run.mjs                                   (V8, as in Envoy)
//!
//! Prints one line per case: name, chunk size, MB/s (best of several runs of at least 0.3 s), and
//! for the per-chunk case the microseconds per 16 KiB chunk and heap allocations per chunk; first,
//! the heap a compiled policy holds (the example policy, and each built-in detector alone) and the
//! peak while compiling it, counted by the allocator (the same code natively and in the VM).

#[path = "../../inputs.rs"]
mod inputs;
#[path = "../../masking.rs"]
mod masking;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use streammask_engine::{Format, Masker, Ruleset};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);
/// Bytes allocated and not yet freed, and the most there were since the last `reset_peak`.
static LIVE: AtomicU64 = AtomicU64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);

fn grow(by: usize) {
    let now = LIVE.fetch_add(by as u64, Ordering::Relaxed) + by as u64;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrink(by: usize) {
    LIVE.fetch_sub(by as u64, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        grow(l.size());
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        shrink(l.size());
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        shrink(l.size());
        grow(n);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

const SIZE: usize = 1 << 20;

/// The heap a policy holds once compiled, and the most the heap grew while compiling it.
fn policy_bytes(json: &str, env: &dyn Fn(&str) -> Option<String>) -> (u64, u64) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let p = Ruleset::from_json(json, env).expect("policy");
    let held = LIVE.load(Ordering::Relaxed) - before;
    let peak = PEAK.load(Ordering::Relaxed) - before;
    drop(p);
    (held, peak)
}

fn mbps(p: &Arc<Ruleset>, f: Format, input: &[u8], chunk: usize) -> f64 {
    let mut out = Vec::with_capacity(input.len() * 2);
    let mut best = 0f64;
    for _ in 0..5 {
        let t = Instant::now();
        let mut n = 0usize;
        while t.elapsed().as_secs_f64() < 0.3 {
            masking::run(p, f, input, chunk, &mut out);
            n += 1;
        }
        let secs = t.elapsed().as_secs_f64();
        best = best.max((input.len() * n) as f64 / secs / 1e6);
    }
    best
}

fn main() {
    let env = |_: &str| Some("bench-secret-0123456789abcdef0123456789abcdef".to_string());
    let p = Arc::new(Ruleset::from_json(include_str!("../../../envoy/policies/example.json"), &env).expect("policy"));
    let fields = Arc::new(
        Ruleset::from_json(
            r#"{"rules":[{"detector":"credit_card"},{"detector":"email"},{"detector":"us_ssn"}],"fields":[{"name":"notes","keys":["note"]},{"name":"skus","paths":["$.items[*].sku"],"action":{"type":"mask","keep_last":2}}]}"#,
            &env,
        )
        .expect("policy"),
    );
    let (held, peak) = policy_bytes(include_str!("../../../envoy/policies/example.json"), &env);
    println!("policy_example_heap_bytes {held} compile_peak_bytes {peak}");
    for d in streammask_engine::detect::DETECTORS {
        let json = format!(
            r#"{{"rules":[{{"detector":"{}"}}],"secret_keys":{{"enabled":false}}}}"#,
            d.name
        );
        let (held, _) = policy_bytes(&json, &env);
        println!("detector_heap_bytes {} {held}", d.name);
    }
    let (held, _) = policy_bytes(r#"{"rules":[]}"#, &env);
    println!("detector_heap_bytes secret_keys {held}");
    let t = Instant::now();
    let n = 20;
    for _ in 0..n {
        let _ = Ruleset::from_json(include_str!("../../../envoy/policies/example.json"), &env);
    }
    println!(
        "policy_compile_example_ms {:.2}",
        t.elapsed().as_secs_f64() * 1e3 / n as f64
    );
    let five = Arc::new(Ruleset::from_json(inputs::FIVE_RULES, &env).expect("policy"));
    let every = Arc::new(Ruleset::from_json("{}", &env).expect("policy"));
    let cases: Vec<(&str, Format, Vec<u8>, &Arc<Ruleset>)> = vec![
        // issue 15's PII-dense records, with the 5-rule policy and with `{}`
        (
            "records_ndjson_5_rules",
            Format::Ndjson,
            inputs::records(SIZE, inputs::RecordForm::Ndjson),
            &five,
        ),
        (
            "records_json_5_rules",
            Format::Json,
            inputs::records(SIZE, inputs::RecordForm::JsonArray),
            &five,
        ),
        (
            "records_ndjson_default",
            Format::Ndjson,
            inputs::records(SIZE, inputs::RecordForm::Ndjson),
            &every,
        ),
        ("text_clean", Format::Text, inputs::text(SIZE, 4096), &p),
        ("json_clean", Format::Json, inputs::json(SIZE, 4096), &p),
        ("ndjson_clean", Format::Ndjson, inputs::ndjson(SIZE, 4096), &p),
        ("sse_clean", Format::Sse, inputs::sse(SIZE, 4096), &p),
        ("text_dense", Format::Text, inputs::text(SIZE, 256), &p),
        ("json_dense", Format::Json, inputs::json(SIZE, 256), &p),
        ("adversarial", Format::Text, inputs::adversarial(SIZE), &p),
        ("json_fields_and_rules", Format::Json, inputs::json(SIZE, 4096), &fields),
    ];
    for (name, f, input, pol) in &cases {
        for chunk in [1024usize, 16 << 10] {
            println!("{name} {chunk} {:.1}", mbps(pol, *f, input, chunk));
        }
    }
    // Fixed cost per 16 KiB chunk: a stream of chunks with no trigger byte of any rule (plain
    // lower-case words), so no rule's regex runs: what remains is the per-chunk machinery.
    let quiet: Vec<u8> = b"lorem ipsum dolor sit amet "
        .iter()
        .copied()
        .cycle()
        .take(16 << 10)
        .collect();
    let mut m = Masker::new(p.clone(), Format::Text);
    let mut out = Vec::with_capacity(32 << 10);
    for _ in 0..100 {
        out.clear();
        m.push(&quiet, &mut out);
    }
    let before = ALLOCS.load(Ordering::Relaxed);
    let t = Instant::now();
    let chunks = 20_000;
    for _ in 0..chunks {
        out.clear();
        m.push(&quiet, &mut out);
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / chunks as f64;
    let allocs = (ALLOCS.load(Ordering::Relaxed) - before) as f64 / chunks as f64;
    println!("per_chunk_16k_us {us:.2} allocs_per_chunk {allocs:.3}");
}
