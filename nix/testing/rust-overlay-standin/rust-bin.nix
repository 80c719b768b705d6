# TEST DOUBLE: rust-bin of oxalica/rust-overlay (lib/rust-bin.nix there): toolchains by
# channel, version and profile, and fromRustupToolchainFile for `rust-toolchain` (one line,
# the channel) and `rust-toolchain.toml` ([toolchain] channel, profile, components).
{ pkgs }:
let
  inherit (pkgs) lib;
  mk = pkgs.standin.mkRustToolchain;
  latest = pkgs.standin.hostRustVersion;

  # bins of each rustup component (rustup's profiles: minimal = rustc, cargo, rust-std;
  # default adds rust-docs, rustfmt, clippy)
  componentBins = { rustc = [ "rustc" "rustdoc" ]; cargo = [ "cargo" ]; rustfmt = [ "rustfmt" "cargo-fmt" ]; clippy = [ "cargo-clippy" "clippy-driver" ]; };
  profiles = { minimal = [ "rustc" "cargo" ]; default = [ "rustc" "cargo" "rustfmt" "clippy" ]; complete = [ "rustc" "cargo" "rustfmt" "clippy" ]; };

  # toolchain version profile components: one toolchain package, or the overlay's error
  # for a version it does not know.
  toolchain = version: profile: components:
    if builtins.match "[0-9]+\\.[0-9]+(\\.[0-9]+)?" version == null then
      throw "rust-overlay: unsupported channel '${version}' (the double knows stable versions only)"
    else if lib.versionOlder latest version then
      throw "rust-overlay: Rust ${version} is not in this revision of rust-overlay (newest: ${latest}); update the rust-overlay input"
    else
      mk {
        name = "rust-${profile}";
        inherit version;
        bins = lib.concatMap (c: componentBins.${c} or [ ]) (lib.unique (profiles.${profile} ++ components));
      };

  # fromRustupToolchain { channel, profile ? "default", components ? [ ] }
  fromRustupToolchain = { channel, profile ? "default", components ? [ ], targets ? [ ], ... }:
    toolchain (if channel == "stable" then latest else channel) profile components;
in
{
  stable = { latest.default = toolchain latest "default" [ ]; } // lib.genAttrs [ latest ] (v: { default = toolchain v "default" [ ]; minimal = toolchain v "minimal" [ ]; });
  inherit fromRustupToolchain;
  fromRustupToolchainFile = file:
    let
      text = builtins.readFile file;
      legacy = builtins.match "[[:space:]]*([^[:space:]=]+)[[:space:]]*" text;
    in
    if legacy != null then fromRustupToolchain { channel = builtins.head legacy; }
    else fromRustupToolchain (builtins.fromTOML text).toolchain;
}
