//! InfluxQL's tokens, scanned on demand as InfluxDB 1.x's scanner does.
//!
//! `/` is division or the start of a regex depending on where the parser is,
//! so the parser asks for a regex explicitly ([`Lexer::regex`]) where one may
//! stand; everywhere else the lexer returns [`TokenKind::Slash`].

use super::parser::ParseError;

/// A position in the query, 1-based; `char` counts characters (not bytes),
/// as InfluxDB's error messages do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub char: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    /// A bare name that is no keyword, or a `"double-quoted"` name (unescaped).
    Ident(String),
    /// A reserved word, upper case (bare words only: `"select"` is an identifier).
    Keyword(&'static str),
    /// A `'single-quoted'` string, unescaped.
    String(String),
    /// Digits without a fraction; the sign is the parser's business.
    Integer(u64),
    Float(f64),
    /// `10s`, `1h30m`, `1700000000000ms`: nanoseconds.
    Duration(i64),
    True,
    False,
    /// `/.../` with `\/` unescaped; only from [`Lexer::regex`].
    Regex(String),
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Ampersand,
    Pipe,
    Caret,
    Eq,
    /// `!=` or `<>`
    NotEq,
    RegexEq,
    RegexNotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    LParen,
    RParen,
    Comma,
    Colon,
    DoubleColon,
    Semicolon,
    Dot,
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub pos: Pos,
    /// Whitespace or a comment comes before it: `mean(` is a call, `mean (` is not.
    pub spaced: bool,
    /// Where the token starts, to scan it again as a regex.
    pub mark: Mark,
    /// The token as written (for error messages).
    pub text: String,
}

impl Token {
    pub fn is_keyword(&self, word: &str) -> bool {
        matches!(self.kind, TokenKind::Keyword(k) if k == word)
    }

    /// How InfluxDB names a token in `found X, expected Y`: literals by their
    /// value, everything else as written (keywords upper case).
    pub fn describe(&self) -> String {
        match &self.kind {
            TokenKind::Ident(s) | TokenKind::String(s) | TokenKind::Regex(s) => s.clone(),
            TokenKind::Keyword(k) => k.to_string(),
            TokenKind::True => "TRUE".into(),
            TokenKind::False => "FALSE".into(),
            TokenKind::NotEq => "!=".into(),
            TokenKind::Eof => "EOF".into(),
            _ => self.text.clone(),
        }
    }
}

/// A place in the input the lexer can go back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    offset: usize,
    pos: Pos,
}

/// InfluxQL's reserved words (InfluxDB 1.x token.go): bare, they are keywords
/// in any case; as names they must be double-quoted.
const KEYWORDS: &[&str] = &[
    "ALL",
    "ALTER",
    "ANALYZE",
    "AND",
    "ANY",
    "AS",
    "ASC",
    "BEGIN",
    "BY",
    "CARDINALITY",
    "CONTINUOUS",
    "CREATE",
    "DATABASE",
    "DATABASES",
    "DEFAULT",
    "DELETE",
    "DESC",
    "DESTINATIONS",
    "DIAGNOSTICS",
    "DISTINCT",
    "DROP",
    "DURATION",
    "END",
    "EVERY",
    "EXACT",
    "EXPLAIN",
    "FIELD",
    "FOR",
    "FROM",
    "FUTURE",
    "GRANT",
    "GRANTS",
    "GROUP",
    "GROUPS",
    "IN",
    "INF",
    "INSERT",
    "INTO",
    "KEY",
    "KEYS",
    "KILL",
    "LIMIT",
    "MEASUREMENT",
    "MEASUREMENTS",
    "NAME",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "PASSWORD",
    "PAST",
    "POLICIES",
    "POLICY",
    "PRIVILEGES",
    "QUERIES",
    "QUERY",
    "READ",
    "REPLICATION",
    "RESAMPLE",
    "RETENTION",
    "REVOKE",
    "SELECT",
    "SERIES",
    "SET",
    "SHARD",
    "SHARDS",
    "SHOW",
    "SLIMIT",
    "SOFFSET",
    "STATS",
    "SUBSCRIPTION",
    "SUBSCRIPTIONS",
    "TAG",
    "TO",
    "USER",
    "USERS",
    "VALUES",
    "VERBOSE",
    "WHERE",
    "WITH",
    "WRITE",
];

/// The keyword `word` names, if any (`select` → `SELECT`).
pub fn keyword(word: &str) -> Option<&'static str> {
    let upper = word.to_ascii_uppercase();
    KEYWORDS.binary_search(&upper.as_str()).ok().map(|i| KEYWORDS[i])
}

pub struct Lexer<'a> {
    src: &'a str,
    offset: usize,
    pos: Pos,
    /// A scan read past the last character (a word, whitespace or a `--`
    /// comment at the very end): InfluxDB then reports the end one character
    /// further, and so do we, so `found EOF` errors read the same.
    end_read: bool,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The micro sign and the Greek mu both spell microseconds.
fn is_unit_char(c: char) -> bool {
    c.is_ascii_alphabetic() || c == 'µ' || c == 'μ'
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Lexer<'a> {
        Lexer {
            src,
            offset: 0,
            pos: Pos { line: 1, char: 1 },
            end_read: false,
        }
    }

    pub fn mark(&self) -> Mark {
        Mark {
            offset: self.offset,
            pos: self.pos,
        }
    }

    pub fn rewind(&mut self, mark: Mark) {
        self.offset = mark.offset;
        self.pos = mark.pos;
    }

    /// Notes that the parser looked past the end (as InfluxDB's parser does
    /// where a regex may stand); see `end_read`.
    pub fn read_end(&mut self) {
        self.end_read = true;
    }

    /// True if the previous scan stopped at the end of the input.
    fn at_end(&mut self) -> bool {
        let end = self.offset == self.src.len();
        self.end_read |= end;
        end
    }

    fn peek(&self) -> Option<char> {
        self.src[self.offset..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        self.src[self.offset..].chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.offset += c.len_utf8();
        match c {
            '\n' => {
                self.pos.line += 1;
                self.pos.char = 1;
            }
            // `\r\n` is one line break; a lone `\r` is one too.
            '\r' if self.peek() == Some('\n') => {}
            '\r' => {
                self.pos.line += 1;
                self.pos.char = 1;
            }
            _ => self.pos.char += 1,
        }
        Some(c)
    }

    fn error(pos: Pos, message: impl Into<String>) -> ParseError {
        ParseError {
            message: message.into(),
            line: pos.line,
            char: pos.char,
        }
    }

    /// Skips whitespace and comments; true if there were any.
    fn skip_space(&mut self) -> Result<bool, ParseError> {
        let mut skipped = false;
        loop {
            match (self.peek(), self.peek2()) {
                (Some(c), _) if is_space(c) => {
                    self.bump();
                }
                (Some('-'), Some('-')) => {
                    while let Some(c) = self.bump() {
                        if c == '\n' {
                            break;
                        }
                    }
                    self.at_end();
                }
                (Some('/'), Some('*')) => {
                    let start = self.pos;
                    self.bump();
                    self.bump();
                    loop {
                        match self.bump() {
                            Some('*') if self.peek() == Some('/') => {
                                self.bump();
                                break;
                            }
                            Some(_) => {}
                            None => return Err(Self::error(start, "unterminated /* comment")),
                        }
                    }
                }
                _ => {
                    if skipped {
                        self.at_end();
                    }
                    return Ok(skipped);
                }
            }
            skipped = true;
        }
    }

    fn token(&self, kind: TokenKind, start: Mark, spaced: bool) -> Token {
        Token {
            kind,
            pos: start.pos,
            spaced,
            mark: start,
            text: self.src[start.offset..self.offset].to_string(),
        }
    }

    /// The next token (a `/` is [`TokenKind::Slash`]).
    pub fn next_token(&mut self) -> Result<Token, ParseError> {
        let spaced = self.skip_space()?;
        let start = self.mark();
        let Some(c) = self.bump() else {
            let mut eof = self.token(TokenKind::Eof, start, spaced);
            eof.pos.char += usize::from(self.end_read);
            return Ok(eof);
        };
        let kind = match c {
            c if is_ident_start(c) => {
                while self.peek().is_some_and(is_ident_char) {
                    self.bump();
                }
                self.at_end();
                let word = &self.src[start.offset..self.offset];
                if word.eq_ignore_ascii_case("true") {
                    TokenKind::True
                } else if word.eq_ignore_ascii_case("false") {
                    TokenKind::False
                } else if let Some(k) = keyword(word) {
                    TokenKind::Keyword(k)
                } else {
                    TokenKind::Ident(word.to_string())
                }
            }
            '0'..='9' => self.number(start)?,
            '.' if self.peek().is_some_and(|c| c.is_ascii_digit()) => self.number(start)?,
            '"' => TokenKind::Ident(self.quoted('"', start.pos)?),
            '\'' => TokenKind::String(self.quoted('\'', start.pos)?),
            '.' => TokenKind::Dot,
            '+' => TokenKind::Plus,
            '-' => TokenKind::Minus,
            '*' => TokenKind::Star,
            '/' => TokenKind::Slash,
            '%' => TokenKind::Percent,
            '&' => TokenKind::Ampersand,
            '|' => TokenKind::Pipe,
            '^' => TokenKind::Caret,
            '(' => TokenKind::LParen,
            ')' => TokenKind::RParen,
            ',' => TokenKind::Comma,
            ';' => TokenKind::Semicolon,
            '=' => self.then('~', TokenKind::RegexEq, TokenKind::Eq),
            '!' => match self.peek() {
                Some('=') => {
                    self.bump();
                    TokenKind::NotEq
                }
                Some('~') => {
                    self.bump();
                    TokenKind::RegexNotEq
                }
                _ => return Err(Self::error(start.pos, "found !, expected != or !~")),
            },
            '<' => match self.peek() {
                Some('=') => {
                    self.bump();
                    TokenKind::LtEq
                }
                Some('>') => {
                    self.bump();
                    TokenKind::NotEq
                }
                _ => TokenKind::Lt,
            },
            '>' => self.then('=', TokenKind::GtEq, TokenKind::Gt),
            ':' => self.then(':', TokenKind::DoubleColon, TokenKind::Colon),
            other => return Err(Self::error(start.pos, format!("illegal character {other:?}"))),
        };
        Ok(self.token(kind, start, spaced))
    }

    fn then(&mut self, next: char, yes: TokenKind, no: TokenKind) -> TokenKind {
        if self.peek() == Some(next) {
            self.bump();
            yes
        } else {
            no
        }
    }

    /// A number or duration whose first character (digit or `.`) is consumed.
    /// As in InfluxDB: no exponent, a fraction makes a float, letters right
    /// after an integer make a duration (`1e3` is an invalid duration).
    fn number(&mut self, start: Mark) -> Result<TokenKind, ParseError> {
        let first = self.src[start.offset..].chars().next();
        let mut fraction = first == Some('.');
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        if !fraction && self.peek() == Some('.') {
            fraction = true;
            self.bump();
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
        }
        let text = &self.src[start.offset..self.offset];
        if fraction {
            // `1.` is 1.0, as InfluxDB reads it.
            let digits = text.trim_end_matches('.');
            return digits
                .parse::<f64>()
                .map(TokenKind::Float)
                .map_err(|_| Self::error(start.pos, format!("unable to parse number {text}")));
        }
        if self.peek().is_some_and(is_unit_char) {
            while self.peek().is_some_and(|c| is_unit_char(c) || c.is_ascii_digit()) {
                self.bump();
            }
            let text = &self.src[start.offset..self.offset];
            return parse_duration(text)
                .map(TokenKind::Duration)
                .map_err(|message| Self::error(start.pos, message));
        }
        text.parse::<u64>()
            .map(TokenKind::Integer)
            .map_err(|_| Self::error(start.pos, format!("unable to parse integer {text}: out of range")))
    }

    /// The rest of a quoted string or identifier whose opening quote is consumed.
    /// Escapes: `\n`, `\\`, `\"`, `\'`; no line breaks.
    fn quoted(&mut self, quote: char, start: Pos) -> Result<String, ParseError> {
        let what = if quote == '"' { "quoted identifier" } else { "string" };
        let mut out = String::new();
        loop {
            let here = self.pos;
            match self.bump() {
                Some(c) if c == quote => return Ok(out),
                None | Some('\n') | Some('\r') => {
                    return Err(Self::error(
                        start,
                        format!("bad {what}: {quote}{out} has no closing {quote} on its line"),
                    ))
                }
                Some('\\') => match self.bump() {
                    Some('n') => out.push('\n'),
                    Some(c @ ('\\' | '"' | '\'')) => out.push(c),
                    Some(c) => return Err(Self::error(here, format!("bad escape: \\{c}"))),
                    None => return Err(Self::error(here, "bad escape: \\ at the end")),
                },
                Some(c) => out.push(c),
            }
        }
    }

    /// Scans a `/regex/` starting at `at` (the place of a [`TokenKind::Slash`]
    /// token the parser peeked where a regex may stand). `\/` is a slash; any
    /// other backslash stays for the regex engine.
    pub fn regex(&mut self, at: Mark) -> Result<Token, ParseError> {
        self.rewind(at);
        let spaced = at.offset > 0 && self.src[..at.offset].ends_with(is_space);
        if self.bump() != Some('/') {
            return Err(Self::error(at.pos, "found no /, expected regex"));
        }
        let mut out = String::new();
        loop {
            match self.bump() {
                Some('/') => break,
                None | Some('\n') | Some('\r') => {
                    return Err(Self::error(
                        at.pos,
                        format!("bad regex: /{out} has no closing / on its line"),
                    ))
                }
                Some('\\') if self.peek() == Some('/') => {
                    self.bump();
                    out.push('/');
                }
                Some(c) => out.push(c),
            }
        }
        Ok(self.token(TokenKind::Regex(out), at, spaced))
    }
}

/// `1h30m`, `10s`, `5ms`, `3µs`... → nanoseconds (InfluxQL's units: ns, u/µ,
/// ms, s, m, h, d, w; several number+unit pairs add up).
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let invalid = || format!("invalid duration {text}: use an integer and a unit ns, u, µ, ms, s, m, h, d or w");
    let overflow = || format!("overflowed duration {text}: choose a smaller duration");
    let mut rest = text;
    let mut total: i64 = 0;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 || digits == rest.len() {
            return Err(invalid());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| overflow())?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ns") {
            (1, 2)
        } else if rest.starts_with("ms") {
            (1_000_000, 2)
        } else if let Some(c) = rest.chars().next() {
            let unit = match c {
                'u' | 'µ' | 'μ' => 1_000,
                's' => 1_000_000_000,
                'm' => 60 * 1_000_000_000,
                'h' => 3_600 * 1_000_000_000,
                'd' => 86_400 * 1_000_000_000,
                'w' => 7 * 86_400 * 1_000_000_000,
                _ => return Err(invalid()),
            };
            (unit, c.len_utf8())
        } else {
            return Err(invalid());
        };
        rest = &rest[len..];
        total = n
            .checked_mul(unit)
            .and_then(|d| total.checked_add(d))
            .ok_or_else(overflow)?;
    }
    Ok(total)
}
