//! [`WatchedSocket`]: any WebSocket (a `Stream` of messages and a `Sink` for
//! them, as axum's and tokio-tungstenite's are) that sends its own close frame
//! and ends when its credential does.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_util::{Sink, Stream};
use pin_project::pin_project;

use super::watch::{CredentialEnd, CredentialWatch};

type Ended = Pin<Box<dyn Future<Output = CredentialEnd> + Send>>;

/// A socket that closes itself when its [`CredentialWatch`] ends: reading
/// from it yields the socket's messages until then; at the end it sends the
/// close message `close(end)` makes (close code 1008 for an expired or
/// revoked token: [`CredentialEnd::close_code`]), flushes it, and the stream
/// ends. Writing goes straight to the socket.
///
/// The watch is polled while the stream is: a handler that reads in a loop
/// (an echo, a chat) closes on time; one that stops reading for long should
/// `select!` on [`CredentialWatch::ended`] itself.
///
/// With axum (the `ws` feature):
///
/// ```
/// use std::sync::Arc;
/// use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
/// use axum::http::HeaderMap;
/// use axum::response::Response;
/// use futures_util::{SinkExt, StreamExt};
/// use tower_jwt_auth::revocation::RevocationStore;
/// use tower_jwt_auth::websocket::{CredentialWatch, WatchedSocket, answer_protocol};
/// use tower_jwt_auth::Claims;
///
/// async fn upgrade(
///     ws: WebSocketUpgrade,
///     headers: HeaderMap,
///     claims: Claims,
///     store: Arc<dyn RevocationStore>,
/// ) -> Response {
///     let protocol = answer_protocol(&headers, "bearer", &["chat.v1"]).map(str::to_owned);
///     let watch = CredentialWatch::new(&claims, store);
///     ws.protocols(protocol).on_upgrade(move |socket| echo(socket, watch))
/// }
///
/// async fn echo(socket: WebSocket, watch: CredentialWatch) {
///     let mut socket = WatchedSocket::new(socket, watch, |end| {
///         Message::Close(Some(CloseFrame { code: end.close_code(), reason: end.reason().into() }))
///     });
///     while let Some(Ok(message)) = socket.next().await {
///         if let Message::Text(text) = message {
///             if socket.send(Message::Text(text)).await.is_err() {
///                 break;
///             }
///         }
///     }
/// }
/// ```
#[pin_project]
#[must_use = "a socket does nothing unless read"]
pub struct WatchedSocket<S, M, F> {
    #[pin]
    socket: S,
    ended: Ended,
    close: Option<F>,
    state: State<M>,
}

enum State<M> {
    Open,
    /// The credential ended: the close message is to be sent (`Some`), or
    /// was sent and is being flushed (`None`).
    Closing(Option<M>, CredentialEnd),
    Closed(Option<CredentialEnd>),
}

impl<S, M, F> WatchedSocket<S, M, F>
where
    F: FnOnce(CredentialEnd) -> M,
{
    /// Wraps `socket`; `close` makes the close message for the reason the
    /// credential ended (a close frame with [`CredentialEnd::close_code`]).
    pub fn new(socket: S, watch: CredentialWatch, close: F) -> Self {
        Self {
            socket,
            ended: Box::pin(watch.ended()),
            close: Some(close),
            state: State::Open,
        }
    }
}

impl<S, M, F> WatchedSocket<S, M, F> {
    /// Why the socket was closed, once its credential ended.
    pub fn ended(&self) -> Option<CredentialEnd> {
        match self.state {
            State::Open | State::Closed(None) => None,
            State::Closing(_, end) | State::Closed(Some(end)) => Some(end),
        }
    }

    /// The socket, unwrapped (the watch is dropped).
    pub fn into_inner(self) -> S {
        self.socket
    }
}

impl<S: fmt::Debug, M, F> fmt::Debug for WatchedSocket<S, M, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchedSocket")
            .field("socket", &self.socket)
            .field("ended", &self.ended())
            .finish_non_exhaustive()
    }
}

impl<S, M, F> Stream for WatchedSocket<S, M, F>
where
    S: Stream + Sink<M>,
    F: FnOnce(CredentialEnd) -> M,
{
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let mut this = self.project();
        loop {
            match this.state {
                State::Open => match this.ended.as_mut().poll(cx) {
                    Poll::Ready(end) => {
                        let close = this.close.take().map(|close| close(end));
                        *this.state = State::Closing(close, end);
                    }
                    Poll::Pending => return this.socket.as_mut().poll_next(cx),
                },
                State::Closing(message, end) => {
                    let end = *end;
                    // A socket that fails here is gone already: the stream
                    // ends all the same.
                    if message.is_some() {
                        let sent = match ready!(this.socket.as_mut().poll_ready(cx)) {
                            Ok(()) => message
                                .take()
                                .is_some_and(|m| this.socket.as_mut().start_send(m).is_ok()),
                            Err(_) => false,
                        };
                        if !sent {
                            *this.state = State::Closed(Some(end));
                            continue;
                        }
                    }
                    let _ = ready!(this.socket.as_mut().poll_flush(cx));
                    *this.state = State::Closed(Some(end));
                }
                State::Closed(_) => return Poll::Ready(None),
            }
        }
    }
}

impl<S, M, F> Sink<M> for WatchedSocket<S, M, F>
where
    S: Sink<M>,
{
    type Error = S::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.project().socket.poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: M) -> Result<(), S::Error> {
        self.project().socket.start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.project().socket.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.project().socket.poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;
    use crate::claims::{Claims, NoCustomClaims};
    use crate::revocation::RevocationStore;
    use futures_util::StreamExt;
    use std::sync::Arc;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    /// A socket made of a channel (what the peer sends) and a list (what
    /// we sent).
    struct Pipe {
        incoming: tokio::sync::mpsc::UnboundedReceiver<String>,
        sent: Vec<String>,
    }

    impl Stream for Pipe {
        type Item = String;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<String>> {
            self.incoming.poll_recv(cx)
        }
    }

    impl Sink<String> for Pipe {
        type Error = ();
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ()>> {
            Poll::Ready(Ok(()))
        }
        fn start_send(self: Pin<&mut Self>, item: String) -> Result<(), ()> {
            self.get_mut().sent.push(item);
            Ok(())
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn messages_pass_until_revocation_then_one_close_message_is_sent() {
        let exp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 600;
        let claims: Claims<NoCustomClaims> = serde_json::from_value(serde_json::json!({
            "sub": "alice", "exp": exp, "jti": "j1", "token_type": "access",
        }))
        .unwrap();
        let store = Arc::new(MemoryStore::new());
        let watch = CredentialWatch::new(&claims, store.clone() as Arc<dyn RevocationStore>)
            .check_every(Duration::from_millis(20));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let pipe = Pipe {
            incoming: rx,
            sent: Vec::new(),
        };
        let mut socket = WatchedSocket::new(pipe, watch, |end: CredentialEnd| {
            format!("close {}", end.close_code())
        });
        tx.send("hello".to_owned()).unwrap();
        assert_eq!(socket.next().await.as_deref(), Some("hello"));
        assert_eq!(socket.ended(), None);
        store.revoke_token("j1", exp).await.unwrap();
        // The peer keeps its side open: only the watch can end the stream.
        assert_eq!(socket.next().await, None);
        assert_eq!(socket.ended(), Some(CredentialEnd::Revoked));
        assert_eq!(socket.next().await, None);
        assert_eq!(socket.into_inner().sent, ["close 1008"]);
        drop(tx);
    }
}
