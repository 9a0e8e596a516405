//! WebSocket frames: any bytes from either side, cut into reads anywhere, never panic, and carry
//! the same complete messages and passed frames as the same bytes in one read (the frames of an
//! unfinished message may be cut differently; what they carry is not compared).
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use streammask_engine::{Ruleset, WsMasker};

fn policy() -> &'static Arc<Ruleset> {
    static P: OnceLock<Arc<Ruleset>> = OnceLock::new();
    P.get_or_init(|| {
        Arc::new(
            Ruleset::from_json(
                r#"{"fields":[{"name":"f","keys":["user_id"]}],
                    "tokenize":{"key_id":"k","secret":"0123456789abcdef0123456789abcdef-fuzz"}}"#,
                &|_| None,
            )
            .expect("fuzz policy"),
        )
    })
}

#[derive(Debug, PartialEq)]
enum Seen {
    Text(Vec<u8>),
    Raw(Vec<u8>),
}

/// Complete text messages (unmasked, joined) and complete other frames, up to the first frame
/// that is not whole.
fn decode(mut b: &[u8]) -> Vec<Seen> {
    let mut seen = Vec::new();
    let mut msg: Option<Vec<u8>> = None;
    loop {
        if b.len() < 2 {
            return seen;
        }
        let (len, mut at) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (u64::from(u16::from_be_bytes([b[2], b[3]])), 4),
            127 if b.len() >= 10 => (u64::from_be_bytes(b[2..10].try_into().unwrap()), 10),
            126 | 127 => return seen,
            l => (u64::from(l), 2),
        };
        let key = if b[1] & 0x80 != 0 {
            if b.len() < at + 4 {
                return seen;
            }
            at += 4;
            Some([b[at - 4], b[at - 3], b[at - 2], b[at - 1]])
        } else {
            None
        };
        let Some(end) = usize::try_from(len).ok().and_then(|l| at.checked_add(l)) else { return seen };
        if b.len() < end {
            return seen;
        }
        let mut p = b[at..end].to_vec();
        if let Some(k) = key {
            p.iter_mut().enumerate().for_each(|(i, x)| *x ^= k[i % 4]);
        }
        let (fin, op, rsv) = (b[0] & 0x80 != 0, b[0] & 0x0f, b[0] & 0x70 != 0);
        match op {
            1 if !rsv && msg.is_none() => msg = Some(p),
            0 if !rsv && msg.is_some() => msg.as_mut().unwrap().extend_from_slice(&p),
            _ => seen.push(Seen::Raw(b[..end].to_vec())),
        }
        if fin && matches!(op, 0 | 1) && !rsv {
            if let Some(m) = msg.take() {
                seen.push(Seen::Text(m));
            }
        }
        b = &b[end..];
    }
}

fn run(input: &[u8], client: bool, sizes: u8) -> Vec<u8> {
    let mut ws = WsMasker::new(policy().clone(), client, 2048);
    let mut out = Vec::new();
    if sizes == 0 {
        ws.push(input, &mut out);
    } else {
        let (mut i, mut k) = (0usize, usize::from(sizes));
        while i < input.len() {
            let n = 1 + (k % 17);
            k = k.wrapping_mul(31).wrapping_add(7);
            let end = (i + n).min(input.len());
            ws.push(&input[i..end], &mut out);
            i = end;
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (ctl, input) = data.split_at(2);
    let client = ctl[0] & 1 == 1;
    let whole = decode(&run(input, client, 0));
    let cut = decode(&run(input, client, ctl[1] | 1));
    assert_eq!(cut, whole);
});
