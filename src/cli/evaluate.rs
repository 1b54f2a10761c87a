//! `nerkit evaluate` (not built yet).

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`nerkit evaluate` is not implemented yet")
}
