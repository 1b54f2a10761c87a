//! The routes, and the one middleware every request passes: request id, bearer-token check, metrics, log line.
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse, ResponseError};

use crate::api::{Health, Info};
use crate::batcher::Status;
use crate::error::{ApiError, ErrorKind};
use crate::state::AppState;
use crate::tag;

pub const REQUEST_ID: &str = "x-request-id";

/// Registers every route on `cfg`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/tag").route(web::post().to(tag::tag)).default_service(web::to(method_not_allowed)))
        .service(
            web::resource("/")
                .route(web::post().to(tag::tag))
                .route(web::get().to(ui))
                .default_service(web::to(method_not_allowed)),
        )
        .route("/health", web::get().to(health))
        .route("/info", web::get().to(info))
        .route("/metrics", web::get().to(metrics))
        .route("/openapi.json", web::get().to(openapi))
        .route("/docs", web::get().to(docs))
        .route("/ui.css", web::get().to(ui_css))
        .route("/ui.js", web::get().to(ui_js))
        .default_service(web::to(not_found));
}

/// Model loaded and a probe inference passed: 200; loading or failed: 503.
#[utoipa::path(get, path = "/health", responses(
    (status = 200, description = "Ready", body = Health),
    (status = 503, description = "Loading, or the model failed to load", body = Health)
))]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    match state.batcher.status() {
        Status::Ready(..) => HttpResponse::Ok().json(Health { status: "ok".into(), error: None }),
        Status::Loading => HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, "5"))
            .json(Health { status: "loading".into(), error: None }),
        Status::Failed(e) => {
            HttpResponse::ServiceUnavailable().json(Health { status: "failed".into(), error: Some(e) })
        }
    }
}

/// The model, its labels, the engine in use and why, the limits, the version.
#[utoipa::path(get, path = "/info", responses(
    (status = 200, description = "Server and model", body = Info),
    (status = 503, description = "The model is not loaded", body = crate::api::ErrorBody)
))]
pub async fn info(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let model = (*state.ready()?.0).clone();
    Ok(HttpResponse::Ok().json(Info {
        model,
        limits: state.config.limits(),
        auth: state.config.api_key.is_some(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    }))
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format", body = String)))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(state.metrics.render())
}

async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(state.openapi.clone())
}

async fn docs() -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(include_str!("../static/docs.html"))
}

/// The web UI: one page, its stylesheet and script, embedded in the binary (no CDN, works offline).
async fn ui() -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(include_str!("../static/index.html"))
}

async fn ui_css() -> HttpResponse {
    HttpResponse::Ok().content_type("text/css; charset=utf-8").body(include_str!("../static/ui.css"))
}

async fn ui_js() -> HttpResponse {
    HttpResponse::Ok().content_type("text/javascript; charset=utf-8").body(include_str!("../static/ui.js"))
}

async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no route {} {}", req.method(), req.path())))
}

async fn method_not_allowed(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    let (m, p) = (req.method(), req.path());
    Err(ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", format!("{m} {p}: use POST")))
}

/// Routes open without the bearer token: the probe Kubernetes calls, and the web UI's static files (the page
/// asks for the key and sends it with its requests).
fn is_open(req: &ServiceRequest) -> bool {
    let get = req.method() == actix_web::http::Method::GET;
    req.path() == "/health" || (get && matches!(req.path(), "/" | "/ui.css" | "/ui.js"))
}

/// Constant-time comparison of the `Authorization: Bearer` token with `key`.
fn authorized(req: &ServiceRequest, key: &str) -> bool {
    let Some(given) = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(token) = given.strip_prefix("Bearer ").map(str::trim) else {
        return false;
    };
    let (a, b) = (token.as_bytes(), key.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn request_id(req: &ServiceRequest) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let given = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).filter(|s| {
        !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    });
    match given {
        Some(s) => s.to_string(),
        None => format!("{:x}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)),
    }
}

/// Request id (taken from `x-request-id` when sane, else made), auth, metrics and one log line per request.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let start = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned().expect("app state");
    let id = request_id(&req);
    let route = req.match_pattern().unwrap_or_else(|| "other".into());
    let (method, path) = (req.method().clone(), req.path().to_string());
    let mut res = match &state.config.api_key {
        Some(key) if !is_open(&req) && !authorized(&req, key) => {
            let mut resp = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or wrong bearer token (send `Authorization: Bearer <api key>`)",
            )
            .error_response();
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            req.into_response(resp)
        }
        _ => next.call(req).await?,
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(header::HeaderName::from_static(REQUEST_ID), v);
    }
    let status = res.status();
    let secs = start.elapsed().as_secs_f64();
    let m = &state.metrics;
    m.requests.with_label_values(&[route.as_str(), status.as_str()]).inc();
    m.latency.with_label_values(&[route.as_str()]).observe(secs);
    let kind = res.response().extensions().get::<ErrorKind>().map(|k| k.0);
    if let Some(kind) = kind {
        m.errors.with_label_values(&[route.as_str(), kind]).inc();
    }
    // /health is polled (503 while loading is its answer, not a fault); a 503 is back-pressure, not a bug
    if path == "/health" {
        tracing::debug!(request_id = %id, status = status.as_u16(), "health");
    } else if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
        tracing::error!(request_id = %id, %method, %path, status = status.as_u16(), ms = secs * 1e3, kind, "request");
    } else if status.is_client_error() {
        tracing::warn!(request_id = %id, %method, %path, status = status.as_u16(), ms = secs * 1e3, kind, "request");
    } else {
        tracing::debug!(request_id = %id, %method, %path, status = status.as_u16(), ms = secs * 1e3, "request");
    }
    Ok(res)
}
