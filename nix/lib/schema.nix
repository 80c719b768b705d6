# The adapter.toml schema, checked in Nix exactly as coordinator/config (Go) checks it:
# the same values are accepted and rejected on both sides, proven by one table of cases
# (coordinator/config/testdata/adapter-cases.json) that `go test` and `nix flake check`
# (checks.<system>.nix-lib) both run. Every function returns a list of problems
# ("<key path>: <what is wrong>"); [ ] means valid.
{ lib }:
rec {
  # decimal s: the integer a string of decimal digits spells, leading zeros allowed.
  #
  # Type: decimal :: string -> int
  # Example: decimal "007" => 7
  decimal = d: builtins.fromJSON (builtins.head (builtins.match "0*([0-9]+)" d));

  # parseDurationNs s: Go's time.ParseDuration in nanoseconds, or null when Go rejects s:
  # an optional sign, then one or more <decimal number><unit> (units ns us µs μs ms s m h),
  # or "0" alone.
  #
  # Type: parseDurationNs :: string -> int | null
  # Example: parseDurationNs "1.5h" => 5400000000000
  # Example: parseDurationNs "45 minutes" => null
  parseDurationNs = s:
    let
      signed = builtins.match "([-+]?)(.*)" s;
      sign = if builtins.elemAt signed 0 == "-" then -1 else 1;
      body = builtins.elemAt signed 1;
      unitNs = { ns = 1; us = 1000; "µs" = 1000; "μs" = 1000; ms = 1000000; s = 1000000000; m = 60000000000; h = 3600000000000; };
      parts = builtins.split "([0-9]*)(\\.[0-9]*)?(ns|us|µs|μs|ms|s|m|h)" body;
      groups = lib.filter lib.isList parts;
      leftovers = lib.filter (p: lib.isString p && p != "") parts;
      pow10 = n: if n == 0 then 1 else 10 * pow10 (n - 1);
      toInt = d: if d == "" then 0 else decimal d;
      segment = g:
        let
          int = builtins.elemAt g 0;
          fracRaw = builtins.elemAt g 1;
          frac = if fracRaw == null then "" else builtins.substring 1 (-1) fracRaw;
          # Go keeps the fraction's first digits only as far as they matter
          fracDigits = builtins.substring 0 18 frac;
          unit = unitNs.${builtins.elemAt g 2};
        in
        if int == "" && frac == "" then null
        else if builtins.stringLength int > 18 then null
        else toInt int * unit + (toInt fracDigits) * unit / pow10 (builtins.stringLength fracDigits);
      values = map segment groups;
    in
    if body == "0" then 0
    else if body == "" || groups == [ ] || leftovers != [ ] || lib.elem null values then null
    else sign * lib.foldl' (a: b: a + b) 0 values;

  # durationProblems key value: a positive Go duration, as job and bench timeouts must be.
  #
  # Type: durationProblems :: string -> any -> [ string ]
  durationProblems = key: v:
    let ns = if builtins.isString v then parseDurationNs v else null; in
    if !builtins.isString v then [ "${key}: want a duration string such as \"45m\"" ]
    else if ns == null then [ "${key}: bad duration \"${v}\" (want e.g. 90s, 45m, 3h)" ]
    else if ns <= 0 then [ "${key}: must be positive (leave it out for the default of 45m)" ]
    else [ ];

  # cronProblems s: robfig/cron's standard parser (minute hour dom month dow, names and
  # descriptors), the dialect coordinator/config.CronParser speaks.
  #
  # Type: cronProblems :: string -> [ string ]
  # Example: cronProblems "0 */4 * * *" => [ ]
  cronProblems = s:
    let
      fields = lib.filter (f: lib.isString f && f != "") (builtins.split "[[:space:]]+" s);
      months = { jan = 1; feb = 2; mar = 3; apr = 4; may = 5; jun = 6; jul = 7; aug = 8; sep = 9; oct = 10; nov = 11; dec = 12; };
      days = { sun = 0; mon = 1; tue = 2; wed = 3; thu = 4; fri = 5; sat = 6; };
      bounds = [
        { min = 0; max = 59; names = { }; }
        { min = 0; max = 23; names = { }; }
        { min = 1; max = 31; names = { }; }
        { min = 1; max = 12; names = months; }
        { min = 0; max = 6; names = days; }
      ];
      value = b: e:
        let low = lib.toLower e; in
        if b.names ? ${low} then b.names.${low}
        else if builtins.match "[0-9]+" e != null && builtins.stringLength e < 10 then decimal e
        else null;
      rangeOk = b: r:
        let
          stepParts = lib.splitString "/" r;
          lh = lib.splitString "-" (builtins.head stepParts);
          star = builtins.head lh == "*" || builtins.head lh == "?";
          start = if star then b.min else value b (builtins.head lh);
          end =
            if star then b.max
            else if builtins.length lh == 2 then value b (builtins.elemAt lh 1)
            else if builtins.length stepParts == 2 then b.max
            else start;
          step = if builtins.length stepParts == 2 then value { names = { }; } (builtins.elemAt stepParts 1) else 1;
        in
        # like robfig's getRange, "*" or "?" ignores whatever follows a hyphen
        builtins.length stepParts <= 2 && (star || builtins.length lh <= 2)
        && start != null && end != null && step != null && step > 0
        && start >= b.min && end <= b.max && start <= end;
      fieldOk = b: f: lib.all (rangeOk b) (lib.splitString "," f);
      every = builtins.match "@every (.*)" s;
      descriptors = [ "@yearly" "@annually" "@monthly" "@weekly" "@daily" "@midnight" "@hourly" ];
    in
    if s == "" || s == "continuous" || lib.elem s descriptors then [ ]
    else if every != null then lib.optional (parseDurationNs (builtins.head every) == null) "bad @every duration"
    else if lib.hasPrefix "@" s then [ "unrecognized descriptor ${s}" ]
    else if builtins.length fields != 5 then [ "expected exactly 5 fields, found ${toString (builtins.length fields)}" ]
    else lib.optional (!lib.all (x: x) (lib.zipListsWith fieldOk bounds fields)) "a field is out of range or malformed";

  # byteSizeOk s: "16MiB", "1GB", "100" (coordinator/config.ByteSize).
  byteSizeOk = s:
    let m = builtins.match "[[:space:]]*([0-9]+)[[:space:]]*(GiB|MiB|KiB|GB|MB|KB|B)?[[:space:]]*" s; in
    m != null && builtins.stringLength (builtins.head m) < 16;

  # percentOk s: "5%", "0.5%" up to "1000%" (coordinator/config.Percent).
  percentOk = s:
    let
      m = builtins.match "[[:space:]]*([0-9]*)(\\.([0-9]*))?%[[:space:]]*" s;
      int = builtins.elemAt m 0;
      frac = builtins.elemAt m 2;
      fracZero = frac == null || builtins.match "0*" frac != null;
    in
    m != null && (int != "" || (frac != null && frac != ""))
    && builtins.stringLength int < 10
    && (if int == "" then true else decimal int < 1000 || (decimal int == 1000 && fracZero));

  stages = [ "spark" "forge" "harden" "temper" ];
  parsers = [ "benchy" "criterion" "gotest" "json" ];
  pinMethods = [ "cargo-patch" ];
  nameOk = n: builtins.match "[a-z0-9][a-z0-9._-]*" n != null;

  # typed key kind value: problems when value is not of kind (str, bool, int, strs, env, table).
  typed = key: kind: v:
    let
      ok = {
        str = builtins.isString v;
        bool = builtins.isBool v;
        int = builtins.isInt v;
        strs = builtins.isList v && lib.all builtins.isString v;
        env = builtins.isAttrs v && lib.all builtins.isString (lib.attrValues v);
        table = builtins.isAttrs v;
        tables = builtins.isList v && lib.all builtins.isAttrs v;
      }.${kind};
    in
    lib.optional (!ok) "${key}: wrong type (want ${kind})";

  # fieldsProblems key schema attrs: unknown keys and wrongly typed values of one table.
  fieldsProblems = key: schema: attrs:
    lib.concatMap
      (k: if schema ? ${k} then typed "${key}${k}" schema.${k} attrs.${k} else [ "${key}${k}: unknown key" ])
      (lib.attrNames attrs);

  jobSchema = { stage = "str"; command = "str"; needs = "strs"; requires = "strs"; timeout = "str"; schedule = "str"; manual = "bool"; env = "env"; gating = "bool"; output_limit = "str"; network = "bool"; };
  benchSchema = { stage = "str"; command = "str"; parser = "str"; requires = "strs"; repeat = "int"; warmup = "int"; timeout = "str"; env = "env"; metrics = "table"; };
  topSchema = { name = "str"; repo = "str"; branch = "str"; crate = "str"; lockfile = "str"; upstream = "tables"; jobs = "table"; bench = "table"; };

  blank = s: builtins.match "[[:space:]]*" s != null;

  # jobProblems component name job: one [jobs.<name>] table.
  jobProblems = component: name: j:
    let key = "jobs.${name}."; typeErrs = fieldsProblems key jobSchema j; in
    if !builtins.isAttrs j then [ "jobs.${name}: want a table" ]
    else if typeErrs != [ ] then typeErrs
    else
      lib.optional (!nameOk name) "jobs.${name}: not a valid job name"
      ++ lib.optional (!lib.elem (j.stage or "") stages) "${key}stage: unknown stage \"${j.stage or ""}\""
      ++ lib.optional (blank (j.command or "")) "${key}command: required"
      ++ lib.optionals (j ? timeout) (durationProblems "${key}timeout" j.timeout)
      ++ map (p: "${key}schedule: ${p}") (cronProblems (j.schedule or ""))
      ++ lib.optional ((j.manual or false) && (j.schedule or "") != "") "${key}manual: a manual job cannot also have a schedule"
      ++ lib.concatMap
        (n: lib.optional (n == "" || lib.length (lib.splitString ":" n) > 2) "${key}needs: \"${n}\": want job or component:job"
          ++ lib.optional (n == name || n == "${component}:${name}") "${key}needs: job needs itself")
        (j.needs or [ ])
      ++ map (k: "${key}env: ${k}: IRONWORKS_* variables are set by the coordinator")
        (lib.filter (lib.hasPrefix "IRONWORKS_") (lib.attrNames (j.env or { })))
      ++ lib.optional (j ? output_limit && !byteSizeOk j.output_limit) "${key}output_limit: bad size \"${j.output_limit}\"";

  # benchProblems name bench: one [bench.<name>] table.
  benchProblems = name: b:
    let key = "bench.${name}."; typeErrs = fieldsProblems key benchSchema b; in
    if !builtins.isAttrs b then [ "bench.${name}: want a table" ]
    else if typeErrs != [ ] then typeErrs
    else
      lib.optional (!lib.elem (b.stage or "") stages) "${key}stage: unknown stage \"${b.stage or ""}\""
      ++ lib.optional (blank (b.command or "")) "${key}command: required"
      ++ lib.optional (!lib.elem (b.parser or "") parsers) "${key}parser: unknown parser \"${b.parser or ""}\""
      ++ lib.optional ((b.repeat or 0) < 0 || (b.warmup or 0) < 0) "${key}repeat: repeat and warmup must not be negative"
      ++ lib.optionals (b ? timeout) (durationProblems "${key}timeout" b.timeout)
      ++ lib.concatMap
        (m:
          let metric = b.metrics.${m}; mk = "${key}metrics.${m}."; in
          if !builtins.isAttrs metric then [ "${key}metrics.${m}: want a table" ]
          else
            fieldsProblems mk { direction = "str"; threshold = "str"; } metric
            ++ lib.optional (!lib.elem (metric.direction or "") [ "lower" "higher" ]) "${mk}direction: want lower or higher"
            ++ lib.optional (metric ? threshold && builtins.isString metric.threshold && !percentOk metric.threshold) "${mk}threshold: bad threshold")
        (lib.attrNames (b.metrics or { }));

  # adapterProblems raw: every problem of a parsed adapter.toml (builtins.fromTOML).
  #
  # Type: adapterProblems :: attrset -> [ string ]
  # Example: adapterProblems { name = "x"; repo = "r"; jobs.t = { stage = "forge"; command = "true"; timeout = "0"; }; }
  #   => [ "jobs.t.timeout: must be positive (leave it out for the default of 45m)" ]
  adapterProblems = raw:
    let
      typeErrs = fieldsProblems "" topSchema raw;
      name = raw.name or "";
    in
    if typeErrs != [ ] then typeErrs
    else
      lib.optional (name == "") "name: required"
      ++ lib.optional (name != "" && !nameOk name) "name: \"${name}\" is not a valid component name"
      ++ lib.optional ((raw.repo or "") == "") "repo: required"
      ++ lib.optional (!lib.elem (raw.lockfile or "committed") [ "committed" "generate" ]) "lockfile: \"${raw.lockfile}\": want committed or generate"
      ++ lib.concatMap
        (u: fieldsProblems "upstream." { name = "str"; pin = "str"; crate = "str"; } u
          ++ lib.optional ((u.name or "") == "") "upstream: name is required"
          ++ lib.optional (!lib.elem (u.pin or "") pinMethods) "upstream.pin: unknown pin method \"${u.pin or ""}\"")
        (raw.upstream or [ ])
      ++ lib.optional ((raw.jobs or { }) == { }) "jobs: an adapter needs at least one job"
      ++ lib.concatLists (lib.mapAttrsToList (jobProblems name) (raw.jobs or { }))
      ++ lib.concatLists (lib.mapAttrsToList benchProblems (raw.bench or { }));
}
