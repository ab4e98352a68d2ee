//! Placeholder until the parser lands: refuses everything.
use super::ast::Statement;

#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub message: String,
}

pub fn parse(_q: &str) -> Result<Vec<Statement>, ParseError> {
    Err(ParseError {
        message: "the parser is not built yet".into(),
    })
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "error parsing query: {}", self.message)
    }
}
