//! demo-upstream: a small HTTP/1.1 + h2c server with fake personal data, for the demo and the
//! end-to-end tests. Every value here is fictitious (test card numbers, example.com addresses).
//!
//!   demo-upstream [--port N]   (default 8081; 0 picks a free port; the port is printed on stdout)
//!
//! Routes:
//!   GET  /api/users            JSON API response
//!   GET  /logs.ndjson          NDJSON log stream (?lines=N&delay_ms=D)
//!   GET  /events               SSE stream (?n=N&delay_ms=D), one event per interval
//!   GET  /text                 plain text
//!   GET  /bytes                the text in 1-byte chunks
//!   GET  /split                a card number split across two chunks with a pause between
//!   GET  /gzip                 the JSON response gzip-compressed (content-encoding: gzip)
//!   GET  /deflate              the same with content-encoding: deflate
//!   GET  /brotli               the JSON response brotli-compressed (content-encoding: br)
//!   GET  /zstd                 the JSON response zstd-compressed (content-encoding: zstd)
//!   GET  /compress             content-encoding: compress (not decodable by the filter)
//!   GET  /gzip-corrupt         a gzip body damaged in the middle (decoding fails mid-stream)
//!   GET  /empty                204 No Content
//!   GET  /big?mb=N             N MiB of streamed text with a card every 64 KiB
//!   GET  /trailers             JSON body followed by HTTP trailers (needs HTTP/2 or te: trailers)
//!   GET  /sized?bytes=N        a JSON body of exactly N bytes, one card and email per ~4 KiB
//!   GET  /records?bytes=N&form=F  about N bytes of PII-dense API records (the bench corpus of
//!                              `benches/inputs.rs`): F = json (an array), ndjson or text
//!   GET  /length               the JSON response with a Content-Length, sent in several writes
//!   POST /record/ID            stores the request body (ID is any name) and answers its size
//!   GET  /record/ID            returns what was stored, exactly as received (?ct=TYPE sets the
//!                              content-type, default application/octet-stream; ?ct2=TYPE adds a
//!                              second content-type header)
//!   POST /count                answers the number of body bytes received (for huge uploads)
//!   ANY  /meta/ID...           stores the request line and headers as received (and answers with
//!                              a set-cookie carrying a test card number)
//!   GET  /meta-read/ID         returns what /meta/ID stored
//!   GET  /bomb?enc=E&mb=N      N MiB (a card, then zeros) compressed with gzip, deflate, br or zstd
//!   GET  /truncated-gzip       a gzip body cut before its end
//!   GET  /gzip-big?mb=N        N MiB of log-like text, gzip-compressed, sent in one write
//!   GET  /mid-value            a JSON body that ends inside a card number
//!   GET  /reset                part of a body, then the connection is torn down
//!   GET  /short-length         a content-length of 100000 with 5000 bytes sent
//!   GET  /tiny?n=N             N one-byte chunks

#[path = "../../benches/inputs.rs"]
mod inputs;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = http_body_util::combinators::BoxBody<Bytes, BoxError>;
type Store = Arc<Mutex<HashMap<String, Vec<u8>>>>;

pub const USERS_JSON: &str = r#"{"users":[{"user_id":"u-1001","name":"Jane Doe","email":"jane.doe@example.com","phone":"+1 (415) 555-2671","card":"4111 1111 1111 1111","ssn":"123-45-6789","iban":"DE89 3704 0044 0532 0130 00","plan":"pro","created":"2024-11-30T12:00:00Z","id":"550e8400-e29b-41d4-a716-446655440000"},{"user_id":"u-1002","name":"John Roe","email":"John.Roe@Example.org","phone":"+44 20 7946 0958","card":5555555555554444,"ssn":"078-05-1120","notes":"paid with 4000-0566-5566-5556 via jroe@mail.example.net","plan":"free","version":"1.2.3"}],"total":2,"request_ip":"203.0.113.42"}"#;

pub const TEXT: &str = "Order ORD-2024-000123 for jane.doe@example.com\ncard 4111 1111 1111 1111 exp 12/29, ssn 123-45-6789\ncall +1 (415) 555-2671 from 203.0.113.42\nkey AKIAIOSFODNN7EXAMPLE\nclean line: version 1.2.3, total $1,234.56, id 550e8400-e29b-41d4-a716-446655440000\n";

fn full(status: StatusCode, ct: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).map_err(|never| match never {}).boxed());
    *r.status_mut() = status;
    if !ct.is_empty() {
        if let Ok(v) = ct.parse() {
            r.headers_mut().insert("content-type", v);
        }
    }
    r
}

fn streamed(ct: &str) -> (mpsc::Sender<Frame<Bytes>>, Response<Body>) {
    let (tx, rx) = mpsc::channel::<Frame<Bytes>>(8);
    let mut r = Response::new(BodyExt::boxed(RecvStream(rx)));
    if let Ok(v) = ct.parse() {
        r.headers_mut().insert("content-type", v);
    }
    (tx, r)
}

/// A streamed body that can fail: an error item aborts the connection mid-body (an upstream reset).
fn streamed_fallible(ct: &str) -> (mpsc::Sender<Result<Frame<Bytes>, BoxError>>, Response<Body>) {
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, BoxError>>(8);
    let mut r = Response::new(BodyExt::boxed(FallibleStream(rx)));
    if let Ok(v) = ct.parse() {
        r.headers_mut().insert("content-type", v);
    }
    (tx, r)
}

/// An mpsc receiver of frames as a response body.
struct RecvStream(mpsc::Receiver<Frame<Bytes>>);

impl hyper::body::Body for RecvStream {
    type Data = Bytes;
    type Error = BoxError;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.0.poll_recv(cx).map(|o| o.map(Ok))
    }
}

/// An mpsc receiver of frames or errors as a response body.
struct FallibleStream(mpsc::Receiver<Result<Frame<Bytes>, BoxError>>);

impl hyper::body::Body for FallibleStream {
    type Data = Bytes;
    type Error = BoxError;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.0.poll_recv(cx)
    }
}

fn query(req: &Request<Incoming>, key: &str, default: u64) -> u64 {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(default)
}

/// A query parameter as text (`%XX` and `+` decoded).
fn query_text(req: &Request<Incoming>, key: &str) -> Option<String> {
    let q = req.uri().query()?;
    let (_, v) = q
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)?;
    let v = v.replace('+', " ");
    let mut out = Vec::new();
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(x) = v.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(x);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// `mb` MiB (a card, then zeros) compressed with `enc`, made once per size and coding.
fn bomb(enc: &str, mb: usize) -> Bytes {
    static CACHE: std::sync::OnceLock<Mutex<HashMap<(String, usize), Bytes>>> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(b) = cache.lock().ok().and_then(|c| c.get(&(enc.to_string(), mb)).cloned()) {
        return b;
    }
    let mut plain = b"4111111111111111 ".to_vec();
    plain.resize(mb << 20, 0);
    let z = match enc {
        "deflate" => zlib(&plain),
        "br" => brotli_compress(&plain),
        "zstd" => zstd_compress(&plain),
        _ => gzip(&plain),
    };
    let b = Bytes::from(z);
    if let Ok(mut c) = cache.lock() {
        c.insert((enc.to_string(), mb), b.clone());
    }
    b
}

fn brotli_compress(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 64 << 10, 5, 22);
        let _ = w.write_all(data);
    }
    out
}

fn zstd_compress(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

/// A deterministic JSON body of exactly `n` bytes (n >= 16), mostly clean records.
fn sized_body(n: usize) -> Vec<u8> {
    let mut out = b"[".to_vec();
    let mut i = 0u64;
    while out.len() < n {
        let note = if i % 30 == 29 {
            "paid with 4111 1111 1111 1111 by jane.doe@example.com".to_string()
        } else {
            format!("order {} shipped to warehouse {} status ok", 100000 + i, i % 17)
        };
        out.extend_from_slice(
            format!(
                "{{\"id\":{i},\"sku\":\"SKU-{:06}\",\"qty\":{},\"note\":\"{note}\",\"ok\":true}},",
                i * 7919 % 1000000,
                i % 9
            )
            .as_bytes(),
        );
        i += 1;
    }
    out.truncate(n.max(16) - 2);
    // close the JSON: drop a partial record, then end the array
    while out.len() > 1 && out.last() != Some(&b'}') {
        out.pop();
    }
    out.push(b']');
    while out.len() < n {
        out.insert(out.len() - 1, b' ');
    }
    out
}

async fn handle(req: Request<Incoming>, store: Store) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let resp = match (method.as_str(), path.as_str()) {
        ("GET" | "HEAD", "/api/users") => full(StatusCode::OK, "application/json", USERS_JSON),
        ("GET", "/text") => full(StatusCode::OK, "text/plain; charset=utf-8", TEXT),
        ("GET", "/logs.ndjson") => {
            let lines = query(&req, "lines", 5);
            let delay = query(&req, "delay_ms", 50);
            let (tx, r) = streamed("application/x-ndjson");
            tokio::spawn(async move {
                for i in 0..lines {
                    let line = format!(
                        "{{\"ts\":\"2024-11-30T12:00:{:02}Z\",\"level\":\"info\",\"user_id\":\"u-{}\",\"msg\":\"login by user{}@example.com from 198.51.100.{}\",\"card\":\"4111-1111-1111-1111\",\"latency_ms\":{}}}\n",
                        i % 60, 1000 + i, i, i % 250, 10 + i
                    );
                    if tx.send(Frame::data(Bytes::from(line))).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
            });
            r
        }
        ("GET", "/events") => {
            let n = query(&req, "n", 3);
            let delay = query(&req, "delay_ms", 1000);
            let (tx, mut r) = streamed("text/event-stream");
            r.headers_mut()
                .insert("cache-control", hyper::header::HeaderValue::from_static("no-cache"));
            tokio::spawn(async move {
                for i in 0..n {
                    let ev = format!(
                        "id: {i}\nevent: payment\ndata: {{\"seq\":{i},\"email\":\"buyer{i}@example.com\",\"card\":\"4111 1111 1111 1111\",\"sent_ms\":{}}}\n\n",
                        std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_millis())
                            .unwrap_or(0)
                    );
                    if tx.send(Frame::data(Bytes::from(ev))).await.is_err() {
                        return;
                    }
                    if i + 1 < n {
                        tokio::time::sleep(Duration::from_millis(delay)).await;
                    }
                }
            });
            r
        }
        ("GET", "/bytes") => {
            let (tx, r) = streamed("text/plain");
            tokio::spawn(async move {
                for b in TEXT.as_bytes() {
                    if tx.send(Frame::data(Bytes::copy_from_slice(&[*b]))).await.is_err() {
                        return;
                    }
                    tokio::task::yield_now().await;
                }
            });
            r
        }
        ("GET", "/split") => {
            let (tx, r) = streamed("application/json");
            tokio::spawn(async move {
                let _ = tx
                    .send(Frame::data(Bytes::from_static(b"{\"note\":\"paid with 4111 1111 11")))
                    .await;
                tokio::time::sleep(Duration::from_millis(300)).await;
                let _ = tx
                    .send(Frame::data(Bytes::from_static(
                        b"11 1111 thanks\",\"email\":\"jane.doe@exam",
                    )))
                    .await;
                tokio::time::sleep(Duration::from_millis(300)).await;
                let _ = tx.send(Frame::data(Bytes::from_static(b"ple.com\"}"))).await;
            });
            r
        }
        ("GET", "/gzip") => {
            let mut r = full(StatusCode::OK, "application/json", gzip(USERS_JSON.as_bytes()));
            r.headers_mut()
                .insert("content-encoding", hyper::header::HeaderValue::from_static("gzip"));
            r
        }
        ("GET", "/deflate") => {
            let mut r = full(StatusCode::OK, "application/json", zlib(USERS_JSON.as_bytes()));
            r.headers_mut()
                .insert("content-encoding", hyper::header::HeaderValue::from_static("deflate"));
            r
        }
        ("GET", "/gzip-corrupt") => {
            // a long gzip body whose middle is damaged: decoding fails after bytes already left
            let mut z = gzip(USERS_JSON.repeat(400).as_bytes());
            let mid = z.len() / 2;
            for b in &mut z[mid..mid + 64] {
                *b ^= 0x5a;
            }
            let (tx, mut r) = streamed("application/json");
            r.headers_mut()
                .insert("content-encoding", hyper::header::HeaderValue::from_static("gzip"));
            tokio::spawn(async move {
                for part in z.chunks(4096) {
                    if tx.send(Frame::data(Bytes::copy_from_slice(part))).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            });
            r
        }
        ("GET", "/brotli") => {
            let mut r = full(
                StatusCode::OK,
                "application/json",
                brotli_compress(USERS_JSON.as_bytes()),
            );
            r.headers_mut()
                .insert("content-encoding", hyper::header::HeaderValue::from_static("br"));
            r
        }
        ("GET", "/zstd") => {
            let mut r = full(StatusCode::OK, "application/json", zstd_compress(USERS_JSON.as_bytes()));
            r.headers_mut()
                .insert("content-encoding", hyper::header::HeaderValue::from_static("zstd"));
            r
        }
        ("GET", "/compress") => {
            // a coding the filter cannot decode (LZW `compress`)
            let mut r = full(StatusCode::OK, "application/json", &b"\x1f\x9d\x904111111111111111"[..]);
            r.headers_mut()
                .insert("content-encoding", hyper::header::HeaderValue::from_static("compress"));
            r
        }
        ("GET", "/bomb") => {
            // `mb` MiB that compress to almost nothing: a card, then zeros
            let enc = query_text(&req, "enc").unwrap_or_else(|| "gzip".into());
            let mb = query(&req, "mb", 200) as usize;
            let body = bomb(&enc, mb);
            let (tx, mut r) = streamed("text/plain");
            if let Ok(v) = enc.parse() {
                r.headers_mut().insert("content-encoding", v);
            }
            tokio::spawn(async move {
                for part in body.chunks(16 << 10) {
                    if tx.send(Frame::data(Bytes::copy_from_slice(part))).await.is_err() {
                        return;
                    }
                }
            });
            r
        }
        ("GET", "/gzip-big") => {
            // `mb` MiB of log-like text (about 15:1 under gzip), sent in one write
            let mb = query(&req, "mb", 64) as usize;
            let mut text = Vec::with_capacity(mb << 20);
            let mut x: u64 = 0x2545_f491_4f6c_dd1d;
            while text.len() < mb << 20 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                text.extend_from_slice(
                    format!(
                        "{} order {} shipped to warehouse {} status ok amount {}.{:02}\n",
                        x % 100_000,
                        x % 1_000_003,
                        x % 97,
                        x % 10_000,
                        x % 100
                    )
                    .as_bytes(),
                );
            }
            let mut r = full(StatusCode::OK, "text/plain", gzip(&text));
            r.headers_mut()
                .insert("content-encoding", hyper::header::HeaderValue::from_static("gzip"));
            r
        }
        ("GET", "/truncated-gzip") => {
            // a gzip body cut before its end (no trailer, deflate stream unfinished)
            let z = gzip(USERS_JSON.repeat(50).as_bytes());
            let cut = z.len() * 2 / 3;
            let mut r = full(StatusCode::OK, "application/json", z[..cut].to_vec());
            r.headers_mut()
                .insert("content-encoding", hyper::header::HeaderValue::from_static("gzip"));
            r
        }
        ("GET", "/mid-value") => {
            // the body ends inside a string value, in the middle of a card number
            full(
                StatusCode::OK,
                "application/json",
                &b"{\"note\":\"paid with 4111 1111 1111"[..],
            )
        }
        ("GET", "/reset") => {
            // part of the body, then the upstream connection is torn down mid-body
            let (tx, r) = streamed_fallible("application/json");
            tokio::spawn(async move {
                let _ = tx
                    .send(Ok(Frame::data(Bytes::from_static(b"{\"card\":\"4111 1111 "))))
                    .await;
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = tx.send(Err("upstream reset".into())).await;
            });
            r
        }
        ("GET", "/short-length") => {
            // declares 100000 bytes, sends 5000, then closes the connection
            let (tx, mut r) = streamed_fallible("text/plain");
            r.headers_mut()
                .insert("content-length", hyper::header::HeaderValue::from_static("100000"));
            tokio::spawn(async move {
                let chunk = Bytes::from("card 4111 1111 1111 1111 ".repeat(200));
                let _ = tx.send(Ok(Frame::data(chunk))).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = tx.send(Err("connection closed early".into())).await;
            });
            r
        }
        ("GET", "/tiny") => {
            // `n` one-byte chunks of a text with cards in it
            let n = query(&req, "n", 10_000) as usize;
            let (tx, r) = streamed("text/plain");
            tokio::spawn(async move {
                let text = b"card 4111 1111 1111 1111 mail jane.doe@example.com\n";
                for i in 0..n {
                    let b = Bytes::copy_from_slice(&text[i % text.len()..i % text.len() + 1]);
                    if tx.send(Frame::data(b)).await.is_err() {
                        return;
                    }
                }
            });
            r
        }
        ("GET" | "HEAD", "/empty") => full(StatusCode::NO_CONTENT, "application/json", Bytes::new()),
        ("GET", "/big") => {
            let mb = query(&req, "mb", 10);
            let (tx, r) = streamed("text/plain");
            tokio::spawn(async move {
                // 64 KiB blocks: lines of lorem ipsum, one card per block, always whole.
                let line: &[u8] = b"lorem ipsum dolor sit amet, consectetur adipiscing elit 0123\n";
                let card: &[u8] = b"card 4111 1111 1111 1111\n";
                let mut block = Vec::with_capacity(64 << 10);
                while block.len() + line.len() + card.len() < (64 << 10) {
                    block.extend_from_slice(line);
                }
                block.extend_from_slice(card);
                while block.len() < (64 << 10) {
                    block.push(b'\n');
                }
                let block = Bytes::from(block);
                for _ in 0..(mb * 16) {
                    if tx.send(Frame::data(block.clone())).await.is_err() {
                        return;
                    }
                }
            });
            r
        }
        ("GET", "/sized") => {
            // a JSON array of records, `bytes` long, one card and one email per ~4 KiB (benchmarks)
            let n = query(&req, "bytes", 16 << 10) as usize;
            full(StatusCode::OK, "application/json", sized_body(n))
        }
        ("GET", "/records") => {
            // the dense bench corpus (benchmarks: `benches/load.sh`)
            let n = query(&req, "bytes", 16 << 10) as usize;
            let (form, ct) = match query_text(&req, "form").as_deref() {
                Some("ndjson") => (inputs::RecordForm::Ndjson, "application/x-ndjson"),
                Some("text") => (inputs::RecordForm::Text, "text/plain"),
                _ => (inputs::RecordForm::JsonArray, "application/json"),
            };
            // generated once per size and form: the upstream must not be what the bench measures
            static CACHE: std::sync::OnceLock<Mutex<HashMap<(usize, u8), Bytes>>> = std::sync::OnceLock::new();
            let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
            let key = (n, form as u8);
            let cached = cache.lock().ok().and_then(|c| c.get(&key).cloned());
            let body = cached.unwrap_or_else(|| {
                let b = Bytes::from(inputs::records(n, form));
                if let Ok(mut c) = cache.lock() {
                    if c.len() < 64 {
                        c.insert(key, b.clone());
                    }
                }
                b
            });
            full(StatusCode::OK, ct, body)
        }
        ("GET", "/trailers") => {
            let (tx, r) = streamed("application/json");
            tokio::spawn(async move {
                let _ = tx
                    .send(Frame::data(Bytes::from_static(
                        b"{\"email\":\"jane.doe@example.com\",\"card\":\"4111 1111 ",
                    )))
                    .await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = tx
                    .send(Frame::data(Bytes::from_static(
                        b"1111 1111\",\"tail\":\"ends in a word",
                    )))
                    .await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = tx.send(Frame::data(Bytes::from_static(b"\"}"))).await;
                let mut t = hyper::HeaderMap::new();
                t.insert("grpc-status", hyper::header::HeaderValue::from_static("0"));
                t.insert("x-checksum", hyper::header::HeaderValue::from_static("abc123"));
                let _ = tx.send(Frame::trailers(t)).await;
            });
            r
        }
        ("GET", "/length") => {
            let (tx, mut r) = streamed("application/json");
            if let Ok(v) = USERS_JSON.len().to_string().parse() {
                r.headers_mut().insert("content-length", v);
            }
            tokio::spawn(async move {
                for part in USERS_JSON.as_bytes().chunks(97) {
                    if tx.send(Frame::data(Bytes::copy_from_slice(part))).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            });
            r
        }
        (_, p) if p.starts_with("/meta/") => {
            // stores what arrived besides the body: the path (with its query) and the headers
            let id = p
                .trim_start_matches("/meta/")
                .split('/')
                .next()
                .unwrap_or("")
                .to_string();
            let mut meta = format!("{} {}\n", req.method(), req.uri());
            for (k, v) in req.headers() {
                meta.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())));
            }
            if let Ok(mut s) = store.lock() {
                s.insert(format!("meta:{id}"), meta.into_bytes());
            }
            let mut r = full(StatusCode::OK, "text/plain", "ok\n");
            if let Ok(v) = "session=4111111111111111; Path=/; HttpOnly".parse() {
                r.headers_mut().insert("set-cookie", v);
            }
            r
        }
        ("GET", p) if p.starts_with("/meta-read/") => {
            let id = format!("meta:{}", p.trim_start_matches("/meta-read/"));
            match store.lock().ok().and_then(|s| s.get(&id).cloned()) {
                Some(b) => full(StatusCode::OK, "application/octet-stream", b),
                None => full(StatusCode::NOT_FOUND, "text/plain", "no such record\n"),
            }
        }
        ("POST" | "PUT", p) if p.starts_with("/record/") => {
            let id = p.trim_start_matches("/record/").to_string();
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes().to_vec(),
                Err(_) => return Ok(full(StatusCode::BAD_REQUEST, "text/plain", "body read failed\n")),
            };
            let n = body.len();
            if let Ok(mut s) = store.lock() {
                s.insert(id, body);
            }
            full(StatusCode::OK, "text/plain", format!("stored {n} bytes\n"))
        }
        ("GET", p) if p.starts_with("/record/") => {
            let id = p.trim_start_matches("/record/");
            let ct = query_text(&req, "ct").unwrap_or_else(|| "application/octet-stream".into());
            match store.lock().ok().and_then(|s| s.get(id).cloned()) {
                Some(b) => {
                    let mut r = full(StatusCode::OK, &ct, b);
                    if let Some(v) = query_text(&req, "ct2").and_then(|c| c.parse().ok()) {
                        r.headers_mut().append("content-type", v);
                    }
                    r
                }
                None => full(StatusCode::NOT_FOUND, "text/plain", "no such record\n"),
            }
        }
        ("POST", "/count") => {
            let mut body = req.into_body();
            let mut n: u64 = 0;
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(f) => n += f.data_ref().map_or(0, |d| d.len() as u64),
                    Err(_) => return Ok(full(StatusCode::BAD_REQUEST, "text/plain", "body read failed\n")),
                }
            }
            full(StatusCode::OK, "text/plain", format!("{n}\n"))
        }
        _ => full(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
    };
    Ok(resp)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args
        .iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .and_then(|p| p.parse().ok())
        .unwrap_or(8081);
    let host = std::env::var("DEMO_UPSTREAM_BIND").unwrap_or_else(|_| "0.0.0.0".into());
    let listener = match TcpListener::bind((host.as_str(), port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("demo-upstream: cannot bind {host}:{port}: {e}");
            std::process::exit(1);
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(port);
    println!("{port}");
    let _ = std::io::stdout().flush();
    eprintln!("demo-upstream: listening on {host}:{port} (HTTP/1.1 and h2c)");
    let store: Store = Arc::new(Mutex::new(HashMap::new()));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(_) => continue,
        };
        let store = store.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| handle(req, store.clone()));
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
