//! Sensitive values outside bodies: header values and query-string parameters.
//!
//! A header rule either masks the whole value with its action or runs the policy's detectors over
//! it; `cookie` and `set-cookie` are split so that only cookie values change (names and attributes
//! such as `Path` stay). Query parameters named in `query.params` are masked whole; every other
//! value goes through the detectors when `query.detect` is on. Values are percent-decoded before
//! they are scanned and re-encoded only where they changed, so an untouched path stays byte-identical.

use super::error::Errors;
use super::{Label, Policy};
use crate::action::Action;
use crate::format::text::TextMasker;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

/// Characters encoded in a rewritten query value.
const QUERY_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'[')
    .add(b']')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|');

/// A compiled header rule.
pub(crate) struct HeaderRule {
    pub(crate) name: String,
    pub(crate) headers: Vec<String>,
    pub(crate) request: bool,
    pub(crate) response: bool,
    pub(crate) action: Option<Action>,
}

/// A compiled query rule.
pub(crate) struct QueryRule {
    pub(crate) name: String,
    pub(crate) params: Vec<String>,
    pub(crate) action: Action,
    pub(crate) detect: bool,
}

/// What a header or query rewrite found: counts per metric label.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MetaHits(pub Vec<(Label, u64)>);

impl MetaHits {
    fn add(&mut self, label: Label, n: u64) {
        if n == 0 {
            return;
        }
        match self.0.iter_mut().find(|(l, _)| *l == label) {
            Some((_, c)) => *c += n,
            None => self.0.push((label, n)),
        }
    }
    /// Total values masked.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, n)| n).sum()
    }
}

pub(crate) fn compile_query(
    q: Option<&super::wire::QueryWire>,
    names: &mut std::collections::HashSet<String>,
    key: Option<&std::sync::Arc<crate::token::TokenKey>>,
    errs: &mut Errors,
) -> Option<QueryRule> {
    let q = q?;
    let name = q.name.clone().unwrap_or_else(|| "query".into());
    if !super::valid_name(&name) {
        errs.push("query.name", "use 1-64 letters, digits, '_' or '-'");
    } else if !names.insert(name.clone()) {
        errs.push(
            "query.name",
            format!("duplicate name {name:?}; set query.name to a unique one"),
        );
    }
    let detect = q.detect.unwrap_or(true);
    if q.params.is_empty() && !detect {
        errs.push(
            "query",
            "list \"params\" or keep \"detect\" on; as written the rule does nothing",
        );
    }
    let wire = q
        .action
        .clone()
        .unwrap_or(super::wire::ActionWire::Redact { replacement: None });
    let action = super::compile_action("query.action", &wire, crate::detect::Normalize::None, key, errs)?;
    Some(QueryRule {
        name,
        params: q.params.clone(),
        action,
        detect,
    })
}

pub(crate) fn compile_headers(
    w: &[super::wire::HeaderRuleWire],
    names: &mut std::collections::HashSet<String>,
    key: Option<&std::sync::Arc<crate::token::TokenKey>>,
    errs: &mut Errors,
) -> Vec<HeaderRule> {
    let mut out = Vec::new();
    for (i, h) in w.iter().enumerate() {
        let path = format!("headers[{i}]");
        if !super::valid_name(&h.name) {
            errs.push(
                format!("{path}.name"),
                "use 1-64 letters, digits, '_' or '-' (the name appears in metric names)",
            );
        } else if !names.insert(h.name.clone()) {
            errs.push(
                format!("{path}.name"),
                format!(
                    "duplicate name {:?}; rule, field and header names must be unique",
                    h.name
                ),
            );
        }
        if h.headers.is_empty() || h.headers.iter().any(|n| n.is_empty() || n.starts_with(':')) {
            errs.push(
                format!("{path}.headers"),
                "list header names (not pseudo-headers such as :path; use \"query\" for the query string)",
            );
        }
        let (request, response) = match h.direction.as_deref() {
            None => (true, true),
            Some("request") => (true, false),
            Some("response") => (false, true),
            Some(d) => {
                errs.push(
                    format!("{path}.direction"),
                    format!("unknown direction {d:?}; use \"request\" or \"response\""),
                );
                (true, true)
            }
        };
        let action = match &h.action {
            Some(a) => {
                match super::compile_action(&format!("{path}.action"), a, crate::detect::Normalize::None, key, errs) {
                    Some(a) => Some(a),
                    None => continue,
                }
            }
            None => None,
        };
        out.push(HeaderRule {
            name: h.name.clone(),
            headers: h.headers.iter().map(|n| n.to_ascii_lowercase()).collect(),
            request,
            response,
            action,
        });
    }
    out
}

impl Policy {
    /// Metric label names, in label order (see [`Labels`](super::Labels)).
    pub fn label_names(&self) -> impl Iterator<Item = &str> {
        self.labels.iter().map(|(_, n)| n)
    }

    /// Header names (lower case) the policy rewrites in requests (`request`) or responses.
    pub fn header_names(&self, request: bool) -> Vec<&str> {
        self.header_rules
            .iter()
            .filter(|h| if request { h.request } else { h.response })
            .flat_map(|h| h.headers.iter().map(String::as_str))
            .collect()
    }

    /// Whether the query string of request paths is rewritten.
    pub fn has_query_rule(&self) -> bool {
        self.query.is_some()
    }

    /// Runs the detectors over one value; returns the masked value if anything matched.
    fn detect_value(&self, value: &str, hits: &mut MetaHits) -> Option<String> {
        let mut t = TextMasker::new(self);
        let mut stats = crate::scan::Stats::for_policy(self);
        let mut out = Vec::with_capacity(value.len());
        t.push(self, value.as_bytes(), &mut stats, &mut out);
        t.finish(self, &mut stats, &mut out);
        let mut any = false;
        for (label, _) in self.labels.iter() {
            let n = stats.hits_of(label);
            if n > 0 {
                any = true;
                hits.add(label, n);
            }
        }
        any.then(|| String::from_utf8_lossy(&out).into_owned())
    }

    fn apply_value(&self, value: &str, action: Option<(&Action, Label)>, hits: &mut MetaHits) -> Option<String> {
        match action {
            Some((a, label)) => {
                if value.is_empty() {
                    return None;
                }
                let mut out = Vec::new();
                a.apply(value.as_bytes(), &mut out);
                hits.add(label, 1);
                Some(String::from_utf8_lossy(&out).into_owned())
            }
            None => self.detect_value(value, hits),
        }
    }

    /// The new value of header `name` (lower case) in a request or response, if a rule changes it.
    pub fn mask_header(&self, request: bool, name: &str, value: &str) -> Option<(String, MetaHits)> {
        let (i, rule) = self
            .header_rules
            .iter()
            .enumerate()
            .find(|(_, h)| (if request { h.request } else { h.response }) && h.headers.iter().any(|n| n == name))?;
        let label = self.labels.header(i);
        let action = rule.action.as_ref().map(|a| (a, label));
        let mut hits = MetaHits::default();
        let out = match name {
            "cookie" | "set-cookie" => {
                let mut changed = false;
                let parts: Vec<String> = value
                    .split(';')
                    .enumerate()
                    .map(|(k, part)| {
                        // set-cookie: only the first pair is the cookie, the rest are attributes
                        if name == "set-cookie" && k > 0 {
                            return part.to_string();
                        }
                        match part.split_once('=') {
                            Some((n, v)) => match self.apply_value(v, action, &mut hits) {
                                Some(nv) => {
                                    changed = true;
                                    format!("{n}={nv}")
                                }
                                None => part.to_string(),
                            },
                            None => part.to_string(),
                        }
                    })
                    .collect();
                changed.then(|| parts.join(";"))
            }
            _ => self.apply_value(value, action, &mut hits),
        }?;
        Some((out, hits))
    }

    /// [`mask_header`](Self::mask_header) for a header that belongs to no direction (the header
    /// block of a multipart part): a rule for either direction applies.
    pub(crate) fn mask_header_any(&self, name: &str, value: &str) -> Option<(String, MetaHits)> {
        self.mask_header(true, name, value)
            .or_else(|| self.mask_header(false, name, value))
    }

    /// The request path with its query-string values masked, if anything changed.
    pub fn mask_path(&self, path: &str) -> Option<(String, MetaHits)> {
        let q = self.query.as_ref()?;
        let (base, rest) = path.split_once('?')?;
        let (query, fragment) = match rest.split_once('#') {
            Some((a, b)) => (a, Some(b)),
            None => (rest, None),
        };
        let label = self.labels.query();
        let mut hits = MetaHits::default();
        let mut changed = false;
        let parts: Vec<String> = query
            .split('&')
            .map(|pair| {
                let Some((k, v)) = pair.split_once('=') else {
                    return pair.to_string();
                };
                let key = percent_decode_str(&k.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned();
                let val = percent_decode_str(&v.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned();
                let action = q.params.contains(&key).then_some((&q.action, label));
                if action.is_none() && !q.detect {
                    return pair.to_string();
                }
                match self.apply_value(&val, action, &mut hits) {
                    Some(nv) => {
                        changed = true;
                        format!("{k}={}", utf8_percent_encode(&nv, QUERY_VALUE))
                    }
                    None => pair.to_string(),
                }
            })
            .collect();
        if !changed {
            return None;
        }
        let mut out = format!("{base}?{}", parts.join("&"));
        if let Some(f) = fragment {
            out.push('#');
            out.push_str(f);
        }
        Some((out, hits))
    }
}
