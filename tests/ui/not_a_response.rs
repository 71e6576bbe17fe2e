use route_handlers::RouteHandler;

struct Product {
    name: String,
}

async fn show() -> Product {
    Product { name: "tea".into() }
}

fn main() {
    let _: RouteHandler = RouteHandler::new().get(show);
}
