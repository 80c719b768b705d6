# TEST DOUBLE: `import nixpkgs { system, overlays, config }`, as pkgs/top-level/impure.nix
# and pkgs/top-level/default.nix give it: the double's packages with the overlays applied
# in order over a fixed point (final, prev), and `config` as pkgs.config.
{ system ? builtins.currentSystem, overlays ? [ ], config ? { }, ... }:
let
  lib = import ./lib.nix;
  host =
    if builtins.pathExists ./host.json
    then builtins.fromJSON (builtins.readFile ./host.json)
    else throw "nixpkgs-standin: host.json is missing; run nix/testing/standin-setup, which writes it";
  base = import ./pkgs.nix { inherit lib system host config; };
in
lib.fix (final: lib.foldl' (prev: overlay: prev // overlay final prev) base overlays)
