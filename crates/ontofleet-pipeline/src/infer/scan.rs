//! The tokenizer and the match finders behind the public parsers.
//!
//! Text is turned into a `Vec<char>` and tokens that carry *char* positions, so nothing ever
//! slices a `str` at a byte offset that could split a character. Every finder returns all its
//! matches with their token span, so the inference can pick the one nearest to a cue word.

use chrono::NaiveDate;

use super::DateOrder;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A run of alphabetic characters, lower-cased.
    Word,
    /// A run of ASCII digits (separators are separate tokens, so `1,200.5` is five tokens).
    Num,
    /// Any other single non-space character; `\n` is kept so that matches never cross lines.
    Sym,
}

#[derive(Debug, Clone)]
pub(super) struct Tok {
    pub kind: Kind,
    pub text: String,
    /// Char positions `[start, end)` in the text.
    pub start: usize,
    pub end: usize,
}

/// One match: its value and its token span `[start, end)`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Found<T> {
    pub value: T,
    pub start: usize,
    pub end: usize,
}

/// A number read from tokens; `end` is the token after it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Number {
    pub value: f64,
    pub integral: bool,
    pub frac_digits: usize,
    pub end: usize,
}

const CURRENCY_SYMBOLS: &[&str] = &["$", "€", "£", "¥", "₹"];
const CURRENCY_CODES: &[&str] = &[
    "usd", "eur", "gbp", "cad", "aud", "nzd", "chf", "jpy", "inr", "sgd",
];
// "pounds" is left out on purpose: "50 pounds of flour" is a weight far more often than money.
const CURRENCY_AFTER: &[&str] = &[
    "dollars", "dollar", "bucks", "euros", "euro", "usd", "eur", "gbp", "cad", "aud", "nzd", "chf",
    "jpy", "inr", "sgd",
];
pub(super) const HOUR_UNITS: &[&str] = &["h", "hr", "hrs", "hour", "hours"];
pub(super) const MINUTE_UNITS: &[&str] = &["m", "min", "mins", "minute", "minutes"];
pub(super) const DAY_UNITS: &[&str] = &["d", "day", "days"];
pub(super) const WEEK_UNITS: &[&str] = &["w", "wk", "wks", "week", "weeks"];
// From "two" (= 2): "one day we should…" is an idiom far more often than a duration.
const NUMBER_WORDS: &[&str] = &[
    "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
/// Amounts beyond this are typos or IDs, not money.
const MAX_AMOUNT: f64 = 1e15;

/// A tokenized text.
pub(super) struct Scan {
    pub chars: Vec<char>,
    pub toks: Vec<Tok>,
}

impl Scan {
    pub fn new(text: &str) -> Self {
        let chars: Vec<char> = text.chars().collect();
        let mut toks = Vec::new();
        let mut i = 0;
        while let Some(&c) = chars.get(i) {
            let start = i;
            let kind = if c.is_alphabetic() {
                while chars.get(i).is_some_and(|c| c.is_alphabetic()) {
                    i += 1;
                }
                Kind::Word
            } else if c.is_ascii_digit() {
                while chars.get(i).is_some_and(char::is_ascii_digit) {
                    i += 1;
                }
                Kind::Num
            } else {
                i += 1;
                if c.is_whitespace() && c != '\n' {
                    continue;
                }
                Kind::Sym
            };
            let text = chars[start..i]
                .iter()
                .flat_map(|c| c.to_lowercase())
                .collect();
            toks.push(Tok {
                kind,
                text,
                start,
                end: i,
            });
        }
        Self { chars, toks }
    }

    fn kind(&self, i: usize) -> Option<Kind> {
        self.toks.get(i).map(|t| t.kind)
    }

    /// Tokens `a` and `b` touch (no space between them).
    pub fn adj(&self, a: usize, b: usize) -> bool {
        matches!((self.toks.get(a), self.toks.get(b)), (Some(x), Some(y)) if x.end == y.start)
    }

    pub fn word_in(&self, i: usize, words: &[&str]) -> bool {
        self.toks
            .get(i)
            .is_some_and(|t| t.kind == Kind::Word && words.contains(&t.text.as_str()))
    }

    pub fn sym_in(&self, i: usize, syms: &[&str]) -> bool {
        self.toks
            .get(i)
            .is_some_and(|t| t.kind == Kind::Sym && syms.contains(&t.text.as_str()))
    }

    fn is_currency_marker(&self, i: usize) -> bool {
        self.sym_in(i, CURRENCY_SYMBOLS) || self.word_in(i, CURRENCY_CODES)
    }

    /// A number may start at `i`: it does not continue a word (`v2`), a bigger number (`1.5`,
    /// `1,200`, `10:30`, `3/4`) or a range (`150-200`), which would all be misread.
    pub fn clean_start(&self, i: usize) -> bool {
        if i == 0 || !self.adj(i - 1, i) {
            return true;
        }
        match self.kind(i - 1) {
            Some(Kind::Sym) => {
                let joins = self.sym_in(i - 1, &[".", ",", ":", "/", "-", "–", "—"]);
                !(joins && i >= 2 && self.kind(i - 2) == Some(Kind::Num) && self.adj(i - 2, i - 1))
            }
            _ => false,
        }
    }

    /// Reads `1200`, `1,200`, `1.5`, `1,200.50` at token `i`.
    pub fn number(&self, i: usize) -> Option<Number> {
        let first = self.toks.get(i).filter(|t| t.kind == Kind::Num)?;
        let mut digits = first.text.clone();
        let mut end = i + 1;
        let num_follows = |j: usize| {
            self.adj(j - 1, j) && self.kind(j + 1) == Some(Kind::Num) && self.adj(j, j + 1)
        };
        if first.text.len() <= 3 {
            while self.sym_in(end, &[","]) && num_follows(end) && self.toks[end + 1].text.len() == 3
            {
                digits.push_str(&self.toks[end + 1].text);
                end += 2;
            }
        }
        let mut frac = "";
        if self.sym_in(end, &["."]) && num_follows(end) {
            frac = &self.toks[end + 1].text;
            end += 2;
        }
        if digits.len() > 15 || frac.len() > 9 {
            return None;
        }
        let value: f64 = if frac.is_empty() {
            digits.parse().ok()?
        } else {
            format!("{digits}.{frac}").parse().ok()?
        };
        Some(Number {
            value,
            integral: frac.is_empty(),
            frac_digits: frac.len(),
            end,
        })
    }

    /// A number, or a small number word (`two weeks`), at `i`.
    fn quantity(&self, i: usize) -> Option<Number> {
        if let Some(t) = self.toks.get(i).filter(|t| t.kind == Kind::Word) {
            let value = NUMBER_WORDS.iter().position(|w| *w == t.text)? as f64 + 2.0;
            return Some(Number {
                value,
                integral: true,
                frac_digits: 0,
                end: i + 1,
            });
        }
        self.number(i)
    }

    /// `k`, `M`, `bn` glued to the number, or `thousand`/`million`/`billion` after it.
    pub fn multiplier(&self, e: usize) -> (f64, usize) {
        let Some(t) = self.toks.get(e).filter(|t| t.kind == Kind::Word) else {
            return (1.0, e);
        };
        let glued = e > 0 && self.adj(e - 1, e);
        let m = match t.text.as_str() {
            "k" if glued => 1e3,
            "m" | "mm" if glued => 1e6,
            "b" if glued => 1e9,
            "thousand" => 1e3,
            "million" | "mil" | "mn" => 1e6,
            "billion" | "bn" => 1e9,
            _ => return (1.0, e),
        };
        (m, e + 1)
    }

    /// Every money amount: `$80k`, `€2,500`, `USD 1,500`, `1500 dollars`, `2500 €`.
    pub fn amounts(&self) -> Vec<Found<f64>> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.toks.len() {
            match self.amount_at(i) {
                Some(f) => {
                    i = f.end;
                    out.push(f);
                }
                None => i += 1,
            }
        }
        out
    }

    fn amount_at(&self, i: usize) -> Option<Found<f64>> {
        let prefixed = self.is_currency_marker(i);
        let at = if prefixed { i + 1 } else { i };
        if !prefixed && !self.clean_start(i) {
            return None;
        }
        let n = self.number(at)?;
        let (mult, mut end) = self.multiplier(n.end);
        if prefixed {
            if self.word_in(end, CURRENCY_AFTER) {
                end += 1;
            }
        } else if self.word_in(end, CURRENCY_AFTER) || self.sym_in(end, CURRENCY_SYMBOLS) {
            end += 1;
        } else {
            return None;
        }
        // `€2.500` is 2500 in much of Europe and 2.5 elsewhere: refuse to guess.
        if n.frac_digits == 3 && mult == 1.0 {
            return None;
        }
        let value = (n.value * mult * 100.0).round() / 100.0;
        (value.is_finite() && value <= MAX_AMOUNT).then_some(Found {
            value,
            start: i,
            end,
        })
    }

    /// The token after a unit word at `e` (`h` and `m` only when glued to the number, since
    /// `5 m` is metres), also `30-minute`.
    fn unit_after(&self, e: usize, units: &[&str]) -> Option<usize> {
        let t = self.toks.get(e)?;
        if t.kind == Kind::Sym && t.text == "-" && self.adj(e - 1, e) && self.adj(e, e + 1) {
            let long = self.toks.get(e + 1)?.text.len() > 2;
            return (long && self.word_in(e + 1, units)).then_some(e + 2);
        }
        let short = t.text.chars().count() == 1;
        (self.word_in(e, units) && (!short || self.adj(e - 1, e))).then_some(e + 1)
    }

    /// A number that is not money (no currency marker right before it) and not a range part.
    fn plain_quantity(&self, i: usize) -> Option<Number> {
        if !self.clean_start(i) || (i > 0 && self.is_currency_marker(i - 1)) {
            return None;
        }
        self.quantity(i)
    }

    /// Every duration in minutes: `2h 30m`, `1h30`, `90 min`, `1.5 hours`, `two hours`.
    pub fn durations(&self) -> Vec<Found<i64>> {
        self.find_all(|i| {
            let q = self.plain_quantity(i)?;
            if let Some(mut end) = self.unit_after(q.end, HOUR_UNITS) {
                let mut minutes = q.value * 60.0;
                let k = if self.word_in(end, &["and"]) || self.sym_in(end, &[","]) {
                    end + 1
                } else {
                    end
                };
                if let Some(m) = self.number(k).filter(|m| m.integral && m.value < 60.0) {
                    if let Some(e) = self.unit_after(m.end, MINUTE_UNITS) {
                        minutes += m.value;
                        end = e;
                    } else if k == end && self.adj(end - 1, end) && !self.adj(m.end - 1, m.end) {
                        // `1h30`: bare minutes glued to the hour unit.
                        minutes += m.value;
                        end = m.end;
                    }
                }
                return Some((minutes.round() as i64, end));
            }
            // Fractional minutes are almost always millions (`2.5m users`), not time.
            let end = self
                .unit_after(q.end, MINUTE_UNITS)
                .filter(|_| q.integral)?;
            Some((q.value as i64, end))
        })
    }

    /// Every whole `N <unit>` (`14 days`, `3-day`, `two weeks`).
    pub fn spans(&self, units: &[&str]) -> Vec<Found<i64>> {
        self.find_all(|i| {
            let q = self.plain_quantity(i).filter(|q| q.integral)?;
            let end = self.unit_after(q.end, units)?;
            Some((q.value as i64, end))
        })
    }

    /// Every whole `N <noun>` (`200 guests`, `1,200+ attendees`, `5-person`).
    pub fn counts(&self, nouns: &[String]) -> Vec<Found<i64>> {
        let nouns: Vec<&str> = nouns.iter().map(String::as_str).collect();
        self.find_all(|i| {
            if self.kind(i) != Some(Kind::Num) {
                return None;
            }
            let q = self.plain_quantity(i).filter(|q| q.integral)?;
            let mut e = q.end;
            if self.sym_in(e, &["+"]) && self.adj(e - 1, e) {
                e += 1;
            }
            if self.sym_in(e, &["-"]) && self.adj(e - 1, e) && self.adj(e, e + 1) {
                e += 1;
            }
            self.word_in(e, &nouns).then_some((q.value as i64, e + 1))
        })
    }

    /// Left-to-right, non-overlapping matches of `at`, which returns a value and the end token.
    fn find_all<T>(&self, at: impl Fn(usize) -> Option<(T, usize)>) -> Vec<Found<T>> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.toks.len() {
            match at(i) {
                Some((value, end)) if end > i => {
                    out.push(Found {
                        value,
                        start: i,
                        end,
                    });
                    i = end;
                }
                _ => i += 1,
            }
        }
        out
    }

    fn month(&self, i: usize) -> Option<(u32, usize)> {
        let t = self.toks.get(i).filter(|t| t.kind == Kind::Word)?;
        // Full names and three-letter abbreviations, plus "sept".
        let abbreviation = t.text.len() == 3 || t.text == "sept";
        let m = MONTHS
            .iter()
            .position(|name| *name == t.text || (abbreviation && name.starts_with(&t.text)))?;
        let m = m as u32 + 1;
        let dot = self.sym_in(i + 1, &["."]) && self.adj(i, i + 1);
        Some((m, if dot { i + 2 } else { i + 1 }))
    }

    fn digits(&self, i: usize, min: usize, max: usize) -> Option<u32> {
        let t = self.toks.get(i).filter(|t| t.kind == Kind::Num)?;
        (min..=max)
            .contains(&t.text.len())
            .then(|| t.text.parse().ok())
            .flatten()
    }

    fn day(&self, i: usize) -> Option<(u32, usize)> {
        let d = self.digits(i, 1, 2)?;
        let ordinal = self.word_in(i + 1, &["st", "nd", "rd", "th"]) && self.adj(i, i + 1);
        Some((d, if ordinal { i + 2 } else { i + 1 }))
    }

    fn comma(&self, i: usize) -> usize {
        if self.sym_in(i, &[","]) { i + 1 } else { i }
    }

    /// Every date; a date-shaped match that is not a real day (Feb 30) yields nothing.
    pub fn dates(&self, order: DateOrder) -> Vec<Found<NaiveDate>> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.toks.len() {
            match self.date_at(i, order) {
                Some((date, end)) => {
                    if let Some(value) = date {
                        out.push(Found {
                            value,
                            start: i,
                            end,
                        });
                    }
                    i = end;
                }
                None => i += 1,
            }
        }
        out
    }

    /// A date shape at `i`: the date if it is valid, and the token after the shape.
    fn date_at(&self, i: usize, order: DateOrder) -> Option<(Option<NaiveDate>, usize)> {
        let ymd = |y: u32, m: u32, d: u32| NaiveDate::from_ymd_opt(y as i32, m, d);
        let year = |j: usize| self.digits(j, 4, 4).filter(|y| *y >= 1000);
        if let Some((m, j)) = self.month(i) {
            // `June 20, 2026`, `Jun 20th 2026`, `June 2026`; a day without a year is no date.
            if let Some((d, k)) = self.day(j) {
                let k = self.comma(k);
                let y = year(k)?;
                return Some((ymd(y, m, d), k + 1));
            }
            let k = self.comma(j);
            return Some((ymd(year(k)?, m, 1), k + 1));
        }
        if self.kind(i) != Some(Kind::Num) || !self.clean_start(i) {
            return None;
        }
        let glued_sep = |j: usize, seps: &[&str]| {
            self.sym_in(j, seps) && self.adj(j - 1, j) && self.adj(j, j + 1)
        };
        // ISO `2026-06-20` (also with `/`).
        if let Some(y) = year(i)
            && glued_sep(i + 1, &["-", "/"])
            && let Some(m) = self.digits(i + 2, 1, 2)
            && glued_sep(i + 3, &[self.toks[i + 1].text.as_str()])
            && let Some(d) = self.digits(i + 4, 1, 2)
        {
            return Some((ymd(y, m, d), i + 5));
        }
        // Numeric `20/06/2026` or `06/20/2026`: the order decides unless one reading is impossible.
        if let Some(a) = self.digits(i, 1, 2)
            && glued_sep(i + 1, &["/", ".", "-"])
            && let Some(b) = self.digits(i + 2, 1, 2)
            && glued_sep(i + 3, &[self.toks[i + 1].text.as_str()])
            && let Some(y) = year(i + 4)
        {
            let (m, d) = match order {
                DateOrder::MonthFirst if a <= 12 => (a, b),
                DateOrder::DayFirst if b > 12 => (a, b),
                _ => (b, a),
            };
            return Some((ymd(y, m, d), i + 5));
        }
        // `20 June 2026`, `20th of June, 2026`.
        let (d, j) = self.day(i)?;
        let j = if self.word_in(j, &["of"]) { j + 1 } else { j };
        let (m, k) = self.month(j)?;
        let k = self.comma(k);
        Some((ymd(year(k)?, m, d), k + 1))
    }

    /// Every `http(s)://` URL, trailing punctuation removed.
    pub fn urls(&self) -> Vec<String> {
        let c = &self.chars;
        let mut out = Vec::new();
        let mut i = 0;
        while i < c.len() {
            let starts = |p: &str| {
                p.chars()
                    .enumerate()
                    .all(|(k, pc)| c.get(i + k).is_some_and(|x| x.to_ascii_lowercase() == pc))
            };
            let scheme = if starts("https://") {
                8
            } else if starts("http://") {
                7
            } else {
                0
            };
            if scheme == 0 || (i > 0 && c[i - 1].is_alphanumeric()) {
                i += 1;
                continue;
            }
            let mut j = i + scheme;
            while c
                .get(j)
                .is_some_and(|x| !x.is_whitespace() && !"<>\"'`{}|\\^".contains(*x))
            {
                j += 1;
            }
            let mut end = j;
            // A `)` closing a paren opened before the URL is prose, not part of the URL.
            let opens = c[i..j].iter().filter(|x| **x == '(').count();
            let mut closes = c[i..j].iter().filter(|x| **x == ')').count();
            while end > i + scheme {
                let last = c[end - 1];
                if ".,;:!?]".contains(last) || (last == ')' && closes > opens) {
                    closes -= usize::from(last == ')');
                    end -= 1;
                } else {
                    break;
                }
            }
            if c.get(i + scheme).is_some_and(|x| x.is_alphanumeric()) {
                out.push(c[i..end].iter().collect());
            }
            i = j.max(i + 1);
        }
        out
    }

    /// For each `label words` followed by `:` or `=`: (label start token, token after the colon).
    pub fn labels(&self, words: &[&str]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        if words.is_empty() {
            return out;
        }
        for i in 0..self.toks.len() {
            let mut k = i;
            let matched = words.iter().enumerate().all(|(n, w)| {
                if n > 0 && self.sym_in(k, &["_", "-"]) {
                    k += 1;
                }
                let ok = self.word_in(k, &[w]);
                k += 1;
                ok
            });
            if matched && self.sym_in(k, &[":", "="]) {
                out.push((i, k + 1));
            }
        }
        out
    }

    /// The text from char `from` to the end of its line or sentence, trimmed.
    pub fn clause(&self, from: usize) -> String {
        let c = &self.chars;
        let mut end = from.min(c.len());
        while let Some(&x) = c.get(end) {
            let sentence_end =
                ".!?".contains(x) && c.get(end + 1).is_none_or(|n| n.is_whitespace());
            if x == '\n' || sentence_end {
                break;
            }
            end += 1;
        }
        c[from.min(end)..end]
            .iter()
            .collect::<String>()
            .trim()
            .to_owned()
    }

    /// The lines after the line holding char `from`, while they are bullet lines.
    pub fn bullets_after(&self, from: usize) -> Vec<String> {
        let rest: String = self.chars.iter().skip(from).collect();
        rest.lines()
            .skip(1)
            .map(bullet_item)
            .take_while(Option::is_some)
            .flatten()
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// The content of a bullet line (`- a`, `* a`, `• a`, `1. a`, `2) a`), or `None`.
pub(super) fn bullet_item(line: &str) -> Option<String> {
    let t = line.trim();
    let mut chars = t.chars();
    let first = chars.next()?;
    let rest = if "-*•–".contains(first) {
        chars.as_str()
    } else if first.is_ascii_digit() {
        let after_digits = t.trim_start_matches(|c: char| c.is_ascii_digit());
        after_digits
            .strip_prefix('.')
            .or_else(|| after_digits.strip_prefix(')'))?
    } else {
        return None;
    };
    rest.starts_with(char::is_whitespace)
        .then(|| clean_item(rest))
}

/// An item with surrounding space and stray punctuation removed.
pub(super) fn clean_item(s: &str) -> String {
    s.trim()
        .trim_matches(|c: char| ".,;:".contains(c) || c.is_whitespace())
        .to_owned()
}
