//! Load and soak in the real Envoy: many concurrent streams of mixed formats and sizes, every
//! response checked for leaks, Envoy's resident memory and the wasm VM's memory compared between the
//! first and the last quarter of the run.
//!
//!   SOAK_REQUESTS=20000 SOAK_CONCURRENCY=64 cargo test --release --test soak -- --nocapture
//! (CI runs a smaller version: the defaults.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use support::*;

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d)
}

const PATHS: &[(&str, &str)] = &[
    ("GET", "/api/users"),
    ("GET", "/text"),
    ("GET", "/logs.ndjson?lines=40&delay_ms=0"),
    ("GET", "/events?n=5&delay_ms=0"),
    ("GET", "/split"),
    ("GET", "/gzip"),
    ("GET", "/length"),
    ("POST", "/record/soak"),
    ("GET", "/big?mb=1"),
];

#[test]
fn soak_mixed_traffic_leaks_nothing_and_memory_stays_flat() {
    let total = env_usize("SOAK_REQUESTS", 4000);
    let conc = env_usize("SOAK_CONCURRENCY", 64);
    let e = start_envoy(EnvoyOpts {
        log_level: "wasm:info",
        ..EnvoyOpts::default()
    });
    let base = e.url("");
    let body = Bytes::from(std::fs::read(root().join("tests/data/request.json")).unwrap());
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut samples: Vec<(u64, u64, u64)> = Vec::new(); // (done, envoy rss KiB, vm memory bytes)
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    rt.block_on(async {
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let mut tasks = Vec::new();
        for w in 0..conc {
            let (client, base, body, done, errors) =
                (client.clone(), base.clone(), body.clone(), done.clone(), errors.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = w;
                loop {
                    let n = done.fetch_add(1, Ordering::Relaxed);
                    if n >= total as u64 {
                        break;
                    }
                    // the 1 MiB body is rarer than the small ones
                    let pick = if i % 50 == 49 {
                        PATHS.len() - 1
                    } else {
                        i % (PATHS.len() - 1)
                    };
                    i += 7;
                    let (method, path) = PATHS[pick];
                    let req = hyper::Request::builder()
                        .method(method)
                        .uri(format!("{base}{path}"))
                        .header("content-type", "application/json")
                        .body(Full::new(if method == "POST" { body.clone() } else { Bytes::new() }))
                        .unwrap();
                    let res = match client.request(req).await {
                        Ok(r) => r,
                        Err(err) => {
                            eprintln!("request error on {path}: {err}");
                            errors.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    };
                    let status = res.status().as_u16();
                    let bytes = match res.into_body().collect().await {
                        Ok(b) => b.to_bytes(),
                        Err(err) => {
                            eprintln!("body error on {path}: {err}");
                            errors.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    };
                    if status != 200 {
                        eprintln!("{path}: status {status}");
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    let s = String::from_utf8_lossy(&bytes);
                    for raw in RAW_VALUES {
                        assert!(!s.contains(raw), "{raw} leaked on {path}");
                    }
                }
            }));
        }
        // sample memory while the load runs
        let sampler = {
            let done = done.clone();
            let pid = e.pid();
            let admin = e.admin_url("/stats?filter=streammask.vm_memory_bytes");
            tokio::spawn(async move {
                let mut v = Vec::new();
                loop {
                    let d = done.load(Ordering::Relaxed);
                    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
                        .unwrap_or_default()
                        .lines()
                        .find(|l| l.starts_with("VmRSS:"))
                        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
                        .unwrap_or(0);
                    let vm = std::process::Command::new("curl")
                        .args(["-s", &admin])
                        .output()
                        .ok()
                        .and_then(|o| {
                            String::from_utf8_lossy(&o.stdout)
                                .rsplit(' ')
                                .next()?
                                .trim()
                                .parse()
                                .ok()
                        })
                        .unwrap_or(0);
                    v.push((d, rss, vm));
                    if d >= total as u64 {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                }
                v
            })
        };
        for t in tasks {
            t.await.unwrap();
        }
        samples = sampler.await.unwrap();
    });
    let secs = started.elapsed().as_secs_f64();
    let errors = errors.load(Ordering::Relaxed);
    let q = |lo: f64, hi: f64| -> (u64, u64) {
        let sel: Vec<&(u64, u64, u64)> = samples
            .iter()
            .filter(|(d, _, _)| (*d as f64) >= lo * total as f64 && (*d as f64) < hi * total as f64)
            .collect();
        let rss = sel.iter().map(|s| s.1).max().unwrap_or(0);
        let vm = sel.iter().map(|s| s.2).max().unwrap_or(0);
        (rss, vm)
    };
    let quarters: Vec<(u64, u64)> = (0..4)
        .map(|i| q(i as f64 * 0.25, if i == 3 { 1.01 } else { (i + 1) as f64 * 0.25 }))
        .collect();
    let (rss1, vm1) = quarters[0];
    let (rss4, vm4) = quarters[3];
    println!(
        "soak: {total} requests, {conc} concurrent, {secs:.1} s ({:.0} req/s), {errors} errors; per quarter, Envoy RSS max (KiB): {:?}; wasm VM linear memory (bytes, a high-water mark): {:?}",
        total as f64 / secs,
        quarters.iter().map(|q| q.0).collect::<Vec<_>>(),
        quarters.iter().map(|q| q.1).collect::<Vec<_>>()
    );
    assert_eq!(errors, 0, "requests failed under load");
    assert!(rss4 <= rss1 + 32 * 1024, "Envoy RSS grew from {rss1} KiB to {rss4} KiB");
    assert!(vm1 > 0, "the wasm VM memory gauge was not reported");
    // Linear memory never shrinks: it is the high-water mark of concurrent bodies, so it rises while
    // the first peaks of concurrency happen (the first quarter is warm-up), and the gauge is the
    // last of Envoy's worker VMs to report. A leak keeps growing: compare the last quarter with the
    // second, allowing 25% or 3 MiB, whichever is more (one 1 MiB body that Envoy hands over as a
    // single chunk takes its copy and its output, ~2.2 MB, at once).
    let vm2 = quarters[1].1;
    // issue 15's budget is 4 MiB (measured 5.5-5.7 MB, BENCHMARKS.md); this guards against a
    // return to the old 14 MB (a megabyte NFA, buffers kept per stream)
    assert!(vm4 <= 8 << 20, "wasm VM linear memory {vm4} bytes, over 8 MiB");
    assert!(
        vm4 <= vm2 + (vm2 / 4).max(3 << 20),
        "wasm VM memory grew from {vm2} (second quarter) to {vm4} bytes"
    );
}
