//! Thin clap front ends: each subcommand parses its arguments and calls one library function.
pub mod analyze;
pub mod bench;
pub mod doctor;
pub mod evaluate;
pub mod export;
pub mod predict;
pub mod prepare;
pub mod serve;
pub mod train;

/// Logs to stderr; `RUST_LOG` overrides the default `info` level.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}
