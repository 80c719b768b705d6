# NixOS module: the Ironworks coordinator daemon (`coordinator serve --config F`).
#
#   imports = [ ironworks.nixosModules.coordinator ];
#   services.ironworks-coordinator = {
#     enable = true;
#     configFile = ./ironworks.toml;           # state_dir = "/var/lib/ironworks"
#     credentials = { github-token = "/run/keys/github-token"; webhook = "/run/keys/webhook"; };
#   };
#
# Secrets never enter the Nix store or the command line: each credential is passed with
# systemd's LoadCredential and is readable only by the service, at
# /run/credentials/ironworks-coordinator.service/<name>; point the configuration's *_file
# keys there (e.g. token_file = "/run/credentials/ironworks-coordinator.service/github-token").
{ self }:
{ config, lib, pkgs, ... }:
let
  cfg = config.services.ironworks-coordinator;
in
{
  options.services.ironworks-coordinator = {
    enable = lib.mkEnableOption "the Ironworks release pipeline coordinator";
    package = lib.mkOption {
      type = lib.types.package;
      default = self.packages.${pkgs.stdenv.hostPlatform.system}.coordinator;
      description = "The coordinator package.";
    };
    configFile = lib.mkOption {
      type = lib.types.path;
      description = "The coordinator's TOML configuration (docs: DESIGN.md). Use state_dir = \"/var/lib/ironworks\".";
    };
    credentials = lib.mkOption {
      type = lib.types.attrsOf lib.types.str;
      default = { };
      description = "Secret files by name, loaded with LoadCredential (name -> path on the host).";
    };
    path = lib.mkOption {
      type = lib.types.listOf lib.types.package;
      default = [ pkgs.git pkgs.bubblewrap config.nix.package ];
      description = "Programs the local and hydra engines call (git, bwrap for the job sandbox, nix, cargo for local builds).";
    };
  };

  config = lib.mkIf cfg.enable {
    systemd.services.ironworks-coordinator = {
      description = "Ironworks release pipeline coordinator";
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];
      inherit (cfg) path;
      environment.HOME = "/var/lib/ironworks";
      serviceConfig = {
        ExecStart = "${cfg.package}/bin/coordinator serve --config ${cfg.configFile}";
        Restart = "on-failure";
        RestartSec = "5s";
        DynamicUser = true;
        StateDirectory = "ironworks";
        StateDirectoryMode = "0700";
        WorkingDirectory = "/var/lib/ironworks";
        LoadCredential = lib.mapAttrsToList (name: file: "${name}:${file}") cfg.credentials;
        UMask = "0077";
        # hardening
        NoNewPrivileges = true;
        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
        PrivateDevices = true;
        ProtectKernelTunables = true;
        ProtectKernelModules = true;
        ProtectKernelLogs = true;
        ProtectControlGroups = true;
        ProtectClock = true;
        ProtectHostname = true;
        ProtectProc = "invisible";
        RestrictAddressFamilies = [ "AF_INET" "AF_INET6" "AF_UNIX" ];
        # Jobs run under bubblewrap, which needs these namespaces (never net:
        # jobs keep the host's network unless their adapter cuts it).
        RestrictNamespaces = [ "user" "mnt" "pid" "ipc" "uts" "cgroup" ];
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        LockPersonality = true;
        MemoryDenyWriteExecute = true;
        SystemCallArchitectures = "native";
        # bubblewrap mounts, pivots and maps its user: @mount, pivot_root and
        # setgroups, which ~@privileged would deny.
        SystemCallFilter = [ "@system-service" "@mount" "pivot_root" "setgroups" ];
        CapabilityBoundingSet = "";
        AmbientCapabilities = "";
      };
    };
  };
}
