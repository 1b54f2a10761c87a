//! `nerkit-server`: the HTTP face of a nerkit model (`nerkit serve`).
//!
//! - [`api`]: the wire format (nerkit's request and the Hugging Face token-classification shape);
//! - [`tag`]: `POST /tag` — limits, validation, answers; [`routes`]: the other routes and the middleware
//!   (request id, bearer token, metrics, log);
//! - [`batcher`]: the queue and the engine thread (dynamic micro-batching by token budget);
//! - [`engine`]: what a model must offer ([`Engine`]); nerkit's raw-text tagger implements it;
//! - [`metrics`] (Prometheus), [`openapi`] (generated document), [`config`] (every setting), [`error`].
//!
//! Conventions follow text-embeddings-inference: JSON errors with a `kind`, `/health` only after a probe
//! inference passed, `/info`, `/metrics`, OpenAPI, graceful shutdown on SIGTERM.
use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{middleware::from_fn, web, App, HttpServer};

pub mod api;
pub mod batcher;
pub mod config;
pub mod engine;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod state;
pub mod tag;

pub use config::ServerConfig;
pub use engine::{Engine, EngineError, TokenCounter};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("invalid setting: {0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    #[error("the model failed to load: {0}")]
    Model(String),
}

/// Runs the server until SIGTERM / Ctrl-C (then finishes in-flight requests and returns `Ok`). It listens at
/// once and answers `/health` with 503 while `load` runs on the engine thread; when loading fails, it stops and
/// returns the error. `on_listen` gets the bound addresses (with `port = 0`, the port the system chose).
pub fn run<L>(config: ServerConfig, load: L, on_listen: impl FnOnce(&[SocketAddr])) -> Result<(), ServeError>
where
    L: FnOnce() -> Result<Box<dyn Engine>, String> + Send + 'static,
{
    config.validate().map_err(ServeError::Config)?;
    actix_web::rt::System::new().block_on(serve(config, load, on_listen))
}

/// The state every handler shares, with the engine thread started on `load` (`on_ready` gets its outcome).
/// `serve` listens with it; an in-process harness (the criterion bench of `POST /tag`) calls [`app`] through
/// `actix_web::test` instead.
pub fn state<L, R>(config: &ServerConfig, load: L, on_ready: R) -> web::Data<state::AppState>
where
    L: FnOnce() -> Result<Box<dyn Engine>, String> + Send + 'static,
    R: FnOnce(Result<(), String>) + Send + 'static,
{
    let metrics = Arc::new(metrics::Metrics::new());
    let batcher = Arc::new(batcher::Batcher::start(load, config.batch_policy(), metrics.clone(), on_ready));
    web::Data::new(state::AppState {
        config: config.clone(),
        batcher,
        metrics,
        in_flight: AtomicUsize::new(0),
        openapi: openapi::document(env!("CARGO_PKG_VERSION")),
    })
}

/// The application: every route and the middleware, over `state`.
pub fn app(
    state: web::Data<state::AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new().app_data(state).wrap(from_fn(routes::middleware)).configure(routes::configure)
}

async fn serve<L>(config: ServerConfig, load: L, on_listen: impl FnOnce(&[SocketAddr])) -> Result<(), ServeError>
where
    L: FnOnce() -> Result<Box<dyn Engine>, String> + Send + 'static,
{
    let handle_slot: Arc<Mutex<Option<actix_web::dev::ServerHandle>>> = Arc::new(Mutex::new(None));
    let failure: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let (slot, fail) = (handle_slot.clone(), failure.clone());
    let state = state(&config, load, move |outcome| match outcome {
        Ok(()) => tracing::info!("model ready"),
        Err(e) => {
            tracing::error!("the model failed to load: {e}");
            *fail.lock().expect("failure") = Some(e);
            if let Some(h) = slot.lock().expect("handle").as_ref() {
                // sends the stop command now; the returned future only waits for it
                drop(h.stop(false));
            }
        }
    });
    let batcher = state.batcher.clone();
    let addr = format!("{}:{}", config.host, config.port);
    let app_state = state.clone();
    let mut server = HttpServer::new(move || app(app_state.clone())).shutdown_timeout(config.shutdown_timeout_s);
    if let Some(w) = config.workers {
        server = server.workers(w);
    }
    let server = server.bind(&addr).map_err(|source| ServeError::Bind { addr: addr.clone(), source })?;
    on_listen(&server.addrs());
    let server = server.run();
    *handle_slot.lock().expect("handle") = Some(server.handle());
    if failure.lock().expect("failure").is_some() {
        drop(server.handle().stop(false));
    }
    server.await?;
    tracing::info!("stopped accepting; answering what is queued");
    batcher.stop();
    let failed = failure.lock().expect("failure").take();
    match failed {
        Some(e) => Err(ServeError::Model(e)),
        None => Ok(()),
    }
}
