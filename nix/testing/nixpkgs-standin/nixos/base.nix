# TEST DOUBLE: the NixOS options the Ironworks modules set, with NixOS' names and types:
#   assertions, warnings                nixos/modules/misc/assertions.nix
#   systemd.services.<name>.*           nixos/lib/systemd-unit-options.nix (unitOption)
#   systemd.tmpfiles.rules              nixos/modules/system/boot/systemd/tmpfiles.nix
#   nix.package, nix.settings.*         nixos/modules/config/nix.nix (freeform settings)
#   users.users, users.groups           nixos/modules/config/users-groups.nix
#   environment.systemPackages          nixos/modules/config/system-path.nix
{ lib, ... }:
let
  inherit (lib) mkOption types;
  scalar = types.oneOf [ types.bool types.int types.str types.path types.package ];
  unitOption = types.either scalar (types.listOf scalar);
  list = mkOption { type = types.listOf types.str; default = [ ]; };
  service = { ... }: {
    options = {
      description = mkOption { type = types.str; default = ""; };
      wantedBy = list; wants = list; after = list; requires = list; before = list;
      path = mkOption { type = types.listOf (types.either types.package types.str); default = [ ]; };
      environment = mkOption { type = types.attrsOf (types.nullOr (types.oneOf [ types.str types.path types.package ])); default = { }; };
      serviceConfig = mkOption { type = types.attrsOf unitOption; default = { }; };
      unitConfig = mkOption { type = types.attrsOf unitOption; default = { }; };
      script = mkOption { type = types.lines; default = ""; };
      startAt = mkOption { type = types.either types.str (types.listOf types.str); default = [ ]; };
    };
  };
in
{
  options = {
    assertions = mkOption {
      type = types.listOf (types.submodule { options = { assertion = mkOption { type = types.bool; }; message = mkOption { type = types.str; }; }; });
      default = [ ];
    };
    warnings = mkOption { type = types.listOf types.str; default = [ ]; };
    systemd.services = mkOption { type = types.attrsOf (types.submodule service); default = { }; };
    systemd.tmpfiles.rules = list;
    nix.package = mkOption { type = types.package; };
    nix.settings = mkOption {
      type = types.submodule {
        options = {
          substituters = list; trusted-public-keys = list; system-features = list;
          extra-sandbox-paths = list; trusted-users = list; allowed-users = list;
        };
      };
      default = { };
    };
    users.users = mkOption {
      type = types.attrsOf (types.submodule {
        options = {
          isSystemUser = mkOption { type = types.bool; default = false; };
          group = mkOption { type = types.str; default = ""; };
          extraGroups = list;
        };
      });
      default = { };
    };
    users.groups = mkOption { type = types.attrsOf (types.submodule { options.members = list; }); default = { }; };
    environment.systemPackages = mkOption { type = types.listOf types.package; default = [ ]; };
  };
}
