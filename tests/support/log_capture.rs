//! Capturing `tracing` output in one test while the others of its binary
//! run in parallel.
//!
//! A subscriber set with `set_default` sees only its own thread, but the
//! per-callsite "interest" cache is global: a callsite first hit by another
//! thread, racing with `set_default`, can be cached as "never" and then stay
//! silent in the capturing test too (seen as 1–2 failures in 40 runs). A
//! global subscriber that is interested in everything (writing nowhere)
//! makes every callsite's interest "always"; the capturing thread's own
//! default then receives every event.

#![allow(dead_code)]

use std::sync::{Arc, Mutex, Once};

/// Everything the capturing subscriber wrote.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures every event (TRACE and up) of this thread until the guard drops.
pub fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    static GLOBAL: Once = Once::new();
    GLOBAL.call_once(|| {
        let everything_to_nowhere = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(std::io::sink)
            .finish();
        tracing::subscriber::set_global_default(everything_to_nowhere)
            .expect("no other global subscriber in this test binary");
    });
    tracing::callsite::rebuild_interest_cache();
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer({
            let captured = captured.clone();
            move || captured.clone()
        })
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    (captured, guard)
}
