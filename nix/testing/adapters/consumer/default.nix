# The fixture third component's derivations: everything comes from adapter.toml.
{ pkgs, ironworks, component, ... }:
ironworks.mkCargoAdapter { inherit pkgs component; }
