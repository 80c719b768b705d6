#[test]
fn seal_small_sector() {
    assert_eq!(filecoin_proofs::seal(4), filecoin_proofs::seal(4));
}

#[cfg(feature = "big-tests")]
#[test]
fn test_seal_lifecycle_32gib_porep_id_v1_2_top_8_8_0_api_v1_2() {
    assert_ne!(filecoin_proofs::seal(64), 0);
}

#[cfg(feature = "big-tests")]
#[test]
fn test_seal_lifecycle_64gib_porep_id_v1_2_top_8_8_2_api_v1_2() {
    assert_ne!(filecoin_proofs::seal(128), 0);
}
