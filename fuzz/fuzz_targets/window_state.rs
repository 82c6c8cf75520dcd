//! Decoding stored window state, with or without the outbox envelope: whatever bytes a store
//! returns, decoding either fails cleanly or yields a window that re-encodes and decodes again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use t1578_core::engine::StateKey;
use t1578_core::outbox;
use t1578_core::window::WindowState;

fuzz_target!(|data: &[u8]| {
    let key = StateKey(r#"["default","aws","111122223333","user","alice"]"#.into());
    if let Ok((window, pending)) = outbox::split(data) {
        let _ = outbox::join(window.to_vec(), &pending);
        for bytes in [window, data] {
            if let Ok(state) = WindowState::decode(bytes, &key) {
                let again = state.encode();
                let state2 = WindowState::decode(&again, &key).expect("a decoded window re-decodes");
                assert_eq!(state2.encode(), again);
            }
        }
    }
});
