//! Error answers: every one is JSON `{"error", "kind"}` with a 4xx for bad input (never a 500).
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

use crate::api::ErrorBody;

#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
    /// Seconds for a `Retry-After` header (503s).
    pub retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, kind, message: message.into(), retry_after: None }
    }

    pub fn bad_request(kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, kind, message)
    }

    pub fn unprocessable(kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, kind, message)
    }

    pub fn unavailable(kind: &'static str, message: impl Into<String>, retry_after: u32) -> ApiError {
        ApiError { retry_after: Some(retry_after), ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, kind, message) }
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// A JSON body that cannot be read as the request type: unknown fields and option values are 422
    /// (`invalid_option`), syntax errors 400 (`invalid_json`), wrong types or missing fields 400
    /// (`invalid_request`). serde's message names the field, line and column.
    pub fn from_json(e: &serde_json::Error) -> ApiError {
        use serde_json::error::Category;
        let message = e.to_string();
        match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => ApiError::bad_request("invalid_json", message),
            Category::Data if message.contains("unknown variant") || message.contains("unknown field") => {
                ApiError::unprocessable("invalid_option", message)
            }
            Category::Data => ApiError::bad_request("invalid_request", message),
        }
    }
}

/// The error kind of an answer, for metrics (set by [`ApiError::error_response`]).
#[derive(Clone, Copy, Debug)]
pub struct ErrorKind(pub &'static str);

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        if let Some(s) = self.retry_after {
            r.insert_header((header::RETRY_AFTER, s.to_string()));
        }
        let mut resp = r.json(ErrorBody { error: self.message.clone(), kind: self.kind.to_string() });
        resp.extensions_mut().insert(ErrorKind(self.kind));
        resp
    }
}
