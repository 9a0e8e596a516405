//! Built-in detectors: one file per kind of value, each a bounded regex that finds candidates and a
//! validator that decides (checksums, issuer prefixes, boundaries). The names are part of the
//! policy contract.
//!
//! # Invariants
//! - Detectors know no wire type: they state their default action as [`DefaultAction`] (secret
//!   detectors redact; `email` tokenizes only when the rule set has a key) and `config` turns it
//!   into an action.
//! - A validator is a pure function of `hay`, reading at most `boundary::LOOK_BEHIND` bytes before
//!   and `boundary::LOOK_AHEAD` after a candidate; the scanner drops an accepted value that starts
//!   before the candidate or is empty, and a `Reject` resumes at least one byte after its start.
//! - `min_digits` and `run_ok` are necessary conditions only: a run they refuse holds no value the
//!   validator would accept (the oracle test compares against the search without them).
//! - [`DETECTORS`] order is the default rule order, so it breaks ties between detectors.

pub(crate) mod boundary;
mod card;
mod email;
pub(crate) mod groups;
pub(crate) mod iban;
mod ip;
pub(crate) mod luhn;
pub(crate) mod pem;
mod phone;
pub mod secret_keys;
mod secrets;
mod ssn;

/// A validator's decision about a regex candidate `[s, e)` inside `hay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The value is `[s, e)` (possibly narrower than the candidate); this detector searches on
    /// from `e`.
    Accept(usize, usize),
    /// The value is `[s, e)`, and this detector searches on from the third position (`<= e`): the
    /// candidate was cut by the regex's length bound, so readings that start before `e` but run
    /// past the candidate have not been looked at yet.
    AcceptThen(usize, usize, usize),
    /// Not a value; the next search for this detector starts at `resume` (> the candidate start).
    Reject { resume: usize },
}

/// Decides whether a candidate match is a real value. `hay` holds context on both sides.
pub type Validate = fn(hay: &[u8], s: usize, e: usize) -> Verdict;

/// How a value is normalised before it is tokenized, so that formatting does not change tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalize {
    /// The bytes as they are.
    None,
    /// ASCII digits only (cards, SSNs, phone numbers).
    Digits,
    /// ASCII lower case (emails, IP addresses).
    Lowercase,
    /// ASCII upper case without spaces (IBANs).
    UpperCompact,
}

impl Normalize {
    /// Parses the `normalize` option of a tokenize action.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "none" => Normalize::None,
            "digits" => Normalize::Digits,
            "lowercase" | "email" => Normalize::Lowercase,
            "upper_compact" => Normalize::UpperCompact,
            _ => return None,
        })
    }
}

/// A built-in detector.
pub struct Detector {
    /// Policy name (`credit_card`, ...).
    pub name: &'static str,
    /// One line for `streammask detectors`.
    pub description: &'static str,
    /// The candidate regex (bounded).
    pub pattern: &'static str,
    /// The validator, if the regex alone is not enough.
    pub validate: Option<Validate>,
    /// Normalisation for tokenization.
    pub normalize: Normalize,
    /// An example value the detector finds.
    pub example: &'static str,
    /// For region detectors (private keys): the regex of the line that closes the region.
    pub region_end: Option<&'static str>,
    /// Whether the default action is a secret-style redaction.
    pub secret: bool,
    /// Digits every value the validator accepts holds, when more than the regex alone implies
    /// (0: the regex's). Lets the scanner skip runs with fewer digits without running the regex.
    pub min_digits: usize,
    /// A necessary condition on a run of the regex's byte class for any value the validator
    /// accepts to lie in it (a phone number needs a `+`, `(`, a group starting `0` or a 3-digit
    /// group): a run that fails it is not searched. Must never refuse a run that holds a value.
    pub run_ok: Option<fn(&[u8]) -> bool>,
    /// The regex the scanner runs instead of `pattern` (whose length bounds, class and trigger
    /// still decide what is held back), when `pattern`'s long repetitions would compile to an NFA
    /// of megabytes: every match of `pattern` starts with a match of `search`, and the validator
    /// reads the value on from there exactly as `pattern` would (tested against `pattern`).
    pub search: Option<&'static str>,
}

/// What a detector's values become when its rule names no action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultAction {
    /// Keep this many leading and trailing characters, mask the rest.
    Mask { keep_first: usize, keep_last: usize },
    /// Replace the whole value.
    Redact,
    /// A keyed token (only when the rule set has a tokenization key).
    Tokenize,
}

impl Detector {
    /// The action used when a rule names this detector without an action (and for the empty
    /// rule set). `has_key` says whether the rule set has a tokenization key.
    pub fn default_action(&self, has_key: bool) -> DefaultAction {
        let mask = |keep_first: usize, keep_last: usize| DefaultAction::Mask { keep_first, keep_last };
        if self.secret {
            return DefaultAction::Redact;
        }
        match self.name {
            "credit_card" => mask(6, 4),
            "email" if has_key => DefaultAction::Tokenize,
            "email" => mask(1, 3),
            "us_ssn" => mask(0, 4),
            "iban" => mask(2, 4),
            "phone_number" => mask(0, 2),
            _ => mask(0, 0),
        }
    }
}

/// Every built-in detector, in the order the default policy applies them (earlier wins a tie).
pub static DETECTORS: &[Detector] = &[
    Detector {
        name: "private_key",
        description: "PEM private key block, masked while it streams (BEGIN line to END line)",
        pattern: pem::BEGIN,
        validate: None,
        normalize: Normalize::None,
        example: "-----BEGIN PRIVATE KEY-----\\nMIIEvQ...\\n-----END PRIVATE KEY-----",
        region_end: Some(pem::END),
        secret: true,
        min_digits: 0,
        run_ok: None,
        search: None,
    },
    Detector {
        name: "jwt",
        description: "JSON Web Token (three base64url parts, header and payload JSON objects)",
        pattern: secrets::JWT,
        validate: Some(secrets::validate_jwt_whole),
        normalize: Normalize::None,
        example: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        region_end: None,
        secret: true,
        min_digits: 0,
        run_ok: None,
        search: Some(secrets::JWT_START),
    },
    Detector {
        name: "aws_access_key_id",
        description: "AWS access key id (AKIA..., ASIA..., 20 characters)",
        pattern: secrets::AWS_ACCESS_KEY_ID,
        validate: Some(secrets::validate_isolated),
        normalize: Normalize::None,
        example: "AKIAIOSFODNN7EXAMPLE",
        region_end: None,
        secret: true,
        min_digits: 0,
        run_ok: None,
        search: None,
    },
    Detector {
        name: "aws_secret_access_key",
        description: "AWS secret access key written next to its access key id (AKIA…:secret); next to its name it is a secret key",
        pattern: secrets::AWS_SECRET_NEXT_TO_ID,
        validate: Some(secrets::validate_aws_secret),
        normalize: Normalize::None,
        example: "AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region_end: None,
        secret: true,
        min_digits: 0,
        run_ok: None,
        search: None,
    },
    Detector {
        name: "url_password",
        description: "the password in a URL's userinfo (scheme://user:password@host); the rest stays readable",
        pattern: secrets::URL_PASSWORD,
        validate: Some(secrets::validate_url_password),
        normalize: Normalize::None,
        example: "postgres://admin:S3cretPass@db.example.com:5432/app",
        region_end: None,
        secret: true,
        min_digits: 0,
        run_ok: Some(secrets::url_run_ok),
        search: None,
    },
    Detector {
        name: "github_token",
        description: "GitHub token (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_)",
        pattern: secrets::GITHUB_TOKEN,
        validate: Some(secrets::validate_isolated),
        normalize: Normalize::None,
        example: "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        region_end: None,
        secret: true,
        min_digits: 0,
        run_ok: None,
        search: None,
    },
    Detector {
        name: "slack_token",
        description: "Slack token (xoxb-, xoxp-, xoxa-, xoxo-, xoxs-, xoxr-, xoxe-, xoxe.xoxp-, xapp-)",
        pattern: secrets::SLACK_TOKEN,
        validate: Some(secrets::validate_isolated),
        normalize: Normalize::None,
        example: "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
        region_end: None,
        secret: true,
        min_digits: 0,
        run_ok: None,
        search: None,
    },
    Detector {
        name: "stripe_key",
        description: "Stripe secret or restricted key, webhook secret (sk_live_, rk_test_, whsec_)",
        pattern: secrets::STRIPE_KEY,
        validate: Some(secrets::validate_isolated),
        normalize: Normalize::None,
        example: "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        region_end: None,
        secret: true,
        min_digits: 0,
        run_ok: None,
        search: None,
    },
    Detector {
        name: "google_api_key",
        description: "Google API key (AIza + 35 characters)",
        pattern: secrets::GOOGLE_API_KEY,
        validate: Some(secrets::validate_isolated),
        normalize: Normalize::None,
        example: "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
        region_end: None,
        secret: true,
        min_digits: 0,
        run_ok: None,
        search: None,
    },
    Detector {
        name: "credit_card",
        description: "payment card number: 12-19 digits, single space/dash groups, issuer prefix, Luhn",
        pattern: card::PATTERN,
        validate: Some(card::validate),
        normalize: Normalize::Digits,
        example: "4111 1111 1111 1111",
        region_end: None,
        secret: false,
        min_digits: 0,
        run_ok: None,
        search: None,
    },
    Detector {
        name: "iban",
        description: "IBAN: country length and mod-97 check, compact or grouped with spaces or dashes",
        pattern: iban::PATTERN,
        validate: Some(iban::validate),
        normalize: Normalize::UpperCompact,
        example: "DE89 3704 0044 0532 0130 00",
        region_end: None,
        secret: false,
        min_digits: 0,
        run_ok: None,
        search: None,
    },
    Detector {
        name: "us_ssn",
        description: "US Social Security number AAA-GG-SSSS (never-issued ranges excluded)",
        pattern: ssn::PATTERN,
        validate: Some(ssn::validate),
        normalize: Normalize::Digits,
        example: "123-45-6789",
        region_end: None,
        secret: false,
        min_digits: 0,
        run_ok: None,
        search: None,
    },
    Detector {
        name: "email",
        description: "email address (local part and domain in any script, alphabetic or xn-- TLD)",
        pattern: email::PATTERN,
        validate: Some(email::validate),
        normalize: Normalize::Lowercase,
        example: "jane.doe@example.com",
        region_end: None,
        secret: false,
        min_digits: 0,
        run_ok: None,
        search: None,
    },
    Detector {
        name: "phone_number",
        description: "phone number: +/00 international, North American, or national with a trunk 0 (see the README)",
        pattern: phone::PATTERN,
        validate: Some(phone::validate),
        normalize: Normalize::Digits,
        example: "+1 (415) 555-2671",
        region_end: None,
        secret: false,
        min_digits: 7,
        run_ok: Some(phone::run_ok),
        search: None,
    },
    Detector {
        name: "ipv4",
        description: "IPv4 address (four octets <= 255, not part of a longer dotted version)",
        pattern: ip::V4_PATTERN,
        validate: Some(ip::validate_v4),
        normalize: Normalize::Lowercase,
        example: "203.0.113.42",
        region_end: None,
        secret: false,
        min_digits: 0,
        run_ok: None,
        search: None,
    },
    Detector {
        name: "ipv6",
        description: "IPv6 address (as the standard library parses it, at least two groups)",
        pattern: ip::V6_PATTERN,
        validate: Some(ip::validate_v6),
        normalize: Normalize::Lowercase,
        example: "2001:db8:85a3::8a2e:370:7334",
        region_end: None,
        secret: false,
        min_digits: 0,
        run_ok: Some(ip::v6_run_ok),
        search: None,
    },
];

/// Looks up a built-in detector by its policy name.
pub fn find(name: &str) -> Option<&'static Detector> {
    DETECTORS.iter().find(|d| d.name == name)
}
