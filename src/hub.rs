//! Hugging Face hub access (models and datasets) through `hf-hub`, behind the default `hub` feature.
//! Respects HF_HOME, HF_ENDPOINT and HF_HUB_OFFLINE. (Signatures fixed; implementation pending.)
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("hub access is not implemented yet")]
    NotImplemented,
}

/// Downloads (or finds in the cache) `files` of model repo `repo_id`; returns the snapshot directory.
pub fn fetch_model_files(_repo_id: &str, _revision: Option<&str>, _files: &[&str]) -> Result<PathBuf, HubError> {
    Err(HubError::NotImplemented)
}

/// Downloads (or finds in the cache) one file of dataset repo `repo_id`; returns its local path.
pub fn fetch_dataset_file(_repo_id: &str, _filename: &str) -> Result<PathBuf, HubError> {
    Err(HubError::NotImplemented)
}
