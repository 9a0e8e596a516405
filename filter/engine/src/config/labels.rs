//! Metric labels: every value masked is counted under one label, the name of what found it.
//!
//! # Invariants
//! - A rule set's labels are, in this order: its rules (the user's, or every detector for `{}`),
//!   its field rules (the secrets-by-key rule last among them), then the host's own labels (the
//!   proxy's header rules and query rule), given when the rule set is compiled. [`Labels`] is the
//!   only place that knows this order: rules, counters, findings and the proxy's metric ids all
//!   index by [`Label`].
//! - Internal rules that are another rule's text form (a field's `"key": value`, the secret keys'
//!   `key=value`) count under that rule's label: they have no label of their own.

/// One label of a rule set (an index into its [`Labels`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label(pub(crate) u32);

impl Label {
    /// The position of this label among its policy's labels.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The labels of a rule set, in their fixed order, with their names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels {
    names: Vec<String>,
    rules: usize,
    fields: usize,
}

impl Labels {
    /// Labels for these rule, field and host label names.
    pub(crate) fn new<'a>(
        rules: impl Iterator<Item = &'a str>,
        fields: impl Iterator<Item = &'a str>,
        host: impl Iterator<Item = &'a str>,
    ) -> Labels {
        let mut names: Vec<String> = rules.map(String::from).collect();
        let r = names.len();
        names.extend(fields.map(String::from));
        let f = names.len() - r;
        names.extend(host.map(String::from));
        Labels {
            names,
            rules: r,
            fields: f,
        }
    }

    /// How many labels.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Every label with its name, in order.
    pub fn iter(&self) -> impl Iterator<Item = (Label, &str)> {
        self.names
            .iter()
            .enumerate()
            .map(|(i, n)| (Label(i as u32), n.as_str()))
    }

    /// The name of a label (metric label value, log key).
    pub fn name(&self, l: Label) -> &str {
        self.names.get(l.index()).map_or("?", String::as_str)
    }

    /// The label of rule `r` (its position among the policy's rules).
    pub(crate) fn rule(&self, r: usize) -> Label {
        Label(r.min(self.rules) as u32)
    }

    /// The label of field rule `f`.
    pub(crate) fn field(&self, f: usize) -> Label {
        Label((self.rules + f) as u32)
    }

    /// The label of the host's label `h` (in the order given at compile time).
    pub fn host(&self, h: usize) -> Label {
        Label((self.rules + self.fields + h) as u32)
    }

    /// The rule labels, then the field labels, as ranges of label positions.
    pub(crate) fn rule_range(&self) -> std::ops::Range<usize> {
        0..self.rules
    }
    pub(crate) fn field_range(&self) -> std::ops::Range<usize> {
        self.rules..self.rules + self.fields
    }
    pub(crate) fn host_range(&self) -> std::ops::Range<usize> {
        self.rules + self.fields..self.names.len()
    }
}

/// Values found outside a body (a header, a query parameter): counts per label.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MetaHits(pub Vec<(Label, u64)>);

impl MetaHits {
    /// Adds `n` values under `label`.
    pub fn add(&mut self, label: Label, n: u64) {
        if n == 0 {
            return;
        }
        match self.0.iter_mut().find(|(l, _)| *l == label) {
            Some((_, c)) => *c += n,
            None => self.0.push((label, n)),
        }
    }

    /// Adds every count of `other`.
    pub fn extend(&mut self, other: &MetaHits) {
        for (l, n) in &other.0 {
            self.add(*l, *n);
        }
    }

    /// Total values masked.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, n)| n).sum()
    }
}
