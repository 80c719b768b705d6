# TEST DOUBLE of nixpkgs' pkgs/build-support/rust/hooks/cargo-build-hook.sh (written anew,
# same behaviour): buildPhase is `cargo build` with the flags buildRustPackage's arguments
# give, unless the derivation sets buildPhase or dontCargoBuild.
standinCargoBuildHook() {
  echo "Executing cargoBuildHook"
  runHook preBuild
  # stdenv strips, not cargo (nixpkgs exports this for the build type's profile)
  export "CARGO_PROFILE_${cargoBuildType^^}_STRIP"=false
  if [ -n "${buildAndTestSubdir-}" ]; then
    export CARGO_TARGET_DIR="$(pwd)/target"
    pushd "$buildAndTestSubdir" >/dev/null
  fi
  local flags=(-j "$NIX_BUILD_CORES" --target "@rustcTarget@" --offline)
  if [ "$cargoBuildType" != debug ]; then flags+=(--profile "$cargoBuildType"); fi
  if [ -n "${cargoBuildNoDefaultFeatures-}" ]; then flags+=(--no-default-features); fi
  if [ -n "${cargoBuildFeatures-}" ]; then flags+=("--features=${cargoBuildFeatures// /,}"); fi
  # shellcheck disable=SC2206
  flags+=(${cargoBuildFlags-})
  echo "cargoBuildHook flags: ${flags[*]}"
  cargo build "${flags[@]}"
  if [ -n "${buildAndTestSubdir-}" ]; then popd >/dev/null; fi
  runHook postBuild
  echo "Finished cargoBuildHook"
}
if [ -z "${dontCargoBuild-}" ] && [ -z "${buildPhase-}" ]; then
  buildPhase=standinCargoBuildHook
fi
