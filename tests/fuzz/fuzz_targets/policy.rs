//! The policy parser and compiler (HTTP settings, routes and the rule set) never panic; every rejection is a message with a path.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let env = |k: &str| (k == "K").then(|| "k".repeat(40));
    if let Err(errs) = streammask_proxy::policy::PolicySet::from_json(text, &env) {
        assert!(!errs.0.is_empty());
        for e in &errs.0 {
            assert!(!e.path.is_empty() && !e.message.is_empty(), "{e:?}");
        }
    }
});
