//! Links the component with a 128 KiB stack instead of Rust's 1 MiB default for wasm: the host zeroes
//! the resident part of each pooled instance's memory when the slot is reused, so every byte of stack
//! the layout reserves costs every request.

fn main() {
    println!("cargo:rustc-link-arg=-zstack-size=131072");
}
