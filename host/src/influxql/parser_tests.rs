//! The grammar subset, quoting and escaping, precedence, and errors; the
//! Grafana forms are read-side.md §1's, with real numbers for its macros.

use super::super::lexer::{keyword, parse_duration};
use super::*;

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;

fn all(q: &str) -> Vec<Statement> {
    parse(q).unwrap_or_else(|e| panic!("{q:?} should parse: {e}"))
}

fn one(q: &str) -> Statement {
    let mut statements = all(q);
    assert_eq!(statements.len(), 1, "{q:?}: {statements:?}");
    statements.remove(0)
}

fn select(q: &str) -> Select {
    match one(q) {
        Statement::Select(s) => *s,
        other => panic!("{q:?} is no SELECT: {other:?}"),
    }
}

fn meta(q: &str) -> ShowMeta {
    match one(q) {
        Statement::ShowMeasurements(m)
        | Statement::ShowFieldKeys(m)
        | Statement::ShowTagKeys(m)
        | Statement::ShowSeries(m)
        | Statement::ShowTagValues { meta: m, .. } => m,
        other => panic!("{q:?} is no SHOW with clauses: {other:?}"),
    }
}

fn unsupported(q: &str) -> String {
    match one(q) {
        Statement::Unsupported(what) => what,
        other => panic!("{q:?} should be unsupported: {other:?}"),
    }
}

fn error(q: &str) -> ParseError {
    match parse(q) {
        Err(e) => e,
        Ok(s) => panic!("{q:?} should not parse: {s:?}"),
    }
}

/// The error of `q`, checked to stand at the first `at` in `q` (line 1) and to say `message`.
fn error_at(q: &str, at: &str, message: &str) -> ParseError {
    let offset = q.find(at).unwrap_or_else(|| panic!("{at:?} not in {q:?}"));
    error_at_char(q, q[..offset].chars().count() + 1, message)
}

/// The error of `q`, checked to stand at line 1, `char`, and to say `message`.
/// At the end of the input InfluxDB reports the character after the last one,
/// or the one after that if its scanner read past the end (the last token was
/// a word or whitespace): so do we, and `found EOF` errors read the same (the
/// positions below are InfluxDB 1.6's).
fn error_at_char(q: &str, char: usize, message: &str) -> ParseError {
    let e = error(q);
    assert_eq!((e.line, e.char), (1, char), "{q:?}: {e}");
    assert_eq!(e.message, message, "{q:?}");
    assert_eq!(
        e.to_string(),
        format!("error parsing query: {message} at line 1, char {char}")
    );
    e
}

fn var(name: &str) -> Expr {
    Expr::var(name)
}

fn cast(name: &str, cast: Cast) -> Expr {
    Expr::Var {
        name: name.into(),
        cast: Some(cast),
    }
}

fn string(s: &str) -> Expr {
    Expr::String(s.into())
}

fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Call {
        name: name.into(),
        args,
    }
}

fn re(source: &str) -> Pattern {
    Pattern::new(source).unwrap()
}

fn bin(lhs: Expr, op: BinOp, rhs: Expr) -> Expr {
    Expr::binary(op, lhs, rhs)
}

fn and(lhs: Expr, rhs: Expr) -> Expr {
    bin(lhs, BinOp::And, rhs)
}

fn or(lhs: Expr, rhs: Expr) -> Expr {
    bin(lhs, BinOp::Or, rhs)
}

fn eq(name: &str, value: &str) -> Expr {
    bin(var(name), BinOp::Eq, string(value))
}

fn field(expr: Expr) -> SelectField {
    SelectField { expr, alias: None }
}

fn name(m: &str) -> Source {
    Source::Name(m.into())
}

/// `<cond> AND time >= 1700000000000ms and time <= 1700003600000ms`: a
/// condition and Grafana's `$timeFilter` (AND is left-associative).
fn with_time_filter(cond: Expr) -> Expr {
    and(
        and(
            cond,
            bin(var("time"), BinOp::GtEq, Expr::Duration(1_700_000_000_000 * MS)),
        ),
        bin(var("time"), BinOp::LtEq, Expr::Duration(1_700_003_600_000 * MS)),
    )
}

/// `time >= 1700000000000ms and time <= 1700003600000ms` alone.
fn time_filter() -> Expr {
    and(
        bin(var("time"), BinOp::GtEq, Expr::Duration(1_700_000_000_000 * MS)),
        bin(var("time"), BinOp::LtEq, Expr::Duration(1_700_003_600_000 * MS)),
    )
}

fn grouped(interval_ns: i64, tags: TagGroup) -> GroupBy {
    GroupBy {
        time: Some(TimeGroup {
            interval_ns,
            offset_ns: 0,
        }),
        tags,
    }
}

fn keys(names: &[&str]) -> TagGroup {
    TagGroup::Keys(names.iter().map(|s| s.to_string()).collect())
}

fn base(fields: Vec<SelectField>, from: &str) -> Select {
    Select {
        fields,
        from: vec![name(from)],
        condition: None,
        group_by: GroupBy::default(),
        fill: Fill::Null,
        descending: false,
        limit: None,
        offset: None,
        slimit: None,
        soffset: None,
        tz: None,
    }
}

// ---------------------------------------------------------------- Grafana

#[test]
fn grafana_health_check() {
    assert_eq!(
        one("SHOW measurements"),
        Statement::ShowMeasurements(ShowMeta::default())
    );
}

#[test]
fn grafana_panel_query() {
    let q = r#"SELECT mean("value") FROM "temperature" WHERE ("host" = 'pi' AND "item" = 'room') AND time >= 1700000000000ms and time <= 1700003600000ms GROUP BY time(10s), "host" fill(null)"#;
    let expected = Select {
        condition: Some(with_time_filter(and(eq("host", "pi"), eq("item", "room")))),
        group_by: grouped(10 * S, keys(&["host"])),
        ..base(vec![field(call("mean", vec![var("value")]))], "temperature")
    };
    assert_eq!(select(q), expected);

    let q = format!("{q} ORDER BY time DESC LIMIT 10 SLIMIT 3 tz('Europe/Berlin')");
    assert_eq!(
        select(&q),
        Select {
            descending: true,
            limit: Some(10),
            slimit: Some(3),
            tz: Some("Europe/Berlin".into()),
            ..expected
        }
    );
}

#[test]
fn grafana_panel_query_without_tags() {
    let q = r#"SELECT mean("value") FROM "temperature" WHERE time >= 1700000000000ms and time <= 1700003600000ms GROUP BY time(1m) fill(none)"#;
    assert_eq!(
        select(q),
        Select {
            condition: Some(time_filter()),
            group_by: grouped(60 * S, TagGroup::None),
            fill: Fill::None,
            ..base(vec![field(call("mean", vec![var("value")]))], "temperature")
        }
    );
}

#[test]
fn grafana_raw_queries() {
    // Raw mode: the user's text with $timeFilter, $__interval and $__interval_ms substituted.
    let q = r#"SELECT "value" FROM "autogen"."temperature" WHERE time >= 1700000000000ms and time <= 1700003600000ms"#;
    assert_eq!(
        select(q),
        Select {
            condition: Some(time_filter()),
            ..base(vec![field(var("value"))], "temperature")
        }
    );
    let q = "SELECT * FROM temperature WHERE time > now() - 1h";
    assert_eq!(
        select(q),
        Select {
            condition: Some(bin(
                var("time"),
                BinOp::Gt,
                bin(call("now", vec![]), BinOp::Sub, Expr::Duration(3600 * S))
            )),
            ..base(vec![field(Expr::Wildcard)], "temperature")
        }
    );
    let q = r#"SELECT max("value") FROM "temperature" WHERE time >= 1700000000000ms and time <= 1700003600000ms GROUP BY time(10000ms) fill(previous)"#;
    let s = select(q);
    assert_eq!(s.group_by, grouped(10 * S, TagGroup::None));
    assert_eq!(s.fill, Fill::Previous);
}

#[test]
fn grafana_aggregates_and_selectors() {
    for name in [
        "mean", "median", "count", "distinct", "integral", "mode", "spread", "stddev", "sum", "min", "max", "first",
        "last",
    ] {
        let q = format!(
            r#"SELECT {name}("value") FROM "m" WHERE time >= 1700000000000ms and time <= 1700003600000ms GROUP BY time(10s) fill(null)"#
        );
        assert_eq!(select(&q).fields, vec![field(call(name, vec![var("value")]))], "{q}");
    }
    let q = r#"SELECT percentile("value", 95) AS "p95", count(distinct("value")), integral("value", 1s) FROM "m""#;
    assert_eq!(
        select(q).fields,
        vec![
            SelectField {
                expr: call("percentile", vec![var("value"), Expr::Integer(95)]),
                alias: Some("p95".into()),
            },
            field(call("count", vec![call("distinct", vec![var("value")])])),
            field(call("integral", vec![var("value"), Expr::Duration(S)])),
        ]
    );
}

#[test]
fn grafana_fill_options() {
    let fill = |f: &str| select(&format!("SELECT mean(v) FROM m GROUP BY time(10s) fill({f})")).fill;
    assert_eq!(fill("null"), Fill::Null);
    assert_eq!(fill("none"), Fill::None);
    assert_eq!(fill("previous"), Fill::Previous);
    assert_eq!(fill("linear"), Fill::Linear);
    assert_eq!(fill("0"), Fill::Number(0.0));
    assert_eq!(fill("-1"), Fill::Number(-1.0));
    assert_eq!(fill("2.5"), Fill::Number(2.5));
    assert_eq!(select("SELECT mean(v) FROM m GROUP BY time(10s)").fill, Fill::Null);
}

#[test]
fn grafana_tag_conditions() {
    let q = r#"SELECT mean("value") FROM "m" WHERE ("host" =~ /^(a|b)$/ OR "host" !~ /^c\/d$/) AND "dc" != 'x' AND "n" < 5 AND "n" > 1.5 AND time >= 1700000000000ms and time <= 1700003600000ms GROUP BY time(10s), "host", "dc" fill(null)"#;
    let s = select(q);
    let tags = or(
        bin(var("host"), BinOp::RegexMatch, Expr::Regex(re("^(a|b)$"))),
        bin(var("host"), BinOp::RegexNotMatch, Expr::Regex(re("^c/d$"))),
    );
    let condition = with_time_filter(and(
        and(
            and(tags, bin(var("dc"), BinOp::NotEq, string("x"))),
            bin(var("n"), BinOp::Lt, Expr::Integer(5)),
        ),
        bin(var("n"), BinOp::Gt, Expr::Float(1.5)),
    ));
    assert_eq!(s.condition, Some(condition));
    assert_eq!(s.group_by, grouped(10 * S, keys(&["host", "dc"])));
}

#[test]
fn grafana_metadata_queries() {
    assert_eq!(
        meta("SHOW MEASUREMENTS WITH MEASUREMENT =~ /(?i)temp/ LIMIT 100"),
        ShowMeta {
            with_measurement: Some(KeyMatch::Regex(re("(?i)temp"))),
            limit: Some(100),
            ..ShowMeta::default()
        }
    );
    assert_eq!(
        meta(r#"SHOW MEASUREMENTS WITH MEASUREMENT =~ /(?i)temp/ WHERE "host" = 'pi' LIMIT 100"#),
        ShowMeta {
            with_measurement: Some(KeyMatch::Regex(re("(?i)temp"))),
            condition: Some(eq("host", "pi")),
            limit: Some(100),
            ..ShowMeta::default()
        }
    );
    assert_eq!(one("SHOW FIELD KEYS"), Statement::ShowFieldKeys(ShowMeta::default()));
    assert_eq!(
        one(r#"SHOW FIELD KEYS FROM "temperature""#),
        Statement::ShowFieldKeys(ShowMeta {
            from: vec![name("temperature")],
            ..ShowMeta::default()
        })
    );
    assert_eq!(one("SHOW TAG KEYS"), Statement::ShowTagKeys(ShowMeta::default()));
    assert_eq!(
        one(r#"SHOW TAG KEYS FROM "temperature" WHERE "host" = 'pi'"#),
        Statement::ShowTagKeys(ShowMeta {
            from: vec![name("temperature")],
            condition: Some(eq("host", "pi")),
            ..ShowMeta::default()
        })
    );
    assert_eq!(
        one(r#"SHOW TAG VALUES FROM "temperature" WITH KEY = "host""#),
        Statement::ShowTagValues {
            meta: ShowMeta {
                from: vec![name("temperature")],
                ..ShowMeta::default()
            },
            keys: KeyMatch::Equals("host".into()),
        }
    );
    assert_eq!(
        one(r#"SHOW TAG VALUES FROM "temperature" WITH KEY = "item" WHERE "host" =~ /^pi$/ AND time > now() - 1h"#),
        Statement::ShowTagValues {
            meta: ShowMeta {
                from: vec![name("temperature")],
                condition: Some(and(
                    bin(var("host"), BinOp::RegexMatch, Expr::Regex(re("^pi$"))),
                    bin(
                        var("time"),
                        BinOp::Gt,
                        bin(call("now", vec![]), BinOp::Sub, Expr::Duration(3600 * S))
                    ),
                )),
                ..ShowMeta::default()
            },
            keys: KeyMatch::Equals("item".into()),
        }
    );
    assert_eq!(
        one(r#"SHOW RETENTION POLICIES on "datalogger""#),
        Statement::ShowRetentionPolicies {
            database: Some("datalogger".into())
        }
    );
    assert_eq!(one("SHOW DATABASES"), Statement::ShowDatabases);
}

// ------------------------------------------------------------- statements

#[test]
fn select_clauses() {
    let s = select(
        r#"SELECT "a"::field, host::tag, v::float, w::integer, x::string, y::boolean FROM m, "rp"."n", "db"."rp"."o", db..p, /^q/ WHERE time > '2023-11-14T22:13:20Z' GROUP BY time(1h, -15m), * fill(none) ORDER BY time ASC LIMIT 5 OFFSET 2 SLIMIT 4 SOFFSET 1 tz('America/New_York')"#,
    );
    assert_eq!(
        s,
        Select {
            fields: vec![
                field(cast("a", Cast::Field)),
                field(cast("host", Cast::Tag)),
                field(cast("v", Cast::Float)),
                field(cast("w", Cast::Integer)),
                field(cast("x", Cast::String)),
                field(cast("y", Cast::Boolean)),
            ],
            from: vec![name("m"), name("n"), name("o"), name("p"), Source::Regex(re("^q"))],
            condition: Some(bin(var("time"), BinOp::Gt, string("2023-11-14T22:13:20Z"))),
            group_by: GroupBy {
                time: Some(TimeGroup {
                    interval_ns: 3600 * S,
                    offset_ns: -15 * 60 * S,
                }),
                tags: TagGroup::All,
            },
            fill: Fill::None,
            descending: false,
            limit: Some(5),
            offset: Some(2),
            slimit: Some(4),
            soffset: Some(1),
            tz: Some("America/New_York".into()),
        }
    );
}

#[test]
fn select_arithmetic_and_calls() {
    let s = select(
        r#"SELECT mean("v") * 100, ("a" + "b") / 2, -"c", COUNT(*), top("v", 3), max(v) - min(v) AS range FROM m"#,
    );
    assert_eq!(
        s.fields,
        vec![
            field(bin(call("mean", vec![var("v")]), BinOp::Mul, Expr::Integer(100))),
            field(bin(bin(var("a"), BinOp::Add, var("b")), BinOp::Div, Expr::Integer(2))),
            field(bin(Expr::Integer(-1), BinOp::Mul, var("c"))),
            field(call("count", vec![Expr::Wildcard])),
            field(call("top", vec![var("v"), Expr::Integer(3)])),
            SelectField {
                expr: bin(call("max", vec![var("v")]), BinOp::Sub, call("min", vec![var("v")])),
                alias: Some("range".into()),
            },
        ]
    );
    // `*` after an operand is multiplication, `%` modulo, and * / % bind tighter than + -.
    assert_eq!(
        select("SELECT a + b * c % 2 - d FROM m").fields[0].expr,
        bin(
            bin(
                var("a"),
                BinOp::Add,
                bin(bin(var("b"), BinOp::Mul, var("c")), BinOp::Mod, Expr::Integer(2))
            ),
            BinOp::Sub,
            var("d")
        )
    );
    // A regex as a call argument.
    assert_eq!(
        select("SELECT count(/^v/) FROM m").fields[0].expr,
        call("count", vec![Expr::Regex(re("^v"))])
    );
    // DISTINCT as a keyword.
    assert_eq!(
        select("SELECT DISTINCT value FROM m").fields[0].expr,
        call("distinct", vec![var("value")])
    );
}

#[test]
fn group_by_forms() {
    assert_eq!(
        select(r#"SELECT * FROM m GROUP BY "host", item"#).group_by,
        GroupBy {
            time: None,
            tags: keys(&["host", "item"])
        }
    );
    assert_eq!(
        select("SELECT * FROM m GROUP BY /^h/").group_by.tags,
        TagGroup::Regex(re("^h"))
    );
    assert_eq!(select("SELECT * FROM m GROUP BY *").group_by.tags, TagGroup::All);
    assert_eq!(
        select("SELECT mean(v) FROM m GROUP BY host, time(5m, 1m)").group_by,
        GroupBy {
            time: Some(TimeGroup {
                interval_ns: 300 * S,
                offset_ns: 60 * S,
            }),
            tags: keys(&["host"]),
        }
    );
}

#[test]
fn show_statements() {
    assert_eq!(
        meta(r#"SHOW MEASUREMENTS ON "db" WITH MEASUREMENT = "cpu" WHERE a = 'b' LIMIT 2 OFFSET 1"#),
        ShowMeta {
            database: Some("db".into()),
            with_measurement: Some(KeyMatch::Equals("cpu".into())),
            condition: Some(eq("a", "b")),
            limit: Some(2),
            offset: Some(1),
            ..ShowMeta::default()
        }
    );
    assert_eq!(meta("SHOW MEASUREMENTS ON *.*").database, None);
    assert_eq!(
        meta("SHOW FIELD KEYS ON db FROM /^t/, m LIMIT 3 OFFSET 4"),
        ShowMeta {
            database: Some("db".into()),
            from: vec![Source::Regex(re("^t")), name("m")],
            limit: Some(3),
            offset: Some(4),
            ..ShowMeta::default()
        }
    );
    assert_eq!(
        meta("SHOW TAG KEYS ON db FROM m WHERE host = 'a' LIMIT 1 OFFSET 2"),
        ShowMeta {
            database: Some("db".into()),
            from: vec![name("m")],
            condition: Some(eq("host", "a")),
            limit: Some(1),
            offset: Some(2),
            ..ShowMeta::default()
        }
    );
    let values = |q: &str| match one(q) {
        Statement::ShowTagValues { keys, .. } => keys,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        values(r#"SHOW TAG VALUES WITH KEY != "host""#),
        KeyMatch::NotEquals("host".into())
    );
    assert_eq!(values("SHOW TAG VALUES WITH KEY =~ /^h/"), KeyMatch::Regex(re("^h")));
    assert_eq!(values("SHOW TAG VALUES WITH KEY !~ /^h/"), KeyMatch::NotRegex(re("^h")));
    assert_eq!(
        values(r#"SHOW TAG VALUES WITH KEY IN ("host", "item")"#),
        KeyMatch::In(vec!["host".into(), "item".into()])
    );
    assert_eq!(
        meta(r#"SHOW TAG VALUES ON db FROM m WITH KEY = "host" WHERE item = 'x' LIMIT 7 OFFSET 8"#),
        ShowMeta {
            database: Some("db".into()),
            from: vec![name("m")],
            condition: Some(eq("item", "x")),
            limit: Some(7),
            offset: Some(8),
            ..ShowMeta::default()
        }
    );
    assert_eq!(
        one(r#"SHOW SERIES ON db FROM "m" WHERE "host" = 'a' LIMIT 10 OFFSET 20"#),
        Statement::ShowSeries(ShowMeta {
            database: Some("db".into()),
            from: vec![name("m")],
            condition: Some(eq("host", "a")),
            limit: Some(10),
            offset: Some(20),
            ..ShowMeta::default()
        })
    );
    assert_eq!(one("SHOW SERIES"), Statement::ShowSeries(ShowMeta::default()));
    assert_eq!(
        one("SHOW RETENTION POLICIES"),
        Statement::ShowRetentionPolicies { database: None }
    );
    assert_eq!(
        one(r#"CREATE DATABASE "my db""#),
        Statement::CreateDatabase { name: "my db".into() }
    );
    assert_eq!(
        all("CREATE DATABASE x WITH DURATION 1d REPLICATION 1 NAME \"r\"; SHOW DATABASES"),
        vec![Statement::CreateDatabase { name: "x".into() }, Statement::ShowDatabases]
    );
    assert_eq!(meta("SHOW TAG KEYS ORDER BY time ASC LIMIT 1").limit, Some(1));
}

#[test]
fn unsupported_statements_are_named() {
    for (q, what) in [
        ("DELETE FROM m WHERE time < now() - 1d", "DELETE"),
        (r#"DROP MEASUREMENT "m""#, "DROP MEASUREMENT"),
        ("DROP SERIES FROM /^m/ WHERE host =~ /a;b/", "DROP SERIES"),
        ("DROP DATABASE db", "DROP DATABASE"),
        ("DROP RETENTION POLICY rp ON db", "DROP RETENTION POLICY"),
        ("DROP CONTINUOUS QUERY cq ON db", "DROP CONTINUOUS QUERY"),
        ("DROP SHARD 1", "DROP SHARD"),
        ("DROP SUBSCRIPTION s ON db.rp", "DROP SUBSCRIPTION"),
        ("DROP USER bob", "DROP USER"),
        (
            "ALTER RETENTION POLICY rp ON db DURATION 1d DEFAULT",
            "ALTER RETENTION POLICY",
        ),
        ("GRANT ALL TO bob", "GRANT"),
        ("REVOKE READ ON db FROM bob", "REVOKE"),
        ("KILL QUERY 12", "KILL QUERY"),
        ("EXPLAIN SELECT * FROM m", "EXPLAIN"),
        ("EXPLAIN SELECT * INTO x FROM m", "EXPLAIN"),
        (
            "EXPLAIN ANALYZE SELECT mean(v) FROM m GROUP BY time(1m)",
            "EXPLAIN ANALYZE",
        ),
        ("SET PASSWORD FOR bob = 'x'", "SET PASSWORD FOR"),
        ("CREATE USER bob WITH PASSWORD 'x' WITH ALL PRIVILEGES", "CREATE USER"),
        (
            "CREATE RETENTION POLICY rp ON db DURATION 1d REPLICATION 1",
            "CREATE RETENTION POLICY",
        ),
        (
            "CREATE CONTINUOUS QUERY cq ON db BEGIN SELECT mean(v) INTO m2 FROM m GROUP BY time(1h) END",
            "CREATE CONTINUOUS QUERY",
        ),
        (
            "CREATE SUBSCRIPTION s ON db.rp DESTINATIONS ALL 'udp://h:1'",
            "CREATE SUBSCRIPTION",
        ),
        ("SHOW USERS", "SHOW USERS"),
        ("SHOW QUERIES", "SHOW QUERIES"),
        ("SHOW STATS FOR 'indexes'", "SHOW STATS"),
        ("SHOW DIAGNOSTICS", "SHOW DIAGNOSTICS"),
        ("SHOW SHARDS", "SHOW SHARDS"),
        ("SHOW SHARD GROUPS", "SHOW SHARD GROUPS"),
        ("SHOW CONTINUOUS QUERIES", "SHOW CONTINUOUS QUERIES"),
        ("SHOW SUBSCRIPTIONS", "SHOW SUBSCRIPTIONS"),
        ("SHOW GRANTS FOR bob", "SHOW GRANTS FOR"),
        ("SHOW SERIES CARDINALITY", "SHOW SERIES CARDINALITY"),
        (
            "SHOW SERIES EXACT CARDINALITY ON db FROM m",
            "SHOW SERIES EXACT CARDINALITY",
        ),
        ("SHOW MEASUREMENT CARDINALITY", "SHOW MEASUREMENT CARDINALITY"),
        (
            "SHOW MEASUREMENT EXACT CARDINALITY",
            "SHOW MEASUREMENT EXACT CARDINALITY",
        ),
        ("SHOW FIELD KEY CARDINALITY", "SHOW FIELD KEY CARDINALITY"),
        ("SHOW TAG KEY EXACT CARDINALITY", "SHOW TAG KEY EXACT CARDINALITY"),
        (
            "SHOW TAG VALUES CARDINALITY WITH KEY = host",
            "SHOW TAG VALUES CARDINALITY",
        ),
        ("SELECT mean(v) INTO m2 FROM m GROUP BY time(1h)", "SELECT INTO"),
        (r#"SELECT * INTO "db"."rp".:MEASUREMENT FROM /.*/"#, "SELECT INTO"),
        (
            "SELECT max(m) FROM (SELECT mean(v) AS m FROM cpu GROUP BY time(1m))",
            "subqueries",
        ),
        ("SELECT /^v/ FROM m", "regular expressions as SELECT columns"),
        ("SELECT *::field FROM m", "*::field"),
        ("SELECT v FROM m WHERE a & 1 = 1", "the bitwise operator &"),
        ("SHOW TAG KEYS WITH KEY = host", "SHOW TAG KEYS WITH KEY"),
        ("SELECT v FROM m GROUP BY time(1h, now())", "time(interval, now())"),
        ("SHOW MEASUREMENTS ORDER BY DESC", "ORDER BY DESC in SHOW statements"),
    ] {
        assert_eq!(unsupported(q), what, "{q}");
    }
}

#[test]
fn multiple_statements_with_an_unsupported_one_in_the_middle() {
    let statements = all(
        "SHOW DATABASES; DROP SERIES FROM \"m\" WHERE (\"host\" = 'a;b' OR x =~ /;/); ;SELECT v FROM (SELECT v FROM m); SHOW measurements;",
    );
    assert_eq!(
        statements,
        vec![
            Statement::ShowDatabases,
            Statement::Unsupported("DROP SERIES".into()),
            Statement::Unsupported("subqueries".into()),
            Statement::ShowMeasurements(ShowMeta::default()),
        ]
    );
    assert_eq!(all(";;SHOW DATABASES;;").len(), 1);
}

// ------------------------------------------------------- tokens & quoting

#[test]
fn quoting_and_escaping() {
    let s = select(
        r#"SELECT "a \"b\"", "back\\slash", "with space", "dot.ted", "ünï cödé", "select" FROM "my.meas urement" WHERE "t" = 'it\'s' AND u = 'line\nbreak' AND w = 'q"uote' AND x = 'back\\slash'"#,
    );
    assert_eq!(
        s.fields,
        vec![
            field(var("a \"b\"")),
            field(var("back\\slash")),
            field(var("with space")),
            field(var("dot.ted")),
            field(var("ünï cödé")),
            field(var("select")),
        ]
    );
    assert_eq!(s.from, vec![name("my.meas urement")]);
    assert_eq!(
        s.condition,
        Some(and(
            and(and(eq("t", "it's"), eq("u", "line\nbreak")), eq("w", "q\"uote")),
            eq("x", "back\\slash")
        ))
    );
}

#[test]
fn regex_literals() {
    let cond = |q: &str| select(q).condition.unwrap();
    // `\/` is a slash; other escapes reach the regex engine untouched.
    assert_eq!(
        cond(r"SELECT * FROM m WHERE p =~ /^\/var\/log\.d$/"),
        bin(var("p"), BinOp::RegexMatch, Expr::Regex(re(r"^/var/log\.d$")))
    );
    // Quotes and a `;` inside a regex are plain characters.
    assert_eq!(
        cond(r#"SELECT * FROM m WHERE p !~ /it's "x";/"#),
        bin(var("p"), BinOp::RegexNotMatch, Expr::Regex(re(r#"it's "x";"#)))
    );
    // Where no regex may stand, `/` divides.
    assert_eq!(
        select("SELECT a / b / 2 FROM m").fields[0].expr,
        bin(bin(var("a"), BinOp::Div, var("b")), BinOp::Div, Expr::Integer(2))
    );
    // An empty regex matches everything.
    assert!(matches!(
        one("SHOW MEASUREMENTS WITH MEASUREMENT =~ //"),
        Statement::ShowMeasurements(_)
    ));
    // `"db"."rp"./re/` in FROM.
    assert_eq!(
        select(r#"SELECT * FROM "db"."rp"./^cpu/"#).from,
        vec![Source::Regex(re("^cpu"))]
    );
}

#[test]
fn precedence() {
    // AND binds tighter than OR.
    assert_eq!(
        select("SELECT * FROM m WHERE a = 'x' OR b = 'y' AND c = 'z'").condition,
        Some(or(eq("a", "x"), and(eq("b", "y"), eq("c", "z"))))
    );
    assert_eq!(
        select("SELECT * FROM m WHERE a = 'x' AND b = 'y' OR c = 'z'").condition,
        Some(or(and(eq("a", "x"), eq("b", "y")), eq("c", "z")))
    );
    // Parentheses override it.
    assert_eq!(
        select("SELECT * FROM m WHERE (a = 'x' OR b = 'y') AND c = 'z'").condition,
        Some(and(or(eq("a", "x"), eq("b", "y")), eq("c", "z")))
    );
    // Arithmetic binds tighter than comparison; comparison tighter than AND.
    assert_eq!(
        select("SELECT * FROM m WHERE time > now() - 1h - 30m AND v * 2 >= 10 + 1").condition,
        Some(and(
            bin(
                var("time"),
                BinOp::Gt,
                bin(
                    bin(call("now", vec![]), BinOp::Sub, Expr::Duration(3600 * S)),
                    BinOp::Sub,
                    Expr::Duration(1800 * S)
                )
            ),
            bin(
                bin(var("v"), BinOp::Mul, Expr::Integer(2)),
                BinOp::GtEq,
                bin(Expr::Integer(10), BinOp::Add, Expr::Integer(1))
            )
        ))
    );
    // Left associativity.
    assert_eq!(
        select("SELECT * FROM m WHERE a = 1 OR b = 2 OR c = 3").condition,
        Some(or(
            or(
                bin(var("a"), BinOp::Eq, Expr::Integer(1)),
                bin(var("b"), BinOp::Eq, Expr::Integer(2))
            ),
            bin(var("c"), BinOp::Eq, Expr::Integer(3))
        ))
    );
    // `<>` is `!=`.
    assert_eq!(
        select("SELECT * FROM m WHERE a <> 'x'").condition,
        Some(bin(var("a"), BinOp::NotEq, string("x")))
    );
}

#[test]
fn case_insensitive_keywords_and_function_names() {
    let lower = all(
        r#"select MEAN("v") from "m" where "h" = 'a' and time > NOW() - 1h group by TIME(10s), "h" FILL(linear) order by time desc limit 1 tz('UTC'); show tag values with key = "h"; Show Field Keys; sHoW dAtAbAsEs"#,
    );
    let upper = all(
        r#"SELECT mean("v") FROM "m" WHERE "h" = 'a' AND time > now() - 1h GROUP BY time(10s), "h" fill(linear) ORDER BY time DESC LIMIT 1 tz('UTC'); SHOW TAG VALUES WITH KEY = "h"; SHOW FIELD KEYS; SHOW DATABASES"#,
    );
    assert_eq!(lower, upper);
    // Names keep their case.
    assert_eq!(select("SELECT Value FROM Cpu").fields[0].expr, var("Value"));
    assert_eq!(select("SELECT true, FALSE FROM m").fields[1].expr, Expr::Bool(false));
}

#[test]
fn durations_of_every_unit() {
    for (text, ns) in [
        ("1ns", 1),
        ("2u", 2_000),
        ("3µ", 3_000),
        ("4ms", 4 * MS),
        ("5s", 5 * S),
        ("6m", 360 * S),
        ("7h", 7 * 3600 * S),
        ("8d", 8 * 86_400 * S),
        ("9w", 9 * 7 * 86_400 * S),
        ("1h30m", 5400 * S),
        ("1700000000000ms", 1_700_000_000_000 * MS),
        ("1700000000s", 1_700_000_000 * S),
        ("1700000000000000000ns", 1_700_000_000_000_000_000),
    ] {
        assert_eq!(parse_duration(text), Ok(ns), "{text}");
        let q = format!("SELECT * FROM m WHERE time > {text}");
        assert_eq!(
            select(&q).condition,
            Some(bin(var("time"), BinOp::Gt, Expr::Duration(ns))),
            "{q}"
        );
    }
    assert_eq!(
        select("SELECT * FROM m WHERE time > -5m").condition,
        Some(bin(var("time"), BinOp::Gt, Expr::Duration(-300 * S)))
    );
    assert!(parse_duration("10x").is_err());
    assert!(parse_duration("1e3").is_err());
    assert!(parse_duration("s").is_err());
    assert!(parse_duration("99999999999w").is_err());
}

#[test]
fn numbers() {
    let fields = select("SELECT 1, 1.5, .5, -2, -0.25, 9223372036854775807, -9223372036854775808, 3. FROM m").fields;
    let values: Vec<Expr> = fields.into_iter().map(|f| f.expr).collect();
    assert_eq!(
        values,
        vec![
            Expr::Integer(1),
            Expr::Float(1.5),
            Expr::Float(0.5),
            Expr::Integer(-2),
            Expr::Float(-0.25),
            Expr::Integer(i64::MAX),
            Expr::Integer(i64::MIN),
            Expr::Float(3.0),
        ]
    );
}

#[test]
fn comments_and_whitespace() {
    let q = "-- a comment\nSELECT /* inline */ \"v\"\r\n\tFROM m -- trailing\n/* last */";
    assert_eq!(select(q), base(vec![field(var("v"))], "m"));
    // A position after line breaks counts lines and characters on the line.
    let e = error("SELECT *\r\nFROM m\nWHERE x = # ");
    assert_eq!((e.line, e.char), (3, 11), "{e}");
}

#[test]
fn keywords_are_sorted_for_lookup() {
    // `keyword` binary-searches the list.
    assert_eq!(keyword("select"), Some("SELECT"));
    assert_eq!(keyword("Policies"), Some("POLICIES"));
    assert_eq!(keyword("time"), None);
    assert_eq!(keyword("fill"), None);
}

// ----------------------------------------------------------------- errors

const STATEMENT_WORDS: &str = "SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, SET, KILL";

#[test]
fn empty_queries_are_errors() {
    let e = error("");
    assert_eq!(e.message, format!("found EOF, expected {STATEMENT_WORDS}"));
    assert_eq!((e.line, e.char), (1, 1));
    let e = error(" ; ;");
    assert_eq!(e.message, format!("found EOF, expected {STATEMENT_WORDS}"));
    assert_eq!((e.line, e.char), (1, 5));
}

#[test]
fn malformed_queries_name_what_was_found_and_expected() {
    error_at(
        "SELECT FROM m",
        "FROM",
        "found FROM, expected identifier, string, number, bool",
    );
    error_at(
        "SELEC * FROM m",
        "SELEC",
        &format!("found SELEC, expected {STATEMENT_WORDS}"),
    );
    error_at(r#"SELECT "v" m"#, "m", "found m, expected FROM");
    error_at_char(r#"SELECT "v" FROM"#, 17, "found EOF, expected identifier");
    error_at_char(
        "SELECT v FROM m WHERE",
        23,
        "found EOF, expected identifier, string, number, bool",
    );
    error_at(
        "SELECT v FROM m LIMIT 1 WHERE a = 1",
        "WHERE",
        "found WHERE, expected ;",
    );
    error_at("SELECT v FROM m LIMIT -1", "-", "found -, expected integer");
    error_at("SELECT v FROM m LIMIT ten", "ten", "found ten, expected integer");
    error_at_char("SELECT v FROM m WHERE (a = 'x'", 31, "found EOF, expected )");
    error_at("SELECT mean(v FROM m", "FROM", "found FROM, expected )");
    error_at("SELECT v FROM m WHERE a =~ 'x'", "'x'", "found x, expected regex");
    error_at("SELECT v FROM m GROUP time(1m)", "time", "found time, expected BY");
    error_at_char("SHOW MEASUREMENT", 18, "found EOF, expected EXACT, CARDINALITY");
    error_at(
        "SHOW TABLES",
        "TABLES",
        "found TABLES, expected CONTINUOUS, DATABASES, DIAGNOSTICS, FIELD, GRANTS, MEASUREMENT, MEASUREMENTS, QUERIES, RETENTION, SERIES, SHARD, SHARDS, STATS, SUBSCRIPTIONS, TAG, USERS",
    );
    error_at(
        "DROP TABLE x",
        "TABLE",
        "found TABLE, expected CONTINUOUS, DATABASE, MEASUREMENT, RETENTION, SERIES, SHARD, SUBSCRIPTION, USER",
    );
    error_at_char(r#"SHOW TAG VALUES FROM "m""#, 25, "found EOF, expected WITH");
    error_at(
        "SHOW TAG VALUES WITH KEY 'host'",
        "'host'",
        "found host, expected IN, =, !=, =~, !~",
    );
    error_at(
        "SHOW TAG VALUES WITH KEY = 'host'",
        "'host'",
        "found host, expected identifier",
    );
    error_at(
        "SHOW MEASUREMENTS WITH MEASUREMENT != m",
        "!=",
        "found !=, expected =, =~",
    );
    error_at("SHOW FIELD KEYS WHERE a = 'b'", "WHERE", "found WHERE, expected ;");
    error_at("CREATE DATABASE 'x'", "'x'", "found x, expected identifier");
    error_at_char(
        "SELECT v FROM m WHERE time > now() -",
        37,
        "found EOF, expected identifier, string, number, bool",
    );
    error_at(
        "SELECT v FROM m WHERE x > -'1'",
        "'1'",
        "found 1, expected identifier, number, duration, (",
    );
    error_at(
        "SELECT v::text FROM m",
        "text",
        "found text, expected float, integer, unsigned, string, boolean, field, tag",
    );
    error_at_char(
        "SELECT v FROM m; SELECT",
        25,
        "found EOF, expected identifier, string, number, bool",
    );
    error_at(
        "SHOW DATABASES SHOW MEASUREMENTS",
        "SHOW MEASUREMENTS",
        "found SHOW, expected ;",
    );
    // A reserved word must be quoted to be a name.
    error_at(
        "SELECT key FROM m",
        "key",
        "found KEY, expected identifier, string, number, bool",
    );
}

#[test]
fn malformed_literals() {
    error_at(
        "SELECT v FROM m WHERE h = 'abc",
        "'abc",
        "bad string: 'abc has no closing ' on its line",
    );
    error_at(
        "SELECT \"v FROM m",
        "\"v",
        "bad quoted identifier: \"v FROM m has no closing \" on its line",
    );
    error_at(r#"SELECT "a\qb" FROM m"#, r"\q", r"bad escape: \q");
    error_at(
        "SELECT v FROM m WHERE h =~ /abc",
        "/abc",
        "bad regex: /abc has no closing / on its line",
    );
    error_at(
        "SELECT v FROM m WHERE h =~ /a(b/",
        "/a(b/",
        "bad regex /a(b/: unclosed group",
    );
    error_at(
        "SELECT v FROM m GROUP BY time(10x)",
        "10x",
        "invalid duration 10x: use an integer and a unit ns, u, µ, ms, s, m, h, d or w",
    );
    error_at(
        "SELECT 99999999999999999999 FROM m",
        "9",
        "unable to parse integer 99999999999999999999: out of range",
    );
    error_at("SELECT v FROM m WHERE a # b", "#", "illegal character '#'");
    error_at("SELECT v FROM m WHERE a ! b", "!", "found !, expected != or !~");
    error_at("SELECT v /* never closed", "/*", "unterminated /* comment");
    // Characters, not bytes, count.
    error_at("SELECT \"µ\" FROM \"ü\" WHERE é = 1", "é", "illegal character 'é'");
}

#[test]
fn malformed_clauses() {
    error_at(
        "SELECT v FROM m ORDER BY host",
        "host",
        "only ORDER BY time supported at this time",
    );
    error_at(
        "SELECT v FROM m ORDER BY time, host",
        ", host",
        "only ORDER BY time supported at this time",
    );
    error_at(
        "SELECT mean(v) FROM m GROUP BY time(10s) fill(bogus)",
        "fill",
        "expected number argument in fill()",
    );
    error_at(
        "SELECT mean(v) FROM m GROUP BY time(10s) fill()",
        "fill",
        "fill requires an argument, e.g.: 0, null, none, previous, linear",
    );
    error_at(
        "SELECT v FROM m tz('Mars/Olympus')",
        "tz",
        "unable to find time zone Mars/Olympus",
    );
    error_at("SELECT v FROM m tz(1)", "tz", "expected string argument in tz()");
    // The option is case-sensitive, as in InfluxDB; a quoted name is a name.
    error_at(
        "SELECT mean(v) FROM m GROUP BY time(10s) fill(NULL)",
        "fill",
        "expected number argument in fill()",
    );
    assert_eq!(select(r#"SELECT mean(v) FROM m fill("previous")"#).fill, Fill::Previous);
    error_at_char(
        "CREATE DATABASE x WITH",
        24,
        "found EOF, expected DURATION, NAME, REPLICATION, SHARD",
    );
    error_at(
        r#"SELECT "v" = 1 FROM m"#,
        "\"v\"",
        "invalid operator = in SELECT clause; operator is intended for WHERE clause",
    );
    error_at("SELECT v FROM a.b.c.d", "a.b", "too many segments in a.b.c.d");
    // A call needs its `(` right after the name.
    error_at("SELECT mean (v) FROM m", "(v)", "found (, expected FROM");
}

#[test]
fn dimensions_influxdb_refuses_when_planning_are_statement_errors() {
    let invalid = |q: &str| match one(q) {
        Statement::Invalid(message) => message,
        other => panic!("{q:?} should be invalid: {other:?}"),
    };
    for (q, message) in [
        (
            "SELECT mean(v) FROM m GROUP BY time(10)",
            "time dimension must have duration argument",
        ),
        (
            "SELECT mean(v) FROM m GROUP BY time('x')",
            "time dimension must have duration argument",
        ),
        (
            "SELECT mean(v) FROM m GROUP BY time()",
            "time dimension expected 1 or 2 arguments",
        ),
        (
            "SELECT mean(v) FROM m GROUP BY time(1m, 1s, 1ms)",
            "time dimension expected 1 or 2 arguments",
        ),
        (
            "SELECT mean(v) FROM m GROUP BY time(1m), time(1h)",
            "multiple time dimensions not allowed",
        ),
        (
            "SELECT mean(v) FROM m GROUP BY time",
            "time() is a function and expects at least one argument",
        ),
        (
            "SELECT mean(v) FROM m GROUP BY now()",
            "only time() calls allowed in dimensions",
        ),
        (
            "SELECT mean(v) FROM m GROUP BY 'host'",
            "only time and tag dimensions allowed",
        ),
        (
            "SELECT mean(v) FROM m GROUP BY time(1m, 'x')",
            "invalid time dimension offset: 'x'",
        ),
        (
            "SELECT mean(v) FROM m GROUP BY time(1m, v)",
            "time dimension offset must be duration or now()",
        ),
        (
            "SELECT mean(v) FROM m GROUP BY time(1m, foo())",
            "time dimension offset function must be now()",
        ),
        (
            "SELECT mean(v) FROM m GROUP BY time(1m, now(1))",
            "time dimension offset now() function requires no arguments",
        ),
        // Planning errors win over "not supported".
        (
            "SELECT mean(v) INTO x FROM m GROUP BY time(10)",
            "time dimension must have duration argument",
        ),
    ] {
        assert_eq!(invalid(q), message, "{q}");
    }
    // The statements around an invalid one still parse.
    assert_eq!(
        all("SHOW DATABASES; SELECT mean(v) FROM m GROUP BY time(10); SHOW DATABASES"),
        vec![
            Statement::ShowDatabases,
            Statement::Invalid("time dimension must have duration argument".into()),
            Statement::ShowDatabases
        ]
    );
    // An interval of 0 or less is no time grouping, as in InfluxDB.
    assert_eq!(
        select("SELECT mean(v) FROM m GROUP BY time(0s)").group_by,
        GroupBy::default()
    );
    assert_eq!(
        select("SELECT mean(v) FROM m GROUP BY time(-1m), host").group_by,
        GroupBy {
            time: None,
            tags: keys(&["host"])
        }
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let depth = 100_000;
    for q in [
        format!("SELECT {}v{} FROM m", "(".repeat(depth), ")".repeat(depth)),
        format!("SELECT {}v{} FROM m", "f(".repeat(depth), ")".repeat(depth)),
        format!(
            "SELECT * FROM {}m{}",
            "(SELECT * FROM ".repeat(depth),
            ")".repeat(depth)
        ),
    ] {
        let e = error(&q);
        assert_eq!(
            e.message,
            "expressions and subqueries nested more than 100 levels deep",
            "{}",
            &q[..40]
        );
    }
    // 90 levels are fine (far beyond any real query), and in a debug build too.
    let q = format!("SELECT {}v{} FROM m", "(".repeat(90), ")".repeat(90));
    assert_eq!(select(&q).fields[0].expr, var("v"));
}

/// Random token soup never panics: every input parses or is an error.
#[test]
fn arbitrary_input_never_panics() {
    const PIECES: &[&str] = &[
        "SELECT",
        "FROM",
        "WHERE",
        "GROUP",
        "BY",
        "SHOW",
        "TAG",
        "VALUES",
        "WITH",
        "KEY",
        "MEASUREMENTS",
        "INTO",
        "DROP",
        "fill",
        "tz",
        "time",
        "now",
        "(",
        ")",
        ",",
        ";",
        ".",
        "..",
        "::",
        ":",
        "*",
        "/",
        "/x/",
        "=~",
        "!~",
        "=",
        "!=",
        "<>",
        "<",
        ">=",
        "+",
        "-",
        "%",
        "&",
        "AND",
        "OR",
        "'s'",
        "'",
        "\"",
        "\"q\"",
        "1",
        "1.5",
        ".5",
        "10s",
        "1e3",
        "-1",
        "µ",
        "é",
        "--",
        "/*",
        "*/",
        "\\",
        " ",
        "\n",
        "v",
        "m",
        "ORDER",
        "DESC",
        "LIMIT",
        "DISTINCT",
        "IN",
        "field",
        "tag",
        "9999999999999999999999",
        "EXPLAIN",
        "CREATE",
        "DATABASE",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut random = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for _ in 0..20_000 {
        let len = 1 + random(14);
        let mut q = String::new();
        for _ in 0..len {
            q.push_str(PIECES[random(PIECES.len())]);
            if random(3) > 0 {
                q.push(' ');
            }
        }
        if let Err(e) = parse(&q) {
            assert!(e.line >= 1 && e.char >= 1, "{q:?}: {e}");
        }
    }
}
