# TEST DOUBLE. Not nixpkgs.
#
# An offline stand-in for the part of nixpkgs the Ironworks flake uses, so that
# `nix flake check` can run where nixpkgs cannot be downloaded (CI, this sandbox).
# nix/testing/standin-setup copies this folder, writes host.json (absolute paths of the
# host's cargo/rustc/go toolchains and common tools) next to it, and the checks pass it to
# the Ironworks flake with --override-input nixpkgs path:<copy>. Builds run in the Nix
# sandbox. Names, arguments and the behaviour the flake depends on follow nixpkgs; each
# mirrored behaviour names its nixpkgs file, and docs/nix.md lists them and the limits.
{
  description = "TEST DOUBLE: offline stand-in for the nixpkgs subset used by Ironworks";

  outputs = { self }:
    let systems = [ "x86_64-linux" "aarch64-linux" ]; in
    {
      lib = import ./lib.nix;
      legacyPackages = builtins.listToAttrs (map (system: { name = system; value = import ./. { inherit system; }; }) systems);
    };
}
