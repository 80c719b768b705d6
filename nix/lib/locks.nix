# Locks: the revisions a stage builds. The coordinator writes locks/<stage>.json on the
# stage's lock branch (forge-lock, harden-lock, ...):
#   { "stage": "forge", "candidate": "<id>", "updatedAt": "<RFC 3339>",
#     "components": { "<name>": { "repo": "<git url>", "rev": "<40 hex>", "branch": "master",
#                                 "cargoLock": "cargo/<name>.lock" (optional) } } }
# and, on a lock branch, locks/jobset.json = { "stages": ["forge"] } so that Hydra's flake
# jobset for that branch evaluates only that stage's jobs.
{ lib }:
rec {
  # lockPath locksDir stage: locks/<stage>.json, or locks/forge.json (the staging lock)
  # for a stage that has no lock of its own.
  lockPath = locksDir: stage:
    let own = locksDir + "/${stage}.json"; in
    if builtins.pathExists own then own else locksDir + "/forge.json";

  # checkRev name rev: rev itself when it is a full 40-hex git revision, else a clear error.
  checkRev = name: rev:
    if builtins.match "[0-9a-f]{40}" rev != null then rev
    else throw "ironworks: lock entry for ${name} has rev '${rev}', which is not a 40-hex git revision";

  # readLock { locksDir, stage, local ? null }: the stage's lock as data. `local` (a
  # parsed locks/local.json) replaces entries field by field, for development.
  readLock = { locksDir, stage, local ? null }:
    let
      file = lockPath locksDir stage;
      lock = lib.importJSON file;
      overlay = if local == null then { } else local.components or { };
    in
    lock // {
      file = toString file;
      components = lib.mapAttrs (n: e: e // (overlay.${n} or { })) (lock.components or { })
        // lib.filterAttrs (n: _: !((lock.components or { }) ? ${n})) overlay;
    };

  # componentSource { name, entry }: the component's source tree. A `path` entry (local
  # checkout, needs --impure) wins; otherwise builtins.fetchGit by exact revision, which
  # works offline for file:// repositories and is cached in the store.
  componentSource = { name, entry }:
    if entry ? path then
      builtins.path {
        path = entry.path;
        name = "${name}-source";
        filter = p: _: !(builtins.elem (baseNameOf p) [ ".git" "target" "result" ]);
      }
    else
      builtins.fetchGit {
        url = entry.repo or (throw "ironworks: lock entry for ${name} has no repo");
        rev = checkRev name (entry.rev or (throw "ironworks: lock entry for ${name} has no rev"));
        allRefs = true;
      };

  # cargoLockFor { locksDir, name, entry, src }: the Cargo.lock a component builds with:
  # the lock's `cargoLock` (relative to locks/), else locks/cargo/<name>.lock, else the
  # source's own Cargo.lock; null when there is none (missingCargoLock says why). The
  # coordinator generates locks/cargo/<name>.lock with the candidate for components that
  # commit none (merkletree) and for builds whose upstream is patched in
  # (rust-fil-proofs), so floating dependencies are frozen per candidate.
  #
  # Type: cargoLockFor :: { locksDir, name, entry, src } -> path | null
  cargoLockFor = { locksDir, name, entry, src }:
    let
      candidates =
        lib.optional (entry ? cargoLock) (locksDir + "/${entry.cargoLock}")
        ++ [ (locksDir + "/cargo/${name}.lock") (src + "/Cargo.lock") ];
      found = lib.filter builtins.pathExists candidates;
    in
    if found != [ ] then builtins.head found else null;

  # missingCargoLock name: why a component without a Cargo.lock cannot build. Its jobs
  # evaluate (so a clean checkout of main evaluates) and fail with this at build time.
  missingCargoLock = name:
    "ironworks: no Cargo.lock for ${name}: it commits none, and neither locks/cargo/${name}.lock nor the lock's cargoLock exists (the coordinator writes it with the candidate; see docs/nix.md, Locks)";

  # selectedStages locksDir allStages: the stages hydraJobs exposes: those named in
  # locks/jobset.json on a lock branch, every stage elsewhere.
  selectedStages = locksDir: allStages:
    let f = locksDir + "/jobset.json"; in
    if builtins.pathExists f then
      let sel = (lib.importJSON f).stages; in
      builtins.deepSeq (map (s: lib.assertMsg (lib.elem s allStages) "ironworks: locks/jobset.json names unknown stage '${s}'") sel) sel
    else allStages;
}
