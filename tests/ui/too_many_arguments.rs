use http::{HeaderMap, Method, Uri, Version};
use route_handlers::{RouteContext, RouteHandler};

#[allow(clippy::too_many_arguments)]
async fn everything(
    _: Method,
    _: Uri,
    _: Version,
    _: HeaderMap,
    _: RouteContext,
    _: Method,
    _: Uri,
    _: Version,
    _: HeaderMap,
) -> &'static str {
    "too much"
}

fn main() {
    let _: RouteHandler = RouteHandler::new().get(everything);
}
