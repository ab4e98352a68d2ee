//! InfluxQL text → [`ast::Statement`]s, following InfluxDB 1.x's parser
//! (influxdata/influxql parser.go): the same grammar, precedence, reserved
//! words and `found X, expected Y at line L, char C` errors.
//!
//! Valid statements the logger does not run (DROP, GRANT, SELECT INTO, a
//! subquery ...) become [`Statement::Unsupported`] so the statements around
//! them still run; anything malformed fails the whole query, as in InfluxDB.

use std::fmt;

use super::ast::{
    BinOp, Cast, Expr, Fill, GroupBy, KeyMatch, Pattern, Select, SelectField, ShowMeta, Source, Statement, TagGroup,
    TimeGroup,
};
use super::lexer::{Lexer, Pos, Token, TokenKind};

/// Why a query does not parse, and where (1-based, characters).
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub message: String,
    pub line: usize,
    pub char: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "error parsing query: {} at line {}, char {}",
            self.message, self.line, self.char
        )
    }
}

impl std::error::Error for ParseError {}

impl ParseError {
    fn at(pos: Pos, message: impl Into<String>) -> ParseError {
        ParseError {
            message: message.into(),
            line: pos.line,
            char: pos.char,
        }
    }

    fn expected(found: &Token, expected: &[&str]) -> ParseError {
        Self::at(
            found.pos,
            format!("found {}, expected {}", found.describe(), expected.join(", ")),
        )
    }
}

/// Parses `q`: statements separated by `;` (empty ones are skipped). A query
/// without any statement is an error.
pub fn parse(q: &str) -> Result<Vec<Statement>, ParseError> {
    let mut p = Parser {
        lexer: Lexer::new(q),
        peeked: None,
        unsupported: None,
        invalid: None,
        depth: 0,
    };
    let mut statements = Vec::new();
    let mut after_semicolon = true;
    loop {
        let tok = p.peek()?;
        match tok.kind {
            TokenKind::Eof => break,
            TokenKind::Semicolon => {
                p.next()?;
                after_semicolon = true;
            }
            _ if !after_semicolon => return Err(ParseError::expected(&tok, &[";"])),
            _ => {
                statements.push(p.statement()?);
                after_semicolon = false;
            }
        }
    }
    if statements.is_empty() {
        let eof = p.next()?;
        return Err(ParseError::expected(&eof, &first_words(STATEMENTS, &[])));
    }
    Ok(statements)
}

/// Every statement InfluxDB 1.x knows, by its leading words (in InfluxDB's
/// order, which its error messages list).
const STATEMENTS: &[&[&str]] = &[
    &["SELECT"],
    &["DELETE"],
    &["SHOW", "CONTINUOUS", "QUERIES"],
    &["SHOW", "DATABASES"],
    &["SHOW", "DIAGNOSTICS"],
    &["SHOW", "FIELD", "KEY", "EXACT", "CARDINALITY"],
    &["SHOW", "FIELD", "KEY", "CARDINALITY"],
    &["SHOW", "FIELD", "KEYS"],
    &["SHOW", "GRANTS", "FOR"],
    &["SHOW", "MEASUREMENT", "EXACT", "CARDINALITY"],
    &["SHOW", "MEASUREMENT", "CARDINALITY"],
    &["SHOW", "MEASUREMENTS"],
    &["SHOW", "QUERIES"],
    &["SHOW", "RETENTION", "POLICIES"],
    &["SHOW", "SERIES"],
    &["SHOW", "SERIES", "EXACT", "CARDINALITY"],
    &["SHOW", "SERIES", "CARDINALITY"],
    &["SHOW", "SHARD", "GROUPS"],
    &["SHOW", "SHARDS"],
    &["SHOW", "STATS"],
    &["SHOW", "SUBSCRIPTIONS"],
    &["SHOW", "TAG", "KEY", "EXACT", "CARDINALITY"],
    &["SHOW", "TAG", "KEY", "CARDINALITY"],
    &["SHOW", "TAG", "KEYS"],
    &["SHOW", "TAG", "VALUES"],
    &["SHOW", "TAG", "VALUES", "EXACT", "CARDINALITY"],
    &["SHOW", "TAG", "VALUES", "CARDINALITY"],
    &["SHOW", "USERS"],
    &["CREATE", "CONTINUOUS", "QUERY"],
    &["CREATE", "DATABASE"],
    &["CREATE", "USER"],
    &["CREATE", "RETENTION", "POLICY"],
    &["CREATE", "SUBSCRIPTION"],
    &["DROP", "CONTINUOUS", "QUERY"],
    &["DROP", "DATABASE"],
    &["DROP", "MEASUREMENT"],
    &["DROP", "RETENTION", "POLICY"],
    &["DROP", "SERIES"],
    &["DROP", "SHARD"],
    &["DROP", "SUBSCRIPTION"],
    &["DROP", "USER"],
    &["EXPLAIN"],
    &["EXPLAIN", "ANALYZE"],
    &["GRANT"],
    &["REVOKE"],
    &["ALTER", "RETENTION", "POLICY"],
    &["SET", "PASSWORD", "FOR"],
    &["KILL", "QUERY"],
];

/// The words that may follow `prefix` in `phrases`, each once, in order.
fn first_words(phrases: &[&[&'static str]], prefix: &[&str]) -> Vec<&'static str> {
    let mut words: Vec<&'static str> = Vec::new();
    for phrase in phrases {
        if phrase.len() > prefix.len() && phrase[..prefix.len()] == *prefix && !words.contains(&phrase[prefix.len()]) {
            words.push(phrase[prefix.len()]);
        }
    }
    words
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: Option<Token>,
    /// Set when the statement being parsed is valid InfluxQL the logger does
    /// not run: it is parsed to its end (so errors still show) and answered as
    /// `Statement::Unsupported`.
    unsupported: Option<String>,
    /// Set when InfluxDB would refuse the statement when planning it (its
    /// message); wins over `unsupported`, as InfluxDB plans before it runs.
    invalid: Option<String>,
    /// How deep in parentheses, calls and subqueries the parser is (see [`MAX_DEPTH`]).
    depth: usize,
}

/// Deeper nesting is refused: each level is a recursion, and a stack overflow
/// would end the process, not just the request.
const MAX_DEPTH: usize = 100;

/// InfluxQL's binary operators by precedence (token.go `Precedence`). The
/// bitwise ones parse but the logger does not run them.
fn binary_operator(kind: &TokenKind) -> Option<(Option<BinOp>, u8)> {
    Some(match kind {
        TokenKind::Keyword("OR") => (Some(BinOp::Or), 1),
        TokenKind::Keyword("AND") => (Some(BinOp::And), 2),
        TokenKind::Eq => (Some(BinOp::Eq), 3),
        TokenKind::NotEq => (Some(BinOp::NotEq), 3),
        TokenKind::RegexEq => (Some(BinOp::RegexMatch), 3),
        TokenKind::RegexNotEq => (Some(BinOp::RegexNotMatch), 3),
        TokenKind::Lt => (Some(BinOp::Lt), 3),
        TokenKind::LtEq => (Some(BinOp::LtEq), 3),
        TokenKind::Gt => (Some(BinOp::Gt), 3),
        TokenKind::GtEq => (Some(BinOp::GtEq), 3),
        TokenKind::Plus => (Some(BinOp::Add), 4),
        TokenKind::Minus => (Some(BinOp::Sub), 4),
        TokenKind::Pipe | TokenKind::Caret => (None, 4),
        TokenKind::Star => (Some(BinOp::Mul), 5),
        TokenKind::Slash => (Some(BinOp::Div), 5),
        TokenKind::Percent => (Some(BinOp::Mod), 5),
        TokenKind::Ampersand => (None, 5),
        _ => return None,
    })
}

fn binop_symbol(op: BinOp) -> &'static str {
    match op {
        BinOp::Or => "OR",
        BinOp::And => "AND",
        BinOp::Eq => "=",
        BinOp::NotEq => "!=",
        BinOp::Lt => "<",
        BinOp::LtEq => "<=",
        BinOp::Gt => ">",
        BinOp::GtEq => ">=",
        BinOp::RegexMatch => "=~",
        BinOp::RegexNotMatch => "!~",
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::Mod => "%",
    }
}

/// A condition or logical operator inside a SELECT column, which InfluxDB refuses.
fn boolean_operator(expr: &Expr) -> Option<BinOp> {
    match expr {
        Expr::Binary { op, lhs, rhs } => match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                boolean_operator(lhs).or_else(|| boolean_operator(rhs))
            }
            _ => Some(*op),
        },
        Expr::Call { args, .. } => args.iter().find_map(boolean_operator),
        _ => None,
    }
}

/// Tokens that end an operand: after them `/` divides, after any other token
/// it opens a regex (used only to skip an unsupported statement's tokens).
fn ends_operand(kind: &TokenKind) -> bool {
    matches!(
        kind,
        TokenKind::Ident(_)
            | TokenKind::String(_)
            | TokenKind::Integer(_)
            | TokenKind::Float(_)
            | TokenKind::Duration(_)
            | TokenKind::True
            | TokenKind::False
            | TokenKind::Regex(_)
            | TokenKind::RParen
            | TokenKind::Keyword("FIELD")
            | TokenKind::Keyword("TAG")
    )
}

/// The message of a regex syntax error without the engine's multi-line drawing.
fn regex_error(source: &str, err: &regex::Error) -> String {
    let text = err.to_string();
    let reason = text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or(text.trim());
    format!("bad regex /{source}/: {reason}")
}

impl Parser<'_> {
    fn peek(&mut self) -> Result<Token, ParseError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next_token()?);
        }
        Ok(self.peeked.clone().expect("just peeked"))
    }

    fn next(&mut self) -> Result<Token, ParseError> {
        match self.peeked.take() {
            Some(tok) => Ok(tok),
            None => self.lexer.next_token(),
        }
    }

    fn peek_is(&mut self, kind: &TokenKind) -> Result<bool, ParseError> {
        Ok(self.peek()?.kind == *kind)
    }

    /// Consumes the keyword `word` if it comes next.
    fn eat_keyword(&mut self, word: &str) -> Result<bool, ParseError> {
        if self.peek()?.is_keyword(word) {
            self.next()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn expect_keyword(&mut self, word: &str) -> Result<(), ParseError> {
        let tok = self.next()?;
        if tok.is_keyword(word) {
            Ok(())
        } else {
            Err(ParseError::expected(&tok, &[word]))
        }
    }

    fn expect(&mut self, kind: TokenKind, name: &str) -> Result<Token, ParseError> {
        let tok = self.next()?;
        if tok.kind == kind {
            Ok(tok)
        } else {
            Err(ParseError::expected(&tok, &[name]))
        }
    }

    /// Marks the statement as one the logger does not run (the first reason wins).
    fn unsupported(&mut self, what: &str) {
        self.unsupported.get_or_insert_with(|| what.to_string());
    }

    /// Marks the statement as one InfluxDB refuses when planning it (the first message wins).
    fn invalid(&mut self, message: &str) {
        self.invalid.get_or_insert_with(|| message.to_string());
    }

    fn ident(&mut self) -> Result<String, ParseError> {
        let tok = self.next()?;
        match tok.kind {
            TokenKind::Ident(name) => Ok(name),
            _ => Err(ParseError::expected(&tok, &["identifier"])),
        }
    }

    /// A `/regex/` if one comes next (the lexer scans `/` as a regex only here).
    fn regex(&mut self) -> Result<Option<Pattern>, ParseError> {
        let tok = self.peek()?;
        if tok.kind == TokenKind::Eof {
            // InfluxDB's parser reads a character here, past the end.
            self.peeked = None;
            self.lexer.rewind(tok.mark);
            self.lexer.read_end();
        }
        if tok.kind != TokenKind::Slash {
            return Ok(None);
        }
        self.peeked = None;
        let tok = self.lexer.regex(tok.mark)?;
        let TokenKind::Regex(source) = &tok.kind else {
            unreachable!("the lexer scans a regex")
        };
        Pattern::new(source)
            .map(Some)
            .map_err(|e| ParseError::at(tok.pos, regex_error(source, &e)))
    }

    fn required_regex(&mut self) -> Result<Pattern, ParseError> {
        match self.regex()? {
            Some(p) => Ok(p),
            None => Err(ParseError::expected(&self.peek()?, &["regex"])),
        }
    }

    /// One statement, from its first word.
    fn statement(&mut self) -> Result<Statement, ParseError> {
        self.unsupported = None;
        self.invalid = None;
        let phrase = self.leading_words()?;
        let statement = match phrase.as_slice() {
            ["SELECT"] => Statement::Select(Box::new(self.select()?)),
            ["SHOW", "DATABASES"] => Statement::ShowDatabases,
            ["SHOW", "MEASUREMENTS"] => Statement::ShowMeasurements(self.show_measurements()?),
            ["SHOW", "FIELD", "KEYS"] => Statement::ShowFieldKeys(self.show_field_keys()?),
            ["SHOW", "TAG", "KEYS"] => Statement::ShowTagKeys(self.show_tag_keys()?),
            ["SHOW", "TAG", "VALUES"] => self.show_tag_values()?,
            ["SHOW", "SERIES"] => Statement::ShowSeries(self.show_series()?),
            ["SHOW", "RETENTION", "POLICIES"] => Statement::ShowRetentionPolicies {
                database: self.on_database()?,
            },
            ["CREATE", "DATABASE"] => {
                let name = self.ident()?;
                // Retention policy options (`WITH DURATION 1d ...`): nothing to create.
                if self.eat_keyword("WITH")? {
                    let option = self.peek()?;
                    const OPTIONS: [&str; 4] = ["DURATION", "NAME", "REPLICATION", "SHARD"];
                    if !OPTIONS.iter().any(|o| option.is_keyword(o)) {
                        return Err(ParseError::expected(&option, &OPTIONS));
                    }
                    self.skip_statement()?;
                }
                Statement::CreateDatabase { name }
            }
            ["EXPLAIN", ..] => {
                // Named first, so it is the reason even if the SELECT has another.
                self.unsupported(&phrase.join(" "));
                self.expect_keyword("SELECT")?;
                self.select()?;
                Statement::Unsupported(phrase.join(" "))
            }
            _ => {
                self.skip_statement()?;
                Statement::Unsupported(phrase.join(" "))
            }
        };
        Ok(match (self.invalid.take(), self.unsupported.take()) {
            (Some(message), _) => Statement::Invalid(message),
            (None, Some(what)) => Statement::Unsupported(what),
            (None, None) => statement,
        })
    }

    /// The words that name the statement (`SHOW TAG VALUES`), the longest of
    /// [`STATEMENTS`] that matches; an unknown word is an error listing what
    /// could come there.
    fn leading_words(&mut self) -> Result<Vec<&'static str>, ParseError> {
        let mut phrase: Vec<&'static str> = Vec::new();
        loop {
            let complete = STATEMENTS.iter().any(|p| **p == *phrase);
            let options = first_words(STATEMENTS, &phrase);
            let tok = self.peek()?;
            let word = options.iter().find(|w| tok.is_keyword(w));
            match word {
                Some(word) => {
                    self.next()?;
                    phrase.push(word);
                }
                None if complete => return Ok(phrase),
                None => return Err(ParseError::expected(&tok, &options)),
            }
        }
    }

    /// Skips the rest of a statement: tokens up to the next `;` outside parentheses.
    fn skip_statement(&mut self) -> Result<(), ParseError> {
        let mut depth = 0usize;
        let mut operand = false;
        loop {
            let tok = self.peek()?;
            match tok.kind {
                TokenKind::Eof => return Ok(()),
                TokenKind::Semicolon if depth == 0 => return Ok(()),
                TokenKind::Slash if !operand => {
                    self.regex()?;
                    operand = true;
                    continue;
                }
                TokenKind::LParen => depth += 1,
                TokenKind::RParen => depth = depth.saturating_sub(1),
                _ => {}
            }
            operand = ends_operand(&tok.kind);
            self.next()?;
        }
    }

    fn select(&mut self) -> Result<Select, ParseError> {
        let fields = self.fields()?;
        if self.eat_keyword("INTO")? {
            self.select_target()?;
            self.unsupported("SELECT INTO");
        }
        self.expect_keyword("FROM")?;
        let from = self.sources(true)?;
        let condition = self.condition()?;
        let group_by = self.group_by()?;
        let fill = self.fill()?;
        let descending = self.order_by()?;
        let limit = self.optional_integer("LIMIT")?;
        let offset = self.optional_integer("OFFSET")?;
        let slimit = self.optional_integer("SLIMIT")?;
        let soffset = self.optional_integer("SOFFSET")?;
        let tz = self.tz()?;
        Ok(Select {
            fields,
            from,
            condition,
            group_by,
            fill,
            descending,
            limit,
            offset,
            slimit,
            soffset,
            tz,
        })
    }

    fn fields(&mut self) -> Result<Vec<SelectField>, ParseError> {
        let mut fields = Vec::new();
        loop {
            let start = self.peek()?.pos;
            let expr = match self.regex()? {
                Some(pattern) => {
                    self.unsupported("regular expressions as SELECT columns");
                    Expr::Regex(pattern)
                }
                None => self.expr()?,
            };
            if let Some(op) = boolean_operator(&expr) {
                return Err(ParseError::at(
                    start,
                    format!(
                        "invalid operator {} in SELECT clause; operator is intended for WHERE clause",
                        binop_symbol(op)
                    ),
                ));
            }
            let alias = if self.eat_keyword("AS")? {
                Some(self.ident()?)
            } else {
                None
            };
            fields.push(SelectField { expr, alias });
            if !self.peek_is(&TokenKind::Comma)? {
                return Ok(fields);
            }
            self.next()?;
        }
    }

    /// `INTO "db"."rp"."m"`, `INTO "rp".:MEASUREMENT`: parsed to be skipped.
    fn select_target(&mut self) -> Result<(), ParseError> {
        let (idents, _) = self.segmented_idents(None)?;
        if idents.len() < 3 && self.peek_is(&TokenKind::Colon)? {
            self.next()?;
            self.expect_keyword("MEASUREMENT")?;
        }
        Ok(())
    }

    /// `a`, `"a"."b"`, `"db"..m`: up to three dot-joined names (a missing one
    /// is empty). True as second value if a `.` ended them before a regex or `:`.
    fn segmented_idents(&mut self, first: Option<Token>) -> Result<(Vec<String>, bool), ParseError> {
        let first = match first {
            Some(tok) => tok,
            None => self.next()?,
        };
        let start = first.pos;
        let TokenKind::Ident(name) = first.kind else {
            return Err(ParseError::expected(&first, &["identifier"]));
        };
        let mut idents = vec![name];
        let mut trailing_dot = false;
        loop {
            let dot = self.peek()?;
            if dot.kind != TokenKind::Dot || dot.spaced {
                break;
            }
            self.next()?;
            match self.peek()?.kind {
                TokenKind::Slash | TokenKind::Colon | TokenKind::DoubleColon => {
                    trailing_dot = true;
                    break;
                }
                TokenKind::Dot => idents.push(String::new()),
                _ => idents.push(self.ident()?),
            }
        }
        if idents.len() > 3 {
            return Err(ParseError::at(
                start,
                format!("too many segments in {}", idents.join(".")),
            ));
        }
        Ok((idents, trailing_dot))
    }

    fn sources(&mut self, subqueries: bool) -> Result<Vec<Source>, ParseError> {
        let mut sources = vec![self.source(subqueries)?];
        while self.peek_is(&TokenKind::Comma)? {
            self.next()?;
            sources.push(self.source(subqueries)?);
        }
        Ok(sources)
    }

    /// A measurement: `/re/`, `m`, `"rp"."m"`, `"db"."rp"."m"`, `db..m`,
    /// `"db"."rp"./re/`, or (in SELECT) a subquery.
    fn source(&mut self, subqueries: bool) -> Result<Source, ParseError> {
        if let Some(pattern) = self.regex()? {
            return Ok(Source::Regex(pattern));
        }
        if subqueries && self.peek_is(&TokenKind::LParen)? {
            self.next()?;
            self.expect_keyword("SELECT")?;
            self.nested(Self::select)?;
            self.expect(TokenKind::RParen, ")")?;
            self.unsupported("subqueries");
            return Ok(Source::Name(String::new()));
        }
        let (mut idents, trailing_dot) = self.segmented_idents(None)?;
        if trailing_dot {
            if let Some(pattern) = self.regex()? {
                return Ok(Source::Regex(pattern));
            }
        }
        Ok(Source::Name(idents.pop().expect("at least one name")))
    }

    fn condition(&mut self) -> Result<Option<Expr>, ParseError> {
        if self.eat_keyword("WHERE")? {
            Ok(Some(self.expr()?))
        } else {
            Ok(None)
        }
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        self.nested(|p| {
            let lhs = p.unary()?;
            p.binary_rest(lhs, 1)
        })
    }

    /// Runs `inner` one nesting level deeper, refusing more than [`MAX_DEPTH`].
    fn nested<T>(&mut self, inner: impl FnOnce(&mut Self) -> Result<T, ParseError>) -> Result<T, ParseError> {
        if self.depth >= MAX_DEPTH {
            let tok = self.peek()?;
            return Err(ParseError::at(
                tok.pos,
                format!("expressions and subqueries nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        self.depth += 1;
        let result = inner(self);
        self.depth -= 1;
        result
    }

    /// Precedence climbing over `lhs op rhs ...`, left-associative, for
    /// operators binding at least as tight as `min`.
    fn binary_rest(&mut self, mut lhs: Expr, min: u8) -> Result<Expr, ParseError> {
        loop {
            let tok = self.peek()?;
            let Some((op, precedence)) = binary_operator(&tok.kind) else {
                return Ok(lhs);
            };
            if precedence < min {
                return Ok(lhs);
            }
            self.next()?;
            let rhs = if matches!(op, Some(BinOp::RegexMatch | BinOp::RegexNotMatch)) {
                let pattern = self.required_regex()?;
                self.binary_rest(Expr::Regex(pattern), precedence + 1)?
            } else {
                let operand = self.unary()?;
                self.binary_rest(operand, precedence + 1)?
            };
            lhs = match op {
                Some(op) => Expr::binary(op, lhs, rhs),
                None => {
                    self.unsupported(&format!("the bitwise operator {}", tok.text));
                    lhs
                }
            };
        }
    }

    /// An operand: a literal, name, call, `*`, parenthesised expression, or a
    /// signed number/duration/operand.
    fn unary(&mut self) -> Result<Expr, ParseError> {
        let tok = self.next()?;
        Ok(match tok.kind {
            TokenKind::LParen => {
                let expr = self.expr()?;
                self.expect(TokenKind::RParen, ")")?;
                expr
            }
            TokenKind::Ident(_) => {
                let after = self.peek()?;
                match tok.kind {
                    TokenKind::Ident(name) if after.kind == TokenKind::LParen && !after.spaced => {
                        self.next()?;
                        self.call(name.to_lowercase())?
                    }
                    _ => self.var_ref(tok)?,
                }
            }
            TokenKind::Keyword("DISTINCT") => {
                let after = self.peek()?;
                if after.kind == TokenKind::LParen && !after.spaced {
                    self.next()?;
                    self.call("distinct".into())?
                } else if after.spaced {
                    Expr::Call {
                        name: "distinct".into(),
                        args: vec![Expr::var(&self.ident()?)],
                    }
                } else {
                    return Err(ParseError::expected(&after, &["(", "identifier"]));
                }
            }
            TokenKind::String(s) => Expr::String(s),
            TokenKind::Float(f) => Expr::Float(f),
            TokenKind::Integer(n) => match i64::try_from(n) {
                Ok(n) => Expr::Integer(n),
                Err(_) => return Err(ParseError::at(tok.pos, format!("integer {n} is out of range"))),
            },
            TokenKind::Duration(ns) => Expr::Duration(ns),
            TokenKind::True => Expr::Bool(true),
            TokenKind::False => Expr::Bool(false),
            TokenKind::Star => {
                let after = self.peek()?;
                if after.kind == TokenKind::DoubleColon && !after.spaced {
                    self.next()?;
                    let kind = self.next()?;
                    if kind.is_keyword("FIELD") || kind.is_keyword("TAG") {
                        self.unsupported(&format!("*::{}", kind.text.to_lowercase()));
                    } else {
                        return Err(ParseError::expected(&kind, &["field", "tag"]));
                    }
                }
                Expr::Wildcard
            }
            TokenKind::Plus | TokenKind::Minus => {
                let negative = tok.kind == TokenKind::Minus;
                let operand = self.peek()?;
                match operand.kind {
                    TokenKind::Integer(n) if negative => {
                        self.next()?;
                        return match i64::try_from(-(n as i128)) {
                            Ok(n) => Ok(Expr::Integer(n)),
                            Err(_) => Err(ParseError::at(tok.pos, format!("constant -{n} underflows int64"))),
                        };
                    }
                    TokenKind::Integer(_)
                    | TokenKind::Float(_)
                    | TokenKind::Duration(_)
                    | TokenKind::LParen
                    | TokenKind::Ident(_) => {}
                    _ => {
                        return Err(ParseError::expected(
                            &operand,
                            &["identifier", "number", "duration", "("],
                        ))
                    }
                }
                let expr = self.unary()?;
                if !negative {
                    return Ok(expr);
                }
                match expr {
                    Expr::Float(f) => Expr::Float(-f),
                    Expr::Duration(d) => Expr::Duration(-d),
                    other => Expr::binary(BinOp::Mul, Expr::Integer(-1), other),
                }
            }
            _ => return Err(ParseError::expected(&tok, &["identifier", "string", "number", "bool"])),
        })
    }

    /// `"f"`, `m."f"`, `"host"::tag`: dot-joined names and an optional `::type`.
    fn var_ref(&mut self, first: Token) -> Result<Expr, ParseError> {
        let (segments, _) = self.segmented_idents(Some(first))?;
        let mut cast = None;
        let after = self.peek()?;
        if after.kind == TokenKind::DoubleColon && !after.spaced {
            self.next()?;
            let ty = self.next()?;
            cast = Some(match &ty.kind {
                TokenKind::Keyword("FIELD") => Cast::Field,
                TokenKind::Keyword("TAG") => Cast::Tag,
                TokenKind::Ident(name) => match name.to_lowercase().as_str() {
                    "float" => Cast::Float,
                    "integer" => Cast::Integer,
                    "string" => Cast::String,
                    "boolean" => Cast::Boolean,
                    "unsigned" => {
                        self.unsupported("::unsigned");
                        Cast::Integer
                    }
                    _ => return Err(cast_error(&ty)),
                },
                _ => return Err(cast_error(&ty)),
            });
        }
        Ok(Expr::Var {
            name: segments.join("."),
            cast,
        })
    }

    /// The arguments of a call whose `name(` is consumed.
    fn call(&mut self, name: String) -> Result<Expr, ParseError> {
        let mut args = Vec::new();
        if self.peek_is(&TokenKind::RParen)? {
            self.next()?;
            return Ok(Expr::Call { name, args });
        }
        loop {
            args.push(match self.regex()? {
                Some(pattern) => Expr::Regex(pattern),
                None => self.expr()?,
            });
            if !self.peek_is(&TokenKind::Comma)? {
                break;
            }
            self.next()?;
        }
        self.expect(TokenKind::RParen, ")")?;
        Ok(Expr::Call { name, args })
    }

    /// `GROUP BY time(...), "tag", *, /re/`. Dimensions InfluxDB refuses
    /// when planning make the statement [`Statement::Invalid`] with its message.
    fn group_by(&mut self) -> Result<GroupBy, ParseError> {
        let mut group = GroupBy::default();
        if !self.eat_keyword("GROUP")? {
            return Ok(group);
        }
        self.expect_keyword("BY")?;
        let mut time_dimensions = 0;
        loop {
            let tags = match self.regex()? {
                Some(pattern) => TagGroup::Regex(pattern),
                None => match self.expr()? {
                    Expr::Call { name, args } if name == "time" => {
                        time_dimensions += 1;
                        if let Some(time) = self.time_group(&args, time_dimensions) {
                            group.time = Some(time);
                        }
                        TagGroup::None
                    }
                    Expr::Call { .. } => {
                        self.invalid("only time() calls allowed in dimensions");
                        TagGroup::None
                    }
                    Expr::Var { name, .. } if name.eq_ignore_ascii_case("time") => {
                        self.invalid("time() is a function and expects at least one argument");
                        TagGroup::None
                    }
                    Expr::Var { name, .. } => TagGroup::Keys(vec![name]),
                    Expr::Wildcard => TagGroup::All,
                    _ => {
                        self.invalid("only time and tag dimensions allowed");
                        TagGroup::None
                    }
                },
            };
            group.tags = self.merge_tags(std::mem::take(&mut group.tags), tags);
            if !self.peek_is(&TokenKind::Comma)? {
                return Ok(group);
            }
            self.next()?;
        }
    }

    /// `time(10s)` or `time(1h, -15m)`, checked as InfluxDB plans it. An
    /// interval of 0 or less means no time grouping there, so `None`.
    fn time_group(&mut self, args: &[Expr], nth: usize) -> Option<TimeGroup> {
        if args.is_empty() || args.len() > 2 {
            self.invalid("time dimension expected 1 or 2 arguments");
            return None;
        }
        let Expr::Duration(interval_ns) = args[0] else {
            self.invalid("time dimension must have duration argument");
            return None;
        };
        if nth > 1 {
            self.invalid("multiple time dimensions not allowed");
            return None;
        }
        let offset_ns = match args.get(1) {
            None => 0,
            Some(Expr::Duration(d)) => *d,
            Some(Expr::Call { name, args }) if name == "now" => {
                if args.is_empty() {
                    self.unsupported("time(interval, now())");
                } else {
                    self.invalid("time dimension offset now() function requires no arguments");
                }
                0
            }
            Some(Expr::Call { .. }) => {
                self.invalid("time dimension offset function must be now()");
                0
            }
            Some(Expr::String(s)) => {
                self.invalid(&format!("invalid time dimension offset: '{s}'"));
                0
            }
            Some(_) => {
                self.invalid("time dimension offset must be duration or now()");
                0
            }
        };
        (interval_ns > 0).then_some(TimeGroup { interval_ns, offset_ns })
    }

    /// Tag dimensions so far plus one more.
    fn merge_tags(&mut self, so_far: TagGroup, next: TagGroup) -> TagGroup {
        match (so_far, next) {
            (group, TagGroup::None) | (TagGroup::None, group) => group,
            (TagGroup::All, _) | (_, TagGroup::All) => TagGroup::All,
            (TagGroup::Keys(mut keys), TagGroup::Keys(more)) => {
                for key in more {
                    if !keys.contains(&key) {
                        keys.push(key);
                    }
                }
                TagGroup::Keys(keys)
            }
            (group, _) => {
                self.unsupported("GROUP BY a regex together with other tags");
                group
            }
        }
    }

    /// `fill(null|none|previous|linear|<number>)`, default null.
    fn fill(&mut self) -> Result<Fill, ParseError> {
        let tok = self.peek()?;
        if !matches!(&tok.kind, TokenKind::Ident(name) if name.eq_ignore_ascii_case("fill")) {
            return Ok(Fill::Null);
        }
        let Expr::Call { args, .. } = self.expr()? else {
            return Err(ParseError::at(tok.pos, "fill must be a function call"));
        };
        let [arg] = args.as_slice() else {
            return Err(ParseError::at(
                tok.pos,
                "fill requires an argument, e.g.: 0, null, none, previous, linear",
            ));
        };
        // The option is case-sensitive, as in InfluxDB (`fill(NULL)` is an error).
        Ok(match arg {
            Expr::Var { name, cast: None } => match name.as_str() {
                "null" => Fill::Null,
                "none" => Fill::None,
                "previous" => Fill::Previous,
                "linear" => Fill::Linear,
                _ => return Err(fill_error(tok.pos)),
            },
            Expr::Integer(n) => Fill::Number(*n as f64),
            Expr::Float(f) => Fill::Number(*f),
            _ => return Err(fill_error(tok.pos)),
        })
    }

    /// `ORDER BY time [ASC|DESC]` (or just `ORDER BY DESC`): true if descending.
    fn order_by(&mut self) -> Result<bool, ParseError> {
        if !self.eat_keyword("ORDER")? {
            return Ok(false);
        }
        self.expect_keyword("BY")?;
        let tok = self.next()?;
        let descending = match &tok.kind {
            TokenKind::Keyword("ASC") => false,
            TokenKind::Keyword("DESC") => true,
            TokenKind::Ident(name) if name == "time" => {
                if self.eat_keyword("DESC")? {
                    true
                } else {
                    self.eat_keyword("ASC")?;
                    false
                }
            }
            TokenKind::Ident(_) => return Err(ParseError::at(tok.pos, "only ORDER BY time supported at this time")),
            _ => return Err(ParseError::expected(&tok, &["identifier", "ASC", "DESC"])),
        };
        let after = self.peek()?;
        if after.kind == TokenKind::Comma {
            return Err(ParseError::at(after.pos, "only ORDER BY time supported at this time"));
        }
        Ok(descending)
    }

    /// `LIMIT <n>` and the like, if `word` comes next.
    fn optional_integer(&mut self, word: &str) -> Result<Option<u64>, ParseError> {
        if !self.eat_keyword(word)? {
            return Ok(None);
        }
        let tok = self.next()?;
        match tok.kind {
            TokenKind::Integer(n) => Ok(Some(n)),
            _ => Err(ParseError::expected(&tok, &["integer"])),
        }
    }

    /// `tz('Europe/Berlin')`: the zone must be a known IANA name.
    fn tz(&mut self) -> Result<Option<String>, ParseError> {
        let tok = self.peek()?;
        if !matches!(&tok.kind, TokenKind::Ident(name) if name.eq_ignore_ascii_case("tz")) {
            return Ok(None);
        }
        let Expr::Call { args, .. } = self.expr()? else {
            return Err(ParseError::at(tok.pos, "tz must be a function call"));
        };
        let [arg] = args.as_slice() else {
            return Err(ParseError::at(tok.pos, "tz requires exactly one argument"));
        };
        let Expr::String(zone) = arg else {
            return Err(ParseError::at(tok.pos, "expected string argument in tz()"));
        };
        if zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(ParseError::at(tok.pos, format!("unable to find time zone {zone}")));
        }
        Ok(Some(zone.clone()))
    }

    fn on_database(&mut self) -> Result<Option<String>, ParseError> {
        if self.eat_keyword("ON")? {
            Ok(Some(self.ident()?))
        } else {
            Ok(None)
        }
    }

    fn optional_from(&mut self) -> Result<Vec<Source>, ParseError> {
        if self.eat_keyword("FROM")? {
            self.sources(false)
        } else {
            Ok(Vec::new())
        }
    }

    /// SHOW statements take `ORDER BY time [ASC]`, which is their order anyway.
    fn show_order_by(&mut self) -> Result<(), ParseError> {
        if self.order_by()? {
            self.unsupported("ORDER BY DESC in SHOW statements");
        }
        Ok(())
    }

    /// `SHOW MEASUREMENTS [ON db[.rp]] [WITH MEASUREMENT =~ /re/ | = m] [WHERE] [LIMIT] [OFFSET]`
    fn show_measurements(&mut self) -> Result<ShowMeta, ParseError> {
        let mut meta = ShowMeta::default();
        if self.eat_keyword("ON")? {
            meta.database = self.name_or_star()?;
            if self.peek_is(&TokenKind::Dot)? {
                self.next()?;
                self.name_or_star()?;
            }
        }
        if self.eat_keyword("WITH")? {
            self.expect_keyword("MEASUREMENT")?;
            let op = self.next()?;
            if !matches!(op.kind, TokenKind::Eq | TokenKind::RegexEq) {
                return Err(ParseError::expected(&op, &["=", "=~"]));
            }
            meta.with_measurement = Some(match self.source(false)? {
                Source::Name(name) => KeyMatch::Equals(name),
                Source::Regex(pattern) => KeyMatch::Regex(pattern),
            });
        }
        meta.condition = self.condition()?;
        self.show_order_by()?;
        meta.limit = self.optional_integer("LIMIT")?;
        meta.offset = self.optional_integer("OFFSET")?;
        Ok(meta)
    }

    /// `ON db` / `ON *` of SHOW MEASUREMENTS (`*` = every database = ours).
    fn name_or_star(&mut self) -> Result<Option<String>, ParseError> {
        let tok = self.next()?;
        match tok.kind {
            TokenKind::Ident(name) => Ok(Some(name)),
            TokenKind::Star => Ok(None),
            _ => Err(ParseError::expected(&tok, &["identifier or *"])),
        }
    }

    /// `SHOW FIELD KEYS [ON db] [FROM ...] [LIMIT] [OFFSET]`
    fn show_field_keys(&mut self) -> Result<ShowMeta, ParseError> {
        let mut meta = ShowMeta {
            database: self.on_database()?,
            from: self.optional_from()?,
            ..ShowMeta::default()
        };
        self.show_order_by()?;
        meta.limit = self.optional_integer("LIMIT")?;
        meta.offset = self.optional_integer("OFFSET")?;
        Ok(meta)
    }

    /// `SHOW TAG KEYS [ON db] [FROM ...] [WHERE] [LIMIT] [OFFSET]`
    fn show_tag_keys(&mut self) -> Result<ShowMeta, ParseError> {
        let mut meta = ShowMeta {
            database: self.on_database()?,
            from: self.optional_from()?,
            ..ShowMeta::default()
        };
        if self.peek()?.is_keyword("WITH") {
            self.tag_key_match()?;
            self.unsupported("SHOW TAG KEYS WITH KEY");
        }
        meta.condition = self.condition()?;
        self.show_order_by()?;
        meta.limit = self.optional_integer("LIMIT")?;
        meta.offset = self.optional_integer("OFFSET")?;
        if self.optional_integer("SLIMIT")?.is_some() {
            self.unsupported("SLIMIT in SHOW TAG KEYS");
        }
        if self.optional_integer("SOFFSET")?.is_some() {
            self.unsupported("SOFFSET in SHOW TAG KEYS");
        }
        Ok(meta)
    }

    /// `SHOW TAG VALUES [ON db] [FROM ...] WITH KEY ... [WHERE] [LIMIT] [OFFSET]`
    fn show_tag_values(&mut self) -> Result<Statement, ParseError> {
        let mut meta = ShowMeta {
            database: self.on_database()?,
            from: self.optional_from()?,
            ..ShowMeta::default()
        };
        let keys = self.tag_key_match()?;
        meta.condition = self.condition()?;
        self.show_order_by()?;
        meta.limit = self.optional_integer("LIMIT")?;
        meta.offset = self.optional_integer("OFFSET")?;
        Ok(Statement::ShowTagValues { meta, keys })
    }

    /// `WITH KEY = "k"`, `!= "k"`, `=~ /re/`, `!~ /re/`, `IN ("a", "b")`.
    fn tag_key_match(&mut self) -> Result<KeyMatch, ParseError> {
        self.expect_keyword("WITH")?;
        self.expect_keyword("KEY")?;
        let op = self.next()?;
        Ok(match op.kind {
            TokenKind::Keyword("IN") => {
                self.expect(TokenKind::LParen, "(")?;
                let mut keys = vec![self.ident()?];
                while self.peek_is(&TokenKind::Comma)? {
                    self.next()?;
                    keys.push(self.ident()?);
                }
                self.expect(TokenKind::RParen, ")")?;
                KeyMatch::In(keys)
            }
            TokenKind::Eq => KeyMatch::Equals(self.ident()?),
            TokenKind::NotEq => KeyMatch::NotEquals(self.ident()?),
            TokenKind::RegexEq => KeyMatch::Regex(self.required_regex()?),
            TokenKind::RegexNotEq => KeyMatch::NotRegex(self.required_regex()?),
            _ => return Err(ParseError::expected(&op, &["IN", "=", "!=", "=~", "!~"])),
        })
    }

    /// `SHOW SERIES [ON db] [FROM ...] [WHERE] [LIMIT] [OFFSET]`
    fn show_series(&mut self) -> Result<ShowMeta, ParseError> {
        let mut meta = ShowMeta {
            database: self.on_database()?,
            from: self.optional_from()?,
            ..ShowMeta::default()
        };
        meta.condition = self.condition()?;
        self.show_order_by()?;
        meta.limit = self.optional_integer("LIMIT")?;
        meta.offset = self.optional_integer("OFFSET")?;
        Ok(meta)
    }
}

fn cast_error(found: &Token) -> ParseError {
    ParseError::expected(
        found,
        &["float", "integer", "unsigned", "string", "boolean", "field", "tag"],
    )
}

fn fill_error(pos: Pos) -> ParseError {
    ParseError::at(pos, "expected number argument in fill()")
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
