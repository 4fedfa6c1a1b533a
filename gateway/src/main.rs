//! The `ccgate` binary: everything lives in the library; see `ccgate --help`.

fn main() {
    std::process::exit(ccgate::cli::run());
}
