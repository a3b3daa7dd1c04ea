//! End-to-end suite package; the tests live in e2e/.
