# Builders for Rust components on nixpkgs' rustPlatform. Job commands come from
# adapter.toml; Nix only decides which phase runs them and what goes around them.
{ lib, adapter, locks }:
rec {
  # cargoPatchConfig upstreams: the `[patch.crates-io]` table that builds this component
  # against its upstreams' locked revisions (pin = "cargo-patch"). A git+rev patch, as
  # Cargo would fetch it, keeps the upstream's lints capped; a local checkout (lock entry
  # with `path`) becomes a path patch.
  cargoPatchConfig = upstreams:
    let
      patched = lib.filter (u: u.pin == "cargo-patch") upstreams;
      line = u:
        if u.isPath then ''${u.crate} = { path = "${u.src}" }''
        else ''${u.crate} = { git = "${u.repo}", rev = "${u.rev}" }'';
    in
    lib.optionalString (patched != [ ]) ''
      [patch.crates-io]
      ${lib.concatStringsSep "\n" (map line patched)}
    '';

  # The shell that puts the candidate's Cargo.lock and the upstream pins in place, then
  # refuses to go on when the lock does not resolve a pinned crate to the pinned
  # revision (Cargo silently ignores a patch whose version does not match, e.g. 0.24.0
  # against "^0.23.0", and would build crates.io's release instead).
  cargoPrepare = component:
    let
      patched = lib.filter (u: u.pin == "cargo-patch" && !u.isPath) component.upstreams;
      config = cargoPatchConfig component.upstreams;
    in
    ''
      if ! cmp -s ${component.cargoLockFile} Cargo.lock 2>/dev/null; then
        cp ${component.cargoLockFile} Cargo.lock
        chmod u+w Cargo.lock
      fi
    '' + lib.optionalString (config != "") ''
      mkdir -p .cargo
      cat >> .cargo/config.toml <<'IRONWORKS_PATCH'
      ${config}
      IRONWORKS_PATCH
    '' + lib.concatMapStrings (u: ''
      if ! grep -qF ${lib.escapeShellArg "source = \"git+${u.repo}?rev=${u.rev}#${u.rev}\""} Cargo.lock; then
        echo "ironworks: Cargo.lock does not resolve ${u.crate} to ${u.repo} at ${u.rev}:" >&2
        echo "ironworks: the cargo-patch pin is not used (version outside the downstream's requirement?)" >&2
        exit 1
      fi
    '') patched;

  # Environment every job sees: revisions as variables, never spliced into commands.
  # No stage or candidate id here: the same revisions give the same derivation in every
  # stage, so Hydra reuses builds across stages.
  jobEnv = component:
    {
      IRONWORKS_COMPONENT = component.name;
      IRONWORKS_REV = component.rev;
    } // lib.listToAttrs (map
      (u: lib.nameValuePair "IRONWORKS_UPSTREAM_${lib.toUpper (lib.replaceStrings [ "-" "." ] [ "_" "_" ] u.name)}_REV" u.rev)
      component.upstreams);

  # filecoinParams: where a builder advertising `filecoin-params` keeps the Groth parameters
  # and the parent cache, inside every build's sandbox (infra/nixos/filecoin-builder.nix
  # mounts them there; paramfetch's own default directory is parameterCache).
  filecoinParams = {
    feature = "filecoin-params";
    parameterCache = "/var/tmp/filecoin-proof-parameters";
    parentCache = "/var/tmp/filecoin-parents";
  };

  # paramsEnv features: the cache variables of a job that needs the parameters.
  #
  # Type: paramsEnv :: [ string ] -> attrset
  # Example: paramsEnv [ "filecoin-params" ] => { FIL_PROOFS_PARAMETER_CACHE = "/var/tmp/filecoin-proof-parameters"; FIL_PROOFS_PARENT_CACHE = "/var/tmp/filecoin-parents"; }
  paramsEnv = features:
    lib.optionalAttrs (lib.elem filecoinParams.feature features) {
      FIL_PROOFS_PARAMETER_CACHE = filecoinParams.parameterCache;
      FIL_PROOFS_PARENT_CACHE = filecoinParams.parentCache;
    };

  # cargoTools pkgs command: the nixpkgs packages a job's command needs besides cargo and
  # rustc, which buildRustPackage alone provides (nixpkgs ships clippy and rustfmt as
  # packages of their own: pkgs/development/compilers/rust/{clippy,rustfmt}.nix).
  #
  # Type: cargoTools :: attrset -> string -> [ derivation ]
  # Example: cargoTools pkgs "cargo fmt --all -- --check"  => [ pkgs.rustfmt ]
  cargoTools = pkgs: command:
    let uses = sub: builtins.match ".*cargo[[:space:]]+${sub}([[:space:]].*)?" command != null; in
    lib.optional (uses "fmt") pkgs.rustfmt ++ lib.optional (uses "clippy") pkgs.clippy;

  # isBuildCommand command: jobs whose command is `cargo build ...` run in buildPhase;
  # every other job (tests, clippy, fmt, rustdoc, benches) runs in checkPhase.
  isBuildCommand = command: builtins.match "[[:space:]]*cargo[[:space:]]+build([[:space:]].*)?" command != null;

  # mkCargoJob { pkgs, component, job, needs, attrs }: one adapter.toml job as a
  # rustPlatform.buildRustPackage derivation.
  #   component  the record mkComponent passes to default.nix (src, rev, cargoLockFile, ...)
  #   job        a normalized adapter.toml job (adapter.normalizeJob)
  #   needs      derivations this job waits for (its `needs`, upstream jobs included):
  #              they become inputs, so Hydra builds them first and marks this job
  #              "dependency failed" when one fails
  #   attrs      extra buildRustPackage attributes (nativeBuildInputs, buildInputs, ...)
  #   features   builder features beyond adapter.toml's `requires` (filecoin-params)
  #   target     the component's shared build (mkCargoTarget), or null
  mkCargoJob = { pkgs, component, job, needs ? [ ], attrs ? { }, features ? [ ], target ? null }:
    let
      build = isBuildCommand job.command;
      # cargo starts from the component's shared build (mkCargoTarget): what it built with
      # the same flags is fresh (store mtimes and /build paths are the same in every job)
      reuse = lib.optionalString (target != null) ''
        cp -pr ${target}/target target
        chmod -R u+w target
      '';
      # builder features: adapter.toml's `requires` plus what only Nix knows (features)
      required = lib.unique (job.requires ++ features);
      run = ''
        echo "ironworks: ${component.name}:${job.name} at ${component.rev}"
        ${job.command}
      '';
      passthru = (attrs.passthru or { }) // {
        # schedule and manual as the coordinator reads them (coordinator/scheduler): a
        # manual job is built only when asked for, so no gate waits for it
        ironworks = { component = component.name; job = job.name; inherit (job) stage gating requires schedule manual; unimplemented = false; };
      };
      meta = (attrs.meta or { }) // {
        description = "${component.name}:${job.name} (${job.stage}): ${job.command}";
        timeout = job.timeout;
      };
      featureAttrs = lib.optionalAttrs (required != [ ]) { requiredSystemFeatures = required; };
    in
    if component.cargoLockFile == null then
      pkgs.runCommand "${component.name}-${job.name}-${component.shortRev}-no-cargo-lock"
        ({ inherit passthru meta; message = locks.missingCargoLock component.name; } // featureAttrs) ''
        echo "$message" >&2
        exit 1
      ''
    else
    component.rustPlatform.buildRustPackage (attrs // {
      inherit passthru meta;
      pname = "${component.name}-${job.name}";
      version = component.shortRev;
      inherit (component) src;
      # a pinned toolchain brings its own clippy and rustfmt (its profile's components)
      nativeBuildInputs = lib.optionals (component.toolchainPin == null) (cargoTools pkgs job.command) ++ (attrs.nativeBuildInputs or [ ]);
      cargoLock = { lockFile = component.cargoLockFile; allowBuiltinFetchGit = true; };
      postPatch = cargoPrepare component + reuse + (attrs.postPatch or "");
      # buildRustPackage's hooks pass -j $NIX_BUILD_CORES; adapter commands get it this way
      preConfigure = "export CARGO_BUILD_JOBS=$NIX_BUILD_CORES\n" + (attrs.preConfigure or "");
      env = job.env // jobEnv component // paramsEnv required;
      ironworksNeeds = needs;
      dontBuild = !build;
      buildPhase = "runHook preBuild\n" + run + "runHook postBuild\n";
      doCheck = !build;
      checkPhase = "runHook preCheck\n" + run + "runHook postCheck\n";
      installPhase = ''
        runHook preInstall
        mkdir -p $out/bin $out/nix-support
        for d in target/release target/*/release; do
          [ -d "$d" ] && find "$d" -maxdepth 1 -type f -executable -exec cp {} $out/bin/ \;
        done
        echo ${lib.escapeShellArg (builtins.toJSON { inherit (component) name rev; job = job.name; command = job.command; })} > $out/ironworks-job.json
        # Hydra's build products: what the release manifest lists with its sha256.
        for f in $out/bin/* $out/ironworks-job.json; do
          if [ -f "$f" ]; then echo "file binary-dist $f" >> $out/nix-support/hydra-build-products; fi
        done
        runHook postInstall
      '';
    } // featureAttrs);

  # mkCargoTarget { pkgs, component, attrs }: ONE build of the component per candidate,
  # shared by its jobs (crane's buildDepsOnly idea, with buildRustPackage): the release
  # build of the whole workspace and its test targets, so that every dependency compiles
  # once; jobs start from its target/ (mkCargoJob's `target`) and cargo recompiles only
  # what their flags change (features, profiles).
  #
  # Type: mkCargoTarget :: { pkgs, component, attrs ? { } } -> derivation
  mkCargoTarget = { pkgs, component, attrs ? { } }:
    component.rustPlatform.buildRustPackage (attrs // {
      pname = "${component.name}-target";
      version = component.shortRev;
      inherit (component) src;
      cargoLock = { lockFile = component.cargoLockFile; allowBuiltinFetchGit = true; };
      postPatch = cargoPrepare component + (attrs.postPatch or "");
      env = jobEnv component;
      buildPhase = ''
        runHook preBuild
        cargo build -j $NIX_BUILD_CORES --offline --release --workspace --all-targets
        cargo test -j $NIX_BUILD_CORES --offline --release --workspace --no-run
        runHook postBuild
      '';
      doCheck = false;
      installPhase = ''
        mkdir -p $out
        cp -pr target $out/target
      '';
    });

  # mkBenchRunner { pkgs, component, benches, withSource }: `ironworks-bench`, the script
  # benchkit executes off Hydra: `ironworks-bench list` prints the adapter's [bench.*]
  # entries as JSON; `ironworks-bench run NAME` runs that entry's adapter.toml command
  # with its env, the bench tools of the same store path first on PATH, in
  # $IRONWORKS_WORKDIR (or the current directory; with withSource, in a fresh copy of the
  # component's source made there, ./ironworks-src.XXXXXX).
  mkBenchRunner = { pkgs, component, benches, withSource ? false }:
    let
      caseArm = b: ''
        ${lib.escapeShellArg b.name})
          ${lib.concatStringsSep "\n    " (lib.mapAttrsToList (k: v: "export ${k}=${lib.escapeShellArg v}") b.env)}
          exec sh -c ${lib.escapeShellArg b.command} ;;
      '';
    in
    pkgs.writeShellScript "ironworks-bench" ''
      set -eu
      here=$(cd "$(dirname "$0")" && pwd)
      export PATH="$here:$PATH"
      export IRONWORKS_COMPONENT=${lib.escapeShellArg component.name} IRONWORKS_REV=${lib.escapeShellArg component.rev}
      case "''${1-}" in
        list) cat "$here/../share/ironworks/benches.json" ;;
        run)
          name="''${2-}"
          cd "''${IRONWORKS_WORKDIR:-.}"
          ${lib.optionalString withSource ''
          # a folder of its own: a second run (or another component's runner) in the same
          # directory must not copy into, or run in, an earlier copy
          copy=$(mktemp -d ./ironworks-src.XXXXXX)
          cp -r --no-preserve=mode "$here/../share/ironworks/src/." "$copy" && cd "$copy"
          ''}
          case "$name" in
          ${lib.concatStringsSep "" (map caseArm benches)}
            *) echo "ironworks-bench: unknown bench '$name'" >&2; exit 2 ;;
          esac ;;
        *) echo "usage: ironworks-bench list | run NAME" >&2; exit 2 ;;
      esac
    '';

  # mkCargoAdapter { pkgs, component, attrs ? {}, bench ? null }: the whole adapter for a
  # cargo component: one derivation per adapter.toml job, plus (when the adapter has
  # [bench.*] entries and `bench` is given) the bench tool derivation:
  #   bench = { name ? "sector-bench", command, bins ? [ ], withSource ? false, postPatch ? "" }
  #   command  the cargo command that builds the bench tools (e.g. benchy with GPU features)
  #   bins     executables from target/release to ship next to the runner
  #   postPatch  the bench derivation's own patching, e.g. a bench script made to run the
  #            built tool ($out/bin/...) instead of `cargo run` (shipped with withSource)
  # Returns { jobs, benches }.
  #   features: job name -> builder features beyond adapter.toml's `requires`, e.g.
  #            { test = [ "filecoin-params" ]; } (Hydra builders, infra/nixos/filecoin-builder.nix)
  mkCargoAdapter = { pkgs, component, attrs ? { }, bench ? null, features ? { } }:
    let
      a = component.adapter;
      resolve = need:
        let parts = lib.splitString ":" need; in
        if builtins.length parts == 2
        then (component.upstreamJobs (builtins.elemAt parts 0)).${builtins.elemAt parts 1}
        else jobs.${need};
      target = mkCargoTarget { inherit pkgs component attrs; };
      # fmt and clippy compile nothing a release build reuses: spark stays independent
      targetFor = job: if cargoTools pkgs job.command == [ ] then target else null;
      jobs = lib.mapAttrs (n: job: mkCargoJob { inherit pkgs component job attrs; needs = map resolve job.needs; features = features.${n} or [ ]; target = targetFor job; }) a.jobs;
      benchEntries = lib.attrValues a.bench;
      benchDrv =
        let
          b = { name = "sector-bench"; bins = [ ]; withSource = false; postPatch = ""; } // bench;
          runner = mkBenchRunner { inherit pkgs component; benches = benchEntries; inherit (b) withSource; };
          manifest = pkgs.writeText "${component.name}-benches.json" (builtins.toJSON {
            inherit (component) name rev;
            benches = a.bench;
          });
          job = adapter.normalizeJob b.name { stage = (builtins.head benchEntries).stage; command = b.command; timeout = "2h"; };
        in
        (mkCargoJob {
          inherit pkgs component job target;
          needs = lib.optional (jobs ? build) jobs.build;
          attrs = attrs // {
            postPatch = (attrs.postPatch or "") + b.postPatch;
            # build the tools in buildPhase whatever the command looks like
            postInstall = ''
              for b in ${lib.escapeShellArgs b.bins}; do
                test -x "$out/bin/$b" || { echo "ironworks: bench tool $b was not built" >&2; exit 1; }
              done
              cp ${runner} $out/bin/ironworks-bench
              mkdir -p $out/share/ironworks
              cp ${manifest} $out/share/ironworks/benches.json
              ${lib.optionalString b.withSource "cp -r . $out/share/ironworks/src && rm -rf $out/share/ironworks/src/target"}
            '';
          };
        });
    in
    {
      inherit jobs;
      benches = lib.optionalAttrs (bench != null && benchEntries != [ ]) { ${bench.name or "sector-bench"} = benchDrv; };
    };
}
