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

/// The three forms of the PII-dense record corpus (issue 15).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordForm {
    /// `{"data":[record, ...]}`
    JsonArray,
    /// one record per line
    Ndjson,
    /// one log line per record, `key=value` pairs
    Text,
}

const FIRST: &[&str] = &[
    "Jane", "John", "Amira", "Lukas", "Mei", "Carlos", "Olga", "Tunde", "Priya", "Sven",
];
const LAST: &[&str] = &[
    "Doe", "Roe", "Haddad", "Schmidt", "Chen", "Garcia", "Ivanova", "Okafor", "Patel", "Berg",
];
const DOMAINS: &[&str] = &["example.com", "mail.example.net", "corp.example.org", "example.co.uk"];
const CITIES: &[&str] = &["Berlin", "Austin", "Lagos", "Pune", "Oslo", "Lyon"];
const STATUS: &[&str] = &["paid", "pending", "refunded", "failed"];

/// `n` random decimal digits.
fn digits(r: &mut Rng, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + (r.next() % 10) as u8)).collect()
}

/// A Luhn-valid 16-digit card number with a Visa or Mastercard prefix.
fn card(r: &mut Rng) -> String {
    let mut d: Vec<u8> = if r.next() & 1 == 0 {
        vec![4]
    } else {
        vec![5, 1 + (r.next() % 5) as u8]
    };
    while d.len() < 15 {
        d.push((r.next() % 10) as u8);
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = u32::from(x);
            if i % 2 == 0 {
                let y = x * 2;
                if y > 9 {
                    y - 9
                } else {
                    y
                }
            } else {
                x
            }
        })
        .sum();
    d.push(((10 - sum % 10) % 10) as u8);
    d.iter().map(|x| char::from(b'0' + x)).collect()
}

/// A German IBAN with valid check digits (ISO 13616 mod 97).
fn iban(r: &mut Rng) -> String {
    let bban = digits(r, 18);
    // check digits: (BBAN + "DE00") as numbers mod 97
    let rearranged = format!("{bban}131400");
    let rem = rearranged
        .bytes()
        .fold(0u32, |acc, b| (acc * 10 + u32::from(b - b'0')) % 97);
    format!("DE{:02}{bban}", 98 - rem)
}

/// One record of a user or payment API, ~600 bytes as JSON: an id, a timestamp, a name, an email
/// address, a phone number, a card, an IBAN, an SSN, an amount and some clean fields.
fn record(r: &mut Rng, i: u64) -> Vec<(&'static str, String, bool)> {
    let (first, last) = (r.pick(FIRST), r.pick(LAST));
    let uuid = format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        r.next() as u32,
        r.next() as u16,
        r.next() % 0x1000,
        0x8000 | (r.next() % 0x4000),
        r.next() % (1 << 48)
    );
    let card = card(r);
    let card = if r.next() & 1 == 0 {
        format!("{} {} {} {}", &card[..4], &card[4..8], &card[8..12], &card[12..])
    } else {
        card
    };
    let iban = iban(r);
    let iban = format!(
        "{} {} {} {} {} {}",
        &iban[..4],
        &iban[4..8],
        &iban[8..12],
        &iban[12..16],
        &iban[16..20],
        &iban[20..]
    );
    let ssn = format!(
        "{:03}-{:02}-{:04}",
        100 + r.next() % 565,
        10 + r.next() % 89,
        1000 + r.next() % 8999
    );
    let phone = format!(
        "+1 ({}{}) {}{}-{}",
        2 + r.next() % 8,
        digits(r, 2),
        2 + r.next() % 8,
        digits(r, 2),
        digits(r, 4)
    );
    // (name, value, quoted as a JSON string)
    vec![
        ("id", uuid, true),
        ("seq", i.to_string(), false),
        (
            "created_at",
            format!(
                "2024-11-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                1 + r.next() % 28,
                r.next() % 24,
                r.next() % 60,
                r.next() % 60,
                r.next() % 1000
            ),
            true,
        ),
        ("name", format!("{first} {last}"), true),
        (
            "email",
            format!("{}.{}@{}", first.to_lowercase(), last.to_lowercase(), r.pick(DOMAINS)),
            true,
        ),
        ("phone", phone, true),
        ("card", card, true),
        ("iban", iban, true),
        ("ssn", ssn, true),
        ("amount", format!("{}.{:02}", r.next() % 5000, r.next() % 100), false),
        ("currency", "EUR".into(), true),
        ("status", r.pick(STATUS).into(), true),
        ("city", r.pick(CITIES).into(), true),
        ("order", format!("ORD-{}", digits(r, 8)), true),
        (
            "version",
            format!("{}.{}.{}", r.next() % 4, r.next() % 20, r.next() % 50),
            true,
        ),
        (
            "note",
            format!(
                "customer {} asked about invoice {} on {}",
                r.pick(WORDS),
                digits(r, 6),
                r.pick(WORDS)
            ),
            true,
        ),
    ]
}

/// The PII-dense corpus: API records of ~600 bytes (JSON) in which every record carries an
/// email, a phone number, a card, an IBAN and an SSN (nine values of interest per record, with
/// the UUID, timestamp, version and order number as look-alikes), generated with a fixed seed.
pub fn records(size: usize, form: RecordForm) -> Vec<u8> {
    let mut r = Rng::new(0x0dd_5eed);
    let mut out = Vec::with_capacity(size + 1024);
    if form == RecordForm::JsonArray {
        out.extend_from_slice(b"{\"data\":[");
    }
    let mut i = 0u64;
    while out.len() < size {
        i += 1;
        let fields = record(&mut r, i);
        let line = match form {
            RecordForm::JsonArray | RecordForm::Ndjson => {
                let body: Vec<String> = fields
                    .iter()
                    .map(|(k, v, q)| {
                        if *q {
                            format!("\"{k}\":\"{v}\"")
                        } else {
                            format!("\"{k}\":{v}")
                        }
                    })
                    .collect();
                format!("{{{}}}", body.join(","))
            }
            RecordForm::Text => {
                let body: Vec<String> = fields.iter().map(|(k, v, _)| format!("{k}={v}")).collect();
                body.join(" ")
            }
        };
        match form {
            RecordForm::JsonArray => {
                if i > 1 {
                    out.push(b',');
                }
                out.extend_from_slice(line.as_bytes());
            }
            RecordForm::Ndjson | RecordForm::Text => {
                out.extend_from_slice(line.as_bytes());
                out.push(b'\n');
            }
        }
    }
    if form == RecordForm::JsonArray {
        out.extend_from_slice(b"]}");
    }
    out
}

/// The 5-rule policy of issue 15's figures: cards, emails, SSNs, IBANs, phone numbers.
pub const FIVE_RULES: &str = include_str!("five-rules.json");
