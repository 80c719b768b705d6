# The Go programs of this repository: packages.coordinator and packages.benchkit
# (buildGoModule over the one Go module at the root).
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

  # program pkgs { pname, main }: buildGoModule of ./<main>, or a marker while it is absent.
  program = pkgs: { pname, main }:
    if builtins.pathExists (src + "/${main}/main.go") then
      pkgs.buildGoModule {
        inherit pname version vendorHash;
        src = goSrc;
        subPackages = [ main ];
        ldflags = [ "-s" "-w" ];
        env.CGO_ENABLED = "0";
        # buildGoModule runs `go test` of subPackages by default; the story tests need nix,
        # cargo and git, which a Nix build has not: CI runs them (.ci/test).
        doCheck = false;
        meta.mainProgram = pname;
      }
    else
      pkgs.runCommand "${pname}-absent" { meta.description = "${main} does not exist on this branch yet"; } ''
        mkdir -p $out
        echo "${main} does not exist on this branch yet" > $out/absent
      '';
in
{
  packages = pkgs: {
    coordinator = program pkgs { pname = "coordinator"; main = "coordinator/cmd/coordinator"; };
    benchkit = program pkgs { pname = "benchkit"; main = "benchkit/cmd/benchkit"; };
  };
}
