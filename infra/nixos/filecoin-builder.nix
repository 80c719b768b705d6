# NixOS module: a Hydra remote builder for rust-fil-proofs' heavy jobs. It
#   - fetches the Groth parameters ONCE, as the project's own tooling does
#     (`paramfetch --all --json parameters.json`, from rust-fil-proofs' fil-proofs-param),
#     into parameterCache; paramfetch skips files whose digest already matches;
#   - exposes them and the parent cache to every build's sandbox (nix.settings
#     extra-sandbox-paths), at the paths the jobs' FIL_PROOFS_PARAMETER_CACHE and
#     FIL_PROOFS_PARENT_CACHE name (nix/lib/rust.nix, filecoinParams);
#   - advertises the builder features jobs require (nix.settings.system-features):
#     filecoin-params, plus big-memory and gpu where the host has them, so Hydra sends
#     those jobs here instead of failing them as "Unsupported".
#
#   imports = [ ironworks.nixosModules.filecoin-builder ];
#   services.ironworks-builder = {
#     enable = true; bigMemory = true; gpu = true;
#     paramfetch = "${rust-fil-proofs}/bin/paramfetch"; parametersJson = ./parameters.json;
#   };
{ self }:
{ config, lib, pkgs, ... }:
let
  cfg = config.services.ironworks-builder;
  paths = self.lib.filecoinParams;
in
{
  options.services.ironworks-builder = {
    enable = lib.mkEnableOption "an Ironworks builder for jobs that need Groth parameters, big memory or GPUs";
    paramfetch = lib.mkOption {
      type = lib.types.str;
      description = "The paramfetch program (rust-fil-proofs' fil-proofs-param; e.g. \"\${rust-fil-proofs}/bin/paramfetch\").";
    };
    parametersJson = lib.mkOption {
      type = lib.types.path;
      description = "rust-fil-proofs' parameters.json (the parameter set its tests are built for).";
    };
    bigMemory = lib.mkOption { type = lib.types.bool; default = false; description = "Advertise big-memory (the 32/64 GiB sector tests)."; };
    gpu = lib.mkOption { type = lib.types.bool; default = false; description = "Advertise gpu and mount the GPUs into every build's sandbox (docs/nix.md, GPU jobs)."; };
    gpuSandboxPaths = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ "/dev/nvidiactl" "/dev/nvidia-uvm" "/dev/nvidia-uvm-tools" "/dev/nvidia0" "/run/opengl-driver" ];
      description = "Device nodes (one /dev/nvidiaN per GPU) and the driver runpath (/run/opengl-driver/lib) a GPU build sees.";
    };
    extraFeatures = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; description = "More builder features to advertise."; };
  };

  config = lib.mkIf cfg.enable {
    assertions = [{
      assertion = lib.hasPrefix "/" cfg.paramfetch;
      message = "services.ironworks-builder.paramfetch must be an absolute path to the paramfetch program";
    }];

    systemd.tmpfiles.rules = [
      "d ${paths.parameterCache} 0755 root root -"
      # builds write the parent cache (sticky, world-writable like /var/tmp itself)
      "d ${paths.parentCache} 1777 root root -"
    ];

    systemd.services.filecoin-params = {
      description = "fetch the Groth parameters of rust-fil-proofs once";
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];
      before = [ "nix-daemon.service" ];
      environment.FIL_PROOFS_PARAMETER_CACHE = paths.parameterCache;
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStart = "${cfg.paramfetch} --all --json=${cfg.parametersJson}";
        Restart = "on-failure";
        RestartSec = "60s";
      };
    };

    nix.settings = {
      extra-sandbox-paths = [ paths.parameterCache paths.parentCache ] ++ lib.optionals cfg.gpu cfg.gpuSandboxPaths;
      system-features = [ "nixos-test" "benchmark" "big-parallel" "kvm" "filecoin-params" ]
        ++ lib.optional cfg.bigMemory "big-memory"
        ++ lib.optional cfg.gpu "gpu"
        ++ cfg.extraFeatures;
    };
  };
}
