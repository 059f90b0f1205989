//! The Redis change-feed and wake-up message parsers on arbitrary bytes.
//!
//! Input: one message, as a stream entry's event, a stream id, and a
//! published wake-up. An event read is written back in canonical form and
//! must read the same again, with its id (`jti`, family, subject) taken
//! verbatim from the end of the message; a stream id must survive its own
//! `Display` (checked inside the crate); a wake-up names one of the shards
//! by the message's leading digits, and its hint is the next word read as a
//! stream id.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_jwt_auth::__fuzz::feed_message;

fuzz_target!(|data: &[u8]| {
    let (event, id, wake_up) = feed_message(data);

    if let Some(event) = event {
        let text = std::str::from_utf8(data).expect("an event is UTF-8");
        assert_eq!(text.as_bytes()[0], event.as_bytes()[0], "tag");
        // The id goes last: what follows the numbers is kept verbatim.
        let numbers = if event.starts_with('c') { 2 } else { 1 };
        let written_id = event.splitn(numbers + 2, ' ').nth(numbers + 1).unwrap();
        let read_id = text.splitn(numbers + 2, ' ').nth(numbers + 1).unwrap();
        assert_eq!(written_id, read_id);
        let (again, _, _) = feed_message(event.as_bytes());
        assert_eq!(again.as_deref(), Some(event.as_str()), "not canonical");
    }

    if let Some((ms, seq)) = id {
        let (again, _, _) = feed_message(format!("{ms}-{seq}").as_bytes());
        assert!(again.is_none(), "a stream id is no event");
    }

    if let Some((shard, hint)) = wake_up {
        let text = std::str::from_utf8(data).expect("a wake-up is UTF-8");
        let mut words = text.splitn(3, ' ');
        let digits = words.next().unwrap();
        assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(digits.parse::<usize>().ok(), Some(shard));
        let expected = words.next().map(|w| feed_message(w.as_bytes()).1);
        assert_eq!(hint, expected.flatten());
    }
});
