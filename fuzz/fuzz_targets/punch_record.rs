//! The signed punch record's readers: `PunchRecord::read` (any spelling, as the server reads
//! pushed records) and `PunchRecord::read_stored` (canonical form only, as stores are read).
//! Contract: no panic; what the canonical reader accepts the general one accepts as the same
//! record; an accepted record's canonical text is read back by both to the same record and
//! hash.
#![no_main]

use daka_core::punch::PunchRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let any = PunchRecord::read(text);
    let stored = PunchRecord::read_stored(text);
    if let Ok(record) = &stored {
        let read = any
            .as_ref()
            .expect("a record in canonical form is refused by the general reader");
        assert_eq!(&read.record, record);
        assert_eq!(read.canonical_json(), text);
    }
    match &any {
        Ok(read) => {
            let canonical = read.canonical_json();
            let again = PunchRecord::read_stored(canonical)
                .expect("a record's canonical text is refused as stored");
            assert_eq!(again, read.record);
            let reread = PunchRecord::read(canonical).expect("canonical text re-reads");
            assert_eq!(reread.hash(), read.hash());
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
