//! Sensitive values outside bodies: header values and query-string parameters.
//!
//! A header rule either masks the whole value with its action or runs the rule set's detectors
//! over it; `cookie` and `set-cookie` are split so that only cookie values change (names and
//! attributes such as `Path` stay). Query parameters named in `query.params` are masked whole;
//! every other value goes through the detectors when `query.detect` is on. Values are
//! percent-decoded before they are scanned and re-encoded only where they changed, so an untouched
//! path stays byte-identical.
//!
//! # Invariants
//! - Nothing is rewritten unless something was masked: `mask_header` and `mask_path` return `None`
//!   otherwise; in a rewritten path only the changed values are re-encoded, and names, the other
//!   pairs, the path before `?` and the fragment are copied as they were.
//! - For a header, the first rule that lists it for the direction applies; in `cookie` and
//!   `set-cookie` only cookie values change (for `set-cookie` only the first pair's value).
//! - A query value named in `query.params` gets the query action; else a name that a field rule
//!   lists or that is a secret key gets that field's action (`Ruleset::mask_named_value`); else
//!   the detectors run when `query.detect` is on. An empty value is never masked whole.
//! - Header rule `i` counts under host label `i` and the query rule after them, the order
//!   `label_names` gives the rule set when it is compiled.

use super::wire::{HeaderRuleWire, PolicyWire, QueryWire};
use super::{HttpPolicy, Problems};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};
use streammask_engine::config::wire::ActionWire;
use streammask_engine::{Action, Label, MetaHits, Ruleset};

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
pub(super) struct HeaderRule {
    headers: Vec<String>,
    request: bool,
    response: bool,
    /// What the rule's values count under.
    label: Label,
    action: Option<Action>,
}

/// A compiled query rule.
pub(super) struct QueryRule {
    params: Vec<String>,
    label: Label,
    action: Action,
    detect: bool,
}

/// The metric labels of the header rules and the query rule, with the JSON path of each name, in
/// label order.
pub(super) fn label_names(w: &PolicyWire) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = w
        .headers
        .iter()
        .enumerate()
        .map(|(i, h)| (format!("headers[{i}].name"), h.name.clone()))
        .collect();
    if let Some(q) = &w.query {
        out.push(("query.name".into(), q.name.clone().unwrap_or_else(|| "query".into())));
    }
    out
}

fn action(rs: &Ruleset, path: &str, a: &ActionWire, errs: &mut Problems) -> Option<Action> {
    match rs.compile_action(path, a) {
        Ok(a) => Some(a),
        Err(e) => {
            errs.0.extend(e.0);
            None
        }
    }
}

/// The header rules, names lower-cased; a rule whose action fails to compile is left out (its
/// error is pushed), so the caller must refuse the policy when `errs` is not empty.
pub(super) fn compile_headers(w: &[HeaderRuleWire], rs: &Ruleset, errs: &mut Problems) -> Vec<HeaderRule> {
    let mut out = Vec::new();
    for (i, h) in w.iter().enumerate() {
        let path = format!("headers[{i}]");
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
            Some(a) => match action(rs, &format!("{path}.action"), a, errs) {
                Some(a) => Some(a),
                None => continue,
            },
            None => None,
        };
        out.push(HeaderRule {
            headers: h.headers.iter().map(|n| n.to_ascii_lowercase()).collect(),
            request,
            response,
            label: rs.labels().host(i),
            action,
        });
    }
    out
}

/// `headers` is the number of header rules (the query rule's label comes after theirs).
pub(super) fn compile_query(
    q: Option<&QueryWire>,
    rs: &Ruleset,
    headers: usize,
    errs: &mut Problems,
) -> Option<QueryRule> {
    let q = q?;
    let detect = q.detect.unwrap_or(true);
    if q.params.is_empty() && !detect {
        errs.push(
            "query",
            "list \"params\" or keep \"detect\" on; as written the rule does nothing",
        );
    }
    let wire = q.action.clone().unwrap_or(ActionWire::Redact { replacement: None });
    let action = action(rs, "query.action", &wire, errs)?;
    Some(QueryRule {
        params: q.params.clone(),
        label: rs.labels().host(headers),
        action,
        detect,
    })
}

impl HttpPolicy {
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

    /// One value masked whole by `action` (counted under `label`), or run through the detectors.
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
            None => {
                let (out, found) = self.ruleset.mask_value(value.as_bytes())?;
                hits.extend(&found);
                Some(String::from_utf8_lossy(&out).into_owned())
            }
        }
    }

    /// The new value of header `name` (lower case) in a request or response, if a rule changes it.
    pub fn mask_header(&self, request: bool, name: &str, value: &str) -> Option<(String, MetaHits)> {
        let rule = self
            .header_rules
            .iter()
            .find(|h| (if request { h.request } else { h.response }) && h.headers.iter().any(|n| n == name))?;
        let action = rule.action.as_ref().map(|a| (a, rule.label));
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

    /// The request path with its query-string values masked, if anything changed.
    pub fn mask_path(&self, path: &str) -> Option<(String, MetaHits)> {
        let q = self.query.as_ref()?;
        let (base, rest) = path.split_once('?')?;
        let (query, fragment) = match rest.split_once('#') {
            Some((a, b)) => (a, Some(b)),
            None => (rest, None),
        };
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
                let action = q.params.contains(&key).then_some((&q.action, q.label));
                let masked = match action {
                    // a parameter named by a field rule's keys, or a secret key (`password`)
                    None => self
                        .ruleset
                        .mask_named_value(key.as_bytes(), val.as_bytes())
                        .map(|(v, found)| {
                            hits.extend(&found);
                            String::from_utf8_lossy(&v).into_owned()
                        }),
                    Some(_) => None,
                };
                if masked.is_none() && action.is_none() && !q.detect {
                    return pair.to_string();
                }
                match masked.or_else(|| self.apply_value(&val, action, &mut hits)) {
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
