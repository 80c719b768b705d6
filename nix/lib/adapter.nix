{ lib, stages }:
rec {
  # parseDuration :: string -> int (seconds). Go-style "45m", "3h", "1h30m", "90s".
  parseDuration = s:
    let
      parts = builtins.split "([0-9]+)([hms])" s;
      groups = lib.filter lib.isList parts;
      leftovers = lib.filter (p: lib.isString p && p != "") parts;
      mult = { h = 3600; m = 60; s = 1; };
    in
    if groups == [ ] || leftovers != [ ]
    then throw "ironworks: bad duration '${s}' (use Go style: 45m, 3h, 1h30m)"
    else lib.foldl' (acc: g: acc + (lib.fromJSON (builtins.elemAt g 0)) * mult.${builtins.elemAt g 1}) 0 groups;

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

  # readAdapter dir: adapter.toml as data (builtins.fromTOML; never retyped in Nix), with
  # jobs normalized and stages checked.
  readAdapter = dir:
    let
      raw = builtins.fromTOML (builtins.readFile (dir + "/adapter.toml"));
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
