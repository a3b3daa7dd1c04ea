//! The rules classifier's knowledge: weighted phrases per work mode, tags, and combination rules.
//!
//! Everything here is data. A *phrase* is one or more words, stemmed like the input
//! (see [`super::text::stem`]); a leading `=` matches the lower-cased surface form instead of the
//! stem (`=planning` does not match `plan`). `re-` is the token produced by a hyphenated re-prefix.
//!
//! Weights come in pairs: `lead` applies when the phrase is the first content word(s) of the
//! text (the verb of an imperative title, "**Draft** the press release"), `any` applies anywhere
//! else. Verbs that are ambiguous as nouns get `any = 0`; nouns get `lead = 0`.
//!
//! Tags name word classes (verb groups, object classes, specialization cues). [`COMBOS`] add
//! weight when a lead verb group meets an object class ("*update* the *calendar*" is admin,
//! "*update* the *logo colors*" is refine), and the specialization rules in the parent module
//! read the cue tags.

use ontofleet_core::WorkMode::{
    self, Admin, Coordinate, Create, Execute, Plan, Refine, Research, Review,
};

/// Bit set of tags.
pub(crate) type Tags = u128;

macro_rules! tags {
    ($($name:ident = $bit:expr;)*) => {
        $(pub(crate) const $name: Tags = 1 << $bit;)*
    };
}

// Lead verb groups.
tags! {
    V_MAKE = 0;        // write, draft, create, prepare …
    V_PAPER = 1;       // submit, file, send, fill …
    V_UPDATE = 2;      // update, change, edit …
    V_CLEAN = 3;       // clean up, tidy, organize, sort …
    V_CONVENE = 4;     // schedule, organize, set up, host, run …
    V_FIX = 5;         // fix, correct
    V_EVAL = 6;        // evaluate, assess, compare, test
    V_PAINT = 7;       // paint, draw
    V_BOOK = 8;        // book, reserve
    V_APPOINT = 9;     // schedule, book, make, set up, arrange
    V_SET = 10;        // set, define, establish
    V_TAKE = 11;       // take, do, complete, attend (a course)
    V_GIVE = 12;       // give, provide, leave, share, write, send (feedback)
    V_GROOM = 13;      // refine, groom, clean up (the backlog)
    V_RELEASE = 14;    // release, ship, push, cut
    V_INSTALL = 15;    // install
    V_DESIGN = 16;     // design, sketch, illustrate, wireframe, mock up
    V_CHECK = 17;      // check, review, scan, read (for errors)
    V_READ = 18;       // read, go through (and comment)
    V_MAKE_PLAIN = 19; // make (… shorter)
    V_START = 20;      // start, begin (a chapter)
    V_ADDRESS = 21;    // address, incorporate, resolve (comments)
}

// Object classes.
tags! {
    O_PLAN_DOC = 30;    // plan, roadmap, strategy, timeline …
    O_ADMIN_DOC = 31;   // expense, claim, invoice, tax, timesheet …
    O_ADMIN_OBJ = 32;   // calendar, password, payroll, records, permissions …
    O_DIGITAL = 33;     // inbox, folder, drive, downloads …
    O_ARTIFACT = 34;    // code, slides, copy, docs, manuscript …
    O_MEETING = 35;     // meeting, call, sync, kickoff …
    O_TYPO = 36;        // typo, grammar, wording …
    O_OPTIONS = 37;     // options, alternatives, tools, libraries …
    O_ART = 38;         // portrait, canvas, mural …
    O_TRAVEL = 39;      // flight, hotel, train, ticket …
    O_APPOINTMENT = 40; // appointment, dentist, haircut, service …
    O_GOAL = 41;        // goal, target, okr, priority …
    O_COURSE = 42;      // course, class, tutorial, webinar …
    O_FEEDBACK = 43;    // feedback, comments, critique, notes
    O_BACKLOG = 44;     // backlog, tickets, issues
    O_PEOPLE = 45;      // team, client, advisor, landlord …
    O_FLAW = 46;        // errors, mistakes, issues, typos …
    O_REPORT = 47;      // report, reporting, status update
    O_PERIODIC = 48;    // weekly, monthly, status, metrics, expense …
    O_PHYSICAL = 49;    // garage, closet, kitchen, yard …
    O_COMPARATIVE = 50; // shorter, clearer, punchier, more …
    O_CREATIVE = 51;    // chapter, novel, song, blog …
    O_SUBMISSION = 52;  // portfolio, application, essay, proposal …
}

// Specialization cues.
tags! {
    S_CHECKLIST = 60;
    S_DEPLOY = 61;
    S_RELEASE_CTX = 62;
    S_MIGRATION = 63;
    S_SETUP = 64;
    S_SOFTWARE = 65;
    S_PROTOTYPE = 66;
    S_DESIGN = 67;
    S_CODE = 68;
    S_DESIGN_REVIEW = 69;
    S_COMPETITOR = 70;
    S_USER = 71;
    S_STANDUP = 72;
    S_INTERVIEW = 73;
    S_MEETING = 74;
    S_CALL = 75;
    S_CALL_KIND = 76;
    S_SPRINT = 77;
    S_ROADMAP = 78;
}

/// Words skipped before the leading verb ("TODO: need to …", "Please …", "1. …").
#[rustfmt::skip]
pub(crate) const FILLERS: &[&str] = &[
    "todo", "to", "need", "i", "we", "should", "must", "please", "pls", "remember", "dont",
    "forget", "quick", "quickly", "asap", "urgent", "task", "maybe", "have", "got", "gotta",
    "want", "let", "lets", "finally", "also", "then", "and", "the", "a", "an", "my", "our", "re",
    "fwd", "fw", "wip", "tbd", "p0", "p1", "p2", "p3", "x", "today", "tomorrow", "tonight",
    "really", "actually", "just", "try", "can", "could", "will", "go", "get",
];

/// Verbs skipped before the leading verb when another verb follows ("Finish writing …").
#[rustfmt::skip]
pub(crate) const AUXILIARIES: &[&str] = &[
    "start", "begin", "continue", "finish", "complete", "resume", "keep",
];

/// Words skipped between "with" and the person it names ("with my sister").
#[rustfmt::skip]
pub(crate) const DETERMINERS: &[&str] =
    &["the", "a", "an", "my", "our", "your", "his", "her", "their", "new", "whole", "two", "three"];

/// A group of phrases sharing one mode and weights.
pub(crate) struct Weighted {
    pub mode: WorkMode,
    pub lead: f64,
    pub any: f64,
    pub phrases: &'static [&'static str],
}

const fn w(mode: WorkMode, lead: f64, any: f64, phrases: &'static [&'static str]) -> Weighted {
    Weighted {
        mode,
        lead,
        any,
        phrases,
    }
}

/// Weighted phrases. A phrase may appear in several groups (its weights add up).
#[rustfmt::skip]
pub(crate) static WEIGHTED: &[Weighted] = &[
    // ---------------------------------------------------------------- execute
    w(Execute, 3.0, 1.0, &[
        "deploy", "redeploy", "implement", "install", "reinstall", "uninstall", "fix", "debug",
        "patch", "hotfix", "migrate", "integrate", "ship", "roll out", "set up", "setup",
        "configure", "provision", "spin up", "assemble", "repair", "replace", "upload",
        "publish", "launch", "hook up", "wire up", "rotate", "merge", "go live", "backfill",
        "mount", "restart", "reboot", "mow", "vacuum", "mop", "wash", "pick up", "drop off",
        "automate", "roll back", "rollback", "revert", "bump", "containerize", "dockerize",
        "decommission", "shut down", "tear down", "put up", "execute", "refill", "restock",
    ]),
    w(Execute, 2.5, 0.3, &[
        "release", "run", "add", "move", "paint", "apply", "print", "mail", "post", "connect",
        "download",
        "enable", "disable", "remove", "delete", "convert", "import", "export", "buy",
        "purchase", "return", "pack", "unpack", "cook", "load", "renovate", "push", "hang",
        "plant", "water", "deliver", "code", "script", "sell",
        "donate", "swap", "switch", "turn on", "turn off", "reset", "restore", "recover",
        "flush", "build out", "port", "iron", "fold", "grocery", "tag", "cut", "pin", "put",
    ]),
    w(Execute, 2.0, 0.0, &[
        "send", "submit", "do", "finish", "complete", "fill", "train", "practice",
        "handle", "process", "drive", "walk", "sign", "transfer", "troubleshoot", "clean",
        "clean up", "run through", "go through", "change", "take", "start", "declutter",
        "tidy", "tidy up", "clear", "make sure", "ensure", "wrap up",
    ]),
    w(Execute, 1.0, 0.0, &["book", "reserve", "bake"]),
    w(Execute, 1.5, 0.0, &["upgrade", "test"]),
    w(Execute, 0.0, 1.5, &[
        "bug", "checklist", "deployment", "errand", "chore", "laundry", "rollout", "crash",
    ]),
    w(Execute, 0.0, 0.6, &[
        "production", "prod", "staging", "server", "endpoint", "migration", "unit test", "pipeline", "ci", "dns", "cron", "batch",
    ]),
    // ---------------------------------------------------------------- create
    w(Create, 3.0, 1.0, &[
        "write", "compose", "design", "sketch", "illustrate", "wireframe", "mock up", "mockup",
        "prototype", "author", "storyboard", "knit", "sew", "crochet", "write up", "photograph",
        "film", "draw", "animate", "invent", "pen",
    ]),
    w(Create, 3.0, 0.5, &["draft", "create", "produce", "record", "craft", "shoot"]),
    w(Create, 2.5, 0.3, &["build", "put together", "make", "generate", "develop", "come up with"]),
    w(Create, 1.5, 0.0, &["prepare", "prep", "start a", "arrange", "bake", "=new"]),
    w(Create, 0.0, 1.5, &[
        "first draft", "rough draft", "from scratch", "new version of",
    ]),
    w(Create, 0.0, 0.8, &[
        "logo", "poster", "flyer", "illustration", "song", "lyrics", "poem", "blog post",
        "pitch deck", "persona", "artwork", "infographic", "mood board", "graphic", "jingle",
        "newsletter", "short story", "novel", "screenplay", "podcast episode", "video",
        "template", "brochure", "banner", "icon", "memoir", "playlist", "card",
        "bio", "faq", "quiz", "case study", "terms of service", "privacy policy", "thumbnail",
        "cover letter", "speech", "press release", "tagline", "slogan", "toast", "eulogy",
    ]),
    w(Create, 0.0, 0.4, &["story", "article", "script", "slide", "deck", "copy", "documentation", "guide"]),
    // ---------------------------------------------------------------- refine
    w(Refine, 3.0, 1.0, &[
        "edit", "polish", "refactor", "revise", "improve", "tighten", "optimize", "optimise",
        "rewrite", "rework", "redo", "redesign", "reformat", "restructure", "rephrase",
        "reword", "simplify", "tweak", "tune", "fine tune", "shorten", "trim", "condense",
        "streamline", "clarify", "enhance", "iterate", "iterate on", "second pass",
        "another pass", "final pass", "touch up", "retouch", "speed up", "incorporate",
        "revamp", "overhaul", "refine", "rebalance", "recalibrate",
        "address feedback", "address comment", "apply feedback", "respond to feedback",
        "respond to comment", "proofread", "copyedit", "copy edit", "re-", "de-duplicate",
        "deduplicate", "modernize", "modernise", "reorganize", "reorganise", "fix up",
        "clean up the code", "cut down", "expand on", "flesh out",
        "sharpen", "smooth out", "remaster", "compress", "punch up", "tone down",
    ]),
    w(Refine, 2.5, 0.5, &["adjust", "correct", "refresh", "finalize", "finalise", "harden", "upgrade", "update"]),
    w(Refine, 2.5, 0.0, &["reduce", "decrease", "lower", "minimize", "minimise", "increase", "boost", "address", "resolve"]),
    w(Refine, 0.0, 2.5, &["second draft", "third draft", "next draft", "another draft", "second version"]),
    w(Refine, 0.0, 1.5, &[
        "typo", "after feedback", "based on feedback", "per feedback", "v2", "readability",
        "dead code", "tech debt", "technical debt", "improvement", "revision", "performance",
    ]),
    w(Refine, 0.0, 0.8, &["grammar", "wording", "pacing", "lint", "shorter", "clearer", "cleaner", "better", "faster", "simpler"]),
    // ---------------------------------------------------------------- research
    w(Research, 3.0, 1.0, &[
        "research", "investigate", "explore", "learn", "study", "compare", "survey", "look into",
        "look up", "read up", "read up on", "find out", "dig into", "dig in", "analyze", "analyse",
        "benchmark", "check what", "check how", "check whether", "check if", "check which",
        "check why", "figure out why", "figure out how", "figure out what", "figure out whether",
        "figure out if", "figure out which", "shop around", "price out", "deep dive",
        "literature review", "interview note",
        "diagnose", "understand", "discover", "experiment", "explore how", "try out", "test out",
        "find the best", "scout", "gather information", "gather info", "gather requirement",
        "collect feedback", "identify", "read about", "listen to", "learn about", "learn how",
        "dig through", "comb through", "sift through", "check review", "read review",
        "compare review", "learn to",
    ]),
    w(Research, 2.5, 0.3, &["read", "find", "search", "search for", "look for", "check out", "browse", "watch"]),
    w(Research, 2.5, 0.0, &["shortlist"]),
    w(Research, 2.0, 0.0, &["measure", "profile", "poll"]),
    w(Research, 2.0, 0.0, &["look at", "query", "gather", "collect"]),
    w(Research, 1.5, 0.0, &["troubleshoot"]),
    w(Research, 1.0, 0.0, &["figure out"]),
    w(Research, 1.0, 0.0, &["evaluate"]),
    w(Research, 0.5, 0.0, &["assess"]),
    w(Research, 0.0, 2.5, &[
        "root cause", "market research", "user research", "usability", "user study",
        "keyword research", "background reading", "teardown", "pain point",
        "feasibility", "literature", "pros and cons", "competitive analysis",
    ]),
    w(Research, 3.0, 2.5, &["synthesize", "synthesise"]),
    w(Research, 0.0, 1.0, &[
        "competitor", "competition", "option", "alternative", "vs", "versus", "paper",
        "tutorial", "course", "why", "insight", "trend", "analysis", "hypothesis",
        "market size", "best", "cheapest", "cheaper", "webinar", "lecture", "article on",
        "book on",
    ]),
    w(Research, 0.0, 0.5, &["which", "how to", "what", "whether"]),
    w(Research, 2.5, 0.0, &["how", "why", "what", "which", "where", "whether", "is there"]),
    // ---------------------------------------------------------------- review
    w(Review, 3.0, 1.5, &[
        "review", "audit", "critique", "grade", "inspect", "qa", "approve", "sign off",
        "double check", "sanity check", "spot check", "peer review", "evaluate", "assess",
        "look over", "go over", "annotate", "redline", "mark up", "referee", "vet", "proof",
        "give feedback", "give note", "leave feedback", "provide feedback", "comment on",
        "read through", "look through", "skim", "judge",
        "fact check", "proof check",
    ]),
    w(Review, 3.5, 2.0, &["code review", "design review", "pr review", "review pr"]),
    w(Review, 2.5, 0.5, &["check", "verify", "validate", "screen", "rate", "score"]),
    w(Review, 2.5, 2.0, &["retrospective", "retro", "postmortem", "post mortem"]),
    w(Review, 1.5, 0.5, &["proofread", "go through", "look at"]),
    w(Review, 2.0, 0.5, &["test"]),
    w(Review, 2.5, 1.0, &["flag"]),
    w(Review, 0.0, 1.5, &["report bug", "report issue", "file bug"]),
    w(Review, 0.0, 2.0, &["pull request", "merge request", "lesson learned"]),
    w(Review, 0.0, 1.5, &["pr"]),
    w(Review, 0.0, 1.5, &["feedback"]),
    w(Review, 0.0, 0.5, &["quality", "accuracy", "critical", "approval"]),
    // ---------------------------------------------------------------- coordinate
    w(Coordinate, 3.0, 2.0, &[
        "meet", "meet with", "call", "phone call", "video call", "conference call", "interview",
        "user interview", "1 1", "1 on 1", "1on1", "one on one", "standup", "stand up",
        "daily stand", "huddle", "sync with", "sync up", "check in", "check in with",
        "catch up", "catch up with", "touch base", "align with", "align on", "coordinate",
        "workshop", "kickoff", "kick off", "reach out", "reach out to", "follow up",
        "follow up with", "followup", "debrief", "facilitate", "collaborate", "pair with",
        "loop in", "hand off", "handoff", "handover", "hand over", "talk to", "talk with",
        "chat with", "speak with", "speak to", "connect with", "reconnect", "negotiate",
        "discuss", "introduce", "meetup", "zoom", "facetime", "skype", "lunch with",
        "dinner with", "drinks with", "coffee with", "get back to", "get in touch",
        "circle back", "hear back", "get back", "meeting note",
    ]),
    w(Coordinate, 2.0, 1.0, &["sync"]),
    w(Coordinate, 2.5, 0.3, &[
        "email", "e mail", "message", "text", "dm", "ping", "reply", "reply to", "respond to",
        "ask", "tell", "remind", "notify", "inform", "thank", "invite", "host", "demo", "contact",
        "delegate", "nudge", "chase", "escalate", "rsvp", "confirm with", "get quote",
        "get estimate", "request quote", "agree on", "welcome", "congratulate", "apologize",
        "visit", "mentor", "onboard", "recruit", "phone", "slack", "whatsapp", "present",
        "pitch", "brief", "coach", "assign", "reschedule", "call back", "convince", "persuade",
    ]),
    w(Coordinate, 2.0, 0.0, &["attend", "confirm", "request", "arrange", "answer"]),
    w(Coordinate, 1.5, 0.0, &["organize", "organise", "schedule"]),
    w(Coordinate, 0.0, 1.0, &[
        "collaboration", "coffee", "lunch", "chat", "volunteer", "alignment", "discussion",
        "stakeholder", "consensus", "group chat", "introduction", "intro", "quote",
        "availability", "parent teacher",
    ]),
    // ---------------------------------------------------------------- admin
    w(Admin, 3.0, 1.0, &[
        "pay", "renew", "reconcile", "unsubscribe", "back up", "archive", "cancel", "fill in",
        "fill out", "reimburse", "notarize", "shred", "top up", "budget for",
        "inbox zero", "apply for", "sign up for", "enroll", "enrol", "deposit", "withdraw",
    ]),
    w(Admin, 3.0, 0.0, &["expense"]),
    w(Admin, 1.5, 0.0, &["transfer", "move money"]),
    w(Admin, 2.5, 0.0, &["invoice", "bill", "file", "register", "sort", "log", "order", "reorder", "label", "backup"]),
    w(Admin, 1.5, 0.0, &["organize", "organise"]),
    w(Admin, 2.0, 0.0, &[
        "book", "reserve", "track", "rename", "declutter", "clean out", "sort out", "file away",
        "scan", "schedule", "tidy", "tidy up", "sign up", "process", "record", "update",
        "change", "clear out", "empty", "purge",
    ]),
    w(Admin, 0.0, 2.0, &[
        "invoice", "expense", "reimbursement", "tax", "tax return", "payroll", "timesheet",
        "paperwork", "bookkeeping", "renewal",
    ]),
    w(Admin, 0.0, 1.2, &[
        "receipt", "bill", "subscription", "membership", "license", "licence", "passport",
        "claim", "registration", "password", "permission", "trademark", "supplies", "utilities",
        "admin", "housekeeping", "appointment", "inbox", "folder", "autopay", "status update",
        "dmv", "rent", "money", "saving", "fund", "401k", "ira", "pension",
        "vat", "w 9", "w9", "1099", "jury duty", "summons", "register to vote", "voter registration",
    ]),
    w(Admin, 0.0, 0.8, &[
        "report", "calendar", "record", "crm", "account", "statement", "bank", "visa", "hours",
        "address", "quarterly", "payment", "fee", "budget", "spreadsheet", "accountant",
        "drive", "contact", "insurance", "form",
    ]),
    w(Admin, 0.0, 0.5, &["download"]),
    w(Admin, 0.0, 0.3, &["annual", "monthly", "channel", "wiki", "document"]),
    // ---------------------------------------------------------------- plan
    w(Plan, 3.0, 1.0, &[
        "plan", "plan out", "outline", "roadmap", "strategize", "strategise", "prioritize",
        "prioritise", "reprioritize", "reprioritise", "decide", "decide on", "decide between",
        "decide whether", "map out", "lay out", "break down", "estimate", "brainstorm",
        "think through", "scope", "scope out", "timebox", "forecast", "plot", "sketch out",
        "chart out", "set goal", "set priority", "set target", "set the agenda",
    ]),
    w(Plan, 3.0, 2.5, &["=planning", "sprint planning", "capacity planning", "planning session"]),
    w(Plan, 2.5, 0.5, &["choose", "pick", "select", "define", "allocate", "triage", "groom", "sequence", "rank", "weigh", "think about"]),
    w(Plan, 1.5, 0.0, &["set", "break", "figure out", "structure", "budget", "work out"]),
    w(Plan, 2.0, 0.0, &["map"]),
    w(Plan, 3.0, 0.0, &["periodize", "periodise"]),
    w(Plan, 0.0, 2.0, &[
        "strategy", "okr", "milestone", "game plan", "action plan", "project plan",
        "plan for", "priority", "prioritization", "timeline",
        "editorial calendar", "content calendar", "run of show", "order of operations",
    ]),
    w(Plan, 0.0, 1.0, &[
        "goal", "objective", "itinerary", "agenda", "backlog", "allocation", "curriculum",
        "layout", "structure", "next week", "next month", "next quarter", "next year",
        "next sprint", "vision", "approach", "direction", "decision", "estimation",
        "schedule", "capacity", "breakdown", "phase",
    ]),
    w(Plan, 0.0, 0.5, &["sprint", "q1", "q2", "q3", "q4", "h1", "h2", "quarter", "this week", "upcoming"]),
];

/// Tags per phrase (a phrase may appear under several tags).
#[rustfmt::skip]
pub(crate) static TAGGED: &[(Tags, &[&str])] = &[
    (V_MAKE, &[
        "write", "draft", "create", "make", "prepare", "prep", "put together", "build", "develop",
        "define", "come up with", "compose", "write up", "design", "set", "sketch out",
        "map out", "lay out", "work out", "establish",
    ]),
    (V_PAPER, &[
        "submit", "file", "send", "fill", "fill in", "fill out", "complete", "finish", "do",
        "pay", "process", "write", "prepare", "compile", "put together", "create", "draft",
        "update", "print",
    ]),
    (V_UPDATE, &["update", "change", "edit", "fix", "correct", "reset"]),
    (V_CLEAN, &[
        "clean", "clean up", "clean out", "tidy", "tidy up", "declutter", "organize", "organise",
        "sort", "sort out", "purge", "archive", "delete", "clear", "clear out", "reorganize",
        "reorganise", "empty", "prune",
    ]),
    (V_CONVENE, &[
        "organize", "organise", "schedule", "reschedule", "set up", "arrange", "book", "host",
        "run", "hold", "set", "line up", "plan", "lead", "facilitate", "join", "attend",
    ]),
    (V_FIX, &["fix", "correct", "clean up", "tidy up"]),
    (V_EVAL, &["evaluate", "assess", "compare", "test", "try out", "look at", "check out"]),
    (V_PAINT, &["paint", "draw"]),
    (V_BOOK, &["book", "reserve", "buy", "get", "purchase", "order"]),
    (V_APPOINT, &["schedule", "book", "make", "set up", "arrange", "reschedule", "reserve"]),
    (V_SET, &["set", "define", "establish", "agree on", "decide on"]),
    (V_TAKE, &["take", "do", "complete", "finish", "watch", "attend", "enroll", "enrol", "start", "sign up for"]),
    (V_GIVE, &["give", "provide", "leave", "share", "write", "send", "add", "post", "return"]),
    (V_GROOM, &["refine", "groom", "clean up", "tidy up", "go through", "triage"]),
    (V_RELEASE, &["release", "ship", "push", "cut", "publish"]),
    (V_INSTALL, &["install", "reinstall"]),
    (V_DESIGN, &["design", "sketch", "illustrate", "wireframe", "mock up", "mockup", "draw"]),
    (V_CHECK, &[
        "check", "review", "scan", "go over", "look over", "double check", "verify", "read",
        "read through", "go through", "look through", "inspect", "proofread", "skim",
    ]),
    (V_READ, &["read", "read through", "go through", "look through", "skim", "look at", "check"]),
    (V_MAKE_PLAIN, &["make"]),
    (V_START, &["start", "begin", "start on", "kick off"]),
    (V_ADDRESS, &["address", "incorporate", "resolve", "apply", "action", "respond to", "work through", "fix"]),
    (O_PLAN_DOC, &[
        "plan", "roadmap", "strategy", "timeline", "itinerary", "schedule", "okr", "agenda",
        "game plan", "action plan", "goal", "objective", "priority", "milestone", "budget plan",
        "outline", "timetable",
    ]),
    (O_ADMIN_DOC, &[
        "expense", "claim", "invoice", "tax", "timesheet", "reimbursement", "receipt", "form",
        "paperwork", "payment", "bill", "return", "registration", "renewal", "application form",
    ]),
    (O_ADMIN_OBJ, &[
        "calendar", "password", "payroll", "record", "permission", "address", "account",
        "contact", "billing", "subscription", "crm", "registration", "insurance", "beneficiary",
        "license", "licence", "info", "information", "bank", "budget", "membership", "passport",
        "payment", "profile", "email signature", "signature", "directory", "roster", "access",
        "phone number", "mailing list", "spreadsheet", "inventory", "ledger",
    ]),
    (O_DIGITAL, &[
        "inbox", "email", "folder", "drive", "desktop", "download", "file", "channel",
        "bookmark", "tab", "photo", "mailbox", "dropbox", "storage", "notification",
        "shared drive", "google drive", "onedrive", "icloud", "backup", "subscription", "app",
        "account", "contact", "message", "spam", "newsletter",
    ]),
    (O_ARTIFACT, &[
        "code", "codebase", "slide", "animation", "copy", "doc", "documentation", "readme",
        "css", "test", "design", "draft", "manuscript", "essay", "deck", "function", "module",
        "component", "repo", "repository", "prose", "wording", "script", "chapter", "style",
        "stylesheet", "page", "text", "paper", "thesis", "resume", "cv", "portfolio", "query",
        "model", "schema", "api", "ui", "layout", "transcript", "footage", "edit", "mix",
        "paragraph", "intro", "sentence", "section", "caption", "headline", "bio", "outro",
    ]),
    (O_MEETING, &[
        "meeting", "call", "sync", "kickoff", "kick off", "standup", "stand up", "1 1",
        "1 on 1", "1on1", "one on one", "session", "workshop", "interview", "catch up", "demo",
        "huddle", "meetup", "retro", "retrospective", "offsite meeting", "zoom", "hangout",
        "review meeting", "check in", "conference call", "coffee", "lunch", "dinner",
    ]),
    (O_TYPO, &[
        "typo", "grammar", "spelling", "wording", "punctuation", "formatting", "tone", "phrasing",
        "style", "transition", "paragraph", "sentence", "prose", "flow", "pacing", "caption",
        "headline", "intro", "outro", "dialogue", "chapter", "manuscript", "copy",
    ]),
    (O_COMPARATIVE, &[
        "more", "less", "better", "clearer", "shorter", "simpler", "faster", "cleaner", "easier",
        "punchier", "tighter", "smaller", "lighter", "friendlier", "nicer", "stronger", "crisper",
        "sharper", "smoother", "prettier", "leaner", "quicker", "snappier", "consistent",
        "readable", "accessible", "responsive",
    ]),
    (O_CREATIVE, &[
        "chapter", "book", "novel", "memoir", "blog", "podcast", "story", "song", "essay",
        "draft", "script", "screenplay", "poem", "album", "=painting", "comic", "zine", "course",
        "newsletter", "video", "thesis", "article",
    ]),
    (O_SUBMISSION, &[
        "portfolio", "submission", "application", "applicant", "essay", "assignment", "proposal",
        "draft", "resume", "cv", "pitch", "entry", "candidate", "homework", "paper", "report",
        "slide", "deck", "pr", "pull request", "contract",
    ]),
    (O_OPTIONS, &[
        "option", "alternative", "tool", "database", "library", "framework", "provider",
        "platform", "solution", "approach", "service", "model", "stack", "plugin",
        "crm", "host", "hosting",
    ]),
    (O_ART, &["portrait", "canvas", "mural", "picture", "landscape", "watercolor", "watercolour", "=painting", "comic", "still life"]),
    (O_TRAVEL, &["flight", "hotel", "train", "ticket", "airbnb", "accommodation", "travel", "ferry", "bus", "car rental", "rental car", "trip", "lodging"]),
    (O_APPOINTMENT, &[
        "appointment", "checkup", "check up", "dentist", "doctor", "haircut", "service", "vet",
        "physical", "mot", "inspection", "oil change", "cleaning", "consultation",
    ]),
    (O_GOAL, &[
        "goal", "target", "okr", "priority", "plan", "objective", "intention", "kpi",
        "milestone", "deadline", "budget", "agenda", "resolution", "vision", "strategy",
        "roadmap", "timeline", "scope", "direction",
    ]),
    (O_COURSE, &["course", "class", "tutorial", "lesson", "lecture", "webinar", "mooc", "bootcamp", "masterclass", "certification", "training course"]),
    (O_FEEDBACK, &["feedback", "comment", "critique", "review", "thought", "suggestion", "input", "markup", "code review"]),
    (O_BACKLOG, &["backlog", "ticket", "issue", "story", "user story", "epic", "board"]),
    (O_PEOPLE, &[
        "team", "client", "customer", "investor", "advisor", "adviser", "mentor", "manager", "boss",
        "lawyer", "attorney", "accountant", "contractor", "vendor", "supplier", "partner",
        "sibling", "family", "friend", "parent", "mom", "dad", "mum", "sister", "brother",
        "stakeholder", "candidate", "agency", "designer", "developer", "engineer", "coach",
        "teacher", "professor", "tutor", "landlord", "plumber", "electrician", "bank",
        "recruiter", "colleague", "coworker", "committee", "board", "group", "volunteer",
        "leadership", "hr", "legal", "marketing", "sales", "support", "ops", "everyone",
        "neighbor", "neighbour", "wife", "husband", "kid", "son", "daughter", "grandma",
        "grandpa", "doctor", "therapist", "editor", "publisher", "agent", "founder",
        "cofounder", "ceo", "cto", "cfo", "lead", "intern", "hire", "reviewer", "sponsor",
        "shift", "crew", "staff", "department", "squad", "guest", "cousin", "aunt", "uncle",
        "roommate", "flatmate", "partner", "spouse", "him", "her", "them", "panel", "peer",
        "consultant", "freelancer", "supervisor", "advisor", "pm", "finance", "design",
        "product", "engineering", "caterer", "photographer", "babysitter", "nanny", "vet",
    ]),
    (O_FLAW, &["error", "mistake", "issue", "typo", "bug", "problem", "accuracy", "consistency", "inconsistency", "discrepancy", "broken link", "regression"]),
    (O_REPORT, &["report", "reporting", "status update", "update email"]),
    (O_PERIODIC, &[
        "weekly", "monthly", "quarterly", "daily", "status", "progress", "metric", "kpi",
        "expense", "board", "end of month", "eod", "eow", "biweekly", "fortnightly", "sales",
        "financial", "usage", "activity", "time", "hour",
    ]),
    (O_PHYSICAL, &[
        "garage", "closet", "kitchen", "room", "bedroom", "bathroom", "basement", "attic",
        "house", "yard", "garden", "car", "desk", "fridge", "pantry", "office", "shed", "wardrobe",
        "gutter", "window", "floor", "apartment",
    ]),
    (S_CHECKLIST, &["checklist", "check list", "preflight", "pre flight", "runbook"]),
    (S_DEPLOY, &["deploy", "redeploy", "deployment", "roll out", "rollout", "go live", "push to production", "push to prod", "release to production", "release to prod", "ship to production"]),
    (S_RELEASE_CTX, &[
        "build", "version", "beta", "production", "prod", "staging", "testflight", "app store",
        "play store", "hotfix", "server", "release candidate", "patch release", "cluster", "canary",
    ]),
    (S_MIGRATION, &["migrate", "migration", "port to", "move to postgres", "data migration", "schema migration"]),
    (S_SETUP, &["set up", "setup", "configure", "provision", "spin up", "get set up", "bootstrap", "initialize", "initialise"]),
    (S_SOFTWARE, &[
        "app", "software", "package", "plugin", "extension", "driver", "os", "ubuntu", "linux",
        "windows", "macos", "docker", "kubernetes", "k8s", "server", "ci", "sdk", "tool", "vpn",
        "printer", "router", "database", "postgres", "mysql", "redis", "nginx", "library",
        "dependency", "cli", "ide", "laptop", "computer", "vm", "cluster", "agent", "wifi",
    ]),
    (S_PROTOTYPE, &["prototype", "poc", "proof of concept", "spike", "clickable"]),
    (S_DESIGN, &[
        "mockup", "mock up", "wireframe", "figma", "logo", "poster", "flyer", "banner", "icon",
        "ui", "ux", "illustration", "sketch", "visual identity", "brand identity", "user interface",
        "cover art", "book cover", "album cover", "layout design",
    ]),
    (S_CODE, &["pr", "prs", "pull request", "merge request", "code", "codebase", "diff", "commit", "patch", "code review", "branch", "implementation"]),
    (S_DESIGN_REVIEW, &["design", "mockup", "mock up", "wireframe", "figma", "ui", "ux", "prototype", "design review", "comp", "layout", "visual"]),
    (S_COMPETITOR, &["competitor", "competition", "competitive", "rival", "competing"]),
    (S_USER, &[
        "survey", "usability", "user research", "user interview", "interview note",
        "customer interview", "user feedback", "customer feedback", "user study", "user testing",
        "what did user", "what user", "user need", "persona", "diary study", "focus group",
    ]),
    (S_STANDUP, &["standup", "stand up", "daily stand", "scrum", "daily sync", "daily huddle"]),
    (S_INTERVIEW, &["interview", "user interview", "screening call", "phone screen"]),
    (S_MEETING, &[
        "meeting", "meet", "meet with", "1 1", "1 on 1", "1on1", "one on one", "kickoff",
        "kick off", "workshop", "sync with", "sync up", "sync", "catch up", "catch up with",
        "demo", "huddle", "meetup", "coffee with", "lunch with", "offsite", "session",
    ]),
    (S_CALL, &["call", "phone call", "video call", "conference call", "zoom"]),
    (S_CALL_KIND, &[
        "=onboarding", "kickoff", "intro", "discovery", "sales", "weekly", "team", "=planning",
        "status", "review", "client", "investor", "strategy", "monthly", "quarterly", "group",
    ]),
    (S_SPRINT, &["sprint", "sprint planning", "iteration planning"]),
    (S_ROADMAP, &["roadmap", "road map"]),
];

/// Extra weight when the lead verb belongs to `lead` (or `lead == 0`) and the text carries a tag
/// of `a` (or `a == 0`) and a tag of `b` (or `b == 0`).
pub(crate) struct Combo {
    pub lead: Tags,
    pub a: Tags,
    pub b: Tags,
    pub mode: WorkMode,
    pub weight: f64,
}

const fn c(lead: Tags, a: Tags, b: Tags, mode: WorkMode, weight: f64) -> Combo {
    Combo {
        lead,
        a,
        b,
        mode,
        weight,
    }
}

/// Verb × object rules.
#[rustfmt::skip]
pub(crate) static COMBOS: &[Combo] = &[
    // "Draft the hiring plan", "Create a study plan" → plan.
    c(V_MAKE, O_PLAN_DOC, 0, Plan, 3.0),
    // "Set goals", "Define OKRs" → plan.
    c(V_SET, O_GOAL, 0, Plan, 2.5),
    // "Submit the expense claim", "Send the invoice" → admin.
    c(V_PAPER, O_ADMIN_DOC, 0, Admin, 2.0),
    // "Write the weekly status report" → admin (any verb).
    c(0, O_REPORT, O_PERIODIC, Admin, 3.0),
    // "Update the team calendar", "Change the billing address" → admin.
    c(V_UPDATE, O_ADMIN_OBJ, 0, Admin, 2.5),
    // "Clean out the inbox", "Organize the shared drive" → admin.
    c(V_CLEAN, O_DIGITAL, 0, Admin, 2.5),
    // "Clean up the codebase", "Tidy up the slides" → refine.
    c(V_CLEAN, O_ARTIFACT, 0, Refine, 3.5),
    // "Clean up the garage" → execute.
    c(V_CLEAN, O_PHYSICAL, 0, Execute, 2.0),
    // "Schedule the kickoff meeting", "Organize a call" → coordinate.
    c(V_CONVENE, O_MEETING, 0, Coordinate, 3.0),
    // "Fix typos in the docs" → refine.
    c(V_FIX, O_TYPO, 0, Refine, 4.0),
    // "Evaluate three vector databases", "Compare CRM options" → research.
    c(V_EVAL, O_OPTIONS, 0, Research, 2.5),
    // "Paint a portrait" → create.
    c(V_PAINT, O_ART, 0, Create, 3.0),
    // "Book flights and hotel" → execute (travel logistics).
    c(V_BOOK, O_TRAVEL, 0, Execute, 2.0),
    // "Book the car service", "Schedule a dentist appointment" → admin.
    c(V_APPOINT, O_APPOINTMENT, 0, Admin, 2.0),
    // "Take an online course" → research.
    c(V_TAKE, O_COURSE, 0, Research, 2.5),
    // "Write feedback on the draft", "Leave comments" → review.
    c(V_GIVE, O_FEEDBACK, 0, Review, 3.0),
    // "Read and comment on the draft" → review.
    c(V_READ, O_FEEDBACK, 0, Review, 2.0),
    // "Check the invoice for errors" → review.
    c(V_CHECK, O_FLAW, 0, Review, 1.5),
    // "Make the copy shorter" → refine.
    c(V_MAKE_PLAIN, O_COMPARATIVE, 0, Refine, 3.0),
    // "Start the first chapter" → create.
    c(V_START, O_CREATIVE, 0, Create, 2.5),
    // "Address the review comments" → refine.
    c(V_ADDRESS, O_FEEDBACK, 0, Refine, 3.5),
    // "Go through the portfolios", "Check the slides" → review.
    c(V_READ, O_SUBMISSION, 0, Review, 2.0),
    // "Refine the backlog" → plan.
    c(V_GROOM, O_BACKLOG, 0, Plan, 3.0),
];
