# Sourced by the run and test commands: puts the project's tools first on PATH.
# wasm-opt comes from end2end/node_modules (binaryen 132), never from Debian.
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
