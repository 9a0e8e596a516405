//! A wasm HTTP filter that creates a context per stream and returns `Continue` from every callback:
//! what Envoy's wasm machinery costs before a filter does any work (the load bench's fourth listener).

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::ContextType;

struct Noop;

impl Context for Noop {}
impl HttpContext for Noop {}

struct Root;

impl Context for Root {}
impl RootContext for Root {
    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Noop))
    }
}

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root) });
}}
