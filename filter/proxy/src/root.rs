//! Configuration: parse and compile the policy once per VM; on any error, log each problem with its
//! JSON path and refuse the configuration (the proxy then rejects the filter instead of serving
//! unmasked traffic because of a typo).
//!
//! # Invariants
//! - `configure` returns either a [`Shared`] in which every policy and route compiled, or `None`
//!   after logging every problem (`error`) and one `critical` line: never a partial configuration.
//!   Text that is not UTF-8 is refused the same way.
//! - Metrics are defined only for a configuration that compiled, once per VM; `caps` (detected by
//!   the glue) is stored as given and never changes for the VM's streams.

use crate::host::{Caps, RootHost, CRITICAL};
use crate::metrics::Metrics;
use crate::policy::PolicySet;
use crate::stream::Shared;
use std::sync::Arc;

/// Compiles the plugin configuration. `env` reads the VM's environment (for `secret_env`).
///
/// # Errors
/// Returns `None` after logging every policy error at `error` level.
pub fn configure(
    host: &mut dyn RootHost,
    config: &[u8],
    env: &dyn Fn(&str) -> Option<String>,
    caps: Caps,
) -> Option<Shared> {
    let text = match std::str::from_utf8(config) {
        Ok(t) => t,
        Err(_) => {
            log::error!("streammask: invalid configuration: .: the plugin configuration is not UTF-8 text");
            return None;
        }
    };
    let memory_before = host.vm_memory_bytes();
    let set = match PolicySet::from_json(text, env) {
        Ok(p) => p,
        Err(errs) => {
            for e in &errs.0 {
                log::error!("streammask: invalid configuration: {e}");
            }
            log::error!(target: CRITICAL, "streammask: configuration rejected ({} problem(s)); the filter will not start",
                    errs.0.len());
            return None;
        }
    };
    let metrics = Metrics::define(host, &set);
    let memory_after = host.vm_memory_bytes();
    if memory_after > 0 {
        log::info!(
            "streammask: wasm VM linear memory {:.1} MiB before compiling the policies, {:.1} MiB after",
            memory_before as f64 / 1048576.0,
            memory_after as f64 / 1048576.0
        );
    }
    for (i, name) in set.names().enumerate() {
        let Some(policy) = set.get(i) else { continue };
        log::info!("streammask: policy {name} loaded: {} rules, {} fields, {} header rules{}, mode {:?}, on_error {:?}, hold-back <= {} bytes",
                policy.ruleset.rule_names().count(),
                policy.ruleset.field_names().count(),
                policy.header_names(true).len() + policy.header_names(false).len(),
                if policy.has_query_rule() { ", query rule" } else { "" },
                policy.mode,
                policy.on_error,
                policy.ruleset.max_hold_back());
    }
    Some(Shared {
        vm_memory_recorded: std::sync::atomic::AtomicU64::new(0),
        set: Arc::new(set),
        metrics,
        caps,
    })
}
