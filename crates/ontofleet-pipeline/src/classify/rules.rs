//! The scoring engine of the `rules` classifier: compiles the lexicon once, then scores one task's
//! title, description and details.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use ontofleet_core::WorkMode;

use super::lexicon::{self, Tags};
use super::text::{self, Token};

/// Tokens read from the title; everything after is ignored.
const MAX_TITLE_TOKENS: usize = 64;
/// Tokens read from the description and from the details.
const MAX_TEXT_TOKENS: usize = 256;
/// Weight of the title, the description and the details.
const TITLE_FACTOR: f64 = 1.0;
const DESCRIPTION_FACTOR: f64 = 0.35;
const DETAILS_FACTOR: f64 = 0.25;
/// Score `execute` starts with, so that weak evidence for another mode does not win.
const EXECUTE_PRIOR: f64 = 0.6;
/// Weight of "with <person>" as evidence for `coordinate`.
const WITH_PERSON: f64 = 1.5;
/// Weight of "to <person>" and of a person right after the leading verb ("Ask Tom …").
const TO_PERSON: f64 = 1.0;
/// Weight of a title ending in `?` as evidence for `research`.
const QUESTION: f64 = 1.5;

/// Index of a mode in [`WorkMode::ALL`] (also the tie-break order).
fn idx(mode: WorkMode) -> usize {
    match mode {
        WorkMode::Execute => 0,
        WorkMode::Create => 1,
        WorkMode::Refine => 2,
        WorkMode::Research => 3,
        WorkMode::Review => 4,
        WorkMode::Coordinate => 5,
        WorkMode::Admin => 6,
        WorkMode::Plan => 7,
    }
}

/// FNV-1a: the lexicon maps are small and hashed a lot; no need for SipHash's DoS resistance.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FnvMap<V> = HashMap<String, V, BuildHasherDefault<Fnv>>;

/// The words of a phrase: `(match_raw, text)` per word.
type Words = Vec<(bool, String)>;

/// One phrase of the compiled lexicon.
struct Phrase {
    words: Words,
    lead: [f64; 8],
    any: [f64; 8],
    tags: Tags,
    weighted: bool,
}

impl Phrase {
    fn matches(&self, toks: &[Token], at: usize) -> bool {
        toks.len() >= at + self.words.len()
            && self.words.iter().zip(&toks[at..]).all(
                |((raw, w), t)| {
                    if *raw { t.raw == *w } else { t.stem == *w }
                },
            )
    }
}

/// The lexicon, compiled for matching.
pub(crate) struct Lexicon {
    phrases: Vec<Phrase>,
    /// First word (stem) → phrases, longest first.
    by_stem: FnvMap<Vec<u32>>,
    /// First word (raw form, for `=` phrases) → phrases, longest first.
    by_raw: FnvMap<Vec<u32>>,
}

/// The compiled lexicon (built on first use).
pub(crate) fn lexicon() -> &'static Lexicon {
    static LEXICON: OnceLock<Lexicon> = OnceLock::new();
    LEXICON.get_or_init(Lexicon::compile)
}

impl Lexicon {
    fn compile() -> Self {
        let mut phrases: Vec<Phrase> = Vec::new();
        let mut keys: HashMap<Words, usize> = HashMap::new();
        let mut slot = |phrase: &str| -> usize {
            let words = phrase_words(phrase);
            *keys.entry(words.clone()).or_insert_with(|| {
                phrases.push(Phrase {
                    words,
                    lead: [0.0; 8],
                    any: [0.0; 8],
                    tags: 0,
                    weighted: false,
                });
                phrases.len() - 1
            })
        };
        let mut weights = Vec::new();
        for group in lexicon::WEIGHTED {
            for phrase in group.phrases {
                weights.push((slot(phrase), idx(group.mode), group.lead, group.any));
            }
        }
        let mut tags = Vec::new();
        for (tag, list) in lexicon::TAGGED {
            for phrase in *list {
                tags.push((slot(phrase), *tag));
            }
        }
        for (i, m, lead, any) in weights {
            let p = &mut phrases[i];
            p.lead[m] += lead;
            p.any[m] += any;
            p.weighted |= lead > 0.0 || any > 0.0;
        }
        for (i, tag) in tags {
            phrases[i].tags |= tag;
        }
        let mut by_stem: FnvMap<Vec<u32>> = FnvMap::default();
        let mut by_raw: FnvMap<Vec<u32>> = FnvMap::default();
        for (i, p) in phrases.iter().enumerate() {
            let Some((raw, first)) = p.words.first() else {
                continue;
            };
            let map = if *raw { &mut by_raw } else { &mut by_stem };
            map.entry(first.clone()).or_default().push(i as u32);
        }
        for list in by_stem.values_mut().chain(by_raw.values_mut()) {
            list.sort_by_key(|&i| std::cmp::Reverse(phrases[i as usize].words.len()));
        }
        Lexicon {
            phrases,
            by_stem,
            by_raw,
        }
    }

    /// Phrases whose first word matches `toks[at]` (raw-form phrases first), longest first.
    fn candidates<'s>(&'s self, toks: &[Token], at: usize) -> impl Iterator<Item = u32> + 's {
        let t = &toks[at];
        let raw = self
            .by_raw
            .get(&t.raw)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let stem = self
            .by_stem
            .get(&t.stem)
            .map(Vec::as_slice)
            .unwrap_or_default();
        raw.iter().chain(stem).copied()
    }

    /// The longest weighted phrase starting at `at` (raw-form phrases win ties).
    fn longest_weighted(&self, toks: &[Token], at: usize) -> Option<u32> {
        let mut best: Option<u32> = None;
        for id in self.candidates(toks, at) {
            let p = &self.phrases[id as usize];
            let longer = best.is_none_or(|b| p.words.len() > self.phrases[b as usize].words.len());
            if p.weighted && longer && p.matches(toks, at) {
                best = Some(id);
            }
        }
        best
    }

    fn lead_strength(&self, id: Option<u32>) -> f64 {
        id.map_or(0.0, |id| {
            self.phrases[id as usize]
                .lead
                .iter()
                .copied()
                .fold(0.0, f64::max)
        })
    }

    fn len(&self, id: u32) -> usize {
        self.phrases[id as usize].words.len()
    }

    /// Position and phrase of the leading verb: the first word of a segment, after fillers
    /// ("TODO: need to …") and auxiliaries ("Finish writing …"), that starts a phrase with a lead
    /// weight. Segments are tried in order.
    fn find_lead(&self, toks: &[Token]) -> Option<(usize, u32)> {
        let starts = toks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.seg_start)
            .map(|(i, _)| i);
        for start in starts {
            let mut i = start;
            while i < toks.len() && (i == start || !toks[i].seg_start) {
                let best = self.longest_weighted(toks, i);
                let multiword = best.is_some_and(|b| self.len(b) >= 2);
                if toks[i].bracketed || (!multiword && is_skippable(&toks[i])) {
                    i += 1;
                    continue;
                }
                if lexicon::AUXILIARIES.contains(&toks[i].raw.as_str()) && !multiword {
                    let next = (i + 1..toks.len()).find(|&j| !is_skippable(&toks[j]));
                    if let Some(j) = next
                        && !toks[j].seg_start
                        && self.lead_strength(self.longest_weighted(toks, j)) >= 2.0
                    {
                        i = j;
                        continue;
                    }
                }
                match best {
                    Some(b) if self.lead_strength(Some(b)) > 0.0 => return Some((i, b)),
                    _ => break,
                }
            }
        }
        None
    }

    /// Scores one field.
    fn scan(&self, toks: &[Token], factor: f64, seen: &mut Vec<u64>) -> FieldScan {
        seen.clear();
        seen.resize(self.phrases.len().div_ceil(64), 0);
        let lead = self.find_lead(toks);
        let mut scan = FieldScan::default();
        let mut next_free = 0;
        for i in 0..toks.len() {
            let at_lead = lead.is_some_and(|(li, _)| li == i);
            let lead_len = lead.map_or(0, |(_, id)| self.len(id));
            for id in self.candidates(toks, i) {
                let p = &self.phrases[id as usize];
                if p.tags != 0 && p.matches(toks, i) {
                    scan.tags |= p.tags;
                    if at_lead && p.words.len() == lead_len {
                        scan.lead_tags |= p.tags;
                    }
                }
            }
            if i < next_free {
                continue;
            }
            let Some(id) = self.longest_weighted(toks, i) else {
                continue;
            };
            let p = &self.phrases[id as usize];
            next_free = i + p.words.len();
            let (word, bit) = (id as usize / 64, 1u64 << (id % 64));
            if seen[word] & bit != 0 {
                continue;
            }
            seen[word] |= bit;
            for m in 0..8 {
                let w = if at_lead {
                    p.lead[m].max(p.any[m])
                } else {
                    p.any[m]
                };
                scan.scores[m] += w * factor;
            }
        }
        scan.scores[idx(WorkMode::Coordinate)] += self.person_evidence(toks, lead) * factor;
        for c in lexicon::COMBOS {
            let lead_ok = c.lead == 0 || scan.lead_tags & c.lead != 0;
            let a_ok = c.a == 0 || scan.tags & c.a != 0;
            let b_ok = c.b == 0 || scan.tags & c.b != 0;
            if lead_ok && a_ok && b_ok {
                scan.scores[idx(c.mode)] += c.weight * factor;
            }
        }
        scan
    }

    /// Working with someone: "… with the design team", "… with Priya", "… to the client",
    /// "Ask Tom …". Returns the strongest such evidence.
    fn person_evidence(&self, toks: &[Token], lead: Option<(usize, u32)>) -> f64 {
        let (mut n, mut caps) = (0usize, 0usize);
        for t in toks
            .iter()
            .filter(|t| t.raw.chars().next().is_some_and(char::is_alphabetic))
        {
            n += 1;
            caps += usize::from(t.cap);
        }
        // In Title Case Titles a capital letter says nothing about names.
        let title_case = n >= 3 && caps * 5 >= n * 3;
        let names_person = |from: usize| {
            toks[from..]
                .iter()
                .filter(|t| !lexicon::DETERMINERS.contains(&t.raw.as_str()))
                .take(2)
                .enumerate()
                .any(|(k, t)| {
                    let person = self.tags_of(t) & lexicon::O_PEOPLE != 0;
                    let name =
                        k == 0 && t.cap && !title_case && t.raw.chars().all(char::is_alphabetic);
                    person || name
                })
        };
        let mut best: f64 = 0.0;
        if let Some((at, id)) = lead
            && names_person(at + self.len(id))
        {
            best = TO_PERSON;
        }
        for (i, t) in toks.iter().enumerate() {
            let weight = match t.raw.as_str() {
                "with" | "w" => WITH_PERSON,
                "to" => TO_PERSON,
                _ => continue,
            };
            if weight > best && names_person(i + 1) {
                best = weight;
            }
        }
        best
    }

    /// Tags of the one-word phrase matching `t`.
    fn tags_of(&self, t: &Token) -> Tags {
        let one = std::slice::from_ref(t);
        self.candidates(one, 0)
            .map(|id| &self.phrases[id as usize])
            .filter(|p| p.words.len() == 1 && p.matches(one, 0))
            .fold(0, |acc, p| acc | p.tags)
    }
}

/// Filler words, bare numbers and bracketed tags before the leading verb.
fn is_skippable(t: &Token) -> bool {
    t.raw.is_empty()
        || t.bracketed
        || lexicon::FILLERS.contains(&t.raw.as_str())
        || t.raw.chars().all(|c| c.is_ascii_digit())
}

/// Splits a lexicon phrase into words: stems, or raw forms after a leading `=`.
fn phrase_words(phrase: &str) -> Words {
    if phrase == "re-" {
        return vec![(false, "re-".to_owned())];
    }
    let (raw, body) = match phrase.strip_prefix('=') {
        Some(body) => (true, body),
        None => (false, phrase),
    };
    let mut toks = Vec::new();
    text::tokenize(body, usize::MAX, &mut toks);
    toks.into_iter()
        .map(|t| (raw, if raw { t.raw } else { t.stem }))
        .collect()
}

/// Evidence gathered from one field.
#[derive(Debug, Default)]
pub(crate) struct FieldScan {
    pub scores: [f64; 8],
    pub tags: Tags,
    pub lead_tags: Tags,
}

/// The outcome of scoring one task, before it becomes a [`super::Classification`].
#[derive(Debug)]
pub(crate) struct Verdict {
    pub mode: WorkMode,
    pub specialization: Option<&'static str>,
    pub confidence: f64,
}

/// Reusable buffers, so that classifying a batch does not allocate per field.
#[derive(Default)]
pub(crate) struct Scratch {
    toks: Vec<Token>,
    seen: Vec<u64>,
}

/// Scores one task.
pub(crate) fn score(
    title: &str,
    description: Option<&str>,
    details: Option<&str>,
    scratch: &mut Scratch,
) -> Verdict {
    let lex = lexicon();
    text::tokenize(title, MAX_TITLE_TOKENS, &mut scratch.toks);
    let title_scan = lex.scan(&scratch.toks, TITLE_FACTOR, &mut scratch.seen);
    let mut scores = title_scan.scores;
    for (field, factor) in [(description, DESCRIPTION_FACTOR), (details, DETAILS_FACTOR)] {
        let Some(field) = field else { continue };
        text::tokenize(field, MAX_TEXT_TOKENS, &mut scratch.toks);
        let scan = lex.scan(&scratch.toks, factor, &mut scratch.seen);
        for (s, add) in scores.iter_mut().zip(scan.scores) {
            *s += add;
        }
    }
    if title.trim_end().ends_with('?') {
        scores[idx(WorkMode::Research)] += QUESTION;
    }
    let prior_free = scores;
    scores[idx(WorkMode::Execute)] += EXECUTE_PRIOR;

    let mut best = 0;
    for m in 1..8 {
        if scores[m] > scores[best] {
            best = m;
        }
    }
    let mode = WorkMode::ALL[best];
    let second = (0..8)
        .filter(|&m| m != best)
        .map(|m| scores[m])
        .fold(0.0, f64::max);
    let total: f64 = scores.iter().sum();
    let top = scores[best];
    let share = if total > 0.0 { top / total } else { 1.0 };
    let margin = if top > 0.0 { (top - second) / top } else { 0.0 };
    let evidence = prior_free[best] / (prior_free[best] + 1.0);
    let confidence = 0.1 + 0.9 * evidence * (0.5 * share + 0.5 * margin);
    let confidence = if confidence.is_finite() {
        confidence.clamp(0.0, 1.0)
    } else {
        0.1
    };

    Verdict {
        mode,
        specialization: specialization(mode, &title_scan),
        confidence,
    }
}

/// The third segment of the type key, on clear evidence in the title only.
fn specialization(mode: WorkMode, t: &FieldScan) -> Option<&'static str> {
    use lexicon::*;
    let has = |m: Tags| t.tags & m != 0;
    let lead = |m: Tags| t.lead_tags & m != 0;
    match mode {
        WorkMode::Execute if has(S_CHECKLIST) => Some("checklist"),
        WorkMode::Execute if has(S_DEPLOY) || (lead(V_RELEASE) && has(S_RELEASE_CTX)) => {
            Some("deploy")
        }
        WorkMode::Execute if has(S_MIGRATION) => Some("migration"),
        WorkMode::Execute if has(S_SETUP) || (lead(V_INSTALL) && has(S_SOFTWARE)) => Some("setup"),
        WorkMode::Create if has(S_PROTOTYPE) => Some("prototype"),
        WorkMode::Create if lead(V_DESIGN) || has(S_DESIGN) => Some("design"),
        WorkMode::Review if has(S_CODE) => Some("code"),
        WorkMode::Review if has(S_DESIGN_REVIEW) => Some("design"),
        WorkMode::Research if has(S_COMPETITOR) => Some("competitor"),
        WorkMode::Research if has(S_USER) => Some("user"),
        WorkMode::Coordinate if has(S_STANDUP) => Some("standup"),
        WorkMode::Coordinate if has(S_INTERVIEW) => Some("interview"),
        WorkMode::Coordinate
            if has(S_MEETING) || (has(S_CALL) && (lead(V_CONVENE) || has(S_CALL_KIND))) =>
        {
            Some("meeting")
        }
        WorkMode::Admin if has(O_REPORT) => Some("reporting"),
        WorkMode::Plan if has(S_SPRINT) => Some("sprint"),
        WorkMode::Plan if has(S_ROADMAP) => Some("roadmap"),
        _ => None,
    }
}

/// Score breakdown of one title, for debugging the lexicon (`CLASSIFY_DEBUG="title|title"`).
#[cfg(test)]
pub(crate) fn explain(title: &str) -> String {
    let lex = lexicon();
    let mut toks = Vec::new();
    text::tokenize(title, MAX_TITLE_TOKENS, &mut toks);
    let lead = lex.find_lead(&toks);
    let scan = lex.scan(&toks, 1.0, &mut Vec::new());
    let stems: Vec<&str> = toks.iter().map(|t| t.stem.as_str()).collect();
    let scores: Vec<String> = WorkMode::ALL
        .iter()
        .zip(scan.scores)
        .filter(|(_, s)| *s > 0.0)
        .map(|(m, s)| format!("{m}={s:.2}"))
        .collect();
    format!(
        "{title:?} stems={stems:?} lead={lead:?} scores=[{}]",
        scores.join(" ")
    )
}

/// Phrases (after stemming) that appear in two weighted groups of the same mode.
#[cfg(test)]
pub(crate) fn duplicate_weights() -> Vec<String> {
    // A verb-only entry (any = 0) and a noun-only entry (lead = 0) of one word may coexist.
    type Entry<'a> = (&'a str, bool, bool);
    let mut seen: HashMap<(Words, usize), Entry<'_>> = HashMap::new();
    let mut dups = Vec::new();
    for group in lexicon::WEIGHTED {
        for phrase in group.phrases {
            let key = (phrase_words(phrase), idx(group.mode));
            let (lead, any) = (group.lead > 0.0, group.any > 0.0);
            if let Some((prev, prev_lead, prev_any)) = seen.insert(key, (phrase, lead, any))
                && ((lead && prev_lead) || (any && prev_any))
            {
                dups.push(format!("{}: {prev:?} / {phrase:?}", group.mode));
            }
        }
    }
    dups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_index_follows_work_mode_all() {
        for (i, mode) in WorkMode::ALL.into_iter().enumerate() {
            assert_eq!(idx(mode), i);
        }
    }

    #[test]
    fn no_lead_verb_satisfies_its_own_combo() {
        let lex = lexicon();
        let mut clashes = Vec::new();
        for c in lexicon::COMBOS.iter().filter(|c| c.lead != 0) {
            for p in &lex.phrases {
                if p.tags & c.lead != 0 && p.tags & (c.a | c.b) != 0 {
                    clashes.push(format!("{:?} → {}", p.words, c.mode));
                }
            }
        }
        assert!(clashes.is_empty(), "{clashes:#?}");
    }

    #[test]
    fn finds_the_leading_verb_after_fillers_prefixes_and_auxiliaries() {
        let lex = lexicon();
        let lead_word = |title: &str| {
            let mut toks = Vec::new();
            text::tokenize(title, MAX_TITLE_TOKENS, &mut toks);
            lex.find_lead(&toks).map(|(i, _)| toks[i].raw.clone())
        };
        assert_eq!(lead_word("Draft the memo").as_deref(), Some("draft"));
        assert_eq!(lead_word("TODO: need to call mom").as_deref(), Some("call"));
        assert_eq!(lead_word("1. Pay rent").as_deref(), Some("pay"));
        assert_eq!(lead_word("[Ops] Renew the cert").as_deref(), Some("renew"));
        assert_eq!(lead_word("Website: fix the nav").as_deref(), Some("fix"));
        assert_eq!(
            lead_word("Finish writing chapter 2").as_deref(),
            Some("writing")
        );
        assert_eq!(
            lead_word("Finish the unit tests").as_deref(),
            Some("finish")
        );
        assert_eq!(lead_word("Get quotes from movers").as_deref(), Some("get"));
        assert_eq!(lead_word("Acme renewal notes"), None);
        assert_eq!(lead_word(""), None);
    }
}
