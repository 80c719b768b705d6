# rust-fil-proofs' Nix derivations. Jobs and commands come from adapter.toml.
#
# Upstream pin: adapter.toml's [[upstream]] merkletree (pin = "cargo-patch") makes every
# job build against the merkletree revision of the SAME stage lock, through
#   [patch.crates-io] merkletree = { git = <repo>, rev = <rev> }
# appended to .cargo/config.toml (a git+rev patch keeps merkletree's lints capped). The
# Cargo.lock comes from the candidate (locks/cargo/rust-fil-proofs.lock, written by the
# coordinator after `cargo update -p merkletree`); the build stops if that lock does not
# resolve merkletree to the pinned revision (a patch Cargo silently ignored).
#
# gpuFeatures: the features sector-bench builds benchy (fil-proofs-tooling) with.
{ pkgs, lib, ironworks, component, gpuFeatures ? [ "cuda" "opencl" ], ... }:
ironworks.mkCargoAdapter {
  inherit pkgs component;
  attrs = {
    nativeBuildInputs = [ pkgs.pkg-config ];
    # hwloc and the OpenCL loader, as its CI installs (libhwloc-dev, ocl-icd-opencl-dev).
    buildInputs = [ pkgs.hwloc pkgs.ocl-icd ];
  };
  # Jobs running filecoin-proofs' tests read the Groth parameters (and write the parent
  # cache): Hydra sends them to builders that have them (infra/nixos/filecoin-builder.nix),
  # which FIL_PROOFS_PARAMETER_CACHE / FIL_PROOFS_PARENT_CACHE then name.
  features = lib.genAttrs [ "test" "test-no-default-features" "fast-test-cron" "ignored-test" "big-test-32gib" "big-test-64gib" ]
    (_: [ ironworks.filecoinParams.feature ]);
  # sector-bench: benchy with the chosen GPU features, plus `ironworks-bench`, the runner
  # benchkit executes off Hydra on GPU hosts (bench entries: adapter.toml [bench.*]).
  bench = {
    name = "sector-bench";
    command = "cargo build --release -p fil-proofs-tooling --bin benchy --features ${builtins.concatStringsSep "," gpuFeatures}";
    bins = [ "benchy" ];
    # The bench entries run scripts/benchy.sh (GNU time around benchy, for the RSS figure);
    # shipped with the source, it runs this benchy instead of rebuilding it with `cargo run`.
    # GNU time and jq come from the bench host, as with the repository's own script.
    withSource = true;
    postPatch = ''
      substituteInPlace fil-proofs-tooling/scripts/benchy.sh \
        --replace-fail "cargo run --quiet --bin benchy --release --" "$out/bin/benchy"
    '';
  };
}
