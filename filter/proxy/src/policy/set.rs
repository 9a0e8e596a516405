//! Several policies in one plugin configuration, chosen per request by route.
//!
//! Envoy has no per-route configuration for wasm filters (envoy#26440), so the plugin chooses: the
//! top level of the configuration is the default policy; `policies` names others (same shape; they
//! inherit the top-level `tokenize` keys unless they set their own); `routes` pick one by host, path
//! prefix or regex, and method. The first matching route wins.
//!
//! # Invariants
//! - A `PolicySet` exists only when every policy and route compiled without error; index 0 is
//!   always the top-level policy (`default`), `names[i]` names `policies[i]`, and every route
//!   points at one of them, so [`PolicySet::select`] always has a policy to return.
//! - A route matches only when each condition it sets matches: the host case-insensitively without
//!   a numeric port (`*.example.com` needs a label before the suffix), the prefix and regex against
//!   the path without its query and fragment, the method case-insensitively; a route that sets no
//!   condition is refused.
//! - A named policy gets the top-level `tokenize` section only when it has none of its own, and
//!   its errors carry the `policies.<name>.` prefix.

use super::wire::{PolicyWire, RouteWire};
use super::{HttpPolicy, Problems};
use regex_automata::meta;
use std::sync::Arc;
use streammask_engine::config::{parse_json, parse_value, valid_name};
use streammask_engine::PolicyErrors;

/// The default policy, the named ones, and the routes that choose between them.
pub struct PolicySet {
    names: Vec<String>,
    policies: Vec<Arc<HttpPolicy>>,
    routes: Vec<Route>,
}

struct Route {
    host: Option<String>,
    prefix: Option<String>,
    regex: Option<meta::Regex>,
    methods: Vec<String>,
    policy: usize,
}

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySet")
            .field("policies", &self.names)
            .field("routes", &self.routes.len())
            .finish()
    }
}

impl PolicySet {
    /// Parses and compiles the plugin configuration.
    ///
    /// # Errors
    /// Every problem found in any policy or route, each with its JSON path.
    pub fn from_json(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<PolicySet, PolicyErrors> {
        let mut top: PolicyWire = parse_json(text)?;
        let routes = std::mem::take(&mut top.routes);
        let named = std::mem::take(&mut top.policies);
        let tokenize = top.tokenize.clone();
        let mut errs = Problems::default();
        let mut names = vec!["default".to_string()];
        let mut policies = Vec::new();
        match HttpPolicy::compile(top, env) {
            Ok(p) => policies.push(Arc::new(p)),
            Err(e) => errs.0.extend(e.0),
        }
        for (name, value) in named {
            let prefix = format!("policies.{name}.");
            if name == "default" || !valid_name(&name) {
                errs.push(
                    format!("policies.{name}"),
                    "name policies with 1-64 letters, digits, '_' or '-' (\"default\" is the top level)",
                );
                continue;
            }
            let mut w: PolicyWire = match parse_value(value, &prefix) {
                Ok(w) => w,
                Err(e) => {
                    errs.0.extend(e.0);
                    continue;
                }
            };
            if w.tokenize.is_none() {
                w.tokenize = tokenize.clone();
            }
            match HttpPolicy::compile(w, env) {
                Ok(p) => {
                    names.push(name);
                    policies.push(Arc::new(p));
                }
                Err(e) => errs.0.extend(e.prefixed(&prefix)),
            }
        }
        let mut compiled = Vec::new();
        for (i, r) in routes.iter().enumerate() {
            if let Some(route) = compile_route(i, r, &names, &mut errs) {
                compiled.push(route);
            }
        }
        if !errs.0.is_empty() {
            return Err(PolicyErrors(errs.0));
        }
        Ok(PolicySet {
            names,
            policies,
            routes: compiled,
        })
    }

    /// Whether some route matches on the request's host (else `select` needs no host).
    pub fn routes_read_host(&self) -> bool {
        self.routes.iter().any(|r| r.host.is_some())
    }

    /// Whether some route matches on the request's path (else `select` needs no path).
    pub fn routes_read_path(&self) -> bool {
        self.routes.iter().any(|r| r.prefix.is_some() || r.regex.is_some())
    }

    /// The policy for a request: the first route that matches, else the default. Returns its index
    /// (0 is the default) and the policy.
    pub fn select(&self, host: &str, path: &str, method: &str) -> (usize, &Arc<HttpPolicy>) {
        let host = host.rsplit_once(':').map_or(
            host,
            |(h, p)| if p.bytes().all(|b| b.is_ascii_digit()) { h } else { host },
        );
        let path_only = path.split(['?', '#']).next().unwrap_or(path);
        for r in &self.routes {
            if let Some(h) = &r.host {
                let ok = match h.strip_prefix("*.") {
                    Some(suffix) => {
                        host.len() > suffix.len() + 1 && host.to_ascii_lowercase().ends_with(&format!(".{suffix}"))
                    }
                    None => host.eq_ignore_ascii_case(h),
                };
                if !ok {
                    continue;
                }
            }
            if r.prefix.as_ref().is_some_and(|p| !path_only.starts_with(p.as_str())) {
                continue;
            }
            if r.regex.as_ref().is_some_and(|re| !re.is_match(path_only)) {
                continue;
            }
            if !r.methods.is_empty() && !r.methods.iter().any(|m| m.eq_ignore_ascii_case(method)) {
                continue;
            }
            if let Some(p) = self.policies.get(r.policy) {
                return (r.policy, p);
            }
        }
        (0, &self.policies[0])
    }

    /// The policy at `index` (0 is the default).
    /// Policy `index`, taken out of the set (`None` if it is shared elsewhere or out of range).
    pub fn into_policy(mut self, index: usize) -> Option<HttpPolicy> {
        if index >= self.policies.len() {
            return None;
        }
        Arc::try_unwrap(self.policies.swap_remove(index)).ok()
    }

    pub fn get(&self, index: usize) -> Option<&Arc<HttpPolicy>> {
        self.policies.get(index)
    }

    /// Policy names, in index order (`default` first).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// Number of policies.
    pub fn len(&self) -> usize {
        self.policies.len()
    }

    /// Never empty (there is always a default), for clippy.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }
}

fn compile_route(i: usize, r: &RouteWire, names: &[String], errs: &mut Problems) -> Option<Route> {
    let path = format!("routes[{i}]");
    let policy = names.iter().position(|n| *n == r.policy);
    if policy.is_none() {
        errs.push(
            format!("{path}.policy"),
            format!(
                "no policy named {:?}; define it under \"policies\" (or use \"default\")",
                r.policy
            ),
        );
    }
    if let Some(n) = &r.name {
        if !valid_name(n) {
            errs.push(format!("{path}.name"), "use 1-64 letters, digits, '_' or '-'");
        }
    }
    if let Some(p) = &r.path_prefix {
        if !p.starts_with('/') {
            errs.push(format!("{path}.path_prefix"), "a path prefix starts with '/'");
        }
    }
    let regex = match &r.path_regex {
        // a route regex matches a path, not a stream: no length bound needed
        Some(re) => match meta::Builder::new()
            .configure(meta::Config::new().nfa_size_limit(Some(2 << 20)))
            .build(re)
        {
            Ok(re) => Some(re),
            Err(e) => {
                errs.push(format!("{path}.path_regex"), format!("invalid regex: {e}"));
                None
            }
        },
        None => None,
    };
    if r.host.is_none() && r.path_prefix.is_none() && r.path_regex.is_none() && r.methods.is_empty() {
        errs.push(
            path.clone(),
            "a route needs host, path_prefix, path_regex or methods (a route matching everything hides the rest)",
        );
    }
    Some(Route {
        host: r.host.as_ref().map(|h| h.to_ascii_lowercase()),
        prefix: r.path_prefix.clone(),
        regex,
        methods: r.methods.clone(),
        policy: policy?,
    })
}
