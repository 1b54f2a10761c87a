//! Hub dataset splits: `hub:<owner>/<name>@<split>` → `<name>-{Train,Val,Test}.parquet` (the PLOD-CW-25
//! layout: `PLOD-CW-25-Train.parquet`, `-Val`, `-Test`), fetched through [`crate::hub::fetch_dataset_file`].
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::DataError;

/// A split of a hub dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HubSplit {
    Train,
    Validation,
    Test,
}

impl HubSplit {
    pub const ALL: [HubSplit; 3] = [HubSplit::Train, HubSplit::Validation, HubSplit::Test];

    pub fn name(self) -> &'static str {
        match self {
            HubSplit::Train => "train",
            HubSplit::Validation => "validation",
            HubSplit::Test => "test",
        }
    }

    fn file_suffix(self) -> &'static str {
        match self {
            HubSplit::Train => "Train",
            HubSplit::Validation => "Val",
            HubSplit::Test => "Test",
        }
    }
}

impl FromStr for HubSplit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "train" => Ok(HubSplit::Train),
            "validation" | "val" | "dev" => Ok(HubSplit::Validation),
            "test" => Ok(HubSplit::Test),
            other => Err(format!("unknown split `{other}` (expected train, validation or test)")),
        }
    }
}

/// The parquet file holding `split` of dataset `repo` (`surrey-nlp/PLOD-CW-25`, train →
/// `PLOD-CW-25-Train.parquet`).
pub fn hub_file_name(repo: &str, split: HubSplit) -> String {
    let name = repo.rsplit('/').next().unwrap_or(repo);
    format!("{name}-{}.parquet", split.file_suffix())
}

/// Downloads (or finds in the cache) the parquet file of `split`.
pub(crate) fn fetch(repo: &str, split: HubSplit) -> Result<PathBuf, DataError> {
    let file = hub_file_name(repo, split);
    crate::hub::fetch_dataset_file(repo, &file).map_err(|cause| DataError::Hub {
        repo: repo.to_string(),
        file,
        cause: Box::new(cause),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plod_cw_25_file_names() {
        let repo = "surrey-nlp/PLOD-CW-25";
        assert_eq!(hub_file_name(repo, HubSplit::Train), "PLOD-CW-25-Train.parquet");
        assert_eq!(hub_file_name(repo, HubSplit::Validation), "PLOD-CW-25-Val.parquet");
        assert_eq!(hub_file_name(repo, HubSplit::Test), "PLOD-CW-25-Test.parquet");
    }

    #[test]
    fn split_names_parse() {
        assert_eq!("Val".parse::<HubSplit>(), Ok(HubSplit::Validation));
        assert!("dev2".parse::<HubSplit>().is_err());
    }
}
