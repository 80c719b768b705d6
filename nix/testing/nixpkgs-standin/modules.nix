# TEST DOUBLE: the module system of nixpkgs' lib/modules.nix and lib/types.nix, the part
# NixOS modules use: evalModules over `imports`, option declarations (mkOption), definitions
# pushed down through mkIf/mkMerge/mkOverride (pushDownProperties), the highest priority
# definitions kept (mkDefault 1000, option defaults 1500), types checked per definition
# ("is not of type"), undeclared options refused ("does not exist"), single-valued types
# refusing conflicting definitions, lists concatenated, attrsOf merged by name and
# submodules evaluated as modules of their own.
{ lib }:
let
  inherit (builtins) isAttrs isList isFunction isString isBool isInt attrNames concatMap filter foldl' head length elem all;
  showPath = path: lib.concatStringsSep "." path;
  isOption = x: isAttrs x && (x._type or null) == "option";

  # applyModule args m: { options, config, imports } of one module (function or attrset;
  # an attrset without options/config is shorthand for config).
  applyModule = args: m:
    let
      v = if isFunction m then m (args // { inherit lib; }) else if isAttrs m then m else import m (args // { inherit lib; });
      explicit = v ? options || v ? config;
    in
    {
      options = v.options or { };
      config = if explicit then v.config or { } else removeAttrs v [ "imports" "_file" "key" "meta" "disabledModules" ];
      imports = v.imports or [ ];
    };

  collect = args: m: let a = applyModule args m; in [ a ] ++ concatMap (collect args) a.imports;

  # mergeDecls: option trees of every module, one tree.
  mergeDecls = path: decls:
    if decls == [ ] then { }
    else if lib.any isOption decls then
      (if length decls > 1 then throw "The option `${showPath path}' is declared more than once." else head decls)
    else
      lib.genAttrs (lib.unique (concatMap attrNames decls))
        (n: mergeDecls (path ++ [ n ]) (map (d: d.${n}) (filter (d: d ? ${n}) decls)));

  # pushDown def: the definitions an attrset-level mkIf/mkMerge stands for, per name.
  pushDown = def:
    if (def._type or null) == "merge" then concatMap pushDown def.contents
    else if (def._type or null) == "if" then map (d: lib.mapAttrs (_: v: lib.mkIf def.condition v) d) (pushDown def.content)
    else if (def._type or null) == "override" then map (d: lib.mapAttrs (_: v: lib.mkOverride def.priority v) d) (pushDown def.content)
    else [ def ];

  # flatten def: { priority, value } list of one option's definition.
  flatten = prio: def:
    if (def._type or null) == "merge" then concatMap (flatten prio) def.contents
    else if (def._type or null) == "if" then (if def.condition then flatten prio def.content else [ ])
    else if (def._type or null) == "override" then flatten def.priority def.content
    else [{ priority = prio; value = def; }];

  evalOption = path: opt: defs:
    let
      flat = concatMap (flatten 100) defs
        ++ lib.optional (opt ? default) { priority = 1500; value = opt.default; };
      best = foldl' (m: d: if d.priority < m then d.priority else m) 9999 flat;
      values = map (d: d.value) (filter (d: d.priority == best) flat);
      type = opt.type or types.unspecified;
      checked = map (v: if type.check v then v else throw "A definition for option `${showPath path}' is not of type `${type.description}'. Definition value: ${builtins.toJSON v}") values;
    in
    if values == [ ] then throw "The option `${showPath path}' was accessed but has no value defined. Try setting the option."
    else type.merge path checked;

  evalTree = args: path: decls: defs:
    if isOption decls then evalOption path decls defs
    else
      let
        pushed = concatMap pushDown defs;
        unknown = filter (n: !(decls ? ${n})) (lib.unique (concatMap attrNames pushed));
      in
      if unknown != [ ] then throw "The option `${showPath (path ++ [ (head unknown) ])}' does not exist."
      else lib.mapAttrs (n: d: evalTree args (path ++ [ n ]) d (map (p: p.${n}) (filter (p: p ? ${n}) pushed))) decls;

  evalModules = { modules, specialArgs ? { }, prefix ? [ ] }:
    let
      args = specialArgs // { inherit config options; };
      all = concatMap (collect args) modules;
      options = mergeDecls prefix (map (m: m.options) all);
      config = evalTree args prefix options (map (m: m.config) all);
    in
    { inherit config options; };

  single = name: check: {
    inherit check; description = name;
    merge = path: vs: if lib.all (v: v == head vs) vs then head vs
      else throw "The option `${showPath path}' has conflicting definition values: ${builtins.toJSON vs}";
  };
  isStorePathLike = x: lib.isDerivation x || (isString x && lib.hasPrefix builtins.storeDir x);
  types = rec {
    unspecified = { description = "unspecified value"; check = _: true; merge = _: vs: if length vs == 1 then head vs else foldl' (a: b: if isAttrs a && isAttrs b then a // b else b) (head vs) vs; };
    anything = unspecified // { description = "anything"; };
    attrs = { description = "attribute set"; check = isAttrs; merge = _: foldl' (a: b: a // b) { }; };
    bool = single "boolean" isBool;
    int = single "signed integer" isInt;
    port = single "16 bit unsigned integer; between 0 and 65535 (both inclusive)" (x: isInt x && x >= 0 && x <= 65535);
    str = single "string" isString;
    nonEmptyStr = single "non-empty string" (x: isString x && builtins.match "[[:space:]]*" x == null);
    path = single "path" (x: (builtins.isPath x || isString x || lib.isDerivation x) && lib.hasPrefix "/" (toString x));
    package = single "package" isStorePathLike;
    lines = { description = "strings concatenated with \"\\n\""; check = isString; merge = _: vs: lib.concatStringsSep "\n" vs; };
    enum = vs: single "one of ${lib.concatMapStringsSep ", " builtins.toJSON vs}" (x: elem x vs);
    listOf = e: {
      description = "list of ${e.description}"; elemType = e;
      check = x: isList x && all e.check x;
      merge = path: vs: builtins.concatLists vs;
    };
    attrsOf = e: {
      description = "attribute set of ${e.description}"; elemType = e;
      check = isAttrs;
      merge = path: vs:
        let pushed = concatMap pushDown vs; in
        lib.genAttrs (lib.unique (concatMap attrNames pushed))
          (n: evalOption (path ++ [ n ]) { type = e; } (map (p: p.${n}) (filter (p: p ? ${n}) pushed)));
    };
    nullOr = e: {
      description = "null or ${e.description}";
      check = x: x == null || e.check x;
      merge = path: vs: if all (v: v == null) vs then null else e.merge path (filter (v: v != null) vs);
    };
    either = a: b: {
      description = "${a.description} or ${b.description}";
      check = x: a.check x || b.check x;
      merge = path: vs: if all a.check vs then a.merge path vs else b.merge path vs;
    };
    oneOf = ts: foldl' either (head ts) (lib.tail ts);
    submodule = m: {
      description = "submodule"; check = x: isAttrs x || isFunction x;
      merge = path: vs: (evalModules { modules = [ m ] ++ vs; prefix = path; }).config;
    };
    ints = { positive = single "positive integer, meaning >0" (x: isInt x && x > 0); unsigned = single "unsigned integer, meaning >=0" (x: isInt x && x >= 0); };
  };
in
{
  inherit evalModules types;
  mkOption = attrs: attrs // { _type = "option"; };
  mkEnableOption = name: { _type = "option"; type = types.bool; default = false; description = "Whether to enable ${name}."; };
  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkMerge = contents: { _type = "merge"; inherit contents; };
  mkOverride = priority: content: { _type = "override"; inherit priority content; };
  mkDefault = content: { _type = "override"; priority = 1000; inherit content; };
  mkForce = content: { _type = "override"; priority = 50; inherit content; };
}
