# Evaluates the NixOS modules' `config` by hand (no nixpkgs module system needed, so it
# runs with the offline stand-in too) and checks the service definitions: command lines,
# credentials, hardening, binary cache trust. A failed expectation fails evaluation.
{ lib, pkgs, modules }:
let
  fakePkg = name: pkgs.runCommand "fake-${name}" { } "mkdir -p $out/bin";
  evalModule = module: config:
    let m = module { inherit lib pkgs config; }; in
    assert m.config._type == "if" && m.config.condition;
    m.config.content;

  coord = evalModule modules.coordinator {
    services.ironworks-coordinator = {
      enable = true;
      package = fakePkg "coordinator";
      configFile = "/etc/ironworks/config.toml";
      credentials = { github-token = "/run/keys/github-token"; };
      path = [ ];
    };
    nix.package = fakePkg "nix";
  };
  cs = coord.systemd.services.ironworks-coordinator.serviceConfig;

  agent = evalModule modules.benchkit-agent {
    services.benchkit-agent = {
      enable = true;
      package = fakePkg "benchkit";
      coordinator = "https://ironworks.example.org";
      tokenFile = "/run/keys/benchkit-token";
      features = [ "gpu" "big-memory" ];
      binaryCache = { url = "https://hydra.example.org"; publicKey = "hydra.example.org-1:AAAA"; };
      gpuDevices = [ "/dev/nvidia0" ];
    };
    nix.package = fakePkg "nix";
  };
  as = agent.systemd.services.benchkit-agent.serviceConfig;

  hardened = sc: sc.NoNewPrivileges && sc.ProtectSystem == "strict" && sc.PrivateTmp && sc.ProtectHome
    && sc.DynamicUser && sc.CapabilityBoundingSet == "" && sc ? StateDirectory;

  failures = lib.runTests {
    testCoordinatorCommand = { expr = lib.hasSuffix "/bin/coordinator serve --config /etc/ironworks/config.toml" cs.ExecStart; expected = true; };
    testCoordinatorHardened = { expr = hardened cs && cs.PrivateDevices; expected = true; };
    testCoordinatorCredential = { expr = cs.LoadCredential; expected = [ "github-token:/run/keys/github-token" ]; };
    testAgentCommand = {
      expr = lib.hasSuffix "/bin/benchkit agent --coordinator 'https://ironworks.example.org' --token-file %d/token --features gpu,big-memory" as.ExecStart;
      expected = true;
    };
    testAgentHardened = { expr = hardened as && as.DevicePolicy == "closed"; expected = true; };
    testAgentToken = { expr = as.LoadCredential; expected = [ "token:/run/keys/benchkit-token" ]; };
    testAgentDevices = { expr = as.DeviceAllow; expected = [ "/dev/nvidia0 rw" ]; };
    testAgentCache = {
      expr = agent.nix.settings;
      expected = { substituters = [ "https://hydra.example.org" ]; trusted-public-keys = [ "hydra.example.org-1:AAAA" ]; };
    };
  };
in
if failures == [ ] then pkgs.runCommand "ironworks-nixos-module-tests" { } "echo ok > $out"
else throw "ironworks NixOS module tests failed: ${builtins.toJSON failures}"
