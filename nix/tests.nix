# Unit tests of the Ironworks Nix library (lib.runTests). A derivation that fails to
# evaluate, listing the failing tests, when one fails; `nix flake check` builds it.
{ lib, pkgs, ironworks, adapterCases }:
let
  # adapterCase c: one case of coordinator/config/testdata/adapter-cases.json, the table
  # `go test ./coordinator/config` runs too: Nix accepts exactly what Go accepts.
  adapterCase = c:
    let
      problems = ironworks.adapterProblems (builtins.fromTOML c.toml);
      ok = problems == [ ];
    in
    lib.nameValuePair "testAdapterCase ${c.name}" {
      expr = { inherit ok; timeout_ns = if ok && c ? timeout_ns then ironworks.parseDurationNs (((builtins.fromTOML c.toml).jobs.t).timeout or "45m") else null; };
      expected = { ok = c.ok; timeout_ns = c.timeout_ns or null; };
    };
  caseTests = lib.listToAttrs (map adapterCase (lib.importJSON adapterCases).cases);

  failures = lib.runTests (caseTests // {
    testDurationMinutes = { expr = ironworks.parseDuration "45m"; expected = 2700; };
    testDurationCompound = { expr = ironworks.parseDuration "1h30m"; expected = 5400; };
    testDurationBad = { expr = (builtins.tryEval (ironworks.parseDuration "45 minutes")).success; expected = false; };
    testDurationFraction = { expr = ironworks.parseDuration "1.5h"; expected = 5400; };
    testDurationRoundsUp = { expr = ironworks.parseDuration "500ms"; expected = 1; };
    testDurationZero = { expr = (builtins.tryEval (ironworks.parseDuration "0")).success; expected = false; };
    testStageOrder = { expr = map ironworks.stageIndex [ "spark" "forge" "harden" "temper" ]; expected = [ 0 1 2 3 ]; };
    testStageUnknown = { expr = (builtins.tryEval (ironworks.stageIndex "staging")).success; expected = false; };
    testRevOk = { expr = ironworks.checkRev "x" "0123456789abcdef0123456789abcdef01234567"; expected = "0123456789abcdef0123456789abcdef01234567"; };
    testRevShort = { expr = (builtins.tryEval (ironworks.checkRev "x" "0123456")).success; expected = false; };
    testRevBranch = { expr = (builtins.tryEval (ironworks.checkRev "x" "master")).success; expected = false; };
    testJobDefaults = {
      expr = ironworks.normalizeJob "t" { stage = "forge"; command = "cargo test"; };
      expected = { name = "t"; stage = "forge"; command = "cargo test"; needs = [ ]; requires = [ ]; env = { }; gating = true; timeout = 2700; schedule = null; manual = false; };
    };

    testPatchGit = {
      expr = ironworks.cargoPatchConfig [{ pin = "cargo-patch"; crate = "merkletree"; isPath = false; repo = "https://example.org/m"; rev = "abc"; }];
      expected = "[patch.crates-io]\nmerkletree = { git = \"https://example.org/m\", rev = \"abc\" }\n";
    };
    testPatchNone = { expr = ironworks.cargoPatchConfig [ ]; expected = ""; };

    # adapter commands as buildRustPackage's arguments (nix/lib/rust.nix, cargoArgs)
    testCargoArgsBuild = {
      expr = ironworks.cargoArgs "cargo build --workspace --no-default-features --features cuda-supraseal";
      expected = { sub = "build"; attrs = { buildType = "debug"; buildNoDefaultFeatures = true; buildFeatures = [ "cuda-supraseal" ]; cargoBuildFlags = [ "--workspace" ]; doCheck = false; }; };
    };
    testCargoArgsTest = {
      expr = ironworks.cargoArgs "cargo test --features big-tests --release test_seal -- --nocapture --test-threads=1";
      expected = { sub = "test"; attrs = { buildType = "release"; buildNoDefaultFeatures = false; buildFeatures = [ "big-tests" ]; dontCargoBuild = true; cargoTestFlags = [ "test_seal" ]; checkFlags = [ "--nocapture" ]; dontUseCargoParallelTests = true; }; };
    };
    testCargoArgsProfileOffline = {
      expr = (ironworks.cargoArgs "cargo build --offline --profile=bench -F a,b -p x").attrs;
      expected = { buildType = "bench"; buildNoDefaultFeatures = false; buildFeatures = [ "a" "b" ]; cargoBuildFlags = [ "-p" "x" ]; doCheck = false; };
    };
    testCargoArgsOther = {
      expr = map ironworks.cargoArgs [
        "cargo fmt --all -- --check" "cargo clippy --workspace -- -D warnings" "cargo rustdoc -- -D warnings"
        "cargo build -j 4" "cargo build --target wasm32-unknown-unknown" "cargo test -- --test-threads=4"
        "cargo build && cargo test" "RUSTFLAGS=x cargo build" "cargo +nightly build" "cargo test --features \"a b\""
        "cargo build -- x" "cargo bench --no-run"
      ];
      expected = [ null null null null null null null null null null null null ];
    };
    testCudaJob = { expr = map ironworks.cudaJob [ { requires = [ "gpu" ]; } { requires = [ "big-memory" ]; } ]; expected = [ true false ]; };
    testUnimplementedMarker = {
      expr = (ironworks.unimplemented { inherit pkgs; stage = "temper"; component = "x"; }).meta.ironworks.unimplemented;
      expected = true;
    };
    testGateIsAggregate = {
      expr = (ironworks.gate { inherit pkgs; stage = "forge"; jobs = [ ]; }).drvAttrs._hydraAggregate or
        (ironworks.gate { inherit pkgs; stage = "forge"; jobs = [ ]; })._hydraAggregate;
      expected = true;
    };
  });
in
if failures == [ ] then pkgs.runCommand "ironworks-nix-lib-tests" { } "echo ok > $out"
else throw "ironworks nix/lib tests failed: ${builtins.toJSON failures}"
