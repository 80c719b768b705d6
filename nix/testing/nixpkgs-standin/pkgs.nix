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
      } // (if attrs.standinBoot or null != null then { } else { standinCommonPath = commonPath; standinCC = attrs.standinCC or defaultCC; });
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

  # The C compiler of a stdenv (pkgs/build-support/cc-wrapper): gcc, g++, cc, c++ on PATH,
  # and a setup hook exporting CC=gcc, CXX=g++ (cc-wrapper/setup-hook.sh), which wins over
  # a derivation's own CC/CXX. The host's compiler stands in for every gcc version; the
  # version is the one the double claims (only attribute names and the exported names
  # follow it).
  mkCC = version: mkDerivation {
    name = "standin-gcc-wrapper-${version}";
    standinBoot = host.bootPath;
    passthru = { inherit version; isGNU = true; };
    gcc = host.commonPath.gcc;
    gxx = host.commonPath."g++";
    buildCommand = ''
      mkdir -p $out/bin $out/nix-support
      ln -s "$gcc" $out/bin/gcc; ln -s "$gcc" $out/bin/cc
      ln -s "$gxx" $out/bin/g++; ln -s "$gxx" $out/bin/c++
      printf 'export NIX_CC=%s\nexport CC=gcc\nexport CXX=g++\n' "$out" > $out/nix-support/setup-hook
    '';
  } // { version = version; };
  defaultCC = mkCC host.cc.version;

  # stdenv (pkgs/stdenv/generic): mkDerivation with its cc. overrideCC stdenv cc
  # (pkgs/stdenv/adapters.nix) gives the same stdenv with another compiler, as
  # gcc<N>Stdenv are made in pkgs/top-level/all-packages.nix.
  mkStdenv = cc: {
    inherit cc;
    mkDerivation = attrs: mkDerivation ({ standinCC = cc; } // attrs);
    hostPlatform.system = system;
    buildPlatform.system = system;
  };
  defaultStdenv = mkStdenv defaultCC;
  overrideCC = _stdenv: cc: mkStdenv cc;

  # unfree (pkgs/stdenv/generic/check-meta.nix): a package whose license is not free
  # cannot be evaluated (its drvPath and outPath throw) unless config.allowUnfree or
  # config.allowUnfreePredicate allows it.
  checkUnfree = pkg:
    let
      allowed = config.allowUnfree or false || (config.allowUnfreePredicate or (_: false)) pkg;
      refuse = throw "Package ‘${pkg.name}’ in nixpkgs-standin/pkgs.nix has an unfree license (‘${pkg.meta.license.shortName}’), refusing to evaluate.";
    in
    if allowed then pkg else pkg // { drvPath = refuse; outPath = refuse; };

  # cudaPackages (pkgs/development/cuda-modules/): the attributes the flake uses, as
  # stand-ins. nvcc is a script that answers --version (there is no CUDA offline); its
  # setup hook names the host compiler of cudaStdenv (CUDAHOSTCXX, NVCC_CCBIN) and
  # CUDA_BIN_PATH as cuda_nvcc/setup-hook.sh does. cudaStdenv (backendStdenv in older
  # nixpkgs) is gcc<N>Stdenv with N the newest gcc nvcc of cudaMajorMinorVersion supports
  # (_cuda/db/bootstrap/nvcc.nix, nvccCompatibilities).
  cudaPackages =
    let
      cudaMajorMinorVersion = "12.9";
      nvccCompatibilities = { "12.2".gcc.maxMajorVersion = "12"; "12.8".gcc.maxMajorVersion = "14"; "12.9".gcc.maxMajorVersion = "14"; };
      cudaStdenv = gccStdenvs."gcc${nvccCompatibilities.${cudaMajorMinorVersion}.gcc.maxMajorVersion}Stdenv";
      license = { shortName = "CUDA EULA"; fullName = "CUDA Toolkit End User License Agreement (EULA)"; free = false; };
      cudaPackage = pname: build: checkUnfree (mkDerivation ({
        name = "${pname}-${cudaMajorMinorVersion}";
        meta = { inherit license; };
      } // build));
      cuda_nvcc = cudaPackage "cuda_nvcc" {
        hostCompiler = "${cudaStdenv.cc}/bin/g++";
        buildCommand = ''
          mkdir -p $out/bin $out/nix-support
          cat > $out/bin/nvcc <<STANDIN
          #!${host.shell}
          case "\$1" in
            --version) echo "nvcc: NVIDIA (R) Cuda compiler driver (nixpkgs-standin: no CUDA offline)"; echo "Cuda compilation tools, release ${cudaMajorMinorVersion}";;
            *) echo "nixpkgs-standin: nvcc can only say its version offline" >&2; exit 1;;
          esac
          STANDIN
          chmod +x $out/bin/nvcc
          printf 'export CUDAHOSTCXX="''${CUDAHOSTCXX:-''${NVCC_CCBIN:-%s}}"\nexport NVCC_CCBIN="''${NVCC_CCBIN:-$CUDAHOSTCXX}"\nexport CUDA_BIN_PATH="''${CUDA_BIN_PATH:-%s/bin}"\n' "$hostCompiler" "$out" > $out/nix-support/setup-hook
        '';
      };
      cuda_cudart = cudaPackage "cuda_cudart" {
        buildCommand = ''
          mkdir -p $out/lib $out/include
          echo "stand-in for nixpkgs' cuda_cudart: the offline fixtures link no CUDA runtime" > $out/README
        '';
      };
    in
    {
      inherit cudaMajorMinorVersion cudaStdenv cuda_nvcc cuda_cudart;
      backendStdenv = cudaStdenv;
      # cudaPackages.cudatoolkit (packages/cudatoolkit.nix): the splayed packages joined
      cudatoolkit = cudaPackage "cuda-merged" {
        paths = [ cuda_nvcc cuda_cudart ];
        buildCommand = ''
          mkdir -p $out
          for p in $paths; do cp -rs --no-preserve=mode "$p"/. $out/; done
        '';
      };
    };

  # gcc<N>Stdenv (pkgs/top-level/all-packages.nix); gcc12Stdenv and older were removed
  # from nixpkgs on 2025-08-08 and throw (pkgs/top-level/aliases.nix).
  gccStdenvs = {
    gcc13Stdenv = mkStdenv (mkCC "13");
    gcc14Stdenv = mkStdenv (mkCC "14");
    gcc12Stdenv = throw "gcc12Stdenv has been removed from Nixpkgs, as it is unmaintained and obsolete";
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

  rust = import ./rust.nix { inherit lib host hostTool mkDerivation runCommand jq defaultStdenv; };
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
  stdenv = defaultStdenv;
  inherit overrideCC cudaPackages;
  inherit (gccStdenvs) gcc13Stdenv gcc14Stdenv gcc12Stdenv;
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
