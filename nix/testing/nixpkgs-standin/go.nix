# TEST DOUBLE: nixpkgs' Go tooling (pkgs/build-support/go/module.nix). The Go toolchain
# is the host's (host.json); the module proxy is the host's module cache, served as a
# file:// GOPROXY to the fixed-output vendor derivation, the only derivation that may
# fetch, as in nixpkgs.
{ lib, host, hostTool, mkDerivation }:
rec {
  go = hostTool "go-${host.go.version}" host.go.bin [ "go" "gofmt" ] { passthru.version = host.go.version; };

  # buildGoModule: vendorHash is required (null: the source vendors itself). goModules
  # is a fixed-output derivation running `go mod vendor`; its NAR hash must equal
  # vendorHash, or Nix fails the build with "hash mismatch". The package then builds
  # subPackages with -mod=vendor -trimpath, GOPROXY=off, and runs their tests unless
  # doCheck = false (doCheck defaults to true in nixpkgs).
  buildGoModule = { pname, version, src, vendorHash ? throw "buildGoModule: vendorHash is missing", subPackages ? [ ], ldflags ? [ ], nativeBuildInputs ? [ ], ... }@args:
    let
      goModules = if vendorHash == null then "" else mkDerivation {
        name = "${pname}-${version}-go-modules";
        inherit src;
        nativeBuildInputs = [ go ];
        GOPROXY = host.go.proxy;
        GOSUMDB = "off";
        GOTOOLCHAIN = "local";
        GO111MODULE = "on";
        configurePhase = ''
          export GOCACHE=$TMPDIR/go-cache GOPATH=$TMPDIR/go
        '';
        buildPhase = ''
          if [ -d vendor ]; then echo "vendor folder exists, please set 'vendorHash = null;' in your expression"; exit 10; fi
          go mod vendor
          mkdir -p vendor
        '';
        installPhase = ''
          cp -r vendor $out
          if ! [ "$(ls -A $out)" ]; then echo "vendor folder is empty, please set 'vendorHash = null;' in your expression"; exit 10; fi
        '';
        outputHashMode = "recursive";
        outputHash = vendorHash;
        outputHashAlgo = if vendorHash == "" then "sha256" else null;
      };
    in
    mkDerivation (removeAttrs args [ "vendorHash" "subPackages" "ldflags" ] // {
      nativeBuildInputs = [ go ] ++ nativeBuildInputs;
      GOFLAGS = "-mod=vendor -trimpath";
      GOTOOLCHAIN = "local";
      GO111MODULE = "on";
      ldflags = ldflags ++ [ "-buildid=" ];
      inherit subPackages;
      configurePhase = args.configurePhase or ''
        runHook preConfigure
        export GOCACHE=$TMPDIR/go-cache GOPATH=$TMPDIR/go GOPROXY=off GOSUMDB=off
        ${lib.optionalString (vendorHash != null) "rm -rf vendor; cp -r --no-preserve=mode ${goModules} vendor"}
        runHook postConfigure
      '';
      buildPhase = args.buildPhase or ''
        runHook preBuild
        for p in $subPackages; do
          echo "Building subPackage ./$p"
          go install -p $NIX_BUILD_CORES -ldflags="$ldflags" "./$p"
        done
        runHook postBuild
      '';
      doCheck = args.doCheck or true;
      checkPhase = args.checkPhase or ''
        runHook preCheck
        for p in $subPackages; do go test -p $NIX_BUILD_CORES -vet=off "./$p"; done
        runHook postCheck
      '';
      installPhase = args.installPhase or ''
        runHook preInstall
        mkdir -p $out
        [ -e "$GOPATH/bin" ] && cp -r "$GOPATH/bin" $out
        runHook postInstall
      '';
      passthru = (args.passthru or { }) // { inherit go goModules vendorHash; };
    });
}
