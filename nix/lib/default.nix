# The Ironworks Nix library: turns adapter folders (adapter.toml + default.nix) and
# per-stage lock files into { packages, checks, hydraJobs }.
#
#   ironworks = import ./nix/lib { inherit lib; };
#
# `lib` is nixpkgs' lib (or the offline test double's subset). Every function here is
# small and documented where it is defined:
#   stages.nix   the stage catalog, unimplemented markers, gating aggregates
#   schema.nix   the adapter.toml schema, checked as coordinator/config checks it
#   adapter.nix  reading adapter.toml (builtins.fromTOML) into normalized job records
#   locks.nix    reading locks/<stage>.json and fetching components by revision
#   toolchain.nix the Rust toolchain a component pins (rust-overlay), else nixpkgs'
#   rust.nix     cargo job, bench tool and bench runner builders (rustPlatform)
#   project.nix  mkProject: adapters x stages x systems -> flake outputs
{ lib }:
let
  stages = import ./stages.nix { inherit lib; };
  schema = import ./schema.nix { inherit lib; };
  adapter = import ./adapter.nix { inherit lib stages schema; };
  locks = import ./locks.nix { inherit lib; };
  rust = import ./rust.nix { inherit lib adapter locks; };
  toolchain = import ./toolchain.nix { inherit lib; };
  project = import ./project.nix { inherit lib stages adapter locks toolchain; };
in
{
  inherit (stages) stages stageIndex unimplemented gate;
  inherit (schema) adapterProblems parseDurationNs cronProblems;
  inherit (adapter) readAdapter normalizeJob parseDuration jobsInStage benchesInStage;
  inherit (locks) readLock lockPath componentSource cargoLockFor missingCargoLock checkRev selectedStages;
  inherit (rust) mkCargoJob mkCargoTarget mkCargoAdapter mkBenchRunner cargoPatchConfig filecoinParams paramsEnv cargoTools cargoArgs cudaJob;
  inherit (toolchain) toolchainFile rustPlatformFor;
  inherit (project) mkComponent mkStage mkProject;
}
