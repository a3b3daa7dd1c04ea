//! Numbers, counts and amounts found by a prop's name: the cue words near a match (money words,
//! the nouns a count counts, qualifiers), label forms (`guests: 40`), and the window within which
//! a cue claims a match.

use super::scan::{DAY_UNITS, Found, Scan, WEEK_UNITS};
use super::{Cx, MONEY_WORDS, Siblings, segments};

/// How far a cue may be from a match, in tokens, before and after it.
#[derive(Clone, Copy)]
pub(super) struct Window {
    pub(super) before: usize,
    pub(super) after: usize,
}

pub(super) const NEAR: Window = Window {
    before: 8,
    after: 3,
};
pub(super) const TIGHT: Window = Window {
    before: 5,
    after: 2,
};
pub(super) const JUST_BEFORE: Window = Window {
    before: 1,
    after: 0,
};

/// The match nearest to a cue word within `w` (a cue after the match costs one more, so
/// "budget $80k, tickets $25" gives $25 to tickets), earliest on a tie.
pub(super) fn nearest<'a, T>(
    scan: &Scan,
    found: &'a [Found<T>],
    cues: &[&str],
    w: Window,
) -> Option<(usize, &'a Found<T>)> {
    let at: Vec<usize> = (0..scan.toks.len())
        .filter(|&i| scan.word_in(i, cues))
        .collect();
    found
        .iter()
        .filter_map(|f| {
            // `at` is sorted: only the last cue before the match and the first one at or after
            // its start can be nearest.
            let k = at.partition_point(|&c| c < f.start);
            let before = k
                .checked_sub(1)
                .map(|b| f.start - at[b])
                .filter(|d| *d <= w.before);
            let after = at.get(k).and_then(|&c| {
                if c < f.end {
                    Some(0)
                } else {
                    Some(c + 1 - f.end).filter(|d| *d <= w.after).map(|d| d + 1)
                }
            });
            let d = before.into_iter().chain(after).min()?;
            Some((d, f))
        })
        .min_by_key(|(d, f)| (*d, f.start))
}

/// The value nearest to a cue, else (unless `need_cue`) the only distinct value.
pub(super) fn pick<T: PartialEq + Clone>(
    cx: &Cx,
    found: &[Found<T>],
    cues: &[&str],
    need_cue: bool,
) -> Option<T> {
    if let Some((_, f)) = nearest(&cx.scan, found, cues, NEAR) {
        return Some(f.value.clone());
    }
    let first = found.first()?;
    (!need_cue && found.iter().all(|f| f.value == first.value)).then(|| first.value.clone())
}

pub(super) fn infer_number(name: &str, cx: &Cx, sib: &Siblings) -> Option<f64> {
    number_by_name(name, cx, sib).or_else(|| {
        labelled(cx, name, |from| {
            let at = skip_fillers(cx, from);
            let n = cx.scan.number(at)?;
            Some(n.value * cx.scan.multiplier(n.end).0)
        })
    })
}

pub(super) fn number_by_name(name: &str, cx: &Cx, sib: &Siblings) -> Option<f64> {
    let segs = segments(name);
    let last = segs.last().copied().unwrap_or("");
    if segs.iter().any(|s| MONEY_WORDS.contains(s)) {
        let cues = money_cues(&segs);
        let mut found = cx.amounts.clone();
        // `budget: 80k` / `budget of 80,000` without a currency marker.
        for (start, from) in cue_then(cx, &cues) {
            let at = skip_fillers(cx, from);
            let Some(n) = cx.scan.number(at).filter(|_| cx.scan.clean_start(at)) else {
                continue;
            };
            let (mult, end) = cx.scan.multiplier(n.end);
            // "Budget 2026 planning" is a year: a bare number needs a filler or a multiplier.
            if at > from || mult > 1.0 {
                found.push(Found {
                    value: n.value * mult,
                    start,
                    end,
                });
            }
        }
        return pick(cx, &found, &cues, sib.money > 1);
    }
    if name.ends_with("duration_minutes") {
        let qualifier: &[&str] = match segs.first().copied() {
            Some("estimated") => &["estimate", "estimated", "est", "eta", "expected", "about"],
            Some("actual") => &["actual", "actually", "took", "spent", "logged", "tracked"],
            _ => return cx.durations.first().map(|f| f.value as f64),
        };
        return pick(cx, &cx.durations, qualifier, true).map(|v| v as f64);
    }
    if name == "duration_days" {
        let mut found = cx.scan.spans(DAY_UNITS);
        for mut f in cx.scan.spans(WEEK_UNITS) {
            f.value *= 7;
            found.push(f);
        }
        found.sort_by_key(|f| f.start);
        return pick(cx, &found, &[], false).map(|v| v as f64);
    }
    if name == "duration_weeks" {
        return pick(cx, &cx.scan.spans(WEEK_UNITS), &[], false).map(|v| v as f64);
    }
    if let Some(nouns) = count_nouns(name) {
        let shared = sib.shared_nouns.contains(&nouns);
        let mut found = cx.scan.counts(&nouns);
        let noun_refs: Vec<&str> = nouns.iter().map(String::as_str).collect();
        let mut labels: Vec<Vec<&str>> = vec![segs.clone()];
        labels.extend(noun_refs.iter().map(|n| vec![*n]));
        for label in &labels {
            for (start, from) in cx.scan.labels(label) {
                push_int(cx, &mut found, start, skip_fillers(cx, from));
            }
        }
        if last == "size" && segs.len() >= 2 {
            // `team of 5`, `cohort of 20`, `sample of 300`.
            let owner = segs[segs.len() - 2];
            for i in 0..cx.scan.toks.len() {
                if cx.scan.word_in(i, &[owner]) && cx.scan.word_in(i + 1, &["of"]) {
                    push_int(cx, &mut found, i, i + 2);
                }
            }
        }
        found.sort_by_key(|f| f.start);
        let qualifiers = qualifier_cues(&segs);
        return pick(cx, &found, &qualifiers, shared && !qualifiers.is_empty()).map(|v| v as f64);
    }
    if last == "number" && segs.len() >= 2 {
        let owner = segs[segs.len() - 2];
        let mut found = Vec::new();
        for i in 0..cx.scan.toks.len() {
            if cx.scan.word_in(i, &[owner]) {
                let at = if cx.scan.sym_in(i + 1, &["#"]) {
                    i + 2
                } else {
                    i + 1
                };
                push_int(cx, &mut found, i, at);
            }
        }
        return pick(cx, &found, &[], false).map(|v| v as f64);
    }
    None
}

pub(super) fn push_int(cx: &Cx, found: &mut Vec<Found<i64>>, start: usize, at: usize) {
    if let Some(n) = cx
        .scan
        .number(at)
        .filter(|n| n.integral && cx.scan.clean_start(at))
    {
        found.push(Found {
            value: n.value as i64,
            start,
            end: n.end,
        });
    }
}

/// Words between a label and its value: `budget: ~80k`, `budget is about 80k`.
pub(super) fn skip_fillers(cx: &Cx, mut i: usize) -> usize {
    const FILLERS: &[&str] = &[
        "is", "of", "about", "around", "approx", "roughly", "~", "≈", ":", "=",
    ];
    while cx
        .scan
        .toks
        .get(i)
        .is_some_and(|t| FILLERS.contains(&t.text.as_str()))
    {
        i += 1;
    }
    i
}

/// Each cue word occurrence: (its token, the token after it).
pub(super) fn cue_then(cx: &Cx, cues: &[&str]) -> Vec<(usize, usize)> {
    (0..cx.scan.toks.len())
        .filter(|&i| cx.scan.word_in(i, cues))
        .map(|i| (i, i + 1))
        .collect()
}

/// The first value `value(token after the colon)` gives after a `<name words>:` label (the last
/// word also singular/plural).
pub(super) fn labelled<T>(cx: &Cx, name: &str, value: impl Fn(usize) -> Option<T>) -> Option<T> {
    label_variants(name).iter().find_map(|words| {
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        cx.scan
            .labels(&refs)
            .into_iter()
            .find_map(|(_, from)| value(from))
    })
}

/// The char position just after token `from - 1` (the label's colon).
pub(super) fn char_after(cx: &Cx, from: usize) -> usize {
    from.checked_sub(1)
        .and_then(|i| cx.scan.toks.get(i))
        .map_or(0, |t| t.end)
}

pub(super) fn label_variants(name: &str) -> Vec<Vec<String>> {
    let segs: Vec<String> = segments(name).iter().map(|s| s.to_lowercase()).collect();
    let Some((last, head)) = segs.split_last() else {
        return Vec::new();
    };
    noun_forms(last)
        .into_iter()
        .map(|form| {
            let mut v = head.to_vec();
            v.push(form);
            v
        })
        .collect()
}

pub(super) fn money_cues(segs: &[&str]) -> Vec<&'static str> {
    let mut cues = Vec::new();
    for s in segs {
        cues.extend_from_slice(match *s {
            "budget" => &["budget", "budgets", "budgeted"][..],
            "price" => &["price", "prices", "priced", "cost", "costs"],
            "ticket" => &["ticket", "tickets"],
            "rate" => &["rate", "rates"],
            "hourly" => &["hourly", "hour", "hr"],
            "revenue" => &["revenue", "arr", "mrr", "sales"],
            "fee" => &["fee", "fees"],
            "session" => &["session", "sessions"],
            "cost" => &["cost", "costs"],
            "salary" => &["salary", "pay"],
            "amount" => &["amount", "invoice", "payment", "total"],
            "contract" => &["contract", "deal"],
            _ => &[],
        });
    }
    cues
}

/// Nouns counted by an integer prop, or `None` if the name is not a count.
pub(super) fn count_nouns(name: &str) -> Option<Vec<String>> {
    let segs = segments(name);
    let (&last, head) = segs.split_last()?;
    let owner = head.last().copied();
    let base: Vec<&str> = match (owner, last) {
        (Some("team"), "size") => vec!["people", "person", "member", "engineer", "developer"],
        (Some("cohort"), "size") => vec!["participant", "student", "learner", "people"],
        (Some("sample"), "size") => vec!["respondent", "participant", "sample", "subject"],
        (Some(o @ ("guest" | "attendee" | "participant")), "count") => vec![o, "people"],
        (Some("record"), "count") => vec!["record", "row", "item", "entry"],
        (Some(o), "count") => vec![o],
        (_, "users" | "customers") => vec![last],
        _ => return None,
    };
    Some(base.iter().flat_map(|n| noun_forms(n)).collect())
}

/// Words in a count name besides the noun (`target` in `target_word_count`), with synonyms.
pub(super) fn qualifier_cues(segs: &[&str]) -> Vec<&'static str> {
    let mut cues = Vec::new();
    for s in segs {
        cues.extend_from_slice(match *s {
            "target" => &["target", "goal", "aim", "aiming"][..],
            "current" => &["current", "currently", "now"],
            "default" => &["default"],
            _ => &[],
        });
    }
    cues
}

/// The singular and plural of an English noun (`guest` ↔ `guests`, `entry` ↔ `entries`).
pub(super) fn noun_forms(noun: &str) -> Vec<String> {
    let n = noun.to_lowercase();
    let mut forms = vec![n.clone()];
    let vowel_before_y = n.chars().rev().nth(1).is_some_and(|c| "aeiou".contains(c));
    let extra = if n == "person" {
        "people".to_owned()
    } else if n == "people" {
        "person".to_owned()
    } else if let Some(stem) = n.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = n.strip_suffix('y').filter(|_| !vowel_before_y) {
        format!("{stem}ies")
    } else if let Some(singular) = [("xes", "x"), ("ches", "ch"), ("shes", "sh"), ("sses", "ss")]
        .iter()
        .find_map(|(plural, single)| n.strip_suffix(plural).map(|s| format!("{s}{single}")))
    {
        singular
    } else if ["x", "ch", "sh", "ss"].iter().any(|e| n.ends_with(e)) {
        format!("{n}es")
    } else if let Some(stem) = n.strip_suffix('s') {
        stem.to_owned()
    } else {
        format!("{n}s")
    };
    if !extra.is_empty() {
        forms.push(extra);
    }
    forms
}
