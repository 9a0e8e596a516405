//! # streammask-proxy
//!
//! The HTTP side of the streammask filter, written against a small host seam ([`host::Host`]) so it
//! runs natively in tests against fake hosts with Envoy's and ngx_wasm_module's semantics, and in
//! the proxy through the thin proxy-wasm glue in `filter/wasm`. No proxy-wasm dependency here.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod decode;
pub mod host;
pub mod metrics;
pub mod policy;
pub mod root;
pub mod stream;

pub use host::{Caps, Dir, Host, HostError, HostResult, RootHost, CRITICAL};
pub use metrics::Metrics;
pub use stream::{Next, Shared, StreamFilter};
