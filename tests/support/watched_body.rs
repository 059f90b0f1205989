//! A request body that records whether the service read it to its end.
//!
//! hyper keeps an HTTP/1.1 connection for the next request only when the
//! request body was read; a service that answers without reading it closes
//! the connection under a pooling client's next request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

use axum::body::Body;
use futures_util::StreamExt as _;

/// `text` as a body, and a flag set once the body was polled past its end.
pub fn watched_body(text: impl Into<String>) -> (Body, Arc<AtomicBool>) {
    let ended = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&ended);
    let chunk = bytes::Bytes::from(text.into());
    let frames = futures_util::stream::iter([Ok::<_, std::io::Error>(chunk)]).chain(
        futures_util::stream::poll_fn(move |_| {
            flag.store(true, Ordering::SeqCst);
            Poll::Ready(None)
        }),
    );
    (Body::from_stream(frames), ended)
}

/// Whether the body from [`watched_body`] was read to its end.
pub fn was_read(ended: &AtomicBool) -> bool {
    ended.load(Ordering::SeqCst)
}
