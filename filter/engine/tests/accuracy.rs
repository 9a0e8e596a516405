#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! The accuracy suite: values the project did not write (`tests/data/accuracy/`: published test
//! values with their sources, and look-alikes of every kind), put into the contexts users' bodies
//! put them in, next to each other, in every body format and in random chunkings.
//!
//! - Every positive, alone, in 12 contexts (JSON string and number, YAML, INI, CSV, log
//!   `key=value`, URL query, XML, HTML attribute, quoted string, markdown table, free text) and
//!   four formats (text, JSON, NDJSON, SSE): found by its detector, never left raw.
//! - Every positive next to one positive of every other detector and next to a negative, joined
//!   by each separator (one and two spaces, tab, newline, `,`, `, `, `;`, `/`, `|`, `:`): both
//!   positives masked, the negative byte-identical.
//! - Every negative, alone, in every context and format: the body comes out unchanged.
//!
//! Anything outside `exceptions.json` (the documented, reasoned non-finds) fails the test.
//! `make accuracy` writes the per-detector figures into ACCURACY.md; without it the test checks
//! that the committed figures are current.

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use streammask_engine::{mask_all, Format, Masker, Ruleset};

const POSITIVES: &str = include_str!("../../../tests/data/accuracy/positives.json");
const NEGATIVES: &str = include_str!("../../../tests/data/accuracy/negatives.json");
const EXCEPTIONS: &str = include_str!("../../../tests/data/accuracy/exceptions.json");

const SEPARATORS: &[&str] = &[" ", "  ", "\t", "\n", ",", ", ", ";", "/", "|", ":"];
const FORMATS: &[Format] = &[Format::Text, Format::Json, Format::Ndjson, Format::Sse];

/// A small deterministic generator (SplitMix64): the suite is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A labelled value.
#[derive(Clone, Debug)]
struct Item {
    label: String,
    value: String,
    /// What must not survive (the value itself, or its secret part).
    secret: String,
}

fn load(text: &str) -> Vec<Item> {
    let v: Value = serde_json::from_str(text).unwrap();
    let mut out = Vec::new();
    for (label, list) in v.as_object().unwrap() {
        for e in list.as_array().unwrap() {
            let value = e["value"].as_str().unwrap().to_string();
            // a URL password must be gone from its place (`:secret@`); the user name may equal it
            let secret = match e.get("secret").and_then(Value::as_str) {
                Some(pw) if label == "url_password" => format!(":{pw}@"),
                Some(pw) => pw.to_string(),
                None => value.clone(),
            };
            out.push(Item {
                label: label.clone(),
                value,
                secret,
            });
        }
    }
    out
}

/// The contexts a value is written in: (name, text with the value in it). Values only found next
/// to a key id or a key name get those contexts instead.
fn contexts(it: &Item) -> Vec<(&'static str, String)> {
    let v = &it.value;
    if it.label == "aws_secret_access_key" {
        return vec![
            ("key id and colon", format!("creds AKIAIOSFODNN7EXAMPLE:{v} ok\n")),
            ("key id in CSV", format!("AKIAIOSFODNN7EXAMPLE,{v}\n")),
            ("env", format!("AWS_SECRET_ACCESS_KEY={v}\n")),
            ("INI", format!("aws_secret_access_key = {v}\n")),
            ("YAML", format!("SecretAccessKey: {v}\n")),
            (
                "JSON key",
                format!("{{\"AccessKeyId\":\"AKIAIOSFODNN7EXAMPLE\",\"SecretAccessKey\":\"{v}\"}}"),
            ),
        ];
    }
    let mut c = vec![
        ("YAML", format!("note: {v}\n")),
        ("INI", format!("note = {v}\n")),
        ("CSV", format!("1,{v},ok\n")),
        (
            "log key=value",
            format!("ts=2024-11-30T12:00:00Z level=info note={v} msg=done\n"),
        ),
        ("URL query", format!("GET /search?q={v}&page=2 HTTP/1.1\n")),
        ("XML", format!("<note>{v}</note>\n")),
        ("HTML attribute", format!("<input name=\"note\" value=\"{v}\">\n")),
        ("quoted", format!("say \"{v}\" and '{v}' now\n")),
        ("markdown table", format!("| note | {v} |\n")),
        ("free text", format!("Please use {v} for this.\n")),
    ];
    c.push((
        "JSON string",
        format!("{{\"note\":{}}}", serde_json::to_string(v).unwrap()),
    ));
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) && !v.starts_with('0') {
        c.push(("JSON number", format!("{{\"n\":{v}}}")));
    }
    c
}

/// The body for one format: text as it is; JSON contexts as they are in JSON formats; other
/// contexts as a JSON string (JSON, NDJSON) or as an SSE event's data.
fn body(ctx: &str, text: &str, format: Format) -> String {
    let is_json = ctx.starts_with("JSON");
    let as_string = || format!("{{\"id\":7,\"msg\":{}}}", serde_json::to_string(text).unwrap());
    match format {
        Format::Text | Format::Form => text.to_string(),
        Format::Json if is_json => text.to_string(),
        Format::Json => as_string(),
        Format::Ndjson => {
            let line = if is_json { text.to_string() } else { as_string() };
            format!("{{\"id\":6,\"msg\":\"clean\"}}\n{line}\n")
        }
        Format::Sse if is_json => format!("event: update\ndata: {text}\n\n"),
        Format::Sse => {
            let data: String = text.lines().map(|l| format!("data: {l}\n")).collect();
            format!("event: note\n{data}\n")
        }
    }
}

/// How a value appears in a body of this format (escaped inside JSON strings).
fn encoded(s: &str, format: Format, in_json: bool) -> Vec<String> {
    let json = serde_json::to_string(s).unwrap();
    let inner = json[1..json.len() - 1].to_string();
    let mut v = vec![s.to_string()];
    if format != Format::Text || in_json {
        v.push(inner);
    }
    // multi-line values: every line of at least 12 bytes must be gone (SSE splits lines)
    for l in s.lines() {
        if l.len() >= 12 && !l.starts_with("-----") {
            v.push(l.to_string());
        }
    }
    v
}

fn policy() -> Arc<Ruleset> {
    Arc::new(Ruleset::from_json("{}", &|_| None).unwrap())
}

/// Masks `input` whole and in a random chunking; both must agree.
fn run(p: &Arc<Ruleset>, format: Format, input: &str, rng: &mut Rng) -> (String, Vec<(String, u64)>) {
    let (whole, stats) = mask_all(p, format, input.as_bytes());
    let mut m = Masker::new(p.clone(), format);
    let mut out = Vec::new();
    let bytes = input.as_bytes();
    let mut i = 0;
    let one = rng.below(8) == 0;
    while i < bytes.len() {
        let n = if one { 1 } else { 1 + rng.below(64) };
        let j = (i + n).min(bytes.len());
        m.push(&bytes[i..j], &mut out);
        i = j;
    }
    m.finish(&mut out);
    assert_eq!(out, whole, "chunking changed the output of {input:?}");
    let mut hits: Vec<(String, u64)> = p
        .labels()
        .iter()
        .map(|(l, n)| (n.to_string(), stats.hits_of(l)))
        .collect();
    hits.retain(|(_, h)| *h > 0);
    (String::from_utf8(whole).unwrap(), hits)
}

/// Which counters a positive's own detector shows up under.
fn own_labels(label: &str) -> &'static [&'static str] {
    match label {
        "aws_secret_access_key" => &["aws_secret_access_key", "secret_keys"],
        "credit_card" => &["credit_card"],
        "iban" => &["iban"],
        "us_ssn" => &["us_ssn"],
        "phone_number" => &["phone_number"],
        "email" => &["email"],
        "ipv4" => &["ipv4"],
        "ipv6" => &["ipv6"],
        "jwt" => &["jwt"],
        "aws_access_key_id" => &["aws_access_key_id"],
        "github_token" => &["github_token"],
        "slack_token" => &["slack_token"],
        "stripe_key" => &["stripe_key"],
        "google_api_key" => &["google_api_key"],
        "private_key" => &["private_key"],
        "url_password" => &["url_password"],
        _ => &[],
    }
}

/// Pairs whose negative may change: (detector, separator) -> reason.
fn pair_exceptions() -> BTreeMap<(String, String), String> {
    let v: Value = serde_json::from_str(EXCEPTIONS).unwrap();
    v["pairs"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        (
                            e["detector"].as_str().unwrap().to_string(),
                            e["separator"].as_str().unwrap().to_string(),
                        ),
                        e["why"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// (kind, value) -> reason.
type Reasons = BTreeMap<(String, String), String>;

/// The documented non-finds and changed look-alikes.
fn exceptions() -> (Reasons, Reasons) {
    let v: Value = serde_json::from_str(EXCEPTIONS).unwrap();
    let read = |k: &str| {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    (
                        e["kind"].as_str().unwrap().to_string(),
                        e["value"].as_str().unwrap().to_string(),
                    ),
                    e["why"].as_str().unwrap().to_string(),
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    (read("missed"), read("changed"))
}

#[derive(Default)]
struct Tally {
    total: usize,
    bad: usize,
    excepted: usize,
}

#[test]
fn published_values_are_found_in_every_context_and_look_alikes_stay_untouched() {
    let p = policy();
    let pos = load(POSITIVES);
    let neg = load(NEGATIVES);
    let (ex_missed, ex_changed) = exceptions();
    let ex_pairs = pair_exceptions();
    let mut pairs_used = std::collections::BTreeSet::new();
    let mut rng = Rng(0x5EED_2026_1202);
    let mut failures: Vec<String> = Vec::new();
    let mut seen_exceptions = std::collections::BTreeSet::new();
    let mut per_det: BTreeMap<String, Tally> = BTreeMap::new();
    let mut per_neg: BTreeMap<String, Tally> = BTreeMap::new();
    let mut pair_cases = 0usize;

    // by detector, for pairing
    let mut by_det: BTreeMap<String, Vec<Item>> = BTreeMap::new();
    for it in &pos {
        by_det.entry(it.label.clone()).or_default().push(it.clone());
    }

    // 1. every positive alone, in every context and format
    for it in &pos {
        let key = (it.label.clone(), it.value.clone());
        let excepted = ex_missed.contains_key(&key);
        let mut missed = Vec::new();
        for (ctx, text) in contexts(it) {
            for &f in FORMATS {
                let input = body(ctx, &text, f);
                let (out, hits) = run(&p, f, &input, &mut rng);
                let raw = encoded(&it.secret, f, ctx.starts_with("JSON"));
                let leaked = raw.iter().any(|r| out.contains(r.as_str()));
                let counted = hits.iter().any(|(l, _)| own_labels(&it.label).contains(&l.as_str()));
                if leaked || !counted {
                    missed.push(format!(
                        "{ctx}/{}: leaked={leaked} counted={counted}: {out:?}",
                        f.name()
                    ));
                }
            }
        }
        let t = per_det.entry(it.label.clone()).or_default();
        t.total += 1;
        if !missed.is_empty() {
            if excepted {
                t.excepted += 1;
                seen_exceptions.insert(key);
            } else {
                t.bad += 1;
                failures.push(format!(
                    "MISSED {} {:?}:\n    {}",
                    it.label,
                    it.value,
                    missed.join("\n    ")
                ));
            }
        }
    }

    // 2. every positive next to a positive of every other detector, and next to a negative
    let dets: Vec<String> = by_det.keys().cloned().collect();
    for it in &pos {
        if it.label == "aws_secret_access_key" || ex_missed.contains_key(&(it.label.clone(), it.value.clone())) {
            continue;
        }
        let mut partners: Vec<(Item, bool)> = Vec::new();
        for d in &dets {
            if d == &it.label || d == "aws_secret_access_key" {
                continue;
            }
            let list = &by_det[d];
            let q = list[rng.below(list.len())].clone();
            if ex_missed.contains_key(&(q.label.clone(), q.value.clone())) {
                continue;
            }
            partners.push((q, true));
        }
        for _ in 0..SEPARATORS.len() {
            partners.push((neg[rng.below(neg.len())].clone(), false));
        }
        for (k, (q, q_positive)) in partners.iter().enumerate() {
            // every separator for the negatives, a rotating one for the positives
            let sep = SEPARATORS[if *q_positive {
                rng.below(SEPARATORS.len())
            } else {
                k % SEPARATORS.len()
            }];
            let (a, b) = if rng.below(2) == 0 { (it, q) } else { (q, it) };
            let joined = Item {
                label: "pair".into(),
                value: format!("{}{sep}{}", a.value, b.value),
                secret: String::new(),
            };
            let ctxs = contexts(&joined);
            let (ctx, text) = &ctxs[rng.below(ctxs.len())];
            let f = FORMATS[rng.below(FORMATS.len())];
            let input = body(ctx, text, f);
            let (out, _) = run(&p, f, &input, &mut rng);
            pair_cases += 1;
            let json = ctx.starts_with("JSON");
            let gone = |s: &str| encoded(s, f, json).iter().all(|r| !out.contains(r.as_str()));
            let mut bad = Vec::new();
            if !gone(&it.secret) {
                bad.push(format!("{} {:?} leaked", it.label, it.value));
            }
            if *q_positive && !gone(&q.secret) {
                bad.push(format!("{} {:?} leaked", q.label, q.value));
            }
            if !*q_positive && !ex_changed.contains_key(&(q.label.clone(), q.value.clone())) {
                let kept = encoded(&q.value, f, json).iter().any(|r| out.contains(r.as_str()));
                let pair_key = (it.label.clone(), sep.to_string());
                if !kept && ex_pairs.contains_key(&pair_key) {
                    pairs_used.insert(pair_key);
                } else if !kept {
                    bad.push(format!("negative {} {:?} changed", q.label, q.value));
                }
            }
            if !bad.is_empty() {
                failures.push(format!(
                    "PAIR {:?} in {ctx}/{}: {}\n    out: {out:?}",
                    joined.value,
                    f.name(),
                    bad.join("; ")
                ));
            }
        }
    }

    // 3. every negative alone, in every context and format
    for it in &neg {
        let key = (it.label.clone(), it.value.clone());
        let mut changed = Vec::new();
        for (ctx, text) in contexts(it) {
            for &f in FORMATS {
                let input = body(ctx, &text, f);
                let (out, hits) = run(&p, f, &input, &mut rng);
                if out != input || !hits.is_empty() {
                    changed.push(format!("{ctx}/{}: {hits:?} {out:?}", f.name()));
                }
            }
        }
        let t = per_neg.entry(it.label.clone()).or_default();
        t.total += 1;
        if !changed.is_empty() {
            if ex_changed.contains_key(&key) {
                t.excepted += 1;
                seen_exceptions.insert(key);
            } else {
                t.bad += 1;
                failures.push(format!(
                    "CHANGED {} {:?}:\n    {}",
                    it.label,
                    it.value,
                    changed.join("\n    ")
                ));
            }
        }
    }

    // exceptions that no longer happen are stale: the list must say exactly what is true
    for key in ex_missed.keys().chain(ex_changed.keys()) {
        if !seen_exceptions.contains(key) {
            failures.push(format!(
                "STALE exception {key:?}: it is handled now; remove it from exceptions.json"
            ));
        }
    }

    for key in ex_pairs.keys() {
        if !pairs_used.contains(key) {
            failures.push(format!(
                "STALE pair exception {key:?}: no pair needs it; remove it from exceptions.json"
            ));
        }
    }

    let report = report(&per_det, &per_neg, pair_cases, &ex_missed, &ex_changed, &ex_pairs);
    match std::env::var("ACCURACY_REPORT") {
        Ok(path) => {
            let doc = std::fs::read_to_string(&path).unwrap_or_default();
            std::fs::write(&path, splice(&doc, &report)).unwrap();
        }
        Err(_) => {
            let doc = include_str!("../../../ACCURACY.md");
            assert!(
                splice(doc, &report) == doc,
                "ACCURACY.md is out of date: run `make accuracy`\n{report}"
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

const BEGIN: &str = "<!-- accuracy:begin (generated by `make accuracy`) -->";
const END: &str = "<!-- accuracy:end -->";

/// Replaces the generated part of ACCURACY.md.
fn splice(doc: &str, report: &str) -> String {
    match (doc.find(BEGIN), doc.find(END)) {
        (Some(a), Some(b)) if a < b => format!("{}{BEGIN}\n{report}{}", &doc[..a], &doc[b..]),
        _ => format!("{doc}{BEGIN}\n{report}{END}\n"),
    }
}

fn report(
    per_det: &BTreeMap<String, Tally>,
    per_neg: &BTreeMap<String, Tally>,
    pairs: usize,
    ex_missed: &BTreeMap<(String, String), String>,
    ex_changed: &BTreeMap<(String, String), String>,
    ex_pairs: &BTreeMap<(String, String), String>,
) -> String {
    let mut s = String::new();
    let cases = |n: usize| n * 12 * FORMATS.len();
    s.push_str("| detector | positives found / total | documented non-finds | unexplained misses |\n| --- | --- | --- | --- |\n");
    for (d, t) in per_det {
        s.push_str(&format!(
            "| `{d}` | {} / {} | {} | {} |\n",
            t.total - t.bad - t.excepted,
            t.total,
            t.excepted,
            t.bad
        ));
    }
    s.push_str(
        "\n| look-alike kind | negatives changed / total | documented | unexplained |\n| --- | --- | --- | --- |\n",
    );
    for (k, t) in per_neg {
        s.push_str(&format!(
            "| {k} | {} / {} | {} | {} |\n",
            t.bad + t.excepted,
            t.total,
            t.excepted,
            t.bad
        ));
    }
    let npos: usize = per_det.values().map(|t| t.total).sum();
    let nneg: usize = per_neg.values().map(|t| t.total).sum();
    s.push_str(&format!(
        "\nBodies masked: about {} single-value bodies ({npos} positives and {nneg} negatives, 12 contexts, 4 formats) and {pairs} pair bodies, each also in a random chunking.\n",
        cases(npos + nneg)
    ));
    if !ex_missed.is_empty() || !ex_changed.is_empty() {
        s.push_str("\nDocumented (from `tests/data/accuracy/exceptions.json`):\n\n");
        for ((k, v), why) in ex_missed {
            s.push_str(&format!("- not found: `{k}` `{}`: {why}\n", v.replace('\n', "\\n")));
        }
        for ((k, v), why) in ex_changed {
            s.push_str(&format!("- changed: {k} `{v}`: {why}\n"));
        }
        for ((d, sep), why) in ex_pairs {
            s.push_str(&format!("- a look-alike next to `{d}`, joined by `{sep}`: {why}\n"));
        }
    }
    s
}
