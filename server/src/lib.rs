//! `nerkit-server`: the HTTP server (actix-web: `POST /tag`, `/health`, `/metrics`, web UI) is not built yet.
//! This crate holds its place in the workspace layout; see the README's life-cycle table.
