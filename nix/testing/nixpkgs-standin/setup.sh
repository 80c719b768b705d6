# TEST DOUBLE: the generic builder of the nixpkgs stand-in, a tiny stdenv/setup.sh
# (nixpkgs: pkgs/stdenv/generic/setup.sh). Runs inside the Nix sandbox where the offline
# check turns it on; the host directories the double's tools live in are the only
# extra-sandbox-paths (nix/testing/check-offline).
set -eu
set -o pipefail

# PATH: the derivation's inputs plus the stand-in's common path (coreutils, findutils,
# diffutils, sed, grep, awk, tar, gzip, bash, make, patch and the C compiler, as
# pkgs/stdenv/generic/common-path.nix and cc-wrapper give); never the host's /usr/bin.
if [ -n "${standinBoot-}" ]; then
  export PATH="$standinBoot"
else
  export PATH="$standinCommonPath/bin"
fi
# the stdenv's cc-wrapper first (pkgs/build-support/cc-wrapper/setup-hook.sh): its setup hook
# exports CC and CXX, overriding a derivation's own
if [ -n "${standinCC-}" ]; then
  PATH="$standinCC/bin:$PATH"
  . "$standinCC/nix-support/setup-hook"
fi
for p in ${buildInputs-} ${nativeBuildInputs-}; do
  if [ -d "$p/bin" ]; then PATH="$p/bin:$PATH"; fi
done
export HOME="$TMPDIR/home" NIX_BUILD_TOP="$TMPDIR"
# pkgs/stdenv/generic/setup.sh: NIX_BUILD_CORES is the builder's `cores` (0: all)
if [ "${NIX_BUILD_CORES:-0}" = 0 ]; then NIX_BUILD_CORES=$(nproc 2>/dev/null || echo 1); fi
export NIX_BUILD_CORES
mkdir -p "$HOME"

# runHook NAME: the string hook NAME, then every function of the array NAMEHooks
# (setup.sh runs the implicit hook first, then the array).
runHook() {
  local hook="$1" arr="${1}Hooks[@]" f
  if [ -n "${!hook-}" ]; then eval "${!hook}"; fi
  for f in "${!arr-}"; do
    [ -n "$f" ] && "$f"
  done
  return 0
}

runPhase() {
  local phase="$1" base="${1%Phase}"
  echo "standin: running $phase"
  if [ -n "${!phase-}" ]; then
    eval "${!phase}"   # a phase given as a string runs its own hooks (runHook preX), as in nixpkgs
  else
    "default_$phase"
  fi
}

# substituteInPlace FILE... --replace-fail OLD NEW | --replace-warn OLD NEW ...
# (pkgs/stdenv/generic/setup.sh: substitute, substituteInPlace): every occurrence of OLD
# becomes NEW; OLD matching nothing is an error with --replace-fail, a warning with
# --replace-warn. Only these two operators: the double refuses what it does not mirror.
substituteInPlace() {
  local files=() f
  while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do files+=("$1"); shift; done
  for f in "${files[@]}"; do
    local content args=("$@") op old new
    content=$(cat "$f"; printf x); content=${content%x}
    while [ ${#args[@]} -gt 0 ]; do
      op=${args[0]}
      case "$op" in
        --replace-fail|--replace-warn) ;;
        *) echo "substitute: ERROR: the stand-in knows no operator $op" >&2; return 1 ;;
      esac
      [ ${#args[@]} -ge 3 ] || { echo "substitute: ERROR: $op needs two arguments" >&2; return 1; }
      old=${args[1]} new=${args[2]} args=("${args[@]:3}")
      if [[ "$content" != *"$old"* ]]; then
        if [ "$op" = --replace-fail ]; then
          echo "substitute: ERROR: pattern '$old' doesn't match anything in file '$f'" >&2; return 1
        fi
        echo "substitute: WARNING: pattern '$old' doesn't match anything in file '$f'" >&2
      fi
      content=${content//"$old"/"$new"}
    done
    printf '%s' "$content" > "$f"
  done
}

default_unpackPhase() {
  runHook preUnpack
  if [ -z "${src-}" ]; then
    mkdir -p source
  elif [ -d "$src" ]; then
    # nixpkgs' unpackFile: cp -pr (store timestamps kept), then the sources made writable
    cp -pr "$src" source
  else
    mkdir source; cp -p "$src" source/
  fi
  chmod -R u+w source
  sourceRoot=source
  runHook postUnpack
  cd "$sourceRoot"
}
default_patchPhase() { runHook prePatch; runHook postPatch; }
default_configurePhase() { runHook preConfigure; runHook postConfigure; }
default_buildPhase() { runHook preBuild; runHook postBuild; }
default_checkPhase() { runHook preCheck; runHook postCheck; }
default_installPhase() { runHook preInstall; mkdir -p "$out"; runHook postInstall; }

# Setup hooks of the inputs (nixpkgs: a package's nix-support/setup-hook is sourced).
for p in ${buildInputs-} ${nativeBuildInputs-}; do
  if [ -f "$p/nix-support/setup-hook" ]; then . "$p/nix-support/setup-hook"; fi
done

if [ -n "${buildCommand-}" ]; then
  eval "$buildCommand"
  exit 0
fi

cd "$TMPDIR"
runPhase unpackPhase
runPhase patchPhase
runPhase configurePhase
if [ -z "${dontBuild-}" ]; then runPhase buildPhase; fi
if [ -n "${doCheck-}" ]; then runPhase checkPhase; fi
runPhase installPhase
