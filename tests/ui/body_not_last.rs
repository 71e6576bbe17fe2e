use http::Method;
use route_handlers::{RouteHandler, response::Json};

async fn create(Json(body): Json<String>, method: Method) -> String {
    format!("{method} {body}")
}

fn main() {
    let _: RouteHandler = RouteHandler::new().post(create);
}
