//! The compiler's messages for the usual mistakes with handlers: each `tests/ui/*.rs` fails
//! to build, with the text in its `.stderr` file.

#[test]
fn handler_mistakes_say_what_is_wrong() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
