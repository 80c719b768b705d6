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

  # cargoArgs command: an adapter.toml `cargo build` / `cargo test` command as the
  # arguments of nixpkgs' buildRustPackage, whose hooks then run it
  # (pkgs/build-support/rust/hooks/cargo-{build,check}-hook.sh):
  #   --release, --profile P      buildType ("debug" without either)
  #   --no-default-features       buildNoDefaultFeatures (checkNoDefaultFeatures follows)
  #   --features/-F A,B           buildFeatures (checkFeatures follows)
  #   other cargo flags, names    cargoBuildFlags (build) / cargoTestFlags (test)
  #   after `--` (test)           checkFlags; --test-threads=1 is dontUseCargoParallelTests
  # A test job sets dontCargoBuild: `cargo test` builds what it runs, and a separate
  # `cargo build` first would compile the crate's non-test units in a cargo run of its own.
  #   --offline, --frozen, --locked  dropped: the hooks pass --offline / --frozen
  # Returns null for what the hooks cannot express: other subcommands (fmt, clippy,
  # rustdoc, bench, tree), shell syntax (quotes, $, ;, &&, |, redirections), -j/--jobs,
  # --target, --target-dir, --manifest-path, +toolchain, other --test-threads values,
  # arguments after `--` of cargo build.
  #
  # Type: cargoArgs :: string -> null | { sub, attrs }
  # Example: cargoArgs "cargo test --release -p a -- --nocapture"
  #   => { sub = "test"; attrs = { buildType = "release"; dontCargoBuild = true; cargoTestFlags = [ "-p" "a" ]; checkFlags = [ "--nocapture" ]; ... }; }
  cargoArgs = command:
    let
      tokens = lib.filter (t: builtins.isString t && t != "") (builtins.split "[[:space:]]+" command);
      shell = builtins.match ".*[\"'$;&|<>`\\\\(){}*?].*" command != null;
      sub = if builtins.length tokens >= 2 then builtins.elemAt tokens 1 else null;
      refused = [ "-j" "--jobs" "--target" "--target-dir" "--manifest-path" ];
      refusedEq = t: lib.any (r: lib.hasPrefix "${r}=" t) refused || builtins.match "-j[0-9]+" t != null;
      dropped = [ "--offline" "--frozen" "--locked" ];
      # walk the cargo arguments (before `--`)
      walk = st: ts:
        if ts == [ ] then st
        else
          let t = builtins.head ts; rest = builtins.tail ts; next = if rest == [ ] then null else builtins.head rest; rest2 = if rest == [ ] then [ ] else builtins.tail rest; in
          if st.bad then st
          else if t == "--" then st // { after = rest; }
          else if lib.elem t refused || refusedEq t then st // { bad = true; }
          else if lib.elem t dropped then walk st rest
          else if t == "--release" || t == "-r" then walk (st // { buildType = "release"; }) rest
          else if t == "--profile" then (if next == null then st // { bad = true; } else walk (st // { buildType = next; }) rest2)
          else if lib.hasPrefix "--profile=" t then walk (st // { buildType = lib.removePrefix "--profile=" t; }) rest
          else if t == "--no-default-features" then walk (st // { noDefault = true; }) rest
          else if t == "--features" || t == "-F" then (if next == null then st // { bad = true; } else walk (st // { features = st.features ++ splitFeatures next; }) rest2)
          else if lib.hasPrefix "--features=" t then walk (st // { features = st.features ++ splitFeatures (lib.removePrefix "--features=" t); }) rest
          else walk (st // { flags = st.flags ++ [ t ]; }) rest;
      splitFeatures = v: lib.filter (f: f != "") (lib.splitString "," v);
      st = walk { bad = false; after = [ ]; buildType = "debug"; noDefault = false; features = [ ]; flags = [ ]; } (lib.drop 2 tokens);
      threadsOne = lib.elem "--test-threads=1" st.after;
      badThreads = lib.any (t: t == "--test-threads" || (lib.hasPrefix "--test-threads=" t && t != "--test-threads=1")) st.after;
      common = {
        inherit (st) buildType;
        buildNoDefaultFeatures = st.noDefault;
        buildFeatures = st.features;
      };
    in
    if shell || builtins.length tokens < 2 || builtins.head tokens != "cargo" || st.bad then null
    else if sub == "build" && st.after == [ ] then { inherit sub; attrs = common // { cargoBuildFlags = st.flags; doCheck = false; }; }
    else if sub == "test" && !badThreads then {
      inherit sub;
      attrs = common // {
        dontCargoBuild = true;
        cargoTestFlags = st.flags;
        checkFlags = lib.filter (t: t != "--test-threads=1") st.after;
        dontUseCargoParallelTests = threadsOne;
      };
    }
    else null;

  # cudaJob job: whether a job builds against CUDA when pkgs.config.cudaSupport is on:
  # the jobs that run on GPU builders (requires = [ "gpu" ]).
  cudaJob = job: lib.elem "gpu" job.requires;

  # cudaAttrs pkgs: what a CUDA job adds (pkgs/development/cuda-modules): nvcc, whose setup
  # hook names cudaStdenv's compiler as nvcc's host compiler, and the CUDA runtime.
  cudaAttrs = pkgs: attrs: {
    nativeBuildInputs = (attrs.nativeBuildInputs or [ ]) ++ [ pkgs.cudaPackages.cuda_nvcc ];
    buildInputs = (attrs.buildInputs or [ ]) ++ [ pkgs.cudaPackages.cuda_cudart ];
  };

  # cudaStdenv pkgs: the stdenv CUDA jobs build with: the gcc nvcc supports
  # (cudaPackages.cudaStdenv; backendStdenv in older nixpkgs), as nixpkgs' CUDA packages do
  # (doc/languages-frameworks/cuda.section.md, "effectiveStdenv").
  cudaStdenv = pkgs: pkgs.cudaPackages.cudaStdenv or pkgs.cudaPackages.backendStdenv;

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
  #   cuda       build against CUDA when pkgs.config.cudaSupport is on (default: cudaJob)
  # A `cargo build`/`cargo test` command becomes buildRustPackage's own arguments
  # (cargoArgs) and runs in its hooks; any other command (fmt, clippy, rustdoc, bench,
  # tree) replaces checkPhase, as nixpkgs has no hook for it.
  mkCargoJob = { pkgs, component, job, needs ? [ ], attrs ? { }, features ? [ ], target ? null, cuda ? cudaJob job }:
    let
      args = cargoArgs job.command;
      build = isBuildCommand job.command;
      withCuda = cuda && (pkgs.config.cudaSupport or false);
      platform = if withCuda then component.rustPlatformOn (cudaStdenv pkgs) else component.rustPlatform;
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
      # the command as the hooks' arguments, or (nixpkgs has no hook for it) as a phase
      phases =
        if args != null then args.attrs
        else if build then { buildPhase = "runHook preBuild\n" + run + "runHook postBuild\n"; doCheck = false; dontCargoInstall = true; }
        else { dontCargoBuild = true; checkPhase = "runHook preCheck\n" + run + "runHook postCheck\n"; dontCargoInstall = true; };
      # a job that does not run cargoBuildHook (tests, commands in a phase of their own)
      # still sees the release profile the hook exports (stdenv strips, not cargo), so its
      # release and bench units match the shared build's and stay fresh
      stripEnv = lib.optionalAttrs (target != null && !(args != null && args.sub == "build")) { CARGO_PROFILE_RELEASE_STRIP = "false"; };
      inputs = if withCuda then cudaAttrs pkgs attrs else { };
    in
    if component.cargoLockFile == null then
      pkgs.runCommand "${component.name}-${job.name}-${component.shortRev}-no-cargo-lock"
        ({ inherit passthru meta; message = locks.missingCargoLock component.name; } // featureAttrs) ''
        echo "$message" >&2
        exit 1
      ''
    else
    platform.buildRustPackage (attrs // inputs // phases // {
      inherit passthru meta;
      pname = "${component.name}-${job.name}";
      version = component.shortRev;
      inherit (component) src;
      # a pinned toolchain brings its own clippy and rustfmt (its profile's components)
      nativeBuildInputs = lib.optionals (component.toolchainPin == null) (cargoTools pkgs job.command) ++ (inputs.nativeBuildInputs or attrs.nativeBuildInputs or [ ]);
      cargoLock = { lockFile = component.cargoLockFile; allowBuiltinFetchGit = true; };
      postPatch = cargoPrepare component + reuse + (attrs.postPatch or "");
      # phases of our own keep buildRustPackage's -j this way
      preConfigure = lib.optionalString (args == null) "export CARGO_BUILD_JOBS=$NIX_BUILD_CORES\n" + (attrs.preConfigure or "");
      env = job.env // jobEnv component // paramsEnv required // stripEnv;
      ironworksNeeds = needs;
      # the job's record and Hydra's build products (what the release manifest lists with
      # its sha256), next to the executables cargoInstallHook installed; a `cargo build`
      # run in a phase of its own installs target/release's
      postInstall = ''
        mkdir -p $out/bin $out/nix-support
      '' + lib.optionalString (args == null && build) ''
        for d in target/release target/*/release; do
          [ -d "$d" ] && find "$d" -maxdepth 1 -type f -executable -exec cp {} $out/bin/ \;
        done
      '' + ''
        echo ${lib.escapeShellArg (builtins.toJSON { inherit (component) name rev; job = job.name; command = job.command; })} > $out/ironworks-job.json
        for f in $out/bin/* $out/ironworks-job.json; do
          if [ -f "$f" ]; then echo "file binary-dist $f" >> $out/nix-support/hydra-build-products; fi
        done
      '' + (attrs.postInstall or "");
    } // featureAttrs);

  # mkCargoTarget { pkgs, component, attrs }: ONE build of the component per candidate,
  # shared by its jobs (crane's buildDepsOnly idea, with buildRustPackage): the release
  # build of the whole workspace and its test targets, so that every dependency compiles
  # once; jobs start from its target/ (mkCargoJob's `target`) and cargo recompiles only
  # what their flags change (features, profiles). Built by buildRustPackage's own hooks
  # (cargoBuildFlags, cargoTestFlags with --no-run), so profile and environment are the
  # jobs'; only its output, target/ itself, is ours (nixpkgs has no hook keeping it).
  #
  # Type: mkCargoTarget :: { pkgs, component, attrs ? { } } -> derivation
  mkCargoTarget = { pkgs, component, attrs ? { } }:
    component.rustPlatform.buildRustPackage (removeAttrs attrs [ "postInstall" ] // {
      pname = "${component.name}-target";
      version = component.shortRev;
      inherit (component) src;
      cargoLock = { lockFile = component.cargoLockFile; allowBuiltinFetchGit = true; };
      postPatch = cargoPrepare component + (attrs.postPatch or "");
      env = jobEnv component;
      cargoBuildFlags = [ "--workspace" "--all-targets" ];
      cargoTestFlags = [ "--workspace" "--no-run" ];
      dontCargoInstall = true;
      postInstall = ''
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
          # an unknown name is refused before anything is copied into the working directory
          case "$name" in
            ${lib.concatMapStringsSep "|" (b: lib.escapeShellArg b.name) benches}) ;;
            *) echo "ironworks-bench: unknown bench '$name'" >&2; exit 2 ;;
          esac
          cd "''${IRONWORKS_WORKDIR:-.}"
          ${lib.optionalString withSource ''
          # a folder of its own: a second run (or another component's runner) in the same
          # directory must not copy into, or run in, an earlier copy
          copy=$(mktemp -d ./ironworks-src.XXXXXX)
          cp -r --no-preserve=mode "$here/../share/ironworks/src/." "$copy" && cd "$copy"
          ''}
          case "$name" in
          ${lib.concatStringsSep "" (map caseArm benches)}
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
          # tools for benches that run on GPUs build against CUDA (when cudaSupport is on)
          cuda = lib.any cudaJob benchEntries;
          attrs = attrs // {
            postPatch = (attrs.postPatch or "") + b.postPatch;
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
