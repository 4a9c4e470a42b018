//! Answering a request before its body has arrived, and reading the body to its end after.
//!
//! A push that is refused (the server is busy and its turn is not near) does not need its body,
//! but HTTP/1.1 keeps a connection for the next request only once this one's body has been
//! read: the server answers as soon as it has decided, from the headers, and [`in_background`]
//! reads the rest and drops it, frame by frame, without gathering it. A phone that reads the
//! answer while it is still sending hears the refusal a round trip after its headers, not after
//! its upload (a hundred punches with their evidence are about 200 KB, which on a fleet sending
//! at once all arrive together at the end). A body longer than the server's limit, or still
//! arriving after the request timeout, is dropped, and the server closes the connection.

use std::time::Duration;

use axum::body::Body;
use http_body_util::BodyExt;

/// Reads `body` to its end on a task of its own and drops it: at most `limit` bytes, for at
/// most `within`; past either, the body is dropped unread and the connection is closed.
pub(crate) fn in_background(body: Body, limit: usize, within: Duration) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(within, read_to_end(body, limit)).await;
    });
}

/// Bytes read; stops at the first error or once more than `limit` bytes came.
async fn read_to_end(mut body: Body, limit: usize) -> usize {
    let mut read = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            read = read.saturating_add(data.len());
            if read > limit {
                break;
            }
        }
    }
    read
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_is_read_to_its_end_and_reading_stops_past_the_limit() {
        assert_eq!(
            read_to_end(Body::from(vec![7u8; 5_000]), 5_000).await,
            5_000
        );
        assert_eq!(read_to_end(Body::empty(), 0).await, 0);
        // Chunked: reading stops at the frame that takes it past the limit.
        let frames = (0..5).map(|_| Ok::<_, std::io::Error>(vec![7u8; 1_000]));
        let chunked = Body::from_stream(futures_util::stream::iter(frames));
        assert_eq!(read_to_end(chunked, 2_500).await, 3_000);
    }
}
