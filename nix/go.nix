# The Go programs of this repository: packages.coordinator and packages.benchkit
# (ONE buildGoModule over the one Go module at the root, both main packages).
#
# src is the repository minus what never reaches a Go build (locks/, docs/, nix/, ...),
# so a lock-branch commit does not rebuild the coordinator.
# vendorHash lives in nix/go-vendor-hash: after go.mod/go.sum change, run
# nix/update-vendor-hash (it needs the Go module proxy) and commit the result.
# A main package that does not exist yet gives a marker derivation instead of a broken
# build, so the flake evaluates on every branch.
{ lib, src }:
let
  goSrc = builtins.path {
    name = "ironworks-go-source";
    path = src;
    filter = path: type:
      let rel = lib.removePrefix (toString src + "/") (toString path); in
      !(builtins.elem rel [ "locks" "docs" "nix" ".git" ".github" "result" "infra/ansible" "infra/systemd" ])
      && !(lib.hasSuffix ".nix" rel);
  };
  vendorHashFile = ./go-vendor-hash;
  vendorHash =
    if builtins.pathExists vendorHashFile then lib.replaceStrings [ "\n" ] [ "" ] (builtins.readFile vendorHashFile) else lib.fakeHash;
  version = "0.1.0";

  # goModGo: the Go version go.mod's `go` directive asks for.
  goModGo = builtins.head (builtins.match ".*\ngo ([0-9.]+)\n.*" ("\n" + builtins.readFile (src + "/go.mod")));

  mains = {
    coordinator = "coordinator/cmd/coordinator";
    benchkit = "benchkit/cmd/benchkit";
  };
  present = lib.filterAttrs (_: main: builtins.pathExists (src + "/${main}/main.go")) mains;

  # programs pkgs: ONE buildGoModule for every main package that exists (nixpkgs'
  # subPackages), so the module's dependencies (modernc.org/sqlite above all) compile once.
  #
  # Type: programs :: attrset -> derivation
  programs = pkgs:
    assert lib.assertMsg (lib.versionAtLeast pkgs.go.version goModGo)
      "ironworks: go.mod needs Go ${goModGo}, but this nixpkgs' go is ${pkgs.go.version}: use a newer nixpkgs input (flake.nix)";
    pkgs.buildGoModule {
    pname = "ironworks";
    inherit version vendorHash;
    src = goSrc;
    subPackages = lib.attrValues present;
    ldflags = [ "-s" "-w" ];
    env.CGO_ENABLED = "0";
    # buildGoModule runs `go test` of subPackages by default; the story tests need nix,
    # cargo and git, which a Nix build has not: CI runs them (.ci/test).
    doCheck = false;
  };

  # absent pkgs name: the marker a main package that does not exist yet gets.
  absent = pkgs: name:
    pkgs.runCommand "${name}-absent" { meta.description = "${mains.${name}} does not exist on this branch yet"; } ''
      mkdir -p $out
      echo "${mains.${name}} does not exist on this branch yet" > $out/absent
    '';
in
{
  # packages pkgs: { coordinator, benchkit }: the one Go build (bin/coordinator and
  # bin/benchkit), or a marker for a main package this branch lacks.
  packages = pkgs:
    let built = programs pkgs; in
    lib.mapAttrs (name: _: if present ? ${name} then built else absent pkgs name) mains;
}
