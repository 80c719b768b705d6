# TEST DOUBLE: nixpkgs' Rust tooling (pkgs/build-support/rust/, pkgs/development/compilers/rust/).
# The toolchains are the host's (host.json: one rustup toolchain standing in for every
# version); what a toolchain's version decides, the double decides from the version it
# claims (lockfile versions).
{ lib, host, hostTool, mkDerivation, runCommand, jq, defaultStdenv }:
rec {
  # mkToolchain { name, version, bins }: a toolchain package whose `cargo` refuses
  # Cargo.lock versions it is too old for, as cargo itself does (lockfile version 4 is
  # readable from cargo 1.78 on; src/cargo/core/resolver/resolve.rs, ResolveVersion).
  mkToolchain = { name, version, bins }:
    hostTool "${name}-${version}" host.rust.bin (lib.filter (b: b != "cargo") bins) {
      inherit version;
      passthru = { inherit version; };
      buildCommand = lib.optionalString (lib.elem "cargo" bins) ''
        cat > $out/bin/cargo <<'STANDIN'
        #!${host.shell}
        d=$PWD
        while [ "$d" != / ] && [ ! -f "$d/Cargo.lock" ]; do d=$(dirname "$d"); done
        if [ -f "$d/Cargo.lock" ] && grep -qx 'version = 4' "$d/Cargo.lock" && ${if lib.versionOlder version "1.78" then "true" else "false"}; then
          echo "error: failed to parse lock file at: $d/Cargo.lock" >&2
          echo "Caused by: lock file version \`4\` was found, but this version of Cargo (${version}) does not understand this lock file, perhaps Cargo needs to be updated?" >&2
          exit 101
        fi
        exec ${host.rust.bin}/cargo "$@"
        STANDIN
        chmod +x $out/bin/cargo
      '';
    };

  # nixpkgs' separate packages: cargo has no clippy and no rustfmt
  # (pkgs/development/compilers/rust/{cargo,rustc,clippy,rustfmt}.nix).
  cargo = mkToolchain { name = "cargo"; inherit (host.rust) version; bins = [ "cargo" ]; };
  rustc = mkToolchain { name = "rustc"; inherit (host.rust) version; bins = [ "rustc" "rustdoc" ]; };
  clippy = mkToolchain { name = "clippy"; inherit (host.rust) version; bins = [ "cargo-clippy" "clippy-driver" ]; };
  rustfmt = mkToolchain { name = "rustfmt"; inherit (host.rust) version; bins = [ "rustfmt" "cargo-fmt" ]; };

  # cargoSetupHook (pkgs/build-support/rust/hooks/default.nix, cargo-setup-hook.sh).
  cargoSetupHook = runCommand "standin-cargo-setup-hook" { } ''
    mkdir -p $out/nix-support
    cp ${./cargo-setup-hook.sh} $out/nix-support/setup-hook
  '';

  # parseGit (import-cargo-lock.nix): "git+URL?rev=R#SHA" -> { url, sha, type, value }.
  parseGit = src:
    let parts = builtins.match "git\\+([^?]+)(\\?(rev|tag|branch)=(.*))?#(.*)" src; in
    if parts == null then null
    else { url = builtins.elemAt parts 0; sha = builtins.elemAt parts 4; }
      // lib.optionalAttrs (builtins.elemAt parts 2 != null) { type = builtins.elemAt parts 2; value = builtins.elemAt parts 3; };

  # importCargoLock (pkgs/build-support/rust/import-cargo-lock.nix): a vendor directory
  # holding every package of the lock that has a source, plus .cargo/config.toml
  # replacing crates.io and each git source with it. Git packages need `outputHashes`
  # or `allowBuiltinFetchGit` (then builtins.fetchGit by the locked commit);
  # crates.io packages are fetchurl by checksum, which the offline double cannot do.
  importCargoLock = { lockFile ? null, lockFileContents ? null, allowBuiltinFetchGit ? false, outputHashes ? { } }:
    assert (lockFile == null) != (lockFileContents == null);
    let
      contents = if lockFile != null then builtins.readFile lockFile else lockFileContents;
      parsed = builtins.fromTOML contents;
      packages = lib.filter (p: p ? source) (parsed.package or [ ]);
      mkCrate = pkg:
        let git = parseGit pkg.source; in
        if lib.hasPrefix "registry+" pkg.source || lib.hasPrefix "sparse+" pkg.source then
          throw "nixpkgs-standin: importCargoLock: ${pkg.name}-${pkg.version} comes from ${pkg.source}; the offline double has no network to fetchurl it (fixtures use git and path crates only)"
        else if git == null then throw "Cannot handle crate source: ${pkg.source}"
        else if outputHashes ? "${pkg.name}-${pkg.version}" then
          throw "nixpkgs-standin: importCargoLock: outputHashes (fetchgit) is not mirrored; use allowBuiltinFetchGit"
        else if !allowBuiltinFetchGit then
          throw "No hash was found while vendoring the git dependency ${pkg.name}-${pkg.version}. You can add a hash through the `outputHashes` argument of `importCargoLock`"
        else
          let tree = builtins.fetchGit { inherit (git) url; rev = git.sha; allRefs = true; submodules = true; }; in
          runCommand "${pkg.name}-${pkg.version}" { nativeBuildInputs = [ cargo rustc jq ]; } ''
            crate=""
            for m in $(find ${tree} -name Cargo.toml); do
              crate=$(cargo metadata --offline --format-version 1 --no-deps --manifest-path "$m" 2>/dev/null \
                | jq -r '.packages[] | select(.name == "${pkg.name}") | .manifest_path' || :)
              [ -n "$crate" ] && break
            done
            [ -n "$crate" ] || { echo "Cannot find path for crate '${pkg.name}-${pkg.version}' in the tree in: ${tree}" >&2; exit 1; }
            cp -prL "$(dirname "$crate")" $out
            chmod -R u+w $out
            printf '{"files":{},"package":null}' > $out/.cargo-checksum.json
            cat > $out/.cargo-config <<STANDIN
            [source."${pkg.source}"]
            git = "${git.url}"
            ${lib.optionalString (git ? type) ''${git.type} = "${git.value}"''}
            replace-with = "vendored-sources"
            STANDIN
          '';
      crates = map mkCrate packages;
    in
    runCommand "cargo-vendor-dir" { inherit contents; passAsFile = [ "contents" ]; crates = crates; } ''
      mkdir -p $out/.cargo
      cp "$contentsPath" $out/Cargo.lock
      printf '[source.crates-io]\nreplace-with = "vendored-sources"\n\n[source.vendored-sources]\ndirectory = "cargo-vendor-dir"\n' > $out/.cargo/config.toml
      for crate in $crates; do
        ln -s "$crate" $out/$(basename "$crate" | cut -c 34-)
        if [ -e "$crate/.cargo-config" ] && ! grep -qF "$(head -1 "$crate/.cargo-config")" $out/.cargo/config.toml; then
          cat "$crate/.cargo-config" >> $out/.cargo/config.toml
        fi
      done
    '';

  # The build, check and install hooks (pkgs/build-support/rust/hooks/default.nix:
  # makeSetupHook of cargo-{build,check,install}-hook.sh, the target substituted).
  hook = name: file: runCommand "standin-${name}" { } ''
    mkdir -p $out/nix-support
    sed 's|@rustcTarget@|${rustcTarget}|g' ${file} > $out/nix-support/setup-hook
  '';
  # stdenv.hostPlatform.rust.rustcTargetSpec of x86_64-linux
  rustcTarget = "x86_64-unknown-linux-gnu";
  cargoBuildHook = hook "cargo-build-hook" ./cargo-build-hook.sh;
  cargoCheckHook = hook "cargo-check-hook" ./cargo-check-hook.sh;
  cargoInstallHook = hook "cargo-install-hook" ./cargo-install-hook.sh;

  # makeRustPlatform { cargo, rustc, stdenv ? pkgs.stdenv }
  # (pkgs/development/compilers/rust/make-rust-platform.nix): buildRustPackage and its
  # hooks on the given stdenv.
  makeRustPlatform = { cargo, rustc, stdenv ? defaultStdenv }: {
    rust = { inherit cargo rustc; };
    inherit importCargoLock cargoBuildHook cargoCheckHook cargoInstallHook cargoSetupHook;
    # buildRustPackage (pkgs/build-support/rust/build-rust-package/default.nix):
    # cargoLock (importCargoLock) or cargoHash is required; inputs are the args' plus the
    # build, check, install and setup hooks, cargo and rustc, never clippy or rustfmt. The
    # phases are the hooks' (cargo build, cargo test, install of the executables) unless
    # the derivation sets its own or dontCargoBuild/dontCargoCheck/dontCargoInstall; the
    # hooks read buildType (default "release"), checkType (default buildType),
    # buildNoDefaultFeatures/checkNoDefaultFeatures, buildFeatures/checkFeatures,
    # cargoBuildFlags, cargoTestFlags, checkFlags, dontUseCargoParallelTests and
    # buildAndTestSubdir as nixpkgs' do. doCheck defaults to true.
    buildRustPackage =
      { cargoLock ? null, cargoHash ? null, cargoVendorDir ? null, nativeBuildInputs ? [ ]
      , buildType ? "release", checkType ? buildType
      , buildNoDefaultFeatures ? false, checkNoDefaultFeatures ? buildNoDefaultFeatures
      , buildFeatures ? [ ], checkFeatures ? buildFeatures
      , buildAndTestSubdir ? null, ... }@args:
      assert cargoVendorDir == null && cargoLock == null -> cargoHash == null
        -> throw "cargoHash, cargoVendorDir, or cargoLock must be set";
      let
        cargoDeps =
          if cargoLock != null then importCargoLock cargoLock
          else throw "nixpkgs-standin: buildRustPackage: cargoHash (fetchCargoTarball) needs the network; the flake uses cargoLock";
      in
      stdenv.mkDerivation (removeAttrs args [ "cargoLock" "cargoHash" ] // {
        inherit cargoDeps;
        cargoBuildType = buildType;
        cargoCheckType = checkType;
        cargoBuildNoDefaultFeatures = buildNoDefaultFeatures;
        cargoCheckNoDefaultFeatures = checkNoDefaultFeatures;
        cargoBuildFeatures = buildFeatures;
        cargoCheckFeatures = checkFeatures;
        nativeBuildInputs = nativeBuildInputs ++ [ cargoBuildHook cargoCheckHook cargoInstallHook cargoSetupHook cargo rustc ];
        doCheck = args.doCheck or true;
      } // lib.optionalAttrs (buildAndTestSubdir != null) { inherit buildAndTestSubdir; });
  };

  rustPlatform = makeRustPlatform { inherit cargo rustc; };
}
