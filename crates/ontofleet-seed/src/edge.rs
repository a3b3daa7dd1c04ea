//! Deliberately broken legacy rows, added by [`crate::seed`] when
//! [`SeedOptions::bad_rows`](crate::SeedOptions::bad_rows) is set.
//!
//! They live in their own users and projects (generated after the normal data, from the same
//! seeded stream, so the normal rows are the same with or without them), and each broken entity
//! sits next to well-formed ones so the rest of its project still migrates.
//!
//! How to find them:
//!
//! * users: email `edge.<label>.<hex>@edge-cases.test` ([`EDGE_EMAIL_DOMAIN`]); the user whose
//!   `name` is NULL has the label `null-name`, the one with an odd Unicode name `unicode`;
//! * projects: `source = 'seed:edge'` ([`EDGE_SOURCE`]) and
//!   `source_metadata->>'edge_case'` = an [`EdgeProject::key`];
//! * tasks: `source` = [`EdgeCase::marker`] (`seed:edge:<case>`) for the broken task itself;
//!   the well-formed tasks of the edge projects have `source = 'seed:edge'`;
//! * the cross-project phase link: `phase_tasks.assignment_reason` =
//!   [`EdgeCase::CrossProjectPhase`]'s marker;
//! * the inverted phase: `phases.description` = [`EdgeCase::InvertedPhaseDates`]'s marker.
//!
//! | case | rows |
//! |---|---|
//! | [`EdgeCase::NullUserName`] | a user with `name` NULL owning a normal project |
//! | [`EdgeCase::ParentCycle`] | tasks A, B with A.parent = B, B.parent = A |
//! | [`EdgeCase::ChildOfCycle`] | task C whose parent is A |
//! | [`EdgeCase::ParentCycle3`] | tasks D → E → F → D |
//! | [`EdgeCase::DanglingDependency`] | `dependencies` holds the uuid of no task |
//! | [`EdgeCase::CrossProjectDependency`] | `dependencies` holds a task of another project (and one of its own) |
//! | [`EdgeCase::MalformedDependency`] | `dependencies` holds `not-a-uuid` and an empty string |
//! | [`EdgeCase::DanglingParent`] | `parent_task_id` is the uuid of no task |
//! | [`EdgeCase::CrossProjectPhase`] | a `phase_tasks` row linking the task to a phase of another project (the task is also in a phase of its own project) |
//! | [`EdgeCase::TaskWithoutProject`] | a task with `project_id` NULL |
//! | [`EdgeCase::EventWithoutStart`] | two `task_calendar_events` with `event_start` NULL (one with an `event_end`) |
//! | [`EdgeCase::InvertedPhaseDates`] | a phase with `end_date < start_date` |
//! | [`EdgeCase::HugeDescription`] | a task with a 100 KiB description |
//! | [`EdgeCase::OddUnicode`] | titles with emoji, RTL text, combining marks, ZWJ sequences, U+202E, CJK, zero-width characters, a newline; the project and phases have odd names too |
//! | [`EdgeCase::EmptyContext`] | a project with `context = ''` |
//! | [`EdgeCase::HugeContext`] | a project with a 1 MiB `context` |

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::data::{GCAL_ID_ALPHABET, ProjectCtx, slugify};
use crate::insert::{
    Buffers, CalendarRow, EventRow, PhaseRow, PhaseTaskRow, ProjectRow, TaskRow, UserRow,
};
use crate::rng::SeedRng;
use crate::vocab::DOMAINS;

/// `projects.source` of every edge-case project and `tasks.source` of their well-formed tasks.
pub const EDGE_SOURCE: &str = "seed:edge";

/// Domain of the emails of edge-case users.
pub const EDGE_EMAIL_DOMAIN: &str = "edge-cases.test";

/// Length in bytes of the [`EdgeCase::HugeDescription`] description (100 KiB, ASCII).
pub const HUGE_DESCRIPTION_BYTES: usize = 100 * 1024;

/// Length in bytes of the [`EdgeCase::HugeContext`] context (1 MiB, ASCII).
pub const HUGE_CONTEXT_BYTES: usize = 1024 * 1024;

/// One kind of broken row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdgeCase {
    /// A user whose `name` is NULL.
    NullUserName,
    /// Two tasks that are each other's parent.
    ParentCycle,
    /// A task whose parent is part of a cycle.
    ChildOfCycle,
    /// Three tasks whose parents form a cycle.
    ParentCycle3,
    /// A dependency on a uuid that is no task.
    DanglingDependency,
    /// A dependency on a task of another project.
    CrossProjectDependency,
    /// Dependencies that are not uuids.
    MalformedDependency,
    /// A `parent_task_id` that is no task.
    DanglingParent,
    /// A `phase_tasks` row pointing at a phase of another project.
    CrossProjectPhase,
    /// A task without a project.
    TaskWithoutProject,
    /// Calendar events without `event_start`.
    EventWithoutStart,
    /// A phase whose end is before its start.
    InvertedPhaseDates,
    /// A task with a 100 KiB description.
    HugeDescription,
    /// Titles and names with unusual Unicode.
    OddUnicode,
    /// A project whose context is the empty string.
    EmptyContext,
    /// A project with a 1 MiB context.
    HugeContext,
}

impl EdgeCase {
    /// Every edge case.
    pub const ALL: [EdgeCase; 16] = [
        EdgeCase::NullUserName,
        EdgeCase::ParentCycle,
        EdgeCase::ChildOfCycle,
        EdgeCase::ParentCycle3,
        EdgeCase::DanglingDependency,
        EdgeCase::CrossProjectDependency,
        EdgeCase::MalformedDependency,
        EdgeCase::DanglingParent,
        EdgeCase::CrossProjectPhase,
        EdgeCase::TaskWithoutProject,
        EdgeCase::EventWithoutStart,
        EdgeCase::InvertedPhaseDates,
        EdgeCase::HugeDescription,
        EdgeCase::OddUnicode,
        EdgeCase::EmptyContext,
        EdgeCase::HugeContext,
    ];

    /// Short snake_case name of the case.
    pub fn key(self) -> &'static str {
        match self {
            EdgeCase::NullUserName => "null_user_name",
            EdgeCase::ParentCycle => "parent_cycle",
            EdgeCase::ChildOfCycle => "child_of_cycle",
            EdgeCase::ParentCycle3 => "parent_cycle_3",
            EdgeCase::DanglingDependency => "dangling_dependency",
            EdgeCase::CrossProjectDependency => "cross_project_dependency",
            EdgeCase::MalformedDependency => "malformed_dependency",
            EdgeCase::DanglingParent => "dangling_parent",
            EdgeCase::CrossProjectPhase => "cross_project_phase",
            EdgeCase::TaskWithoutProject => "task_without_project",
            EdgeCase::EventWithoutStart => "event_without_start",
            EdgeCase::InvertedPhaseDates => "inverted_phase_dates",
            EdgeCase::HugeDescription => "huge_description",
            EdgeCase::OddUnicode => "odd_unicode",
            EdgeCase::EmptyContext => "empty_context",
            EdgeCase::HugeContext => "huge_context",
        }
    }

    /// The marker stored on the broken row (`seed:edge:<key>`): `tasks.source` for task cases,
    /// `phase_tasks.assignment_reason` / `phases.description` for the phase cases.
    pub fn marker(self) -> &'static str {
        match self {
            EdgeCase::NullUserName => "seed:edge:null_user_name",
            EdgeCase::ParentCycle => "seed:edge:parent_cycle",
            EdgeCase::ChildOfCycle => "seed:edge:child_of_cycle",
            EdgeCase::ParentCycle3 => "seed:edge:parent_cycle_3",
            EdgeCase::DanglingDependency => "seed:edge:dangling_dependency",
            EdgeCase::CrossProjectDependency => "seed:edge:cross_project_dependency",
            EdgeCase::MalformedDependency => "seed:edge:malformed_dependency",
            EdgeCase::DanglingParent => "seed:edge:dangling_parent",
            EdgeCase::CrossProjectPhase => "seed:edge:cross_project_phase",
            EdgeCase::TaskWithoutProject => "seed:edge:task_without_project",
            EdgeCase::EventWithoutStart => "seed:edge:event_without_start",
            EdgeCase::InvertedPhaseDates => "seed:edge:inverted_phase_dates",
            EdgeCase::HugeDescription => "seed:edge:huge_description",
            EdgeCase::OddUnicode => "seed:edge:odd_unicode",
            EdgeCase::EmptyContext => "seed:edge:empty_context",
            EdgeCase::HugeContext => "seed:edge:huge_context",
        }
    }
}

/// The dedicated projects holding the edge cases (`projects.source_metadata->>'edge_case'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdgeProject {
    /// Owned by the user whose name is NULL; otherwise well-formed.
    NullUserName,
    /// Parent cycles (2- and 3-cycles) and a child of a cycle, next to a valid subtask.
    ParentCycles,
    /// Dangling, cross-project and malformed references, a cross-project phase link.
    BrokenReferences,
    /// Calendar events without a start.
    EventWithoutStart,
    /// A phase with inverted dates between two valid phases.
    InvertedPhaseDates,
    /// A 1 MiB context and a task with a 100 KiB description.
    HugeContext,
    /// An empty-string context.
    EmptyContext,
    /// Odd Unicode in the project name, phase names, tags and task titles.
    OddUnicode,
}

impl EdgeProject {
    /// Every edge project, in generation order.
    pub const ALL: [EdgeProject; 8] = [
        EdgeProject::NullUserName,
        EdgeProject::ParentCycles,
        EdgeProject::BrokenReferences,
        EdgeProject::EventWithoutStart,
        EdgeProject::InvertedPhaseDates,
        EdgeProject::HugeContext,
        EdgeProject::EmptyContext,
        EdgeProject::OddUnicode,
    ];

    /// Value of `projects.source_metadata->>'edge_case'`.
    pub fn key(self) -> &'static str {
        match self {
            EdgeProject::NullUserName => "null_user_name",
            EdgeProject::ParentCycles => "parent_cycles",
            EdgeProject::BrokenReferences => "broken_references",
            EdgeProject::EventWithoutStart => "event_without_start",
            EdgeProject::InvertedPhaseDates => "inverted_phase_dates",
            EdgeProject::HugeContext => "huge_context",
            EdgeProject::EmptyContext => "empty_context",
            EdgeProject::OddUnicode => "odd_unicode",
        }
    }
}

/// Titles with unusual Unicode (all NUL-free).
pub const ODD_TITLES: [&str; 13] = [
    "🚀 Launch prep 🎉🎉",
    "مراجعة الميزانية السنوية مع الفريق",
    "בדיקת קוד לפני השחרור",
    "Cafe\u{301} menu: re\u{301}sume\u{301} the nai\u{308}ve plan",
    "Family 👨\u{200D}👩\u{200D}👧\u{200D}👦 trip planning",
    "\u{202E}gnp.exe review this file",
    "撰写第四章大纲",
    "会議の議事録を送る",
    "Z\u{337}\u{322}\u{31B}a\u{336}\u{34E}\u{35D}l\u{338}\u{330}\u{308}g\u{334}\u{331}o text cleanup",
    "zero\u{200B}width\u{200B}spaces and a \u{FEFF}BOM",
    "Mixed עברית and English 123",
    "Ｆｕｌｌｗｉｄｔｈ ｔｉｔｌｅ",
    "Title with a\nnewline and a\ttab",
];

/// Append the edge-case rows to `buf`.
pub(crate) fn generate(rng: &mut SeedRng, seed: u64, buf: &mut Buffers) {
    let anchor = crate::anchor();
    let today = anchor.date_naive();
    let mut g = EdgeGen { rng, seed, buf };

    let null_user = g.user("null-name", None);
    let unicode_user = g.user("unicode", Some("Zoë Ångström-Nakamura 👩\u{200D}🔬 زهراء"));
    let owner = g.user("owner", Some("Edge Case Owner"));

    // 1. A user with a NULL name owning an otherwise ordinary project.
    {
        let p = g.project(
            null_user,
            EdgeProject::NullUserName,
            "Garden Makeover",
            None,
        );
        let past = g.phase(
            &p,
            1,
            "Prepare",
            today - Duration::days(60),
            today - Duration::days(20),
        );
        let now = g.phase(
            &p,
            2,
            "Start",
            today - Duration::days(19),
            today + Duration::days(30),
        );
        let tasks = g.plain_tasks(&p, 5);
        for (i, t) in tasks.iter().enumerate() {
            g.link(if i < 2 { &past } else { &now }, t.id, None);
        }
        g.event(&tasks[0], None, Some(anchor + Duration::days(2)), "primary");
        g.push_all(p, vec![past, now], tasks);
    }

    // 2. Parent cycles.
    let (cycles_phase_id, cycles_plain_task_id) = {
        let p = g.project(
            owner,
            EdgeProject::ParentCycles,
            "Billing Service Migration",
            None,
        );
        let phase = g.phase(
            &p,
            1,
            "Build",
            today - Duration::days(10),
            today + Duration::days(40),
        );
        let mut a = g.task(
            &p,
            "Fix the broken billing service",
            EdgeCase::ParentCycle.marker(),
        );
        let mut b = g.task(
            &p,
            "Refactor the billing service module",
            EdgeCase::ParentCycle.marker(),
        );
        a.parent_task_id = Some(b.id);
        b.parent_task_id = Some(a.id);
        let mut c = g.task(
            &p,
            "Write API docs for the billing service",
            EdgeCase::ChildOfCycle.marker(),
        );
        c.parent_task_id = Some(a.id);
        let mut d = g.task(
            &p,
            "Review PR #812 for the search API",
            EdgeCase::ParentCycle3.marker(),
        );
        let mut e = g.task(
            &p,
            "Deploy v2.3 to production",
            EdgeCase::ParentCycle3.marker(),
        );
        let mut f = g.task(
            &p,
            "Daily standup with the dev team",
            EdgeCase::ParentCycle3.marker(),
        );
        d.parent_task_id = Some(e.id);
        e.parent_task_id = Some(f.id);
        f.parent_task_id = Some(d.id);
        let mut plain = g.plain_tasks(&p, 4);
        plain[1].parent_task_id = Some(plain[0].id);
        let mut tasks = vec![a, b, c, d, e, f];
        tasks.append(&mut plain);
        for t in &tasks {
            g.link(&phase, t.id, None);
        }
        let ids = (phase.id, tasks[6].id);
        g.push_all(p, vec![phase], tasks);
        ids
    };

    // 3. Broken references; plus a task without any project.
    {
        let p = g.project(
            owner,
            EdgeProject::BrokenReferences,
            "Customer Portal Redesign",
            None,
        );
        let design = g.phase(
            &p,
            1,
            "Design",
            today - Duration::days(40),
            today - Duration::days(5),
        );
        let build = g.phase(
            &p,
            2,
            "Build",
            today - Duration::days(4),
            today + Duration::days(50),
        );
        let mut plain = g.plain_tasks(&p, 3);
        let mut dangling_dep = g.task(
            &p,
            "Set up the settings page",
            EdgeCase::DanglingDependency.marker(),
        );
        dangling_dep.dependencies = Some(vec![g.rng.uuid().to_string()]);
        let mut cross_dep = g.task(
            &p,
            "Ship the onboarding screens",
            EdgeCase::CrossProjectDependency.marker(),
        );
        cross_dep.dependencies = Some(vec![
            cycles_plain_task_id.to_string(),
            plain[0].id.to_string(),
        ]);
        let mut malformed = g.task(
            &p,
            "Polish the login flow",
            EdgeCase::MalformedDependency.marker(),
        );
        malformed.dependencies = Some(vec!["not-a-uuid".to_owned(), String::new()]);
        let mut dangling_parent = g.task(
            &p,
            "Research options for the search API",
            EdgeCase::DanglingParent.marker(),
        );
        dangling_parent.parent_task_id = Some(g.rng.uuid());
        let cross_phase = g.task(
            &p,
            "Audit the notification system",
            EdgeCase::CrossProjectPhase.marker(),
        );
        g.link(&build, cross_phase.id, None);
        g.buf.phase_tasks.push(PhaseTaskRow {
            id: g.rng.uuid(),
            phase_id: cycles_phase_id,
            task_id: cross_phase.id,
            order: 99,
            assignment_reason: Some(EdgeCase::CrossProjectPhase.marker().to_owned()),
            suggested_start_date: None,
            created_at: cross_phase.created_at,
        });
        let mut tasks = vec![
            dangling_dep,
            cross_dep,
            malformed,
            dangling_parent,
            cross_phase,
        ];
        tasks.append(&mut plain);
        for t in &tasks[..4] {
            g.link(&design, t.id, None);
        }
        let mut orphan = g.task(
            &p,
            "Inbox: call the bank",
            EdgeCase::TaskWithoutProject.marker(),
        );
        orphan.project_id = None;
        tasks.push(orphan);
        g.push_all(p, vec![design, build], tasks);
    }

    // 4. Calendar events without a start time.
    {
        let p = g.project(
            owner,
            EdgeProject::EventWithoutStart,
            "Company Offsite 2027",
            None,
        );
        let cal = g.calendar(&p);
        let mut tasks = g.plain_tasks(&p, 6);
        tasks[0].source = Some(EdgeCase::EventWithoutStart.marker().to_owned());
        tasks[1].source = Some(EdgeCase::EventWithoutStart.marker().to_owned());
        let cal_ref = Some((cal.id, cal.calendar_id.clone()));
        g.event_on(&tasks[0], cal_ref.clone(), None, None);
        g.event_on(
            &tasks[1],
            cal_ref.clone(),
            None,
            Some(anchor + Duration::days(3)),
        );
        g.event_on(
            &tasks[2],
            cal_ref.clone(),
            Some(anchor + Duration::days(4)),
            None,
        );
        g.event_on(&tasks[3], cal_ref, Some(anchor - Duration::days(4)), None);
        g.buf.calendars.push(cal);
        g.push_all(p, vec![], tasks);
    }

    // 5. A phase with inverted dates between two valid ones.
    {
        let p = g.project(
            owner,
            EdgeProject::InvertedPhaseDates,
            "Marathon Training",
            None,
        );
        let first = g.phase(
            &p,
            1,
            "Prepare",
            today - Duration::days(90),
            today - Duration::days(31),
        );
        let mut inverted = g.phase(
            &p,
            2,
            "Build habits",
            today + Duration::days(30),
            today - Duration::days(10),
        );
        inverted.description = Some(EdgeCase::InvertedPhaseDates.marker().to_owned());
        let last = g.phase(
            &p,
            3,
            "Push",
            today + Duration::days(31),
            today + Duration::days(90),
        );
        let tasks = g.plain_tasks(&p, 6);
        for (i, t) in tasks.iter().enumerate() {
            let phase = [&first, &inverted, &last][i / 2];
            g.link(phase, t.id, None);
        }
        g.push_all(p, vec![first, inverted, last], tasks);
    }

    // 6. A huge context and a task with a 100 KiB description.
    {
        let p = g.project(
            unicode_user,
            EdgeProject::HugeContext,
            "Technical Book on LLM evaluation methods",
            Some(huge_context()),
        );
        let mut huge = g.task(&p, "Write chapter 7", EdgeCase::HugeDescription.marker());
        huge.description = Some(huge_description());
        let mut tasks = vec![huge];
        tasks.append(&mut g.plain_tasks(&p, 3));
        g.push_all(p, vec![], tasks);
    }

    // 7. An empty-string context.
    {
        let p = g.project(
            unicode_user,
            EdgeProject::EmptyContext,
            "Weekly Newsletter",
            Some(String::new()),
        );
        let phase = g.phase(
            &p,
            1,
            "Drafts",
            today - Duration::days(3),
            today + Duration::days(25),
        );
        let tasks = g.plain_tasks(&p, 3);
        for t in &tasks {
            g.link(&phase, t.id, None);
        }
        g.push_all(p, vec![phase], tasks);
    }

    // 8. Odd Unicode everywhere.
    {
        let mut p = g.project(
            unicode_user,
            EdgeProject::OddUnicode,
            "Ünïcödé 🚀 مشروع 東京 — Edge\u{200D}Case",
            Some("# 计划\n\nRTL: שלום עולם — مرحبا بالعالم\n\nEmoji: 🧪🔬👩\u{200D}💻".to_owned()),
        );
        p.description =
            Some("Описание проекта with mixed scripts: ελληνικά, 한국어, हिन्दी".to_owned());
        p.tags = Some(vec![
            "日本語".to_owned(),
            "émoji-🚀".to_owned(),
            "\u{202E}rtl".to_owned(),
        ]);
        let first = g.phase(
            &p,
            1,
            "Φάση 1 — 準備",
            today - Duration::days(30),
            today + Duration::days(10),
        );
        let second = g.phase(
            &p,
            2,
            "מרحلة ② 🔁",
            today + Duration::days(11),
            today + Duration::days(60),
        );
        let mut tasks: Vec<TaskRow> = ODD_TITLES
            .iter()
            .map(|title| g.task(&p, title, EdgeCase::OddUnicode.marker()))
            .collect();
        tasks[1].description = Some("وصف المهمة باللغة العربية مع أرقام ١٢٣".to_owned());
        tasks[6].details = Some("細節：第四章需要更多例子。".to_owned());
        for (i, t) in tasks.iter().enumerate() {
            g.link(if i % 2 == 0 { &first } else { &second }, t.id, None);
        }
        g.event(
            &tasks[0],
            Some("🚀 Launch prep 🎉".to_owned()),
            Some(anchor + Duration::days(1)),
            "primary",
        );
        g.push_all(p, vec![first, second], tasks);
    }
}

/// Builder of edge-case rows.
struct EdgeGen<'a> {
    rng: &'a mut SeedRng,
    seed: u64,
    buf: &'a mut Buffers,
}

/// The few fields of an edge user the builders need.
#[derive(Clone, Copy)]
struct EdgeUser {
    id: Uuid,
}

impl EdgeGen<'_> {
    fn created(&mut self) -> DateTime<Utc> {
        let anchor = crate::anchor();
        self.rng.seconds_from(anchor, -200 * 86_400, -100 * 86_400)
    }

    fn user(&mut self, label: &str, name: Option<&str>) -> EdgeUser {
        let id = self.rng.uuid();
        let email = format!("edge.{label}.{}@{EDGE_EMAIL_DOMAIN}", self.rng.hex(6));
        let created_at = self
            .rng
            .seconds_from(crate::anchor(), -900 * 86_400, -400 * 86_400);
        self.buf.users.push(UserRow {
            id,
            email,
            name: name.map(str::to_owned),
            is_admin: false,
            timezone: "Europe/Berlin".to_owned(),
            created_at,
        });
        EdgeUser { id }
    }

    fn project(
        &mut self,
        user: EdgeUser,
        kind: EdgeProject,
        name: &str,
        context: Option<String>,
    ) -> ProjectRow {
        let created_at = self.created();
        let today = crate::anchor().date_naive();
        ProjectRow {
            id: self.rng.uuid(),
            user_id: user.id,
            name: name.to_owned(),
            slug: slugify(name),
            description: Some(format!(
                "Edge-case project ({}) generated by ontofleet seed.",
                kind.key()
            )),
            status: "active",
            context,
            executive_summary: None,
            tags: Some(vec!["edge-case".to_owned()]),
            start_date: Some(today - Duration::days(120)),
            end_date: Some(today + Duration::days(120)),
            core: Default::default(),
            core_context_descriptions: None,
            calendar_color_id: None,
            calendar_settings: None,
            calendar_sync_enabled: None,
            source: Some(EDGE_SOURCE.to_owned()),
            source_metadata: Some(
                json!({ "edge_case": kind.key(), "seed": self.seed.to_string() }),
            ),
            created_at,
            updated_at: created_at + Duration::days(1),
        }
    }

    fn phase(
        &mut self,
        project: &ProjectRow,
        order: i32,
        name: &str,
        start: NaiveDate,
        end: NaiveDate,
    ) -> PhaseRow {
        PhaseRow {
            id: self.rng.uuid(),
            project_id: project.id,
            user_id: project.user_id,
            name: name.to_owned(),
            description: None,
            order,
            start_date: start,
            end_date: end,
            scheduling_method: Some("manual"),
            created_at: project.created_at,
            updated_at: project.updated_at,
        }
    }

    /// A well-formed backlog task; callers break what they need.
    fn task(&mut self, project: &ProjectRow, title: &str, source: &str) -> TaskRow {
        let created_at = self
            .rng
            .between(project.created_at, crate::anchor() - Duration::days(1));
        TaskRow {
            id: self.rng.uuid(),
            user_id: project.user_id,
            project_id: Some(project.id),
            parent_task_id: None,
            title: title.to_owned(),
            description: None,
            details: None,
            task_steps: None,
            status: "backlog",
            priority: "medium",
            task_type: "one_off",
            start_date: None,
            duration_minutes: Some(60),
            recurrence_pattern: None,
            recurrence_ends: None,
            recurrence_end_source: None,
            dependencies: None,
            outdated: Some(false),
            source: Some(source.to_owned()),
            source_calendar_event_id: None,
            completed_at: None,
            deleted_at: None,
            created_at,
            updated_at: created_at,
        }
    }

    /// `n` well-formed tasks with realistic titles.
    fn plain_tasks(&mut self, project: &ProjectRow, n: usize) -> Vec<TaskRow> {
        let domain = &DOMAINS[self.rng.index(DOMAINS.len())];
        let ctx = ProjectCtx::new(self.rng, domain);
        (0..n)
            .map(|_| {
                let mode = self.rng.weighted(&domain.mode_weights);
                let title = ctx.fill_pick(self.rng, crate::vocab::GENERIC_TASKS[mode]);
                self.task(project, &title, EDGE_SOURCE)
            })
            .collect()
    }

    fn link(&mut self, phase: &PhaseRow, task_id: Uuid, reason: Option<&str>) {
        let order = self
            .buf
            .phase_tasks
            .iter()
            .filter(|pt| pt.phase_id == phase.id)
            .count() as i32
            + 1;
        self.buf.phase_tasks.push(PhaseTaskRow {
            id: self.rng.uuid(),
            phase_id: phase.id,
            task_id,
            order,
            assignment_reason: reason.map(str::to_owned),
            suggested_start_date: None,
            created_at: phase.created_at,
        });
    }

    fn calendar(&mut self, project: &ProjectRow) -> CalendarRow {
        CalendarRow {
            id: self.rng.uuid(),
            project_id: project.id,
            user_id: project.user_id,
            calendar_id: format!("c_{}@group.calendar.google.com", self.rng.hex(32)),
            calendar_name: format!("BuildOS: {}", project.name),
            color_id: Some("7".to_owned()),
            hex_color: Some("#46d6db".to_owned()),
            is_primary: false,
            sync_enabled: true,
            sync_status: Some("active"),
            sync_error: None,
            last_synced_at: Some(project.updated_at),
            visibility: Some("private"),
            created_at: project.created_at,
            updated_at: project.updated_at,
        }
    }

    /// An event on a user calendar (no project calendar).
    fn event(
        &mut self,
        task: &TaskRow,
        title: Option<String>,
        start: Option<DateTime<Utc>>,
        calendar: &str,
    ) {
        let mut row = self.event_row(task, None, start, None);
        row.calendar_id = calendar.to_owned();
        if title.is_some() {
            row.event_title = title;
        }
        self.buf.events.push(row);
    }

    /// An event on a project calendar; `start` None makes the edge case.
    fn event_on(
        &mut self,
        task: &TaskRow,
        calendar: Option<(Uuid, String)>,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) {
        let row = self.event_row(task, calendar, start, end);
        self.buf.events.push(row);
    }

    fn event_row(
        &mut self,
        task: &TaskRow,
        calendar: Option<(Uuid, String)>,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) -> EventRow {
        let (project_calendar_id, calendar_id) = match calendar {
            Some((id, google)) => (Some(id), google),
            None => (None, "primary".to_owned()),
        };
        let event_end = end.or_else(|| start.map(|s| s + Duration::hours(1)));
        EventRow {
            id: self.rng.uuid(),
            task_id: task.id,
            user_id: task.user_id,
            calendar_id,
            calendar_event_id: self.rng.chars(26, GCAL_ID_ALPHABET),
            project_calendar_id,
            event_title: if start.is_none() {
                Some("Edge: no start time".to_owned())
            } else {
                Some(task.title.clone())
            },
            event_start: start,
            event_end,
            event_link: None,
            attendees: Some(json!([])),
            organizer_email: None,
            organizer_display_name: None,
            organizer_self: None,
            recurrence_rule: None,
            recurrence_master_id: None,
            recurrence_instance_date: None,
            is_master_event: Some(false),
            is_exception: Some(false),
            exception_type: None,
            original_start_time: None,
            series_update_scope: None,
            sync_status: "synced",
            sync_source: Some("google"),
            sync_error: None,
            sync_version: Some(1),
            last_synced_at: Some(task.updated_at),
            created_at: Some(task.created_at),
            updated_at: Some(task.updated_at),
        }
    }

    fn push_all(&mut self, project: ProjectRow, phases: Vec<PhaseRow>, tasks: Vec<TaskRow>) {
        self.buf.projects.push(project);
        self.buf.phases.extend(phases);
        self.buf.tasks.extend(tasks);
    }
}

/// 100 KiB of ASCII prose.
fn huge_description() -> String {
    repeat_to(
        "This chapter walks through evaluation harnesses, golden sets, rubric grading and the \
         statistics of small samples; every section ends with exercises. ",
        HUGE_DESCRIPTION_BYTES,
    )
}

/// 1 MiB of ASCII markdown.
fn huge_context() -> String {
    let mut md = String::with_capacity(HUGE_CONTEXT_BYTES + 256);
    md.push_str("# Technical Book on LLM evaluation methods\n\n");
    let mut i = 0;
    while md.len() < HUGE_CONTEXT_BYTES {
        i += 1;
        md.push_str(&format!(
            "## Section {i}\n\n- Goal: explain metric {i} with a worked example\n- Status: draft\n\
             - Notes: compare against the baseline from section {}\n\n",
            i.max(2) - 1
        ));
    }
    md.truncate(HUGE_CONTEXT_BYTES);
    md
}

fn repeat_to(unit: &str, len: usize) -> String {
    let mut s = unit.repeat(len / unit.len() + 1);
    s.truncate(len);
    s
}
