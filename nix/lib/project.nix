# mkProject: adapters x stages x systems -> flake outputs.
{ lib, stages, adapter, locks, toolchain }:
rec {
  # mkComponent { pkgs, ironworks, dir, lock, locksDir, components }: one adapter folder
  # instantiated against one lock. Calls dir/default.nix with
  #   { pkgs, lib, ironworks, component }
  # where `component` = { name, adapter (adapter.toml as data), entry (its lock entry),
  # src, rev, shortRev, repo, isPath, cargoLockFile, upstreams, upstreamJobs,
  # rustPlatform, rustPlatformOn, toolchainPin (toolchain.nix) }.
  # default.nix returns { jobs = { <job> = drv; }; benches ? { <name> = drv; } }.
  # `components` is the (lazy) set of every component of the same lock, so upstream
  # jobs and revisions resolve without any ordering.
  mkComponent = { pkgs, ironworks, dir, lock, locksDir, components }:
    let
      a = adapter.readAdapter dir;
      name = a.name;
      entry = lock.components.${name} or (throw "ironworks: ${lock.file} has no entry for component ${name}");
      src = locks.componentSource { inherit name entry; };
      # a local checkout (entry.path) is not the locked revision, whatever the lock says
      rev = if entry ? path then "local" else locks.checkRev name (entry.rev or (throw "ironworks: lock entry for ${name} has no rev"));
      platform = toolchain.rustPlatformFor { inherit pkgs name src; };
      component = {
        inherit name entry src rev;
        # the rustPlatform its jobs build with, and the toolchain version it pins (or null)
        inherit (platform) rustPlatform rustPlatformOn;
        toolchainPin = platform.pin;
        adapter = a;
        shortRev = builtins.substring 0 12 rev;
        repo = entry.repo or a.repo;
        isPath = entry ? path;
        cargoLockFile = locks.cargoLockFor { inherit locksDir name entry src; };
        upstreams = map
          (u:
            let up = components.${u.name} or (throw "ironworks: ${name} names upstream ${u.name}, which is no adapter of this flake"); in
            { inherit (u) name; pin = u.pin or "cargo-patch"; crate = u.crate or u.name; inherit (up) repo rev src isPath jobs; })
          a.upstream;
        upstreamJobs = n: (components.${n} or (throw "ironworks: ${name} needs jobs of unknown component ${n}")).jobs;
      };
      result = import (dir + "/default.nix") { inherit pkgs lib ironworks component; };
    in
    component // { benches = { }; } // result;

  # mkComponents { pkgs, ironworks, adapterDirs, locksDir, stage, local }: every
  # component instantiated against the stage's lock, by name.
  mkComponents = { pkgs, ironworks, adapterDirs, locksDir, stage, local ? null }:
    let
      lock = locks.readLock { inherit locksDir stage local; };
      components = lib.listToAttrs (map
        (dir: lib.nameValuePair (adapter.readAdapter dir).name
          (mkComponent { inherit pkgs ironworks dir lock locksDir components; }))
        adapterDirs);
    in
    components;

  # mkStage { pkgs, stage, components }: the stage's jobs, by component, plus its gate:
  #   { <component> = { <job> = drv; <bench> = drv; } | { unimplemented = marker; };
  #     gate = aggregate of the stage's gating jobs; }
  mkStage = { pkgs, stage, components }:
    let
      byComponent = lib.mapAttrs
        (name: c:
          let
            jobs = lib.genAttrs (adapter.jobsInStage c.adapter stage) (j: c.jobs.${j});
            benches = lib.optionalAttrs (adapter.benchesInStage c.adapter stage != [ ]) c.benches;
            all = jobs // benches;
          in
          if all == { } then { unimplemented = stages.unimplemented { inherit pkgs stage; component = name; }; } else all)
        components;
      # the gate's constituents: every gating job that is not manual, as
      # coordinator/pipeline.StageJobs counts them
      gating = lib.concatMap (jobs: lib.filter (d: (d.passthru.ironworks.gating or true) && !(d.passthru.ironworks.manual or false)) (lib.attrValues jobs)) (lib.attrValues byComponent);
    in
    byComponent // { gate = stages.gate { inherit pkgs stage; jobs = gating; }; };

  # mkProject { pkgsFor, ironworks, systems, adapterDirs, locksDir, local ? null,
  #             packagesStage ? "forge" }:
  #   pkgsFor system: the package set jobs build with, e.g.
  #     system: import nixpkgs { inherit system; overlays = [ rust-overlay.overlays.default ];
  #                              config = { allowUnfree = true; cudaSupport = true; }; }
  #   (`nixpkgs` instead: its legacyPackages, no overlay, no config)
  #   hydraJobs.<stage>.<component>.<job>.<system>, hydraJobs.<stage>.gate.<system>
  #     (only the stages locks/jobset.json selects, on a lock branch);
  #   checks.<system>.<stage>-<component>-<job>: spark and forge jobs that need no
  #     special builder feature, so `nix flake check` runs the developer-runnable gates;
  #   packages.<system>.<component> (its build job) and <component>-<bench>.
  mkProject = { pkgsFor ? (system: nixpkgs.legacyPackages.${system}), nixpkgs ? null, ironworks, systems, adapterDirs, locksDir, local ? null, packagesStage ? "forge" }:
    let
      componentsFor = system: stage: mkComponents { pkgs = pkgsFor system; inherit ironworks adapterDirs locksDir stage local; };
      stageFor = system: stage: mkStage { pkgs = pkgsFor system; inherit stage; components = componentsFor system stage; };
      perSystem = lib.genAttrs systems (system: lib.genAttrs stages.stages (stageFor system));
      # <stage>.<component>.<job>.<system>, Hydra's naming
      hydraStage = stage:
        let any = perSystem.${builtins.head systems}.${stage}; in
        lib.mapAttrs
          (cname: v:
            if cname == "gate" then lib.genAttrs systems (s: perSystem.${s}.${stage}.gate)
            else lib.mapAttrs (job: _: lib.genAttrs systems (s: perSystem.${s}.${stage}.${cname}.${job})) v)
          any;
    in
    {
      hydraJobs = lib.genAttrs (locks.selectedStages locksDir stages.stages) hydraStage;
      checks = lib.genAttrs systems (system:
        lib.listToAttrs (lib.concatMap
          (stage: lib.concatMap
            (cname: lib.concatMap
              (job:
                let d = perSystem.${system}.${stage}.${cname}.${job}; in
                lib.optional ((d.requiredSystemFeatures or [ ]) == [ ]) (lib.nameValuePair "${stage}-${cname}-${job}" d))
              (lib.attrNames perSystem.${system}.${stage}.${cname}))
            (lib.filter (n: n != "gate") (lib.attrNames perSystem.${system}.${stage})))
          [ "spark" "forge" ]));
      packages = lib.genAttrs systems (system:
        let cs = componentsFor system packagesStage; in
        lib.foldl' (acc: c: acc
          // lib.optionalAttrs (c.jobs ? build) { ${c.name} = c.jobs.build; }
          // lib.mapAttrs' (b: d: lib.nameValuePair "${c.name}-${b}" d) c.benches)
          { }
          (lib.attrValues cs));
    };
}
