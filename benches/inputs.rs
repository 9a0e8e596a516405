//! Realistic bench inputs, generated deterministically. "clean" has at most one sensitive value per
//! 4 KiB, "dense" one per 256 bytes.

#![allow(dead_code)]

/// A small deterministic PRNG (xorshift), so inputs are the same on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "the",
    "order",
    "was",
    "shipped",
    "to",
    "customer",
    "account",
    "balance",
    "status",
    "active",
    "pending",
    "request",
    "latency",
    "region",
    "eu-west-1",
    "service",
    "checkout",
    "version",
    "2.4.1",
    "total",
    "42",
    "items",
    "cart",
    "session",
    "retry",
    "timeout",
    "ok",
    "user",
    "profile",
    "updated",
    "2024-11-30T12:00:00Z",
];

const SENSITIVE: &[&str] = &[
    "4111 1111 1111 1111",
    "jane.doe@example.com",
    "123-45-6789",
    "+1 (415) 555-2671",
    "DE89 3704 0044 0532 0130 00",
    "5555555555554444",
    "203.0.113.42",
];

fn fill(size: usize, every: usize, mut piece: impl FnMut(&mut Rng, bool) -> String) -> Vec<u8> {
    let mut r = Rng::new(0x5eed);
    let mut out = Vec::with_capacity(size + 256);
    let mut next_secret = every;
    while out.len() < size {
        let secret = out.len() >= next_secret;
        if secret {
            next_secret += every;
        }
        out.extend_from_slice(piece(&mut r, secret).as_bytes());
    }
    out.truncate(size);
    out
}

pub fn text(size: usize, every: usize) -> Vec<u8> {
    let mut words = 0;
    fill(size, every, |r, secret| {
        words += 1;
        let mut s = if secret {
            format!("{} ", r.pick(SENSITIVE))
        } else {
            format!("{} ", r.pick(WORDS))
        };
        if words % 14 == 0 {
            s.push('\n');
        }
        s
    })
}

pub fn json(size: usize, every: usize) -> Vec<u8> {
    let mut body = b"{\"items\":[".to_vec();
    let mut i = 0u64;
    let inner = fill(size.saturating_sub(16), every, |r, secret| {
        i += 1;
        let note = if secret {
            r.pick(SENSITIVE).to_string()
        } else {
            format!("{} {}", r.pick(WORDS), r.pick(WORDS))
        };
        format!(
            "{{\"id\":{i},\"sku\":\"SKU-{:06}\",\"status\":\"{}\",\"price\":{}.{:02},\"note\":\"{note}\",\"tags\":[\"{}\",\"{}\"],\"ok\":true}},",
            r.next() % 1_000_000,
            r.pick(WORDS),
            r.next() % 500,
            r.next() % 100,
            r.pick(WORDS),
            r.pick(WORDS)
        )
    });
    body.extend_from_slice(&inner);
    while body.last() != Some(&b',') && !body.is_empty() {
        body.pop();
    }
    body.pop();
    body.extend_from_slice(b"]}");
    body
}

pub fn ndjson(size: usize, every: usize) -> Vec<u8> {
    let mut out = fill(size, every, |r, secret| {
        let msg = if secret {
            format!("payment by {}", r.pick(SENSITIVE))
        } else {
            format!("{} {} {}", r.pick(WORDS), r.pick(WORDS), r.pick(WORDS))
        };
        format!(
            "{{\"ts\":\"2024-11-30T12:00:{:02}.{:03}Z\",\"level\":\"info\",\"svc\":\"{}\",\"msg\":\"{msg}\",\"latency_ms\":{}}}\n",
            r.next() % 60,
            r.next() % 1000,
            r.pick(WORDS),
            r.next() % 900
        )
    });
    while out.last() != Some(&b'\n') && !out.is_empty() {
        out.pop();
    }
    out
}

pub fn sse(size: usize, every: usize) -> Vec<u8> {
    let mut n = 0;
    let mut out = fill(size, every, |r, secret| {
        n += 1;
        let v = if secret {
            r.pick(SENSITIVE).to_string()
        } else {
            r.pick(WORDS).to_string()
        };
        format!(
            "id: {n}\nevent: update\ndata: {{\"seq\":{n},\"field\":\"{v}\",\"delta\":\"{} {}\"}}\n\n",
            r.pick(WORDS),
            r.pick(WORDS)
        )
    });
    while !out.ends_with(b"\n\n") && !out.is_empty() {
        out.pop();
    }
    out
}

/// Long digit runs and near-miss numbers (Luhn failures, dates, versions, order numbers).
pub fn adversarial(size: usize) -> Vec<u8> {
    fill(size, usize::MAX, |r, _| match r.next() % 6 {
        0 => "4111 1111 1111 1112 ".to_string(),
        1 => format!("{} ", r.next()),
        2 => "2024-11-30 ".to_string(),
        3 => "1234567890123456789012345678901234567890 ".to_string(),
        4 => "v1.2.3.4 ".to_string(),
        _ => "ORD-2024-000123 ".to_string(),
    })
}

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
