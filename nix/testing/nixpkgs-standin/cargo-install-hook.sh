# TEST DOUBLE of nixpkgs' pkgs/build-support/rust/hooks/cargo-install-hook.sh (written
# anew, same behaviour): after the build, the build type's output directory is copied
# aside and its executables noted; installPhase copies them to $out/bin and libraries to
# $out/lib, then removes the folders it left empty. Unless installPhase or
# dontCargoInstall is set.
standinCargoInstallPostBuild() {
  echo "Executing cargoInstallPostBuildHook"
  releaseDir=target/@rustcTarget@/$cargoBuildType
  tmpDir="$releaseDir-tmp"
  mkdir -p "$tmpDir"
  cp -r "$releaseDir"/* "$tmpDir"/
  bins=$(find "$tmpDir" -maxdepth 1 -type f -executable ! \( -regex ".*\.\(so.[0-9.]+\|so\|a\|dylib\)" \))
  echo "Finished cargoInstallPostBuildHook"
}
standinCargoInstallHook() {
  echo "Executing cargoInstallHook"
  runHook preInstall
  mkdir -p "$out/bin" "$out/lib"
  # shellcheck disable=SC2086
  [ -z "$bins" ] || cp $bins "$out/bin/"
  find "$tmpDir" -maxdepth 1 -regex ".*\.\(so.[0-9.]+\|so\|a\|dylib\)" -exec cp {} "$out/lib/" \;
  rmdir --ignore-fail-on-non-empty "$out/lib" "$out/bin"
  runHook postInstall
  echo "Finished cargoInstallHook"
}
if [ -z "${dontCargoInstall-}" ] && [ -z "${installPhase-}" ]; then
  installPhase=standinCargoInstallHook
  postBuildHooks+=(standinCargoInstallPostBuild)
fi
