//! Nothing but tests: see `tests/`. Nextkt and Kisum are run side by side, each a real
//! server on its own database, talking over HTTP as in production; neither service crate
//! depends on the other.
