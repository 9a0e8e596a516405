//! The proxy-wasm ABI calls the filter makes, declared here so that every status is returned, never
//! panicked on (the SDK's `hostcalls` panic on any unexpected status, which on NGINX lets the rest of
//! a body through raw and on Envoy turns the listener into a permanent 503).
//!
//! Only functions both Envoy and ngx_wasm_module implement are declared. In particular there is no
//! `proxy_get_log_level`: ngx_wasm_module cannot instantiate a module that imports it.

#![allow(unsafe_code)]

use std::ptr::null_mut;

pub const OK: u32 = 0;
pub const NOT_FOUND: u32 = 1;

pub const MAP_REQUEST_HEADERS: u32 = 0;
pub const MAP_RESPONSE_HEADERS: u32 = 2;
pub const BUFFER_REQUEST_BODY: u32 = 0;
pub const BUFFER_RESPONSE_BODY: u32 = 1;
pub const BUFFER_PLUGIN_CONFIGURATION: u32 = 7;
pub const METRIC_COUNTER: u32 = 0;
pub const METRIC_GAUGE: u32 = 1;
pub const METRIC_HISTOGRAM: u32 = 2;

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_pairs(map_type: u32, return_map_data: *mut *mut u8, return_map_size: *mut usize) -> u32;
    fn proxy_replace_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_remove_header_map_value(map_type: u32, key_data: *const u8, key_size: usize) -> u32;
    fn proxy_get_buffer_bytes(
        buffer_type: u32,
        start: usize,
        max_size: usize,
        return_buffer_data: *mut *mut u8,
        return_buffer_size: *mut usize,
    ) -> u32;
    fn proxy_set_buffer_bytes(
        buffer_type: u32,
        start: usize,
        size: usize,
        buffer_data: *const u8,
        buffer_size: usize,
    ) -> u32;
    fn proxy_send_local_response(
        status_code: u32,
        status_code_details_data: *const u8,
        status_code_details_size: usize,
        body_data: *const u8,
        body_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
    fn proxy_define_metric(metric_type: u32, name_data: *const u8, name_size: usize, return_id: *mut u32) -> u32;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
    fn proxy_record_metric(metric_id: u32, value: u64) -> u32;
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
    fn proxy_get_property(
        path_data: *const u8,
        path_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
}

/// Native builds (clippy, `cargo test` of the workspace) have no host: every call fails.
#[cfg(not(target_arch = "wasm32"))]
mod native {
    pub unsafe fn proxy_log(_: u32, _: *const u8, _: usize) -> u32 {
        10
    }
    pub unsafe fn proxy_get_header_map_value(_: u32, _: *const u8, _: usize, _: *mut *mut u8, _: *mut usize) -> u32 {
        10
    }
    pub unsafe fn proxy_get_header_map_pairs(_: u32, _: *mut *mut u8, _: *mut usize) -> u32 {
        10
    }
    pub unsafe fn proxy_replace_header_map_value(_: u32, _: *const u8, _: usize, _: *const u8, _: usize) -> u32 {
        10
    }
    pub unsafe fn proxy_remove_header_map_value(_: u32, _: *const u8, _: usize) -> u32 {
        10
    }
    pub unsafe fn proxy_get_buffer_bytes(_: u32, _: usize, _: usize, _: *mut *mut u8, _: *mut usize) -> u32 {
        10
    }
    pub unsafe fn proxy_set_buffer_bytes(_: u32, _: usize, _: usize, _: *const u8, _: usize) -> u32 {
        10
    }
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn proxy_send_local_response(
        _: u32,
        _: *const u8,
        _: usize,
        _: *const u8,
        _: usize,
        _: *const u8,
        _: usize,
        _: i32,
    ) -> u32 {
        10
    }
    pub unsafe fn proxy_define_metric(_: u32, _: *const u8, _: usize, _: *mut u32) -> u32 {
        10
    }
    pub unsafe fn proxy_increment_metric(_: u32, _: i64) -> u32 {
        10
    }
    pub unsafe fn proxy_record_metric(_: u32, _: u64) -> u32 {
        10
    }
    pub unsafe fn proxy_get_current_time_nanoseconds(_: *mut u64) -> u32 {
        10
    }
    pub unsafe fn proxy_get_property(_: *const u8, _: usize, _: *mut *mut u8, _: *mut usize) -> u32 {
        10
    }
}
#[cfg(not(target_arch = "wasm32"))]
use native::*;

fn status(s: u32) -> Result<(), u32> {
    if s == OK {
        Ok(())
    } else {
        Err(s)
    }
}

/// Takes ownership of memory the host allocated through `proxy_on_memory_allocate`.
///
/// # Safety
/// `data` must come from the SDK's allocator with exactly `size` bytes (or be null).
unsafe fn take(data: *mut u8, size: usize) -> Option<Vec<u8>> {
    if data.is_null() {
        None
    } else {
        Some(Vec::from_raw_parts(data, size, size))
    }
}

pub fn log(level: u32, msg: &str) {
    // A failed log cannot be reported anywhere; ignore it.
    let _ = unsafe { proxy_log(level, msg.as_ptr(), msg.len()) };
}

pub fn get_header(map: u32, key: &str) -> Result<Option<Vec<u8>>, u32> {
    let (mut data, mut size) = (null_mut(), 0usize);
    let s = unsafe { proxy_get_header_map_value(map, key.as_ptr(), key.len(), &mut data, &mut size) };
    match s {
        OK => Ok(Some(unsafe { take(data, size) }.unwrap_or_default())),
        NOT_FOUND => Ok(None),
        other => Err(other),
    }
}

/// Every value of header `key` (a header sent twice has two), from the whole header map: the
/// single-value call returns only the first one.
pub fn get_header_values(map: u32, key: &str) -> Result<Vec<Vec<u8>>, u32> {
    let (mut data, mut size) = (null_mut(), 0usize);
    let s = unsafe { proxy_get_header_map_pairs(map, &mut data, &mut size) };
    if s != OK {
        return Err(s);
    }
    let bytes = unsafe { take(data, size) }.unwrap_or_default();
    Ok(deserialize_pairs(&bytes)
        .into_iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(key.as_bytes()))
        .map(|(_, v)| v.to_vec())
        .collect())
}

/// Decodes the proxy-wasm header map encoding (see `serialize_headers`); a malformed map gives the
/// pairs decoded before the fault.
fn deserialize_pairs(b: &[u8]) -> Vec<(&[u8], &[u8])> {
    let u32_at = |i: usize| -> Option<usize> {
        let w = b.get(i..i + 4)?;
        Some(u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as usize)
    };
    let Some(n) = u32_at(0) else { return Vec::new() };
    let mut sizes = Vec::new();
    for k in 0..n.min(4096) {
        match (u32_at(4 + 8 * k), u32_at(8 + 8 * k)) {
            (Some(a), Some(v)) => sizes.push((a, v)),
            _ => return Vec::new(),
        }
    }
    let mut at = 4 + 8 * sizes.len();
    let mut out = Vec::new();
    for (kl, vl) in sizes {
        let (Some(k), Some(v)) = (b.get(at..at + kl), b.get(at + kl + 1..at + kl + 1 + vl)) else {
            break;
        };
        out.push((k, v));
        at += kl + 1 + vl + 1;
    }
    out
}

pub fn replace_header(map: u32, key: &str, value: &str) -> Result<(), u32> {
    status(unsafe { proxy_replace_header_map_value(map, key.as_ptr(), key.len(), value.as_ptr(), value.len()) })
}

pub fn remove_header(map: u32, key: &str) -> Result<(), u32> {
    status(unsafe { proxy_remove_header_map_value(map, key.as_ptr(), key.len()) })
}

pub fn get_buffer(buffer: u32, start: usize, max: usize) -> Result<Option<Vec<u8>>, u32> {
    let (mut data, mut size) = (null_mut(), 0usize);
    let s = unsafe { proxy_get_buffer_bytes(buffer, start, max, &mut data, &mut size) };
    match s {
        OK => Ok(unsafe { take(data, size) }),
        NOT_FOUND => Ok(None),
        other => Err(other),
    }
}

pub fn set_buffer(buffer: u32, start: usize, size: usize, data: &[u8]) -> Result<(), u32> {
    status(unsafe { proxy_set_buffer_bytes(buffer, start, size, data.as_ptr(), data.len()) })
}

/// The proxy-wasm header map encoding: count, (key len, value len) pairs, then NUL-terminated keys
/// and values.
fn serialize_headers(headers: &[(&str, &str)]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&(headers.len() as u32).to_le_bytes());
    for (k, v) in headers {
        b.extend_from_slice(&(k.len() as u32).to_le_bytes());
        b.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (k, v) in headers {
        b.extend_from_slice(k.as_bytes());
        b.push(0);
        b.extend_from_slice(v.as_bytes());
        b.push(0);
    }
    b
}

pub fn send_local_response(code: u32, headers: &[(&str, &str)], body: &[u8]) -> Result<(), u32> {
    let h = serialize_headers(headers);
    let details = "streammask";
    status(unsafe {
        proxy_send_local_response(
            code,
            details.as_ptr(),
            details.len(),
            body.as_ptr(),
            body.len(),
            h.as_ptr(),
            h.len(),
            -1,
        )
    })
}

pub fn define_metric(kind: u32, name: &str) -> Result<u32, u32> {
    let mut id = 0u32;
    status(unsafe { proxy_define_metric(kind, name.as_ptr(), name.len(), &mut id) })?;
    Ok(id)
}

pub fn record(id: u32, value: u64) -> Result<(), u32> {
    status(unsafe { proxy_record_metric(id, value) })
}

pub fn now_nanos() -> Result<u64, u32> {
    let mut t = 0u64;
    status(unsafe { proxy_get_current_time_nanoseconds(&mut t) })?;
    Ok(t)
}

pub fn increment(id: u32, by: i64) -> Result<(), u32> {
    status(unsafe { proxy_increment_metric(id, by) })
}

pub fn get_property(path: &[&str]) -> Result<Option<Vec<u8>>, u32> {
    let mut p = Vec::new();
    for seg in path {
        p.extend_from_slice(seg.as_bytes());
        p.push(0);
    }
    let (mut data, mut size) = (null_mut(), 0usize);
    let s = unsafe { proxy_get_property(p.as_ptr(), p.len(), &mut data, &mut size) };
    match s {
        OK => Ok(unsafe { take(data, size) }),
        NOT_FOUND => Ok(None),
        other => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_pairs_decode_what_serialize_writes() {
        let b = serialize_headers(&[
            ("content-type", "image/png"),
            ("x", ""),
            ("content-type", "application/json"),
        ]);
        let pairs = deserialize_pairs(&b);
        assert_eq!(pairs.len(), 3);
        assert_eq!(pairs[2], (&b"content-type"[..], &b"application/json"[..]));
        assert!(deserialize_pairs(&b[..b.len() - 5]).len() < 3);
    }
}
