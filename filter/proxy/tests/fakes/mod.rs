//! Fake hosts that behave like Envoy 1.40 and ngx_wasm_module 0.6 as `docs/hosts.md` describes
//! them. Anything a real host would do badly (hang, trap, reject) fails the test here.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use log::Level;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use streammask_proxy::{Caps, Dir, Host, HostError, HostResult, Next, RootHost, Shared, StreamFilter, CRITICAL};

thread_local! {
    /// What the filter logged on this thread (each test runs on its own thread).
    static LOGS: RefCell<Vec<(Level, String)>> = const { RefCell::new(Vec::new()) };
}

/// The `log` records of the filter, kept per thread like a host keeps its log per worker.
/// `critical` records are kept at `Error` with the message prefixed `critical: `.
struct TestLogger;

impl log::Log for TestLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let mut msg = record.args().to_string();
        if record.target() == CRITICAL {
            msg.insert_str(0, "critical: ");
        }
        LOGS.with(|l| l.borrow_mut().push((record.level(), msg)));
    }
    fn flush(&self) {}
}

static LOGGER: TestLogger = TestLogger;

/// Installs the test logger (once per process) and forgets what this thread logged so far.
pub fn start_logs() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Trace);
    }
    LOGS.with(|l| l.borrow_mut().clear());
}

/// What this thread logged since `start_logs`.
pub fn take_logs() -> Vec<(Level, String)> {
    LOGS.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

const BAD_ARGUMENT: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Envoy,
    Ngx,
}

/// How the upstream (or client) frames a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// chunked or close-delimited: data calls, then the end
    Chunked,
    /// a Content-Length header
    Length,
    /// HTTP/2 with END_STREAM on the last DATA frame
    H2EndStream,
    /// HTTP/2 with trailers after the data
    H2Trailers,
}

/// The state a host keeps for the stream being processed.
#[derive(Default)]
pub struct State {
    pub req_headers: BTreeMap<String, String>,
    pub resp_headers: BTreeMap<String, String>,
    /// the body buffer the current callback sees
    pub buffer: Vec<u8>,
    pub in_trailers: bool,
    pub paused: bool,
    pub pauses: usize,
    pub local_reply: Option<(u32, Vec<u8>)>,
    pub reset: bool,
    pub phase: Phase,
    pub counters: BTreeMap<u32, u64>,
    /// Every value recorded (gauges and histograms), in order.
    pub recorded: Vec<(u32, u64)>,
    /// The host clock (nanoseconds); every read advances it.
    pub clock: std::cell::Cell<u64>,
    pub unreadable: bool,
    pub eos_call: bool,
    pub fail_header_writes: bool,
    /// Second and later values of headers sent more than once: (is request, name, value).
    pub extra_values: Vec<(bool, String, String)>,
    /// Host calls made by the filter, by kind (what each would cost in the real host).
    pub calls: RefCell<BTreeMap<&'static str, usize>>,
    /// Names of the headers read one by one, in order.
    pub headers_read: RefCell<Vec<String>>,
}

#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    #[default]
    RequestHeaders,
    RequestBody,
    ResponseHeaders,
    ResponseBody,
    ResponseTrailers,
}

pub struct FakeHost {
    pub kind: Kind,
    pub st: State,
}

impl Host for FakeHost {
    fn header(&self, dir: Dir, name: &str) -> HostResult<Option<String>> {
        self.call("header");
        self.st.headers_read.borrow_mut().push(name.to_string());
        let m = self.headers(dir);
        // both hosts answer a single-value lookup with the first value
        Ok(m.get(name).cloned())
    }
    fn header_values(&self, dir: Dir, name: &str) -> HostResult<Vec<String>> {
        self.call("header_values");
        let mut v: Vec<String> = self.headers(dir).get(name).cloned().into_iter().collect();
        let req = dir == Dir::Request;
        v.extend(
            self.st
                .extra_values
                .iter()
                .filter(|(r, n, _)| *r == req && n == name)
                .map(|(_, _, x)| x.clone()),
        );
        Ok(v)
    }
    fn set_header(&mut self, dir: Dir, name: &str, value: &str) -> HostResult<()> {
        self.call("set_header");
        self.headers_writable(dir)?;
        if self.st.fail_header_writes {
            return Err(HostError(BAD_ARGUMENT));
        }
        let m = match dir {
            Dir::Request => &mut self.st.req_headers,
            Dir::Response => &mut self.st.resp_headers,
        };
        m.insert(name.into(), value.into());
        Ok(())
    }
    fn remove_header(&mut self, dir: Dir, name: &str) -> HostResult<()> {
        self.call("remove_header");
        self.headers_writable(dir)?;
        let m = match dir {
            Dir::Request => &mut self.st.req_headers,
            Dir::Response => &mut self.st.resp_headers,
        };
        m.remove(name);
        let req = dir == Dir::Request;
        self.st.extra_values.retain(|(r, n, _)| !(*r == req && n == name));
        Ok(())
    }
    fn body(&self, _dir: Dir, size: usize) -> HostResult<Option<Vec<u8>>> {
        self.call("body");
        if self.st.unreadable {
            return Ok(None);
        }
        assert_eq!(
            size,
            self.st.buffer.len(),
            "body read with a size other than the callback's"
        );
        Ok(Some(self.st.buffer.clone()))
    }
    fn set_body(&mut self, _dir: Dir, data: &[u8]) -> HostResult<()> {
        self.call("set_body");
        if self.st.in_trailers && !self.st.paused {
            return Err(HostError(BAD_ARGUMENT));
        }
        if self.kind == Kind::Ngx && self.st.eos_call && data.is_empty() {
            panic!("an empty body written on an eos call: the NGINX response would never complete");
        }
        self.st.buffer = data.to_vec();
        Ok(())
    }
    fn send_response(&mut self, status: u32, _headers: &[(&str, &str)], body: &[u8]) -> HostResult<()> {
        self.call("send_response");
        match (self.kind, self.st.phase) {
            (Kind::Ngx, Phase::ResponseBody) => {
                panic!("ngx_wasm_module traps on a local reply from a response body callback")
            }
            (Kind::Envoy, Phase::ResponseBody) => self.st.reset = true,
            _ => {}
        }
        let mut b = body.to_vec();
        if self.kind == Kind::Ngx {
            b.push(b'\n');
        }
        self.st.local_reply = Some((status, b));
        Ok(())
    }
    fn increment(&mut self, metric: u32, by: u64) -> HostResult<()> {
        self.call("increment");
        assert!(by > 0, "hosts reject an increment by 0");
        *self.st.counters.entry(metric).or_default() += by;
        Ok(())
    }
    fn record(&mut self, metric: u32, value: u64) -> HostResult<()> {
        self.call("record");
        self.st.counters.insert(metric, value);
        self.st.recorded.push((metric, value));
        Ok(())
    }
    fn now_nanos(&self) -> HostResult<u64> {
        self.call("now");
        // Envoy: the system clock in nanoseconds; ngx_wasm_module 0.6: the cached time of day,
        // in whole milliseconds
        let t = self.st.clock.get() + 700_000;
        self.st.clock.set(t);
        Ok(match self.kind {
            Kind::Envoy => t,
            Kind::Ngx => t / 1_000_000 * 1_000_000,
        })
    }
}

impl FakeHost {
    fn headers(&self, dir: Dir) -> &BTreeMap<String, String> {
        match dir {
            Dir::Request => &self.st.req_headers,
            Dir::Response => &self.st.resp_headers,
        }
    }

    fn call(&self, what: &'static str) {
        *self.st.calls.borrow_mut().entry(what).or_default() += 1;
    }

    fn headers_writable(&self, dir: Dir) -> HostResult<()> {
        let ok = match dir {
            Dir::Request => self.st.phase == Phase::RequestHeaders,
            Dir::Response => self.st.phase == Phase::ResponseHeaders,
        };
        assert!(ok, "headers changed after their callback returned");
        Ok(())
    }
}

pub struct FakeRoot {
    pub names: Vec<String>,
}

impl RootHost for FakeRoot {
    fn define_counter(&mut self, name: &str) -> HostResult<u32> {
        self.names.push(name.to_string());
        Ok(self.names.len() as u32 - 1)
    }
    fn define_gauge(&mut self, name: &str) -> HostResult<u32> {
        self.define_counter(name)
    }
    fn define_histogram(&mut self, name: &str) -> HostResult<u32> {
        self.define_counter(name)
    }
}

/// What came out of one exchange.
#[derive(Debug, Default)]
pub struct Outcome {
    pub logs: Vec<(Level, String)>,
    pub upstream_body: Vec<u8>,
    pub client_body: Vec<u8>,
    pub client_status: u32,
    pub resp_headers: BTreeMap<String, String>,
    pub req_headers: BTreeMap<String, String>,
    pub reset: bool,
    pub counters: BTreeMap<String, u64>,
    /// Values recorded to gauges and histograms, by metric name, in order.
    pub recorded: Vec<(String, u64)>,
    /// Host calls the filter made over the whole exchange, by kind.
    pub host_calls: BTreeMap<&'static str, usize>,
    /// Headers read one by one over the whole exchange, in order.
    pub headers_read: Vec<String>,
}

pub struct Exchange<'a> {
    pub method: &'a str,
    pub req_headers: Vec<(&'a str, String)>,
    pub req_chunks: Vec<Vec<u8>>,
    pub req_framing: Framing,
    pub status: u32,
    pub resp_headers: Vec<(&'a str, String)>,
    pub resp_chunks: Vec<Vec<u8>>,
    pub resp_framing: Framing,
    pub unreadable_request: bool,
    pub fail_header_writes: bool,
}

impl Default for Exchange<'_> {
    fn default() -> Self {
        Exchange {
            method: "GET",
            req_headers: vec![],
            req_chunks: vec![],
            req_framing: Framing::Chunked,
            status: 200,
            resp_headers: vec![],
            resp_chunks: vec![],
            resp_framing: Framing::Chunked,
            unreadable_request: false,
            fail_header_writes: false,
        }
    }
}

pub fn shared(kind: Kind, policy: &str) -> (Rc<Shared>, Vec<String>) {
    let mut root = FakeRoot { names: vec![] };
    let caps = match kind {
        Kind::Envoy => Caps::ENVOY,
        Kind::Ngx => Caps::PORTABLE,
    };
    let env = |k: &str| (k == "STREAMMASK_TOKEN_KEY").then(|| "test-secret-0123456789abcdef0123456789".to_string());
    let s = streammask_proxy::root::configure(&mut root, policy.as_bytes(), &env, caps).expect("policy compiles");
    (Rc::new(s), root.names)
}

fn act(next: Next) -> bool {
    next == Next::Pause
}

/// Runs one body direction through the filter with the host's semantics. Returns what left.
fn run_body(host: &mut FakeHost, f: &mut StreamFilter, dir: Dir, chunks: &[Vec<u8>], framing: Framing) -> Vec<u8> {
    let mut sent = Vec::new();
    let mut held: Vec<u8> = Vec::new();
    let call =
        |host: &mut FakeHost, f: &mut StreamFilter, data: &[u8], eos: bool, held: &mut Vec<u8>, sent: &mut Vec<u8>| {
            if host.st.reset {
                return;
            }
            let mut buf = std::mem::take(held);
            buf.extend_from_slice(data);
            host.st.buffer = buf;
            host.st.eos_call = eos;
            let size = host.st.buffer.len();
            let next = match dir {
                Dir::Request => f.on_request_body(host, size, eos),
                Dir::Response => f.on_response_body(host, size, eos),
            };
            if host.st.reset || host.st.local_reply.is_some() {
                return;
            }
            if act(next) {
                assert!(!eos, "paused on the end of stream");
                host.st.pauses += 1;
                if host.kind == Kind::Ngx && host.st.pauses > 1 {
                    panic!("ngx_wasm_module rejects a second Pause");
                }
                host.st.paused = true;
                *held = std::mem::take(&mut host.st.buffer);
                assert!(
                    held.len() <= 1 << 20,
                    "Envoy resets a stream whose paused buffer passes its limit"
                );
            } else {
                host.st.paused = false;
                if eos && host.kind == Kind::Ngx && host.st.buffer.is_empty() && size == 0 {
                    // nothing written: fine; writing empty on an eos call is what hangs
                }
                sent.extend_from_slice(&host.st.buffer);
            }
        };
    let n = chunks.len();
    match (host.kind, dir, framing) {
        (Kind::Ngx, Dir::Request, _) => {
            // ngx_wasm_module delivers a request body whole, eos=true
            let whole: Vec<u8> = chunks.concat();
            if !whole.is_empty() {
                call(host, f, &whole, true, &mut held, &mut sent);
            }
        }
        (_, _, Framing::Chunked) => {
            for c in chunks {
                call(host, f, c, false, &mut held, &mut sent);
            }
            let before = sent.len();
            call(host, f, &[], true, &mut held, &mut sent);
            let _ = before;
        }
        (Kind::Envoy, _, Framing::Length) => {
            for c in chunks {
                call(host, f, c, false, &mut held, &mut sent);
            }
            call(host, f, &[], true, &mut held, &mut sent);
        }
        (Kind::Ngx, _, Framing::Length) => {
            if n == 1 {
                call(host, f, &chunks[0], true, &mut held, &mut sent);
            } else {
                // no eos at all, no trailing call
                for c in chunks {
                    call(host, f, c, false, &mut held, &mut sent);
                }
                sent.extend_from_slice(&held);
            }
        }
        (_, _, Framing::H2EndStream) => {
            for (i, c) in chunks.iter().enumerate() {
                call(host, f, c, i + 1 == n, &mut held, &mut sent);
            }
        }
        (Kind::Envoy, _, Framing::H2Trailers) => {
            for c in chunks {
                call(host, f, c, false, &mut held, &mut sent);
            }
            host.st.in_trailers = true;
            host.st.buffer = std::mem::take(&mut held);
            host.st.phase = Phase::ResponseTrailers;
            let _ = match dir {
                Dir::Request => f.on_request_trailers(host),
                Dir::Response => f.on_response_trailers(host),
            };
            host.st.in_trailers = false;
            sent.extend_from_slice(&host.st.buffer);
        }
        (Kind::Ngx, _, Framing::H2Trailers) => {
            // no trailer callbacks: the data calls end with an eos=true 0-byte call
            for c in chunks {
                call(host, f, c, false, &mut held, &mut sent);
            }
            call(host, f, &[], true, &mut held, &mut sent);
        }
    }
    if host.kind == Kind::Ngx {
        assert!(
            !(host.st.paused && !held.is_empty() && framing == Framing::Chunked),
            "ngx left bytes paused"
        );
    }
    sent
}

pub fn run(kind: Kind, shared: &Rc<Shared>, names: &[String], ex: Exchange) -> Outcome {
    start_logs();
    let mut host = FakeHost {
        kind,
        st: State::default(),
    };
    host.st.unreadable = ex.unreadable_request;
    host.st.fail_header_writes = ex.fail_header_writes;
    let mut f = StreamFilter::new(shared.clone());
    host.st.req_headers.insert(":method".into(), ex.method.into());
    for (k, v) in &ex.req_headers {
        if host.st.req_headers.contains_key(*k) {
            host.st.extra_values.push((true, k.to_string(), v.clone()));
            continue;
        }
        host.st.req_headers.insert(k.to_string(), v.clone());
    }
    let req_len: usize = ex.req_chunks.iter().map(Vec::len).sum();
    if ex.req_framing == Framing::Length {
        host.st.req_headers.insert("content-length".into(), req_len.to_string());
    }
    let mut out = Outcome::default();
    let req_eos = ex.req_chunks.is_empty();
    let next = f.on_request_headers(&mut host, req_eos);
    if let Some((status, body)) = host.st.local_reply.clone() {
        out.client_status = status;
        out.client_body = body;
        out.counters = counters(&host, names);
        out.recorded = recorded(&host, names);
        return out;
    }
    assert_eq!(next, Next::Continue);
    out.req_headers = host.st.req_headers.clone();
    if !req_eos {
        host.st.phase = Phase::RequestBody;
        out.upstream_body = run_body(&mut host, &mut f, Dir::Request, &ex.req_chunks, ex.req_framing);
        host.st.unreadable = false;
        if let Some((status, body)) = host.st.local_reply.clone() {
            out.client_status = status;
            out.client_body = body;
            out.counters = counters(&host, names);
            out.recorded = recorded(&host, names);
            return out;
        }
    }
    host.st.phase = Phase::ResponseHeaders;
    host.st.pauses = 0;
    host.st.paused = false;
    host.st.resp_headers.insert(":status".into(), ex.status.to_string());
    for (k, v) in &ex.resp_headers {
        if host.st.resp_headers.contains_key(*k) {
            host.st.extra_values.push((false, k.to_string(), v.clone()));
            continue;
        }
        host.st.resp_headers.insert(k.to_string(), v.clone());
    }
    let resp_len: usize = ex.resp_chunks.iter().map(Vec::len).sum();
    if ex.resp_framing == Framing::Length {
        host.st
            .resp_headers
            .insert("content-length".into(), resp_len.to_string());
    }
    let resp_eos = ex.resp_chunks.is_empty();
    let next = f.on_response_headers(&mut host, resp_eos);
    assert_eq!(
        next == Next::Pause,
        host.st.local_reply.is_some(),
        "paused response headers without a local reply"
    );
    out.resp_headers = host.st.resp_headers.clone();
    if let Some((status, body)) = host.st.local_reply.clone() {
        out.client_status = status;
        out.client_body = body;
        out.counters = counters(&host, names);
        out.recorded = recorded(&host, names);
        return out;
    }
    out.client_status = ex.status;
    if !resp_eos {
        host.st.phase = Phase::ResponseBody;
        out.client_body = run_body(&mut host, &mut f, Dir::Response, &ex.resp_chunks, ex.resp_framing);
    }
    out.reset = host.st.reset;
    out.counters = counters(&host, names);
    out.recorded = recorded(&host, names);
    out.host_calls = host.st.calls.borrow().clone();
    out.headers_read = host.st.headers_read.borrow().clone();
    out.logs = take_logs();
    out
}

fn recorded(host: &FakeHost, names: &[String]) -> Vec<(String, u64)> {
    host.st
        .recorded
        .iter()
        .map(|(id, v)| (names[*id as usize].clone(), *v))
        .collect()
}

fn counters(host: &FakeHost, names: &[String]) -> BTreeMap<String, u64> {
    host.st
        .counters
        .iter()
        .map(|(id, n)| (names[*id as usize].clone(), *n))
        .collect()
}
