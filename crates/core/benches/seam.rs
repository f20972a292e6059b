//! ES256 through the crypto seam: the unavoidable work per request.
//!
//! Run with the default backend (aws-lc-rs) or with
//! `--no-default-features --features pure-rust` to compare. Figures and
//! the crypto floor derived from them are in BENCHMARKS.md.

use std::hint::black_box;
use std::time::Duration;

use atauth_core::crypto::Es256SigningKey;
use criterion::{criterion_group, criterion_main, Criterion};

/// A JWS signing input of the size of an access token's `header.payload`.
const MESSAGE: &[u8] =
    b"eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6ImFiY2RlZjAxMjM0NTY3ODkifQ.\
eyJpc3MiOiJodHRwczovL3Bkcy5leGFtcGxlIiwic3ViIjoiZGlkOnBsYzphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3giLCJh\
dWQiOiJkaWQ6d2ViOnBkcy5leGFtcGxlIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDA5MDAsImp0aSI6IjAxMjM0\
NTY3ODlhYmNkZWYiLCJjbmYiOnsiamt0IjoiMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2In19";

fn seam(c: &mut Criterion) {
    let key = Es256SigningKey::from_pkcs8(&Es256SigningKey::generate_pkcs8().unwrap()).unwrap();
    let signature = key.sign(MESSAGE).unwrap();
    let public = key.public_key().clone();
    assert!(public.verify(MESSAGE, &signature));

    let mut g = c.benchmark_group("es256");
    g.bench_function("sign", |b| b.iter(|| key.sign(black_box(MESSAGE)).unwrap()));
    g.bench_function("verify", |b| {
        b.iter(|| assert!(public.verify(black_box(MESSAGE), black_box(&signature))))
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = seam
}
criterion_main!(benches);
