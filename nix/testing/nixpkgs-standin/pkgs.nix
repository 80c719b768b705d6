# TEST DOUBLE: legacyPackages.<system> of the nixpkgs stand-in. Same attribute and
# argument names as nixpkgs; builders run the host tools named in host.json.
{ lib, system, host }:
let
  inherit (lib) optionalString concatStringsSep;

  # stdenv.mkDerivation: phases (unpack, patch, configure, build, check, install) with
  # pre/post hooks, `env`, `passthru` and `meta` kept out of the builder environment.
  mkDerivation = attrs:
    let
      name = attrs.name or "${attrs.pname}-${attrs.version}";
      drvAttrs = removeAttrs attrs [ "passthru" "meta" "env" "pname" "version" ] // (attrs.env or { }) // {
        inherit name system;
        builder = host.shell;
        args = [ "-e" ./setup.sh ];
        standinPath = host.path;
        doCheck = if attrs.doCheck or false then "1" else "";
        dontBuild = if attrs.dontBuild or false then "1" else "";
      };
      drv = derivation drvAttrs;
    in
    drv // (attrs.passthru or { }) // {
      meta = attrs.meta or { };
      passthru = attrs.passthru or { };
    } // lib.optionalAttrs (attrs ? pname) { inherit (attrs) pname version; };

  # A host tool as a package: $out/bin holds symlinks to the host's binaries.
  hostTool = name: bins: runCommand "standin-host-${name}" { } ''
    mkdir -p $out/bin
    ${concatStringsSep "\n" (map (b: ''p=$(command -v ${b}) && ln -s "$p" $out/bin/${b}'') bins)}
  '';

  # A system library nixpkgs would build; the stand-in's fixtures do not link it.
  stubLibrary = name: runCommand "standin-stub-${name}" { } ''
    mkdir -p $out/lib
    echo "stand-in for nixpkgs' ${name}: the offline fixtures do not link it" > $out/README
  '';

  runCommand = name: env: buildCommand:
    mkDerivation ({ inherit name buildCommand; } // env);

  writeTextFile = { name, text, executable ? false, destination ? "" }:
    runCommand name { inherit text; passAsFile = [ "text" ]; } ''
      target="$out${destination}"
      mkdir -p "$(dirname "$target")"
      cp "$textPath" "$target"
      ${optionalString executable ''chmod +x "$target"''}
    '';
  writeText = name: text: writeTextFile { inherit name text; };
  writeShellScript = name: text: writeTextFile {
    inherit name;
    executable = true;
    text = "#!${host.shell}\n${text}";
  };
  writeShellScriptBin = name: text: writeTextFile {
    inherit name;
    executable = true;
    destination = "/bin/${name}";
    text = "#!${host.shell}\n${text}";
  };
  writeShellApplication = { name, text, runtimeInputs ? [ ] }: writeShellScriptBin name ''
    set -o errexit -o nounset -o pipefail
    export PATH="${lib.makeBinPath runtimeInputs}:$PATH"
    ${text}
  '';

  cargo = hostTool "cargo" [ "cargo" "rustc" "rustdoc" ];
  rustc = hostTool "rustc" [ "rustc" ];
  clippy = hostTool "clippy" [ "cargo-clippy" "clippy-driver" ];
  rustfmt = hostTool "rustfmt" [ "rustfmt" "cargo-fmt" ];
  go = hostTool "go" [ "go" "gofmt" ];
  git = hostTool "git" [ "git" ];
  jq = hostTool "jq" [ "jq" ];

  # rustPlatform.buildRustPackage. Like nixpkgs, it insists that `cargoLock.lockFile` is
  # the Cargo.lock the build uses (nixpkgs vendors from it and fails on a mismatch).
  # Unlike nixpkgs it does not vendor: fixture crates have no crates.io dependencies and
  # git dependencies (file:// fixture repositories) are fetched by cargo itself, offline.
  buildRustPackage = { cargoLock ? null, cargoHash ? null, nativeBuildInputs ? [ ], ... }@args:
    assert lib.assertMsg (cargoLock != null || cargoHash != null)
      "buildRustPackage: set cargoLock or cargoHash (as nixpkgs requires)";
    mkDerivation (removeAttrs args [ "cargoLock" "cargoHash" ] // {
      nativeBuildInputs = [ cargo clippy rustfmt git ] ++ nativeBuildInputs;
      standinLockFile = if cargoLock != null then cargoLock.lockFile else "";
      preConfigure = ''
        export CARGO_HOME="$TMPDIR/cargo-home"
        export CARGO_TARGET_DIR="$PWD/target"
        export CARGO_NET_GIT_FETCH_WITH_CLI=true
        # like nixpkgs' vendoring: crates.io is replaced by a local directory (empty here)
        mkdir -p "$CARGO_HOME" "$TMPDIR/vendored-sources"
        printf '[source.crates-io]\nreplace-with = "vendored-sources"\n[source.vendored-sources]\ndirectory = "%s"\n' "$TMPDIR/vendored-sources" > "$CARGO_HOME/config.toml"
        if [ -n "$standinLockFile" ]; then
          if [ ! -f Cargo.lock ]; then
            echo "buildRustPackage: Cargo.lock is missing from the source; copy cargoLock.lockFile in postPatch" >&2
            exit 1
          fi
          if ! cmp -s Cargo.lock "$standinLockFile"; then
            echo "buildRustPackage: Cargo.lock differs from cargoLock.lockFile ($standinLockFile)" >&2
            exit 1
          fi
        fi
      '' + (args.preConfigure or "");
      buildPhase = args.buildPhase or "cargo build --release --locked";
      checkPhase = args.checkPhase or "cargo test --release --locked";
      doCheck = args.doCheck or true;
      installPhase = args.installPhase or ''
        mkdir -p $out/bin
        find target/release -maxdepth 1 -type f -executable -exec cp {} $out/bin/ \;
      '';
    });

  # buildGoModule: builds subPackages with the host's Go and its module cache, offline.
  # vendorHash must be given (as in nixpkgs) but is not checked here.
  buildGoModule = { vendorHash, subPackages ? [ "." ], ldflags ? [ ], nativeBuildInputs ? [ ], ... }@args:
    mkDerivation (removeAttrs args [ "vendorHash" "subPackages" "ldflags" ] // {
      nativeBuildInputs = [ go ] ++ nativeBuildInputs;
      standinVendorHash = if vendorHash == null then "" else vendorHash;
      buildPhase = args.buildPhase or ''
        export GOCACHE="$TMPDIR/go-cache" GOMODCACHE=${lib.escapeShellArg host.gomodcache} GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0
        mkdir -p "$TMPDIR/gobin"
        for p in ${lib.escapeShellArgs subPackages}; do
          go build -trimpath -ldflags ${lib.escapeShellArg (concatStringsSep " " ldflags)} -o "$TMPDIR/gobin/" "./$p"
        done
      '';
      doCheck = false;
      installPhase = args.installPhase or ''
        mkdir -p $out/bin
        cp "$TMPDIR"/gobin/* $out/bin/
      '';
    });

  # releaseTools.aggregate, as in nixpkgs: Hydra builds it once every constituent built.
  aggregate = { name, constituents, meta ? { } }:
    mkDerivation {
      inherit name constituents meta;
      _hydraAggregate = true;
      preferLocalBuild = true;
      buildCommand = ''
        mkdir -p $out/nix-support
        touch $out/nix-support/hydra-build-products
        echo $constituents > $out/nix-support/hydra-aggregate-constituents
        for i in $constituents; do
          if [ -e "$i/nix-support/failed" ]; then touch $out/nix-support/failed; fi
        done
      '';
    };

  mkShell = { packages ? [ ], nativeBuildInputs ? [ ], buildInputs ? [ ], shellHook ? "", ... }@args:
    mkDerivation (removeAttrs args [ "packages" ] // {
      name = args.name or "nix-shell";
      nativeBuildInputs = packages ++ nativeBuildInputs;
      inherit buildInputs shellHook;
      buildCommand = ''echo "a shell environment, not meant to be built" > $out'';
    });
in
{
  inherit system lib runCommand writeText writeTextFile writeShellScript writeShellScriptBin
    writeShellApplication mkShell buildGoModule cargo rustc clippy rustfmt go git jq;
  stdenv = { inherit mkDerivation; hostPlatform.system = system; buildPlatform.system = system; };
  rustPlatform = { inherit buildRustPackage; };
  releaseTools = { inherit aggregate; };
  pkg-config = hostTool "pkg-config" [ ];
  hwloc = stubLibrary "hwloc";
  ocl-icd = stubLibrary "ocl-icd";
  runCommandLocal = runCommand;
  runtimeShell = host.shell;
  coreutils = hostTool "coreutils" [ "ls" "cat" "cp" "mkdir" ];
  bash = hostTool "bash" [ "bash" ];
}
