//! The promoter base module: a promoter company's events, published into its Nextkt
//! organization (Mode A) and their sales read back from Nextkt.

pub mod events;
pub mod publish;
pub mod sales;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// The module's gate.
pub const MODULE: &str = "promoter";

/// Promoter companies' routes (module `promoter`); the app puts the gate around them.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(events::list, events::create))
        .routes(routes!(events::get, events::update))
        .routes(routes!(publish::publish))
        .routes(routes!(sales::sales))
}
