# Toolchains: each Rust component builds with the toolchain its repository pins, as
# rustup would pick it (rust-toolchain.toml, else rust-toolchain), through rust-overlay's
# rust-bin (a flake input applied to pkgs). A component that pins none builds with
# nixpkgs' own rustPlatform.
{ lib }:
rec {
  # toolchainFile src: the rustup toolchain file of a source tree, or null.
  #
  # Type: toolchainFile :: path -> path | null
  # Example: toolchainFile merkletreeSrc => /nix/store/...-source/rust-toolchain
  toolchainFile = src:
    let found = lib.filter builtins.pathExists [ (src + "/rust-toolchain.toml") (src + "/rust-toolchain") ]; in
    if found == [ ] then null else builtins.head found;

  # rustPlatformFor { pkgs, name, src }: { rustPlatform, pin }: the platform a component
  # builds with and the pinned toolchain version (null: nixpkgs' rustPlatform). A pinned
  # toolchain is rust-bin.fromRustupToolchainFile's (its profile's clippy and rustfmt
  # included); a pin without rust-overlay in pkgs, or one the overlay does not have,
  # fails evaluation naming the component.
  #
  # rustPlatformOn is the same platform on another stdenv (makeRustPlatform's `stdenv`), as
  # CUDA jobs build on cudaPackages.cudaStdenv.
  #
  # Type: rustPlatformFor :: { pkgs, name, src } -> { rustPlatform, rustPlatformOn, pin }
  rustPlatformFor = { pkgs, name, src }:
    let
      file = toolchainFile src;
      where = baseNameOf (toString file);
      attempt = builtins.tryEval (pkgs.rust-bin.fromRustupToolchainFile file);
      toolchain =
        if !(pkgs ? rust-bin) then
          throw "ironworks: ${name} pins its Rust toolchain (${where}), but pkgs has no rust-bin: apply rust-overlay's overlay (flake.nix does)"
        else if attempt.success then attempt.value
        else throw "ironworks: ${name} pins Rust ${lib.replaceStrings [ "\n" ] [ " " ] (builtins.readFile file)}in ${where}, which this rust-overlay revision does not provide: update the rust-overlay input (nix flake lock --update-input rust-overlay)";
    in
    if file == null then {
      rustPlatform = pkgs.rustPlatform;
      rustPlatformOn = stdenv: pkgs.makeRustPlatform { inherit (pkgs) cargo rustc; inherit stdenv; };
      pin = null;
    }
    else {
      rustPlatform = pkgs.makeRustPlatform { cargo = toolchain; rustc = toolchain; };
      rustPlatformOn = stdenv: pkgs.makeRustPlatform { cargo = toolchain; rustc = toolchain; inherit stdenv; };
      pin = toolchain.version;
    };
}
