//! The findings log line (`findings_log`): what was found in one body, without any value.
//!
//! # Invariants
//! - The line holds no matched value and no body byte: only the policy name, direction, mode,
//!   counts per label (labels with none left out), and per finding its label, body offset and
//!   8-byte keyed fingerprint in hex, plus how many findings were dropped past `MAX_FINDINGS`.
//! - It is built with `serde_json`, so it is one valid JSON object after the fixed prefix
//!   `streammask findings `, whatever the names hold.

use crate::host::Dir;
use crate::policy::{HttpPolicy, PolicySet};
use serde_json::{json, Map, Value};

/// The findings log line: one JSON object per body with counts per label and, per finding, the
/// label, the body offset and a keyed fingerprint. Never a value.
pub(super) fn findings_line(
    set: &PolicySet,
    pidx: usize,
    policy: &HttpPolicy,
    d: Dir,
    enforce: bool,
    stats: &streammask_engine::Stats,
) -> String {
    let labels = policy.ruleset.labels();
    let counts: Map<String, Value> = labels
        .iter()
        .map(|(l, name)| (name, stats.hits_of(l)))
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| (name.to_string(), Value::from(n)))
        .collect();
    let findings: Vec<Value> = stats
        .findings
        .iter()
        .map(|f| {
            let fp: String = f.fingerprint.iter().map(|b| format!("{b:02x}")).collect();
            json!({"rule": labels.name(f.label), "offset": f.offset, "fp": fp})
        })
        .collect();
    let line = json!({
        "policy": set.names().nth(pidx).unwrap_or("default"),
        "direction": d.name(),
        "mode": if enforce { "enforce" } else { "report" },
        "counts": counts,
        "findings": findings,
        "dropped": stats.findings_dropped,
    });
    format!("streammask findings {line}")
}
