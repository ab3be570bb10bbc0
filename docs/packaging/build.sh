#!/bin/bash
set -euxo pipefail

# Licenses of every crate compiled in, as bioconda requires for Rust packages.
cargo-bundle-licenses --format yaml --output THIRDPARTY.yml

# The release profile (fat LTO) from Cargo.toml; --locked builds exactly Cargo.lock.
export CARGO_PROFILE_RELEASE_STRIP=symbols
cargo install --no-track --locked --root "$PREFIX" --path .
