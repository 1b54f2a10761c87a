//! The `nerkit` binary: the command line of [`nerkit::cli`].

fn main() -> anyhow::Result<()> {
    // Behave like other command-line tools when the reader of stdout goes away (`nerkit ... | head`): exit
    // quietly instead of panicking on a broken pipe.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    nerkit::cli::main_with(std::env::args_os())
}
