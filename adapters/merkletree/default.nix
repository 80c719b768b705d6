# merkletree's Nix derivations. Every job and its command come from adapter.toml (read by
# the Ironworks library with builtins.fromTOML); this file only adds what Nix must know.
#
# Cargo.lock: merkletree git-ignores its Cargo.lock (adapter.toml: lockfile = "generate"),
# so an unpinned build floats to the newest dependency versions. The coordinator generates
# a lock when it makes a candidate and commits it next to the stage lock, as
# locks/cargo/merkletree.lock (or the path in the lock entry's "cargoLock"): the same
# candidate always builds with the same dependencies, and the lock travels with the
# revisions it was resolved for. See docs/nix.md, "Locks".
{ pkgs, ironworks, component, ... }:
ironworks.mkCargoAdapter {
  inherit pkgs component;
  # [bench.*] entries run `cargo bench` in a checkout: the bench derivation proves the
  # bench targets compile at this revision and ships the source next to the runner.
  bench = {
    name = "sector-bench";
    command = "cargo bench --no-run";
    withSource = true;
  };
}
