# TEST DOUBLE: legacyPackages.<system> of the nixpkgs stand-in. Same attribute and
# argument names as nixpkgs; its packages are the host's tools (host.json, written by
# nix/testing/check-offline), its builders mirror nixpkgs' where the flake depends on
# them. Each mirrored behaviour names the nixpkgs file it follows; docs/nix.md lists them
# and what the double cannot mirror.
{ lib, system, host, config ? { } }:
let
  inherit (lib) optionalString concatStringsSep;

  # stdenv.mkDerivation (pkgs/stdenv/generic/make-derivation.nix): phases with pre/post
  # hooks, `env` exported, `passthru` and `meta` kept out of the builder environment,
  # booleans as "1"/"". Every derivation but the bootstrap tools gets the common path.
  mkDerivation = attrs:
    let
      name = attrs.name or "${attrs.pname}-${attrs.version}";
      flag = n: d: if attrs.${n} or d then "1" else "";
      drvAttrs = removeAttrs attrs [ "passthru" "meta" "env" "pname" "version" "doCheck" "dontBuild" ] // (attrs.env or { }) // {
        inherit name system;
        builder = host.shell;
        args = [ "-e" ./setup.sh ];
        doCheck = flag "doCheck" false;
        dontBuild = flag "dontBuild" false;
      } // (if attrs.standinBoot or null != null then { } else { standinCommonPath = commonPath; });
      drv = derivation drvAttrs;
    in
    drv // (attrs.passthru or { }) // {
      meta = attrs.meta or { };
      passthru = attrs.passthru or { };
      overrideAttrs = f: mkDerivation (attrs // f attrs);
    } // lib.optionalAttrs (attrs ? pname) { inherit (attrs) pname version; };

  # hostTool NAME DIR BINS: a host program set as a package, $out/bin/<bin> -> DIR/<bin>.
  # A missing program fails the build (the tool would be missing in nixpkgs too).
  hostTool = name: dir: bins: extra: mkDerivation ({
    name = "standin-${name}";
    standinBoot = host.bootPath;
    buildCommand = ''
      mkdir -p $out/bin
      for b in ${lib.escapeShellArgs bins}; do
        [ -e ${lib.escapeShellArg dir}/"$b" ] || { echo "standin: ${name}: no $b in ${dir}" >&2; exit 1; }
        ln -s ${lib.escapeShellArg dir}/"$b" $out/bin/"$b"
      done
    '' + (extra.buildCommand or "");
  } // removeAttrs extra [ "buildCommand" ]);

  # The common path (pkgs/stdenv/generic/common-path.nix plus cc-wrapper's cc): the
  # programs every nixpkgs builder has, linked from the host by absolute path.
  commonPath = mkDerivation {
    name = "standin-common-path";
    standinBoot = host.bootPath;
    tools = lib.mapAttrsToList (n: p: "${n}=${p}") host.commonPath;
    buildCommand = ''
      mkdir -p $out/bin
      for t in $tools; do ln -s "''${t#*=}" "$out/bin/''${t%%=*}"; done
    '';
  };

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

  rust = import ./rust.nix { inherit lib host hostTool mkDerivation runCommand jq; };
  go = import ./go.nix { inherit lib host hostTool mkDerivation; };
  jq = hostTool "jq" host.binDir [ "jq" ] { };

  # releaseTools.aggregate (pkgs/build-support/release/default.nix): Hydra builds it once
  # every constituent built.
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
  inherit system lib config runCommand writeText writeTextFile writeShellScript writeShellScriptBin
    writeShellApplication mkShell jq;
  inherit (rust) cargo rustc clippy rustfmt rustPlatform makeRustPlatform;
  # Not nixpkgs: what the rust-overlay double needs to make toolchains of the host's.
  standin = { mkRustToolchain = rust.mkToolchain; hostRustVersion = host.rust.version; };
  inherit (go) go buildGoModule;
  stdenv = { inherit mkDerivation; hostPlatform.system = system; buildPlatform.system = system; };
  releaseTools = { inherit aggregate; };
  git = hostTool "git" host.binDir [ "git" ] { };
  # bubblewrap: the job sandbox the NixOS modules put on the services' PATH
  bubblewrap = hostTool "bubblewrap" host.binDir [ "bwrap" ] { };
  pkg-config = hostTool "pkg-config" host.binDir [ ] { };
  hwloc = stubLibrary "hwloc";
  ocl-icd = stubLibrary "ocl-icd";
  runCommandLocal = runCommand;
  runtimeShell = host.shell;
  coreutils = commonPath;
  bash = commonPath;
}
