//! `streammask`: check a policy, mask sample data with the same engine the proxy runs, list the
//! built-in detectors.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::Arc;
use streammask_engine::{detect, Format, FormatRouter, Masker, Policy, PolicySet};

const USAGE: &str = "usage:
  streammask check POLICY            validate a policy file (exit 1 on error)
  streammask mask --policy POLICY [--use NAME] [--format json|ndjson|sse|form|text]
                  [--content-type TYPE] [--chunk-size N] < in > out
                                     (--use: a named policy of POLICY instead of the default;
                                      --content-type: route as the proxy does, e.g.
                                      'multipart/form-data; boundary=X' or application/octet-stream)
  streammask detectors               list the built-in detectors with an example each

POLICY is a JSON file ('-' for standard input). Environment variables named by
tokenize.secret_env are read from this process's environment.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("check") => check(&args[1..]),
        Some("mask") => mask(&args[1..]),
        Some("detectors") => detectors(),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn read_source(path: &str) -> Result<String, String> {
    if path == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        Ok(s)
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
    }
}

fn load_policy(path: &str) -> Result<PolicySet, String> {
    let text = read_source(path)?;
    PolicySet::from_json(&text, &|k| std::env::var(k).ok()).map_err(|errs| {
        errs.0
            .iter()
            .map(|e| format!("{path}: {e}"))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn check(args: &[String]) -> ExitCode {
    let [path] = args else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match load_policy(path) {
        Ok(set) => {
            for (i, name) in set.names().enumerate() {
                let Some(p) = set.get(i) else { continue };
                let rules: Vec<&str> = p.rule_names().collect();
                let fields: Vec<&str> = p.field_names().collect();
                println!(
                    "{path}: {name}: ok ({} rules: {}; {} fields{}{}; mode {:?}; holds back at most {} bytes)",
                    rules.len(),
                    rules.join(", "),
                    fields.len(),
                    if fields.is_empty() { "" } else { ": " },
                    fields.join(", "),
                    p.mode,
                    p.max_hold_back()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

fn mask(args: &[String]) -> ExitCode {
    let mut policy = None;
    let mut format = Format::Text;
    let mut content_type: Option<String> = None;
    let mut chunk = 0usize;
    let mut use_name = "default".to_string();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--policy", Some(v)) => policy = Some(v.clone()),
            ("--use", Some(v)) => use_name = v.clone(),
            ("--content-type", Some(v)) => content_type = Some(v.clone()),
            ("--format", Some(v)) => match Format::parse(v) {
                Some(f) => format = f,
                None => {
                    eprintln!("unknown format {v:?}: use json, ndjson, sse, form or text");
                    return ExitCode::from(2);
                }
            },
            ("--chunk-size", Some(v)) => match v.parse::<usize>() {
                Ok(n) if n > 0 => chunk = n,
                _ => {
                    eprintln!("--chunk-size takes a positive number");
                    return ExitCode::from(2);
                }
            },
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(path) = policy else {
        eprintln!("mask needs --policy POLICY");
        return ExitCode::from(2);
    };
    let set = match load_policy(&path) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let Some(policy) = set
        .names()
        .position(|n| n == use_name)
        .and_then(|i| set.get(i))
        .cloned()
    else {
        eprintln!("no policy named {use_name:?} in {path}");
        return ExitCode::from(2);
    };
    let mut m = match &content_type {
        Some(ct) => {
            let route = policy.route(Some(ct), false);
            Masker::for_route(policy.clone(), &route, policy.clone())
        }
        None => Masker::new(policy.clone(), format),
    };
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut buf = vec![0u8; if chunk > 0 { chunk } else { 64 << 10 }];
    let mut out = Vec::new();
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("cannot read input: {e}");
                return ExitCode::from(1);
            }
        };
        out.clear();
        m.push(&buf[..n], &mut out);
        if stdout.write_all(&out).is_err() {
            return ExitCode::from(1);
        }
    }
    out.clear();
    m.finish(&mut out);
    if stdout.write_all(&out).and_then(|_| stdout.flush()).is_err() {
        return ExitCode::from(1);
    }
    let s = m.stats();
    let mut parts: Vec<String> = policy
        .rule_names()
        .zip(&s.rule_hits)
        .filter(|(_, &n)| n > 0)
        .map(|(r, n)| format!("{r}={n}"))
        .collect();
    parts.extend(
        policy
            .field_names()
            .zip(&s.field_hits)
            .filter(|(_, &n)| n > 0)
            .map(|(r, n)| format!("{r}={n}")),
    );
    if s.json_fallbacks > 0 {
        parts.push(format!("json_fallbacks={}", s.json_fallbacks));
    }
    eprintln!(
        "masked: {} ({} bytes in)",
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join(" ")
        },
        m.bytes_in()
    );
    ExitCode::SUCCESS
}

fn detectors() -> ExitCode {
    let policy = Arc::new(Policy::builtin_default());
    for d in detect::DETECTORS {
        let example = d.example.replace("\\n", "\n");
        let (masked, _) = streammask_engine::mask_all(&policy, Format::Text, example.as_bytes());
        println!("{:<18} {}", d.name, d.description);
        println!(
            "{:<18}   e.g. {:?} -> {:?}",
            "",
            example,
            String::from_utf8_lossy(&masked)
        );
    }
    ExitCode::SUCCESS
}
