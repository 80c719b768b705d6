//! Fixture crate.

/// Replicates a toy sector.
pub fn replicate(nodes: usize) -> u64 {
    filecoin_proofs::seal(nodes)
}

#[cfg(all(test, feature = "isolated-testing"))]
mod tests {
    #[test]
    fn isolated_replication() {
        assert_eq!(super::replicate(2), super::replicate(2));
    }
}
