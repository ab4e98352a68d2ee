//! The read side's query language: InfluxDB 1.x's InfluxQL, the subset that
//! Grafana's InfluxDB datasource sends plus what people type by hand, parsed
//! (`lexer`, `parser` → `ast`) and run over the embedded store.

pub mod ast;
pub mod lexer;
pub mod parser;

pub use parser::{parse, ParseError};
