# TEST DOUBLE: lib.nixosSystem (nixpkgs' flake.nix -> nixos/lib/eval-config.nix): the
# modules given, evaluated with lib.evalModules over a base of the NixOS options the
# Ironworks modules set (nixos/base.nix), `pkgs` the double's packages for `system`.
# It returns { config, options } as eval-config does; there is no system.build.
{ lib }:
{ system, modules, specialArgs ? { } }:
lib.evalModules {
  modules = [ ./base.nix ] ++ modules;
  specialArgs = { pkgs = import ../. { inherit system; }; } // specialArgs;
}
