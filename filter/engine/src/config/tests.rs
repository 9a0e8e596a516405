use super::*;
use crate::detect;

fn env(_: &str) -> Option<String> {
    None
}

fn errors(json: &str) -> Vec<String> {
    match Ruleset::from_json(json, &env) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn empty_policy_enables_every_builtin_detector() {
    let p = Ruleset::from_json("{}", &env).unwrap();
    // every detector, plus the text form of the secrets-by-key-name rule
    assert_eq!(p.user_rules, detect::DETECTORS.len());
    assert_eq!(p.rules.len(), detect::DETECTORS.len() + 1);
    assert_eq!(p.field_names().collect::<Vec<_>>(), [SECRET_KEYS_LABEL]);
}

#[test]
fn unknown_fields_are_errors_with_their_path() {
    let e = errors(r#"{"rules":[{"detector":"email","action":{"type":"mask","keep_frist":2}}]}"#);
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("rules[0].action"), "{e:?}");
    assert!(e[0].contains("keep_frist"), "{e:?}");
}

#[test]
fn unbounded_and_empty_patterns_are_refused_with_a_fix() {
    let e = errors(r#"{"rules":[{"name":"a","pattern":"\\d+"},{"name":"b","pattern":"x*"}]}"#);
    assert!(e[0].starts_with("rules[0].pattern: unbounded repetition"), "{e:?}");
    assert!(e[0].contains("bound it"), "{e:?}");
    assert!(
        e[1].starts_with("rules[1].pattern: pattern can match the empty string"),
        "{e:?}"
    );
}

#[test]
fn duplicate_names_unknown_detectors_and_bad_actions_are_reported_together() {
    let e = errors(
        r#"{"rules":[{"detector":"email"},{"detector":"email"},{"detector":"credit_kard"},
            {"name":"t","pattern":"abc","action":{"type":"tokenize"}},{"detector":"private_key","action":{"type":"tokenize"}}]}"#,
    );
    assert!(
        e.iter().any(|m| m.starts_with("rules[1].name: duplicate name")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("rules[2].detector: unknown detector \"credit_kard\"")),
        "{e:?}"
    );
    assert!(
        e.iter().any(|m| m.starts_with("rules[3].action: tokenize needs a key")),
        "{e:?}"
    );
    assert!(e.iter().any(|m| m.starts_with("rules[4].action")), "{e:?}");
}

#[test]
fn short_or_missing_secrets_are_refused_and_never_printed() {
    let e = errors(r#"{"tokenize":{"key_id":"k1","secret":"short-secret-value"}}"#);
    assert!(e[0].contains("at least 32"), "{e:?}");
    assert!(!e[0].contains("short-secret-value"));
    let e = errors(r#"{"tokenize":{"key_id":"k1","secret_env":"NOPE_NOT_SET"}}"#);
    assert!(
        e[0].starts_with("tokenize.secret_env: environment variable \"NOPE_NOT_SET\" is not set"),
        "{e:?}"
    );
}

#[test]
fn secret_env_is_read_through_the_given_lookup() {
    let env = |k: &str| (k == "KEY").then(|| "k".repeat(40));
    let p = Ruleset::from_json(r#"{"tokenize":{"key_id":"k7","secret_env":"KEY"}}"#, &env).unwrap();
    assert_eq!(p.token_key_id.as_deref(), Some("k7"));
}

#[test]
fn key_rotation_needs_an_active_key() {
    let env = |_: &str| Some("s".repeat(40));
    let json = r#"{"tokenize":{"keys":[{"id":"k1","secret_env":"A"},{"id":"k2","secret_env":"B"}]}}"#;
    assert!(Ruleset::from_json(json, &env).is_err());
    let json = r#"{"tokenize":{"keys":[{"id":"k1","secret_env":"A"},{"id":"k2","secret_env":"B"}],"active":"k2"}}"#;
    assert_eq!(
        Ruleset::from_json(json, &env).unwrap().token_key_id.as_deref(),
        Some("k2")
    );
}

#[test]
fn hostile_patterns_are_refused_not_built() {
    let e = errors(r#"{"rules":[{"name":"big","pattern":"(?:[a-z]{1,100}){1,100}"}]}"#);
    assert!(e[0].starts_with("rules[0].pattern:"), "{e:?}");
}

#[test]
fn http_settings_are_not_rule_set_settings() {
    // the proxy's policy holds these; the rule set refuses them by name
    for key in ["mode", "directions", "content_types", "headers", "query", "routes"] {
        let e = errors(&format!(r#"{{"{key}": null}}"#));
        assert!(e.iter().any(|m| m.contains("unknown field")), "{key}: {e:?}");
    }
}

#[test]
fn digit_counts_cross_the_counting_blocks() {
    for n in [0usize, 1, 254, 255, 256, 510, 511, 4097] {
        let digits: Vec<u8> = (0..n).map(|i| b'0' + (i % 10) as u8).collect();
        assert_eq!(count_digits(&digits), n);
        // digits among other bytes, and the bytes either side of '0'..'9'
        let mixed: Vec<u8> = (0..n).flat_map(|i| [b'/', b'0' + (i % 10) as u8, b':', b'a']).collect();
        assert_eq!(count_digits(&mixed), n);
    }
}

/// The lookup tables answer what a loop over the rules answers, for every count of digits and
/// bytes, with the example policy and with `{}` (rules with and without digits).
#[test]
fn eligible_rules_by_table_are_those_by_rule() {
    for json in [include_str!("../../../../envoy/policies/example.json"), "{}"] {
        let p = Ruleset::from_json(json, &|_| Some("k".repeat(40))).unwrap();
        for digits in 0..80 {
            for len in 0..160 {
                let mask = u64::MAX;
                let by_rule = p.rules.iter().enumerate().all(|(r, rule)| {
                    mask & (1u64 << (r % 64)) == 0 || digits < rule.pattern.min_digits || len < rule.pattern.min_len
                });
                if by_rule {
                    assert!(p.none_eligible(mask, digits, len), "digits {digits}, len {len}");
                }
                // the table never says "none" when a rule can match
                if p.none_eligible(mask, digits, len) {
                    assert!(by_rule, "digits {digits}, len {len}");
                }
            }
        }
    }
}

/// The trigger pass gives the same mask and digit count on the short path (< 32 bytes) and the
/// wide one, for any bytes.
#[test]
fn trigger_pass_short_and_wide_agree_with_a_plain_loop() {
    let p = Ruleset::from_json("{}", &|_| None).unwrap();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for len in 0..200usize {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // mostly printable, some digits and trigger bytes
                b" -@.:0123456789abcdefxyzAKIAghp_+()"[(x % 35) as usize]
            })
            .collect();
        let mask = bytes.iter().fold(0u64, |m, &b| m | p.trigger_table[usize::from(b)]);
        let digits = bytes.iter().filter(|b| b.is_ascii_digit()).count();
        assert_eq!(p.triggers_and_digits(&bytes), (mask, digits), "len {len}");
    }
}
