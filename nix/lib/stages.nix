{ lib }:
rec {
  # The job stages in promotion order (stamp is the release itself, not a job stage).
  stages = [ "spark" "forge" "harden" "temper" ];

  # stageIndex :: string -> int; throws on an unknown stage so a typo never drops jobs.
  stageIndex = stage:
    let idx = lib.foldl' (acc: s: if acc.found then acc else if s == stage then { found = true; i = acc.i; } else { found = false; i = acc.i + 1; }) { found = false; i = 0; } stages;
    in if idx.found then idx.i else throw "ironworks: unknown stage '${stage}' (one of ${lib.concatStringsSep ", " stages})";

  # unimplemented { pkgs, stage, component }: the marker a stage shows when a component
  # has no job in it. It builds (so Hydra shows it) and says so in its name, its output
  # and meta.ironworks.unimplemented, which the coordinator reads.
  unimplemented = { pkgs, stage, component }:
    pkgs.runCommand "ironworks-${component}-${stage}-unimplemented"
      {
        passthru.ironworks = { inherit stage component; job = "unimplemented"; unimplemented = true; gating = true; };
        meta = {
          description = "unimplemented: ${component} has no ${stage} jobs";
          ironworks.unimplemented = true;
        };
      } ''
      mkdir -p $out
      echo "unimplemented: ${component} has no ${stage} jobs" > $out/unimplemented
    '';

  # gate { pkgs, stage, jobs }: the stage's gating aggregate (releaseTools.aggregate, so
  # _hydraAggregate = true and constituents = the gating jobs). `jobs` is the list of
  # derivations whose passthru.ironworks.gating is true. A stage made only of
  # unimplemented markers says so in its name and meta.
  gate = { pkgs, stage, jobs }:
    let
      implemented = lib.filter (j: !(j.passthru.ironworks.unimplemented or false)) jobs;
      none = implemented == [ ];
    in
    pkgs.releaseTools.aggregate {
      name = "ironworks-${stage}-gate${lib.optionalString none "-unimplemented"}";
      constituents = jobs;
      meta = {
        description = "Ironworks ${stage} gate: succeeds when every gating ${stage} job built";
        ironworks = { inherit stage; unimplemented = none; };
      };
    };
}
