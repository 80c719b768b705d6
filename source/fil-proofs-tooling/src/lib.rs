//! Fixture standing in for fil-proofs-tooling.
