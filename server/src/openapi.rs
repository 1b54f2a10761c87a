//! The OpenAPI document (`GET /openapi.json`), generated from the handler annotations and the wire types.
use utoipa::OpenApi;

use crate::{api, routes, tag};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "nerkit",
        description = "Named-entity tagging of biomedical text with the served model's label set (`GET /info`: `labels`, `entity_types`; abbreviation models, AC and LF, also give `pairs` and a `glossary`). `POST /tag` takes nerkit's request or the Hugging Face Inference API token-classification request.",
        license(name = "Apache-2.0")
    ),
    paths(tag::tag, routes::health, routes::info, routes::metrics),
    components(schemas(
        api::TagRequest,
        api::HfRequest,
        api::HfInputs,
        api::HfParameters,
        api::TagResult,
        api::Entity,
        api::Pair,
        api::GlossaryEntry,
        api::HfEntity,
        api::ErrorBody,
        api::Health,
        api::Info,
        api::ModelInfo,
        api::PairTypes,
        api::Limits,
        api::Aggregation,
        api::Decoding,
        api::Offsets,
        tag::TagBody,
        tag::TagAnswer
    ))
)]
pub struct ApiDoc;

/// The document as pretty JSON, with the crate version.
pub fn document(version: &str) -> String {
    let mut doc = ApiDoc::openapi();
    doc.info.version = version.to_string();
    doc.to_pretty_json().expect("OpenAPI JSON")
}
