//! `streammask`: check a policy, mask sample data with the same engine the proxy runs, list the
//! built-in detectors.
//!
//! Exit codes: 0 success; 1 an invalid policy, unreadable input or a missing environment variable
//! (with `check --require-env`); 2 a usage error.

use clap::{Parser, Subcommand, ValueEnum};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::Arc;
use streammask_engine::{detect, Format, FormatRouter, Masker, Ruleset};
use streammask_proxy::policy::PolicySet;

/// A placeholder secret: `check` compiles a policy whose key variables are not set with it, so a
/// policy can be checked where the production key is not (CI). It never masks anything.
const PLACEHOLDER_SECRET: &str = "streammask-check-placeholder-secret-never-used-for-tokens";

#[derive(Parser)]
#[command(
    name = "streammask",
    version,
    about = "Check streammask policies and mask sample data with the engine the proxy runs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate policy files: every error with its JSON path (exit 1 on any).
    ///
    /// Environment variables named by `tokenize.secret_env` are listed; a policy is checked
    /// without them unless --require-env is given.
    Check {
        /// Policy files ('-' for standard input).
        #[arg(required = true)]
        policies: Vec<String>,
        /// Fail when an environment variable the policy names is not set here.
        #[arg(long)]
        require_env: bool,
    },
    /// Mask standard input to standard output with a policy (a summary goes to standard error).
    Mask {
        /// The policy file ('-' for standard input is not allowed here: the body comes from it).
        #[arg(long)]
        policy: String,
        /// A named policy of the file instead of the default one.
        #[arg(long = "use", default_value = "default")]
        use_name: String,
        /// The body format.
        #[arg(long, value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
        /// Route as the proxy does by this content type (e.g. 'multipart/form-data; boundary=X',
        /// 'application/octet-stream'); overrides --format.
        #[arg(long)]
        content_type: Option<String>,
        /// Feed the input in chunks of this many bytes (the output must not depend on it).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        chunk_size: Option<u64>,
    },
    /// Reverse the `fpe` values in standard input for key holders (the proxy never reverses):
    /// the policy's fpe rules decrypt, everything else passes as it is.
    Detokenize {
        /// The policy file that masked the body (its tokenize key must be in the environment).
        #[arg(long)]
        policy: String,
        /// A named policy of the file instead of the default one.
        #[arg(long = "use", default_value = "default")]
        use_name: String,
        /// Only this fpe rule or field rule (default: every one).
        #[arg(long)]
        rule: Option<String>,
        /// The tokenize key that was active when the body was masked (needed when the policy
        /// lists several keys: the values do not say which key made them).
        #[arg(long)]
        key_id: Option<String>,
        /// The body format.
        #[arg(long, value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
    },
    /// List the built-in detectors, each with an example and its masked form.
    Detectors,
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Text,
    Json,
    Ndjson,
    Sse,
    Form,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Text => Format::Text,
            FormatArg::Json => Format::Json,
            FormatArg::Ndjson => Format::Ndjson,
            FormatArg::Sse => Format::Sse,
            FormatArg::Form => Format::Form,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { policies, require_env } => check(&policies, require_env),
        Command::Mask {
            policy,
            use_name,
            format,
            content_type,
            chunk_size,
        } => mask(&policy, &use_name, format.into(), content_type.as_deref(), chunk_size),
        Command::Detokenize {
            policy,
            use_name,
            rule,
            key_id,
            format,
        } => detokenize(&policy, &use_name, rule.as_deref(), key_id.as_deref(), format.into()),
        Command::Detectors => detectors(),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "streammask", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
    }
}

fn read_source(path: &str) -> Result<String, String> {
    if path == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        Ok(s)
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
    }
}

fn errors_text(path: &str, errs: &streammask_engine::PolicyErrors) -> String {
    errs.0
        .iter()
        .map(|e| format!("{path}: {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn check(paths: &[String], require_env: bool) -> ExitCode {
    let mut failed = false;
    for path in paths {
        let text = match read_source(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{e}");
                failed = true;
                continue;
            }
        };
        // variables the policy names: their values when set here, else a placeholder
        let named: RefCell<BTreeSet<(String, bool)>> = RefCell::new(BTreeSet::new());
        let env = |k: &str| {
            let v = std::env::var(k).ok();
            named.borrow_mut().insert((k.to_string(), v.is_some()));
            v.or_else(|| (!require_env).then(|| PLACEHOLDER_SECRET.to_string()))
        };
        match PolicySet::from_json(&text, &env) {
            Ok(set) => {
                for (i, name) in set.names().enumerate() {
                    let Some(p) = set.get(i) else { continue };
                    let rules: Vec<&str> = p.ruleset.rule_names().collect();
                    let fields: Vec<&str> = p.ruleset.field_names().collect();
                    println!(
                        "{path}: {name}: ok ({} rules: {}; {} fields{}{}; mode {:?}; holds back at most {} bytes)",
                        rules.len(),
                        rules.join(", "),
                        fields.len(),
                        if fields.is_empty() { "" } else { ": " },
                        fields.join(", "),
                        p.mode,
                        p.ruleset.max_hold_back()
                    );
                }
            }
            Err(errs) => {
                eprintln!("{}", errors_text(path, &errs));
                failed = true;
            }
        }
        for (var, set_here) in named.borrow().iter() {
            if *set_here {
                println!("{path}: the proxy must provide {var} (set here)");
            } else if !require_env {
                println!("{path}: the proxy must provide {var} (not set here: checked with a placeholder key)");
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Streams standard input through `m` to standard output in chunks of `chunk` bytes.
fn pump(m: &mut Masker, chunk: Option<u64>) -> Result<(), ExitCode> {
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let size = chunk.map_or(64 << 10, |c| usize::try_from(c).unwrap_or(64 << 10));
    let mut buf = vec![0u8; size];
    let mut out = Vec::new();
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("cannot read input: {e}");
                return Err(ExitCode::from(1));
            }
        };
        out.clear();
        m.push(&buf[..n], &mut out);
        stdout.write_all(&out).map_err(|_| ExitCode::from(1))?;
    }
    out.clear();
    m.finish(&mut out);
    stdout
        .write_all(&out)
        .and_then(|_| stdout.flush())
        .map_err(|_| ExitCode::from(1))
}

/// The policy text with `key_id` made the active tokenize key; an error when the policy lists
/// several keys and none is named, or names a key it does not have.
fn with_active_key(text: &str, key_id: Option<&str>) -> Result<String, String> {
    let mut v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let Some(t) = v.get_mut("tokenize").and_then(serde_json::Value::as_object_mut) else {
        return Ok(text.to_string());
    };
    let ids: Vec<String> = match t.get("keys").and_then(serde_json::Value::as_array) {
        Some(keys) => keys
            .iter()
            .filter_map(|k| k.get("id").and_then(serde_json::Value::as_str).map(str::to_string))
            .collect(),
        None => t
            .get("key_id")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .into_iter()
            .collect(),
    };
    match key_id {
        None if ids.len() > 1 => Err(format!(
            "the policy lists several tokenize keys ({}): name the one that was active when the body was masked with --key-id (fpe values do not carry it)",
            ids.join(", ")
        )),
        None => Ok(text.to_string()),
        Some(id) if !ids.iter().any(|k| k == id) => {
            Err(format!("no tokenize key {id:?} in the policy (keys: {})", ids.join(", ")))
        }
        Some(id) => {
            if t.contains_key("keys") {
                t.insert("active".into(), serde_json::Value::String(id.to_string()));
            }
            serde_json::to_string(&v).map_err(|e| e.to_string())
        }
    }
}

/// Reads and compiles the policy file (its text passed through `prepare` first) and finds the
/// policy named `use_name`; the error is the exit code (after its message).
fn load_policy(
    path: &str,
    use_name: &str,
    prepare: impl Fn(String) -> Result<String, String>,
) -> Result<(PolicySet, usize), ExitCode> {
    let text = read_source(path).and_then(prepare).map_err(|e| {
        eprintln!("{path}: {e}");
        ExitCode::from(1)
    })?;
    let set = PolicySet::from_json(&text, &|k| std::env::var(k).ok()).map_err(|errs| {
        eprintln!("{}", errors_text(path, &errs));
        ExitCode::from(1)
    })?;
    let found = set.names().position(|n| n == use_name);
    match found {
        Some(idx) => Ok((set, idx)),
        None => {
            eprintln!("no policy named {use_name:?} in {path}");
            Err(ExitCode::from(2))
        }
    }
}

fn detokenize(path: &str, use_name: &str, rule: Option<&str>, key_id: Option<&str>, format: Format) -> ExitCode {
    let (set, idx) = match load_policy(path, use_name, |t| with_active_key(&t, key_id)) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let Some(ruleset) = set
        .into_policy(idx)
        .and_then(|p| std::sync::Arc::try_unwrap(p.ruleset).ok())
    else {
        eprintln!("internal error: the policy is shared");
        return ExitCode::from(2);
    };
    let fpe = ruleset.fpe_rules().into_iter().map(str::to_string).collect::<Vec<_>>();
    if fpe.is_empty() {
        eprintln!("{path}: policy {use_name:?} has no rule or field rule with an fpe action: nothing to reverse");
        return ExitCode::from(2);
    }
    if let Some(r) = rule.filter(|r| !fpe.iter().any(|f| f == r)) {
        eprintln!(
            "{path}: {r:?} is not an fpe rule of policy {use_name:?}; fpe rules: {}",
            fpe.join(", ")
        );
        return ExitCode::from(2);
    }
    let rs = std::sync::Arc::new(ruleset.into_detokenizer(rule));
    let mut m = Masker::new(rs.clone(), format);
    if let Err(code) = pump(&mut m, None) {
        return code;
    }
    let s = m.stats();
    let n: u64 = rs
        .labels()
        .iter()
        .filter(|(_, name)| rule.map_or(fpe.iter().any(|f| f == name), |r| r == *name))
        .map(|(l, _)| s.hits_of(l))
        .sum();
    eprintln!(
        "detokenized: {n} values of {}",
        rule.map_or(fpe.join(", "), str::to_string)
    );
    ExitCode::SUCCESS
}

fn mask(path: &str, use_name: &str, format: Format, content_type: Option<&str>, chunk: Option<u64>) -> ExitCode {
    let (set, idx) = match load_policy(path, use_name, Ok) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let Some(policy) = set.get(idx).cloned() else {
        return ExitCode::from(2);
    };
    let mut m = match content_type {
        Some(ct) => {
            let route = policy.route(Some(ct), false);
            Masker::for_route(policy.ruleset.clone(), &route, policy.clone())
        }
        None => Masker::new(policy.ruleset.clone(), format),
    };
    if let Err(code) = pump(&mut m, chunk) {
        return code;
    }
    let s = m.stats();
    let mut parts: Vec<String> = policy
        .ruleset
        .labels()
        .iter()
        .map(|(l, name)| (name, s.hits_of(l)))
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| format!("{r}={n}"))
        .collect();
    if s.json_fallbacks > 0 {
        parts.push(format!("json_fallbacks={}", s.json_fallbacks));
    }
    if let Some(f) = s.sniffed {
        parts.push(format!("sniffed={}", f.name()));
    }
    eprintln!(
        "masked: {} ({} bytes in)",
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join(" ")
        },
        m.bytes_in()
    );
    ExitCode::SUCCESS
}

fn detectors() -> ExitCode {
    let policy = Arc::new(Ruleset::builtin_default());
    for d in detect::DETECTORS {
        let example = d.example.replace("\\n", "\n");
        let (masked, _) = streammask_engine::mask_all(&policy, Format::Text, example.as_bytes());
        println!("{:<22} {}", d.name, d.description);
        println!(
            "{:<22}   e.g. {:?} -> {:?}",
            "",
            example,
            String::from_utf8_lossy(&masked)
        );
    }
    ExitCode::SUCCESS
}
