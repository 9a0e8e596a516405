//! The measured unit of work of the engine benches (kept apart from `inputs.rs`, which the demo
//! upstream also includes to serve the same bodies).

/// Masks `input` in chunks of `chunk` bytes into `out` (the measured unit of work).
pub fn run(
    p: &std::sync::Arc<streammask_engine::Ruleset>,
    f: streammask_engine::Format,
    input: &[u8],
    chunk: usize,
    out: &mut Vec<u8>,
) {
    let mut m = streammask_engine::Masker::new(p.clone(), f);
    out.clear();
    for c in input.chunks(chunk) {
        m.push(c, out);
    }
    m.finish(out);
}
