//! Kept only so suites written against the old per-crate helpers still build: everything
//! here is `rawx_testkit`'s. New suites `use rawx_testkit::…` directly.

#![allow(dead_code, unused_imports)]

pub use rawx_testkit::*;

pub mod lab {
    pub use rawx_testkit::lab::*;
}

pub mod wsclient {
    pub use rawx_testkit::wsclient::*;
}
