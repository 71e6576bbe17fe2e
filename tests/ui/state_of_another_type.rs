use route_handlers::{RouteHandler, extract::State};

#[derive(Clone)]
struct Db;

#[derive(Clone)]
struct Config;

async fn list(State(_db): State<Db>) -> &'static str {
    "[]"
}

fn main() {
    // The handler takes a `State<Db>`; the route is given a `Config`.
    let _ = RouteHandler::new().get(list).with_state(Config).into_service();
}
