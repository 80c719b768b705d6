# TEST DOUBLE. Not oxalica/rust-overlay.
#
# An offline stand-in for the part of rust-overlay the Ironworks flake uses
# (overlays.default: rust-bin.fromRustupToolchainFile, rust-bin.stable.<version>.default,
# rust-bin.stable.latest.default). Every toolchain it gives runs the host's rustup
# toolchain (through the nixpkgs double's standin.mkRustToolchain) but claims the version
# asked for, so version-dependent behaviour (Cargo.lock versions) follows the pin. Versions
# newer than the host's are "not in this revision" of the overlay, as a rust-overlay too
# old for a pin would be.
{
  description = "TEST DOUBLE: offline stand-in for oxalica/rust-overlay";
  outputs = { self }: {
    overlays.default = final: prev: { rust-bin = import ./rust-bin.nix { pkgs = prev; }; };
  };
}
