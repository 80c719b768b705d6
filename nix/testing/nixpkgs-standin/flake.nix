# TEST DOUBLE. Not nixpkgs.
#
# A tiny, offline stand-in for the part of nixpkgs the Ironworks flake uses, so that
# `nix flake check` can run where nixpkgs cannot be downloaded (CI, this sandbox).
# nix/testing/check-offline copies this folder, writes host.json (absolute paths of the
# host's cargo/rustc/go toolchains) next to it, and passes it to the Ironworks flake with
#   --override-input nixpkgs path:<copy>
# Builders run the host's tools with the Nix sandbox off. Argument names follow nixpkgs
# (stdenv.mkDerivation, rustPlatform.buildRustPackage, buildGoModule, writeShellScriptBin,
# runCommand, releaseTools.aggregate, mkShell); behaviour is the minimum the flake relies on.
{
  description = "TEST DOUBLE: offline stand-in for the nixpkgs subset used by Ironworks";

  outputs = { self }:
    let
      lib = import ./lib.nix;
      host =
        if builtins.pathExists ./host.json
        then builtins.fromJSON (builtins.readFile ./host.json)
        else throw "nixpkgs-standin: host.json is missing; run nix/testing/check-offline, which writes it";
      systems = [ "x86_64-linux" "aarch64-linux" ];
    in
    {
      inherit lib;
      legacyPackages = lib.genAttrs systems (system: import ./pkgs.nix { inherit lib system host; });
    };
}
