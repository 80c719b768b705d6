# Checks of the NixOS modules, evaluated by the module system as NixOS evaluates them
# (lib.nixosSystem: option types, undeclared options and assertions are checked):
# service definitions, credentials, hardening, binary cache trust, GPU devices, and the
# builder module's parameters, sandbox paths and features. A failed expectation fails
# evaluation (checks.<system>.nixos-modules).
{ lib, pkgs, modules, system }:
let
  fakePkg = name: pkgs.runCommand "fake-${name}" { } "mkdir -p $out/bin";
  eval = mods: lib.nixosSystem { inherit system; modules = mods ++ [{ nix.package = fakePkg "nix"; }]; };
  # ours: failing assertions of the Ironworks modules (NixOS' own, root file system and
  # boot loader, fail in a configuration this small)
  ours = cfg: map (a: a.message) (lib.filter (a: !a.assertion && builtins.match "services\\.(ironworks|benchkit).*" a.message != null) cfg.assertions);
  fails = mods: !(builtins.tryEval (builtins.deepSeq (eval mods).config.systemd.services null)).success;

  coord = (eval [
    modules.coordinator
    {
      services.ironworks-coordinator = {
        enable = true;
        package = fakePkg "coordinator";
        configFile = "/etc/ironworks/config.toml";
        credentials = { github-token = "/run/keys/github-token"; };
      };
    }
  ]).config;
  cs = coord.systemd.services.ironworks-coordinator;

  agentModule = extra: {
    services.benchkit-agent = {
      enable = true;
      package = fakePkg "benchkit";
      coordinator = "https://ironworks.example.org";
      tokenFile = "/run/keys/benchkit-token";
      features = [ "gpu" "big-memory" ];
      binaryCache = { url = "https://hydra.example.org"; publicKey = "hydra.example.org-1:AAAA"; };
    } // extra;
  };
  agent = (eval [ modules.benchkit-agent (agentModule { }) ]).config;
  as = agent.systemd.services.benchkit-agent.serviceConfig;

  builder = (eval [
    modules.filecoin-builder
    {
      services.ironworks-builder = {
        enable = true;
        bigMemory = true;
        gpu = true;
        paramfetch = "/nix/store/00000000000000000000000000000000-rust-fil-proofs/bin/paramfetch";
        parametersJson = "/etc/filecoin/parameters.json";
      };
    }
  ]).config;
  params = builder.systemd.services.filecoin-params;

  hardened = sc: sc.NoNewPrivileges && sc.ProtectSystem == "strict" && sc.PrivateTmp && sc.ProtectHome
    && sc.DynamicUser && sc.CapabilityBoundingSet == "" && sc ? StateDirectory;

  failures = lib.runTests {
    testCoordinatorCommand = { expr = lib.hasSuffix "/bin/coordinator serve --config /etc/ironworks/config.toml" cs.serviceConfig.ExecStart; expected = true; };
    testCoordinatorHardened = { expr = hardened cs.serviceConfig && cs.serviceConfig.PrivateDevices; expected = true; };
    testCoordinatorCredential = { expr = cs.serviceConfig.LoadCredential; expected = [ "github-token:/run/keys/github-token" ]; };
    # the default path holds git, bubblewrap (the job sandbox) and nix
    testCoordinatorPath = { expr = map (p: p.name) cs.path; expected = map (p: p.name) [ pkgs.git pkgs.bubblewrap coord.nix.package ]; };
    testCoordinatorAssertions = { expr = ours coord; expected = [ ]; };
    testAgentCommand = {
      expr = lib.hasSuffix "/bin/benchkit agent --coordinator 'https://ironworks.example.org' --token-file %d/token --features gpu,big-memory" as.ExecStart;
      expected = true;
    };
    testAgentHardened = { expr = hardened as && as.DevicePolicy == "closed"; expected = true; };
    testAgentToken = { expr = as.LoadCredential; expected = [ "token:/run/keys/benchkit-token" ]; };
    # every GPU of the host, by device class, not only /dev/nvidia0
    testAgentAllGpus = { expr = as.DeviceAllow; expected = [ "char-nvidia-frontend rw" "char-nvidia-uvm rw" "char-nvidia-caps rw" "char-drm rw" ]; };
    testAgentDaemonSocket = { expr = as.ReadWritePaths; expected = [ "/nix/var/nix/daemon-socket" ]; };
    testAgentAssertions = { expr = ours agent; expected = [ ]; };
    testAgentDirectoryIsNoDevice = {
      expr = ours (eval [ modules.benchkit-agent (agentModule { gpuDevices = [ "/dev/dri" ]; }) ]).config != [ ];
      expected = true;
    };
    testAgentCache = {
      expr = { inherit (agent.nix.settings) substituters trusted-public-keys; };
      expected = { substituters = [ "https://hydra.example.org" ]; trusted-public-keys = [ "hydra.example.org-1:AAAA" ]; };
    };
    # option types and names are checked: a string for a list, an undeclared option
    testAgentFeaturesTyped = { expr = fails [ modules.benchkit-agent (agentModule { features = "gpu"; }) ]; expected = true; };
    testAgentUnknownOption = { expr = fails [ modules.benchkit-agent (agentModule { featurez = [ ]; }) ]; expected = true; };
    testBuilderFeatures = {
      expr = lib.all (f: lib.elem f builder.nix.settings.system-features) [ "filecoin-params" "big-memory" "gpu" ];
      expected = true;
    };
    testBuilderSandboxPaths = {
      expr = lib.all (p: lib.elem p builder.nix.settings.extra-sandbox-paths)
        [ "/var/tmp/filecoin-proof-parameters" "/var/tmp/filecoin-parents" "/dev/nvidia0" "/run/opengl-driver" ];
      expected = true;
    };
    testBuilderFetchesOnce = {
      expr = {
        inherit (params.serviceConfig) Type RemainAfterExit ExecStart;
        cache = params.environment.FIL_PROOFS_PARAMETER_CACHE;
      };
      expected = {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStart = "/nix/store/00000000000000000000000000000000-rust-fil-proofs/bin/paramfetch --all --json=/etc/filecoin/parameters.json";
        cache = "/var/tmp/filecoin-proof-parameters";
      };
    };
    testBuilderAssertions = { expr = ours builder; expected = [ ]; };
    testBuilderRelativeParamfetch = {
      expr = ours (eval [ modules.filecoin-builder { services.ironworks-builder = { enable = true; paramfetch = "paramfetch"; parametersJson = "/p.json"; }; } ]).config != [ ];
      expected = true;
    };
  };
in
if failures == [ ] then pkgs.runCommand "ironworks-nixos-module-tests" { } "echo ok > $out"
else throw "ironworks NixOS module tests failed: ${builtins.toJSON failures}"
