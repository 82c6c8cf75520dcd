//! Scoring an event the caller is done with ([`Engine::score_owned`], which moves its strings)
//! gives exactly what scoring a borrowed event gives, under both profiles.

mod common;

use common::{engine, events_dir, load};
use t1578_core::engine::ProfileName;

#[test]
fn an_owned_event_scores_as_a_borrowed_one() {
    let mut events = Vec::new();
    for cloud in ["aws", "azure"] {
        for f in std::fs::read_dir(events_dir().join(cloud)).unwrap() {
            events.extend(load(&f.unwrap().path()));
        }
    }
    for p in [ProfileName::Default, ProfileName::SeedKql] {
        let e = engine(p);
        let (mut scored, mut skipped) = (0, 0);
        for ev in &events {
            let borrowed = e.score(ev);
            assert_eq!(e.score_owned(ev.clone()), borrowed, "{p:?} {}", ev.event_id);
            match borrowed {
                Ok(_) => scored += 1,
                Err(_) => skipped += 1,
            }
        }
        // Both outcomes are exercised, on a folder of fixtures.
        assert!(
            scored > 100 && skipped > 10,
            "{p:?}: {scored} scored, {skipped} skipped"
        );
    }
}
