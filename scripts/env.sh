# Sourced by the run and test commands: puts cargo's bin directory first on PATH, where
# scripts/setup.sh links wasm-opt (binaryen 132 from end2end/node_modules, never Debian's).
export PATH="$HOME/.cargo/bin:$PATH"
