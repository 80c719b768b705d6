# TEST DOUBLE: the generic builder of the nixpkgs stand-in (a tiny stdenv/setup.sh).
# Runs with the Nix sandbox off, as the user the Nix daemon builds as.
set -eu
set -o pipefail

export PATH="$standinPath"
for p in ${nativeBuildInputs-} ${buildInputs-}; do
  if [ -d "$p/bin" ]; then PATH="$p/bin:$PATH"; fi
done
export HOME="$TMPDIR/home"
mkdir -p "$HOME"

runHook() {
  local hook="$1"
  if [ -n "${!hook-}" ]; then eval "${!hook}"; fi
}

runPhase() {
  local phase="$1" base="${1%Phase}"
  echo "standin: running $phase"
  if [ -n "${!phase-}" ]; then
    eval "${!phase}"   # a phase given as a string runs its own hooks (runHook preX), as in nixpkgs
  else
    runHook "pre${base^}"; "default_$phase"; runHook "post${base^}"
  fi
}

default_unpackPhase() {
  if [ -z "${src-}" ]; then mkdir -p source; cd source; return; fi
  if [ -d "$src" ]; then
    cp -r --no-preserve=mode "$src" source
  else
    mkdir source; cp "$src" source/
  fi
  cd source
}
default_patchPhase() { :; }
default_configurePhase() { :; }
default_buildPhase() { :; }
default_checkPhase() { :; }
default_installPhase() { mkdir -p "$out"; }

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
