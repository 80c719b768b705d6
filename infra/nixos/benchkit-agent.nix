# NixOS module: a benchkit agent on a GPU host
# (`benchkit agent --coordinator URL --token-file F --features gpu,...`).
# It dials out to the coordinator (no inbound port), leases benchmark jobs matching its
# features and realises each job's sector-bench store path, which Hydra built and signed:
# this module trusts Hydra's binary cache (nix.settings.substituters and
# trusted-public-keys) so those paths are downloaded, never built, on the GPU host.
#
#   services.benchkit-agent = {
#     enable = true;
#     coordinator = "https://ironworks.example.org";
#     tokenFile = "/run/keys/benchkit-token";
#     features = [ "gpu" "big-memory" ];
#     binaryCache = { url = "https://hydra.example.org"; publicKey = "hydra.example.org-1:..."; };
#   };
{ self }:
{ config, lib, pkgs, ... }:
let
  cfg = config.services.benchkit-agent;
in
{
  options.services.benchkit-agent = {
    enable = lib.mkEnableOption "the benchkit agent (GPU benchmark runner)";
    package = lib.mkOption {
      type = lib.types.package;
      default = self.packages.${pkgs.stdenv.hostPlatform.system}.benchkit;
      description = "The benchkit package.";
    };
    coordinator = lib.mkOption { type = lib.types.str; description = "The coordinator's base URL."; };
    tokenFile = lib.mkOption {
      type = lib.types.str;
      description = "File holding the agent token; passed with LoadCredential, never in the store.";
    };
    features = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ "gpu" ];
      description = "Worker features this host offers (adapter.toml `requires`).";
    };
    binaryCache = {
      url = lib.mkOption { type = lib.types.str; description = "Hydra's binary cache URL."; };
      publicKey = lib.mkOption { type = lib.types.str; description = "Hydra's signing key (name:base64)."; };
    };
    gpuDevices = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      # device classes (/proc/devices), so every GPU of the host is allowed, not only the
      # first: nvidia-frontend is /dev/nvidia0..N and /dev/nvidiactl, drm is /dev/dri/*
      default = [ "char-nvidia-frontend" "char-nvidia-uvm" "char-nvidia-caps" "char-drm" ];
      description = "Devices the agent may open: device nodes (/dev/nvidia0) or classes (char-nvidia-frontend), as systemd's DeviceAllow takes them.";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [{
      # a directory (/dev/dri) is no device for DeviceAllow; a class covers every GPU
      assertion = lib.all (d: (lib.hasPrefix "/dev/" d && d != "/dev/dri") || lib.hasPrefix "char-" d || lib.hasPrefix "block-" d) cfg.gpuDevices;
      message = "services.benchkit-agent.gpuDevices: want device nodes (/dev/nvidia0) or classes (char-nvidia-frontend), got ${toString cfg.gpuDevices}";
    }];

    nix.settings = {
      substituters = [ cfg.binaryCache.url ];
      trusted-public-keys = [ cfg.binaryCache.publicKey ];
    };

    systemd.services.benchkit-agent = {
      description = "benchkit agent (Ironworks GPU benchmarks)";
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];
      path = [ config.nix.package pkgs.bubblewrap ];
      environment = {
        HOME = "/var/lib/benchkit-agent";
        FIL_PROOFS_PARAMETER_CACHE = "/var/lib/benchkit-agent/filecoin-proof-parameters";
        FIL_PROOFS_PARENT_CACHE = "/var/cache/benchkit-agent/filecoin-parents";
      };
      serviceConfig = {
        ExecStart = lib.concatStringsSep " " [
          "${cfg.package}/bin/benchkit agent"
          "--coordinator ${lib.escapeShellArg cfg.coordinator}"
          "--token-file %d/token"
          "--features ${lib.concatStringsSep "," cfg.features}"
        ];
        LoadCredential = [ "token:${cfg.tokenFile}" ];
        Restart = "always";
        RestartSec = "10s";
        DynamicUser = true;
        SupplementaryGroups = [ "video" "render" ];
        StateDirectory = "benchkit-agent";
        CacheDirectory = "benchkit-agent";
        WorkingDirectory = "/var/lib/benchkit-agent";
        UMask = "0077";
        # hardening; GPUs need their device nodes, so PrivateDevices stays off and
        # DevicePolicy = closed allows only the GPU nodes.
        NoNewPrivileges = true;
        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
        # the agent realises sector-bench store paths through the Nix daemon
        ReadWritePaths = [ "/nix/var/nix/daemon-socket" ];
        DevicePolicy = "closed";
        DeviceAllow = map (d: "${d} rw") cfg.gpuDevices;
        ProtectKernelTunables = true;
        ProtectKernelModules = true;
        ProtectKernelLogs = true;
        ProtectControlGroups = true;
        ProtectClock = true;
        ProtectHostname = true;
        RestrictAddressFamilies = [ "AF_INET" "AF_INET6" "AF_UNIX" "AF_NETLINK" ];
        # Jobs run under bubblewrap, which needs these namespaces (never net:
        # jobs keep the host's network unless their adapter cuts it).
        RestrictNamespaces = [ "user" "mnt" "pid" "ipc" "uts" "cgroup" ];
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        LockPersonality = true;
        SystemCallArchitectures = "native";
        CapabilityBoundingSet = "";
        AmbientCapabilities = "";
      };
    };
  };
}
