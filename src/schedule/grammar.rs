//! The schedule grammar: a lexer and a recursive-descent parser into a validated [`Law`].
//!
//! ```text
//! spec      := term ('+' term)*
//! term      := [weight '*'] item
//! weight    := number | number '/' number
//! item      := number | name ['(' [number (',' number)*] ')']
//! ```
//! Whitespace separates tokens and is otherwise ignored. Errors carry the offending
//! token and its 1-based character column.
//!
//! Mixture weights must sum to 1 within [`WEIGHT_SUM_TOL`]. Sums within
//! [`AS_WRITTEN_TOL`] keep their weights as written (what 0.1 accepted: every output made
//! with them stays the same); other accepted sums are normalised so that the weights sum to
//! exactly 1, and the canonical form, which prints them, re-parses to the same law.

use super::ScheduleError;
use super::dist::{Beta, Curve, Dist, Law};

/// Largest accepted Beta parameter (the continued fraction needs O(sqrt(a+b)) terms).
const MAX_BETA_PARAM: f64 = 1e6;
/// Below this a Beta's mass crowds into the last representable doubles near 0 or 1, and
/// its quantile can no longer be inverted monotonically in f64 (found by fuzzing).
const MIN_BETA_PARAM: f64 = 1e-3;
/// Tolerance on the sum of mixture weights (`0.33333333` three times is accepted).
const WEIGHT_SUM_TOL: f64 = 1e-6;
/// Sums this close to 1 (float rounding, as in `0.7 + 0.2 + 0.1`) keep their weights as
/// written: 0.1 accepted them so, dividing by the sum in every computation, and changing
/// them would change outputs that published evaluation sets depend on.
const AS_WRITTEN_TOL: f64 = 1e-9;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Name,
    Number(f64),
    BadNumber,
    LParen,
    RParen,
    Comma,
    Star,
    Slash,
    Plus,
    Other,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
    /// Byte offset in the spec.
    start: usize,
    /// 1-based character column.
    col: usize,
}

fn lex(spec: &str) -> Vec<Token<'_>> {
    let chars: Vec<(usize, char)> = spec.char_indices().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        let first = i;
        i += 1;
        let kind = match c {
            c if c.is_whitespace() => continue,
            '(' => Kind::LParen,
            ')' => Kind::RParen,
            ',' => Kind::Comma,
            '*' => Kind::Star,
            '/' => Kind::Slash,
            '+' => Kind::Plus,
            c if c.is_ascii_alphabetic() || c == '_' => {
                while i < chars.len() && (chars[i].1.is_ascii_alphanumeric() || chars[i].1 == '_') {
                    i += 1;
                }
                Kind::Name
            }
            c if c.is_ascii_digit() || c == '.' => {
                while i < chars.len() {
                    let d = chars[i].1;
                    let after_exponent = matches!(chars[i - 1].1, 'e' | 'E');
                    let sign = after_exponent && matches!(d, '+' | '-');
                    if !(d.is_ascii_digit() || matches!(d, '.' | 'e' | 'E') || sign) {
                        break;
                    }
                    i += 1;
                }
                Kind::BadNumber // refined below once the text is known
            }
            _ => Kind::Other,
        };
        let end = chars.get(i).map_or(spec.len(), |&(b, _)| b);
        let text = &spec[start..end];
        let kind = match kind {
            Kind::BadNumber => match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Kind::Number(v),
                _ => Kind::BadNumber,
            },
            k => k,
        };
        tokens.push(Token {
            kind,
            text,
            start,
            col: first + 1,
        });
    }
    tokens
}

/// One parsed term before mixture validation.
enum Item {
    Dist(Dist),
    /// A named schedule that is itself a mixture (`betalinear30`).
    Mixture(Law),
}

struct Term<'a> {
    weight: Option<(f64, Token<'a>)>,
    item: Item,
    first: Token<'a>,
    /// Source text of the item, for messages.
    text: &'a str,
}

struct Parser<'a> {
    spec: &'a str,
    tokens: Vec<Token<'a>>,
    pos: usize,
}

/// Parse and validate a spec.
pub(crate) fn parse(spec: &str) -> Result<Law, ScheduleError> {
    let mut p = Parser {
        spec,
        tokens: lex(spec),
        pos: 0,
    };
    if p.tokens.is_empty() {
        return Err(p.error_at("", 1, "empty schedule".to_string()));
    }
    let mut terms = vec![p.term()?];
    while p.eat(|k| k == Kind::Plus).is_some() {
        terms.push(p.term()?);
    }
    if let Some(tok) = p.peek() {
        let message = match tok.kind {
            Kind::RParen => "unbalanced parenthesis ')'".to_string(),
            _ => format!("unexpected trailing '{}'", tok.text),
        };
        return Err(p.error(tok, message));
    }
    p.combine(terms)
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<Token<'a>> {
        self.tokens.get(self.pos).copied()
    }

    fn eat(&mut self, want: impl Fn(Kind) -> bool) -> Option<Token<'a>> {
        let tok = self.peek().filter(|t| want(t.kind))?;
        self.pos += 1;
        Some(tok)
    }

    fn error_at(&self, token: &str, position: usize, message: String) -> ScheduleError {
        ScheduleError {
            spec: self.spec.to_string(),
            token: token.to_string(),
            position,
            message,
        }
    }

    fn error(&self, tok: Token<'_>, message: String) -> ScheduleError {
        self.error_at(tok.text, tok.col, message)
    }

    /// Error for a missing token: at the next token, or just past the end of the spec.
    fn unexpected(&self, expected: &str) -> ScheduleError {
        match self.peek() {
            Some(tok) if tok.kind == Kind::RParen => {
                self.error(tok, "unbalanced parenthesis ')'".to_string())
            }
            Some(tok) => self.error(
                tok,
                format!("unexpected '{}', expected {expected}", tok.text),
            ),
            None => self.error_at(
                "",
                self.spec.chars().count() + 1,
                format!("unexpected end of schedule, expected {expected}"),
            ),
        }
    }

    fn term(&mut self) -> Result<Term<'a>, ScheduleError> {
        let weight = self.weight()?;
        let item_first = self.peek().ok_or_else(|| self.unexpected("a schedule"))?;
        let item = self.item()?;
        let end = self.tokens[self.pos - 1];
        let text = &self.spec[item_first.start..end.start + end.text.len()];
        Ok(Term {
            weight,
            item,
            first: item_first,
            text,
        })
    }

    /// An optional `weight '*'` before an item: a positive number or fraction `a/b`.
    fn weight(&mut self) -> Result<Option<(f64, Token<'a>)>, ScheduleError> {
        let Some(first) = self.peek() else {
            return Err(self.unexpected("a schedule"));
        };
        let Kind::Number(a) = first.kind else {
            return Ok(None);
        };
        let kind_at = |k: usize| self.tokens.get(self.pos + k).map(|t| t.kind);
        let (value, tok) = match kind_at(1) {
            Some(Kind::Star) => {
                self.pos += 2;
                (a, first)
            }
            Some(Kind::Slash) => {
                let denominator = self.tokens.get(self.pos + 2).copied();
                let b = match denominator {
                    Some(Token {
                        kind: Kind::Number(b),
                        ..
                    }) => b,
                    Some(tok) if tok.kind == Kind::BadNumber => {
                        return Err(self.error(tok, format!("invalid number '{}'", tok.text)));
                    }
                    _ => {
                        self.pos += 2;
                        return Err(self.unexpected("a number after '/'"));
                    }
                };
                let last = self.tokens[self.pos + 2];
                let text = &self.spec[first.start..last.start + last.text.len()];
                let tok = Token {
                    kind: Kind::Number(a / b),
                    text,
                    start: first.start,
                    col: first.col,
                };
                if kind_at(3) != Some(Kind::Star) {
                    return Err(self.error(
                        tok,
                        format!("a fraction is allowed only as a weight, as in '{text}*cosine'"),
                    ));
                }
                if b == 0.0 {
                    return Err(self.error(tok, format!("weight '{text}' divides by zero")));
                }
                self.pos += 4;
                (a / b, tok)
            }
            _ => return Ok(None),
        };
        if value > 0.0 && value.is_finite() {
            Ok(Some((value, tok)))
        } else {
            Err(self.error(tok, format!("weight must be > 0, got '{}'", tok.text)))
        }
    }

    fn item(&mut self) -> Result<Item, ScheduleError> {
        let tok = self.peek().ok_or_else(|| self.unexpected("a schedule"))?;
        self.pos += 1;
        match tok.kind {
            Kind::Number(r) => Ok(Item::Dist(self.fixed(r, tok)?)),
            Kind::Name => {
                let args = self.args()?;
                let end = self.tokens[self.pos - 1];
                let text = &self.spec[tok.start..end.start + end.text.len()];
                self.resolve(tok, args, text)
            }
            Kind::BadNumber => Err(self.error(tok, format!("invalid number '{}'", tok.text))),
            Kind::RParen => Err(self.error(tok, "unbalanced parenthesis ')'".to_string())),
            _ => Err(self.error(
                tok,
                format!("unexpected '{}', expected a schedule", tok.text),
            )),
        }
    }

    /// Optional `'(' [number (',' number)*] ')'` after a name.
    fn args(&mut self) -> Result<Option<Vec<(f64, Token<'a>)>>, ScheduleError> {
        let Some(open) = self.eat(|k| k == Kind::LParen) else {
            return Ok(None);
        };
        let mut args = Vec::new();
        if self.eat(|k| k == Kind::RParen).is_some() {
            return Ok(Some(args));
        }
        loop {
            match self.peek() {
                Some(Token {
                    kind: Kind::Number(v),
                    ..
                }) => {
                    args.push((v, self.tokens[self.pos]));
                    self.pos += 1;
                }
                Some(tok) if tok.kind == Kind::BadNumber => {
                    return Err(self.error(tok, format!("invalid number '{}'", tok.text)));
                }
                None => return Err(self.error(open, "unbalanced parenthesis '('".to_string())),
                Some(tok) => {
                    return Err(self.error(tok, format!("expected a number, got '{}'", tok.text)));
                }
            }
            if self.eat(|k| k == Kind::Comma).is_some() {
                continue;
            }
            if self.eat(|k| k == Kind::RParen).is_some() {
                return Ok(Some(args));
            }
            return Err(match self.peek() {
                None => self.error(open, "unbalanced parenthesis '('".to_string()),
                Some(_) => self.unexpected("',' or ')'"),
            });
        }
    }

    fn resolve(
        &self,
        name: Token<'a>,
        args: Option<Vec<(f64, Token<'a>)>>,
        text: &str,
    ) -> Result<Item, ScheduleError> {
        let nums: Option<Vec<f64>> = args.as_ref().map(|a| a.iter().map(|&(v, _)| v).collect());
        let arity = |want: &str| {
            self.error_at(
                text,
                name.col,
                format!("{} takes {want}, got '{text}'", name.text),
            )
        };
        let curve = |c: Curve| match &nums {
            None => Ok(Item::Dist(Dist::Curve(c))),
            Some(_) => Err(arity("no arguments")),
        };
        match name.text {
            "linear" => curve(Curve::Linear),
            "cosine" => curve(Curve::Cosine),
            "cubic" => curve(Curve::Cubic),
            "square" => curve(Curve::Square),
            "sqrt" | "square_root" | "square_root_schedule" => curve(Curve::Sqrt),
            "betalinear30" | "beta30" if nums.is_some() => Err(arity("no arguments")),
            "betalinear30" => Ok(Item::Mixture(Law::mixture(vec![
                (0.8, Dist::Beta(Beta::new(3.0, 9.0))),
                (0.2, Dist::Uniform { lo: 0.0, hi: 1.0 }),
            ]))),
            "beta30" => Ok(Item::Dist(Dist::Beta(Beta::new(3.0, 7.0)))),
            "beta" => match nums.as_deref() {
                Some(&[a, b])
                    if (MIN_BETA_PARAM..=MAX_BETA_PARAM).contains(&a)
                        && (MIN_BETA_PARAM..=MAX_BETA_PARAM).contains(&b) =>
                {
                    Ok(Item::Dist(Dist::Beta(Beta::new(a, b))))
                }
                Some(&[a, b]) if a > 0.0 && b > 0.0 => Err(self.error_at(
                    text,
                    name.col,
                    format!(
                        "beta parameters must be between {MIN_BETA_PARAM} and {MAX_BETA_PARAM}, got '{text}'"
                    ),
                )),
                Some(&[_, _]) => Err(self.error_at(
                    text,
                    name.col,
                    format!("beta parameters must be > 0, got '{text}'"),
                )),
                _ => Err(arity("two arguments (a,b)")),
            },
            "uniform" => match nums.as_deref() {
                None => Ok(Item::Dist(Dist::Uniform { lo: 0.0, hi: 1.0 })),
                Some(&[lo, hi]) if 0.0 <= lo && lo < hi && hi <= 1.0 => {
                    Ok(Item::Dist(Dist::Uniform { lo: lo + 0.0, hi }))
                }
                Some(&[_, _]) => Err(self.error_at(
                    text,
                    name.col,
                    format!("uniform bounds must satisfy 0 <= lo < hi <= 1, got '{text}'"),
                )),
                _ => Err(arity("no arguments or two (lo,hi)")),
            },
            "fixed" => match args.as_deref() {
                Some(&[(r, tok)]) => Ok(Item::Dist(self.fixed(r, tok)?)),
                _ => Err(arity("one argument (r)")),
            },
            "discrete" => match nums.as_deref() {
                Some(&[n]) if n >= 1.0 && n.fract() == 0.0 && n <= f64::from(u32::MAX) => {
                    Ok(Item::Dist(Dist::Discrete(n as u32)))
                }
                Some(&[_]) => Err(self.error_at(
                    text,
                    name.col,
                    format!(
                        "discrete(n) needs an integer n >= 1 (at most {}), got '{text}'",
                        u32::MAX
                    ),
                )),
                _ => Err(arity("one argument (n)")),
            },
            other => Err(self.error(
                name,
                format!(
                    "unknown schedule '{other}' (expected one of {})",
                    super::known_forms()
                ),
            )),
        }
    }

    /// A point mass at the number `tok`.
    fn fixed(&self, r: f64, tok: Token<'_>) -> Result<Dist, ScheduleError> {
        if (0.0..=1.0).contains(&r) {
            Ok(Dist::Fixed(r + 0.0))
        } else {
            Err(self.error(tok, format!("rate {} outside [0,1]", tok.text)))
        }
    }

    /// Validate the terms and build the law: a single schedule or a weighted mixture.
    fn combine(&self, mut terms: Vec<Term<'a>>) -> Result<Law, ScheduleError> {
        let first = terms[0].weight.map_or(terms[0].first, |(_, tok)| tok);
        let last = self.tokens[self.tokens.len() - 1];
        let whole = &self.spec[first.start..last.start + last.text.len()];
        if terms.len() == 1 && terms[0].weight.is_none() {
            return Ok(terms.remove(0).item.into_law());
        }
        let mut parts = Vec::with_capacity(terms.len());
        for term in &terms {
            let Some((w, _)) = term.weight else {
                return Err(self.error_at(
                    term.text,
                    term.first.col,
                    format!(
                        "mixture component '{0}' needs a weight, as in 'w*{0}'",
                        term.text
                    ),
                ));
            };
            parts.push(w);
        }
        let sum: f64 = parts.iter().sum();
        if (sum - 1.0).abs() > WEIGHT_SUM_TOL {
            return Err(self.error_at(
                whole,
                first.col,
                format!(
                    "weights sum to {}, not 1 (within {WEIGHT_SUM_TOL:e})",
                    short(sum)
                ),
            ));
        }
        if terms.len() == 1 {
            return Ok(terms.remove(0).item.into_law());
        }
        if (sum - 1.0).abs() > AS_WRITTEN_TOL {
            parts = normalise(&parts, sum).ok_or_else(|| {
                self.error_at(
                    whole,
                    first.col,
                    "weights cannot be normalised to sum to exactly 1; \
                     give weights that sum to 1"
                        .to_string(),
                )
            })?;
        }
        let mut dists = Vec::with_capacity(terms.len());
        for (term, w) in terms.into_iter().zip(parts) {
            match term.item {
                Item::Dist(d) => dists.push((w, d)),
                Item::Mixture(_) => {
                    return Err(self.error_at(
                        term.text,
                        term.first.col,
                        format!(
                            "'{}' is a mixture and cannot be a mixture component",
                            term.text
                        ),
                    ));
                }
            }
        }
        Ok(Law::mixture(dists))
    }
}

impl Item {
    fn into_law(self) -> Law {
        match self {
            Item::Dist(d) => Law::Single(d),
            Item::Mixture(law) => law,
        }
    }
}

/// The weights divided by their sum, the last one then moved by at most a few ulps so
/// that they sum (left to right, as `Law::mixture` sums them) to exactly 1.0: re-parsed from
/// the canonical form they are then used as written, so the law is the same bit for bit.
/// `None` in the (theoretical) case where no positive last weight does that.
pub(super) fn normalise(weights: &[f64], sum: f64) -> Option<Vec<f64>> {
    let mut shares: Vec<f64> = weights.iter().map(|w| w / sum).collect();
    let (last, rest) = shares.split_last_mut()?;
    let head: f64 = rest.iter().sum();
    if head + *last != 1.0 {
        // Exact when head >= 0.5 (Sterbenz), else within half an ulp of 1 - head, whose
        // sum with head rounds to 1; the loop only guards that reasoning.
        let mut x = 1.0 - head;
        for _ in 0..4 {
            match (head + x).partial_cmp(&1.0)? {
                std::cmp::Ordering::Equal => break,
                std::cmp::Ordering::Less => x = x.next_up(),
                std::cmp::Ordering::Greater => x = x.next_down(),
            }
        }
        *last = x;
    }
    (head + *last == 1.0 && *last > 0.0).then_some(shares)
}

/// A sum of weights for a message: 12 significant decimals, trailing zeros dropped.
fn short(x: f64) -> String {
    let s = format!("{x:.12}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}
