//! Tokenizer and light stemmer for the rules classifier.
//!
//! Text is lower-cased and split on anything that is not alphanumeric. Apostrophes inside a word
//! are dropped (`intern's` → `interns`), a hyphenated `re-` prefix becomes its own token `re-`
//! (`re-record` → `re-`, `record`), and a few punctuation marks start a new *segment* (`Project X:
//! write the spec` has two), which lets the scorer find the leading verb after a prefix.
//!
//! The stemmer only strips the inflections that matter for matching task verbs and nouns
//! (`-s`, `-es`, `-ies`, `-ed`, `-ing`, a final `-e`), so `writes`, `writing` and `write` all stem to
//! `writ`, and `planned`/`planning`/`plans` to `plan`. Lexicon entries go through the same function,
//! so the stems never need to be real words.

/// Longest token (in characters) that is kept; longer runs become an empty, never-matching token.
const MAX_TOKEN_CHARS: usize = 40;

/// One word of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    /// Lower-cased surface form.
    pub raw: String,
    /// Stem of `raw` (see [`stem`]).
    pub stem: String,
    /// The surface form started with an upper-case letter.
    pub cap: bool,
    /// The token starts a segment (first token, or first after `:`, `|`, `—`, ` - `, `.`, newline).
    pub seg_start: bool,
    /// The token is inside brackets (`[Design] Review the mockups`): never the leading verb.
    pub bracketed: bool,
}

/// Splits `text` into at most `max_tokens` tokens, replacing the contents of `out`.
pub(crate) fn tokenize(text: &str, max_tokens: usize, out: &mut Vec<Token>) {
    out.clear();
    if max_tokens == 0 {
        return;
    }
    let mut word = Word::default();
    let mut pending_seg = true;
    let mut depth = 0u32;
    let mut prev = ' ';
    let mut iter = text.chars().peekable();
    while let Some(c) = iter.next() {
        let next = iter.peek().copied();
        if c.is_alphanumeric() {
            word.push(c);
        } else if is_apostrophe(c) && word.chars > 0 && next.is_some_and(char::is_alphanumeric) {
            // Inside a word: drop it and keep going.
        } else {
            if word.chars > 0 {
                if c == '-' && word.text == "re" && next.is_some_and(char::is_alphabetic) {
                    word.text.push('-');
                }
                out.push(word.take(std::mem::take(&mut pending_seg), depth > 0));
                if out.len() >= max_tokens {
                    return;
                }
            }
            match c {
                '[' | '(' | '{' => depth = depth.saturating_add(1),
                ']' | ')' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            if is_break(prev, c, next) {
                pending_seg = true;
            }
        }
        prev = c;
    }
    if word.chars > 0 {
        out.push(word.take(pending_seg, depth > 0));
    }
}

/// The word being read.
#[derive(Default)]
struct Word {
    text: String,
    chars: usize,
    cap: bool,
}

impl Word {
    fn push(&mut self, c: char) {
        if self.chars == 0 {
            self.cap = c.is_uppercase();
        }
        if self.chars < MAX_TOKEN_CHARS {
            self.text.extend(c.to_lowercase());
        }
        self.chars += 1;
    }

    /// Finishes the word as a token and resets for the next one.
    fn take(&mut self, seg_start: bool, bracketed: bool) -> Token {
        let raw = if self.chars > MAX_TOKEN_CHARS {
            String::new()
        } else {
            std::mem::take(&mut self.text)
        };
        self.text.clear();
        self.chars = 0;
        let stem = stem(&raw);
        Token {
            raw,
            stem,
            cap: self.cap,
            seg_start,
            bracketed,
        }
    }
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{02bc}')
}

/// Whether the separator `c` (between `prev` and `next`) ends a segment.
fn is_break(prev: char, c: char, next: Option<char>) -> bool {
    let next_is_space = next.is_none_or(char::is_whitespace);
    match c {
        '|' | ';' | '\u{2013}' | '\u{2014}' | '\u{2022}' | '\n' | '\r' => true,
        ':' | '.' | '!' | '?' => next_is_space,
        '-' => prev.is_whitespace() && next_is_space,
        _ => false,
    }
}

/// Light suffix stripper for English words; non-ASCII words are returned unchanged.
pub(crate) fn stem(word: &str) -> String {
    if word.len() < 3 || !word.is_ascii() || word.ends_with('-') {
        return word.to_owned();
    }
    if let Some(base) = irregular(word) {
        return stem(base);
    }
    let mut s = word.to_owned();
    let n = s.len();
    if n > 4 && (s.ends_with("ies") || s.ends_with("ied")) {
        s.truncate(n - 3);
        s.push('y');
        return s;
    }
    if s.ends_with('s') && !(s.ends_with("ss") || s.ends_with("us") || s.ends_with("is")) {
        s.pop();
    }
    if s.len() > 5 && s.ends_with("ing") {
        strip_verb_suffix(&mut s, 3);
    } else if s.len() > 4 && s.ends_with("ed") {
        strip_verb_suffix(&mut s, 2);
    }
    if s.len() > 3 && s.ends_with('e') {
        s.pop();
    }
    s
}

/// Strips `-ing`/`-ed` (`len` bytes) when what remains looks like a stem, and undoubles a final
/// consonant (`planning` → `plan`, but `installing` → `install`, `added` → `add`).
fn strip_verb_suffix(s: &mut String, len: usize) {
    let stem_len = s.len() - len;
    let stem = &s.as_bytes()[..stem_len];
    if stem_len < 3 || !stem.iter().any(|b| b"aeiouy".contains(b)) {
        return;
    }
    s.truncate(stem_len);
    let b = s.as_bytes();
    let (x, y) = (b[stem_len - 2], b[stem_len - 1]);
    if x == y && stem_len > 3 && !b"aeioulsz".contains(&y) {
        s.pop();
    }
}

fn irregular(word: &str) -> Option<&'static str> {
    Some(match word {
        "written" | "wrote" => "write",
        "built" => "build",
        "ran" => "run",
        "met" => "meet",
        "went" | "gone" | "goes" => "go",
        "done" | "did" | "does" => "do",
        "made" => "make",
        "paid" => "pay",
        "bought" => "buy",
        "sent" => "send",
        "taught" => "teach",
        "thought" => "think",
        "found" => "find",
        "took" | "taken" => "take",
        "gave" | "given" => "give",
        "chose" | "chosen" => "choose",
        "drew" | "drawn" => "draw",
        "began" | "begun" => "begin",
        "held" => "hold",
        "sold" => "sell",
        "children" => "child",
        "people" => "person",
        "hung" => "hang",
        "shot" => "shoot",
        "broke" | "broken" => "break",
        "spoke" | "spoken" => "speak",
        "told" => "tell",
        "kept" => "keep",
        "led" => "lead",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        tokenize(s, 1000, &mut out);
        out.into_iter().map(|t| t.stem).collect()
    }

    #[test]
    fn stems_inflections_consistently() {
        for group in [
            &["write", "writes", "writing", "written", "wrote"][..],
            &["plan", "plans", "planned", "planning"],
            &["update", "updates", "updated", "updating"],
            &["study", "studies", "studied", "studying"],
            &["invoice", "invoices", "invoiced"],
            &["tax", "taxes"],
            &["install", "installs", "installing", "installed"],
            &["meet", "meets", "meeting", "meetings"],
            &["run", "runs", "running", "ran"],
            &["address", "addresses", "addressed"],
            &["add", "adds", "added"],
            &["fix", "fixes", "fixed", "fixing"],
        ] {
            let s0 = stem(group[0]);
            for w in group {
                assert_eq!(stem(w), s0, "{w} vs {}", group[0]);
            }
        }
        assert_eq!(stem("status"), "status");
        assert_eq!(stem("analysis"), "analysis");
        assert_eq!(stem("need"), "need");
        assert_eq!(stem("string"), "string");
    }

    #[test]
    fn tokenizes_punctuation_apostrophes_and_re_prefix() {
        assert_eq!(toks("Review PR #142"), ["review", "pr", "142"]);
        assert_eq!(
            toks("Weekly 1:1 with Priya"),
            ["weekly", "1", "1", "with", "priya"]
        );
        assert_eq!(
            toks("Evaluate the intern's work"),
            ["evaluat", "the", "intern", "work"]
        );
        assert_eq!(
            toks("Re-record the vocals"),
            ["re-", "record", "the", "vocal"]
        );
        assert_eq!(toks("ÉTÉ naïve"), ["été", "naïve"]);
    }

    #[test]
    fn marks_segments() {
        let mut out = Vec::new();
        tokenize("Website: fix the nav - then deploy v2.3", 100, &mut out);
        let segs: Vec<_> = out
            .iter()
            .filter(|t| t.seg_start)
            .map(|t| t.raw.as_str())
            .collect();
        assert_eq!(segs, ["website", "fix", "then"]);
        tokenize("1:1 with Sam", 100, &mut out);
        assert_eq!(out.iter().filter(|t| t.seg_start).count(), 1);
        tokenize("[Design] (v2) Review it", 100, &mut out);
        let bracketed: Vec<_> = out.iter().map(|t| t.bracketed).collect();
        assert_eq!(bracketed, [true, true, false, false]);
    }

    #[test]
    fn caps_tokens_and_length() {
        let mut out = Vec::new();
        tokenize(&"word ".repeat(1000), 10, &mut out);
        assert_eq!(out.len(), 10);
        tokenize(&"a".repeat(100_000), 10, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].raw, "");
    }
}
