# TEST DOUBLE of nixpkgs' pkgs/build-support/rust/hooks/cargo-check-hook.sh (written anew,
# same behaviour): checkPhase is `cargo test` with the check type, features and
# cargoTestFlags, then `--test-threads` (1 with dontUseCargoParallelTests, else
# NIX_BUILD_CORES) and checkFlags for the test binaries.
standinCargoCheckHook() {
  echo "Executing cargoCheckHook"
  runHook preCheck
  if [ -n "${buildAndTestSubdir-}" ]; then pushd "$buildAndTestSubdir" >/dev/null; fi
  local threads=$NIX_BUILD_CORES
  if [ -n "${dontUseCargoParallelTests-}" ]; then threads=1; fi
  local flags=(-j "$NIX_BUILD_CORES")
  if [ "$cargoCheckType" != debug ]; then flags+=(--profile "$cargoCheckType"); fi
  if [ -n "${cargoCheckNoDefaultFeatures-}" ]; then flags+=(--no-default-features); fi
  if [ -n "${cargoCheckFeatures-}" ]; then flags+=("--features=${cargoCheckFeatures// /,}"); fi
  flags+=(--target "@rustcTarget@" --frozen)
  # shellcheck disable=SC2206
  flags+=(${cargoTestFlags-} -- "--test-threads=$threads" ${checkFlags-})
  echo "cargoCheckHook flags: ${flags[*]}"
  cargo test "${flags[@]}"
  if [ -n "${buildAndTestSubdir-}" ]; then popd >/dev/null; fi
  echo "Finished cargoCheckHook"
  runHook postCheck
}
if [ -z "${dontCargoCheck-}" ] && [ -z "${checkPhase-}" ]; then
  checkPhase=standinCargoCheckHook
fi
