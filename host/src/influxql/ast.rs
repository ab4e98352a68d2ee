//! The InfluxQL subset the logger answers, as the parser hands it to the
//! executor. Names are unquoted and unescaped; keywords and function names
//! are lower case; durations and times are nanoseconds.

use std::fmt;

/// One `;`-separated statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    Select(Box<Select>),
    ShowDatabases,
    ShowMeasurements(ShowMeta),
    ShowFieldKeys(ShowMeta),
    ShowTagKeys(ShowMeta),
    ShowTagValues {
        meta: ShowMeta,
        keys: KeyMatch,
    },
    ShowSeries(ShowMeta),
    ShowRetentionPolicies {
        database: Option<String>,
    },
    /// Answered with success and no effect: clients probe with it.
    CreateDatabase {
        name: String,
    },
    /// Valid InfluxQL the logger does not run (`SELECT INTO`, `DROP`, a
    /// subquery ...): answered as that statement's error, `not supported: <what>`.
    Unsupported(String),
    /// Parses, but InfluxDB refuses it when it plans the statement (`GROUP BY
    /// time(10)`, `GROUP BY time(1m), time(1h)`): answered as that statement's
    /// error with this message, worded as InfluxDB words it; the other
    /// statements still run.
    Invalid(String),
}

/// The clauses every SHOW statement may have (each uses the ones InfluxQL
/// allows it; the parser refuses the others).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShowMeta {
    /// `ON "db"`: accepted and ignored (one database).
    pub database: Option<String>,
    /// `FROM ...`; empty = every measurement.
    pub from: Vec<Source>,
    /// `WITH MEASUREMENT =~ /re/` (SHOW MEASUREMENTS only).
    pub with_measurement: Option<KeyMatch>,
    /// `WHERE ...`: tag conditions (time conditions are accepted and ignored, as InfluxDB 1.x does).
    pub condition: Option<Expr>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// `WITH KEY = "k"`, `WITH KEY IN ("a", "b")`, `WITH KEY =~ /re/`, and
/// `WITH MEASUREMENT = / =~`.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyMatch {
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    Regex(Pattern),
    NotRegex(Pattern),
}

/// A measurement to read: a name (`"db"."rp"."m"`, `"rp"."m"` or `"m"`; the
/// database and retention policy are accepted and ignored) or `/regex/`.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Name(String),
    Regex(Pattern),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    pub fields: Vec<SelectField>,
    pub from: Vec<Source>,
    pub condition: Option<Expr>,
    pub group_by: GroupBy,
    pub fill: Fill,
    /// `ORDER BY time DESC`; `ORDER BY time [ASC]` is the default.
    pub descending: bool,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    pub slimit: Option<u64>,
    pub soffset: Option<u64>,
    /// `tz('Europe/Berlin')`: an IANA zone name, checked by the parser.
    pub tz: Option<String>,
}

/// One column of a SELECT: `mean("v") AS "avg"`.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectField {
    pub expr: Expr,
    pub alias: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupBy {
    /// `time(10s)` or `time(1h, 15m)`.
    pub time: Option<TimeGroup>,
    pub tags: TagGroup,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeGroup {
    pub interval_ns: i64,
    /// The second argument of `time(...)`, may be negative.
    pub offset_ns: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub enum TagGroup {
    #[default]
    None,
    /// `GROUP BY *`
    All,
    /// `GROUP BY "host", "item"` in the order given.
    Keys(Vec<String>),
    /// `GROUP BY /re/`: every tag key the pattern matches.
    Regex(Pattern),
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum Fill {
    #[default]
    Null,
    None,
    Previous,
    Linear,
    Number(f64),
}

/// An expression: a SELECT column, a function argument, or a WHERE condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `*` (a SELECT column or a function argument).
    Wildcard,
    /// A field, tag or `time`: `"value"`, `host`, `value::field`, `host::tag`.
    Var {
        name: String,
        cast: Option<Cast>,
    },
    /// `mean("value")`, `percentile("v", 95)`, `now()`: the name in lower case.
    Call {
        name: String,
        args: Vec<Expr>,
    },
    Integer(i64),
    Float(f64),
    /// A single-quoted string: a tag value, or a time as RFC 3339 in a time condition.
    String(String),
    Bool(bool),
    /// A duration literal (`10s`, `1700000000000ms`): nanoseconds.
    Duration(i64),
    Regex(Pattern),
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
}

impl Expr {
    pub fn binary(op: BinOp, lhs: Expr, rhs: Expr) -> Expr {
        Expr::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        }
    }

    pub fn var(name: &str) -> Expr {
        Expr::Var {
            name: name.to_string(),
            cast: None,
        }
    }
}

/// `::field`, `::tag`, `::float`, `::integer` ... after a name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cast {
    Field,
    Tag,
    Float,
    Integer,
    String,
    Boolean,
}

/// Binary operators, loosest first as InfluxQL ranks them:
/// OR < AND < comparisons (`= != <> < <= > >= =~ !~`) < `+ -` < `* / %`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    RegexMatch,
    RegexNotMatch,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// A regular expression as written between slashes (`\/` unescaped), compiled.
#[derive(Clone)]
pub struct Pattern {
    pub source: String,
    pub regex: regex::Regex,
}

impl Pattern {
    pub fn new(source: &str) -> Result<Pattern, regex::Error> {
        Ok(Pattern {
            source: source.to_string(),
            regex: regex::Regex::new(source)?,
        })
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}/", self.source)
    }
}
