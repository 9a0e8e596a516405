use super::*;

fn env(_: &str) -> Option<String> {
    None
}

fn errors(json: &str) -> Vec<String> {
    match Policy::from_json(json, &env) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn empty_policy_enables_every_builtin_detector() {
    let p = Policy::from_json("{}", &env).unwrap();
    assert_eq!(p.rules.len(), detect::DETECTORS.len());
    assert_eq!(p.mode, Mode::Enforce);
    assert!(p.request && p.response);
}
