//! The host seam: the only host functions the filter may call, all fallible.
//!
//! Every function here exists on both Envoy and ngx_wasm_module (see `docs/hosts.md`); there is
//! deliberately no `get_log_level` (ngx_wasm_module cannot even load a module importing it), no
//! `close_stream`, no `continue_response` and no trailer writes. Bodies are always read whole from
//! offset 0 and written as a full replacement, the one form both hosts agree on.
//!
//! # Invariants
//! - Every host call returns a [`HostResult`]: the filter decides what a failure means (a counter
//!   lost, a stream refused), and nothing here panics on a status.
//! - The seam is the same for every host; what differs is only [`Caps`], and an unknown host gets
//!   [`Caps::PORTABLE`] (one Pause, no local reply from a response body callback).
//! - `memory_in_use` and `vm_memory_bytes` are not host calls; where unknown they are 0, which
//!   never trips `limits.max_memory_bytes`.

use std::fmt;

/// Which body or header map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    Request,
    Response,
}

impl Dir {
    /// `request` or `response` (metric labels, logs).
    pub fn name(self) -> &'static str {
        match self {
            Dir::Request => "request",
            Dir::Response => "response",
        }
    }
}

/// Logging goes through the `log` facade; the glue installs a logger that writes to the host's
/// log (`proxy_log`), the tests one that records per thread. The host filters by its own level
/// (the filter never asks the host for it: `proxy_get_log_level` is not imported). Messages never
/// hold matched values or body bytes. A record with this target is written at the host's
/// `critical` level, which the `log` crate does not have.
pub const CRITICAL: &str = "streammask::critical";

/// A host call failed (the host's status code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostError(pub u32);

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host call failed with status {}", self.0)
    }
}

/// The result of a host call.
pub type HostResult<T> = Result<T, HostError>;

/// What a filter may ask of the proxy while a stream is processed.
pub trait Host {
    /// A header (or pseudo-header such as `:status`) value.
    fn header(&self, dir: Dir, name: &str) -> HostResult<Option<String>>;
    /// Every value of a header that may be sent more than once (`content-type` twice): hosts
    /// answer [`header`](Host::header) with the first value only. The default asks for that one.
    fn header_values(&self, dir: Dir, name: &str) -> HostResult<Vec<String>> {
        Ok(self.header(dir, name)?.into_iter().collect())
    }
    /// Replaces (or adds) a header.
    fn set_header(&mut self, dir: Dir, name: &str, value: &str) -> HostResult<()>;
    /// Removes a header.
    fn remove_header(&mut self, dir: Dir, name: &str) -> HostResult<()>;
    /// The current body chunk: always read from offset 0, `size` bytes (the callback's size).
    fn body(&self, dir: Dir, size: usize) -> HostResult<Option<Vec<u8>>>;
    /// Replaces the whole current body chunk.
    fn set_body(&mut self, dir: Dir, data: &[u8]) -> HostResult<()>;
    /// Sends a local reply: from request or response headers (a clean status), or from a body
    /// callback only on a host where that resets the stream (Envoy: `Caps::local_reply_resets_stream`;
    /// on ngx_wasm_module it would trap, so the filter drops the rest of the body instead).
    fn send_response(&mut self, status: u32, headers: &[(&str, &str)], body: &[u8]) -> HostResult<()>;
    /// Adds to a counter defined at configuration time.
    fn increment(&mut self, metric: u32, by: u64) -> HostResult<()>;
    /// Sets a gauge, or adds a value to a histogram, defined at configuration time.
    fn record(&mut self, metric: u32, value: u64) -> HostResult<()>;
    /// The host's clock in nanoseconds (`proxy_get_current_time_nanoseconds`: Envoy's system
    /// clock; ngx_wasm_module's cached time of day, millisecond steps on older versions). Only
    /// differences are used, for the per-body processing time histogram.
    fn now_nanos(&self) -> HostResult<u64>;
    /// Bytes the filter holds in this VM now (its counting allocator; not a host call; 0 where
    /// unknown): checked against `limits.max_memory_bytes`.
    fn memory_in_use(&self) -> u64 {
        0
    }
    /// Size of this VM's linear memory in bytes (not a host call; 0 where unknown).
    fn vm_memory_bytes(&self) -> u64 {
        0
    }
}

/// Root-level host functions (configuration time).
pub trait RootHost {
    /// Defines a counter and returns its id.
    fn define_counter(&mut self, name: &str) -> HostResult<u32>;
    /// Defines a gauge and returns its id.
    fn define_gauge(&mut self, name: &str) -> HostResult<u32>;
    /// Defines a histogram and returns its id (Envoy: its default buckets; ngx_wasm_module:
    /// powers of two).
    fn define_histogram(&mut self, name: &str) -> HostResult<u32>;
    /// Size of this VM's linear memory in bytes (not a host call; 0 where unknown).
    fn vm_memory_bytes(&self) -> u64 {
        0
    }
}

/// What the running host can do beyond the portable core, detected once per VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Repeated `Pause` on body callbacks holds bytes in the proxy, and a paused body can still be
    /// rewritten from the trailers callback (Envoy). ngx_wasm_module honours a single Pause only.
    pub repeated_body_pause: bool,
    /// A local reply sent from a response body callback resets the stream (Envoy); on
    /// ngx_wasm_module it traps, so it must never be called there.
    pub local_reply_resets_stream: bool,
    /// After a WebSocket upgrade the body callbacks carry the frames of both directions (Envoy
    /// with `upgrade_configs`). ngx_wasm_module's body callbacks come from NGINX's body filter
    /// chain, which an upgraded connection bypasses, so it is assumed not to.
    pub websocket_frames: bool,
}

impl Caps {
    /// Envoy's semantics.
    pub const ENVOY: Caps = Caps {
        repeated_body_pause: true,
        local_reply_resets_stream: true,
        websocket_frames: true,
    };
    /// ngx_wasm_module's semantics (and the safe default for an unknown host).
    pub const PORTABLE: Caps = Caps {
        repeated_body_pause: false,
        local_reply_resets_stream: false,
        websocket_frames: false,
    };
}
