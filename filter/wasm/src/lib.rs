//! streammask.wasm: the proxy-wasm entry points. Everything here is glue: callbacks are forwarded to
//! `streammask_proxy::StreamFilter`, host calls go through [`abi`], which returns every status.

mod abi;
mod alloc;

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};
use std::rc::Rc;
use streammask_proxy::{root, Caps, Dir, Host, HostError, HostResult, Next, RootHost, Shared, StreamFilter, CRITICAL};

/// The `log` facade's records, written to the host's log (`proxy_log`). The host applies its own
/// level; `proxy_get_log_level` is never imported (ngx_wasm_module does not have it).
struct HostLogger;

impl log::Log for HostLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let level = if record.target() == CRITICAL {
            5
        } else {
            match record.level() {
                log::Level::Trace => 0,
                log::Level::Debug => 1,
                log::Level::Info => 2,
                log::Level::Warn => 3,
                log::Level::Error => 4,
            }
        };
        match record.args().as_str() {
            Some(s) => abi::log(level, s),
            None => abi::log(level, &record.args().to_string()),
        }
    }

    fn flush(&self) {}
}

static LOGGER: HostLogger = HostLogger;

fn map(d: Dir) -> u32 {
    match d {
        Dir::Request => abi::MAP_REQUEST_HEADERS,
        Dir::Response => abi::MAP_RESPONSE_HEADERS,
    }
}

fn buffer(d: Dir) -> u32 {
    match d {
        Dir::Request => abi::BUFFER_REQUEST_BODY,
        Dir::Response => abi::BUFFER_RESPONSE_BODY,
    }
}

/// The real host, through the fallible ABI layer.
struct WasmHost;

impl Host for WasmHost {
    fn header(&self, dir: Dir, name: &str) -> HostResult<Option<String>> {
        abi::get_header(map(dir), name)
            .map(|v| v.map(|b| String::from_utf8_lossy(&b).into_owned()))
            .map_err(HostError)
    }
    fn header_values(&self, dir: Dir, name: &str) -> HostResult<Vec<String>> {
        abi::get_header_values(map(dir), name)
            .map(|v| {
                v.into_iter()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .collect()
            })
            .map_err(HostError)
    }
    fn set_header(&mut self, dir: Dir, name: &str, value: &str) -> HostResult<()> {
        abi::replace_header(map(dir), name, value).map_err(HostError)
    }
    fn remove_header(&mut self, dir: Dir, name: &str) -> HostResult<()> {
        abi::remove_header(map(dir), name).map_err(HostError)
    }
    fn body(&self, dir: Dir, size: usize) -> HostResult<Option<Vec<u8>>> {
        // Always from offset 0 and the whole chunk (ngx_wasm_module ignores the start and corrupts
        // memory on partial reads of multi-buffer chains).
        abi::get_buffer(buffer(dir), 0, size).map_err(HostError)
    }
    fn set_body(&mut self, dir: Dir, data: &[u8]) -> HostResult<()> {
        // The one write form both hosts agree on: replace from 0, everything.
        abi::set_buffer(buffer(dir), 0, i32::MAX as usize, data).map_err(HostError)
    }
    fn send_response(&mut self, status: u32, headers: &[(&str, &str)], body: &[u8]) -> HostResult<()> {
        abi::send_local_response(status, headers, body).map_err(HostError)
    }
    fn increment(&mut self, metric: u32, by: u64) -> HostResult<()> {
        abi::increment(metric, i64::try_from(by).unwrap_or(i64::MAX)).map_err(HostError)
    }
    fn record(&mut self, metric: u32, value: u64) -> HostResult<()> {
        abi::record(metric, value).map_err(HostError)
    }
    fn now_nanos(&self) -> HostResult<u64> {
        abi::now_nanos().map_err(HostError)
    }
    fn memory_in_use(&self) -> u64 {
        alloc::in_use() as u64
    }
    fn vm_memory_bytes(&self) -> u64 {
        linear_memory()
    }
}

impl RootHost for WasmHost {
    fn define_counter(&mut self, name: &str) -> HostResult<u32> {
        abi::define_metric(abi::METRIC_COUNTER, name).map_err(HostError)
    }
    fn define_gauge(&mut self, name: &str) -> HostResult<u32> {
        abi::define_metric(abi::METRIC_GAUGE, name).map_err(HostError)
    }
    fn define_histogram(&mut self, name: &str) -> HostResult<u32> {
        abi::define_metric(abi::METRIC_HISTOGRAM, name).map_err(HostError)
    }
    fn vm_memory_bytes(&self) -> u64 {
        linear_memory()
    }
}

/// The VM's linear memory in bytes (0 natively).
fn linear_memory() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::memory_size(0) as u64 * 65536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

/// Envoy answers `plugin_vm_id`; ngx_wasm_module does not. Unknown hosts get the portable behaviour.
fn detect_caps() -> Caps {
    match abi::get_property(&["plugin_vm_id"]) {
        Ok(Some(_)) => Caps::ENVOY,
        _ => Caps::PORTABLE,
    }
}

struct Root {
    shared: Option<Rc<Shared>>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, size: usize) -> bool {
        let config = match abi::get_buffer(abi::BUFFER_PLUGIN_CONFIGURATION, 0, size) {
            Ok(c) => c.unwrap_or_default(),
            Err(s) => {
                abi::log(
                    4,
                    &format!("streammask: cannot read the plugin configuration (status {s})"),
                );
                return false;
            }
        };
        let caps = detect_caps();
        let env = |k: &str| std::env::var(k).ok();
        match root::configure(&mut WasmHost, &config, &env, caps) {
            Some(s) => {
                self.shared = Some(Rc::new(s));
                true
            }
            None => false,
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        // The SDK panics on None: an unconfigured filter gets a context that refuses every request.
        Some(Box::new(Http {
            filter: self.shared.clone().map(StreamFilter::new),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Http {
    filter: Option<StreamFilter>,
}

fn action(n: Next) -> Action {
    match n {
        Next::Continue => Action::Continue,
        Next::Pause => Action::Pause,
    }
}

impl Context for Http {}

impl HttpContext for Http {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        match self.filter.as_mut() {
            Some(f) => action(f.on_request_headers(&mut WasmHost, end_of_stream)),
            None => {
                // Fail closed: no policy, no traffic.
                let _ =
                    abi::send_local_response(503, &[("content-type", "text/plain")], b"streammask: not configured\n");
                Action::Pause
            }
        }
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.filter.as_mut().map_or(Action::Pause, |f| {
            action(f.on_request_body(&mut WasmHost, body_size, end_of_stream))
        })
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        self.filter
            .as_mut()
            .map_or(Action::Pause, |f| action(f.on_request_trailers(&mut WasmHost)))
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.filter.as_mut().map_or(Action::Continue, |f| {
            action(f.on_response_headers(&mut WasmHost, end_of_stream))
        })
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.filter.as_mut().map_or(Action::Continue, |f| {
            action(f.on_response_body(&mut WasmHost, body_size, end_of_stream))
        })
    }

    fn on_http_response_trailers(&mut self, _num_trailers: usize) -> Action {
        self.filter
            .as_mut()
            .map_or(Action::Continue, |f| action(f.on_response_trailers(&mut WasmHost)))
    }
}

proxy_wasm::main! {{
    // Fails only if a logger is already set (a second start of the same VM): that one stays.
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Trace);
    }
    std::panic::set_hook(Box::new(|info| {
        // Never echo payloads: panic messages here come from our own code paths only.
        abi::log(5, &format!("streammask: panic: {info}"));
    }));
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root { shared: None }) });
}}
