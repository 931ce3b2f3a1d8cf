//! The ConnectWise `conditions` language: a recursive-descent parser and an evaluator over
//! rendered JSON records.
//!
//! It covers what real clients send: `= != < <= > >= like contains in` (each also with `not`),
//! `and`/`or`, parentheses, quoted strings, `[dates]`, `true/false/null`, numbers and `a/b`
//! reference paths. It never panics: every malformed input becomes a [`ConditionError`].

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

/// Nesting deeper than this is refused so hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

/// Why a condition was refused; becomes a 400 `ApiFindCondition`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionError(pub String);

type Result<T> = std::result::Result<T, ConditionError>;

fn fail<T>(message: impl Into<String>) -> Result<T> {
    Err(ConditionError(message.into()))
}

/// A literal on the right of an operator.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Date(DateTime<Utc>),
    List(Vec<Literal>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    Contains,
    In,
}

/// A parsed condition tree. Field paths keep the client's spelling.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
    Compare {
        path: Vec<String>,
        op: Op,
        value: Literal,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Slash,
    Op(&'static str),
    Str(String),
    Num(f64),
    Date(String),
    Open,
    Close,
    Comma,
}

fn tokenize(input: &str) -> Result<Vec<Token>> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (token, next) = match chars[i] {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => (Token::Open, i + 1),
            ')' => (Token::Close, i + 1),
            ',' => (Token::Comma, i + 1),
            '/' => (Token::Slash, i + 1),
            '"' | '\'' => quoted(&chars, i)?,
            '[' => bracketed(&chars, i)?,
            '=' | '!' | '<' | '>' => operator(&chars, i)?,
            c if c.is_ascii_digit() || c == '-' || c == '.' => number(&chars, i)?,
            c if c.is_alphanumeric() || c == '_' => ident(&chars, i),
            c => return fail(format!("Unexpected character '{c}' in conditions.")),
        };
        tokens.push(token);
        i = next;
    }
    Ok(tokens)
}

/// A string in single or double quotes; a backslash or a doubled quote escapes the quote.
fn quoted(chars: &[char], start: usize) -> Result<(Token, usize)> {
    let quote = chars[start];
    let mut text = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\\' && next == Some(quote) || c == quote && next == Some(quote) {
            text.push(quote);
            i += 2;
        } else if c == quote {
            return Ok((Token::Str(text), i + 1));
        } else {
            text.push(c);
            i += 1;
        }
    }
    fail("A string value is missing its closing quote.")
}

/// `[2024-01-01T00:00:00Z]`, kept raw; the parser decides it is a date.
fn bracketed(chars: &[char], start: usize) -> Result<(Token, usize)> {
    let end = chars[start..].iter().position(|c| *c == ']');
    match end {
        Some(len) => Ok((
            Token::Date(chars[start + 1..start + len].iter().collect()),
            start + len + 1,
        )),
        None => fail("A DateTime value is missing its closing bracket."),
    }
}

fn operator(chars: &[char], i: usize) -> Result<(Token, usize)> {
    let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
    let op = match two.as_str() {
        "!=" => "!=",
        "<=" => "<=",
        ">=" => ">=",
        "<>" => "!=",
        _ => "",
    };
    if !op.is_empty() {
        return Ok((Token::Op(op), i + 2));
    }
    match chars[i] {
        '=' => Ok((Token::Op("="), i + 1)),
        '<' => Ok((Token::Op("<"), i + 1)),
        '>' => Ok((Token::Op(">"), i + 1)),
        _ => fail("Unexpected '!' in conditions."),
    }
}

fn number(chars: &[char], start: usize) -> Result<(Token, usize)> {
    let mut i = start + 1;
    while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
        i += 1;
    }
    let text: String = chars[start..i].iter().collect();
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok((Token::Num(n), i)),
        _ => fail(format!("'{text}' is not a valid number.")),
    }
}

fn ident(chars: &[char], start: usize) -> (Token, usize) {
    let mut i = start;
    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
        i += 1;
    }
    (Token::Ident(chars[start..i].iter().collect()), i)
}

/// Parses a whole `conditions` string.
pub fn parse(input: &str) -> Result<Condition> {
    let tokens = tokenize(input)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let condition = parser.or()?;
    match parser.peek() {
        None => Ok(condition),
        Some(token) => fail(format!(
            "Unexpected {} after a complete condition.",
            describe(token)
        )),
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Ident(s) => format!("'{s}'"),
        Token::Str(s) => format!("string \"{s}\""),
        Token::Num(n) => format!("number {n}"),
        Token::Date(d) => format!("[{d}]"),
        Token::Op(op) => format!("operator {op}"),
        Token::Slash => "'/'".into(),
        Token::Open => "'('".into(),
        Token::Close => "')'".into(),
        Token::Comma => "','".into(),
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn keyword(&mut self, word: &str) -> bool {
        let found = matches!(self.peek(), Some(Token::Ident(s)) if s.eq_ignore_ascii_case(word));
        if found {
            self.pos += 1;
        }
        found
    }

    fn or(&mut self) -> Result<Condition> {
        let mut left = self.and()?;
        while self.keyword("or") {
            left = Condition::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            left = Condition::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Condition> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return fail("Conditions are nested too deeply.");
        }
        let result = self.unary_inner();
        self.depth -= 1;
        result
    }

    fn unary_inner(&mut self) -> Result<Condition> {
        if self.keyword("not") {
            return Ok(Condition::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Token::Open) {
            self.pos += 1;
            let inner = self.or()?;
            return match self.next() {
                Some(Token::Close) => Ok(inner),
                _ => fail("Missing closing parenthesis in conditions."),
            };
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Condition> {
        let path = self.path()?;
        let (negated, op) = self.op()?;
        let value = if op == Op::In {
            self.list()?
        } else {
            self.literal()?
        };
        let compare = Condition::Compare { path, op, value };
        Ok(if negated {
            Condition::Not(Box::new(compare))
        } else {
            compare
        })
    }

    fn path(&mut self) -> Result<Vec<String>> {
        let mut path = Vec::new();
        loop {
            match self.next() {
                Some(Token::Ident(name)) => path.push(name),
                Some(other) => {
                    return fail(format!(
                        "Expected a field name, found {}.",
                        describe(&other)
                    ));
                }
                None => return fail("Expected a field name at the end of conditions."),
            }
            if self.peek() != Some(&Token::Slash) {
                return Ok(path);
            }
            self.pos += 1;
        }
    }

    fn op(&mut self) -> Result<(bool, Op)> {
        let negated = self.keyword("not");
        let op = match self.next() {
            Some(Token::Op(symbol)) if !negated => symbol_op(symbol),
            Some(Token::Ident(word)) => word_op(&word),
            _ => None,
        };
        match op {
            Some(op) => Ok((negated, op)),
            None => fail("Expected an operator (=, !=, <, <=, >, >=, like, contains, in)."),
        }
    }

    fn list(&mut self) -> Result<Literal> {
        if self.next() != Some(Token::Open) {
            return fail("The in operator needs a list in parentheses, e.g. in (1, 2).");
        }
        let mut items = vec![self.literal()?];
        loop {
            match self.next() {
                Some(Token::Comma) => items.push(self.literal()?),
                Some(Token::Close) => return Ok(Literal::List(items)),
                _ => return fail("Missing closing parenthesis after an in list."),
            }
        }
    }

    fn literal(&mut self) -> Result<Literal> {
        match self.next() {
            Some(Token::Str(s)) => Ok(Literal::Str(s)),
            Some(Token::Num(n)) => Ok(Literal::Num(n)),
            Some(Token::Date(raw)) => parse_date(&raw).map(Literal::Date),
            Some(Token::Ident(word)) => keyword_literal(&word),
            _ => fail(VALUE_HELP),
        }
    }
}

/// The real API's explanation of literal syntax (quoted in the reference brief §6.3).
const VALUE_HELP: &str = "String values should be enclosed with double or single quotes; DateTime \
values should be enclosed in square brackets; numbers should consist of only digits, and \
optionally a decimal point and a negation sign; boolean values should be indicated with the \
keywords true or false; null values should be indicated by the keyword null.";

fn symbol_op(symbol: &str) -> Option<Op> {
    Some(match symbol {
        "=" => Op::Eq,
        "!=" => Op::Ne,
        "<" => Op::Lt,
        "<=" => Op::Le,
        ">" => Op::Gt,
        ">=" => Op::Ge,
        _ => return None,
    })
}

fn word_op(word: &str) -> Option<Op> {
    match word.to_ascii_lowercase().as_str() {
        "like" => Some(Op::Like),
        "contains" => Some(Op::Contains),
        "in" => Some(Op::In),
        _ => None,
    }
}

fn keyword_literal(word: &str) -> Result<Literal> {
    match word.to_ascii_lowercase().as_str() {
        "true" => Ok(Literal::Bool(true)),
        "false" => Ok(Literal::Bool(false)),
        "null" => Ok(Literal::Null),
        _ => fail(format!("'{word}' is not a valid value. {VALUE_HELP}")),
    }
}

/// Accepts `Z`, offsets, fractions, and naive values (read as UTC: the tolerant reading of
/// what DJCW sends, brief §5).
pub fn parse_date(raw: &str) -> Result<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(date) = DateTime::parse_from_rfc3339(raw) {
        return Ok(date.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(raw, format) {
            return Ok(naive.and_utc());
        }
    }
    match chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(day) => Ok(day.and_time(chrono::NaiveTime::MIN).and_utc()),
        Err(_) => fail(format!("'{raw}' is not a valid DateTime value.")),
    }
}

impl Condition {
    /// Every field path mentioned, so the caller can refuse unknown names before evaluating.
    pub fn paths(&self) -> Vec<&[String]> {
        match self {
            Self::And(a, b) | Self::Or(a, b) => {
                let mut all = a.paths();
                all.extend(b.paths());
                all
            }
            Self::Not(inner) => inner.paths(),
            Self::Compare { path, .. } => vec![path.as_slice()],
        }
    }

    /// Whether a rendered record satisfies the condition.
    pub fn matches(&self, record: &Value) -> Result<bool> {
        match self {
            Self::And(a, b) => Ok(a.matches(record)? && b.matches(record)?),
            Self::Or(a, b) => Ok(a.matches(record)? || b.matches(record)?),
            Self::Not(inner) => Ok(!inner.matches(record)?),
            Self::Compare { path, op, value } => compare(lookup(record, path), *op, value),
        }
    }
}

/// Follows a path through nested objects, matching keys case-insensitively. `lastUpdated`
/// at the top level falls back to `_info/lastUpdated`, as clients use both.
pub fn lookup<'a>(record: &'a Value, path: &[String]) -> &'a Value {
    let found = path.iter().try_fold(record, |value, key| field(value, key));
    match (found, path) {
        (Some(value), _) => value,
        (None, [only]) => field(record, "_info")
            .and_then(|info| field(info, only))
            .unwrap_or(&Value::Null),
        (None, _) => &Value::Null,
    }
}

fn field<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let object = value.as_object()?;
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn compare(actual: &Value, op: Op, expected: &Literal) -> Result<bool> {
    match (op, expected) {
        (Op::In, Literal::List(items)) => any_equal(actual, items),
        (Op::Eq, Literal::Null) => Ok(actual.is_null()),
        (Op::Ne, Literal::Null) => Ok(!actual.is_null()),
        (_, _) if actual.is_null() => Ok(false),
        (Op::Like, Literal::Str(pattern)) => Ok(like(&text_of(actual), pattern)),
        (Op::Contains, Literal::Str(part)) => Ok(text_of(actual)
            .to_lowercase()
            .contains(&part.to_lowercase())),
        (Op::Like | Op::Contains, _) => fail(format!("Expected a string value. {VALUE_HELP}")),
        (Op::Eq, Literal::Str(pattern)) if pattern.contains('*') => {
            Ok(like(&text_of(actual), pattern))
        }
        _ => Ok(apply(op, ordering(actual, expected)?)),
    }
}

fn any_equal(actual: &Value, items: &[Literal]) -> Result<bool> {
    for item in items {
        if compare(actual, Op::Eq, item)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn apply(op: Op, ordering: Ordering) -> bool {
    match op {
        Op::Eq => ordering == Ordering::Equal,
        Op::Ne => ordering != Ordering::Equal,
        Op::Lt => ordering == Ordering::Less,
        Op::Le => ordering != Ordering::Greater,
        Op::Gt => ordering == Ordering::Greater,
        Op::Ge => ordering != Ordering::Less,
        Op::Like | Op::Contains | Op::In => false,
    }
}

/// Orders a field value against a literal, refusing mismatched kinds like the real API.
fn ordering(actual: &Value, expected: &Literal) -> Result<Ordering> {
    match (actual, expected) {
        (Value::Number(n), Literal::Num(m)) => Ok(n.as_f64().unwrap_or(0.0).total_cmp(m)),
        (Value::Bool(b), Literal::Bool(c)) => Ok(b.cmp(c)),
        (Value::String(s), Literal::Str(t)) => Ok(s.to_lowercase().cmp(&t.to_lowercase())),
        (Value::String(s), Literal::Date(d)) => match parse_date(s) {
            Ok(date) => Ok(date.cmp(d)),
            Err(_) => fail(format!(
                "Expected a string value, not a DateTime. {VALUE_HELP}"
            )),
        },
        (Value::Bool(_), other) => fail(format!(
            "Expected a boolean value, not {}. {VALUE_HELP}",
            kind(other)
        )),
        (Value::Number(_), other) => fail(format!(
            "Expected a numeric value, not {}. {VALUE_HELP}",
            kind(other)
        )),
        (_, other) => fail(format!(
            "Expected a string value, not {}. {VALUE_HELP}",
            kind(other)
        )),
    }
}

fn kind(literal: &Literal) -> &'static str {
    match literal {
        Literal::Str(_) => "a string",
        Literal::Num(_) => "a numeric",
        Literal::Bool(_) => "a boolean",
        Literal::Null => "null",
        Literal::Date(_) => "a DateTime",
        Literal::List(_) => "a list",
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `%` and `*` match any run of characters; matching ignores case.
fn like(text: &str, pattern: &str) -> bool {
    let text: Vec<char> = text.to_lowercase().chars().collect();
    let pattern: Vec<char> = pattern.to_lowercase().chars().collect();
    wildcard(&text, &pattern)
}

fn wildcard(text: &[char], pattern: &[char]) -> bool {
    // Iterative matching with one backtrack point keeps this linear-ish and stack-safe.
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '%' || pattern[p] == '*') {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '%' || *c == '*')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn record() -> Value {
        json!({
            "id": 19310, "name": "Ænima & <Sons>", "deletedFlag": false,
            "company": {"id": 5, "name": "Contoso"},
            "type": {"id": 2, "name": "M365 Licensing"},
            "startDate": "2024-07-01T00:00:00Z",
            "_info": {"lastUpdated": "2025-03-04T22:10:31Z"}
        })
    }

    fn check(input: &str) -> bool {
        parse(input).unwrap().matches(&record()).unwrap()
    }

    #[test]
    fn every_comparison_operator_matches_as_expected() {
        assert!(check("id=19310"));
        assert!(check("id != 1"));
        assert!(check("id < 20000 and id <= 19310"));
        assert!(check("id > 19000 and id >= 19310"));
        assert!(!check("id > 19310"));
    }

    #[test]
    fn string_operators_ignore_case_and_take_wildcards() {
        assert!(check("name like \"ænima%\""));
        assert!(check("name like '*<Sons>'"));
        assert!(check("name contains \"& <s\""));
        assert!(check("name not like \"Contoso%\""));
        assert!(check("name = \"ÆNIMA & <SONS>\""));
    }

    #[test]
    fn reference_paths_follow_nested_objects() {
        assert!(check("company/id=5"));
        assert!(check("type/name=\"M365 Licensing\""));
        assert!(check("Company/ID = 5"));
    }

    #[test]
    fn in_lists_and_negations_work() {
        assert!(check("company/id in (1, 5, 9)"));
        assert!(check("company/id not in (1, 2)"));
        assert!(check("type/name in (\"Block Time\", \"M365 Licensing\")"));
    }

    #[test]
    fn and_binds_tighter_than_or_and_parentheses_override() {
        assert!(check("id=1 and id=2 or deletedFlag=false"));
        assert!(!check("id=1 and (id=2 or deletedFlag=false)"));
        assert!(check("not (id = 1)"));
    }

    #[test]
    fn dates_compare_with_bracketed_literals() {
        assert!(check("lastUpdated > [2025-01-01T00:00:00Z]"));
        assert!(check("_info/lastUpdated < [2026-01-01T00:00:00.000Z]"));
        assert!(check("startDate >= [2024-07-01T00:00:00]"));
        assert!(check("startDate < [2024-07-01T10:00:00+11:00] or id > 0"));
    }

    #[test]
    fn null_true_and_false_are_keywords() {
        assert!(check("parentAgreement = null"));
        assert!(check("company != null"));
        assert!(check("deletedFlag = False"));
    }

    #[test]
    fn a_boolean_field_refuses_a_number() {
        let err = parse("deletedFlag=0")
            .unwrap()
            .matches(&record())
            .unwrap_err();
        assert!(
            err.0
                .starts_with("Expected a boolean value, not a numeric.")
        );
    }

    #[test]
    fn malformed_conditions_are_errors() {
        for input in [
            "",
            "id=",
            "id = 'open",
            "(id=1",
            "id in 1",
            "id ~ 3",
            "id=1 id=2",
            "[2024",
            "id=1 and",
        ] {
            assert!(parse(input).is_err(), "{input} should not parse");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let input = format!("{}id=1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&input).is_err());
    }

    #[test]
    fn paths_lists_every_field_mentioned() {
        let condition = parse("company/id=5 and (name like 'x%' or not deletedFlag=true)").unwrap();
        let paths: Vec<String> = condition.paths().iter().map(|p| p.join("/")).collect();
        assert_eq!(paths, ["company/id", "name", "deletedFlag"]);
    }

    proptest! {
        #[test]
        fn random_strings_never_panic(input in ".{0,80}") {
            if let Ok(condition) = parse(&input) {
                let _ = condition.matches(&record());
            }
        }

        #[test]
        fn condition_like_strings_never_panic(input in "[a-z/ =!<>()\\[\\]'\"0-9.,%*-]{0,60}") {
            if let Ok(condition) = parse(&input) {
                let _ = condition.matches(&record());
            }
        }
    }
}
