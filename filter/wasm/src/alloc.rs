//! The global allocator: the system allocator, counting the bytes the filter holds, so a stream
//! that would take the filter past its memory budget is blocked instead of the VM running out of
//! memory (which aborts it: on Envoy every later request fails until the VM is reloaded).
//!
//! Every allocation of the module goes through here: the filter's buffers and the memory the host
//! asks for through `proxy_on_memory_allocate` when it copies a body chunk or a header into the VM
//! (that copy cannot be refused, only counted). The count is of bytes requested, not of the
//! allocator's own overhead.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

static IN_USE: AtomicUsize = AtomicUsize::new(0);

/// Bytes currently allocated by the module.
pub fn in_use() -> usize {
    IN_USE.load(Ordering::Relaxed)
}

pub struct Counting;

// SAFETY: every call is forwarded to the system allocator with the caller's arguments unchanged;
// the counter is only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            IN_USE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            IN_USE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
            IN_USE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}
