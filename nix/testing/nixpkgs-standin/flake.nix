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
    let systems = [ "x86_64-linux" "aarch64-linux" ]; in
    {
      lib = import ./lib.nix;
      legacyPackages = builtins.listToAttrs (map (system: { name = system; value = import ./. { inherit system; }; }) systems);
    };
}
