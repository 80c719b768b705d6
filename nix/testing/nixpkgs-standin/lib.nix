# TEST DOUBLE: the subset of nixpkgs `lib` used by the Ironworks flake, nix/ and the
# adapters, with nixpkgs' names and semantics. Anything used elsewhere must be added here
# (the offline check fails with "attribute ... missing" otherwise, which is the point).
let
  b = builtins;
  modules = import ./modules.nix { inherit lib; };
  lib = rec {
    inherit (b) attrNames attrValues elem filter foldl' head tail length listToAttrs
      mapAttrs concatMap concatStringsSep hasAttr isAttrs isList isString isFunction
      replaceStrings substring stringLength toJSON fromJSON readFile pathExists
      genList sort match split all any;

    id = x: x;
    fix = f: let x = f x; in x;
    concatMapStrings = f: list: concatStringsSep "" (map f list);
    splitString = sep: s: filter isString (split (escapeRegex sep) s);
    escapeRegex = replaceStrings [ "\\" "[" "{" "(" ")" "^" "$" "?" "*" "+" "|" "." ] [ "\\\\" "\\[" "\\{" "\\(" "\\)" "\\^" "\\$" "\\?" "\\*" "\\+" "\\|" "\\." ];
    const = x: _: x;
    genAttrs = names: f: listToAttrs (map (n: nameValuePair n (f n)) names);
    nameValuePair = name: value: { inherit name value; };
    mapAttrsToList = f: attrs: map (n: f n attrs.${n}) (attrNames attrs);
    mapAttrs' = f: attrs: listToAttrs (mapAttrsToList f attrs);
    filterAttrs = pred: attrs: listToAttrs (concatMap (n: let v = attrs.${n}; in if pred n v then [ (nameValuePair n v) ] else [ ]) (attrNames attrs));
    attrByPath = path: default: set:
      if path == [ ] then set
      else if set ? ${head path} then attrByPath (tail path) default set.${head path}
      else default;
    getAttrFromPath = path: set: attrByPath path (throw "cannot find attribute `${concatStringsSep "." path}'") set;
    optional = cond: x: if cond then [ x ] else [ ];
    optionals = cond: xs: if cond then xs else [ ];
    optionalString = cond: s: if cond then s else "";
    optionalAttrs = cond: as: if cond then as else { };
    flatten = x: if isList x then concatMap flatten x else [ x ];
    unique = foldl' (acc: e: if elem e acc then acc else acc ++ [ e ]) [ ];
    hasPrefix = pref: str: substring 0 (stringLength pref) str == pref;
    hasSuffix = suf: str:
      let ls = stringLength str; lf = stringLength suf;
      in lf <= ls && substring (ls - lf) lf str == suf;
    removePrefix = pref: str: if hasPrefix pref str then substring (stringLength pref) (-1) str else str;
    concatLists = b.concatLists;
    drop = n: l: let k = length l - n; in if k <= 0 then [ ] else genList (i: b.elemAt l (i + n)) k;
    zipListsWith = f: fst: snd: genList (n: f (b.elemAt fst n) (b.elemAt snd n)) (if length fst < length snd then length fst else length snd);
    toLower = replaceStrings
      [ "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O" "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" ]
      [ "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" ];
    toUpper = replaceStrings
      [ "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" ]
      [ "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O" "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" ];
    escapeShellArg = arg: "'${replaceStrings [ "'" ] [ "'\\''" ] (toString arg)}'";
    escapeShellArgs = xs: concatStringsSep " " (map escapeShellArg xs);
    makeBinPath = pkgs: concatStringsSep ":" (map (p: "${p}/bin") pkgs);
    isDerivation = x: isAttrs x && x ? type && x.type == "derivation";
    recursiveUpdate = lhs: rhs:
      lhs // mapAttrs (n: v: if isAttrs v && !(isDerivation v) && lhs ? ${n} && isAttrs lhs.${n} && !(isDerivation lhs.${n}) then recursiveUpdate lhs.${n} v else v) rhs;
    importTOML = path: b.fromTOML (readFile path);
    importJSON = path: fromJSON (readFile path);
    fakeHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    assertMsg = pred: msg: pred || throw msg;
    versionOlder = v1: v2: b.compareVersions v2 v1 == 1;
    versionAtLeast = v1: v2: !versionOlder v1 v2;

    # lib.runTests: returns the list of failing tests ({ name, expected, result }).
    runTests = tests: concatMap
      (name:
        let t = tests.${name}; in
        if t.expr == t.expected then [ ] else [{ inherit name; expected = t.expected; result = t.expr; }])
      (attrNames tests);

    # The module system (modules.nix) and lib.nixosSystem (nixos/default.nix).
    inherit (modules) evalModules types mkOption mkEnableOption mkIf mkMerge mkOverride mkDefault mkForce;
    mkPackageOption = _pkgs: name: extra: mkOption ({ type = types.package; description = "The ${name} package to use."; } // extra);
    literalExpression = text: { _type = "literalExpression"; inherit text; };
    nixosSystem = import ./nixos { inherit lib; };
    concatMapStringsSep = sep: f: list: concatStringsSep sep (map f list);
  };
in
lib
