//! Hugging Face hub access (models and datasets) through `hf-hub` 1.0's blocking client, behind the default
//! `hub` cargo feature.
//!
//! Environment (read at each call, so tests and users can change it between calls):
//! - `HF_ENDPOINT`: hub base URL (default `https://huggingface.co`); a mirror or a test server.
//! - `HF_HOME`: cache root; files land in `$HF_HOME/hub/<models|datasets>--<org>--<name>/snapshots/<commit>/`
//!   (`HF_HUB_CACHE` overrides the `hub` folder, as in Python's `huggingface_hub`).
//! - `HF_HUB_OFFLINE=1` (or `true`/`yes`/`on`): no network request at all; only the local cache is consulted and a
//!   missing file is [`HubError::NotCached`]. `hf-hub` 1.0 itself ignores this variable; nerkit maps it to
//!   `local_files_only`.
//! - `HF_TOKEN`: read by `hf-hub` for gated/private repositories.
//!
//! Each file is fetched with `HEAD` then `GET` on `{endpoint}/{prefix}{repo}/resolve/{revision}/{file}`; the HEAD
//! response must carry `ETag`, `X-Repo-Commit` and `Content-Length` (or `X-Linked-Etag`/`X-Linked-Size`).
use std::path::{Path, PathBuf};

/// Why a hub file could not be obtained. Every variant names the repository and the file.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("`{repo}`: not a hub repository id (expected `org/name`)")]
    BadRepoId { repo: String },
    #[error(
        "`{repo}`: nerkit was built without the `hub` feature; rebuild with default features or use a local directory"
    )]
    FeatureDisabled { repo: String },
    #[error("{kind} repository `{repo}` has no file `{file}` (revision {revision})")]
    NotFound { kind: &'static str, repo: String, file: String, revision: String },
    #[error(
        "HF_HUB_OFFLINE is set and `{file}` of {kind} repository `{repo}` is not in the local cache {cache}; \
         unset HF_HUB_OFFLINE once to download it"
    )]
    NotCached { kind: &'static str, repo: String, file: String, cache: PathBuf },
    #[error("could not fetch `{file}` of {kind} repository `{repo}`: {source}")]
    Fetch {
        kind: &'static str,
        repo: String,
        file: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("hub client setup failed: {source}")]
    Client {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Whether `HF_HUB_OFFLINE` asks for cache-only operation (`1`, `true`, `yes`, `on`, case-insensitive).
pub fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
        .unwrap_or(false)
}

/// Whether this build can reach the hub at all.
pub const fn hub_enabled() -> bool {
    cfg!(feature = "hub")
}

/// Splits `org/name` and checks it looks like a hub id (one `/`, no empty part, no `..`).
pub fn split_repo_id(repo_id: &str) -> Result<(&str, &str), HubError> {
    let bad = || HubError::BadRepoId { repo: repo_id.to_string() };
    let (org, name) = repo_id.split_once('/').ok_or_else(bad)?;
    let ok_part = |p: &str| {
        !p.is_empty()
            && p != "."
            && p != ".."
            && p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if ok_part(org) && ok_part(name) {
        Ok((org, name))
    } else {
        Err(bad())
    }
}

/// Downloads (or finds in the cache) `files` of model repo `repo_id`; returns the snapshot directory, in which
/// every requested file is present. `revision` defaults to `main`.
pub fn fetch_model_files(repo_id: &str, revision: Option<&str>, files: &[&str]) -> Result<PathBuf, HubError> {
    let mut dir: Option<PathBuf> = None;
    for file in files {
        let path = imp::fetch(imp::Kind::Model, repo_id, revision, file)?;
        if dir.is_none() {
            dir = Some(snapshot_dir(&path, file));
        }
    }
    dir.ok_or_else(|| HubError::NotFound {
        kind: "model",
        repo: repo_id.to_string(),
        file: "(no file requested)".to_string(),
        revision: revision.unwrap_or("main").to_string(),
    })
}

/// Downloads (or finds in the cache) one file of dataset repo `repo_id` at `main`; returns its local path.
pub fn fetch_dataset_file(repo_id: &str, filename: &str) -> Result<PathBuf, HubError> {
    imp::fetch(imp::Kind::Dataset, repo_id, None, filename)
}

/// `<snapshot>/<file>` → `<snapshot>` (the file may sit in sub-folders of the snapshot).
fn snapshot_dir(path: &Path, file: &str) -> PathBuf {
    let depth = Path::new(file).components().count();
    let mut dir = path.to_path_buf();
    for _ in 0..depth {
        dir.pop();
    }
    dir
}

#[cfg(feature = "hub")]
mod imp {
    use super::{offline, split_repo_id, HubError};
    use hf_hub::{HFClient, HFClientSync, HFError};
    use std::path::PathBuf;

    #[derive(Clone, Copy)]
    pub enum Kind {
        Model,
        Dataset,
    }

    impl Kind {
        fn name(self) -> &'static str {
            match self {
                Kind::Model => "model",
                Kind::Dataset => "dataset",
            }
        }
    }

    pub fn fetch(kind: Kind, repo_id: &str, revision: Option<&str>, file: &str) -> Result<PathBuf, HubError> {
        let (org, name) = split_repo_id(repo_id)?;
        // Built per call: HF_ENDPOINT / HF_HOME are read at build time and may change between calls.
        let client = HFClient::builder().build().map_err(|e| HubError::Client { source: Box::new(e) })?;
        let cache = client.cache_dir().to_path_buf();
        let client = HFClientSync::from_inner(client).map_err(|e| HubError::Client { source: Box::new(e) })?;
        let offline = offline();
        let result = match kind {
            Kind::Model => client
                .model(org, name)
                .download_file()
                .filename(file)
                .maybe_revision(revision.map(str::to_string))
                .local_files_only(offline)
                .send(),
            Kind::Dataset => client
                .dataset(org, name)
                .download_file()
                .filename(file)
                .maybe_revision(revision.map(str::to_string))
                .local_files_only(offline)
                .send(),
        };
        let (kind, repo, file_s) = (kind.name(), repo_id.to_string(), file.to_string());
        result.map_err(|e| match e {
            HFError::LocalEntryNotFound { .. } => HubError::NotCached { kind, repo, file: file_s, cache },
            HFError::EntryNotFound { .. } => {
                HubError::NotFound { kind, repo, file: file_s, revision: revision.unwrap_or("main").to_string() }
            }
            other => HubError::Fetch { kind, repo, file: file_s, source: Box::new(other) },
        })
    }
}

#[cfg(not(feature = "hub"))]
mod imp {
    use super::{split_repo_id, HubError};
    use std::path::PathBuf;

    #[derive(Clone, Copy)]
    pub enum Kind {
        Model,
        Dataset,
    }

    pub fn fetch(_kind: Kind, repo_id: &str, _revision: Option<&str>, _file: &str) -> Result<PathBuf, HubError> {
        split_repo_id(repo_id)?;
        Err(HubError::FeatureDisabled { repo: repo_id.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_ids() {
        assert_eq!(split_repo_id("surrey-nlp/PLOD-CW-25").unwrap(), ("surrey-nlp", "PLOD-CW-25"));
        assert_eq!(split_repo_id("org/model.v1_x").unwrap(), ("org", "model.v1_x"));
        for bad in ["gpt2", "/x", "x/", "a/b/c", "../x", "a b/c", ""] {
            assert!(matches!(split_repo_id(bad), Err(HubError::BadRepoId { .. })), "{bad}");
        }
    }

    #[test]
    fn snapshot_dir_strips_file_components() {
        let p = Path::new("/c/models--a--b/snapshots/abc/sub/x.json");
        assert_eq!(snapshot_dir(p, "sub/x.json"), Path::new("/c/models--a--b/snapshots/abc"));
        assert_eq!(snapshot_dir(Path::new("/s/config.json"), "config.json"), Path::new("/s"));
    }
}
