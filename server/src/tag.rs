//! `POST /tag` (and `POST /`): read the body within the limits, tell nerkit's shape from the Hugging Face one,
//! check every text, queue the request for the batcher and shape the answer.
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::{Aggregation, HfEntity, HfInputs, HfRequest, Offsets, TagOptions, TagRequest, TagResult};
use crate::engine::EngineError;
use crate::error::ApiError;
use crate::state::AppState;

/// Either request shape (for the OpenAPI document; the handler tells them apart by `inputs`).
#[derive(serde::Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum TagBody {
    Native(TagRequest),
    HuggingFace(HfRequest),
}

/// The answer: one result for `text`, a list for `texts`; entity lists in the Hugging Face shape.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum TagAnswer {
    One(TagResult),
    Many(Vec<TagResult>),
    HfOne(Vec<HfEntity>),
    HfMany(Vec<Vec<HfEntity>>),
}

/// Tag raw text.
#[utoipa::path(
    post,
    path = "/tag",
    request_body(content = TagBody, description = "nerkit's `{text | texts, aggregation, decode, offsets, pairs}` or the Hugging Face `{inputs, parameters}`"),
    responses(
        (status = 200, description = "Entities (with pairs and glossary in nerkit's shape)", body = TagAnswer),
        (status = 400, description = "Invalid JSON, UTF-8 or field types", body = crate::api::ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = crate::api::ErrorBody),
        (status = 413, description = "Body over max_body_bytes", body = crate::api::ErrorBody),
        (status = 415, description = "Content type other than application/json", body = crate::api::ErrorBody),
        (status = 422, description = "Too many texts, a text over max_chars, an unknown option value", body = crate::api::ErrorBody),
        (status = 503, description = "Model loading or queue full (see Retry-After)", body = crate::api::ErrorBody),
    )
)]
pub async fn tag(req: HttpRequest, body: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    check_content_type(&req)?;
    let limit = state.config.max_body_bytes;
    let bytes = body
        .to_bytes_limited(limit)
        .await
        .map_err(|_| {
            ApiError::new(
                actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("request body over {limit} bytes (max_body_bytes)"),
            )
        })?
        .map_err(|e| ApiError::bad_request("invalid_body", format!("cannot read the request body: {e}")))?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_utf8",
            format!("request body is not UTF-8 (invalid byte at offset {})", e.valid_up_to()),
        )
    })?;
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| ApiError::from_json(&e))?;
    let Some(object) = value.as_object() else {
        return Err(ApiError::bad_request("invalid_request", "the body must be a JSON object"));
    };
    if object.contains_key("inputs") {
        let hf: HfRequest = serde_json::from_value(value).map_err(|e| ApiError::from_json(&e))?;
        return hf_tag(hf, &state).await;
    }
    if !object.contains_key("text") && !object.contains_key("texts") {
        return Err(ApiError::bad_request(
            "invalid_request",
            "the body needs `text` (one string) or `texts` (a list), or the Hugging Face `inputs`",
        ));
    }
    let native: TagRequest = serde_json::from_value(value).map_err(|e| ApiError::from_json(&e))?;
    native_tag(native, &state).await
}

fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(ct) = req.headers().get(header::CONTENT_TYPE) else {
        return Ok(()); // no header: read the body as JSON (what curl --data-binary @file.json without -H does not do)
    };
    let ct = ct.to_str().unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        return Ok(());
    }
    Err(ApiError::new(
        actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!("content type `{ct}`: send JSON with `Content-Type: application/json`"),
    ))
}

async fn native_tag(r: TagRequest, state: &AppState) -> Result<HttpResponse, ApiError> {
    let (texts, one) = match (r.text, r.texts) {
        (Some(t), None) => (vec![t], true),
        (None, Some(ts)) => (ts, false),
        _ => return Err(ApiError::bad_request("invalid_request", "give `text` or `texts`, not both")),
    };
    let (pairs, keep_pairs) = r.pairs.resolve();
    let opts = TagOptions { aggregation: r.aggregation, decode: r.decode, offsets: r.offsets, stride: None, pairs };
    opts.decoding().map_err(|m| ApiError::unprocessable("invalid_option", m))?;
    let mut results = run(state, texts, opts).await?;
    if !keep_pairs {
        for res in &mut results {
            res.pairs = None;
            res.glossary = None;
        }
    }
    let answer = if one { TagAnswer::One(results.pop().unwrap_or_default()) } else { TagAnswer::Many(results) };
    Ok(HttpResponse::Ok().json(answer))
}

async fn hf_tag(r: HfRequest, state: &AppState) -> Result<HttpResponse, ApiError> {
    let p = r.parameters;
    let aggregation = p.aggregation_strategy.unwrap_or(Aggregation::Simple);
    let (texts, one) = match r.inputs {
        HfInputs::One(t) => (vec![t], true),
        HfInputs::Many(ts) => (ts, false),
    };
    let opts =
        TagOptions { aggregation, decode: None, offsets: Offsets::Chars, stride: p.stride, pairs: Default::default() };
    let ignore = p.ignore_labels.unwrap_or_default();
    let lists: Vec<Vec<HfEntity>> = run(state, texts, opts)
        .await?
        .iter()
        .map(|res| {
            res.entities
                .iter()
                .map(|e| HfEntity::from_entity(e, aggregation))
                .filter(|e| !ignore.iter().any(|l| l == e.label()))
                .collect()
        })
        .collect();
    let answer =
        if one { TagAnswer::HfOne(lists.into_iter().next().unwrap_or_default()) } else { TagAnswer::HfMany(lists) };
    Ok(HttpResponse::Ok().json(answer))
}

/// Decrements the in-flight count when the request ends (also when the client goes away).
struct InFlight<'a>(&'a AppState);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        self.0.metrics.in_flight.dec();
    }
}

/// Checks the texts against the limits, then queues them and waits for the batcher.
async fn run(state: &AppState, texts: Vec<String>, opts: TagOptions) -> Result<Vec<TagResult>, ApiError> {
    let (_, counter) = state.ready()?;
    let limits = &state.config;
    if texts.is_empty() {
        return Err(ApiError::unprocessable("no_texts", "`texts` is empty"));
    }
    if texts.len() > limits.max_texts {
        return Err(ApiError::unprocessable(
            "too_many_texts",
            format!("{} texts in one request; the limit is {} (max_texts)", texts.len(), limits.max_texts),
        ));
    }
    for (i, t) in texts.iter().enumerate() {
        // bytes bound the characters from above: count only when it can matter
        if t.len() > limits.max_chars && t.chars().count() > limits.max_chars {
            return Err(ApiError::unprocessable(
                "text_too_long",
                format!("text {i}: {} characters; the limit is {} (max_chars)", t.chars().count(), limits.max_chars),
            ));
        }
    }
    let count = move |texts: Vec<String>| {
        let n: usize = texts.iter().map(|t| counter(t)).sum();
        (texts, n)
    };
    // large requests are tokenized off the async executor
    let (texts, tokens) = if texts.iter().map(String::len).sum::<usize>() > 16 << 10 {
        web::block(move || count(texts)).await.map_err(|e| ApiError::internal(format!("token counting failed: {e}")))?
    } else {
        count(texts)
    };
    let before = state.in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    state.metrics.in_flight.inc();
    let _guard = InFlight(state);
    if before >= limits.max_concurrent {
        return Err(ApiError::unavailable(
            "queue_full",
            format!(
                "{before} requests are queued or running (max_concurrent {}); retry shortly",
                limits.max_concurrent
            ),
            1,
        ));
    }
    let reply = state
        .batcher
        .submit(texts, opts, tokens)
        .ok_or_else(|| ApiError::unavailable("shutting_down", "the server is shutting down", 5))?;
    match reply.await {
        Ok(Ok(results)) => Ok(results),
        Ok(Err(EngineError::Invalid(m))) => Err(ApiError::unprocessable("invalid_option", m)),
        Ok(Err(EngineError::Failed(m))) => {
            tracing::error!("engine error: {m}");
            Err(ApiError::internal(format!("inference failed: {m}")))
        }
        Err(_) => Err(ApiError::internal("the engine stopped before answering")),
    }
}
