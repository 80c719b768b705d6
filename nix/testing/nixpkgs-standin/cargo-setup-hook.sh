# TEST DOUBLE of nixpkgs' pkgs/build-support/rust/hooks/cargo-setup-hook.sh: after unpack,
# point cargo at the vendored crates ($cargoDeps, from importCargoLock); after patch,
# refuse to build when the source's Cargo.lock is not the lock the crates were vendored
# from (cargoSetupPostPatchHook).
standinCargoSetupPostUnpack() {
  echo "Executing cargoSetupPostUnpackHook"
  cargoDepsCopy="cargo-vendor-dir"
  cp -pr "$cargoDeps" "$cargoDepsCopy"   # unpackFile: timestamps kept, crates stay links to the store
  chmod u+w "$cargoDepsCopy" "$cargoDepsCopy/.cargo"
  mkdir -p .cargo
  sed "s|directory = \"cargo-vendor-dir\"|directory = \"$(pwd)/$cargoDepsCopy\"|" \
    "$cargoDepsCopy/.cargo/config.toml" >> .cargo/config.toml
}
standinCargoSetupPostPatch() {
  echo "Executing cargoSetupPostPatchHook"
  local deps="$NIX_BUILD_TOP/$cargoDepsCopy/Cargo.lock" src="$NIX_BUILD_TOP/$sourceRoot/Cargo.lock"
  echo "Validating consistency between $src and $deps"
  if ! cmp -s "$src" "$deps"; then
    if ! [ -e "$src" ]; then
      echo "ERROR: Missing Cargo.lock from src. Expected to find it at: $src"
      exit 1
    fi
    echo "ERROR: cargoHash is out of date"
    echo "Cargo.lock is not the same in $cargoDepsCopy"
    exit 1
  fi
}
postUnpackHooks+=(standinCargoSetupPostUnpack)
postPatchHooks+=(standinCargoSetupPostPatch)
