{
  description = "Ironworks: release pipeline coordinator for Nix/Hydra projects (merkletree, rust-fil-proofs)";

  # flake.lock pins both (docs/nix.md, "Inputs"). The offline check replaces them with test
  # doubles (nix/testing/standin-setup; --override-input nixpkgs|rust-overlay path:...).
  # nixos-unstable: Go new enough for go.mod (nix/go.nix checks), Rust for unpinned crates.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
  # The toolchains components pin in rust-toolchain(.toml) (nix/lib/toolchain.nix).
  inputs.rust-overlay = { url = "github:oxalica/rust-overlay"; inputs.nixpkgs.follows = "nixpkgs"; };

  outputs = { self, nixpkgs, rust-overlay }:
    let
      lib = nixpkgs.lib;
      # The package set every job builds with: nixpkgs plus rust-overlay's rust-bin, with
      # CUDA on for the GPU jobs (docs/nix.md, "GPU jobs"): cudaSupport, and the CUDA
      # licence (lib/licenses.nix: nvidiaCuda, nvidiaCudaRedist, "CUDA EULA") as the only
      # unfree one accepted.
      pkgsFor = system: import nixpkgs {
        inherit system;
        overlays = [ rust-overlay.overlays.default ];
        config = {
          cudaSupport = true;
          allowUnfreePredicate = pkg:
            let l = pkg.meta.license or [ ]; in
            builtins.all (x: x.free or true || x.shortName or "" == "CUDA EULA") (if builtins.isList l then l else [ l ]);
        };
      };
      ironworks = import ./nix/lib { inherit lib; };
      systems = [ "x86_64-linux" ];

      # Every folder of adapters/ with a default.nix is a component: adding a component
      # is adding a folder (docs/adapters.md), never editing this file.
      adapterDirs = map (n: ./adapters + "/${n}")
        (builtins.filter (n: builtins.pathExists (./adapters + "/${n}/default.nix"))
          (builtins.attrNames (lib.filterAttrs (_: t: t == "directory") (builtins.readDir ./adapters))));

      # locks/local.json (git-ignored; `path` entries need --impure) points components at
      # local checkouts during development.
      local = if builtins.pathExists ./locks/local.json then lib.importJSON ./locks/local.json else null;

      project = ironworks.mkProject {
        inherit pkgsFor ironworks systems adapterDirs local;
        locksDir = ./locks;
      };

      go = import ./nix/go.nix { inherit lib; src = self; };
    in
    {
      lib = ironworks;
      # the stages' jobs, and on main (no locks/jobset.json) the programs themselves, so
      # Hydra's cache holds what NixOS hosts and benchkit agents install
      hydraJobs = project.hydraJobs // lib.optionalAttrs (!builtins.pathExists ./locks/jobset.json) {
        ironworks = lib.genAttrs [ "coordinator" "benchkit" ] (n: lib.genAttrs systems (s: self.packages.${s}.${n}));
      };

      packages = lib.genAttrs systems (system:
        let pkgs = pkgsFor system; gp = go.packages pkgs; in
        project.packages.${system} // gp // { default = gp.coordinator; });

      apps = lib.genAttrs systems (system:
        let p = self.packages.${system}; in
        lib.mapAttrs (n: bin: { type = "app"; program = "${p.${n}}/bin/${bin}"; })
          ({ coordinator = "coordinator"; benchkit = "benchkit"; }
            // lib.mapAttrs' (n: _: lib.nameValuePair n "ironworks-bench")
                 (lib.filterAttrs (n: _: lib.hasSuffix "-sector-bench" n) p)));

      checks = lib.genAttrs systems (system:
        let pkgs = pkgsFor system; in
        project.checks.${system} // {
          nix-lib = import ./nix/tests.nix { inherit lib pkgs ironworks; adapterCases = ./coordinator/config/testdata/adapter-cases.json; };
          nixos-modules = import ./infra/nixos/tests.nix { inherit lib pkgs system; modules = self.nixosModules; };
        });

      devShells = lib.genAttrs systems (system:
        let pkgs = pkgsFor system; in
        {
          default = pkgs.mkShell {
            packages = [ pkgs.go pkgs.cargo pkgs.rustc pkgs.clippy pkgs.rustfmt pkgs.git pkgs.jq ];
          };
        });

      nixosModules = {
        coordinator = import ./infra/nixos/coordinator.nix { inherit self; };
        benchkit-agent = import ./infra/nixos/benchkit-agent.nix { inherit self; };
        filecoin-builder = import ./infra/nixos/filecoin-builder.nix { inherit self; };
      };
    };
}
