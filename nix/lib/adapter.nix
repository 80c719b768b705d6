{ lib, stages, schema }:
rec {
  # parseDuration s: a Go duration ("45m", "1.5h", "500ms") in whole seconds, rounded up
  # (Hydra's meta.timeout is in seconds); a clear error for what Go would reject too.
  #
  # Type: parseDuration :: string -> int
  # Example: parseDuration "1h30m" => 5400
  parseDuration = s:
    let ns = schema.parseDurationNs s; in
    if ns == null || ns <= 0
    then throw "ironworks: bad duration '${s}' (want a positive Go duration: 90s, 45m, 1.5h, 1h30m)"
    else (ns + 999999999) / 1000000000;

  # normalizeJob name spec: an adapter.toml [jobs.<name>] table with every default filled.
  normalizeJob = name: spec: {
    inherit name;
    stage = spec.stage or (throw "ironworks: job ${name} has no stage");
    command = spec.command or (throw "ironworks: job ${name} has no command");
    needs = spec.needs or [ ];
    requires = spec.requires or [ ];
    env = spec.env or { };
    gating = spec.gating or true;
    timeout = parseDuration (spec.timeout or "45m");
    schedule = spec.schedule or null;
    manual = spec.manual or false;
  };

  # readAdapter dir: adapter.toml as data (builtins.fromTOML; never retyped in Nix),
  # checked by schema.nix as the coordinator checks it, with jobs normalized.
  readAdapter = dir:
    let
      file = dir + "/adapter.toml";
      parsed = builtins.fromTOML (builtins.readFile file);
      problems = schema.adapterProblems parsed;
      raw = if problems == [ ] then parsed
        else throw "ironworks: ${toString file}: ${lib.concatStringsSep "; " problems}";
      jobs = lib.mapAttrs normalizeJob (raw.jobs or { });
      bench = lib.mapAttrs (n: b: b // { name = n; requires = b.requires or [ ]; env = b.env or { }; repeat = b.repeat or 1; }) (raw.bench or { });
    in
    builtins.deepSeq (map (j: stages.stageIndex j.stage) (lib.attrValues jobs ++ lib.attrValues bench))
      (raw // { inherit jobs bench; upstream = raw.upstream or [ ]; lockfile = raw.lockfile or "committed"; });

  # jobsInStage adapter stage: names of the adapter's jobs tagged with that stage.
  jobsInStage = adapter: stage: lib.filter (n: adapter.jobs.${n}.stage == stage) (lib.attrNames adapter.jobs);

  # benchesInStage adapter stage: names of [bench.*] entries tagged with that stage.
  benchesInStage = adapter: stage: lib.filter (n: adapter.bench.${n}.stage == stage) (lib.attrNames adapter.bench);
}
