//! Property inference (SPEC §5.3): deterministic parsers that turn free text from a legacy
//! entity's description and details into the typed props a template schema asks for, and the
//! validation of props against that schema with auto-repair of missing required props.
//!
//! Everything here is pure (no IO) and total: no input makes a parser panic, and text is handled
//! as chars, never sliced at byte offsets. Inference is *conservative*: when the text is
//! ambiguous (two amounts and no cue word, two guest counts, a deadline without "due"/"by"),
//! nothing is inferred rather than something wrong.
//!
//! Durations are minutes and hours only: `1 day` has no single meaning in minutes (8 working
//! hours? 24?), so [`parse_duration_minutes`] returns `None` for it; `duration_days` and
//! `duration_weeks` props read `N days` / `N weeks` directly instead.

mod number;
mod scan;
#[cfg(test)]
mod tests;
mod validate;

use chrono::NaiveDate;
use serde_json::{Map, Value};

use self::number::{
    JUST_BEFORE, TIGHT, char_after, count_nouns, infer_number, labelled, nearest, noun_forms,
};
use self::scan::{Found, Scan, clean_item};
pub use self::validate::{Invalid, Repair, Validation, validate};

/// How an all-numeric date like `06/07/2026` is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DateOrder {
    /// `MM/DD/YYYY` (US); the default.
    #[default]
    MonthFirst,
    /// `DD/MM/YYYY`.
    DayFirst,
}

/// The first money amount in `text`: `$80k` → 80000, `$1.2M` → 1200000, `€2,500` → 2500,
/// `£300`, `USD 1,500`, `1500 dollars`, `$2.5 million`, `$3bn`. Rounded to cents. A number
/// without a currency symbol, code or word is not money; `€2.500` (ambiguous between 2.5 and
/// 2500) is refused.
pub fn parse_currency(text: &str) -> Option<f64> {
    Scan::new(text).amounts().first().map(|f| f.value)
}

/// The first whole number directly followed by one of `nouns` (singular or plural, any case):
/// `200 guests`, `1,200 attendees`, `1,200+ attendees`, `a 5-person team`. Money (`$200 guests`)
/// and ranges (`150-200 guests`) do not count.
pub fn parse_count(text: &str, nouns: &[&str]) -> Option<i64> {
    let forms: Vec<String> = nouns.iter().flat_map(|n| noun_forms(n)).collect();
    Scan::new(text).counts(&forms).first().map(|f| f.value)
}

/// A text that is just a whole number (`200`, ` 1,200 `), as for a field holding only a count.
pub fn parse_bare_count(text: &str) -> Option<i64> {
    let scan = Scan::new(text);
    let n = scan.number(0).filter(|n| n.integral)?;
    (n.end == scan.toks.len()).then_some(n.value as i64)
}

/// The first date in `text`: `June 20, 2026`, `Jun 20th 2026`, `20 June 2026`, `2026-06-20`,
/// `20/06/2026` or `06/20/2026` (by `order`; a reading whose month would exceed 12 is not
/// possible, so the other one is taken), and `June 2026` → the 1st. Years have four digits; a
/// month and day without a year is no date; an impossible day (Feb 30) is `None`.
pub fn parse_date(text: &str, order: DateOrder) -> Option<NaiveDate> {
    Scan::new(text).dates(order).first().map(|f| f.value)
}

/// The first duration in `text`, in minutes: `2h 30m` → 150, `2h30`, `90 min`, `1.5 hours` →
/// 90, `2 hrs`, `45m`, `two hours`, `30-minute`. Only hours and minutes (see the module doc);
/// fractional minutes (`2.5m`, usually millions) are refused.
pub fn parse_duration_minutes(text: &str) -> Option<i64> {
    Scan::new(text).durations().first().map(|f| f.value)
}

/// A list of at least two items: bullet lines (`- a`, `* a`, `1. a`), or items separated by
/// `,` `;` newlines, a spaced `+` or `&` (`C++` and `R&D` stay whole) or the word `and`
/// (`a, b, and c`). Items are trimmed, empty ones dropped, repeats (any case) dropped. A single
/// item is `None`.
pub fn parse_list(text: &str) -> Option<Vec<String>> {
    let bullets: Vec<String> = text.lines().filter_map(scan::bullet_item).collect();
    let raw = if bullets.len() >= 2 {
        bullets
    } else {
        split_inline(text)
    };
    let mut items: Vec<String> = Vec::new();
    for item in raw.iter().map(|s| clean_item(s)) {
        if !item.is_empty()
            && !items
                .iter()
                .any(|x| x.to_lowercase() == item.to_lowercase())
        {
            items.push(item);
        }
    }
    (items.len() >= 2).then_some(items)
}

fn split_inline(text: &str) -> Vec<String> {
    let c: Vec<char> = text.chars().collect();
    let space = |i: usize| c.get(i).is_none_or(|x| x.is_whitespace());
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut i = 0;
    while let Some(&x) = c.get(i) {
        let spaced = i > 0 && space(i - 1);
        let and = spaced
            && c.get(i..i + 3)
                .is_some_and(|w| w.iter().flat_map(|x| x.to_lowercase()).eq("and".chars()))
            && space(i + 3);
        if and {
            items.push(std::mem::take(&mut cur));
            i += 3;
            continue;
        }
        if ",;\n".contains(x) || ("+&".contains(x) && spaced && space(i + 1)) {
            items.push(std::mem::take(&mut cur));
        } else {
            cur.push(x);
        }
        i += 1;
    }
    items.push(cur);
    items
}

/// Infers, from `text` (the entity's description and details), a value for every property of
/// `schema` that `existing` does not already hold (non-null), and returns only the inferred
/// ones. Cues (the property's type, format and name):
///
/// - money (`number` named with budget/price/rate/revenue/fee/cost/salary/amount/contract): a
///   currency amount, the one nearest to a cue word from the name (`ticket_price` → "ticket",
///   "price"); without a cue only if it is the schema's only money prop and the text's only amount;
/// - counts (`*_count`, `*_size`, `*_users`, `*_customers`): `N <noun>` with nouns from the name
///   (`guest_count` → guests, people; `team_size` → people, members, engineers…), `<label>: N`
///   and `<team> of N`; several different values need a qualifier cue (`target`, `current`);
/// - `*duration_minutes`: the first duration (`estimated_`/`actual_` need "estimated"/"took"…);
///   `duration_days`: `N days` or `N weeks` × 7; `duration_weeks`: `N weeks`;
/// - `*_number`: `sprint 4`, `phase #2`;
/// - `format: date`: the date nearest to a cue from the name (`deadline`/`due_date` → "due",
///   "deadline", and "by"/"before" just before the date; `start_date` → "start", "from"; …);
///   `event_date`, `meeting_date`, `interview_date`, `demo_date` fall back to the first date;
/// - `format: uri`: the first http(s) URL matching the name (`repository_url` → github.com…,
///   `meeting_link` → zoom.us…), or the only URL when the name gives no hint;
/// - arrays of strings: a list after `<name>:` (or bullet lines under it); `tech_stack` also
///   after "stack:", "using", "built with";
/// - other numbers and plain strings: an explicit `<name>: value` label (an `enum` value must
///   match); `description` and `title` are never inferred;
/// - nested objects with `properties` (plan `schedule`): inferred recursively.
pub fn infer_props(
    schema: &Value,
    text: &str,
    existing: &Map<String, Value>,
    order: DateOrder,
) -> Map<String, Value> {
    let scan = Scan::new(text);
    let cx = Cx {
        amounts: scan.amounts(),
        dates: scan.dates(order),
        durations: scan.durations(),
        urls: scan.urls(),
        scan,
    };
    infer_object(schema, existing, &cx, 0)
}

struct Cx {
    scan: Scan,
    amounts: Vec<Found<f64>>,
    dates: Vec<Found<NaiveDate>>,
    durations: Vec<Found<i64>>,
    urls: Vec<String>,
}

/// Facts about the sibling props that decide how much evidence one prop needs.
struct Siblings {
    money: usize,
    /// Noun lists used by more than one count prop (`current_word_count`, `target_word_count`).
    shared_nouns: Vec<Vec<String>>,
}

const MONEY_WORDS: &[&str] = &[
    "budget", "price", "rate", "revenue", "fee", "cost", "salary", "amount", "contract",
];

fn infer_object(
    schema: &Value,
    existing: &Map<String, Value>,
    cx: &Cx,
    depth: usize,
) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return out;
    };
    if cx.scan.toks.is_empty() || depth > 8 {
        return out;
    }
    let all_nouns: Vec<Vec<String>> = props.keys().filter_map(|n| count_nouns(n)).collect();
    let siblings = Siblings {
        money: props.iter().filter(|(n, s)| is_money(n, s)).count(),
        shared_nouns: all_nouns
            .iter()
            .filter(|n| all_nouns.iter().filter(|m| m == n).count() > 1)
            .cloned()
            .collect(),
    };
    for (name, spec) in props {
        if existing.get(name).is_some_and(|v| !v.is_null()) {
            continue;
        }
        if let Some(v) = infer_one(name, spec, cx, &siblings, depth) {
            out.insert(name.clone(), v);
        }
    }
    out
}

fn type_of(spec: &Value) -> &str {
    match spec.get("type") {
        Some(Value::String(t)) => t,
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or(""),
        _ => "",
    }
}

fn segments(name: &str) -> Vec<&str> {
    name.split('_').filter(|s| !s.is_empty()).collect()
}

fn is_money(name: &str, spec: &Value) -> bool {
    matches!(type_of(spec), "number" | "integer")
        && segments(name).iter().any(|s| MONEY_WORDS.contains(s))
}

fn infer_one(name: &str, spec: &Value, cx: &Cx, sib: &Siblings, depth: usize) -> Option<Value> {
    let format = spec.get("format").and_then(Value::as_str);
    match (type_of(spec), format) {
        (ty @ ("number" | "integer"), _) => {
            let v = infer_number(name, cx, sib)?;
            if ty == "number" && v.fract() != 0.0 {
                return serde_json::Number::from_f64(v).map(Value::Number);
            }
            (v.fract() == 0.0 && v.abs() < 9e15).then(|| Value::from(v as i64))
        }
        ("string", Some("date")) => infer_date(name, cx).map(|d| Value::from(d.to_string())),
        ("string", Some("uri")) => infer_uri(name, cx).map(Value::from),
        ("string", None) if !matches!(name, "description" | "title") => {
            let s = labelled(cx, name, |from| {
                Some(cx.scan.clause(char_after(cx, from))).filter(|s| !s.is_empty())
            })
            .filter(|s| s.chars().count() <= 200)?;
            let Some(allowed) = spec.get("enum").and_then(Value::as_array) else {
                return Some(Value::from(s));
            };
            let key: String = s
                .to_lowercase()
                .chars()
                .map(|c| if c == ' ' || c == '-' { '_' } else { c })
                .collect();
            allowed
                .iter()
                .find(|a| a.as_str() == Some(key.as_str()))
                .cloned()
        }
        ("array", _) if spec.pointer("/items/type").and_then(Value::as_str) == Some("string") => {
            infer_list(name, cx).map(Value::from)
        }
        ("object", _) => {
            let nested = infer_object(spec, &Map::new(), cx, depth + 1);
            (!nested.is_empty()).then_some(Value::Object(nested))
        }
        _ => None,
    }
}

fn infer_date(name: &str, cx: &Cx) -> Option<NaiveDate> {
    let segs = segments(name);
    let (mut strong, weak): (Vec<&str>, &[&str]) = match segs.as_slice() {
        ["deadline"] | ["due", "date"] => (vec!["deadline", "due"], &["by", "before"]),
        ["start", "date"] => (
            vec!["start", "starts", "starting", "begin", "begins", "kickoff"],
            &["from"],
        ),
        ["end", "date"] => (
            vec!["end", "ends", "ending", "finish", "finishes"],
            &["until", "till", "through", "to"],
        ),
        ["launch", "date"] => (
            vec!["launch", "launches", "launching", "release", "live"],
            &[],
        ),
        _ => (Vec::new(), &[]),
    };
    // Other names cue on their own words: `demo_date` → "demo", `rsvp_deadline` → "rsvp".
    let inflected: Vec<String> = if strong.is_empty() {
        segs.iter()
            .filter(|s| !matches!(**s, "date" | "of" | "deadline"))
            .flat_map(|s| ["", "s", "ed", "ing", "ment"].map(|end| format!("{s}{end}")))
            .collect()
    } else {
        Vec::new()
    };
    if strong.is_empty() {
        strong = inflected.iter().map(String::as_str).collect();
    }
    // A strong cue ("due") outranks a weak one ("by") wherever they are.
    let best = nearest(&cx.scan, &cx.dates, &strong, TIGHT)
        .or_else(|| nearest(&cx.scan, &cx.dates, weak, JUST_BEFORE));
    if let Some((_, f)) = best {
        return Some(f.value);
    }
    let happens_on = matches!(
        segs.first(),
        Some(&("event" | "meeting" | "interview" | "demo"))
    );
    cx.dates.first().filter(|_| happens_on).map(|f| f.value)
}

fn infer_uri(name: &str, cx: &Cx) -> Option<String> {
    let hints: &[&str] = if name.starts_with("repo") {
        &["github.com", "gitlab.com", "bitbucket.org", "codeberg.org"]
    } else if name.starts_with("meeting") {
        &[
            "zoom.us",
            "meet.google.com",
            "teams.microsoft.com",
            "teams.live.com",
            "webex.com",
            "whereby.com",
        ]
    } else if name.starts_with("design") {
        &["figma.com", "sketch.com", "miro.com", "canva.com"]
    } else if name.starts_with("pull_request") {
        &["/pull/", "/merge_requests/", "/pull-requests/"]
    } else {
        return match cx.urls.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        };
    };
    cx.urls
        .iter()
        .find(|u| hints.iter().any(|h| u.to_lowercase().contains(h)))
        .cloned()
}

fn infer_list(name: &str, cx: &Cx) -> Option<Vec<String>> {
    let from_label = |from: usize| {
        let from = char_after(cx, from);
        let rest = cx.scan.clause(from);
        if rest.is_empty() {
            let bullets = cx.scan.bullets_after(from);
            return (!bullets.is_empty()).then_some(bullets);
        }
        // An explicit label may hold a single item (`Tools: Figma`).
        parse_list(&rest).or_else(|| {
            let one = clean_item(&rest);
            (!one.is_empty() && one.chars().count() <= 100).then(|| vec![one])
        })
    };
    if let Some(items) = labelled(cx, name, from_label) {
        return Some(items);
    }
    if name != "tech_stack" {
        return None;
    }
    for label in [
        &["stack"][..],
        &["tech"],
        &["technologies"],
        &["technology"],
    ] {
        if let Some(&(_, from)) = cx.scan.labels(label).first()
            && let Some(items) = from_label(from)
        {
            return Some(items);
        }
    }
    // `using React + TypeScript`: no label, so demand a real list of short names.
    for i in 0..cx.scan.toks.len() {
        let after = if cx.scan.word_in(i, &["using"]) {
            i + 1
        } else if cx.scan.word_in(i, &["built", "written"])
            && cx.scan.word_in(i + 1, &["with", "in", "on"])
        {
            i + 2
        } else {
            continue;
        };
        let Some(tok) = cx.scan.toks.get(after) else {
            continue;
        };
        let items = parse_list(&cx.scan.clause(tok.start))
            .filter(|items| items.iter().all(|s| s.split_whitespace().count() <= 3));
        if items.is_some() {
            return items;
        }
    }
    None
}
